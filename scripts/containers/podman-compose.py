#!/usr/bin/env python3
"""Debian bookworm's podman-compose, with its host-networking bug corrected.

podman-compose 1.0.3 (the version Debian 12 ships) adds the project network
(`--net <project>_default --network-alias <service>`) even to services with
`network_mode: host`, and podman then refuses them: "cannot set multiple
networks without bridge network mode" (upstream issues #397 and #1186;
fixed in podman-compose 1.0.6, which handles network_mode itself). This
wrapper runs the installed podman-compose unchanged except for that: a
service with network_mode gets no project network. Newer versions run as
they are. Usage: the same arguments as podman-compose.
"""
import os
import sys

import podman_compose as pc


def _version(text):
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


if _version(pc.__version__) < (1, 0, 6):
    _get_net_args = pc.get_net_args
    _assert_cnt_nets = pc.assert_cnt_nets

    def get_net_args(compose, cnt):
        return [] if cnt.get("network_mode") else _get_net_args(compose, cnt)

    def assert_cnt_nets(compose, cnt):
        if not cnt.get("network_mode"):
            _assert_cnt_nets(compose, cnt)

    pc.get_net_args = get_net_args
    pc.assert_cnt_nets = assert_cnt_nets

if __name__ == "__main__":
    if _version(pc.__version__) >= (1, 0, 6):
        os.execvp("podman-compose", ["podman-compose", *sys.argv[1:]])
    sys.exit(pc.main())
