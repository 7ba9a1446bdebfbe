#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series as others receive it.
#   series.sh export   out/series/: cover letter + numbered patches, each
#                      overlay file folded into the patch patches/overlay
#                      names for it (git format-patch --cover-letter)
#   series.sh check    git am out/series onto a fresh pristine base and run
#                      checkpatch --strict on every patch; BISECT=1 also
#                      builds every prefix
. "$(dirname "$0")/lib.sh"

SERIES=$OUT/series

# Overlay files (repo paths) that patches/overlay assigns to patch slug $1.
mapped_files() {
	sed -e 's/#.*//' "$ROOT/patches/overlay" |
		awk -v s="$1" -F: '$1 == s { print $2 }' | tr ' \t' '\n\n' | sed '/^$/d'
}

# An overlay file can change after the patch that brings it, in two ways;
# either way it is mapped to every patch that changes it.
# - Appending (Kconfig.exclusive, the selftest Makefile, ...): marker lines
#   "# @patch <slug>" split the file; the lines after a marker arrive in
#   that patch, those before the first marker in the first patch the file
#   is mapped to.  The markers themselves are not exported.
# - Any change: patches/overlay.d/<slug>.diff, a unified diff (-p1, kernel
#   paths) of what patch <slug> changes in overlay files.  The overlay holds
#   the final version; each earlier patch gets it with the diffs of the
#   patches after it reverse-applied.
DIFFS=$ROOT/patches/overlay.d
markers() { sed -n 's/^# @patch \([^ ]*\)$/\1/p' "$ROOT/$1"; }

