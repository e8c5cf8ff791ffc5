#!/usr/bin/env bash
# System libraries the stack needs: OpenBLAS to build MinkowskiEngine, libusb for open3d-cpu,
# Vulkan + Mesa (lavapipe) for Open3D's offscreen renderer, Chromium + its WebDriver for the browser tests of the
# widgets and the docs site (Debian's builds: nothing is downloaded outside the package manager). Installed when run as root.
set -euo pipefail
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "labelfree needs these system packages, which only root can install:" >&2
  echo "    sudo apt-get install ${missing[*]}" >&2
  echo "then run make again." >&2
  exit 1
fi
