// SPDX-License-Identifier: GPL-2.0
/*
 * Exclusive anonymous pages.  A page that only this process maps must be
 * known as such: a write to it reuses it, so every long-term pin (gup_test,
 * io_uring fixed buffers) keeps seeing what the process maps, through fork,
 * swap, mprotect(), soft-dirty tracking, KSM and migration.  A page that
 * fork() shared must be copied before either side writes to it, whoever
 * else holds a reference to it (vmsplice).
 *
 * The exclusive state itself is read from /proc/kpageflags: the kernel
 * keeps it in the page flag it exports as KPF_MAPPEDTODISK, a flag that
 * anonymous pages do not carry otherwise.
 *
 * Each case is named <kind>.<case>.  A kind is a way of mapping anonymous
 * memory (kinds[]), a case is one behaviour (add_cases()).  Every case sets
 * its kind up afresh; a kind that cannot be set up here makes its cases
 * SKIP, and a case that does not apply to a kind is not reported for it.
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
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#define HUGETLB_SIZE	(2UL << 20)

#define OLD	0x5a	/* the content before the case acts */
#define NEW	0xa5	/* what the parent writes */
#define CHILD	0x3c	/* what the child writes */
#define CONTROL	0x69	/* pages that only show KSM at work */

/*
 * PageAnonExclusive lives in PG_mappedtodisk, which kpageflags exports
 * raw and per page (fs/proc/page.c): the bit of a tail page is that tail
 * page's own.
 */
#define KPF_ANON_EXCLUSIVE	KPF_MAPPEDTODISK
#define KPF(bit)		(1ULL << (bit))

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define KSM_DEADLINE	60	/* seconds ksmd gets for the scans we need */
#define MAX_NODES	64

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int gup_fd = -1;
static bool pfns_visible;	/* pagemap shows PFNs: we have CAP_SYS_ADMIN */

/* ---------------------------------------------------------------------- */
/* Memory, page frames and page flags */

/* Where read_pages() puts what it reads, so that the reads happen. */
char read_sink;

/* Fault in every page for reading (swap-in of a swapped page). */
static void read_pages(const char *mem, size_t size)
{
	const char *p;

	for (p = mem; p < mem + size; p += pagesize)
		read_sink ^= *p;
}

/* The PFNs of [mem, mem + size), all present; NULL (and why) otherwise. */
static uint64_t *pfns_of(const char *mem, size_t size, const char *when,
			 struct mmt_verdict *v)
{
	size_t i, n = size / pagesize;
	uint64_t *pfns = calloc(n, sizeof(*pfns));

	if (!pfns || !pagemap_read(mem, n, pfns)) {
		mmt_fail(v, "%s: cannot read the pagemap", when);
		free(pfns);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (!(pfns[i] & PM_PRESENT)) {
			mmt_fail(v, "%s: page %zu is not present", when, i);
			free(pfns);
			return NULL;
		}
		pfns[i] &= PM_PFN_MASK;
	}
	return pfns;
}

/* How many pages of [mem, mem + size) are not @old[] any more. */
static size_t pfns_changed(const uint64_t *old, const char *mem,
			   size_t size, struct mmt_verdict *v)
{
	size_t i, n = size / pagesize, changed = 0;
	uint64_t *now = pfns_of(mem, size, "re-reading the PFNs", v);

	if (!now)
		return n;
	for (i = 0; i < n; i++)
		changed += now[i] != old[i];
	free(now);
	return changed;
}

/*
 * Check that the pages of [mem, mem + size) are all exclusive (@want) or
 * all not.  Of a hugetlb page, and of a THP while a PMD maps it, only the
 * head tells: the bits of its tails mean nothing then.
 */
static void expect_exclusive(const char *mem, size_t size, bool want,
			     const char *when, struct mmt_verdict *v)
{
	bool pmd_mapped = smaps_kb(mem, "AnonHugePages") > 0;
	size_t i, n = size / pagesize, checked = 0, bad = 0, first = 0;
	uint64_t *pfns = pfns_of(mem, size, when, v);
	uint64_t flags;

	if (!pfns)
		return;
	for (i = 0; i < n; i++) {
		if (!kpageflags_read(pfns[i], &flags)) {
			mmt_fail(v, "%s: cannot read kpageflags", when);
			break;
		}
		if (!(flags & KPF(KPF_ANON))) {
			mmt_fail(v, "%s: page %zu is not anonymous", when, i);
			break;
		}
		if (((flags & KPF(KPF_HUGE)) ||
		     ((flags & KPF(KPF_THP)) && pmd_mapped)) &&
		    !(flags & KPF(KPF_COMPOUND_HEAD)))
			continue;
		checked++;
		if (!!(flags & KPF(KPF_ANON_EXCLUSIVE)) != want && !bad++)
			first = i;
	}
	if (bad)
		mmt_fail(v, "%s: %zu of %zu pages %s exclusive (first: page %zu)",
			 when, bad, checked, want ? "not" : "still", first);
	free(pfns);
}

/*
 * A clear bit proves something only if the kernel sets it where it must:
 * on a page this process has just written.
 */
static void expect_exclusive_marking(struct mmt_verdict *v)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	memset(p, NEW, pagesize);
	expect_exclusive(p, pagesize, true, "a freshly written control page",
			 v);
	munmap(p, pagesize);
}

/* Whether every page of [mem, mem + size) is part of a THP. */
static void expect_thp_pages(const char *mem, size_t size, struct mmt_verdict *v)
{
	size_t i, n = size / pagesize;
	uint64_t *pfns = pfns_of(mem, size, "THP set-up", v);
	uint64_t flags;

	if (!pfns)
		return;
	for (i = 0; i < n; i++) {
		if (!kpageflags_read(pfns[i], &flags) ||
		    !(flags & KPF(KPF_THP))) {
			mmt_fail(v, "page %zu is no longer part of a THP", i);
			break;
		}
	}
	free(pfns);
}

static bool clear_soft_dirty(struct mmt_verdict *v)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool done;

	if (fd < 0) {
		mmt_fail(v, "/proc/self/clear_refs: %s", strerror(errno));
		return false;
	}
	done = write(fd, "4", 1) == 1;
	if (!done)
		mmt_fail(v, "clearing the soft-dirty bits: %s", strerror(errno));
	close(fd);
	return done;
}

/* ---------------------------------------------------------------------- */
/* Kinds of anonymous memory */

/*
 * What a kind sets up: the pages a case works on and what has to be
 * unmapped afterwards.
 */
struct region {
	unsigned int flags;	/* K_* of the kind */
	char *mem;
	size_t size;
	/* The part of the same THP that fork() does not share, if any. */
	char *unshared;
	size_t unshared_size;
	struct {
		void *addr;
		size_t size;
	} maps[2];
};

#define K_SWAPPED	0x1	/* starts out swapped out */
#define K_HUGETLB	0x2
#define K_KSM		0x4	/* the kind KSM cases run on */
#define K_PFNS		0x8	/* set-up checks need PFNs and page flags */
#define K_ONE_PAGE	0x10	/* the region is a single page */

