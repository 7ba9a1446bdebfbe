// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty bit of a PTE that migration to device memory takes down must
 * not get lost.  migrate_vma_setup() replaces the PTEs of the pages it
 * collects with migration entries; if a page then cannot move, the PTE it
 * gets back is clean, and if it moves, the new page has only the page
 * flags of the old one.  Either way, a page whose only dirty state was the
 * PTE's is seen as clean by reclaim afterwards:
 *
 * - a lazy-free page (MADV_FREE) that was written again: reclaim drops it,
 *   and the process reads zeroes where it wrote;
 * - a page in the swap cache that was written after a read fault brought
 *   it back: reclaim drops it without writing it, and the process reads
 *   what the swap slot still holds, the data from before the write.
 *
 * Migration is made to fail by an extra page reference that is not a pin
 * (the pages are vmspliced into a pipe that nobody reads), or, for the
 * swap cache, by the page's mapping: migrate_vma_pages() moves no page
 * that has one to device-private memory.
 *
 * The device is test_hmm's /dev/hmm_dmirror0, created by the guest's
 * /init from the major number in /proc/devices.  Each case reads back
 * what it wrote after reclaim (MADV_PAGEOUT) and says what it got
 * instead.  The *_reclaim cases are the controls: without migration the
 * data must survive, and unwritten lazy-free pages must be dropped, which
 * shows that reclaim ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <linux/kernel-page-flags.h>
#include "../../../../lib/test_hmm_uapi.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define DMIRROR_PATH	"/dev/hmm_dmirror0"

#define NR_TEST		8	/* pages written after the set-up */
#define NR_CONTROL	8	/* lazy-free pages left alone: reclaim drops them */
#define NR_PAGES	(NR_TEST + NR_CONTROL)
#define PAGEOUT_TRIES	3

#define OLD	0x5a	/* the content before the case writes */
#define NEW	0xa5	/* what the case writes, and must read back */

#define KPF(bit)	(1ULL << (bit))

static int dmirror_fd = -1;

/* ---------------------------------------------------------------------- */
/* Pages */

static char *page_at(char *mem, size_t i)
{
	return mem + i * pagesize;
}

static bool page_is(const char *p, unsigned char val)
{
	return (unsigned char)p[0] == val && !memcmp(p, p + 1, pagesize - 1);
}

/* How many of the @n pages from @mem are present, swapped out or neither. */
struct residence {
	size_t present;
	size_t swapped;	/* swap or device-private entries */
	size_t none;
};

static bool residence_of(char *mem, size_t n, struct residence *r,
			 struct mmt_verdict *v)
{
	uint64_t ents[NR_PAGES];
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!pagemap_read(mem, n, ents)) {
		mmt_fail(v, "cannot read the pagemap");
		return false;
	}
	for (i = 0; i < n; i++) {
		if (ents[i] & PM_PRESENT)
			r->present++;
		else if (ents[i] & PM_SWAP)
			r->swapped++;
		else
			r->none++;
	}
	return true;
}

/* How many of the @n present pages from @mem carry kpageflags bit @bit. */
static size_t count_flag(char *mem, size_t n, int bit)
{
	uint64_t pfn, flags;
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (page_flags_at(page_at(mem, i), &pfn, &flags) &&
		    (flags & KPF(bit)))
			count++;
	return count;
}

/*
 * Read the test pages back: each must hold NEW.  Says how many hold
 * zeroes (a dropped lazy-free page), OLD (a swap slot from before the
 * write) or anything else.
 */
static void expect_new(char *mem, const char *when, struct mmt_verdict *v)
{
	size_t i, zero = 0, old = 0, other = 0;

	for (i = 0; i < NR_TEST; i++) {
		char *p = page_at(mem, i);

		if (page_is(p, NEW))
			continue;
		if (page_is(p, 0))
			zero++;
		else if (page_is(p, OLD))
			old++;
		else
			other++;
	}
	if (zero + old + other)
		mmt_fail(v, "%s: %zu of %d written pages lost their data: %zu %s, %zu %s, %zu %s",
			 when, zero + old + other, NR_TEST, zero, "read as zeroes",
			 old, "as the data from before the write", other,
			 "as other data");
}

