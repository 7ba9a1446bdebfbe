/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mm-exclusive selftests: KTAP results with stable
 * names, /proc and /sys readers, gup_test access and memory set-up.
 */
#ifndef MM_UTIL_H
#define MM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../kselftest.h"

#define GUP_TEST_PATH	"/sys/kernel/debug/gup_test"

enum mmt_result {
	MMT_PASS,
	MMT_FAIL,
	MMT_SKIP,
};

/*
 * Report one test case as "ok N name", "not ok N name" or "ok N name # SKIP
 * why".  A case listed in a known-gap table reports XFAIL when it fails and
 * a failing XPASS when it passes, so that a fixed gap cannot go unnoticed.
 */
void mmt_report(const char *name, enum mmt_result res, const char *gap,
		const char *fmt, ...);

/* Announce how many cases this program reports. */
void mmt_plan(unsigned int n);

/* Finish the program: totals line and the kselftest exit code. */
int mmt_exit(void);

extern size_t pagesize;

/* Read /proc/vmstat counter @name; -1 if it cannot be read. */
long vmstat_read(const char *name);
/* Fold the per-CPU vmstat deltas so that vmstat_read() is exact. */
bool vmstat_refresh(void);
/* PMD-size of transparent huge pages, 0 if THP is unavailable. */
size_t thp_pmd_size(void);
/*
 * Value of the smaps line @field ("AnonHugePages", "ShmemPmdMapped", ...),
 * in kB, of the mapping that contains @addr; -1 if there is none.
 */
long smaps_kb(const void *addr, const char *field);
/* Whether the range [addr, addr + size) is mapped by one PMD-size THP. */
bool range_is_thp(const void *addr, size_t size);

/* Anonymous private mapping of @size bytes aligned to @align. */
void *mmap_aligned(size_t size, size_t align);

/* Open gup_test; -1 with errno set if the kernel lacks it. */
int gup_test_open(void);

/* Bits of a /proc/self/pagemap entry (admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK	((1ULL << 55) - 1)
#define PM_SWAP		0x4000000000000000ULL
#define PM_PRESENT	0x8000000000000000ULL

/*
 * The pagemap entries of the @n pages from @addr, into @ents; false if
 * they cannot be read.  The PFN field reads as 0 without CAP_SYS_ADMIN.
 */
bool pagemap_read(const void *addr, size_t n, uint64_t *ents);
/* PFN of the page mapped at @addr; 0 if none is present (or visible). */
uint64_t pagemap_pfn(const void *addr);
/* Whether the page at @addr is swapped out. */
bool pagemap_swapped(const void *addr);

/*
 * A kpageflags bit the uapi header leaves out: one of the kernel's raw
 * page flags, exported as is (include/linux/kernel-page-flags.h).
 */
#define KPF_MAPPEDTODISK	34

/* /proc/kpageflags of @pfn into @flags; false if it cannot be read. */
bool kpageflags_read(uint64_t pfn, uint64_t *flags);
/*
 * PFN and kpageflags of the page mapped at @addr; false if no page is
 * present there or its PFN or flags cannot be read.
 */
bool page_flags_at(const void *addr, uint64_t *pfn, uint64_t *flags);

/* Whether any swap area is active (/proc/swaps). */
bool swap_available(void);

/* Read or write a number in a sysfs or procfs file; false on error. */
bool sysfs_read_ulong(const char *path, unsigned long *val);
bool sysfs_write_ulong(const char *path, unsigned long val);

/*
 * How one test case went: a failure outranks a skip, and the reasons of
 * the same rank are kept in the order found.
 */
struct mmt_verdict {
	enum mmt_result res;
	char why[512];
};

void mmt_fail(struct mmt_verdict *v, const char *fmt, ...)
	__attribute__((__format__(__printf__, 2, 3)));
void mmt_skip(struct mmt_verdict *v, const char *fmt, ...)
	__attribute__((__format__(__printf__, 2, 3)));

static inline bool mmt_ok(const struct mmt_verdict *v)
{
	return v->res == MMT_PASS;
}

/* Whether each of the @size bytes at @p is @val; @size must not be 0. */
bool mmt_all_bytes(const char *p, size_t size, char val);

#endif /* MM_UTIL_H */
