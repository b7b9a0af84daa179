"""Start-up: the class-data-sharing archive is used only when it is this setup's and trusted, and
pcap4py works the same without one (cache read-only, absent, stale, foreign, garbage); a plain
``read`` or ``capture IFACE`` never imports the container layer; batches start small.

Each case runs a real ``python`` with the real JVM and jars in a subprocess; whether the JVM
mapped the archive is read from the process's own ``/proc/self/maps``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.cli import PYTHON, run_cli

REPO = Path(__file__).resolve().parents[2]

# reads a file through the engine and says what it read and which archive the JVM mapped
PROBE = r"""
import json, sys
import pcap4py
with pcap4py.open_offline(sys.argv[1]) as h:
    n = sum(1 for _ in h.packets())
maps = [l.split()[-1] for l in open('/proc/self/maps') if l.rstrip().endswith('.jsa')]
print(json.dumps({"packets": n, "archives": sorted(set(maps))}))
"""


def _env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PCAP4PY_CDS_DIR", "PCAP4PY_CDS", "XDG_CACHE_HOME")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _probe(pcap: Path, env: dict) -> tuple[dict, str]:
    done = subprocess.run([PYTHON, "-c", PROBE, str(pcap)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _build(env: dict) -> Path:
    done = subprocess.run([PYTHON, "-m", "pcap4py.engine.cds_build", "build"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_pcap_module) -> tuple[Path, Path]:
    """An archive built for this setup in a cache of its own (the folder, the archive)."""
    cache = tmp_path_factory.mktemp("cache")
    archive = _build(_env(cache, XDG_CACHE_HOME=str(cache)))
    assert archive.is_file() and archive.parent == cache / "pcap4py" / "cds"
    return cache, archive


@pytest.fixture(scope="module")
def small_pcap_module(tmp_path_factory) -> Path:
    from pcap4py.engine.cds_build import _frames, _pcap

    path = tmp_path_factory.mktemp("pcap") / "small.pcap"
    path.write_bytes(_pcap(_frames() * 20))  # 100 packets
    return path


def test_the_archive_of_this_setup_is_mapped(built, small_pcap_module):
    cache, archive = built
    seen, err = _probe(small_pcap_module, _env(cache, XDG_CACHE_HOME=str(cache)))
    assert seen == {"packets": 100, "archives": [str(archive)]}
    assert err == ""


def _key(env: dict) -> str:
    code = ("from pcap4py.engine import cds, jvm; l = jvm.find_libjvm(); "
            "print(cds.key(l, cds.full_classpath(jvm.classpath()), jvm.base_options(l)))")
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()


def test_a_stale_archive_is_not_used_even_under_the_new_name(small_pcap_module, tmp_path):
    """A jar changed (here: its time): the archive's name no longer matches, so it is not looked
    at; renamed to the new name anyway, the JVM's own check refuses it, silently."""
    from pcap4py.engine import jvm

    jars = tmp_path / "jars"
    shutil.copytree(jvm.jar_dir(), jars)
    cache = tmp_path / "cache"
    env = _env(cache, XDG_CACHE_HOME=str(cache), PCAP4PY_JARS=str(jars))
    stale = _build(env)
    use_only = {**env, "PCAP4PY_CDS": "use"}  # use what is there, build nothing meanwhile
    assert _probe(small_pcap_module, use_only)[0] == {"packets": 100, "archives": [str(stale)]}
    victim = jars / "slf4j-nop-1.7.36.jar"
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    new_key = _key(use_only)
    assert new_key != stale.stem
    assert _probe(small_pcap_module, use_only)[0] == {"packets": 100, "archives": []}
    planted = stale.rename(stale.parent / f"{new_key}.jsa")
    seen, err = _probe(small_pcap_module, use_only)
    assert seen == {"packets": 100, "archives": []}
    assert err == ""
    done = run_cli("read", str(small_pcap_module), env=use_only)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 100
    assert done.stderr.strip() == "100 packets captured"
    assert planted.exists()


