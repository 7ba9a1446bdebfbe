/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User interface of /sys/kernel/debug/gup_test (CONFIG_GUP_TEST).
 *
 * Shared by mm/gup_test.c and the selftests, which include it by its path
 * in the source tree.  The ioctl numbers and structure layouts are those of
 * mainline Linux, so test programs written for mainline work unchanged.
 */
#ifndef __GUP_TEST_H
#define __GUP_TEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GUP_FAST_BENCHMARK	_IOWR('g', 1, struct gup_test)
#define PIN_FAST_BENCHMARK	_IOWR('g', 2, struct gup_test)
#define PIN_LONGTERM_BENCHMARK	_IOWR('g', 3, struct gup_test)
#define GUP_BASIC_TEST		_IOWR('g', 4, struct gup_test)
#define PIN_BASIC_TEST		_IOWR('g', 5, struct gup_test)
#define DUMP_USER_PAGES_TEST	_IOWR('g', 6, struct gup_test)

#define GUP_TEST_MAX_PAGES_TO_DUMP		8

/* DUMP_USER_PAGES_TEST: take FOLL_PIN references instead of FOLL_GET. */
#define GUP_TEST_FLAG_DUMP_PAGES_USE_PIN	0x1

/**
 * struct gup_test - argument of the benchmark and basic-test ioctls
 * @get_delta_usec: (out) time spent taking the references
 * @put_delta_usec: (out) time spent dropping them again
 * @addr: (in) page-aligned start of the user range
 * @size: (in) length of the range in bytes, a non-zero multiple of the
 *	page size, at most 2^18 pages; (out) the number of bytes processed
 * @nr_pages_per_call: (in) pages passed to each get/pin call, at least 1
 * @gup_flags: (in) FOLL_* bits numbered as in mainline since 6.2:
 *	FOLL_WRITE (0x1), FOLL_FORCE (0x8), FOLL_LONGTERM (0x100, pins only)
 *	and, except for the fast benchmarks, 0x2 for FOLL_TOUCH
 * @test_flags: (in) GUP_TEST_FLAG_* bits
 * @which_pages: (in) DUMP_USER_PAGES_TEST: 1-based indices of the pages to
 *	pass to dump_page(); 0 marks an unused slot
 */
struct gup_test {
	__u64 get_delta_usec;
	__u64 put_delta_usec;
	__u64 addr;
	__u64 size;
	__u32 nr_pages_per_call;
	__u32 gup_flags;
	__u32 test_flags;
	__u32 which_pages[GUP_TEST_MAX_PAGES_TO_DUMP];
};

/* PIN_LONGTERM_TEST_START flags */
#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1
#define PIN_LONGTERM_TEST_FLAG_USE_FAST		2

/**
 * struct pin_longterm_test - argument of PIN_LONGTERM_TEST_START
 * @addr: (in) page-aligned start of the range to pin
 * @size: (in) length in bytes, a non-zero multiple of the page size, at
 *	most 2^18 pages; all open files together hold at most 2^19
 * @flags: (in) PIN_LONGTERM_TEST_FLAG_* bits
 */
struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;
};

/*
 * Pin a range with FOLL_LONGTERM and keep it pinned until STOP or until the
 * file is closed; READ copies the pinned pages, in order, to the user buffer
 * whose address is stored in the __u64 the argument points to.
 */
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)

#endif	/* __GUP_TEST_H */
