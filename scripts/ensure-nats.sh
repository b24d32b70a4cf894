#!/usr/bin/env bash
# Makes sure a nats-server binary (2.9.x from Debian) is available; tests and
# the local stack start their own server processes from it.
set -euo pipefail
if [ -n "${NATS_SERVER:-}" ] && [ -x "${NATS_SERVER}" ]; then exit 0; fi
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then exit 0; fi
echo "xsfleet: nats-server not found; installing Debian's nats-server package..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "xsfleet: cannot install nats-server without root. Run: apt-get install nats-server (or set NATS_SERVER=/path/to/nats-server)" >&2
    exit 1
  fi
fi
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server; } >&2; then
  echo "xsfleet: installing nats-server failed. Install it by hand (apt-get install nats-server) or set NATS_SERVER=/path/to/nats-server" >&2
  exit 1
fi
# Debian's package starts a system service on 4222; our tests use their own ports.
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]