def test_garbage_under_this_setups_name_is_ignored(tmp_path, small_pcap_module):
    cache = tmp_path / "cache"
    env = _env(cache, XDG_CACHE_HOME=str(cache), PCAP4PY_CDS="use")
    key = _key(env)
    folder = cache / "pcap4py" / "cds"
    folder.mkdir(parents=True)
    (folder / f"{key}.jsa").write_bytes(b"not an archive" * 1000)
    (folder / ".lock").touch()
    done = run_cli("read", str(small_pcap_module), env=env)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 100
    assert done.stderr.strip() == "100 packets captured"


@pytest.mark.parametrize("how", ["group-writable", "symlink"])
def test_an_archive_others_could_have_changed_is_not_loaded(built, small_pcap_module, tmp_path, how):
    cache, archive = built
    other = tmp_path / "cache"
    folder = other / "pcap4py" / "cds"
    folder.mkdir(parents=True)
    if how == "symlink":
        (folder / archive.name).symlink_to(archive)
    else:
        shutil.copyfile(archive, folder / archive.name)
        os.chmod(folder / archive.name, 0o664)
    seen, err = _probe(small_pcap_module, _env(other, XDG_CACHE_HOME=str(other), PCAP4PY_CDS_DIR=str(folder)))
    assert seen == {"packets": 100, "archives": []}


def test_a_read_only_archive_folder_is_used_and_never_written(built, small_pcap_module, tmp_path):
    """PCAP4PY_CDS_DIR (an image's baked archive) on a read-only mount: used as it is."""
    cache, archive = built
    baked = tmp_path / "baked"
    baked.mkdir()
    shutil.copyfile(archive, baked / archive.name)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    script = (f"mount --bind {baked} {baked} && mount -o remount,ro,bind {baked} && "
              f"exec {PYTHON} {probe} {small_pcap_module}")
    env = _env(tmp_path, PCAP4PY_CDS_DIR=str(baked), XDG_CACHE_HOME=str(baked / "nothing-here"))
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"packets": 100, "archives": [str(baked / archive.name)]}
    assert sorted(p.name for p in baked.iterdir()) == [archive.name]