struct kind {
	const char *name;
	unsigned int flags;	/* K_* */
	void (*setup)(struct region *r, struct mmt_verdict *v);
};

static void region_add(struct region *r, void *addr, size_t size)
{
	int i = r->maps[0].addr ? 1 : 0;

	r->maps[i].addr = addr;
	r->maps[i].size = size;
}

static void region_unmap(struct region *r)
{
	int i;

	for (i = 0; i < 2; i++)
		if (r->maps[i].addr)
			munmap(r->maps[i].addr, r->maps[i].size);
}

/* One 4 KiB page, written. */
static void setup_base_page(struct region *r, struct mmt_verdict *v)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	region_add(r, p, pagesize);
	memset(p, OLD, pagesize);
	r->mem = p;
	r->size = pagesize;
}

/*
 * A written base page, paged out: the case swaps it in by its first access.
 * The program runs on one CPU, so that the page has left the LRU pagevec
 * of the CPU that faulted it in (MADV_PAGEOUT drains the local one) and can
 * be reclaimed.
 */
static void setup_swapped_page(struct region *r, struct mmt_verdict *v)
{
	int tries;

	if (!swap_available()) {
		mmt_skip(v, "no swap space");
		return;
	}
	setup_base_page(r, v);
	for (tries = 0; mmt_ok(v) && tries < 3 && !pagemap_swapped(r->mem);
	     tries++)
		if (madvise(r->mem, r->size, MADV_PAGEOUT))
			mmt_fail(v, "MADV_PAGEOUT: %s", strerror(errno));
	if (mmt_ok(v) && !pagemap_swapped(r->mem))
		mmt_fail(v, "MADV_PAGEOUT did not swap the page out");
}

/*
 * A swapped-out base page read back into the swap cache, but not mapped:
 * MADV_WILLNEED reads it ahead.  The fault that maps it then finds it in
 * the swap cache, where only the swap PTE can tell that it was exclusive
 * (a zram page that is faulted in directly bypasses the swap cache).
 */
static void setup_swapcache_page(struct region *r, struct mmt_verdict *v)
{
	setup_swapped_page(r, v);
	if (!mmt_ok(v))
		return;
	if (madvise(r->mem, r->size, MADV_WILLNEED))
		mmt_fail(v, "MADV_WILLNEED: %s", strerror(errno));
	else if (!pagemap_swapped(r->mem))
		mmt_fail(v, "MADV_WILLNEED mapped the page");
}

/* A written THP, mapped by a PMD. */
static void setup_thp(struct region *r, struct mmt_verdict *v)
{
	size_t size = thp_pmd_size();
	char *p;

	if (!size) {
		mmt_skip(v, "THP is not available");
		return;
	}
	p = mmap_aligned(size, size);
	if (!p) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	region_add(r, p, size);
	if (madvise(p, size, MADV_HUGEPAGE)) {
		mmt_skip(v, "MADV_HUGEPAGE: %s", strerror(errno));
		return;
	}
	memset(p, OLD, size);
	if (!range_is_thp(p, size)) {
		mmt_skip(v, "could not get a THP");
		return;
	}
	r->mem = p;
	r->size = size;
}

/*
 * The same THP mapped by PTEs: changing the protection of one subpage
 * splits the PMD, not the compound page; changing it back leaves the
 * PTEs.
 */
static void setup_pte_thp(struct region *r, struct mmt_verdict *v)
{
	char *sub;

	setup_thp(r, v);
	if (!mmt_ok(v))
		return;
	sub = r->mem + pagesize;
	if (mprotect(sub, pagesize, PROT_READ) ||
	    mprotect(sub, pagesize, PROT_READ | PROT_WRITE)) {
		mmt_fail(v, "mprotect: %s", strerror(errno));
		return;
	}
	if (smaps_kb(r->mem, "AnonHugePages") != 0)
		mmt_fail(v, "a PMD still maps the THP");
	expect_thp_pages(r->mem, r->size, v);
}

/* Of a PTE-mapped THP, only the first subpage stays mapped. */
static void setup_single_pte_thp(struct region *r, struct mmt_verdict *v)
{
	setup_pte_thp(r, v);
	if (!mmt_ok(v))
		return;
	if (madvise(r->mem + pagesize, r->size - pagesize, MADV_DONTNEED)) {
		mmt_fail(v, "MADV_DONTNEED: %s", strerror(errno));
		return;
	}
	r->size = pagesize;
	expect_thp_pages(r->mem, r->size, v);
}

/*
 * The second half of a THP moved by mremap() to the start of a PMD-sized
 * slot elsewhere; the first half stays where it was.  The cases work on
 * the moved half: PTEs of a THP whose other subpages are mapped at an
 * unrelated address of the same process.
 */
