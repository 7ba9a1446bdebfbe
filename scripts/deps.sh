#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the harness needs (only what is missing).
. "$(dirname "$0")/lib.sh"

PKGS="build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils
 python3 git rsync ccache sparse dpkg-dev qemu-system-x86 busybox-static
 perl gawk python3-ply python3-git"

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

[ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root, or install them)"
say "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null ||
	die "apt-get update failed: is the Debian mirror reachable?"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	die "apt-get install failed for:$missing"
