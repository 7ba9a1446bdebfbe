#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compile matrix (make configs): the exported series, out/series, applied
# with git am to the pristine base in one tree, build/matrix/src, and built
# there in every configuration of the table below, each in an object
# directory of its own, build/matrix/obj-<name>.  An entry fails on
#   - an option its fragments set that the merged .config does not have as
#     asked (the entry would test nothing),
#   - any build error,
#   - any compiler, assembler, objtool, linker or modpost warning that the
#     pristine base does not have in the same configuration.
# The base's warnings are found cheaply: only the objects that warned in
# the series' build are compiled again in a checkout of the base
# (build/matrix/base/src, objects in build/matrix/base/obj-<name>, the
# same .config), the whole base only if the link warned; warnings are
# compared without their line and column numbers.  Every entry runs; the
# script fails at the end if any failed.  M=name,... selects entries.
# Logs: out/matrix/<name>.log, <name>.base.log and report.txt.
. "$(dirname "$0")/lib.sh"

SERIES=$OUT/series
MX=$BUILD/matrix
MSRC=$MX/src			# the series, applied with git am
AM=$MX/am			# scratch checkout where git am runs
BSRC=$MX/base/src		# the pristine base
LOGS=$OUT/matrix

# The matrix.  start: the make target the fragments (in configs/) are
# merged onto; build: vmlinux, or "dirs": only the directories the series
# touches, compiled without a link (a whole defconfig vmlinux takes ~40
# minutes on 2 cores; the rest of the kernel only includes the series'
# headers).  What each fragment turns on and off is said in it and in
# README.md.
#
# name      arch     start      build   fragments
MATRIX='
test        x86_64   tinyconfig vmlinux base.config test.config
defconfig   x86_64   defconfig  dirs    matrix/mm.config matrix/defconfig.config
noswap      x86_64   tinyconfig vmlinux matrix/mm.config matrix/noswap.config
nothp       x86_64   tinyconfig vmlinux matrix/mm.config matrix/nothp.config
nomigrate   x86_64   tinyconfig vmlinux matrix/mm.config matrix/nomigrate.config
tiny        x86_64   tinyconfig vmlinux matrix/tiny.config
i386        i386     tinyconfig vmlinux matrix/mm.config matrix/i386.config
i386-pae    i386     tinyconfig vmlinux matrix/mm.config matrix/i386.config matrix/i386-pae.config
arm64       arm64    tinyconfig vmlinux matrix/mm.config matrix/arm64.config
ppc64le     powerpc  tinyconfig vmlinux matrix/mm.config matrix/ppc64le.config
s390x       s390     tinyconfig vmlinux matrix/mm.config matrix/s390x.config
'

# Directories a "dirs" entry (x86) always compiles with `make dir/`; those
# of the files the series changes are added (see series_dirs).
DIRS=(mm kernel fs lib arch/x86/mm)

# The cross compiler prefix for ARCH $1 (none: the host's gcc, which
# builds i386 kernels with -m32 too).
cross_prefix() {
	case $1 in
	arm64) echo aarch64-linux-gnu- ;;
	powerpc) echo powerpc64le-linux-gnu- ;;
	s390) echo s390x-linux-gnu- ;;
	esac
}

# Apply out/series to a fresh base in the scratch checkout, then move the
# matrix tree to the result: git rewrites only the files that differ, so
# kbuild recompiles only what the change touches.  Nothing happens while
# out/series is what was applied last.
apply_series() {
	local sum p patches=() stamp=$MX/applied
	for p in "$SERIES"/[0-9]*.patch; do
		case $p in */0000-cover-letter.patch) ;; *) patches+=("$p") ;; esac
	done
	[ -f "${patches[0]}" ] || die "no out/series: run 'make series'"
	sum=$(cat "${patches[@]}" | sha256sum | cut -d' ' -f1)
	[ -e "$MSRC/.git" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && return 0
	say "matrix: applying out/series to the base"
	rm -f "$stamp"
	fresh_base "$AM"
	for p in "${patches[@]}"; do
		if ! git -C "$AM" am -q "$p" >/dev/null 2>&1; then
			git -C "$AM" am --abort >/dev/null 2>&1 || true
			die "$(basename "$p") does not apply with git am"
		fi
	done
	base_worktree "$MSRC"
	git -C "$MSRC" checkout -q --detach "$(git -C "$AM" rev-parse HEAD)"
	echo "$sum" >"$stamp"
}

