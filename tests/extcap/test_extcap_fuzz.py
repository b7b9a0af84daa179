"""Seeded random command lines of ``pcap4py extcap`` (the options Wireshark passes, with odd,
empty, missing and hostile values, unknown options and stray words): never a traceback; either a
valid answer on stdout (exit 0) or one ``pcap4py:`` line on stderr (exit 1 or 2).

No Docker daemon answers (``DOCKER_HOST`` names a socket that does not exist), so a capture that
gets past its checks ends at once with Docker's one line instead of capturing, and no fifo that
a reader could hold open is ever given: every run is bounded.  All runs share one driver process
(tests/fixtures/cli_driver.py), as tests/engine/test_fuzz.py's do.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(400)

ACTIONS = ("--extcap-interfaces", "--extcap-dlts", "--extcap-config", "--capture", "--extcap-version")
ODD = ("", " ", "-", "--", "=", "{x}", "a}{b=c", "\n", "\t\x1b[31m", "\u00e9\u4e2d", "%s%n", "'\"`",
       "x" * 5000, "-1", "0", "1e9", "99999999999999999999")
VALUES = {
    "--extcap-interface": ("pcap4py-all", "pcap4py-", "pcap4py-x", "pcap4py-all-x", "eth0", "lo", "PCAP4PY-ALL"),
    "--extcap-capture-filter": ("tcp port 80", "port and and", "ether host zz", "tcp or " * 300 + "udp",
                                "vlan and vlan and vlan", "ip[9999999999]"),
    "--fifo": ("{missing}", "{dir}", "{file}", "/dev/null", "/proc/self/status", "/"),
    "--via": ("netns", "veth", "bridge", "NETNS", "ns"),
    "--direction": ("both", "egress", "ingress", "egress,ingress", "egress,,", "in", ",", "BOTH"),
    "--snaplen": ("1", "262144", "262145", "65535", "-5", "0x10", "1.5"),
    "--containers": ("a", "a,b", ",,,", "all", "a b", "web,,web"),
    "--extcap-version": ("4.0", "4.0.17", "9999", ""),
}
# never a subcommand word here: "install --system" would write into Wireshark's global folder
JUNK = ("--nope", "-x", "--extcap-interfaces=1", "--capture=yes", "stray", "--help", "-h")

SENTENCE = re.compile(r"^(extcap|interface|dlt|arg|value) (\{[^{}\n]*\})+$")


def text(rng: random.Random) -> str:
    """A short random string: printable, control characters, braces, non-ASCII (never NUL: argv
    cannot hold one)."""
    alphabet = "abcXYZ019 -_=,{}/.\\'\"\t\n\x01\x7f\u00e9\u2028\U0001f600"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))


def command_line(seed: int, paths: dict) -> list[str]:
    rng = random.Random(seed)
    args = ["extcap"]
    if rng.random() < 0.1:  # the subcommands, with what they take (never --system: a real folder)
        return args + [rng.choice(("install", "uninstall")), *([text(rng)] if rng.random() < 0.5 else [])]
    for _ in range(rng.randint(0, 7)):
        roll = rng.random()
        if roll < 0.25:
            args.append(rng.choice(ACTIONS))
        elif roll < 0.8:
            option = rng.choice(list(VALUES))
            value = rng.choice(VALUES[option] + ODD) if rng.random() < 0.8 else text(rng)
            value = paths.get(value, value) if option == "--fifo" else value
            if rng.random() < 0.05:
                args.append(option)  # no value
            else:
                args += [f"{option}={value}"] if rng.random() < 0.3 else [option, value]
        elif roll < 0.9:
            args.append(rng.choice(JUNK))
        else:
            args.append(text(rng))
    if "--fifo" in " ".join(args) and rng.random() < 0.5:
        args.append("--capture")
    return args


def valid_answer(stdout: str) -> bool:
    """Extcap sentences, the help text, the filter check's one ``pcap4py:`` line, or install's and
    uninstall's one line."""
    lines = stdout.splitlines()
    if stdout.startswith("Usage: "):
        return True
    if len(lines) == 1 and lines[0].startswith(("pcap4py: ", "installed ", "removed ", "no pcap4py launcher in ")):
        return True
    return all(SENTENCE.match(line) for line in lines)


def test_random_extcap_command_lines_answer_or_fail_in_one_line(tmp_path):
    started = time.monotonic()
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    (tmp_path / "home").mkdir()
    paths = {"{missing}": str(tmp_path / "no" / "fifo"), "{dir}": str(tmp_path / "dir"),
             "{file}": str(tmp_path / "file")}
    runs = [command_line(seed, paths) for seed in SEEDS]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
           "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}
    proc = subprocess.run([sys.executable, "-m", "tests.fixtures.cli_driver"], cwd=tmp_path, env=env,
                          timeout=300, input="".join(json.dumps(r) + "\n" for r in runs),
                          capture_output=True, text=True)
    assert proc.returncode >= 0, f"the driver died from signal {-proc.returncode}: {proc.stdout[-1500:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and len(results) == len(runs), proc.stderr[-2000:]

    problems, answers, refusals = [], 0, 0
    for r in results:
        args, out, err = r["args"], r["stdout"], r["stderr"]
        if r["traceback"] is not None or "Traceback" in err or "Traceback" in out:
            problems.append((args, "traceback", r["traceback"] or err))
        elif r["exit"] == 0:
            answers += 1
            if err or not valid_answer(out):
                problems.append((args, "not a valid answer", out[:300], err[:300]))
        else:
            refusals += 1
            if r["exit"] not in (1, 2) or len(err.splitlines()) != 1 or not err.startswith("pcap4py: "):
                problems.append((args, "not one pcap4py: line", r["exit"], err[:500]))
    assert not problems, f"{len(problems)} bad runs, first ones: {problems[:5]}"
    assert answers > 50 and refusals > 50  # both kinds really happen
    assert (tmp_path / "file").read_text() == ""  # given as the fifo: nothing captured, nothing written
    assert time.monotonic() - started < 240