static void setup_mremap_thp(struct region *r, struct mmt_verdict *v)
{
	size_t half;
	char *area, *dst;

	setup_thp(r, v);
	if (!mmt_ok(v))
		return;
	half = r->size / 2;
	area = mmap(NULL, 2 * r->size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	region_add(r, area, 2 * r->size);
	dst = (char *)(((uintptr_t)area + r->size - 1) & ~(r->size - 1));
	if (mremap(r->mem + half, half, half, MREMAP_MAYMOVE | MREMAP_FIXED,
		   dst) == MAP_FAILED) {
		mmt_fail(v, "mremap: %s", strerror(errno));
		return;
	}
	r->maps[0].size = half;
	r->mem = dst;
	r->size = half;
	if (smaps_kb(dst, "AnonHugePages") != 0)
		mmt_fail(v, "a PMD maps the moved half");
	expect_thp_pages(r->mem, r->size, v);
}

/*
 * A THP whose second half is MADV_DONTFORK: fork() shares only the first
 * half, which the cases work on.  Splitting the vma also leaves the THP
 * mapped by PTEs.
 */
static void setup_shared_thp(struct region *r, struct mmt_verdict *v)
{
	size_t half;

	setup_thp(r, v);
	if (!mmt_ok(v))
		return;
	half = r->size / 2;
	if (madvise(r->mem + half, half, MADV_DONTFORK)) {
		mmt_fail(v, "MADV_DONTFORK: %s", strerror(errno));
		return;
	}
	r->unshared = r->mem + half;
	r->unshared_size = half;
	r->size = half;
	expect_thp_pages(r->mem, 2 * half, v);
}

/* A written 2 MiB hugetlb page. */
static void setup_hugetlb(struct region *r, struct mmt_verdict *v)
{
	char *p = mmap(NULL, HUGETLB_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		       MAP_HUGE_2MB, -1, 0);

	if (p == MAP_FAILED) {
		mmt_skip(v, "no free 2 MiB hugetlb page: %s", strerror(errno));
		return;
	}
	region_add(r, p, HUGETLB_SIZE);
	memset(p, OLD, HUGETLB_SIZE);
	r->mem = p;
	r->size = HUGETLB_SIZE;
}

static const struct kind kinds[] = {
	{ "base_page", K_KSM | K_ONE_PAGE, setup_base_page },
	{ "swapped_page", K_SWAPPED | K_ONE_PAGE, setup_swapped_page },
	{ "swapcache_page", K_SWAPPED | K_ONE_PAGE, setup_swapcache_page },
	{ "thp", 0, setup_thp },
	{ "pte_thp", K_PFNS, setup_pte_thp },
	{ "single_pte_thp", K_PFNS | K_ONE_PAGE, setup_single_pte_thp },
	{ "mremap_thp", K_PFNS, setup_mremap_thp },
	{ "shared_thp", K_PFNS, setup_shared_thp },
	{ "hugetlb", K_HUGETLB, setup_hugetlb },
};

/* ---------------------------------------------------------------------- */
/* A child that shares the memory */

enum child_step {
	STEP_NONE,
	STEP_EXPECT_OLD,	/* sees only what was there before fork */
	STEP_WRITE,		/* writes CHILD and reads it back */
	STEP_MPROTECT_WRITE,	/* R/O and back to R/W, then STEP_WRITE */
	STEP_VMSPLICE,		/* vmsplices the memory, then unmaps it */
};

/* Exit codes of the child */
#define CHILD_OK	0
#define CHILD_DATA	1	/* it saw data that is not its own */
#define CHILD_ERROR	2	/* a system call failed */

struct child {
	pid_t pid;
	int go;		/* parent -> child: do the second step and exit */
	int ready;	/* child -> parent: first step done, its result */
	int first;	/* result of the first step */
};

/* vmsplice() all of [mem, mem + size) into the pipe @fd. */
static bool splice_all(int fd, char *mem, size_t size)
{
	struct iovec iov = { .iov_base = mem, .iov_len = size };
	ssize_t n;

	while (iov.iov_len) {
		n = vmsplice(fd, &iov, 1, 0);
		if (n <= 0)
			return false;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= n;
	}
	return true;
}

static int child_write(char *mem, size_t size)
{
	memset(mem, CHILD, size);
	return mmt_all_bytes(mem, size, CHILD) ? CHILD_OK : CHILD_DATA;
}

static int child_step(enum child_step step, char *mem, size_t size,
		      int pipe_wr)
{
	switch (step) {
	case STEP_NONE:
		return CHILD_OK;
	case STEP_EXPECT_OLD:
		return mmt_all_bytes(mem, size, OLD) ? CHILD_OK : CHILD_DATA;
	case STEP_MPROTECT_WRITE:
		if (mprotect(mem, size, PROT_READ) ||
		    mprotect(mem, size, PROT_READ | PROT_WRITE))
			return CHILD_ERROR;
		return child_write(mem, size);
	case STEP_WRITE:
		return child_write(mem, size);
	case STEP_VMSPLICE:
		if (!splice_all(pipe_wr, mem, size) || munmap(mem, size))
			return CHILD_ERROR;
		return CHILD_OK;
	}
	return CHILD_ERROR;
}

/*
 * Fork a child that does @first, reports, waits for child_finish() and
 * then does @second.  Returns once @first is done; false (and why) if the
 * child could not be started.
 */
static bool child_start(struct child *c, char *mem, size_t size,
			enum child_step first, enum child_step second,
			int pipe_wr, struct mmt_verdict *v)
{
	int to_child[2], to_parent[2];
	char b;

	if (pipe(to_child)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		return false;
	}
	if (pipe(to_parent)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		close(to_child[0]);
		close(to_child[1]);
		return false;
	}
	c->pid = fork();
	if (!c->pid) {
		int ret;

		close(to_child[1]);
		close(to_parent[0]);
		ret = child_step(first, mem, size, pipe_wr);
		b = ret;
		if (write(to_parent[1], &b, 1) != 1 ||
		    read(to_child[0], &b, 1) != 1)
			_exit(CHILD_ERROR);
		if (ret == CHILD_OK)
			ret = child_step(second, mem, size, pipe_wr);
		_exit(ret);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (c->pid < 0) {
		mmt_fail(v, "fork: %s", strerror(errno));
		close(to_child[1]);
		close(to_parent[0]);
		return false;
	}
	c->go = to_child[1];
	c->ready = to_parent[0];
	c->first = CHILD_ERROR;
	if (read(c->ready, &b, 1) == 1)
		c->first = b;
	return true;
}

/* Let the child do its second step and reap it; fails @v if it failed. */
static void child_finish(struct child *c, struct mmt_verdict *v)
{
	char b = 0;
	int status;

	if (write(c->go, &b, 1) != 1)
		mmt_fail(v, "lost the child");
	close(c->go);
	close(c->ready);
	if (waitpid(c->pid, &status, 0) != c->pid) {
		mmt_fail(v, "waitpid: %s", strerror(errno));
		return;
	}
	if (WIFSIGNALED(status))
		mmt_fail(v, "the child died of signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status) == CHILD_DATA)
		mmt_fail(v, "the child saw data that is not its own");
	else if (WEXITSTATUS(status))
		mmt_fail(v, "a system call failed in the child");
}

/* ---------------------------------------------------------------------- */
/* Long-term pins: gup_test and io_uring fixed buffers */

struct pin {
	const char *name;
	bool iouring;
	unsigned int flags;	/* PIN_LONGTERM_TEST_FLAG_*, for gup_test */
};

static const struct pin pins[] = {
	{ "rw_pin", false, PIN_LONGTERM_TEST_FLAG_USE_WRITE },
	{ "rw_pin_fast", false, PIN_LONGTERM_TEST_FLAG_USE_WRITE |
				PIN_LONGTERM_TEST_FLAG_USE_FAST },
	{ "iouring", true, 0 },
};

static const struct pin ro_pin = { "ro_pin", false, 0 };
static const struct pin ro_pin_fast = {
	"ro_pin_fast", false, PIN_LONGTERM_TEST_FLAG_USE_FAST
};

/*
 * An io_uring instance with the pinned range as its one fixed buffer; the
 * pin is "read" by writing the buffer to a memfd with IORING_OP_WRITE_FIXED
 * and reading the file back.  Raw system calls: liburing may be missing.
 */
static struct ring {
	int fd;
	int file;
	char *buf;
	void *sq_map, *cq_map;
	size_t sq_map_size, cq_map_size;
	struct io_uring_sqe *sqes;
	size_t sqes_size;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
} ring = { .fd = -1, .file = -1 };

static void ring_exit(void)
{
	if (ring.sqes)
		munmap(ring.sqes, ring.sqes_size);
	if (ring.cq_map && ring.cq_map != ring.sq_map)
		munmap(ring.cq_map, ring.cq_map_size);
	if (ring.sq_map)
		munmap(ring.sq_map, ring.sq_map_size);
	if (ring.fd >= 0)
		close(ring.fd);
	if (ring.file >= 0)
		close(ring.file);
	memset(&ring, 0, sizeof(ring));
	ring.fd = -1;
	ring.file = -1;
}

static void *ring_map(size_t size, off_t off)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, ring.fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static bool ring_init(struct mmt_verdict *v)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	ring.fd = syscall(__NR_io_uring_setup, 4, &p);
	if (ring.fd < 0) {
		/* No io_uring here: not what this program tests. */
		mmt_skip(v, "io_uring_setup: %s", strerror(errno));
		return false;
	}
	ring.sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	ring.cq_map_size = p.cq_off.cqes +
			   p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (ring.cq_map_size > ring.sq_map_size)
			ring.sq_map_size = ring.cq_map_size;
		ring.sq_map = ring_map(ring.sq_map_size, IORING_OFF_SQ_RING);
		ring.cq_map = ring.sq_map;
	} else {
		ring.sq_map = ring_map(ring.sq_map_size, IORING_OFF_SQ_RING);
		ring.cq_map = ring_map(ring.cq_map_size, IORING_OFF_CQ_RING);
	}
	ring.sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
	ring.sqes = ring_map(ring.sqes_size, IORING_OFF_SQES);
	if (!ring.sq_map || !ring.cq_map || !ring.sqes) {
		mmt_fail(v, "mapping the io_uring rings: %s", strerror(errno));
		return false;
	}
	sq = ring.sq_map;
	cq = ring.cq_map;
	ring.sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	ring.sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	ring.sq_array = (unsigned int *)(sq + p.sq_off.array);
	ring.cq_head = (unsigned int *)(cq + p.cq_off.head);
	ring.cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	ring.cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	ring.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	ring.file = memfd_create("anon_exclusive", 0);
	if (ring.file < 0) {
		mmt_fail(v, "memfd_create: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Write @len bytes of the fixed buffer from @off to the file at @off. */
static int ring_write_fixed(size_t off, size_t len, struct mmt_verdict *v)
{
	unsigned int tail = *ring.sq_tail, head;
	unsigned int idx = tail & *ring.sq_mask;
	struct io_uring_sqe *sqe = &ring.sqes[idx];
	struct io_uring_cqe *cqe;
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_WRITE_FIXED;
	sqe->fd = ring.file;
	sqe->off = off;
	sqe->addr = (uintptr_t)(ring.buf + off);
	sqe->len = len;
	sqe->buf_index = 0;
	ring.sq_array[idx] = idx;
	__atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring.fd, 1, 1,
		    IORING_ENTER_GETEVENTS, NULL, 0) != 1) {
		mmt_fail(v, "io_uring_enter: %s", strerror(errno));
		return -1;
	}
	head = *ring.cq_head;
	if (head == __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE)) {
		mmt_fail(v, "io_uring: no completion");
		return -1;
	}
	cqe = &ring.cqes[head & *ring.cq_mask];
	res = cqe->res;
	__atomic_store_n(ring.cq_head, head + 1, __ATOMIC_RELEASE);
	if (res <= 0) {
		mmt_fail(v, "IORING_OP_WRITE_FIXED: %s",
			 res ? strerror(-res) : "wrote nothing");
		return -1;
	}
	return res;
}

static bool pin_start(const struct pin *p, char *mem, size_t size,
		      struct mmt_verdict *v)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = size, .flags = p->flags,
	};
	struct iovec iov = { .iov_base = mem, .iov_len = size };

	if (!p->iouring) {
		if (gup_fd < 0) {
			mmt_skip(v, "no %s", GUP_TEST_PATH);
			return false;
		}
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			mmt_fail(v, "PIN_LONGTERM_TEST_START: %s",
				 strerror(errno));
			return false;
		}
		return true;
	}
	if (!ring_init(v)) {
		ring_exit();
		return false;
	}
	if (syscall(__NR_io_uring_register, ring.fd, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		mmt_fail(v, "IORING_REGISTER_BUFFERS: %s", strerror(errno));
		ring_exit();
		return false;
	}
	ring.buf = mem;
	return true;
}

