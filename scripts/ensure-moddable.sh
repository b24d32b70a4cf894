#!/usr/bin/env bash
# Makes a built Moddable SDK available and prints its path (the value for
# $MODDABLE) as the last line on stdout; progress goes to stderr.
#
#   1. $MODDABLE when set (your own SDK; its tools are built there if missing);
#   2. else a copy of ../shared/moddable-sdk (beside the repository) in the
#      cache directory;
#   3. else a clone of the pinned release from the Moddable repository (for
#      users elsewhere; needs git and network access to it).
#
# The cache is ${XSFLEET_CACHE:-$HOME/.cache/xsfleet}/moddable-<version>, one
# per SDK version: the tools (mcconfig, xsc, xsl, …), the `mcsim` simulator
# and the `xsbug-log` helper are built there once and reused (a stamp file
# records a finished build; a lock serialises concurrent callers). Debian's
# build packages (libglib2.0-dev for the tools, libgtk-3-dev and xvfb for the
# simulator) are installed when missing.
set -euo pipefail

MODDABLE_VERSION_PINNED="8.2.3"
MODDABLE_REPO="https://github.com/Moddable-OpenSource/moddable.git"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
shared_sdk="${XSFLEET_MODDABLE_SOURCE:-$repo_root/../shared/moddable-sdk}"
cache_root="${XSFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xsfleet}"
started=$SECONDS

say() { echo "[moddable] $*" >&2; }
die() { echo "[moddable] error: $*" >&2; exit 1; }

# ---- Debian packages ----
ensure_packages() {
  local missing=()
  for p in build-essential pkg-config libglib2.0-dev libgtk-3-dev xvfb; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]} …"
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || die "need root to install ${missing[*]}; run: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >&2 \
    || die "installing ${missing[*]} failed; install them by hand (apt-get install ${missing[*]})"
}

# ---- getting the SDK sources ----
sdk_version_of() { # the version a pruned copy names in its README.xsfleet.md, else the pin
  local v=""
  [ -f "$1/README.xsfleet.md" ] && v="$(sed -n '1s/.*SDK \([0-9][0-9.]*\).*/\1/p' "$1/README.xsfleet.md")"
  echo "${v:-$MODDABLE_VERSION_PINNED}"
}

fetch_sources() { # $1 = destination
  local dest="$1" tmp="$1.partial"
  rm -rf "$tmp"
  if [ -d "$shared_sdk/xs" ] && [ -d "$shared_sdk/tools" ]; then
    say "copying $(cd "$shared_sdk" && pwd) to $dest …"
    cp -R "$shared_sdk" "$tmp"
    chmod -R u+w "$tmp" # the shared copy is read-only input
  else
    command -v git >/dev/null 2>&1 || die "no ../shared/moddable-sdk and no git to clone Moddable $MODDABLE_VERSION_PINNED; set MODDABLE"
    say "cloning Moddable SDK $MODDABLE_VERSION_PINNED from $MODDABLE_REPO (shallow) …"
    git clone --quiet --depth 1 --branch "$MODDABLE_VERSION_PINNED" "$MODDABLE_REPO" "$tmp" >&2 \
      || die "git clone failed; clone Moddable $MODDABLE_VERSION_PINNED yourself and set MODDABLE"
  fi
  mv "$tmp" "$dest"
}

# ---- building ----
run_step() { # $1 = label, rest = command; output to the build log, a heartbeat to stderr
  local label="$1"; shift
  local t0=$SECONDS
  say "building $label …"
  "$@" >>"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    kill -0 "$pid" 2>/dev/null && say "  … $label ($((SECONDS - t0)) s)"
  done
  if ! wait "$pid"; then
    tail -n 40 "$log" >&2
    die "building $label failed (full log: $log)"
  fi
  say "built $label in $((SECONDS - t0)) s"
}

build_sdk() { # $1 = MODDABLE
  export MODDABLE="$1"
  export XS_DIR="$MODDABLE/xs" BUILD_DIR="$MODDABLE/build"
  export PATH="$MODDABLE/build/bin/lin/release:$PATH"
  local jobs; jobs="$(nproc 2>/dev/null || echo 2)"
  log="$MODDABLE/build/xsfleet-build.log"
  : >"$log"
  local mk="$MODDABLE/build/makefiles/lin"
  if [ ! -x "$MODDABLE/build/bin/lin/release/mcconfig" ]; then
    run_step "xsc" make -C "$mk" -j"$jobs" GOAL=release -f "$XS_DIR/makefiles/lin/xsc.mk"
    run_step "xsid" make -C "$mk" -j"$jobs" GOAL=release -f "$XS_DIR/makefiles/lin/xsid.mk"
    run_step "xsl" make -C "$mk" -j"$jobs" GOAL=release -f "$XS_DIR/makefiles/lin/xsl.mk"
    run_step "tools (mcconfig, mcrez, …)" make -C "$mk" -j"$jobs" GOAL=release -f tools.mk
  fi
  if [ ! -x "$MODDABLE/build/bin/lin/release/mcsim" ]; then
    run_step "mcsim (the simulator)" bash -c "cd '$MODDABLE/tools/mcsim' && mcconfig -m -p x-lin manifest.json"
  fi
  if [ ! -d "$MODDABLE/tools/xsbug-log/node_modules" ]; then
    run_step "xsbug-log (npm install)" bash -c "cd '$MODDABLE/tools/xsbug-log' && npm install --no-audit --no-fund --loglevel=error"
  fi
}

with_lock() { # $1 = lock file, rest = command
  local lock="$1"; shift
  mkdir -p "$(dirname "$lock")"
  exec 9>"$lock"
  if ! flock -n 9; then
    say "another build of this SDK is running; waiting for it …"
    flock 9
  fi
  "$@"
}

ensure() {
  ensure_packages
  local sdk stamp version
  if [ -n "${MODDABLE:-}" ]; then
    [ -d "$MODDABLE/xs" ] || die "MODDABLE=$MODDABLE is not a Moddable SDK (no xs/)"
    sdk="$(cd "$MODDABLE" && pwd)"
    version="$(sdk_version_of "$sdk")"
  else
    [ -d "$shared_sdk/xs" ] && version="$(sdk_version_of "$shared_sdk")" || version="$MODDABLE_VERSION_PINNED"
    [ "$version" = "$MODDABLE_VERSION_PINNED" ] || say "note: ../shared/moddable-sdk is $version, xsfleet pins $MODDABLE_VERSION_PINNED"
    sdk="$cache_root/moddable-$version"
  fi
  stamp="$sdk/build/xsfleet-built"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    echo "$sdk"
    return 0
  fi
  with_lock "$cache_root/moddable-$version.lock" build_locked "$sdk" "$version"
  echo "$sdk"
}

build_locked() { # $1 = sdk dir, $2 = version; runs under the lock
  local sdk="$1" version="$2" stamp="$1/build/xsfleet-built"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then return 0; fi # a concurrent caller built it
  [ -d "$sdk/xs" ] || fetch_sources "$sdk"
  say "building Moddable SDK $version in $sdk (once per version; about 3 minutes on 2 cores)"
  build_sdk "$sdk"
  echo "$version" >"$stamp"
  say "Moddable SDK $version ready in $((SECONDS - started)) s: $sdk"
}

ensure
