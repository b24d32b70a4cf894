#!/usr/bin/env bash
# Makes sure the container tools of the check are present: Debian's podman,
# podman-compose, runc and debootstrap (installed with apt-get when missing),
# and a containers.conf that works on our machines. Prints that file's path.
#
# Why this containers.conf: on these machines crun (podman's default runtime
# when installed) fails to start containers and the default ulimits cannot be
# applied; runc with no default ulimits works. cgroupfs and a file event log
# because no systemd runs here.
set -euo pipefail
cache="${XSFLEET_CACHE_DIR:-$HOME/.cache/xsfleet}"
mkdir -p "$cache"

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v podman-compose >/dev/null 2>&1 || need+=(podman-compose)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[containers] installing Debian packages: ${need[*]} …" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "[containers] cannot install ${need[*]} without root. Run as root: apt-get install ${need[*]}" >&2
      exit 1
    fi
  fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"; } >&2; then
    echo "[containers] installing ${need[*]} failed. Install them by hand: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

conf="$cache/containers.conf"
cat > "$conf.tmp" <<'CONF'
# Written by scripts/containers/ensure-podman.sh (xsfleet container check).
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv "$conf.tmp" "$conf"
echo "$conf"