static void pin_stop(const struct pin *p)
{
	if (!p->iouring) {
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
		return;
	}
	syscall(__NR_io_uring_register, ring.fd, IORING_UNREGISTER_BUFFERS,
		NULL, 0);
	ring_exit();
}

/* Copy what the pinned pages hold to @buf. */
static bool pin_read(const struct pin *p, char *buf, size_t size,
		     struct mmt_verdict *v)
{
	uint64_t dst = (uintptr_t)buf;
	size_t done;
	int n;

	if (!p->iouring) {
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst)) {
			mmt_fail(v, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
			return false;
		}
		return true;
	}
	for (done = 0; done < size; done += n) {
		n = ring_write_fixed(done, size - done, v);
		if (n < 0)
			return false;
	}
	if (pread(ring.file, buf, size, 0) != (ssize_t)size) {
		mmt_fail(v, "reading back the io_uring write: %s",
			 strerror(errno));
		return false;
	}
	return true;
}

/* Does the pin see what [mem, mem + size) holds now? */
static void expect_pin_sees(const struct pin *p, const char *mem,
			    size_t size, struct mmt_verdict *v)
{
	char *buf = malloc(size);

	if (!buf) {
		mmt_fail(v, "out of memory");
		return;
	}
	if (pin_read(p, buf, size, v) && memcmp(buf, mem, size))
		mmt_fail(v, "the pin does not see what the parent maps");
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* KSM */

static struct {
	bool saved;
	unsigned long run, pages_to_scan, sleep_millisecs;
} ksm_old;

static bool ksm_read(const char *knob, unsigned long *val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob);
	return sysfs_read_ulong(path, val);
}

static bool ksm_write(const char *knob, unsigned long val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob);
	return sysfs_write_ulong(path, val);
}