@pytest.mark.parametrize("cache", ["read-only", "absent", "a-file"])
def test_works_when_the_cache_cannot_be_written(small_pcap_module, tmp_path, cache):
    """No archive and nowhere to make one: the read works, says nothing more, starts no builder."""
    target = tmp_path / "cache"
    env = _env(tmp_path, PCAP4PY_CDS="")
    if cache == "absent":
        env.pop("HOME", None)
        env.pop("XDG_CACHE_HOME", None)
        cmd = [PYTHON, "-m", "pcap4py", "read", str(small_pcap_module)]
    elif cache == "a-file":
        target.write_text("a file where the cache would be")
        env["XDG_CACHE_HOME"] = str(target)
        cmd = [PYTHON, "-m", "pcap4py", "read", str(small_pcap_module)]
    else:
        target.mkdir()
        env["XDG_CACHE_HOME"] = str(target)
        cmd = ["unshare", "-m", "sh", "-c",
               f"mount --bind {target} {target} && mount -o remount,ro,bind {target} && "
               f"exec {PYTHON} -m pcap4py read {small_pcap_module}"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 100
    assert done.stderr.strip() == "100 packets captured"
    if cache == "read-only":
        assert list(target.iterdir()) == []


def test_the_first_run_builds_the_archive_the_next_one_maps(small_pcap_module, tmp_path):
    cache = tmp_path / "cache"
    env = _env(cache, XDG_CACHE_HOME=str(cache))
    first, _ = _probe(small_pcap_module, env)
    assert first == {"packets": 100, "archives": []}
    folder = cache / "pcap4py" / "cds"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(folder.glob("*.jsa")):
        time.sleep(0.5)
    archives = list(folder.glob("*.jsa"))
    assert len(archives) == 1, "the background builder made no archive"
    assert oct(archives[0].stat().st_mode & 0o777) == "0o644"
    second, _ = _probe(small_pcap_module, env)
    assert second == {"packets": 100, "archives": [str(archives[0])]}


@pytest.mark.parametrize("command", [["read", "{pcap}"], ["capture", "-r", "{pcap}", "-c", "1"],
                                     ["capture", "lo", "-c", "1", "udp"]])
def test_a_plain_read_or_interface_capture_imports_no_container_code(small_pcap_module, command):
    argv = [a.format(pcap=small_pcap_module) for a in command]
    code = ("import atexit, sys, runpy; sys.argv = ['pcap4py', *sys.argv[1:]]\n"
            "atexit.register(lambda: print([m for m in sys.modules if m.startswith("
            "('pcap4py.container', 'docker', 'pyroute2'))], file=sys.stderr))\n"
            "runpy.run_module('pcap4py', run_name='__main__')\n")
    sender = None
    if command[-1] == "udp":  # one datagram on loopback, sent until the capture has it (10 s at most)
        sender = subprocess.Popen([PYTHON, "-c", "import socket, time\ns = socket.socket(socket.AF_INET, "
                                   "socket.SOCK_DGRAM)\nfor _ in range(100):\n    s.sendto(b'x', ('127.0.0.1', 5599))"
                                   "\n    time.sleep(0.1)"])
    try:
        done = subprocess.run([PYTHON, "-c", code, *argv], capture_output=True, text=True,
                              env=_env(Path("/")), timeout=120)
    finally:
        if sender is not None:
            sender.kill()
            sender.wait()
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_the_cli_knows_where_every_command_lives():
    from pcap4py.cli import command_names, main
    from pcap4py.cli.capture import VIAS
    from pcap4py.cli.group import COMMAND_MODULES, load_commands
    from pcap4py.container.plans import VIAS as CONTAINER_VIAS

    load_commands()
    assert sorted(main.commands) == sorted(COMMAND_MODULES) == command_names()
    assert VIAS == CONTAINER_VIAS


def test_a_small_file_reserves_little_memory(small_pcap_module):
    """100 packets: the batch buffers hold well under a MiB each (they were 8 MiB each)."""
    code = ("import sys, pcap4py\nfrom pcap4py.engine import batch\n"
            "with pcap4py.open_offline(sys.argv[1]) as h:\n"
            "    n = sum(1 for _ in h.packets())\n"
            "    sizes = [len(b.data) for b in h._native.read_ahead._slots]\n"
            "print(n, max(sizes))")
    done = subprocess.run([PYTHON, "-c", code, str(small_pcap_module)], capture_output=True, text=True,
                          env=_env(Path("/"), PCAP4PY_CDS="off"), timeout=120)
    n, biggest = map(int, done.stdout.split())
    assert n == 100 and biggest <= 512 << 10, done.stderr


def test_a_plain_read_loads_no_libpcap_until_a_filter_or_a_dump_asks(small_pcap_module, tmp_path):
    """A classic pcap read whole is Java's alone (no JNA, no libpcap: a quicker, smaller start);
    a filter, or a dump asked for before reading, opens it in libpcap as before."""
    out = tmp_path / "copy.pcap"
    code = ("import json, sys, pcap4py\n"
            "def loaded():\n"
            "    maps = open('/proc/self/maps').read()\n"
            "    return [n for n in ('libpcap', 'libjnidispatch') if n in maps]\n"
            "with pcap4py.open_offline(sys.argv[1]) as h:\n"
            "    plain = sum(1 for _ in h.packets())\n"
            "before = loaded()\n"
            "with pcap4py.open_offline(sys.argv[1]) as h:\n"
            "    h.dump(sys.argv[2])\n"
            "    dumped = sum(1 for _ in h.packets())\n"
            "with pcap4py.open_offline(sys.argv[1], filter='udp') as h:\n"
            "    udp = sum(1 for _ in h.packets())\n"
            "print(json.dumps({'plain': plain, 'before': before, 'dumped': dumped, 'udp': udp, 'after': loaded()}))")
    done = subprocess.run([PYTHON, "-c", code, str(small_pcap_module), str(out)], capture_output=True, text=True,
                          env=_env(Path("/"), PCAP4PY_CDS="off"), timeout=120)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["plain"] == said["dumped"] == 100 and said["before"] == []
    assert said["after"] == ["libpcap", "libjnidispatch"]
    peer = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True, timeout=60)
    assert peer.returncode == 0 and len(peer.stdout.splitlines()) == 100, peer.stderr
    udp = subprocess.run(["tcpdump", "-n", "-r", str(small_pcap_module), "udp"], capture_output=True, text=True,
                         timeout=60)
    assert said["udp"] == len(udp.stdout.splitlines()) > 0


