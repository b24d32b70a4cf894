#!/usr/bin/env bash
# Builds the two base images the container check uses instead of node:20, for
# machines that reach Debian's packages and the npm registry but no image
# registry. They mirror the official images the Dockerfile defaults to:
#
#   localhost/xsfleet-base:node<V>-bookworm-slim   like node:20-bookworm-slim (runtime stage)
#   localhost/xsfleet-base:node<V>-bookworm        like node:20-bookworm      (build stage: + python3 make g++)
#
# Made from: `debootstrap --variant=minbase bookworm` (Debian's packages) and
# this machine's own Node.js 20 — its node binary, npm and headers copied to
# /usr/local as the official image lays them out; a `node` user (uid 1000) as
# there. npm's nodedir points at the copied headers, so node-gyp builds the
# native addons without downloading headers, and npm's cafile is this
# machine's CA bundle, so npm trusts what the host trusts (on our machines
# the registry is reached through a TLS proxy whose CA only the host has).
#
# Cached: the debootstrap tree as a tarball in $XSFLEET_CACHE_DIR
# (~/.cache/xsfleet), the images in podman's store. XSFLEET_REBUILD_BASE=1
# starts over. Progress goes to stderr; stdout gets three lines,
# RUNTIME_BASE=<image>, BUILD_BASE=<image> and DEBIAN_BASE=<image> (the plain
# debootstrap tree, standing in for debian:bookworm-slim under the NATS image). Needs root (debootstrap) and
# CONTAINERS_CONF from ensure-podman.sh.
set -euo pipefail
say() { echo "[containers] $*" >&2; }
die() { echo "[containers] error: $*" >&2; exit 1; }

cache="${XSFLEET_CACHE_DIR:-$HOME/.cache/xsfleet}"
mirror="${XSFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$cache"

node_bin="$(command -v node || true)"
[ -n "$node_bin" ] || die "no node on PATH. Install Node.js 20 (the product's runtime), or build with --build-arg BUILD_BASE=node:20-bookworm RUNTIME_BASE=node:20-bookworm-slim where an image registry is reachable."
node_bin="$(readlink -f "$node_bin")"
node_version="$("$node_bin" --version)"
case "$node_version" in
  v20.*) ;;
  *) die "the local base copies this machine's Node.js, which is $node_version; the product needs Node.js 20. Install Node.js 20, or set XSFLEET_BUILD_BASE/XSFLEET_RUNTIME_BASE to node:20 images you have." ;;
esac
npm_root="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$npm_root/package.json" ] || die "cannot find npm's package next to $node_bin (looked in $npm_root)."
node_headers="$(dirname "$(dirname "$node_bin")")/include/node"
[ -f "$node_headers/common.gypi" ] || die "no Node.js headers in $node_headers (needed to build native addons offline). Install Node.js 20 with its headers (nodesource's nodejs package or the official tarball)."

runtime_tag="localhost/xsfleet-base:node${node_version#v}-bookworm-slim"
build_tag="localhost/xsfleet-base:node${node_version#v}-bookworm"
debootstrap_tag="localhost/xsfleet-debootstrap:bookworm-minbase"
rootfs_tar="$cache/bookworm-minbase.tar.gz"

if [ "${XSFLEET_REBUILD_BASE:-0}" = "1" ]; then
  say "XSFLEET_REBUILD_BASE=1: removing the cached base images and debootstrap tarball"
  podman rmi -f "$build_tag" "$runtime_tag" "$debootstrap_tag" >/dev/null 2>&1 || true
  rm -f "$rootfs_tar"
fi

if podman image exists "$runtime_tag" && podman image exists "$build_tag" && podman image exists "$debootstrap_tag"; then
  say "base images cached: $runtime_tag, $build_tag"
  echo "RUNTIME_BASE=$runtime_tag"
  echo "BUILD_BASE=$build_tag"
  echo "DEBIAN_BASE=$debootstrap_tag"
  exit 0
fi

[ "$(id -u)" = "0" ] || die "building the local base image runs debootstrap, which needs root. Run as root once (the images are cached), or use node:20 images from a registry."
work="$(mktemp -d "$cache/base.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

if ! podman image exists "$debootstrap_tag"; then
  if [ ! -s "$rootfs_tar" ]; then
    say "debootstrap --variant=minbase bookworm from $mirror (about a minute; cached in $rootfs_tar) …"
    if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1; then
      tail -20 "$work/debootstrap.log" >&2
      die "debootstrap failed (log above). Check that $mirror is reachable, or set XSFLEET_DEBIAN_MIRROR."
    fi
    # What node:20-bookworm-slim also leaves out: package caches and lists.
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/lib/apt/lists/"*
    tar --numeric-owner -C "$work/rootfs" -czf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work/rootfs"
  fi
  say "podman import $rootfs_tar as $debootstrap_tag"
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    "$rootfs_tar" "$debootstrap_tag" >/dev/null
fi

say "adding this machine's Node.js $node_version (node, npm, headers) → $runtime_tag"
mkdir -p "$work/ctx"
cp "$node_bin" "$work/ctx/node"
cp -a "$npm_root" "$work/ctx/npm"
cp -a "$node_headers" "$work/ctx/include-node"
host_ca="${XSFLEET_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$host_ca" ] || die "no CA bundle at $host_ca (npm in the build needs it). Install ca-certificates or set XSFLEET_HOST_CA_BUNDLE."
cp "$host_ca" "$work/ctx/host-ca-certificates.crt"
cat > "$work/ctx/Containerfile" <<EOF
FROM $debootstrap_tag
LABEL org.opencontainers.image.description="xsfleet local base: debootstrap bookworm minbase + the host's Node.js $node_version (stands in for node:20-bookworm-slim)"
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY include-node /usr/local/include/node
COPY host-ca-certificates.crt /usr/local/etc/ssl/host-ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && printf 'nodedir=/usr/local\\ncafile=/usr/local/etc/ssl/host-ca-certificates.crt\\n' > /usr/local/etc/npmrc \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
CMD ["node"]
EOF
podman build --network host --format docker -q -t "$runtime_tag" "$work/ctx" >/dev/null

say "adding python3, make, g++ from Debian → $build_tag (about a minute) …"
cat > "$work/ctx/Containerfile.build" <<EOF
FROM $runtime_tag
LABEL org.opencontainers.image.description="xsfleet local build base: $runtime_tag + python3 make g++ (stands in for node:20-bookworm)"
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
EOF
podman build --network host --format docker -q -t "$build_tag" -f "$work/ctx/Containerfile.build" "$work/ctx" >/dev/null

echo "RUNTIME_BASE=$runtime_tag"
echo "BUILD_BASE=$build_tag"
echo "DEBIAN_BASE=$debootstrap_tag"