/* MADV_PAGEOUT of all @n pages from @mem. */
static bool pageout(char *mem, size_t n, struct mmt_verdict *v)
{
	if (madvise(mem, n * pagesize, MADV_PAGEOUT)) {
		mmt_fail(v, "MADV_PAGEOUT: %s", strerror(errno));
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* Migration to device memory */

/*
 * Migrate the test pages to device memory.  The driver answers ENOENT
 * when a page did not move (it reads back what it migrated); the pagemap
 * tells which pages stayed.  Returns how many pages left system memory.
 */
static size_t migrate_to_device(const char *name, char *mem,
				struct mmt_verdict *v)
{
	struct hmm_dmirror_cmd cmd;
	struct residence r;
	char *bounce;
	int ret, err;

	bounce = malloc(NR_TEST * pagesize);
	if (!bounce) {
		mmt_fail(v, "out of memory");
		return 0;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (uintptr_t)mem;
	cmd.ptr = (uintptr_t)bounce;
	cmd.npages = NR_TEST;
	ret = ioctl(dmirror_fd, HMM_DMIRROR_MIGRATE, &cmd);
	err = errno;
	free(bounce);
	if (!residence_of(mem, NR_TEST, &r, v))
		return 0;
	ksft_print_msg("%s: HMM_DMIRROR_MIGRATE of %d pages: %s%s, cpages %llu; ",
		       name, NR_TEST, ret ? "error " : "ok",
		       ret ? strerror(err) : "", (unsigned long long)cmd.cpages);
	printf("then %zu pages mapped, %zu on the device\n", r.present,
	       r.swapped);
	if (ret && err != ENOENT)
		mmt_fail(v, "HMM_DMIRROR_MIGRATE: %s", strerror(err));
	return r.swapped;
}

/* ---------------------------------------------------------------------- */
/* Lazy-free pages */

/*
 * NR_PAGES pages written with OLD and freed lazily, then the first NR_TEST
 * written again with NEW: only their PTEs say that they are dirty.
 */
static char *setup_lazyfree(struct mmt_verdict *v)
{
	char *mem = mmap(NULL, NR_PAGES * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return NULL;
	}
	memset(mem, OLD, NR_PAGES * pagesize);
	if (madvise(mem, NR_PAGES * pagesize, MADV_FREE)) {
		mmt_skip(v, "MADV_FREE: %s", strerror(errno));
		return mem;
	}
	memset(mem, NEW, NR_TEST * pagesize);
	return mem;
}

/*
 * Reclaim, then read back.  The control pages must be gone (reclaim drops
 * a clean lazy-free page), or reclaim did not run and the case shows
 * nothing.
 */
static void reclaim_lazyfree(char *mem, struct mmt_verdict *v)
{
	struct residence r;
	int tries;

	for (tries = 0; tries < PAGEOUT_TRIES; tries++) {
		if (!pageout(mem, NR_PAGES, v) ||
		    !residence_of(page_at(mem, NR_TEST), NR_CONTROL, &r, v))
			return;
		if (!r.present)
			break;
	}
	if (r.present) {
		mmt_skip(v, "MADV_PAGEOUT left %zu of %d unwritten lazy-free pages mapped",
			 r.present, NR_CONTROL);
		return;
	}
	expect_new(mem, "after reclaim", v);
}

/* Control: without migration, the written pages survive reclaim. */
static void lazyfree_reclaim(const char *name, struct mmt_verdict *v)
{
	char *mem = setup_lazyfree(v);

	if (!mem)
		return;
	if (mmt_ok(v))
		reclaim_lazyfree(mem, v);
	munmap(mem, NR_PAGES * pagesize);
}

/* A pipe that holds the test pages, vmspliced: a reference, not a pin. */
static bool splice_test_pages(char *mem, int fds[2], struct mmt_verdict *v)
{
	struct iovec iov = {
		.iov_base = mem,
		.iov_len = NR_TEST * pagesize,
	};
	ssize_t n;

	if (pipe(fds)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		return false;
	}
	while (iov.iov_len) {
		n = vmsplice(fds[1], &iov, 1, 0);
		if (n <= 0) {
			mmt_fail(v, "vmsplice: %s", n ? strerror(errno) : "no progress");
			close(fds[0]);
			close(fds[1]);
			return false;
		}
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= n;
	}
	return true;
}

/*
 * Migration collects the PTEs and then finds the pages held by the pipe:
 * it puts them back.  The pipe goes before reclaim (reclaim does not drop
 * a lazy-free page that something else holds).
 */
static void lazyfree_migrate_fails(const char *name, struct mmt_verdict *v)
{
	char *mem = setup_lazyfree(v);
	size_t moved;
	int fds[2];

	if (!mem)
		return;
	if (!mmt_ok(v) || !splice_test_pages(mem, fds, v))
		goto out;
	moved = migrate_to_device(name, mem, v);
	close(fds[0]);
	close(fds[1]);
	if (!mmt_ok(v))
		goto out;
	if (moved) {
		mmt_skip(v, "%zu of %d pages moved although a pipe held them",
			 moved, NR_TEST);
		goto out;
	}
	expect_new(mem, "after the failed migration", v);
	if (mmt_ok(v))
		reclaim_lazyfree(mem, v);
out:
	munmap(mem, NR_PAGES * pagesize);
}

/*
 * The pages move to the device and come back at the next access: the
 * data must be there (lazyfree_migrated_read), and stay there through
 * reclaim (lazyfree_migrated_reclaim).
 */
static void lazyfree_migrated(const char *name, struct mmt_verdict *v,
			      bool reclaim)
{
	char *mem = setup_lazyfree(v);
	size_t moved;

	if (!mem)
		return;
	if (!mmt_ok(v))
		goto out;
	moved = migrate_to_device(name, mem, v);
	if (!mmt_ok(v))
		goto out;
	if (moved != NR_TEST) {
		mmt_skip(v, "only %zu of %d pages moved to the device", moved,
			 NR_TEST);
		goto out;
	}
	expect_new(mem, "faulted back from the device", v);
	if (mmt_ok(v) && reclaim)
		reclaim_lazyfree(mem, v);
out:
	munmap(mem, NR_PAGES * pagesize);
}

static void lazyfree_migrated_read(const char *name, struct mmt_verdict *v)
{
	lazyfree_migrated(name, v, false);
}

static void lazyfree_migrated_reclaim(const char *name, struct mmt_verdict *v)
{
	lazyfree_migrated(name, v, true);
}

/* ---------------------------------------------------------------------- */
/* Pages in the swap cache */

/*
 * NR_TEST pages written with OLD, swapped out, read ahead into the swap
 * cache (zram would bypass it on a plain fault), mapped by read faults,
 * then written with NEW.  A kernel that reuses such a page keeps it in
 * the swap cache, clean, with a dirty PTE; one that copies it (5.10 does:
 * the swap cache holds a reference) writes a page that is not in it.
 */
static char *setup_swapcache(const char *name, struct mmt_verdict *v)
{
	struct residence r;
	size_t i, cached;
	char *mem;
	int tries;

	if (!swap_available()) {
		mmt_skip(v, "no swap space");
		return NULL;
	}
	mem = mmap(NULL, NR_TEST * pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return NULL;
	}
	memset(mem, OLD, NR_TEST * pagesize);
	for (tries = 0; tries < PAGEOUT_TRIES; tries++) {
		if (!pageout(mem, NR_TEST, v) ||
		    !residence_of(mem, NR_TEST, &r, v))
			return mem;
		if (r.swapped == NR_TEST)
			break;
	}
	if (r.swapped != NR_TEST) {
		mmt_skip(v, "MADV_PAGEOUT swapped out %zu of %d pages", r.swapped,
			 NR_TEST);
		return mem;
	}
	if (madvise(mem, NR_TEST * pagesize, MADV_WILLNEED)) {
		mmt_fail(v, "MADV_WILLNEED: %s", strerror(errno));
		return mem;
	}
	for (i = 0; i < NR_TEST; i++) {
		if (!page_is(page_at(mem, i), OLD)) {
			mmt_fail(v, "page %zu did not come back from swap", i);
			return mem;
		}
	}
	if (count_flag(mem, NR_TEST, KPF_SWAPCACHE) != NR_TEST) {
		mmt_skip(v, "only %zu of %d pages read back are in the swap cache",
			 count_flag(mem, NR_TEST, KPF_SWAPCACHE), NR_TEST);
		return mem;
	}
	memset(mem, NEW, NR_TEST * pagesize);
	cached = count_flag(mem, NR_TEST, KPF_SWAPCACHE);
	ksft_print_msg("%s: after the write, %zu of %d pages are in the swap cache\n",
		       name, cached, NR_TEST);
	/*
	 * A kernel that takes a page written in place out of the swap cache
	 * (and dirties it) has nothing for these cases to check.
	 */
	if (cached != NR_TEST)
		mmt_skip(v, "the write took %zu of %d pages out of the swap cache",
			 NR_TEST - cached, NR_TEST);
	return mem;
}

/*
 * Reclaim until no test page is mapped (swapped out, or on the device),
 * then read back.
 */
static void reclaim_swapcache(char *mem, struct mmt_verdict *v)
{
	struct residence r;
	int tries;

	for (tries = 0; tries < PAGEOUT_TRIES; tries++) {
		if (!pageout(mem, NR_TEST, v) ||
		    !residence_of(mem, NR_TEST, &r, v))
			return;
		if (!r.present)
			break;
	}
	if (r.present) {
		mmt_skip(v, "MADV_PAGEOUT left %zu of %d pages mapped", r.present,
			 NR_TEST);
		return;
	}
	expect_new(mem, "after reclaim", v);
}

/* Control: without migration, the written pages survive reclaim. */
static void swapcache_reclaim(const char *name, struct mmt_verdict *v)
{
	char *mem = setup_swapcache(name, v);

	if (!mem)
		return;
	if (mmt_ok(v))
		reclaim_swapcache(mem, v);
	munmap(mem, NR_TEST * pagesize);
}

/*
 * Migration collects the PTEs of pages in the swap cache and cannot move
 * them: it puts them back.  (A kernel that copied the pages on the write
 * fault migrates the copies, and the data comes back from the device.)
 */
static void swapcache_migrate_fails(const char *name, struct mmt_verdict *v)
{
	char *mem = setup_swapcache(name, v);
	size_t moved;

	if (!mem)
		return;
	if (mmt_ok(v)) {
		moved = migrate_to_device(name, mem, v);
		if (mmt_ok(v) && moved)
			mmt_skip(v, "%zu of %d swap-cache pages moved to the device",
				 moved, NR_TEST);
	}
	if (mmt_ok(v))
		reclaim_swapcache(mem, v);
	munmap(mem, NR_TEST * pagesize);
}

/* ---------------------------------------------------------------------- */

struct test_case {
	const char *name;
	void (*run)(const char *name, struct mmt_verdict *v);
	bool device;	/* needs the test_hmm device */
	bool pfns;	/* needs PFNs in the pagemap and kpageflags */
};

static const struct test_case cases[] = {
	{ "lazyfree_reclaim", lazyfree_reclaim, false, false },
	{ "lazyfree_migrate_fails", lazyfree_migrate_fails, true, false },
	{ "lazyfree_migrated_read", lazyfree_migrated_read, true, false },
	{ "lazyfree_migrated_reclaim", lazyfree_migrated_reclaim, true,
	  false },
	{ "swapcache_reclaim", swapcache_reclaim, false, true },
	{ "swapcache_migrate_fails", swapcache_migrate_fails, true, true },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Stay on one CPU: pages that migration or MADV_FREE leave in this CPU's
 * LRU pagevecs are drained by the lru_add_drain() of MADV_PAGEOUT.
 */
static void stay_on_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		ksft_print_msg("sched_setaffinity: %s\n", strerror(errno));
}

/* Whether the pagemap shows PFNs (we have CAP_SYS_ADMIN) and kpageflags. */
static bool pfns_visible(void)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pfn, flags;
	bool visible;

	if (p == MAP_FAILED)
		return false;
	memset(p, NEW, pagesize);
	visible = page_flags_at(p, &pfn, &flags);
	munmap(p, pagesize);
	return visible;
}

int main(void)
{
	bool pfns = pfns_visible();
	int dev_errno = 0;
	size_t i;

	ksft_print_header();
	stay_on_this_cpu();
	dmirror_fd = open(DMIRROR_PATH, O_RDWR);
	if (dmirror_fd < 0)
		dev_errno = errno;
	mmt_plan(ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mmt_verdict v = { .res = MMT_PASS };

		if (cases[i].device && dmirror_fd < 0)
			mmt_skip(&v, "%s: %s (CONFIG_TEST_HMM)", DMIRROR_PATH,
				 strerror(dev_errno));
		else if (cases[i].pfns && !pfns)
			mmt_skip(&v, "no PFNs in the pagemap or no kpageflags");
		else
			cases[i].run(cases[i].name, &v);
		mmt_report(cases[i].name, v.res, NULL, "%s", v.why);
	}
	if (dmirror_fd >= 0)
		close(dmirror_fd);
	return mmt_exit();
}