PEAK = ("import atexit, runpy, sys\n"
        "def peak():\n"
        "    with open('/proc/self/status') as f:\n"
        "        kb = next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))\n"
        "    print(f'peak-kb {kb}', file=sys.stderr)\n"
        "atexit.register(peak)\n"
        "sys.argv = ['pcap4py', *sys.argv[1:]]\n"
        "runpy.run_module('pcap4py', run_name='__main__')\n")


def _peak_mb(*args: str) -> float:
    done = subprocess.run([PYTHON, "-c", PEAK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=300, env=_env(Path("/"), PCAP4PY_CDS="off"))
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stderr.split("peak-kb ")[-1].split()[0]) / 1024


@pytest.mark.slow
def test_json_peaks_near_a_plain_dump(tmp_path):
    """Formatting 200,000 packets as a JSON array holds little more than copying them to a file:
    no C2 compilation arena of tens of MB, no young generation grown to a third of the heap, no
    temporary direct copy of the read buffer, no buffer resident beyond what a batch fills (the
    gap was ~60 MB)."""
    from bench import gen

    path = tmp_path / "mid.pcap"
    gen.ensure(path, 200_000)
    dump = _peak_mb("read", str(path), "-w", "/dev/null")
    json_peak = _peak_mb("read", str(path), "--json")
    assert json_peak - dump <= 25, f"--json peaked at {json_peak:.0f} MB, -w at {dump:.0f} MB"


def test_loading_libpcap_runs_no_ldconfig():
    """JNA is handed libpcap's path, so its first library load lists no linker cache: before, it ran
    `/sbin/ldconfig -p` from the JVM at every start (a fork and an exec, ~30 ms), which left
    Java's "process reaper" thread behind."""
    code = ("import json, os\n"
            "from pcap4py.engine.devices import interfaces\n"
            "found = [i.name for i in interfaces()]\n"
            "threads = {open(f'/proc/self/task/{t}/comm').read().strip() for t in os.listdir('/proc/self/task')}\n"
            "print(json.dumps({'lo': 'lo' in found, 'threads': sorted(threads),\n"
            "                  'libpcap': 'libpcap' in open('/proc/self/maps').read()}))")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120,
                          env=_env(Path("/"), PCAP4PY_CDS="off"))
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["lo"] and said["libpcap"]
    assert "process reaper" not in said["threads"], said["threads"]


def test_libpcap_is_found_where_the_linker_would_look_first(tmp_path, monkeypatch):
    from pcap4py.engine import native

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "libpcap.so.1").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"relative/ignored:{mine}")
    assert native.library_folders()[0] == str(mine)
    assert native.libpcap_path() == str(mine / "libpcap.so.1")
    options = native.libpcap_options()
    assert options[0] == f"-Dorg.pcap4j.core.pcapLibName={mine / 'libpcap.so.1'}"
    assert options[1].startswith(f"-Djna.platform.library.path={mine}:")
    assert native.libpcap_path([str(tmp_path / "nothing-here")]) is None


def test_a_counted_capture_gets_a_ring_for_its_count():
    from pcap4py.engine.handle import DEFAULT_BUFFER_SIZE, SMALL_RING, ring_for

    assert ring_for(1, 262144) == SMALL_RING == 2 << 20
    assert ring_for(100, 262144) == 100 * (64 << 10)
    assert ring_for(100, 96) == SMALL_RING
    assert ring_for(1, 262144, immediate=True) == SMALL_RING  # one slot of 256 KiB (in a 512 KiB block)
    assert ring_for(10, 262144, immediate=True) == 10 * (512 << 10)  # ten slots, as the old 32 MiB had room for
    assert ring_for(10_000, 262144) == ring_for(None, 262144) == ring_for(0, 1500) == DEFAULT_BUFFER_SIZE


def test_capture_c_1_holds_no_32_mib_ring():
    """`capture lo -c 1` mapped a 32 MiB kernel ring, resident whole (a peak of ~102 MiB here, 130
    with the class-data archive mapped): a ring for one packet is tcpdump's 2 MiB (~72 MiB in all)."""
    ping = subprocess.Popen(["ping", "-q", "-i", "0.2", "-c", "50", "-w", "10", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        peak = _peak_mb("capture", "lo", "-c", "1", "icmp")
    finally:
        ping.kill()
        ping.wait()
    assert peak < 87, f"capture lo -c 1 peaked at {peak:.0f} MiB"
