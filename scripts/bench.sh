#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the benchmark programs of bench/ on the series and on each program's
# reference kernel, and report every figure with the patched/reference
# ratio.
#
# QEMU runs with -icount shift=0,sleep=off: guest time advances one
# nanosecond per executed instruction, so the times are instruction counts,
# free of host noise.  Every kernel is built from the same config fragments,
# configs/base.config, test.config and bench.config (no lockdep, no
# DEBUG_VM); olddefconfig drops the options a tree does not have.  A
# program names its reference kernel in its header comment, on a line
# " * Reference kernel: <name>":
#   vanilla      the pristine base (build/vanilla, as for VANILLA=1)
#   base-walker  the series with the base's walker (mm/mapping_dirty_helpers.c
#                and mm/pagewalk.c as in the base): the walker benchmark
#                needs the series' test driver, which the pristine base
#                does not have
# Only the kernels the chosen programs need are built and booted; every
# guest boots the same initramfs with MMX_MEM (default here 3G) of memory.
#
#   B=prog[,prog...]   only these programs of bench/ (default: all)
#   C=case[,case...]   only these cases of the programs (default: all)
#
# Logs in out/bench/<kernel>/tests.log, the table in out/bench/report.txt.
. "$(dirname "$0")/lib.sh"

[ -z "${VANILLA:-}" ] || die "make bench builds the vanilla kernel itself: drop VANILLA"
need_packages gnuplot-nox	# the report's plot

BOUT=$OUT/bench
REF=$BUILD/bench-ref		# the base-walker tree
REFOBJ=$BUILD/obj-bench-ref
TIMEOUT=${TIMEOUT:-1800}	# per program, seconds
export MMX_MEM=${MMX_MEM:-3G}
START=$SECONDS

# The reference kernel that bench/$1.c names.
reference_of() {
	local ref
	ref=$(sed -n 's/^ \* Reference kernel: \([a-z-]*\).*/\1/p' "$ROOT/bench/$1.c")
	case $ref in
	vanilla|base-walker) echo "$ref" ;;
	*) die "bench/$1.c names no reference kernel (a line ' * Reference kernel: vanilla' or 'base-walker')" ;;
	esac
}

# The base-walker tree: build/linux's commits, the overlay copied in, and
# the base's walker.
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

# build_<kernel>: build it with the bench profile, leave its image and
# config in out/bench/<kernel>/.
build_patched() {
	# kernel.sh leaves its image in out/; the next check puts the test one back.
	PROFILE=bench bash "$ROOT/scripts/kernel.sh"
	cp "$OUT/bzImage" "$BOUT/patched/"
	cp "$OUT/.config" "$BOUT/patched/config"
	cp "$BUILD/obj-bench/System.map" "$BOUT/patched/"
}

build_vanilla() {
	base_worktree "$BUILD/vanilla"
	VANILLA=1 PROFILE=bench bash "$ROOT/scripts/kernel.sh"
	cp "$OUT/vanilla/bzImage" "$BOUT/vanilla/"
	cp "$OUT/vanilla/.config" "$BOUT/vanilla/config"
	cp "$BUILD/obj-vanilla-bench/System.map" "$BOUT/vanilla/"
}

build_base_walker() {
	ref_tree
	configure_kernel "$REF" "$REFOBJ" "$ROOT"/configs/base.config \
		"$ROOT"/configs/test.config "$ROOT"/configs/bench.config
	say "building the base-walker kernel"
	make -s -C "$REF" O="$REFOBJ" -j"$JOBS" CC="ccache gcc" bzImage \
		>"$REFOBJ.log" 2>&1 || { tail -20 "$REFOBJ.log"; die "base-walker build failed"; }
	cp "$REFOBJ/arch/x86/boot/bzImage" "$BOUT/base-walker/"
	cp "$REFOBJ/.config" "$BOUT/base-walker/config"
	cp "$REFOBJ/System.map" "$BOUT/base-walker/"
}

# boot_bench KERNEL PROG...: the programs on KERNEL, under -icount.
boot_bench() {
	local name=$1 dir=$BOUT/$1 t=$SECONDS
	shift
	cp "$OUT/initramfs.cpio" "$dir/"
	say "benchmarks on the $name kernel: $* (MMX_MEM=$MMX_MEM)"
	MMX_OUT=$dir MMX_ICOUNT=1 python3 "$ROOT/scripts/boot.py" --mode bench \
		--tests "$(IFS=,; echo "$*")" --timeout "$TIMEOUT" --ntests $# \
		--env "BENCH_CASES=${C:-}"
	say "$name kernel booted and ran for $((SECONDS - t)) s"
}

# The selftests, the benchmark programs and the initramfs, all booted.
build_guest() {
	PROFILE=bench bash "$ROOT/scripts/selftests.sh"
	bash "$ROOT/scripts/initramfs.sh"
}

# build WHAT: build_<what> (a kernel, or the guest's programs), timed.
build() {
	local t=$SECONDS
	case $1 in
	patched) build_patched ;;
	vanilla) build_vanilla ;;
	base-walker) build_base_walker ;;
	guest) build_guest ;;
	esac
	say "$1 built in $((SECONDS - t)) s"
}

if [ -n "${B:-}" ]; then
	read -ra progs <<<"${B//,/ }"
else
	progs=()
	for f in "$ROOT"/bench/*.c; do progs+=("$(basename "$f" .c)"); done
fi
declare -A refs=()
for p in "${progs[@]}"; do
	[ -f "$ROOT/bench/$p.c" ] || die "no benchmark program bench/$p.c"
	refs[$p]=$(reference_of "$p")
done
mapfile -t kernels < <(printf '%s\n' "${refs[@]}" | sort -u)

rm -rf "$BOUT"
for k in patched "${kernels[@]}"; do mkdir -p "$BOUT/$k"; done
# The report must be able to refuse figures: its own unit tests come first.
if ! python3 -m unittest -q "$ROOT/scripts/tests/test_bench_report.py" \
	>"$BOUT/harness-tests.log" 2>&1; then
	cat "$BOUT/harness-tests.log" >&2
	die "the report's unit tests fail (scripts/tests/test_bench_report.py)"
fi

build patched
build guest
for k in "${kernels[@]}"; do build "$k"; done

boot_bench patched "${progs[@]}"
for k in "${kernels[@]}"; do
	mine=()
	for p in "${progs[@]}"; do
		if [ "${refs[$p]}" = "$k" ]; then mine+=("$p"); fi
	done
	boot_bench "$k" "${mine[@]}"
done

args=()
for p in "${progs[@]}"; do args+=("$p=${refs[$p]}"); done
rc=0
MMX_BENCH_PROFILE="bench (-O2, Debian bullseye mm options)" python3 "$ROOT/scripts/bench_report.py" "$BOUT" "${args[@]}" \
	>"$BOUT/report.txt" || rc=$?
cat "$BOUT/report.txt"
say "make bench took $((SECONDS - START)) s"
exit $rc
