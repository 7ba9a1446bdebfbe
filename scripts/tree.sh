#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel work tree, build/linux: a git repository holding the pristine
# base (tag "base") and one commit per patch of patches/series, with the
# overlay files linked in, so that editing them in the clone is what the
# next build compiles.
#
#   tree.sh          create or bring up to date, then link the overlay
#   tree.sh sync     only (re)link the overlay files
#   tree.sh export   write the work tree's commits back to patches/
. "$(dirname "$0")/lib.sh"

STAMP=$BUILD/applied		# "<hash of patches/> <HEAD after applying>"

patches_hash() {
	{ series_patches; series_patches | while read -r p; do
		cat "$ROOT/patches/$p"; done; } | sha256sum | cut -d' ' -f1
}

create_base() {
	local tarball top tmp
	tarball=$("$ROOT/scripts/fetch-base.sh")
	top=$(base_var topdir)
	tmp=$SRC.new
	rm -rf "$tmp"
	mkdir -p "$tmp"
	say "unpacking $(basename "$tarball")"
	tar -xf "$tarball" -C "$tmp" --strip-components=1 "$top"
	say "committing the pristine base"
	git -C "$tmp" init -q -b series
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config user.name "mm-exclusive team"
	git -C "$tmp" config user.email mm-exclusive@example.org
	git -C "$tmp" config gc.auto 0
	# -f: the base is the whole tarball, .gitignore'd files included.
	git -C "$tmp" add -A -f
	GIT_AUTHOR_NAME=Debian GIT_AUTHOR_EMAIL=debian-kernel@lists.debian.org \
	GIT_AUTHOR_DATE=$BASE_DATE GIT_COMMITTER_DATE=$BASE_DATE \
		git -C "$tmp" commit -q -m "Linux $(base_var version) ($(base_var tarball))" \
		-m "Pristine base of the mm-exclusive series, sha256 $(base_var sha256)."
	git -C "$tmp" tag base
	mv "$tmp" "$SRC"
}

apply_series() {
	local p
	# No stamp until every patch is in: a failed run re-applies next time.
	rm -f "$STAMP"
	git -C "$SRC" checkout -q -B series base
	while read -r p; do
		[ -f "$ROOT/patches/$p" ] || die "patches/series names $p, which does not exist"
		if ! am_patch "$SRC" "$ROOT/patches/$p"; then
			git -C "$SRC" am --abort >/dev/null 2>&1 || true
			die "patch $p does not apply (on top of: $(git -C "$SRC" log -1 --format=%s))"
		fi
	done < <(series_patches)
	echo "$(patches_hash) $(git -C "$SRC" rev-parse HEAD)" >"$STAMP"
}

sync_overlay() {
	local repo kpath dst
	local exclude=$SRC/.git/info/exclude

	mkdir -p "$(dirname "$exclude")"
	echo "# overlay files, linked from the mm-exclusive clone" >"$exclude"
	while read -r repo kpath; do
		dst=$SRC/$kpath
		# git refuses to follow a linked .gitignore; the build needs none.
		case $kpath in */.gitignore) continue ;; esac
		echo "/$kpath" >>"$exclude"
		if [ -e "$dst" ] && [ ! -L "$dst" ]; then
			die "overlay file $repo would replace $kpath of the base: change existing files with a patch"
		fi
		if [ "$(readlink -f "$dst" 2>/dev/null)" != "$ROOT/$repo" ]; then
			mkdir -p "$(dirname "$dst")"
			ln -sfnr "$ROOT/$repo" "$dst"
		fi
	done < <(overlay_files)
	# Forget links to overlay files that were removed or renamed.
	find "$SRC/mm" "$SRC/include" "$SRC/lib" "$SRC/Documentation/mm" \
		"$SRC/tools/testing/selftests/mm" -xtype l -delete 2>/dev/null || true
}

update_tree() {
	local want have_hash have_head
	[ -d "$SRC/.git" ] || create_base
	want=$(patches_hash)
	have_hash=; have_head=
	[ -f "$STAMP" ] && read -r have_hash have_head <"$STAMP"
	if [ "$want" != "$have_hash" ]; then
		if [ -n "$have_head" ] && [ -z "${FORCE:-}" ]; then
			[ "$(git -C "$SRC" rev-parse HEAD)" = "$have_head" ] &&
			[ -z "$(git -C "$SRC" status --porcelain -uno)" ] ||
			die "build/linux has commits or changes that are not in patches/: run 'make export' first (or FORCE=1 to drop them)"
		fi
		say "applying patches/series"
		git -C "$SRC" reset -q --hard
		apply_series
	fi
	sync_overlay
	# VANILLA=1 builds the pristine base, checked out beside the work tree.
	[ -z "${VANILLA:-}" ] || base_worktree "$KSRC"
}

export_series() {
	local tmp f n=0 slug
	[ -d "$SRC/.git" ] || die "no work tree: run 'make tree' first"
	[ -z "$(git -C "$SRC" status --porcelain -uno)" ] ||
		die "build/linux has uncommitted changes: commit them first"
	tmp=$(mktemp -d)
	git -C "$SRC" format-patch -q --always --zero-commit --no-signature --no-numbered \
		--filename-max-length=120 --no-cover-letter -o "$tmp" base..HEAD
	series_patches | while read -r f; do rm -f "$ROOT/patches/$f"; done
	echo "# mm-exclusive: patches in apply order (written by 'make export')" \
		>"$ROOT/patches/series.new"
	for f in "$tmp"/*.patch; do
		[ -e "$f" ] || continue
		mv "$f" "$ROOT/patches/"
		echo "$(basename "$f")" >>"$ROOT/patches/series.new"
		n=$((n + 1))
	done
	rm -rf "$tmp"
	mv "$ROOT/patches/series.new" "$ROOT/patches/series"
	echo "$(patches_hash) $(git -C "$SRC" rev-parse HEAD)" >"$STAMP"
	# Every slug named in patches/overlay must still exist.  (The list is
	# read once: grep -q on a pipe would kill its writer, which pipefail
	# reports as a miss.)
	local slugs
	slugs=$(series_patches | sed 's/^[0-9]\{4\}-//; s/\.patch$//')
	sed -e 's/#.*//' -e 's/:.*//' "$ROOT/patches/overlay" | sed '/^\s*$/d' |
	while read -r slug; do
		grep -qx "$slug" <<<"$slugs" ||
			say "warning: patches/overlay names '$slug', which is no longer in the series"
	done
	say "exported $n patches to patches/"
}

case ${1:-update} in
update) update_tree ;;
sync) [ -d "$SRC/.git" ] || update_tree; sync_overlay ;;
export) export_series ;;
*) die "usage: tree.sh [update|sync|export]" ;;
esac
