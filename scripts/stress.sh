#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make stress: boot the guest into the stress program (guest/stress.c) for
# STRESS_SECS seconds (default 120) and report its workers as KTAP, with
# dmesg_clean: a violation of any worker's invariant or a kernel splat
# fails the run.  PROFILE=kasan runs it on the KASAN + lockdep + DEBUG_VM
# kernel; VANILLA=1 on the pristine base (which lacks some interfaces:
# those workers skip).
. "$(dirname "$0")/lib.sh"

SECS=${STRESS_SECS:-120}
# The guest's per-program timeout: the run, the workers' last round and
# their exit, with room for a slow (KASAN) kernel.
TIMEOUT=$((SECS * 2 + 120))
python3 "$ROOT/scripts/boot.py" --mode stress --tests stress --ntests 1 \
	--timeout "$TIMEOUT" --secs "$SECS"
python3 "$ROOT/scripts/report.py" --programs stress --all-programs stress \
	--timeout "$TIMEOUT" >"$OUT/stress.ktap" && rc=0 || rc=$?
cat "$OUT/stress.ktap"
exit $rc
