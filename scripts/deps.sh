#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the harness needs (only what is missing).
. "$(dirname "$0")/lib.sh"

PKGS="build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils
 python3 git rsync ccache sparse dpkg-dev patch qemu-system-x86 busybox-static
 perl gawk python3-ply python3-git"

# shellcheck disable=SC2086
need_packages $PKGS
