#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the benchmarks in bench/ on two kernels built from the same config and
# report each figure and the patched/reference ratio.
#
# QEMU runs with -icount shift=0,sleep=off: guest time advances one
# nanosecond per executed instruction, so the times are instruction counts,
# free of host noise.  Both kernels are built with configs/bench.config on
# top of the test config: no lockdep, no DEBUG_VM.  The kernels:
#   patched    the series (out/bzImage)
#   reference  the series with the 5.10 walker (mm/mapping_dirty_helpers.c
#              and mm/pagewalk.c as in the base): the
#              walker benchmarks need the test driver, which the pristine
#              base does not have
# Logs in out/bench/<kernel>/tests.log, the table in out/bench/report.txt.
. "$(dirname "$0")/lib.sh"

REF=$BUILD/bench-ref
REFOBJ=$BUILD/obj-bench-ref
BOUT=$OUT/bench

# The reference tree: build/linux's commits, the overlay copied in, and the
# 5.10 walker.
ref_tree() {
	if [ -e "$REF/.git" ]; then
		git -C "$REF" checkout -q -f --detach "$(git -C "$SRC" rev-parse HEAD)"
		git -C "$REF" reset -q --hard
		git -C "$REF" clean -q -fdx
	else
		rm -rf "$REF"
		git -C "$SRC" worktree prune
		git -C "$SRC" worktree add -q --detach "$REF" HEAD
	fi
	local repo kpath
	while read -r repo kpath; do
		mkdir -p "$REF/$(dirname "$kpath")"
		cp "$ROOT/$repo" "$REF/$kpath"
	done < <(overlay_files)
	git -C "$REF" checkout -q base -- mm/mapping_dirty_helpers.c mm/pagewalk.c
}

boot_bench() {
	local name=$1 dir=$BOUT/$1
	mkdir -p "$dir"
	cp "$OUT/initramfs.cpio" "$dir/"
	say "benchmarks on the $name kernel"
	MMX_OUT=$dir MMX_ICOUNT=1 python3 "$ROOT/scripts/boot.py" --mode bench \
		--timeout 1200 --ntests 1
}

mkdir -p "$BOUT/patched" "$BOUT/reference"
# kernel.sh leaves its image in out/; the next check rebuilds the test one.
PROFILE=bench bash "$ROOT/scripts/kernel.sh"
cp "$OUT/bzImage" "$BOUT/patched/"

ref_tree
configure_kernel "$REF" "$REFOBJ" "$ROOT"/configs/base.config \
	"$ROOT"/configs/test.config "$ROOT"/configs/bench.config
say "building the reference kernel"
make -s -C "$REF" O="$REFOBJ" -j"$JOBS" CC="ccache gcc" bzImage \
	>"$REFOBJ.log" 2>&1 || { tail -20 "$REFOBJ.log"; die "reference build failed"; }
cp "$REFOBJ/arch/x86/boot/bzImage" "$BOUT/reference/"

boot_bench patched
boot_bench reference

python3 - "$BOUT" <<'PY' | tee "$BOUT/report.txt"
import sys, os
out = sys.argv[1]
res = {}
for k in ('patched', 'reference'):
    res[k] = {}
    for line in open(os.path.join(out, k, 'tests.log'), errors='replace'):
        f = line.split()
        if len(f) == 4 and f[0] == 'bench':
            res[k][(f[1], f[2])] = float(f[3])
print('# guest time under -icount shift=0,sleep=off (1 ns per instruction)')
print('%-24s %-15s %14s %14s %8s' % ('case', 'figure', 'reference', 'patched', 'ratio'))
for key in sorted(set(res['patched']) | set(res['reference'])):
    r, p = res['reference'].get(key), res['patched'].get(key)
    ratio = '%.3f' % (p / r) if r and p is not None else '-'
    fmt = lambda v: '-' if v is None else '%.0f' % v
    print('%-24s %-15s %14s %14s %8s' % (key[0], key[1], fmt(r), fmt(p), ratio))
pb = res['patched'].get(('clean_record_1g_base', 'pages_per_s'))
pt = res['patched'].get(('clean_record_1g_thp', 'pages_per_s'))
if pb and pt:
    print('# patched: THP pages/s over base pages/s: %.1fx' % (pt / pb))
PY
