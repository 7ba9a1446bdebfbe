#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack the guest: busybox, /init, the selftests and the demo, as an
# uncompressed cpio archive at out/initramfs.cpio.
. "$(dirname "$0")/lib.sh"

GEN=$BUILD/gen_init_cpio
BUSYBOX=/bin/busybox

[ -x "$BUSYBOX" ] ||
	die "no static busybox at $BUSYBOX (package busybox-static)"
[ "$GEN" -nt "$SRC/usr/gen_init_cpio.c" ] ||
	gcc -O2 -o "$GEN" "$SRC/usr/gen_init_cpio.c"

spec=$BUILD/initramfs.list
{
	for d in /bin /dev /proc /sys /tmp /root /mmx /mmx/tests /mmx/bench /mmx/stress; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/ttyS0 0600 0 0 c 4 64"
	echo "nod /dev/ttyS1 0600 0 0 c 4 65"
	echo "file /bin/busybox $BUSYBOX 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $ROOT/guest/init 0755 0 0"
	echo "file /mmx/demo $ST/demo 0755 0 0"
	for f in "$ST"/stress/*; do
		echo "file /mmx/stress/${f##*/} $f 0755 0 0"
	done
	echo "file /mmx/tests/list $ST/list 0644 0 0"
	while read -r t; do
		echo "file /mmx/tests/$t $ST/$t 0755 0 0"
	done <"$ST/list"
	for b in "$ST"/bench/*; do
		[ -x "$b" ] && echo "file /mmx/bench/$(basename "$b") $b 0755 0 0"
	done
} >"$spec"
mkdir -p "$OUT"
"$GEN" "$spec" >"$OUT/initramfs.cpio.new"
mv "$OUT/initramfs.cpio.new" "$OUT/initramfs.cpio"
