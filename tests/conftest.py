"""Shared fixtures: a fake LAN of veth pairs and namespaces (netlab), a real Docker Engine (dockerlab),
a private rootful Podman (podmanlab), a private containerd with CRI (containerdlab) and nerdctl on it (nerdctllab)."""

pytest_plugins = ["tests.fixtures.netlab", "tests.fixtures.dockerlab", "tests.fixtures.podmanlab",
                  "tests.fixtures.rootlesslab", "tests.fixtures.kubelab", "tests.fixtures.containerdlab",
                  "tests.fixtures.nerdctllab"]
