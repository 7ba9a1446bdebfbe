#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the mm selftests (static, against the work tree's uapi headers) and
# the demo into build/selftests/.
. "$(dirname "$0")/lib.sh"

HDR=$BUILD/hdr${VANILLA:+-vanilla}
mkdir -p "$ST"

make -s -C "$KSRC" O="$OBJ" INSTALL_HDR_PATH="$HDR" headers_install >/dev/null
make -s -C "$SRC/tools/testing/selftests/mm" OUTPUT="$ST" \
	KHDR_INCLUDES="-isystem $HDR/include" LDFLAGS=-static \
	CC="ccache gcc" -j"$JOBS" all >"$ST/build.log" 2>&1 ||
	{ cat "$ST/build.log" >&2; die "selftest build failed"; }
grep -i warning "$ST/build.log" >&2 || true
make -s -C "$SRC/tools/testing/selftests/mm" OUTPUT="$ST" emit_tests |
	sed 's/^[^:]*://' >"$ST/list"
# The demo shares the selftests' helpers.
gcc -O2 -Wall -Wextra -static -isystem "$HDR/include" -I"$SRC" \
	-I"$SRC/tools/testing/selftests/mm" -o "$ST/demo" "$ROOT/guest/demo.c" \
	"$SRC/tools/testing/selftests/mm/mm_util.c"
# The stress, fuzz and fault-injection programs (make stress, make fuzz,
# make faultinject) are harness programs too: /mmx/stress in the guest.
mkdir -p "$ST/stress"
for p in stress fuzz faultinject; do
	[ -f "$ROOT/guest/$p.c" ] || continue
	gcc -O2 -Wall -Wextra -static -pthread -isystem "$HDR/include" -I"$SRC" \
		-I"$SRC/tools/testing/selftests/mm" -o "$ST/stress/$p" \
		"$ROOT/guest/$p.c" "$SRC/tools/testing/selftests/mm/mm_util.c"
done
# The benchmarks are harness programs, not tests: /mmx/bench in the guest.
mkdir -p "$ST/bench"
for b in "$ROOT"/bench/*.c; do
	gcc -O2 -Wall -Wextra -static -isystem "$HDR/include" -I"$SRC" \
		-I"$SRC/tools/testing/selftests/mm" -o "$ST/bench/$(basename "$b" .c)" \
		"$b" "$SRC/tools/testing/selftests/mm/mm_util.c"
done
