#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sparse (C=2) and W=1 over the kernel objects the series touches; fail on
# any warning the pristine base does not already have for the same file.
. "$(dirname "$0")/lib.sh"

LINTLOG=$OUT/lint.log
mkdir -p "$OUT"
: >"$LINTLOG"

# C files of the kernel (not tools/) that the series adds or changes and
# that this configuration builds.
files=$( { git -C "$SRC" diff --name-only --diff-filter=AM base..HEAD -- '*.c';
	   overlay_files | awk '{ print $2 }' | grep '\.c$'; } |
	 grep -v '^tools/' | sort -u)
objs=
for f in $files; do
	o=${f%.c}.o
	[ -f "$OBJ/$o" ] && objs="$objs $o"
done
[ -n "$objs" ] || { say "lint: no object of the series in this configuration"; exit 0; }

warnings() {	# tree objdir objs...: "file: message" lines, line numbers cut
	local tree=$1 obj=$2 o
	shift 2
	# Compile every object afresh: W=1's kernel-doc warnings come only
	# with a compile, and an up-to-date object would hide them.
	for o; do rm -f "$obj/$o"; done
	# The base may not build an object at all (its option is new):
	# then all of the object's warnings are new.  Errors are kept below.
	# -k: sparse reports errors the base has (mm/memory.c), and make
	# must still check every other object, in both trees.
	{ make -k -s -C "$tree" O="$obj" C=2 W=1 CC="ccache gcc" "$@" 2>&1 || true; } |
		tee -a "$LINTLOG" |
		sed -n 's/^\([^: ]*\):[0-9]*:\([0-9]*:\)\? *\(warning\|error\): */\1: \3: /p' |
		sed -E "s|^$tree/||; s|^(\.\./)+$(basename "$tree")/||; s|^(\.\./)+||" |
		sort -u
}

# shellcheck disable=SC2086
new=$(warnings "$SRC" "$OBJ" $objs)
bobjs=
for o in $objs; do
	[ -f "$SRC/${o%.o}.c" ] && git -C "$SRC" cat-file -e "base:${o%.o}.c" 2>/dev/null &&
		bobjs="$bobjs $o"
done
if [ -n "$new" ] && [ -n "$bobjs" ]; then
	# Compare with the base, file by file, in a scratch checkout.
	wt=$BUILD/lint-base
	bobj=$BUILD/lint-base-obj
	base_worktree "$wt"
	mkdir -p "$bobj"
	cp "$OBJ/.config" "$bobj/.config"
	make -s -C "$wt" O="$bobj" olddefconfig >/dev/null
	make -s -C "$wt" O="$bobj" -j"$JOBS" CC="ccache gcc" prepare >/dev/null 2>&1
	# shellcheck disable=SC2086
	old=$(warnings "$wt" "$bobj" $bobjs)
	new=$(comm -23 <(echo "$new") <(echo "$old" | sort -u))
fi
n=$(echo -n "$new" | grep -c . || true)
say "lint: $(echo $objs | wc -w) objects (sparse C=2, W=1): $n new warnings"
if [ "$n" != 0 ]; then
	echo "$new" | sed 's/^/  /'
	say "full output: out/lint.log"
	exit 1
fi
