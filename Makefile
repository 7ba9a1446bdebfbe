# SPDX-License-Identifier: GPL-2.0
# mm-exclusive: build, boot and test the series on Linux 5.10.223.
# `make help` lists the targets.

MAKEFLAGS += --no-print-directory
SHELL := /bin/bash
S := scripts

.PHONY: all help run check bench profile stress fuzz faultinject shell deps base tree export kernel selftests \
	initramfs report series series-check configs lint docs clean distclean

all: check

help:
	@sed -n 's/^## //p' $(firstword $(MAKEFILE_LIST))

## run           build what is needed, boot, and show the series at work
run: initramfs
	@python3 $(S)/boot.py --mode run

## check         build what is needed, boot, run every test (T='glob' filters;
##               VANILLA=1: the same tests on the pristine base)
check: initramfs
	@T='$(T)' $(S)/check.sh

## bench         run bench/ on the series and on each program's reference
##               kernel under QEMU -icount (B=prog,... selects programs,
##               C=case,... cases); table, report.json and report.png in
##               out/bench/
bench: tree
	@B='$(B)' C='$(C)' $(S)/bench.sh

## profile       after make bench: trace one run of cases C=case,... of
##               program B=prog on the series and its reference kernel and
##               list the kernel functions the instructions ran in
##               (out/bench/profile/report.txt)
profile:
	@[ -n '$(B)' ] && [ -n '$(C)' ] || { echo 'make profile B=prog C=case,...' >&2; exit 2; }
	@python3 $(S)/profile.py --prog '$(B)' --cases '$(C)' \
		--kernels patched,$$(sed -n 's/^ \* Reference kernel: \([a-z-]*\).*/\1/p' bench/$(B).c)

## stress        race fork, pins, swap, THP, KSM, migration, device-exclusive
##               and memfd seals for STRESS_SECS (default 120) seconds, with
##               an invariant checked after every operation (PROFILE=kasan
##               for the KASAN kernel)
stress: initramfs
	@STRESS_SECS='$(STRESS_SECS)' $(S)/stress.sh stress

## fuzz          random calls of the series' interfaces for FUZZ_SECS (default
##               120) seconds as root and as an unprivileged user, from
##               FUZZ_SEED (printed; FUZZ_OPS=N replays N calls): undocumented
##               errnos, broken invariants and splats fail
fuzz: initramfs
	@FUZZ_SECS='$(FUZZ_SECS)' FUZZ_SEED='$(FUZZ_SEED)' FUZZ_OPS='$(FUZZ_OPS)' \
		$(S)/stress.sh fuzz

## faultinject   allocation failures (failslab, fail_page_alloc) swept through
##               fork, pins, unshare, COW, swap-out, migration, the walker,
##               device-exclusive takes and seals, then the selftests with
##               FAULT_PERCENT (default 1) percent failing, on the kasan
##               kernel (PROFILE defaults to kasan here); reports which error
##               paths ran
faultinject:
	@PROFILE=$${PROFILE:-kasan} $(MAKE) --no-print-directory initramfs
	@PROFILE=$${PROFILE:-kasan} FAULT_PERCENT='$(FAULT_PERCENT)' $(S)/stress.sh faultinject

## shell         boot the test guest into an interactive shell
shell: initramfs
	@python3 $(S)/boot.py --mode shell

## report        re-read out/*.log and print the KTAP report again
report:
	@T='$(T)' REPORT_ONLY=1 $(S)/check.sh

## deps          install the Debian packages the harness needs
deps:
	@$(S)/deps.sh

## base          fetch and verify the base tarball (cached outside the clone)
base: deps
	@$(S)/fetch-base.sh >/dev/null

## tree          build/linux: base + one commit per patch, overlay linked in
tree: base
	@$(S)/tree.sh

## export        write build/linux's commits back to patches/
export:
	@$(S)/tree.sh export

## kernel        configure and build out/bzImage (PROFILE=kasan for KASAN)
kernel: tree
	@$(S)/kernel.sh

## selftests     build the selftests, static, against the tree's uapi headers
selftests: kernel
	@$(S)/selftests.sh

## initramfs     pack busybox, /init, selftests and demo into out/initramfs.cpio
initramfs: selftests
	@$(S)/initramfs.sh

## series        out/series: cover letter + patches with overlay files folded in
series: tree
	@$(S)/series.sh export

## series-check  git am out/series onto a fresh base, checkpatch (BISECT=1 builds)
series-check: series
	@BISECT='$(BISECT)' BISECT_FROM='$(BISECT_FROM)' $(S)/series.sh check

## configs       build out/series in every config of the compile matrix
##               (M=name,... selects); fail on errors and new warnings
configs: series
	@M='$(M)' $(S)/configs.sh

## lint          sparse (C=1) and W=1 on what the series touches, vs the base
lint: kernel
	@$(S)/lint.sh

## docs          make htmldocs SPHINXDIRS=mm; fail on warnings about our pages
docs: tree
	@$(S)/docs.sh

## clean         remove build outputs (keeps build/linux and the cache)
clean:
	rm -rf build/obj build/obj-* build/matrix/obj-* build/matrix/base/obj-* build/selftests build/selftests-vanilla build/hdr build/hdr-vanilla out

## distclean     remove build/ and out/ entirely
distclean:
	rm -rf build out
