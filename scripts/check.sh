#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test guest, run the selftests (those the filter T needs) and
# print the KTAP report; exit 1 if anything failed.
. "$(dirname "$0")/lib.sh"

T=${T:-}
TIMEOUT=${TIMEOUT:-300}
# The report must be able to fail: its own unit tests come first.
if ! python3 -m unittest -q "$ROOT/scripts/tests/test_report.py" \
	>"$OUT/harness-tests.log" 2>&1; then
	cat "$OUT/harness-tests.log" >&2
	die "the report's unit tests fail (scripts/tests/test_report.py)"
fi

list=$ST/list
progs=$(python3 "$ROOT/scripts/report.py" --select --filter "$T" <"$list")
n=$(echo "$progs" | tr , '\n' | grep -c . || true)

[ -n "${REPORT_ONLY:-}" ] ||
python3 "$ROOT/scripts/boot.py" --mode check --tests "${progs:-none}" \
	--ntests "$n" --timeout "$TIMEOUT"
python3 "$ROOT/scripts/report.py" --filter "$T" --programs "$progs" \
	--all-programs "$(paste -sd, "$list")" \
	--timeout "$TIMEOUT" >"$OUT/report.ktap" && rc=0 || rc=$?
cat "$OUT/report.ktap"
exit $rc
