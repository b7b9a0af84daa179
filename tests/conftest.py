"""Shared fixtures: a fake LAN of veth pairs and namespaces (netlab), a real Docker Engine (dockerlab)."""

pytest_plugins = ["tests.fixtures.netlab", "tests.fixtures.dockerlab", "tests.fixtures.kubelab"]