/* Start ksmd scanning as fast as it can. */
static bool ksm_start(struct mmt_verdict *v)
{
	if (access(KSM_DIR "run", F_OK)) {
		mmt_skip(v, "no KSM");
		return false;
	}
	if (!ksm_old.saved) {
		if (!ksm_read("run", &ksm_old.run) ||
		    !ksm_read("pages_to_scan", &ksm_old.pages_to_scan) ||
		    !ksm_read("sleep_millisecs", &ksm_old.sleep_millisecs)) {
			mmt_fail(v, "cannot read the KSM settings");
			return false;
		}
		ksm_old.saved = true;
	}
	if (!ksm_write("pages_to_scan", 10000) ||
	    !ksm_write("sleep_millisecs", 0) || !ksm_write("run", 1)) {
		mmt_fail(v, "cannot start ksmd: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Put the KSM settings back; ksmd stops burning a CPU on our pages. */
static void ksm_stop(void)
{
	if (!ksm_old.saved)
		return;
	ksm_write("run", ksm_old.run);
	ksm_write("sleep_millisecs", ksm_old.sleep_millisecs);
	ksm_write("pages_to_scan", ksm_old.pages_to_scan);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether the two pages at @pages[0] and @pages[1] are one KSM page. */
static bool ksm_merged(char **pages)
{
	uint64_t pfn, flags;

	if (!page_flags_at(pages[0], &pfn, &flags))
		return false;
	return (flags & KPF(KPF_KSM)) && pagemap_pfn(pages[1]) == pfn;
}

/*
 * Let ksmd work until @pages (if not NULL) are merged, or until @scans
 * more full scans than @start have ended.  1: merged; 0: the scans ended
 * first; -1: ksmd did not get that far within KSM_DEADLINE seconds, or its
 * counter cannot be read.
 */
static int ksm_wait(unsigned long start, unsigned long scans, char **pages)
{
	struct timespec tick = { 0, 1000000 };
	double deadline = now() + KSM_DEADLINE;
	unsigned long done;

	for (;;) {
		if (pages && ksm_merged(pages))
			return 1;
		if (!ksm_read("full_scans", &done))
			return -1;
		if (done >= start + scans)
			return pages && ksm_merged(pages);
		if (now() > deadline)
			return -1;
		nanosleep(&tick, NULL);
	}
}

/* MADV_MERGEABLE on @n pages at @p; false (and why) if refused. */
static bool ksm_mergeable(char *p, int n, struct mmt_verdict *v)
{
	if (madvise(p, n * pagesize, MADV_MERGEABLE)) {
		mmt_fail(v, "MADV_MERGEABLE: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * Wait until the two pages at @pages[0] and @pages[1] are merged.  A new
 * mm joins ksmd's list behind its cursor, the first scan that reaches a
 * page only takes its checksum and the second merges it: four full scans
 * are plenty.
 */
static bool ksm_wait_merged(char **pages, struct mmt_verdict *v)
{
	unsigned long start;
	int ret;

	if (!ksm_read("full_scans", &start)) {
		mmt_fail(v, "cannot read " KSM_DIR "full_scans");
		return false;
	}
	ret = ksm_wait(start, 4, pages);
	if (ret < 0)
		mmt_fail(v, "no KSM scan progress in %d s", KSM_DEADLINE);
	else if (!ret)
		mmt_fail(v, "two identical pages not merged after 4 full scans");
	return ret > 0;
}

/* @n written pages of content @val, besides the kind's; NULL on error. */
static char *ksm_pages(int n, char val, struct mmt_verdict *v)
{
	char *p = mmap(NULL, n * pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return NULL;
	}
	memset(p, val, n * pagesize);
	return p;
}

/* ---------------------------------------------------------------------- */
/* NUMA */

/* The nodes that have memory, from the sysfs list ("0-1", "0,2-3"). */
static int memory_nodes(int *nodes, int max)
{
	char buf[256], *s = buf, *end;
	long lo, hi;
	int n = 0;
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	while (*s >= '0' && *s <= '9') {
		lo = strtol(s, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi && n < max; lo++)
			nodes[n++] = lo;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static long move_pages(int count, void **pages, const int *nodes,
		       int *status, int flags)
{
	return syscall(__NR_move_pages, 0, count, pages, nodes, status,
		       flags);
}

/* ---------------------------------------------------------------------- */
/* The cases */

struct test_case {
	char name[48];
	void (*run)(const struct test_case *c, struct region *r,
		    struct mmt_verdict *v);
	int arg;
	const struct pin *pin;
	unsigned int only;	/* K_* the kind must have, if not 0 */
	unsigned int never;	/* K_* for which the case does not apply */
	bool pfns;		/* needs PFNs and page flags */
};

/*
 * exclusive_bit_fresh: a page the process has just written (or, swapped
 * out, has just read back in) is exclusive.
 */
static void exclusive_fresh(const struct test_case *c, struct region *r,
			    struct mmt_verdict *v)
{
	read_pages(r->mem, r->size);
	expect_exclusive(r->mem, r->size, true, "fresh", v);
}

/*
 * exclusive_bit_fork: after fork() the parent's shared pages are not
 * exclusive; a part of the THP that fork did not share still is.  A
 * swapped page is forked as a swap entry and read back in afterwards.
 */
static void exclusive_fork(const struct test_case *c, struct region *r,
			   struct mmt_verdict *v)
{
	struct child child;

	if (r->flags & K_SWAPPED)
		expect_exclusive_marking(v);
	else
		expect_exclusive(r->mem, r->size, true, "before fork", v);
	if (!child_start(&child, r->mem, r->size, STEP_NONE,
			 STEP_EXPECT_OLD, -1, v))
		return;
	read_pages(r->mem, r->size);
	expect_exclusive(r->mem, r->size, false, "after fork", v);
	if (r->unshared)
		expect_exclusive(r->unshared, r->unshared_size, true,
				 "part not shared by fork", v);
	child_finish(&child, v);
}

/*
 * exclusive_bit_cow: after fork() the parent writes; the copies it gets
 * are exclusive.
 */
static void exclusive_cow(const struct test_case *c, struct region *r,
			  struct mmt_verdict *v)
{
	struct child child;

	if (!child_start(&child, r->mem, r->size, STEP_NONE,
			 STEP_EXPECT_OLD, -1, v))
		return;
	memset(r->mem, NEW, r->size);
	if (!mmt_all_bytes(r->mem, r->size, NEW))
		mmt_fail(v, "the parent lost its own write");
	expect_exclusive(r->mem, r->size, true, "after the parent's write",
			 v);
	child_finish(&child, v);
}

/*
 * pvm_write_after_cow: after fork() and the child's exit, the parent keeps
 * only the second page of the region (for a THP: a tail page, with the
 * head unmapped and still shared-looking), writes it (the write fault
 * reuses it: it becomes exclusive on its own), then writes it again
 * through process_vm_writev(), whose R/W pin is released with
 * unpin_user_pages_dirty_lock().  The write must be there, and the pin
 * must pass CONFIG_DEBUG_VM's check that a pinned anonymous page is
 * exclusive (a kernel splat otherwise): the check is about the page
 * pinned, not the head of its THP.
 */
static void pvm_write_after_cow(const struct test_case *c, struct region *r,
				struct mmt_verdict *v)
{
	char *page = r->mem + pagesize, val = (char)NEW;
	struct iovec local, remote;
	struct child child;

	if (!child_start(&child, page, pagesize, STEP_NONE, STEP_EXPECT_OLD,
			 -1, v))
		return;
	child_finish(&child, v);
	if (madvise(r->mem, pagesize, MADV_DONTNEED) ||
	    (r->size > 2 * pagesize &&
	     madvise(page + pagesize, r->size - 2 * pagesize, MADV_DONTNEED))) {
		mmt_fail(v, "MADV_DONTNEED: %s", strerror(errno));
		return;
	}
	memset(page, NEW, pagesize);
	local.iov_base = &val;
	local.iov_len = 1;
	remote.iov_base = page + 1;
	remote.iov_len = 1;
	if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != 1)
		mmt_fail(v, "process_vm_writev: %s", strerror(errno));
	else if (!mmt_all_bytes(page, pagesize, NEW))
		mmt_fail(v, "a write is missing");
}

#define COW_CHILD	0x1	/* the child writes, not the parent */
#define COW_MPROTECT	0x2	/* the writer first goes R/O and back */

/*
 * cow_{,mprotect_}{parent,child}_write: after fork() each side sees only
 * its own writes.
 */
static void cow(const struct test_case *c, struct region *r,
		struct mmt_verdict *v)
{
	bool mprot = c->arg & COW_MPROTECT;
	struct child child;

	if (c->arg & COW_CHILD) {
		if (!child_start(&child, r->mem, r->size,
				 mprot ? STEP_MPROTECT_WRITE : STEP_WRITE,
				 STEP_NONE, -1, v))
			return;
		if (child.first == CHILD_OK &&
		    !mmt_all_bytes(r->mem, r->size, OLD))
			mmt_fail(v, "the parent sees the child's write");
		child_finish(&child, v);
		return;
	}
	if (!child_start(&child, r->mem, r->size, STEP_NONE, STEP_EXPECT_OLD,
			 -1, v))
		return;
	if (mprot && (mprotect(r->mem, r->size, PROT_READ) ||
		      mprotect(r->mem, r->size, PROT_READ | PROT_WRITE))) {
		mmt_fail(v, "mprotect: %s", strerror(errno));
	} else {
		memset(r->mem, NEW, r->size);
		if (!mmt_all_bytes(r->mem, r->size, NEW))
			mmt_fail(v, "the parent lost its own write");
	}
	child_finish(&child, v);
}

enum pin_scenario {
	PIN_FORK,
	PIN_PAGEOUT,
	PIN_MPROTECT,
	PIN_SOFTDIRTY,
};

static const char *const pin_scenarios[] = {
	[PIN_FORK] = "fork",
	[PIN_PAGEOUT] = "pageout",
	[PIN_MPROTECT] = "mprotect",
	[PIN_SOFTDIRTY] = "softdirty",
};

/*
 * The parent writes NEW; the pin @p must see it, and the parent must still
 * map the page frames @pfns it had when it pinned them.
 */
static void write_and_expect_pinned(const struct pin *p, struct region *r,
				    const uint64_t *pfns, struct mmt_verdict *v)
{
	size_t moved;

	memset(r->mem, NEW, r->size);
	if (!mmt_all_bytes(r->mem, r->size, NEW))
		mmt_fail(v, "the parent lost its own write");
	expect_pin_sees(p, r->mem, r->size, v);
	moved = pfns_changed(pfns, r->mem, r->size, v);
	if (moved)
		mmt_fail(v, "%zu of %zu pages the parent maps are not the pinned ones",
			 moved, r->size / pagesize);
}

/*
 * ro_pin_after_fork, ro_pin_fast_after_fork: fork() shares the memory,
 * then the parent takes a read-only long-term pin and writes.  The pin
 * must unshare the pages first, so that it sees the parent's write and
 * the parent keeps mapping the pinned pages; the child keeps the old data.
 */
static void ro_pin_after_fork(const struct test_case *c, struct region *r,
			      struct mmt_verdict *v)
{
	struct child child;
	uint64_t *pfns;

	if (!child_start(&child, r->mem, r->size, STEP_NONE,
			 STEP_EXPECT_OLD, -1, v))
		return;
	if (pin_start(c->pin, r->mem, r->size, v)) {
		pfns = pfns_of(r->mem, r->size, "after pinning", v);
		if (pfns)
			write_and_expect_pinned(c->pin, r, pfns, v);
		free(pfns);
		pin_stop(c->pin);
	}
	child_finish(&child, v);
}

/*
 * <pin>_<scenario>: R/W long-term pin, then fork(), MADV_PAGEOUT,
 * mprotect() R/O and back, or clearing the soft-dirty bits; then the
 * parent writes.  The pin must see the write, the parent must still map
 * the pages it pinned, and a child must not see the write.
 */
static void pinned_write(const struct test_case *c, struct region *r,
			 struct mmt_verdict *v)
{
	struct child child;
	bool forked = false;
	uint64_t *pfns;

	if (!pin_start(c->pin, r->mem, r->size, v))
		return;
	pfns = pfns_of(r->mem, r->size, "after pinning", v);
	if (!pfns)
		goto out;
	switch (c->arg) {
	case PIN_FORK:
		forked = child_start(&child, r->mem, r->size, STEP_NONE,
				     STEP_EXPECT_OLD, -1, v);
		break;
	case PIN_PAGEOUT:
		/* A pinned page must stay; whether it does is the test. */
		if (madvise(r->mem, r->size, MADV_PAGEOUT))
			mmt_fail(v, "MADV_PAGEOUT: %s", strerror(errno));
		break;
	case PIN_MPROTECT:
		if (mprotect(r->mem, r->size, PROT_READ) ||
		    mprotect(r->mem, r->size, PROT_READ | PROT_WRITE))
			mmt_fail(v, "mprotect: %s", strerror(errno));
		break;
	case PIN_SOFTDIRTY:
		clear_soft_dirty(v);
		break;
	}
	if (mmt_ok(v))
		write_and_expect_pinned(c->pin, r, pfns, v);
	if (forked)
		child_finish(&child, v);
	free(pfns);
out:
	pin_stop(c->pin);
}

#define VMSPLICE_PARENT	1	/* before fork, in the parent */

/* A pipe that takes @size bytes of vmspliced pages without blocking. */
static bool splice_pipe(int fds[2], size_t size, struct mmt_verdict *v)
{
	if (pipe(fds)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		return false;
	}
	if (fcntl(fds[1], F_SETPIPE_SZ, size < 65536 ? 65536 : size) < 0) {
		mmt_fail(v, "F_SETPIPE_SZ: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	return true;
}

/* The pipe must hold the data from before fork. */
static void expect_pipe_old(int fd, size_t size, struct mmt_verdict *v)
{
	char *buf = malloc(size);
	size_t done = 0;
	ssize_t n;

	if (!buf) {
		mmt_fail(v, "out of memory");
		return;
	}
	while (done < size) {
		n = read(fd, buf + done, size - done);
		if (n <= 0)
			break;
		done += n;
	}
	if (done < size)
		mmt_fail(v, "the pipe gave %zu of %zu bytes", done, size);
	else if (!mmt_all_bytes(buf, size, OLD))
		mmt_fail(v, "the pipe gives the write that came after vmsplice");
	free(buf);
}

/*
 * vmsplice_child: after fork() the child vmsplices the memory into a pipe
 * and unmaps it; then the parent writes.  vmsplice_parent: the parent
 * vmsplices before fork() and unmaps after; then the child writes.  The
 * pipe must give the data from before fork (CVE-2020-29374).
 */
static void vmsplice_case(const struct test_case *c, struct region *r,
			  struct mmt_verdict *v)
{
	struct child child;
	int fds[2];

	if (!splice_pipe(fds, r->size, v))
		return;
	if (c->arg == VMSPLICE_PARENT) {
		if (!splice_all(fds[1], r->mem, r->size)) {
			mmt_fail(v, "vmsplice: %s", strerror(errno));
			goto out;
		}
		if (!child_start(&child, r->mem, r->size, STEP_NONE,
				 STEP_WRITE, -1, v))
			goto out;
		if (munmap(r->mem, r->size))
			mmt_fail(v, "munmap: %s", strerror(errno));
		child_finish(&child, v);
	} else {
		if (!child_start(&child, r->mem, r->size, STEP_VMSPLICE,
				 STEP_NONE, fds[1], v))
			goto out;
		if (child.first != CHILD_OK) {
			mmt_fail(v, "vmsplice or munmap failed in the child");
		} else {
			memset(r->mem, NEW, r->size);
			if (!mmt_all_bytes(r->mem, r->size, NEW))
				mmt_fail(v, "the parent lost its own write");
		}
		child_finish(&child, v);
	}
	if (mmt_ok(v))
		expect_pipe_old(fds[0], r->size, v);
out:
	close(fds[0]);
	close(fds[1]);
}

/*
 * The KSM cases work on the base page and on pages of their own.  They
 * run for base_page only: KSM splits a THP before it merges its subpages
 * (so the THP kinds would repeat base_page), it never merges hugetlb pages
 * (MADV_MERGEABLE leaves hugetlb vmas alone) and it does not look at
 * swapped-out pages.
 */

/*
 * ksm_pinned_not_merged: a page with a R/O long-term pin stays out of KSM
 * though an identical page is mergeable too.  Two other identical pages,
 * of other content, show that ksmd did merge meanwhile.  (Had they the
 * pinned page's content, they could not merge: the unstable tree would
 * offer each of them the pinned page, which KSM refuses.)
 */
static void ksm_pinned(const struct test_case *c, struct region *r,
		       struct mmt_verdict *v)
{
	char *twin, *pair = NULL, *pages[2];
	uint64_t pfn, now_pfn, flags;
	unsigned long start;

	twin = ksm_pages(1, OLD, v);
	if (twin)
		pair = ksm_pages(2, CONTROL, v);
	if (!pair)
		goto out;
	pages[0] = pair;
	pages[1] = pair + pagesize;
	if (!ksm_start(v) || !pin_start(&ro_pin, r->mem, r->size, v))
		goto out;
	pfn = pagemap_pfn(r->mem);
	if (ksm_mergeable(r->mem, 1, v) && ksm_mergeable(twin, 1, v) &&
	    ksm_mergeable(pair, 2, v) && ksm_wait_merged(pages, v)) {
		/* The pinned page had as many chances; give it two more. */
		if (!ksm_read("full_scans", &start) ||
		    ksm_wait(start, 2, NULL) < 0)
			mmt_fail(v, "no KSM scan progress in %d s", KSM_DEADLINE);
		if (!page_flags_at(r->mem, &now_pfn, &flags))
			mmt_fail(v, "the pinned page is not present");
		else if (flags & KPF(KPF_KSM))
			mmt_fail(v, "the pinned page was merged");
		else if (now_pfn != pfn)
			mmt_fail(v, "the page mapped is not the pinned one");
		expect_pin_sees(&ro_pin, r->mem, r->size, v);
	}
	pin_stop(&ro_pin);
out:
	ksm_stop();
	if (twin)
		munmap(twin, pagesize);
	if (pair)
		munmap(pair, 2 * pagesize);
}

/*
 * ksm_merged_not_exclusive: the base page and an identical one, both
 * fresh and exclusive, merge into a KSM page, which is not exclusive.
 */
static void ksm_not_exclusive(const struct test_case *c, struct region *r,
			      struct mmt_verdict *v)
{
	char *twin, *pages[2];

	twin = ksm_pages(1, OLD, v);
	if (!twin)
		return;
	pages[0] = r->mem;
	pages[1] = twin;
	expect_exclusive(r->mem, pagesize, true, "before merging", v);
	expect_exclusive(twin, pagesize, true, "its twin before merging", v);
	if (ksm_start(v) && ksm_mergeable(r->mem, 1, v) &&
	    ksm_mergeable(twin, 1, v) && ksm_wait_merged(pages, v))
		expect_exclusive(r->mem, pagesize, false, "the KSM page", v);
	ksm_stop();
	munmap(twin, pagesize);
}

/*
 * ksm_unmerge: after MADV_UNMERGEABLE the base page and its merged twin
 * each have a page of their own again, with the data.
 */
static void ksm_unmerge(const struct test_case *c, struct region *r,
			struct mmt_verdict *v)
{
	uint64_t pfn[2], flags[2];
	char *twin, *pages[2];
	int i;

	twin = ksm_pages(1, OLD, v);
	if (!twin)
		return;
	pages[0] = r->mem;
	pages[1] = twin;
	if (!ksm_start(v) || !ksm_mergeable(r->mem, 1, v) ||
	    !ksm_mergeable(twin, 1, v) || !ksm_wait_merged(pages, v))
		goto out;
	for (i = 0; i < 2; i++) {
		if (madvise(pages[i], pagesize, MADV_UNMERGEABLE)) {
			mmt_fail(v, "MADV_UNMERGEABLE: %s", strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < 2; i++) {
		if (!page_flags_at(pages[i], &pfn[i], &flags[i])) {
			mmt_fail(v, "page %d is not present", i);
			goto out;
		}
		if (flags[i] & KPF(KPF_KSM))
			mmt_fail(v, "page %d is still a KSM page", i);
		if (!mmt_all_bytes(pages[i], pagesize, OLD))
			mmt_fail(v, "page %d lost its data", i);
	}
	if (pfn[0] == pfn[1])
		mmt_fail(v, "both pages still map the same page frame");
out:
	ksm_stop();
	munmap(twin, pagesize);
}

/*
 * migrate_keeps_exclusive: an exclusive page, mapped R/O, moved to another
 * NUMA node, is exclusive there: made R/W again, a write reuses it rather
 * than copying it.  Each kind's range lies in one page (base, THP or
 * hugetlb), so moving the page at its start moves all of it.
 */
static void migrate(const struct test_case *c, struct region *r,
		    struct mmt_verdict *v)
{
	int nodes[MAX_NODES], n, i, node, status;
	void *addr = r->mem;
	uint64_t *before, *after;
	size_t kept, copied, npages = r->size / pagesize;
	long ret;

	n = memory_nodes(nodes, MAX_NODES);
	if (n < 2) {
		mmt_skip(v, "only one NUMA node has memory");
		return;
	}
	read_pages(r->mem, r->size);
	before = pfns_of(r->mem, r->size, "before migration", v);
	if (!before)
		return;
	if (mprotect(r->mem, r->size, PROT_READ)) {
		mmt_fail(v, "mprotect: %s", strerror(errno));
		goto out;
	}
	ret = move_pages(1, &addr, NULL, &status, 0);
	if (ret || status < 0) {
		mmt_fail(v, "move_pages (query): %s",
			 strerror(ret ? errno : -status));
		goto out;
	}
	for (i = 0, node = -1; i < n && node < 0; i++)
		if (nodes[i] != status)
			node = nodes[i];
	ret = move_pages(1, &addr, &node, &status, MPOL_MF_MOVE);
	if (ret) {
		mmt_fail(v, "move_pages: %s", ret < 0 ? strerror(errno) :
			 "a page was not migrated");
		goto out;
	}
	if (status != node) {
		mmt_fail(v, "move_pages: page status %d (%s), wanted node %d",
			 status, status < 0 ? strerror(-status) : "node", node);
		goto out;
	}
	after = pfns_of(r->mem, r->size, "after migration", v);
	if (!after)
		goto out;
	kept = npages - pfns_changed(before, r->mem, r->size, v);
	if (kept)
		mmt_fail(v, "%zu of %zu pages kept their page frame", kept,
			 npages);
	if (!mmt_all_bytes(r->mem, r->size, OLD))
		mmt_fail(v, "the data changed in migration");
	expect_exclusive(r->mem, r->size, true, "after migration", v);
	if (mprotect(r->mem, r->size, PROT_READ | PROT_WRITE)) {
		mmt_fail(v, "mprotect: %s", strerror(errno));
	} else {
		memset(r->mem, NEW, r->size);
		copied = pfns_changed(after, r->mem, r->size, v);
		if (copied)
			mmt_fail(v, "the write copied %zu of %zu pages instead of reusing them",
				 copied, npages);
	}
	free(after);
out:
	free(before);
}

static struct test_case cases[32];
static size_t nr_cases;

static struct test_case *add_case(const char *name,
				  void (*run)(const struct test_case *,
					      struct region *,
					      struct mmt_verdict *),
				  int arg, bool pfns)
{
	struct test_case *c = &cases[nr_cases++];

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->run = run;
	c->arg = arg;
	c->pfns = pfns;
	return c;
}

static void add_cases(void)
{
	char name[48];
	size_t p, s;

	add_case("exclusive_bit_fresh", exclusive_fresh, 0, true);
	add_case("exclusive_bit_fork", exclusive_fork, 0, true);
	add_case("exclusive_bit_cow", exclusive_cow, 0, true);
	add_case("cow_parent_write", cow, 0, false);
	add_case("cow_child_write", cow, COW_CHILD, false);
	add_case("cow_mprotect_parent_write", cow, COW_MPROTECT, false);
	add_case("cow_mprotect_child_write", cow, COW_MPROTECT | COW_CHILD,
		 false);
	for (p = 0; p < ARRAY_SIZE(pins); p++) {
		for (s = 0; s < ARRAY_SIZE(pin_scenarios); s++) {
			struct test_case *c;

			snprintf(name, sizeof(name), "%s_%s", pins[p].name,
				 pin_scenarios[s]);
			c = add_case(name, pinned_write, s, true);
			c->pin = &pins[p];
			/* MADV_PAGEOUT refuses hugetlb vmas: EINVAL. */
			if (s == PIN_PAGEOUT)
				c->never = K_HUGETLB;
		}
	}
	add_case("ro_pin_after_fork", ro_pin_after_fork, 0, true)->pin =
		&ro_pin;
	add_case("ro_pin_fast_after_fork", ro_pin_after_fork, 0, true)->pin =
		&ro_pin_fast;
	/*
	 * It needs a second page; MADV_DONTNEED of one base page of a
	 * hugetlb page fails (EINVAL).
	 */
	add_case("pvm_write_after_cow", pvm_write_after_cow, 0,
		 false)->never = K_HUGETLB | K_ONE_PAGE;
	add_case("vmsplice_child", vmsplice_case, 0, false);
	add_case("vmsplice_parent", vmsplice_case, VMSPLICE_PARENT, false);
	/* base_page only: see the comment above ksm_pinned(). */
	add_case("ksm_pinned_not_merged", ksm_pinned, 0, true)->only = K_KSM;
	add_case("ksm_merged_not_exclusive", ksm_not_exclusive, 0,
		 true)->only = K_KSM;
	add_case("ksm_unmerge", ksm_unmerge, 0, true)->only = K_KSM;
	add_case("migrate_keeps_exclusive", migrate, 0, true);
}

static bool applies(const struct kind *k, const struct test_case *c)
{
	if (c->only && !(k->flags & c->only))
		return false;
	return !(k->flags & c->never);
}

/*
 * Set-ups that reclaim or the deferred split shrinker can undo behind the
 * test's back (a THP split, a page not swapped out) get this many tries;
 * a kernel that breaks them every time still fails.  Each retry is logged.
 */
#define SETUP_TRIES	3

static void run_case(const struct kind *k, const struct test_case *c)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	struct region r;
	char name[96];
	int tries;

	snprintf(name, sizeof(name), "%s.%s", k->name, c->name);
	for (tries = 1; ; tries++) {
		memset(&r, 0, sizeof(r));
		r.flags = k->flags;
		if (!pfns_visible && (c->pfns || (k->flags & K_PFNS))) {
			mmt_skip(&v, "PFNs and page flags need CAP_SYS_ADMIN");
			break;
		}
		k->setup(&r, &v);
		if (mmt_ok(&v) || tries == SETUP_TRIES)
			break;
		ksft_print_msg("%s: set-up try %d: %s\n", name, tries, v.why);
		region_unmap(&r);
		v.res = MMT_PASS;
		v.why[0] = '\0';
	}
	if (mmt_ok(&v))
		c->run(c, &r, &v);
	region_unmap(&r);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

/* Run on the CPU we started on (see setup_swapped_page()). */
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

int main(void)
{
	size_t k, c, n = 0;
	char *probe;

	ksft_print_header();
	stay_on_this_cpu();
	gup_fd = gup_test_open();
	if (gup_fd < 0)
		ksft_print_msg("%s: %s: gup_test pin cases skip\n",
			       GUP_TEST_PATH, strerror(errno));
	probe = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe != MAP_FAILED) {
		uint64_t pfn, flags;

		memset(probe, OLD, pagesize);
		pfns_visible = page_flags_at(probe, &pfn, &flags);
		munmap(probe, pagesize);
	}
	if (!pfns_visible)
		ksft_print_msg("no PFNs in pagemap or no kpageflags: most cases skip\n");

	add_cases();
	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (c = 0; c < nr_cases; c++)
			n += applies(&kinds[k], &cases[c]);
	mmt_plan(n);
	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (c = 0; c < nr_cases; c++)
			if (applies(&kinds[k], &cases[c]))
				run_case(&kinds[k], &cases[c]);
	ksm_stop();
	return mmt_exit();
}
