/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ioctl interface of lib/test_mapping_dirty.c, a test driver for the
 * shared-mapping dirty helpers.  Shared with the selftests in
 * tools/testing/selftests/mm/.
 */
#ifndef _LIB_TEST_MAPPING_DIRTY_UAPI_H
#define _LIB_TEST_MAPPING_DIRTY_UAPI_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct mapping_dirty_cmd - One call of a shared-mapping dirty helper
 * @fd: (in) A shmem file descriptor (tmpfs or memfd).
 * @offset: (in) Start of the range in the file, in bytes, page aligned.
 * @length: (in) Length of the range in bytes, page aligned, not 0.  The
 *	range must lie within the file's size.
 * @bitmap_pgoff: (in) File page index of bit 0 of @bitmap.  At most the
 *	first page of the range.  MAPPING_DIRTY_CLEAN only.
 * @bitmap: (in) User address of the bitmap, an array of __u64 in which
 *	bit i of word w stands for page @bitmap_pgoff + 64 * w + i.  It is
 *	read and written back: bits already set stay set.  CLEAN only.
 * @bitmap_bits: (in) Number of bits in @bitmap; it must reach the last
 *	page of the range.  CLEAN only.
 * @start: (in/out) First set bit of @bitmap.  CLEAN only.
 * @end: (in/out) Last set bit of @bitmap plus one; @start >= @end means
 *	that no bit is set yet.  CLEAN only.
 * @total: (out) What the helper returned: the number of pages write
 *	protected or recorded.
 * @time_ns: (out) Time spent in the helper, in nanoseconds, for
 *	benchmarks.
 * @reserved: Must be 0.
 *
 * MAPPING_DIRTY_WP runs wp_shared_mapping_range() and wants the CLEAN only
 * fields to be 0.  MAPPING_DIRTY_CLEAN runs
 * clean_record_shared_mapping_range().
 *
 * Errors: EFAULT (the command or the bitmap cannot be copied), EINVAL (a
 * bad field), EBADF (@fd is no open file), ENODEV (it is no tmpfs file),
 * ERANGE (the range goes past the file's size), E2BIG (@bitmap_bits
 * exceeds MAPPING_DIRTY_MAX_BITS), ENOSPC (the bitmap does not reach the
 * range's last page), ENOMEM, ENOTTY (an unknown command).
 */
struct mapping_dirty_cmd {
	__u64 fd;
	__u64 offset;
	__u64 length;
	__u64 bitmap_pgoff;
	__u64 bitmap;
	__u64 bitmap_bits;
	__u64 start;
	__u64 end;
	__u64 total;
	__u64 time_ns;
	__u64 reserved;
};

/* The largest @bitmap_bits a request may pass: 4 GiB of 4 KiB pages. */
#define MAPPING_DIRTY_MAX_BITS	_BITULL(20)

#define MAPPING_DIRTY_WP	_IOWR(0xB8, 0x00, struct mapping_dirty_cmd)
#define MAPPING_DIRTY_CLEAN	_IOWR(0xB8, 0x01, struct mapping_dirty_cmd)

#endif /* _LIB_TEST_MAPPING_DIRTY_UAPI_H */
