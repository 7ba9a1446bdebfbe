#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the pristine base tarball with apt, check its sha256, keep it in the
# cache outside the clone and print its path.
. "$(dirname "$0")/lib.sh"

pkg=$(base_var source_package)
ver=$(base_var version)
suite=$(base_var suite)
tarball=$(base_var tarball)
sum=$(base_var sha256)
dst=$CACHE/$tarball

verify() { echo "$sum  $1" | sha256sum -c --status; }

mkdir -p "$CACHE"
if [ -f "$dst" ] && verify "$dst"; then
	echo "$dst"
	exit 0
fi

# apt needs a deb-src entry for the base's suite; add exactly that one, and
# only when no configured source offers it (never a binary "deb" entry).
have_src() {
	# (a here-string: grep -q on a pipe would kill apt-get, which
	# pipefail takes for a miss)
	grep -qx "deb-src $suite" <<<"$(apt-get indextargets \
		--format '$(TARGET_OF) $(CODENAME)' 2>/dev/null)"
}
if ! have_src; then
	[ "$(id -u)" = 0 ] || die "no deb-src entry for Debian $suite; run once as root"
	say "adding a deb-src entry for Debian $suite (source packages only)"
	cat >"/etc/apt/sources.list.d/mm-exclusive-$suite-src.sources" <<EOS
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	apt-get update -q >/dev/null 2>&1 ||
		die "apt-get update failed: the Debian mirror is unreachable"
elif ! apt-get source --print-uris -q "$pkg=$ver" >/dev/null 2>&1; then
	apt-get update -q >/dev/null 2>&1 ||
		die "apt-get update failed: the Debian mirror is unreachable"
fi

tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "downloading $tarball from Debian $suite"
if ! (cd "$tmp" && apt-get source --download-only -q "$pkg=$ver" >"$tmp/log" 2>&1); then
	sed 's/^/  /' "$tmp/log" | tail -5 >&2
	die "cannot download $pkg $ver from the Debian mirror (unreachable, or no deb-src for $suite)"
fi
[ -f "$tmp/$tarball" ] || die "apt did not deliver $tarball"
verify "$tmp/$tarball" || die "sha256 mismatch for $tarball (expected $sum)"
mv "$tmp/$tarball" "$dst"
echo "$dst"
