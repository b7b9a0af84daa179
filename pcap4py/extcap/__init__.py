"""Wireshark extcap: running containers as capture interfaces of Wireshark and tshark.

``targets`` is the one place that talks to the container layer, ``protocol``
formats the extcap answers, ``session`` writes a capture into Wireshark's
fifo, and ``launcher`` installs the script Wireshark runs.
"""
