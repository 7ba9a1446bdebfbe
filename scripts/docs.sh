#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the series' documentation (make htmldocs SPHINXDIRS=mm) and fail on
# any warning about it.  HTML in build/docs/Documentation/output/mm/.
. "$(dirname "$0")/lib.sh"

need_packages python3-sphinx python3-sphinx-rtd-theme

log=$OUT/docs.log
mkdir -p "$OUT"
# Debian's sphinx-build runs with the system's python3.
PATH=/usr/bin:$PATH make -C "$SRC" O="$BUILD/docs" SPHINXDIRS=mm htmldocs \
	>"$log" 2>&1 || { tail -20 "$log"; die "htmldocs failed (out/docs.log)"; }
if grep -E 'Documentation/mm/|mm/gup_test|(WARNING|ERROR|SEVERE):.*mm/' "$log" |
		grep -Ei 'warning|error|severe'; then
	die "the series' documentation has warnings (out/docs.log)"
fi
say "docs: Documentation/mm builds without warnings"
