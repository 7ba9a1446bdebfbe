# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
# Common settings of the harness; sourced by the other scripts.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MMX_BUILD:-$ROOT/build}
PROFILE=${PROFILE:-test}		# configs/test.config, plus configs/$PROFILE.config
SRC=$BUILD/linux		# the kernel work tree (a git repository)
OBJ=$BUILD/obj			# kbuild output (O=), one per profile
[ "$PROFILE" = test ] || OBJ=$BUILD/obj-$PROFILE
OUT=$ROOT/out			# images, logs and exported series
KSRC=$SRC			# the tree the kernel is built from
ST=$BUILD/selftests		# selftest binaries and their list
# VANILLA=1: the same guest and tests on the pristine base, for comparison.
if [ -n "${VANILLA:-}" ]; then
	KSRC=$BUILD/vanilla
	OBJ=$BUILD/obj-vanilla
	[ "$PROFILE" = test ] || OBJ=$OBJ-$PROFILE
	OUT=$ROOT/out/vanilla
	ST=$BUILD/selftests-vanilla
fi
export MMX_OUT=$OUT
CACHE=${MMX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mm-exclusive}
JOBS=${JOBS:-$(($(nproc) + 1))}
# The mm/ files whose line coverage the kasan profile records.
GCOV_FILES="memory hugetlb gup rmap migrate huge_memory anon_exclusive
	device_exclusive mapping_dirty_helpers memfd memfd_noexec ksm swapfile
	mprotect mremap madvise"

# Reproducible builds make ccache hits across clones and rebuilds.
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2015'
export KBUILD_BUILD_USER=mm-exclusive KBUILD_BUILD_HOST=build
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1
# Who commits in the work tree and signs the exported series.
export GIT_COMMITTER_NAME='mm-exclusive team'
export GIT_COMMITTER_EMAIL=mm-exclusive@example.org
# The base commit gets a fixed date, so its id is the same in every clone.
BASE_DATE='2015-01-01T00:00:00Z'

base_var() { sed -n "s/^$1=//p" "$ROOT/patches/BASE"; }

say() { printf '%s\n' "mmx: $*" >&2; }
die() { printf '%s\n' "mmx: error: $*" >&2; exit 1; }

# Overlay files: every file of the series that is new to the kernel, as
# "repo-path kernel-path" lines.
overlay_files() {
	(cd "$ROOT" && git ls-files -co --exclude-standard -- mm include lib \
		tools/testing/selftests/mm Documentation/mm Kconfig.exclusive) |
	sort -u | while read -r f; do
		[ -f "$ROOT/$f" ] || continue
		# .gitkeep only keeps an empty overlay directory in git.
		case $f in */.gitkeep) continue ;; esac
		case $f in
		Kconfig.exclusive) echo "$f mm/Kconfig.exclusive" ;;
		*) echo "$f $f" ;;
		esac
	done
}

# Patches in apply order (names relative to patches/).
series_patches() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$ROOT/patches/series"; }

# git am patch $2 onto the tree $1.  A patch whose files all come from the
# overlay carries only its message; it becomes an empty commit.
am_patch() {
	git -C "$1" am -q --keep-cr "$2" >/dev/null 2>&1 ||
		git -C "$1" am -q --allow-empty >/dev/null 2>&1
}

# A patch's name without its number, as patches/overlay refers to it.
patch_slug() { basename "$1" .patch | sed 's/^[0-9]\{4\}-//'; }

# Install those of the named Debian packages that are not installed yet.
need_packages() {
	local p missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root, or install them)"
	say "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
		die "apt-get update failed: is the Debian mirror reachable?"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing >/dev/null ||
		die "apt-get install failed for:$missing"
}

# A checkout of the pristine base at $1 that shares build/linux's objects.
base_worktree() {
	[ -e "$1/.git" ] && return 0
	rm -rf "$1"
	git -C "$SRC" worktree prune
	git -C "$SRC" worktree add -q --detach "$1" base
}

# A scratch checkout of the pristine base at $1, sharing build/linux's
# objects: created, or reset to the base and cleaned.
fresh_base() {
	local wt=$1
	if [ -e "$wt/.git" ]; then
		git -C "$wt" am --abort >/dev/null 2>&1 || true
		git -C "$wt" checkout -q --detach base
		git -C "$wt" reset -q --hard base
		git -C "$wt" clean -q -fdx
	else
		base_worktree "$wt"
	fi
}

# configure_kernel TREE OBJDIR FRAGMENT...: tinyconfig (or the make target
# $KSTART, e.g. defconfig), the fragments merged in, olddefconfig; kconfig's
# notes go to OBJDIR/merge_config.log.  ARCH and CROSS_COMPILE come from
# the environment.
configure_kernel() {
	local tree=$1 obj=$2
	shift 2
	mkdir -p "$obj"
	make -s -C "$tree" O="$obj" "${KSTART:-tinyconfig}" >/dev/null
	(cd "$obj" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" \
		"$obj/.config" "$@" >"$obj/merge_config.log" 2>&1) ||
		{ cat "$obj/merge_config.log" >&2; die "merge_config.sh failed"; }
	make -s -C "$tree" O="$obj" olddefconfig >/dev/null \
		2>>"$obj/merge_config.log"
}

# config_mismatches OBJDIR FRAGMENT...: the options the fragments set (a
# later fragment overrides an earlier one) that OBJDIR/.config does not
# have as asked, one "Missing: CONFIG_X=v" or "Unexpected: CONFIG_X
# (requested off)" line each.
config_mismatches() {
	local obj=$1 key val
	shift
	while IFS='=' read -r key val; do
		if [ "$val" = n ]; then
			grep -q "^$key=" "$obj/.config" &&
				echo "Unexpected: $key (requested off)"
		else
			grep -qx "$key=$val" "$obj/.config" ||
				echo "Missing: $key=$val"
		fi
	done < <(cat "$@" | sed -n 's/^\(CONFIG_[A-Za-z0-9_]*=[^#[:space:]]*\).*/\1/p' |
		awk -F= '{ v[$1] = $0; if (!($1 in seen)) { seen[$1] = 1; k[n++] = $1 } }
			END { for (i = 0; i < n; i++) print v[k[i]] }')
	return 0
}
