#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the work tree's kernel; leave out/bzImage and
# out/config.  PROFILE=test (default), kasan or bench.
. "$(dirname "$0")/lib.sh"

FRAGS="$ROOT/configs/base.config $ROOT/configs/test.config"
[ "$PROFILE" = test ] || FRAGS="$FRAGS $ROOT/configs/$PROFILE.config"
[ -z "${VANILLA:-}" ] || FRAGS="$FRAGS $ROOT/configs/vanilla.config"
for f in $FRAGS; do [ -f "$f" ] || die "no config fragment $f"; done

KMAKE=(make -C "$KSRC" O="$OBJ" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
# The kasan profile counts the lines run in the mm files the series
# changes (gcov; make faultinject reports them).
if grep -qx 'CONFIG_GCOV_KERNEL=y' "$ROOT/configs/$PROFILE.config" 2>/dev/null; then
	# Only mm/'s objects of these names (arch/x86/boot has a memory.o).
	for f in $GCOV_FILES; do
		KMAKE+=("GCOV_PROFILE_$f.o=\$(if \$(filter mm,\$(obj)),y,n)")
	done
fi
mkdir -p "$OBJ" "$OUT"

# Regenerate .config when a fragment, the profile or any Kconfig file of the
# work tree changed.
stamp=$( { echo "$PROFILE"; cat $FRAGS; git -C "$KSRC" rev-parse HEAD;
	   cat "$KSRC"/mm/Kconfig.exclusive 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$OBJ/.config" ] || [ "$(cat "$OBJ/.config-stamp" 2>/dev/null)" != "$stamp" ]; then
	say "configuring ($PROFILE)"
	# shellcheck disable=SC2086
	configure_kernel "$KSRC" "$OBJ" $FRAGS
	missing=0
	# shellcheck disable=SC2086
	while read -r line; do
		key=${line#Missing: }
		key=${key%%=*}
		if [ "$key" != "$line" ] && [ -n "${VANILLA:-}" ] &&
		   ! grep -rqs --include='Kconfig*' "^config ${key#CONFIG_}\$" "$KSRC"; then
			say "not in the vanilla kernel: $key"
		else
			echo "$line" >&2; missing=1
		fi
	done < <(config_mismatches "$OBJ" $FRAGS)
	[ "$missing" = 0 ] || die "the merged config lacks requested options"
	echo "$stamp" >"$OBJ/.config-stamp"
fi

say "building the kernel"
if ! "${KMAKE[@]}" -s bzImage >"$OUT/build.log" 2>&1; then
	grep -E 'error|Error' "$OUT/build.log" | head -20 >&2
	die "kernel build failed (full log: out/build.log)"
fi
grep -i 'warning:' "$OUT/build.log" >&2 || true
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage.new"
mv "$OUT/bzImage.new" "$OUT/bzImage"
cp "$OBJ/.config" "$OUT/.config"
say "kernel ready: ${OUT#"$ROOT"/}/bzImage"