# Kernel paths a diff of patches/overlay.d changes.
diff_files() { sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"; }

# Print overlay file $1 (as found at $2) as of the patches named in the
# rest of the arguments.
file_upto() {
	local src=$2
	shift 2
	awk -v ok="$*" 'BEGIN { n = split(ok, a, " "); for (i = 1; i <= n; i++) s[a[i]] = 1; keep = 1 }
		/^# @patch [^ ]+$/ { keep = ($3 in s); next }
		keep' "$src"
}

check_mapping() {
	local repo kpath n bad=0 slugs m d s
	slugs=$(series_patches | while read -r p; do patch_slug "$p"; done)
	for d in "$DIFFS"/*.diff; do
		[ -e "$d" ] || continue
		s=$(basename "$d" .diff)
		# (here-strings: grep -q on a pipe kills the writer, and
		# pipefail takes that for a miss)
		grep -qx "$s" <<<"$slugs" ||
			{ say "$d: no patch $s in the series"; bad=1; }
		for kpath in $(diff_files "$d"); do
			repo=$(overlay_files | awk -v k="$kpath" '$2 == k { print $1 }')
			[ -n "$repo" ] || { say "$d changes $kpath, which is no overlay file"; bad=1; continue; }
			grep -qx "$repo" <<<"$(mapped_files "$s")" ||
				{ say "$d changes $repo, which patches/overlay does not map to $s"; bad=1; }
		done
	done
	while read -r repo kpath; do
		n=$(for s in $slugs; do mapped_files "$s"; done | grep -cx "$repo" || true)
		m=$(markers "$repo" | wc -l)
		d=$(cat "$DIFFS"/*.diff 2>/dev/null | grep -cx "+++ b/$kpath" || true)
		if [ "$n" = 0 ] || [ "$n" != $((m + d + 1)) ]; then
			say "overlay file $repo is mapped to $n patches in patches/overlay, has $m '# @patch' markers and $d overlay.d diffs (must be markers + diffs + 1)"
			bad=1
		fi
		for s in $(markers "$repo"); do
			grep -qx "$repo" <<<"$(mapped_files "$s")" ||
				{ say "$repo: marker '# @patch $s' names a patch that does not map it"; bad=1; }
		done
	done < <(overlay_files)
	[ $bad = 0 ] || die "fix patches/overlay"
}

# Directories $1/<n>: the overlay files (at kernel paths) as of the n-th
# patch of the series, the final versions with the overlay.d diffs of the
# later patches reverse-applied.
overlay_versions() {
	local dir=$1 repo kpath p i slug
	local -a list
	rm -rf "$dir"
	mkdir -p "$dir/cur"
	while read -r repo kpath; do
		mkdir -p "$dir/cur/$(dirname "$kpath")"
		cp -p "$ROOT/$repo" "$dir/cur/$kpath"
	done < <(overlay_files)
	mapfile -t list < <(series_patches)
	for ((i = ${#list[@]}; i >= 1; i--)); do
		p=${list[i - 1]}
		cp -a "$dir/cur" "$dir/$i"
		slug=$(patch_slug "$p")
		[ -f "$DIFFS/$slug.diff" ] || continue
		patch -R -p1 -s -f --no-backup-if-mismatch -d "$dir/cur" \
			<"$DIFFS/$slug.diff" >/dev/null ||
			die "patches/overlay.d/$slug.diff does not reverse-apply to the overlay files as of that patch"
	done
}

do_export() {
	local wt=$BUILD/series-export vers=$BUILD/overlay-versions p f kpath
	local n=0 done=
	check_mapping
	overlay_versions "$vers"
	fresh_base "$wt"
	while read -r p; do
		am_patch "$wt" "$ROOT/patches/$p" ||
			die "patch $p does not apply"
		n=$((n + 1))
		done="$done $(patch_slug "$p")"
		for f in $(mapped_files "$(patch_slug "$p")"); do
			kpath=$(overlay_files | awk -v f="$f" '$1 == f { print $2 }')
			mkdir -p "$wt/$(dirname "$kpath")"
			file_upto "$f" "$vers/$n/$kpath" $done >"$wt/$kpath"
			chmod --reference="$ROOT/$f" "$wt/$kpath"
			git -C "$wt" add -f "$kpath"
		done
		git -C "$wt" commit -q --amend --no-edit --allow-empty
	done < <(series_patches)
	rm -rf "$vers"

	rm -rf "$SERIES"
	git -C "$wt" format-patch -q --zero-commit --no-signature --cover-letter \
		--filename-max-length=120 \
		--thread=shallow -o "$SERIES" base..HEAD
	# The cover letter's subject and blurb come from patches/cover-letter.
	python3 - "$SERIES"/0000-cover-letter.patch "$ROOT/patches/cover-letter" <<'PY'
import sys
path, src = sys.argv[1], sys.argv[2]
subject, _, blurb = open(src).read().partition('\n')
text = open(path).read()
text = text.replace('*** SUBJECT HERE ***', subject.strip())
text = text.replace('*** BLURB HERE ***', blurb.strip('\n'))
open(path, 'w').write(text)
PY
	say "out/series: cover letter + $n patches"
}

do_check() {
	local wt=$BUILD/series-check p i=0 bad=0 out
	[ -d "$SERIES" ] || die "no out/series: run 'make series'"
	fresh_base "$wt"
	for p in "$SERIES"/0*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		if ! git -C "$wt" am -q "$p" >/dev/null 2>&1; then
			git -C "$wt" am --abort >/dev/null 2>&1 || true
			die "$(basename "$p") does not apply with git am"
		fi
	done
	say "git am: every patch applies to the pristine base"
	# checkpatch checks SPDX lines with `python scripts/spdxcheck.py`,
	# which needs python3-ply: give it the system's python3 by that name.
	mkdir -p "$BUILD/bin"
	ln -sf /usr/bin/python3 "$BUILD/bin/python"
	for p in "$SERIES"/0*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		# checkpatch asks about MAINTAINERS for any patch that adds a
		# file; whether the entry covers every added file is checked
		# exactly below.
		out=$(cd "$wt" && PATH=$BUILD/bin:$PATH \
			./scripts/checkpatch.pl --strict --quiet \
			--ignore FILE_PATH_CHANGES "$p" 2>&1) || true
		if [ -n "$out" ]; then
			echo "$(basename "$p"):"
			echo "$out" | sed 's/^/  /'
			bad=1
		fi
	done
	[ $bad = 0 ] || die "checkpatch --strict has findings"
	say "checkpatch --strict: clean"
	# The MAINTAINERS entries of the clone are those the series adds.
	python3 - "$ROOT/MAINTAINERS" "$wt/MAINTAINERS" <<'PY' || die "MAINTAINERS of the clone and of the series differ"
import sys
ours, tree = (open(p).read() for p in sys.argv[1:])
blocks = [b.strip('\n') for b in ours.split('\n\n') if b.strip() and not b.startswith('#')]
missing = [b.splitlines()[0] for b in blocks if b + '\n' not in tree]
for m in missing:
    print('MAINTAINERS entry not in the series: ' + m)
sys.exit(1 if missing else 0)
PY
	# Every file the series adds is covered by an F: line of its entry.
	python3 - "$ROOT/MAINTAINERS" \
		<(git -C "$wt" diff --name-only --diff-filter=A base..HEAD) <<'PY' ||
import sys
pats = [l.split('\t', 1)[1].strip() for l in open(sys.argv[1]) if l.startswith('F:\t')]
bad = [f.strip() for f in open(sys.argv[2]) if f.strip() and not any(
    f.strip() == p or (p.endswith('/') and f.strip().startswith(p)) for p in pats)]
for f in bad:
    print('not covered by the MAINTAINERS entry: ' + f)
sys.exit(1 if bad else 0)
PY
		die "files the series adds are not in its MAINTAINERS entry"
	say "MAINTAINERS: the entry is the series' and covers every file it adds"
	[ -n "${BISECT:-}" ] || return 0
	# Every prefix links a vmlinux in the compile matrix's mm
	# configuration: tinyconfig with every mm option the series touches
	# and DEBUG_VM, but without the test profile's KASAN and lockdep,
	# which would triple the time of the many near-full rebuilds that
	# header changes cause.  Options of later patches are simply absent.
	local obj=$BUILD/bisect-obj commits c t0 t1 start=$SECONDS
	commits=$(git -C "$wt" rev-list --reverse base..HEAD)
	for c in $commits; do
		i=$((i + 1))
		# BISECT_FROM=N starts at prefix N (the ones before built).
		[ "$i" -ge "${BISECT_FROM:-1}" ] || continue
		git -C "$wt" checkout -q --detach "$c"
		t0=$SECONDS
		configure_kernel "$wt" "$obj" "$ROOT"/configs/matrix/mm.config
		make -s -C "$wt" O="$obj" -j"$JOBS" CC="ccache gcc" vmlinux \
			>"$obj.log" 2>&1 || { tail -20 "$obj.log"; die "prefix $i does not build"; }
		t1=$SECONDS
		say "bisect: prefix $i builds ($((t1 - t0)) s): $(git -C "$wt" log -1 --format=%s)"
	done
	say "bisect: all $i prefixes build ($(((SECONDS - start) / 60)) min)"
}

case ${1:-} in
export) do_export ;;
check) do_check ;;
*) die "usage: series.sh export|check" ;;
esac
