#!/usr/bin/env bash
# Installs what building and testing humstack needs on Debian 12, as root.
# The control plane needs only Go (>= 1.24) and make; host packages for the
# agent (QEMU, qemu-img, nftables, iproute2) are added here with its issue.
set -euo pipefail
need=()
command -v make >/dev/null || need+=(make)
command -v git >/dev/null || need+=(git)
command -v gcc >/dev/null || need+=(gcc) # the race detector needs cgo
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
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
