#!/usr/bin/env bash
# Installs what building, running and testing humstack needs on Debian 12,
# as root. Safe to run again: it installs only what is missing.
#
#   build:  make, git, gcc (the race detector needs cgo), Go >= 1.26
#   agent:  qemu-system-x86, qemu-utils, iproute2, nftables (nft: security groups are installed with it),
#           dnsmasq-base (the networks' DHCP and DNS servers; the binary only,
#           no system service)
#   tests:  the lab's guest images are built from Debian packages at test
#           time (mmdebstrap, syslinux, mtools, dosfstools, fdisk, grub-pc-bin,
#           cpio, xz-utils, zstd, e2fsprogs), and tests ping and ssh guests;
#           the seed ISO is checked with blkid (util-linux), isoinfo
#           (genisoimage), xorriso and busybox findfs (busybox-static);
#           prometheus (the server and promtool) for the metrics tests, which
#           start their own Prometheus on a free loopback port.
#   ui:     Node.js and npm build the web console (make ui); its browser
#           tests drive Debian's chromium with playwright-core (from npm,
#           pinned in ui/package-lock.json; it downloads no browser).
set -euo pipefail
packages=(
  make git gcc ca-certificates
  qemu-system-x86 qemu-utils iproute2 nftables dnsmasq-base
  mmdebstrap syslinux syslinux-common mtools dosfstools fdisk grub-pc-bin
  cpio xz-utils zstd e2fsprogs iputils-ping openssh-client
  util-linux genisoimage xorriso busybox-static prometheus
  chromium fonts-dejavu-core
)
# Node.js: Debian's nodejs and npm unless a Node.js with npm is installed
# already (another source's nodejs package bundles npm and conflicts with
# Debian's npm package).
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  # The prometheus package's service must not run on a test machine (the
  # tests start their own): when this script installs the package, a
  # policy-rc.d keeps the service from starting, and it is disabled
  # afterwards. A prometheus installed before is left alone.
  new_prometheus=false
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then new_prometheus=true; fi
  if $new_prometheus && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# install-deps.sh: no service starts during its install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  if $new_prometheus && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service || true
  fi
fi
# Debian 12's nodejs is 18: enough to build the console, not for its
# browser tests (playwright-core 1.65.2 wants Node.js >= 20). Say so now
# rather than let them fail later; a Node.js 20+ already here is kept.
if command -v node >/dev/null; then
  node_version=$(node -p 'process.versions.node')
  if [ "${node_version%%.*}" -lt 20 ]; then
    echo "install-deps: Node.js $node_version builds the web console (make ui), but its browser tests need" \
      "Node.js >= 20 (playwright-core 1.65.2): install Node.js 20 or later (e.g. NodeSource's nodejs 20.x," \
      "which bundles npm) to run them" >&2
  fi
fi
if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "install-deps: go is at /usr/local/go/bin; add it to PATH" >&2
  else
    echo "install-deps: Go >= 1.26 is required (https://go.dev/doc/install)" >&2
  fi
  exit 1
fi
go mod download