# The directories a "dirs" entry compiles: $DIRS and those of the C,
# assembler and Makefile changes of the series that kbuild builds for x86
# (not tools/, scripts/, Documentation/ or another arch/), without any that
# lie inside another one.
series_dirs() {
	{ printf '%s\n' "${DIRS[@]}"
	  git -C "$MSRC" diff --name-only base..HEAD -- '*.c' '*.S' '*Makefile' |
		sed -n 's|/[^/]*$||p' |
		grep -v -e '^tools/' -e '^Documentation/' -e '^scripts/' \
			-e '^arch/[^x]' -e '^arch/x[^8]' || true; } |
	sort -u | awk '{ for (d in top) if (index($0, d "/") == 1) next; top[$0]; print $0 "/" }'
}

# kmake TREE OBJDIR ARGS...: kbuild with ccache, for $ARCH/$CROSS_COMPILE.
# -Otarget keeps each object's messages together, after its "CC" line.
kmake() {
	local tree=$1 obj=$2
	shift 2
	LANG=C LC_ALL=C make -C "$tree" O="$obj" -j"$JOBS" -Otarget \
		CC="ccache ${CROSS_COMPILE}gcc" HOSTCC="ccache gcc" "$@"
}

# diagnostics LOG: the warnings and errors of a build log, one line each:
#   kind <TAB> owner <TAB> key <TAB> message
# kind: error or warning; owner: the kbuild step that printed it, as its
# "  CC      mm/memory.o" line says ("CC mm/memory.o"); key: the message
# without line and column numbers and hex offsets, to compare the series
# with the base; message: as printed.  The trees' and object directories'
# paths are cut from both (ccache has the compiler see the sources as
# ../src/ from both object directories).  A linker "in function" line is
# joined to the message that follows.
diagnostics() {
	sed -e 's/\x1b\[[0-9;]*m//g' -e 's|\.\./src/||g' \
	    -e "s|$MSRC/||g; s|$BSRC/||g; s|$MX/[a-z/]*obj-[^/]*/||g" "$1" |
	awk '
	/^  [A-Z0-9_]+( \[M\])? +[^ ]+$/ { owner = $1 " " $NF; next }
	/: in function `/ { fn = $0 " "; next }
	/[Ww]arning: |[Ee]rror: |undefined reference|multiple definition|^WARNING: |^ERROR: / {
		if ($0 ~ /warnings? being treated as errors/) next
		msg = fn $0; fn = ""
		kind = (msg ~ /[Ww]arning: |^WARNING: /) ? "warning" : "error"
		key = msg
		gsub(/:[0-9]+(:[0-9]+)?: /, ": ", key)
		gsub(/0x[0-9a-f]+/, "0x?", key)
		gsub(/\/tmp\/cc[A-Za-z0-9]+\.s/, "{asm}", key)
		print kind "\t" owner "\t" key "\t" msg
		next
	}
	{ fn = "" }'
}

# The owners on stdin that are objects the tree $1 compiles ("CC" or "AS")
# from a source file of its own, as paths.
compiled_objects() {
	local cmd o
	while read -r cmd o; do
		case $cmd in CC|AS) ;; *) continue ;; esac
		[ -f "$1/${o%.o}.c" ] || [ -f "$1/${o%.o}.S" ] && echo "$o"
	done | sort -u
}

# Whether an owner on stdin is a step of the link (neither the compile of
# an object nor a host program): then only a whole build shows its
# warnings again.
any_link_step() { grep -qv -e '^CC ' -e '^AS ' -e '^HOST'; }

# fmt_time SECONDS: 1m05s
fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# CPU time, in clock ticks, of the processes this shell has waited for.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }

# Print and record lines of the report.
report() { tee -a "$LOGS/report.txt"; }

# result STATUS TEXT: an entry's line of the report, with the time it took
# (wall clock, and CPU: on an idle machine wall = CPU / cores); uses
# run_entry's name, t0 and c0.
result() {
	printf '%-10s %-4s %7s %7s  %s\n' "$name" "$1" "$(fmt_time $((SECONDS - t0)))" \
		"$(fmt_time $((($(cpu_ticks) - c0) / CLK_TCK)))" "$2" | report
}

# run_entry NAME ARCH START BUILD FRAGMENT...: configure, build, compare
# with the base, report; the exit status says whether the entry passed.
run_entry() {
	local name=$1 arch=$2 start=$3 build=$4
	shift 4
	local obj=$MX/obj-$name bobj=$MX/base/obj-$name log=$LOGS/$name.log
	local blog=$LOGS/$name.base.log t0=$SECONDS c0 f stamp pass rc=0
	local frags=() targets=() diags bdiags owners objs new errors nwarn nknown nerr
	local -x ARCH=$arch CROSS_COMPILE
	CROSS_COMPILE=$(cross_prefix "$arch")
	for f; do frags+=("$ROOT/configs/$f"); done
	c0=$(cpu_ticks)
	rm -f "$blog"

	# Configure when a fragment or a Kconfig file changed; check that
	# every option the fragments set is as asked.
	stamp=$( { echo "$arch $start"; cat "${frags[@]}";
		   git -C "$MSRC" ls-files -s -- '*Kconfig*'; } | sha256sum | cut -d' ' -f1)
	if [ "$(cat "$obj/.matrix-config" 2>/dev/null)" != "$stamp" ]; then
		rm -f "$obj/.matrix-config"
		(KSTART=$start configure_kernel "$MSRC" "$obj" "${frags[@]}") >"$log" 2>&1 ||
			{ result FAIL "configuration failed"; sed 's/^/    /' "$log" | report; return 1; }
		if [ -n "$(config_mismatches "$obj" "${frags[@]}")" ]; then
			result FAIL "the merged .config lacks requested options"
			config_mismatches "$obj" "${frags[@]}" | sed 's/^/    /' | report
			return 1
		fi
		echo "$stamp" >"$obj/.matrix-config"
	fi

	# An entry that passed with this tree, configuration, compiler and
	# script is not built again.
	pass=$( { echo "$stamp"; git -C "$MSRC" rev-parse HEAD; "${CROSS_COMPILE}gcc" --version | head -1;
		  cat "$0" "$ROOT/scripts/lib.sh"; } | sha256sum | cut -d' ' -f1)
	if [ "$(cat "$obj/.matrix-pass" 2>/dev/null)" = "$pass" ]; then
		result ok "unchanged since it last passed"
		return 0
	fi
	rm -f "$obj/.matrix-pass"

	if [ "$build" = dirs ]; then
		mapfile -t targets < <(series_dirs "$arch")
	else
		targets=(vmlinux)
	fi
	kmake "$MSRC" "$obj" -k "${targets[@]}" >"$log" 2>&1 || rc=$?
	diags=$(diagnostics "$log")

	# Compile again in the base what printed a diagnostic: the objects
	# (removed first, so that they are compiled and warn again; objects
	# the base does not have are left out: all their warnings are new),
	# and the whole build again when the link did.
	owners=$(cut -f2 <<<"$diags")
	bdiags=
	if [ -n "$diags" ]; then
		base_worktree "$BSRC"
		if ! cmp -s "$obj/.config" "$bobj/.config.series"; then
			mkdir -p "$bobj"
			cp "$obj/.config" "$bobj/.config"
			kmake "$BSRC" "$bobj" -s olddefconfig >"$blog" 2>&1
			cp "$obj/.config" "$bobj/.config.series"
		fi
		objs=$(compiled_objects "$BSRC" <<<"$owners")
		for f in $objs; do rm -f "$bobj/$f"; done
		if any_link_step <<<"$owners"; then
			rm -f "$bobj/vmlinux"
			objs=${targets[*]}
		fi
		# shellcheck disable=SC2086
		[ -z "$objs" ] || kmake "$BSRC" "$bobj" -k $objs >>"$blog" 2>&1 || true
		bdiags=$(diagnostics "$blog")
	fi

	# Objects that printed a diagnostic are removed, so that the next run
	# compiles them again and sees it again (ccache replays it); one of
	# the link makes the next run link again.
	for f in $(compiled_objects "$MSRC" <<<"$owners"); do rm -f "$obj/$f"; done
	[ -z "$diags" ] || ! any_link_step <<<"$owners" || rm -f "$obj/vmlinux"

	new=$(awk -F'\t' 'NR == FNR { old[$3]; next } $1 == "warning" && !($3 in old) { print $4 }' \
		<(echo "$bdiags") <(echo "$diags") | sort -u)
	errors=$(awk -F'\t' 'NR == FNR { old[$3]; next }
		$1 == "error" { print $4 (($3 in old) ? "   [the base too]" : "") }' \
		<(echo "$bdiags") <(echo "$diags") | sort -u)
	nwarn=$(grep -c . <<<"$new" || true)
	nknown=$(($(grep -c '^warning' <<<"$diags" || true) - nwarn))
	nerr=$(grep -c . <<<"$errors" || true)
	if [ "$rc" != 0 ] && [ "$nerr" = 0 ]; then
		errors=$(grep -E '\*\*\*|[Ee]rror' "$log" | head -5)
		nerr=1
	fi
	if [ "$rc" = 0 ] && [ "$nwarn" = 0 ]; then
		result ok "0 new warnings ($nknown known from the base)"
		echo "$pass" >"$obj/.matrix-pass"
		return 0
	fi
	result FAIL "$nerr errors, $nwarn new warnings"
	printf '%s\n' "$errors" "$new" | sed -e '/^$/d' -e 's/^/    /' | report
	return 1
}

# The entries M= names (all by default), in the table's order.
selected() {
	local names n rest
	names=$(awk 'NF { print $1 }' <<<"$MATRIX")
	for n in ${SELECT//,/ }; do
		grep -qx -- "$n" <<<"$names" ||
			die "no matrix entry '$n' (entries: $(tr '\n' ' ' <<<"$names"))"
	done
	while read -r n rest; do
		[ -n "$n" ] || continue
		[ -z "$SELECT" ] || [[ ",$SELECT," == *",$n,"* ]] && echo "$n $rest"
	done <<<"$MATRIX"
}

# M= means an external module's directory to kbuild: keep it, and the
# harness make's command line that carries it, from kbuild.
SELECT=${M:-}
unset M MAKEFLAGS MFLAGS MAKEOVERRIDES
entries=$(selected)
pkgs=()
while read -r _ arch _; do
	p=$(cross_prefix "$arch")
	[ -z "$p" ] || pkgs+=("gcc-${p%-}" "binutils-${p%-}")
done <<<"$entries"
[ ${#pkgs[@]} = 0 ] || need_packages "${pkgs[@]}"
apply_series
mkdir -p "$LOGS"
: >"$LOGS/report.txt"
say "matrix: $(wc -l <<<"$entries") configurations, $JOBS jobs"
printf '%-10s %-4s %7s %7s  %s\n' config res wall cpu notes | report
failed=
t0=$SECONDS
c0=$(cpu_ticks)
while read -r name arch start build frags; do
	# shellcheck disable=SC2086
	run_entry "$name" "$arch" "$start" "$build" $frags </dev/null || failed="$failed $name"
done <<<"$entries"
say "matrix: $(fmt_time $((SECONDS - t0))) in all (CPU $(fmt_time $((($(cpu_ticks) - c0) / CLK_TCK)))); logs in out/matrix/"
[ -z "$failed" ] || die "matrix: failed:$failed"
