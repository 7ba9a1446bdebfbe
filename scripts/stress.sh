#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make stress / make fuzz / make faultinject: boot the guest into one of
# the harness programs of guest/ and report it as KTAP, with dmesg_clean.
#
#   stress       the stress workers (guest/stress.c) for STRESS_SECS
#                seconds (default 120): a violation of any worker's
#                invariant or a kernel splat fails the run
#   fuzz         the fuzzer (guest/fuzz.c) for FUZZ_SECS seconds (default
#                120), from FUZZ_SEED (default: the time), at most FUZZ_OPS
#                calls per fuzzer if set: an undocumented errno, a broken
#                invariant or a splat fails the run
#   faultinject  the allocation-failure sweeps and the selftests with
#                FAULT_PERCENT (default 1) percent of their allocations
#                failing (guest/faultinject.c), on a kernel with fault
#                injection (PROFILE=kasan, the default here): the traces of
#                injected failures are expected, any other splat fails;
#                then the kernel's line coverage shows which of the error
#                paths of scripts/error-paths ran (a required one that did
#                not fails)
#
# PROFILE=kasan runs it on the KASAN + lockdep + DEBUG_VM kernel; VANILLA=1
# on the pristine base (which lacks some interfaces: those parts skip).
. "$(dirname "$0")/lib.sh"

PROG=${1:-stress}
envs=()
case $PROG in
stress)	SECS=${STRESS_SECS:-120} ;;
fuzz)	SECS=${FUZZ_SECS:-120}
	envs=(--env "FUZZ_SEED=${FUZZ_SEED:-$(date +%s)}")
	[ -z "${FUZZ_OPS:-}" ] || envs+=(--env "FUZZ_OPS=$FUZZ_OPS") ;;
faultinject)
	# Sweeps end by themselves; the selftests' own timeouts bound the rest.
	SECS=${FAULT_SECS:-900}
	envs=(--env "FAULT_PERCENT=${FAULT_PERCENT:-1}") ;;
*)	die "no harness program $PROG" ;;
esac
# The guest's per-program timeout: the run, the last round and the exit,
# with room for a slow (KASAN) kernel.
TIMEOUT=$((SECS * 2 + 120))
python3 "$ROOT/scripts/boot.py" --mode stress --tests "$PROG" --ntests 1 \
	--timeout "$TIMEOUT" --secs "$SECS" "${envs[@]}"
extra=()
[ "$PROG" != faultinject ] || extra=(--injected)
python3 "$ROOT/scripts/report.py" --programs "$PROG" --all-programs "$PROG" \
	--timeout "$TIMEOUT" "${extra[@]}" >"$OUT/$PROG.ktap" && rc=0 || rc=$?
cat "$OUT/$PROG.ktap"
# Which error paths ran: the kernel's line coverage (kasan profile).
if [ "$PROG" = faultinject ] && [ -z "${VANILLA:-}" ] &&
   grep -q '^MMX-GCOV ' "$OUT/tests.log"; then
	python3 "$ROOT/scripts/gcov_paths.py" "$OUT/tests.log" "$OUT/console.log" "$OBJ" "$SRC" \
		"$ROOT/scripts/error-paths" >"$OUT/error-paths.ktap" || rc=1
	cat "$OUT/error-paths.ktap"
fi
exit $rc
