// SPDX-License-Identifier: GPL-2.0
/*
 * Device-exclusive access: test_hmm's device takes anonymous pages with
 * make_device_exclusive_range() (HMM_DMIRROR_EXCLUSIVE), and the CPU, fork,
 * reclaim, migration, mprotect and unmap take them back.
 *
 * cpu_*        the CPU reads or writes an exclusive page: the data is the
 *              device's, and the device no longer holds the page
 * device_*     the device writes an exclusive page without a fault; after
 *              mprotect(PROT_READ) it may not write at all
 * fork*        fork() of exclusive pages: parent and child each get their
 *              own, and fork never fails while the device's driver holds
 *              a page locked
 * pageout, move_pages, migrate_race
 *              reclaim and migration take exclusive pages like mapped ones
 * munmap*, exit
 *              no page is leaked: unmapped while taken, after the CPU or
 *              fork took them back, or left taken at exit
 * thp          a THP mapped by a PMD can be made exclusive
 * soft_dirty, uffd_wp
 *              a page given back is not writable while a write must be seen
 * pinned       a long-term pin stays coherent through exclusive access
 * proc         smaps and pagemap count exclusive pages as resident
 * gup, mremap  GUP gives pages back; mremap() keeps the data
 * migrate_pinned
 *              migration to device memory leaves a pinned page mapped
 * two_devices  hmm_range_fault() of device 1 faults in a page that device 0
 *              holds in its private memory; device 1 takes pages that
 *              device 0 holds exclusively, and device 0 is told
 * ksm          ksmd leaves taken pages alone; a merged page can be taken
 * dontneed_race
 *              takes raced against MADV_DONTNEED and reads
 * bad_*        refused input: errno and no kernel warning
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "../../../../lib/test_hmm_uapi.h"
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB	0x40000
#endif
#ifndef UFFD_FEATURE_SIGBUS
#define UFFD_FEATURE_SIGBUS	0x80
#endif
#define PM_SOFT_DIRTY	0x0080000000000000ULL
#define KSM_DIR		"/sys/kernel/mm/ksm/"
/* KPF_ANON of /proc/kpageflags, as a mask. */
#define KPF_ANON_BIT	(1ULL << (KPF_ANON))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NPAGES		16
#define DEV0		"/dev/hmm_dmirror0"
#define DEV1		"/dev/hmm_dmirror1"

static int dev[2] = { -1, -1 };

/* Run @req of test_hmm on @npages pages at @addr; 0 or the errno. */
static int dmirror(int d, unsigned long req, void *addr, void *buf,
		   unsigned long npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)buf,
		.npages = npages,
	};
	int ret = ioctl(dev[d], req, &cmd) ? errno : 0;

	if (out)
		*out = cmd;
	return ret;
}

/* @npages private anonymous pages holding the ints 0, 1, 2, ... */
static int *anon_ints(unsigned long npages, struct mmt_verdict *v)
{
	int *p = mmap(NULL, npages * pagesize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < npages * pagesize / sizeof(int); i++)
		p[i] = i;
	return p;
}

/* Whether the ints at @p are @base, @base + 1, ...; fails @v if not. */
static bool ints_are(const int *p, unsigned long npages, int base,
		     const char *what, struct mmt_verdict *v)
{
	size_t i;

	for (i = 0; i < npages * pagesize / sizeof(int); i++) {
		if (p[i] != (int)i + base) {
			mmt_fail(v, "%s: int %zu is %d, expected %d", what, i,
				 p[i], (int)i + base);
			return false;
		}
	}
	return true;
}

/*
 * Make @npages pages at @p exclusive to device 0 and check what it read
 * back.  False (with the verdict set) if it did not work.
 */
static bool take(int *p, unsigned long npages, struct mmt_verdict *v)
{
	size_t size = npages * pagesize;
	int *buf = malloc(size), *was = malloc(size);
	struct hmm_dmirror_cmd cmd;
	bool ok = false;
	int err;

	if (!buf || !was) {
		mmt_fail(v, "malloc");
		goto out;
	}
	/* Read before: once the device holds the pages, a read is a fault. */
	memcpy(was, p, size);
	err = dmirror(0, HMM_DMIRROR_EXCLUSIVE, p, buf, npages, &cmd);
	if (err)
		mmt_fail(v, "HMM_DMIRROR_EXCLUSIVE: %s", strerror(err));
	else if (cmd.cpages != npages)
		mmt_fail(v, "HMM_DMIRROR_EXCLUSIVE read %llu of %lu pages",
			 (unsigned long long)cmd.cpages, npages);
	else if (memcmp(buf, was, size))
		mmt_fail(v, "the device read other data than the CPU had");
	else
		ok = true;
out:
	free(was);
	free(buf);
	return ok;
}

/* CHECK_EXCLUSIVE must say @want (0 or EPERM). */
static void expect_held(int *p, unsigned long npages, int want,
			const char *when, struct mmt_verdict *v)
{
	int err = dmirror(0, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL);

	if (err != want)
		mmt_fail(v, "%s: HMM_DMIRROR_CHECK_EXCLUSIVE: %s, expected %s",
			 when, err ? strerror(err) : "0",
			 want ? strerror(want) : "0");
}

/* ---------------------------------------------------------------------- */
/* Faults caught */

static sigjmp_buf fault_jmp;
static sig_atomic_t fault_sig;

static void on_fault(int sig)
{
	__atomic_store_n(&fault_sig, sig, __ATOMIC_SEQ_CST);
	siglongjmp(fault_jmp, 1);
}

/* Write @val to @p; the signal it raised, or 0. */
static int write_catching(int *p, int val)
{
	struct sigaction sa = { .sa_handler = on_fault }, old_segv, old_bus;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	__atomic_store_n(&fault_sig, 0, __ATOMIC_SEQ_CST);
	if (!sigsetjmp(fault_jmp, 1))
		__atomic_store_n(p, val, __ATOMIC_SEQ_CST);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return __atomic_load_n(&fault_sig, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------------------- */
/* The cases */

/* cpu_read: a CPU read gives the pages back, data intact. */
static void cpu_read(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v);

	if (!p)
		return;
	if (take(p, NPAGES, v)) {
		expect_held(p, NPAGES, EPERM, "after EXCLUSIVE", v);
		ints_are(p, NPAGES, 0, "CPU read", v);
		expect_held(p, NPAGES, 0, "after the CPU read", v);
	}
	munmap(p, NPAGES * pagesize);
}

/* cpu_write: a CPU write gives the pages back; the device then reads it. */
static void cpu_write(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	size_t i;
	int err;

	if (!p || !buf)
		goto out;
	if (!take(p, NPAGES, v))
		goto out;
	for (i = 0; i < NPAGES * pagesize / sizeof(int); i++)
		p[i]++;
	expect_held(p, NPAGES, 0, "after the CPU write", v);
	err = dmirror(0, HMM_DMIRROR_READ, p, buf, NPAGES, NULL);
	if (err)
		mmt_fail(v, "HMM_DMIRROR_READ: %s", strerror(err));
	else
		ints_are(buf, NPAGES, 1, "device read after the CPU write", v);
out:
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/*
 * device_write: while it holds the pages, the device writes them without
 * a fault; the CPU then reads what it wrote.
 */
static void device_write(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	struct hmm_dmirror_cmd cmd;
	size_t i;
	int err;

	if (!p || !buf)
		goto out;
	if (!take(p, NPAGES, v))
		goto out;
	for (i = 0; i < NPAGES * pagesize / sizeof(int); i++)
		buf[i] = i + 7;
	err = dmirror(0, HMM_DMIRROR_WRITE, p, buf, NPAGES, &cmd);
	if (err) {
		mmt_fail(v, "HMM_DMIRROR_WRITE: %s", strerror(err));
		goto out;
	}
	if (cmd.faults)
		mmt_fail(v, "the device write faulted %llu times",
			 (unsigned long long)cmd.faults);
	expect_held(p, NPAGES, EPERM, "after the device write", v);
	ints_are(p, NPAGES, 7, "CPU read of the device's write", v);
	expect_held(p, NPAGES, 0, "after the CPU read", v);
out:
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/*
 * device_mprotect: after mprotect(PROT_READ) the device may not write
 * (EPERM), the CPU write faults, and the CPU read sees the data.
 */
static void device_mprotect(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	int err, sig;

	if (!p || !buf)
		goto out;
	if (!take(p, NPAGES, v))
		goto out;
	if (mprotect(p, NPAGES * pagesize, PROT_READ)) {
		mmt_fail(v, "mprotect: %s", strerror(errno));
		goto out;
	}
	memset(buf, 0x5a, NPAGES * pagesize);
	err = dmirror(0, HMM_DMIRROR_WRITE, p, buf, NPAGES, NULL);
	if (err != EPERM)
		mmt_fail(v, "device write after mprotect(PROT_READ): %s, expected EPERM",
			 err ? strerror(err) : "0");
	sig = write_catching(p, -1);
	if (sig != SIGSEGV)
		mmt_fail(v, "CPU write after mprotect(PROT_READ): signal %d, expected SIGSEGV",
			 sig);
	ints_are(p, NPAGES, 0, "CPU read after mprotect", v);
	expect_held(p, NPAGES, 0, "after the CPU read", v);
out:
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/* Increment every int, then check that each is one more than before. */
static bool bump_and_check(int *p, unsigned long npages, int base,
			   const char *who, struct mmt_verdict *v)
{
	size_t i;

	for (i = 0; i < npages * pagesize / sizeof(int); i++)
		p[i]++;
	return ints_are(p, npages, base + 1, who, v);
}

/*
 * fork: fork while the pages are exclusive.  Parent and child each
 * increment every int and see their own result, never the other's.
 */
static void fork_exclusive(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v);
	int status;
	pid_t pid;

	if (!p)
		return;
	if (!take(p, NPAGES, v))
		goto out;
	pid = fork();
	if (pid < 0) {
		mmt_fail(v, "fork: %s", strerror(errno));
		goto out;
	}
	if (!pid) {
		struct mmt_verdict cv = { .res = MMT_PASS };

		bump_and_check(p, NPAGES, 0, "child", &cv);
		_exit(mmt_ok(&cv) ? 0 : 1);
	}
	bump_and_check(p, NPAGES, 0, "parent", v);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		mmt_fail(v, "the child saw wrong data (status %#x)", status);
	/* The child's increments did not reach us. */
	ints_are(p, NPAGES, 1, "parent after the child", v);
	expect_held(p, NPAGES, 0, "after fork", v);
out:
	munmap(p, NPAGES * pagesize);
}

struct taker {
	int *p;
	int stop;
	unsigned long rounds;
	int err;
};

static void *take_loop(void *arg)
{
	struct taker *t = arg;
	int *buf = malloc(NPAGES * pagesize);
	int err;

	while (buf && !__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		err = dmirror(0, HMM_DMIRROR_EXCLUSIVE, t->p, buf, NPAGES,
			      NULL);
		if (err && err != EBUSY) {
			t->err = err;
			break;
		}
		t->rounds++;
	}
	free(buf);
	return NULL;
}

/*
 * fork_locked: fork over and over while another thread keeps taking the
 * pages exclusively (the driver holds them locked while it maps them):
 * fork never fails, and each child sees the parent's data of that moment.
 */
#define HOLD_US	"/sys/module/test_hmm/parameters/exclusive_hold_us"

static void fork_locked(struct mmt_verdict *v)
{
	struct taker t = { 0 };
	unsigned long hold;
	pthread_t th;
	int round, status;
	pid_t pid;

	/* The driver holds the pages locked for 5 ms after each take. */
	if (!sysfs_read_ulong(HOLD_US, &hold) ||
	    !sysfs_write_ulong(HOLD_US, 5000)) {
		mmt_skip(v, "%s: %s", HOLD_US, strerror(errno));
		return;
	}
	t.p = anon_ints(NPAGES, v);
	if (!t.p)
		goto restore;
	if (pthread_create(&th, NULL, take_loop, &t)) {
		mmt_fail(v, "pthread_create");
		goto out;
	}
	for (round = 0; round < 100 && mmt_ok(v); round++) {
		pid = fork();
		if (pid < 0) {
			mmt_fail(v, "fork %d: %s", round, strerror(errno));
			break;
		}
		if (!pid) {
			struct mmt_verdict cv = { .res = MMT_PASS };

			ints_are(t.p, NPAGES, round, "child", &cv);
			bump_and_check(t.p, NPAGES, round, "child", &cv);
			_exit(mmt_ok(&cv) ? 0 : 1);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			mmt_fail(v, "round %d: the child saw wrong data", round);
		bump_and_check(t.p, NPAGES, round, "parent", v);
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	if (t.err)
		mmt_fail(v, "HMM_DMIRROR_EXCLUSIVE: %s", strerror(t.err));
	if (!t.rounds)
		mmt_fail(v, "the device never took the pages");
	ksft_print_msg("%s: %d forks against %lu exclusive rounds\n",
		       __func__, round, t.rounds);
out:
	munmap(t.p, NPAGES * pagesize);
restore:
	sysfs_write_ulong(HOLD_US, hold);
}

/*
 * pageout: MADV_PAGEOUT swaps exclusive pages out (the device loses them),
 * and they read back intact.
 */
static void pageout(struct mmt_verdict *v)
{
	int *p;
	size_t i;

	if (!swap_available()) {
		mmt_skip(v, "no swap");
		return;
	}
	p = anon_ints(NPAGES, v);
	if (!p)
		return;
	if (!take(p, NPAGES, v))
		goto out;
	if (madvise(p, NPAGES * pagesize, MADV_PAGEOUT)) {
		mmt_fail(v, "MADV_PAGEOUT: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < NPAGES; i++) {
		if (!pagemap_swapped((char *)p + i * pagesize)) {
			mmt_fail(v, "exclusive page %zu was not swapped out", i);
			break;
		}
	}
	expect_held(p, NPAGES, 0, "after MADV_PAGEOUT", v);
	ints_are(p, NPAGES, 0, "read after swap-in", v);
out:
	munmap(p, NPAGES * pagesize);
}

static long move_pages(int count, void **pages, const int *nodes,
		       int *status, int flags)
{
	return syscall(__NR_move_pages, 0, count, pages, nodes, status,
		       flags);
}

/* Move @npages pages at @p to @node; false (and why) if one did not move. */
static bool move_to(int *p, unsigned long npages, int node,
		    struct mmt_verdict *v)
{
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES];
	unsigned long i;

	for (i = 0; i < npages; i++) {
		pages[i] = (char *)p + i * pagesize;
		nodes[i] = node;
		status[i] = -1;
	}
	if (move_pages(npages, pages, nodes, status, 0) < 0) {
		if (errno == ENOENT || errno == EINVAL)
			mmt_skip(v, "move_pages to node %d: %s", node,
				 strerror(errno));
		else
			mmt_fail(v, "move_pages: %s", strerror(errno));
		return false;
	}
	for (i = 0; i < npages; i++) {
		if (status[i] != node) {
			mmt_fail(v, "page %lu: move_pages status %d, expected node %d",
				 i, status[i], node);
			return false;
		}
	}
	return true;
}

/* The node the first page at @p is on, or -1. */
static int node_of(int *p)
{
	void *page = p;
	int status = -1;

	if (move_pages(1, &page, NULL, &status, 0) < 0)
		return -1;
	return status;
}

/* Whether a second NUMA node exists to move pages to. */
static bool two_nodes(struct mmt_verdict *v)
{
	if (access("/sys/devices/system/node/node1", F_OK)) {
		mmt_skip(v, "one NUMA node");
		return false;
	}
	return true;
}

/* move_pages: exclusive pages move to the other node, data intact. */
static void move_exclusive(struct mmt_verdict *v)
{
	int *p;
	int node;

	if (!two_nodes(v))
		return;
	p = anon_ints(NPAGES, v);
	if (!p)
		return;
	node = node_of(p);
	if (node < 0) {
		mmt_skip(v, "move_pages: %s", strerror(errno));
		goto out;
	}
	if (!take(p, NPAGES, v))
		goto out;
	if (move_to(p, NPAGES, !node, v)) {
		expect_held(p, NPAGES, 0, "after move_pages", v);
		ints_are(p, NPAGES, 0, "read after move_pages", v);
	}
out:
	munmap(p, NPAGES * pagesize);
}

struct toucher {
	int *p;
	int stop;
	unsigned long reads;
	int bad;
};

static void *touch_loop(void *arg)
{
	struct toucher *t = arg;

	int val;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		val = __atomic_load_n(&t->p[1], __ATOMIC_RELAXED);
		if (val != 1)
			t->bad = val;
		t->reads++;
	}
	return NULL;
}

/*
 * migrate_race: threads keep reading a page that the device keeps taking
 * while it is moved between the nodes: no lost data, no kernel warning.
 */
static void migrate_race(struct mmt_verdict *v)
{
	struct toucher t[3] = { 0 };
	pthread_t th[3];
	int *p, buf[1024];
	int i, round, node, started = 0, moved = 0, status;
	struct timespec t0, t1;
	void *page;

	if (!two_nodes(v))
		return;
	p = anon_ints(1, v);
	if (!p)
		return;
	page = p;
	node = node_of(p);
	if (node < 0) {
		mmt_skip(v, "move_pages: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < 3; i++) {
		t[i].p = p;
		if (pthread_create(&th[i], NULL, touch_loop, &t[i]))
			break;
		started++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 400 && mmt_ok(v); round++) {
		int err = dmirror(0, HMM_DMIRROR_EXCLUSIVE, p, buf, 1, NULL);

		if (err && err != EBUSY)
			mmt_fail(v, "round %d: HMM_DMIRROR_EXCLUSIVE: %s",
				 round, strerror(err));
		/* Under the race a move may fail; the data may not. */
		status = -1;
		node = !node;
		if (move_pages(1, &page, &node, &status, 0) == 0 &&
		    status == node)
			moved++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 60)
			break;
	}
	for (i = 0; i < started; i++) {
		__atomic_store_n(&t[i].stop, 1, __ATOMIC_RELAXED);
		pthread_join(th[i], NULL);
		if (t[i].bad)
			mmt_fail(v, "a reader saw %d, expected 1", t[i].bad);
	}
	ints_are(p, 1, 0, "after the race", v);
	if (!moved)
		mmt_fail(v, "the page never moved in %d rounds", round);
	ksft_print_msg("%s: %d rounds, %d moves, %lu reads\n", __func__,
		       round, moved, t[0].reads + t[1].reads + t[2].reads);
out:
	munmap(p, pagesize);
}

/* A /proc/vmstat counter after folding the per-CPU deltas; -1 if none. */
static long vmstat_now(const char *name)
{
	vmstat_refresh();
	return vmstat_read(name);
}

#define LEAK_PAGES	4096	/* 16 MiB: far above the counters' noise */
#define LEAK_SLACK	1024	/* per-CPU free lists, other allocations */

enum leak_step { LEAK_UNMAP, LEAK_FAULT, LEAK_FORK, LEAK_EXIT };

/* Take @npages pages at @p in chunks of 64; false if one chunk failed. */
static bool take_all(int *p, unsigned long npages, struct mmt_verdict *v)
{
	unsigned long off;

	for (off = 0; off < npages && mmt_ok(v); off += 64)
		take(p + off * pagesize / sizeof(int), 64, v);
	return mmt_ok(v);
}

/*
 * Take LEAK_PAGES pages, record their PFNs into @pfns, then do @step and
 * unmap them (LEAK_EXIT: all of it in a child that exits).
 */
static void leak_setup(enum leak_step step, uint64_t *pfns,
		       struct mmt_verdict *v)
{
	uint64_t *ents = malloc(LEAK_PAGES * sizeof(*ents));
	int *p = anon_ints(LEAK_PAGES, v);
	int status, i;
	pid_t pid;

	if (!p || !ents)
		goto out;
	if (!take_all(p, LEAK_PAGES, v))
		goto out;
	/* The pagemap shows an exclusive page as present, PFN and all. */
	if (!pagemap_read(p, LEAK_PAGES, ents)) {
		mmt_fail(v, "pagemap: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < LEAK_PAGES; i++)
		pfns[i] = ents[i] & PM_PFN_MASK;
	switch (step) {
	case LEAK_UNMAP:
	case LEAK_EXIT:
		break;
	case LEAK_FAULT:
		for (i = 0; i < LEAK_PAGES; i++)
			__atomic_load_n(&p[i * pagesize / sizeof(int)],
					__ATOMIC_RELAXED);
		break;
	case LEAK_FORK:
		pid = fork();
		if (pid < 0) {
			mmt_fail(v, "fork: %s", strerror(errno));
			break;
		}
		if (!pid)
			_exit(0);
		waitpid(pid, &status, 0);
		break;
	}
out:
	free(ents);
	if (p)
		munmap(p, LEAK_PAGES * pagesize);
}

/*
 * After @step and the unmap, every page taken must be free again: the
 * free page count is back, and no page still looks anonymous (a page
 * whose reference leaked keeps its anon mapping and stays on the LRU).
 */
static void leak_check(enum leak_step step, struct mmt_verdict *v)
{
	uint64_t *pfns = mmap(NULL, LEAK_PAGES * sizeof(*pfns),
			      PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long free_before, free_after, anon_before, anon_after;
	int still_anon = 0, no_pfn = 0, status, i;
	uint64_t flags;
	pid_t pid;

	if (pfns == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	free_before = vmstat_now("nr_free_pages");
	anon_before = vmstat_now("nr_anon_pages");
	if (step != LEAK_EXIT) {
		leak_setup(step, pfns, v);
	} else {
		pid = fork();
		if (pid < 0) {
			mmt_fail(v, "fork: %s", strerror(errno));
			goto out;
		}
		if (!pid) {
			struct mmt_verdict cv = { .res = MMT_PASS };

			/* A mirror of the child's own mm. */
			close(dev[0]);
			dev[0] = open(DEV0, O_RDWR);
			leak_setup(step, pfns, &cv);
			/* Exit with the pages still taken: no munmap first. */
			_exit(mmt_ok(&cv) ? 0 : 1);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			mmt_fail(v, "the child could not take its pages");
	}
	if (!mmt_ok(v))
		goto out;
	free_after = vmstat_now("nr_free_pages");
	anon_after = vmstat_now("nr_anon_pages");
	if (free_before < 0 || anon_before < 0) {
		mmt_skip(v, "no nr_free_pages or nr_anon_pages in /proc/vmstat");
		goto out;
	}
	if (anon_after > anon_before + LEAK_SLACK / 4)
		mmt_fail(v, "nr_anon_pages %ld before, %ld after", anon_before,
			 anon_after);
	if (free_after < free_before - LEAK_SLACK)
		mmt_fail(v, "nr_free_pages %ld before, %ld after: %d pages taken and unmapped",
			 free_before, free_after, LEAK_PAGES);
	for (i = 0; i < LEAK_PAGES; i++) {
		if (!pfns[i])
			no_pfn++;
		else if (kpageflags_read(pfns[i], &flags) &&
			 (flags & KPF_ANON_BIT))
			still_anon++;
	}
	/* A few may have been reused for new anonymous memory already. */
	if (still_anon > LEAK_PAGES / 8)
		mmt_fail(v, "%d of %d unmapped pages still anonymous", still_anon,
			 LEAK_PAGES);
	if (no_pfn == LEAK_PAGES)
		ksft_print_msg("no PFNs in the pagemap: free page count only\n");
out:
	munmap(pfns, LEAK_PAGES * sizeof(*pfns));
}

/* munmap: unmapping exclusive pages frees them all. */
static void munmap_exclusive(struct mmt_verdict *v)
{
	leak_check(LEAK_UNMAP, v);
}

/* munmap_after_fault: so does unmapping them after the CPU took them back. */
static void munmap_after_fault(struct mmt_verdict *v)
{
	leak_check(LEAK_FAULT, v);
}

/* munmap_after_fork: and after a fork took them back. */
static void munmap_after_fork(struct mmt_verdict *v)
{
	leak_check(LEAK_FORK, v);
}

/* exit: a process that exits with exclusive pages leaks none. */
static void exit_exclusive(struct mmt_verdict *v)
{
	leak_check(LEAK_EXIT, v);
}

/* thp: a THP mapped by a PMD can be made exclusive, data intact. */
static void thp_exclusive(struct mmt_verdict *v)
{
	size_t thp = thp_pmd_size();
	unsigned long npages;
	int *p;
	size_t i;

	if (!thp) {
		mmt_skip(v, "no THP");
		return;
	}
	npages = thp / pagesize;
	p = mmap_aligned(thp, thp);
	if (!p) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	madvise(p, thp, MADV_HUGEPAGE);
	for (i = 0; i < thp / sizeof(int); i++)
		p[i] = i;
	if (!range_is_thp(p, thp)) {
		mmt_skip(v, "no THP for the range");
		goto out;
	}
	if (take(p, npages, v)) {
		expect_held(p, npages, EPERM, "after EXCLUSIVE", v);
		ints_are(p, npages, 0, "CPU read", v);
		expect_held(p, npages, 0, "after the CPU read", v);
	}
out:
	munmap(p, thp);
}

/*
 * soft_dirty: with soft-dirty tracking on, a page given back on a read is
 * not soft-dirty and not writable; the next write marks it.
 */
static void soft_dirty(struct mmt_verdict *v)
{
	int *p = anon_ints(1, v);
	uint64_t ent;
	int fd;

	if (!p)
		return;
	/* A page just written is soft-dirty, if the kernel tracks it. */
	if (!pagemap_read(p, 1, &ent) || !(ent & PM_SOFT_DIRTY)) {
		mmt_skip(v, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
		goto out;
	}
	if (!take(p, 1, v))
		goto out;
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0 || write(fd, "4", 1) != 1) {
		mmt_fail(v, "/proc/self/clear_refs: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	ints_are(p, 1, 0, "CPU read", v);
	expect_held(p, 1, 0, "after the CPU read", v);
	if (!pagemap_read(p, 1, &ent))
		mmt_fail(v, "pagemap: %s", strerror(errno));
	else if (ent & PM_SOFT_DIRTY)
		mmt_fail(v, "soft-dirty after a read: the page came back writable");
	p[0] = 42;
	if (!pagemap_read(p, 1, &ent))
		mmt_fail(v, "pagemap: %s", strerror(errno));
	else if (!(ent & PM_SOFT_DIRTY))
		mmt_fail(v, "not soft-dirty after a write");
out:
	munmap(p, pagesize);
}

/*
 * uffd_wp: a page write-protected with userfaultfd while the device holds
 * it comes back write-protected: the CPU write is reported (SIGBUS here).
 */
static void uffd_wp(struct mmt_verdict *v)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_SIGBUS,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	int *p = anon_ints(1, v);
	int fd, sig;

	if (!p)
		return;
	fd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (fd < 0) {
		mmt_skip(v, "userfaultfd: %s", strerror(errno));
		goto out;
	}
	reg.range.start = (uintptr_t)p;
	reg.range.len = pagesize;
	wp.range = reg.range;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		mmt_skip(v, "userfaultfd write protection: %s",
			 strerror(errno));
		goto close;
	}
	if (!take(p, 1, v))
		goto close;
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		mmt_fail(v, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
		goto close;
	}
	ints_are(p, 1, 0, "CPU read", v);
	expect_held(p, 1, 0, "after the CPU read", v);
	sig = write_catching(p, 42);
	if (sig != SIGBUS)
		mmt_fail(v, "CPU write to the write-protected page: signal %d, expected SIGBUS",
			 sig);
	if (p[0] != 0)
		mmt_fail(v, "the write-protected page changed to %d", p[0]);
close:
	close(fd);
out:
	munmap(p, pagesize);
}

/*
 * pinned: a long-term write pin of an exclusive page sees the CPU's write
 * after the page comes back.
 */
static void pinned(struct mmt_verdict *v)
{
	struct pin_longterm_test pin = {
		.size = pagesize, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	int *p = anon_ints(1, v), *buf = malloc(pagesize);
	uint64_t ubuf = (uintptr_t)buf;
	int gup = gup_test_open();

	if (!p || !buf)
		goto out;
	if (gup < 0) {
		mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
		goto out;
	}
	pin.addr = (uintptr_t)p;
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin)) {
		mmt_fail(v, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		goto out;
	}
	if (take(p, 1, v)) {
		p[3] = 1234;
		expect_held(p, 1, 0, "after the CPU write", v);
		if (ioctl(gup, PIN_LONGTERM_TEST_READ, &ubuf))
			mmt_fail(v, "PIN_LONGTERM_TEST_READ: %s",
				 strerror(errno));
		else if (buf[3] != 1234 || buf[4] != 4)
			mmt_fail(v, "the pin reads %d %d, expected 1234 4",
				 buf[3], buf[4]);
	}
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
out:
	if (gup >= 0)
		close(gup);
	free(buf);
	if (p)
		munmap(p, pagesize);
}

/* proc: smaps and pagemap count exclusive pages as resident. */
static void proc_counts(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v);
	uint64_t ents[NPAGES];
	long rss;
	int i;

	if (!p)
		return;
	/* A VMA of its own, which no neighbour merges into. */
	if (madvise(p, NPAGES * pagesize, MADV_DONTFORK)) {
		mmt_fail(v, "MADV_DONTFORK: %s", strerror(errno));
		goto out;
	}
	if (!take(p, NPAGES, v))
		goto out;
	rss = smaps_kb(p, "Rss");
	if (rss != (long)(NPAGES * pagesize / 1024))
		mmt_fail(v, "smaps Rss %ld kB, expected %zu", rss,
			 NPAGES * pagesize / 1024);
	if (!pagemap_read(p, NPAGES, ents)) {
		mmt_fail(v, "pagemap: %s", strerror(errno));
	} else {
		for (i = 0; i < NPAGES; i++) {
			if (!(ents[i] & PM_PRESENT) || (ents[i] & PM_SWAP)) {
				mmt_fail(v, "pagemap of page %d: %#llx, expected present",
					 i, (unsigned long long)ents[i]);
				break;
			}
		}
	}
	/* Reading /proc was no CPU access: the device still holds them. */
	expect_held(p, NPAGES, EPERM, "after reading /proc", v);
out:
	munmap(p, NPAGES * pagesize);
}

/* gup: get_user_pages(), slow and fast, gives the pages back. */
static void gup_restores(struct mmt_verdict *v)
{
	static const unsigned long reqs[] = {
		GUP_BASIC_TEST, GUP_FAST_BENCHMARK
	};
	int *p = anon_ints(NPAGES, v);
	int gup = gup_test_open();
	unsigned int i;

	if (!p)
		goto out;
	if (gup < 0) {
		mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(reqs) && mmt_ok(v); i++) {
		struct gup_test g = {
			.addr = (uintptr_t)p, .size = NPAGES * pagesize,
			.nr_pages_per_call = NPAGES,
		};

		if (!take(p, NPAGES, v))
			break;
		if (ioctl(gup, reqs[i], &g))
			mmt_fail(v, "gup_test %#lx: %s", reqs[i],
				 strerror(errno));
		expect_held(p, NPAGES, 0, i ? "after GUP-fast" : "after GUP",
			    v);
	}
	ints_are(p, NPAGES, 0, "after GUP", v);
out:
	if (gup >= 0)
		close(gup);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/* mremap: moved exclusive pages keep their data at the new address. */
static void mremap_exclusive(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *q;
	void *hole;

	if (!p)
		return;
	hole = mmap(NULL, NPAGES * pagesize, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || !take(p, NPAGES, v)) {
		if (hole == MAP_FAILED)
			mmt_fail(v, "mmap: %s", strerror(errno));
		munmap(p, NPAGES * pagesize);
		return;
	}
	q = mremap(p, NPAGES * pagesize, NPAGES * pagesize,
		   MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	if (q == MAP_FAILED) {
		mmt_fail(v, "mremap: %s", strerror(errno));
		munmap(p, NPAGES * pagesize);
		munmap(hole, NPAGES * pagesize);
		return;
	}
	ints_are(q, NPAGES, 0, "read after mremap", v);
	munmap(q, NPAGES * pagesize);
}

/*
 * migrate_pinned: device 0 migrates a range to its private memory in which
 * one page has a long-term write pin.  That page stays mapped (moving it
 * would leave the pin on a page the process no longer maps) and the pin
 * sees the CPU's next write; the other pages go to the device.
 */
static void migrate_pinned(struct mmt_verdict *v)
{
	const unsigned long pinned_page = 1;
	struct pin_longterm_test pin = {
		.size = pagesize, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	int *pp = p + pinned_page * pagesize / sizeof(int);
	uint64_t ubuf = (uintptr_t)buf;
	int gup = gup_test_open();
	unsigned long i;
	int err;

	if (!p || !buf)
		goto out;
	if (gup < 0) {
		mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
		goto out;
	}
	pin.addr = (uintptr_t)pp;
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin)) {
		mmt_fail(v, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		goto out;
	}
	/* ENOENT: the device's read-back misses the page it did not get. */
	err = dmirror(0, HMM_DMIRROR_MIGRATE, p, buf, NPAGES, NULL);
	if (err && err != ENOENT) {
		mmt_fail(v, "HMM_DMIRROR_MIGRATE: %s", strerror(err));
		goto stop;
	}
	for (i = 0; i < NPAGES; i++) {
		char *page = (char *)p + i * pagesize;

		if (i == pinned_page && pagemap_swapped(page)) {
			mmt_fail(v, "the pinned page went to the device");
			goto stop;
		}
		if (i != pinned_page && !pagemap_swapped(page)) {
			mmt_fail(v, "page %lu did not go to the device", i);
			goto stop;
		}
	}
	pp[3] = 1234;
	if (ioctl(gup, PIN_LONGTERM_TEST_READ, &ubuf))
		mmt_fail(v, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	else if (buf[3] != 1234 || buf[4] != (int)(pinned_page * pagesize /
						   sizeof(int)) + 4)
		mmt_fail(v, "the pin reads %d %d, not what the CPU wrote",
			 buf[3], buf[4]);
	pp[3] = pinned_page * pagesize / sizeof(int) + 3;
	ints_are(p, NPAGES, 0, "CPU read after the migration", v);
stop:
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
out:
	if (gup >= 0)
		close(gup);
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/*
 * two_devices: device 0 migrates the range to its private memory; device
 * 1 reads it, which faults the pages back to system memory.
 */
static void two_devices(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	int err;

	if (!p || !buf)
		goto out;
	err = dmirror(0, HMM_DMIRROR_MIGRATE, p, buf, NPAGES, NULL);
	if (err) {
		mmt_fail(v, "HMM_DMIRROR_MIGRATE: %s", strerror(err));
		goto out;
	}
	if (!pagemap_swapped(p)) {
		mmt_fail(v, "device 0 did not take the pages to its memory");
		goto out;
	}
	memset(buf, 0, NPAGES * pagesize);
	err = dmirror(1, HMM_DMIRROR_READ, p, buf, NPAGES, NULL);
	if (err)
		mmt_fail(v, "device 1 read of device 0's pages: %s",
			 strerror(err));
	else
		ints_are(buf, NPAGES, 0, "device 1's read", v);
	ints_are(p, NPAGES, 0, "CPU read", v);
out:
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

/*
 * two_devices_exclusive: device 1 takes pages device 0 holds: device 0
 * is told and loses them, device 1 has them, the data stays.
 */
static void two_devices_exclusive(struct mmt_verdict *v)
{
	int *p = anon_ints(NPAGES, v), *buf = malloc(NPAGES * pagesize);
	struct hmm_dmirror_cmd cmd;
	int err;

	if (!p || !buf)
		goto out;
	if (!take(p, NPAGES, v))
		goto out;
	err = dmirror(1, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES, &cmd);
	if (err) {
		mmt_fail(v, "device 1: HMM_DMIRROR_EXCLUSIVE: %s", strerror(err));
		goto out;
	}
	ints_are(buf, NPAGES, 0, "device 1's read", v);
	expect_held(p, NPAGES, 0, "device 0 after device 1 took the pages", v);
	err = dmirror(1, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, NPAGES, NULL);
	if (err != EPERM)
		mmt_fail(v, "device 1 does not hold the pages: %s",
			 err ? strerror(err) : "0");
	ints_are(p, NPAGES, 0, "CPU read", v);
	err = dmirror(1, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, NPAGES, NULL);
	if (err)
		mmt_fail(v, "device 1 still holds the pages after the CPU read: %s",
			 strerror(err));
out:
	free(buf);
	if (p)
		munmap(p, NPAGES * pagesize);
}

static bool ksm_knob(const char *knob, unsigned long *old, unsigned long val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob);
	return sysfs_read_ulong(path, old) && sysfs_write_ulong(path, val);
}

/* Wait until ksmd has made @scans more full scans; false after 60 s. */
static bool ksm_scans(unsigned long scans)
{
	struct timespec tick = { 0, 2000000 }, t0, t;
	unsigned long start, now;

	if (!sysfs_read_ulong(KSM_DIR "full_scans", &start))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		nanosleep(&tick, NULL);
		if (!sysfs_read_ulong(KSM_DIR "full_scans", &now))
			return false;
		if (now >= start + scans)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 60);
	return false;
}

/*
 * ksm: ksmd leaves a page a device holds alone (it stays the device's,
 * data intact), and a page KSM merged can be taken: the lookup unshares
 * it first.
 */
static void ksm(struct mmt_verdict *v)
{
	unsigned long run, sleep_ms, to_scan, dummy;
	char *p;

	if (access(KSM_DIR "run", F_OK)) {
		mmt_skip(v, "no KSM");
		return;
	}
	p = mmap(NULL, 4 * pagesize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	/* Four identical pages; the device takes the first. */
	memset(p, 0x3c, 4 * pagesize);
	if (!take((int *)p, 1, v))
		goto out;
	if (madvise(p, 4 * pagesize, MADV_MERGEABLE)) {
		mmt_fail(v, "MADV_MERGEABLE: %s", strerror(errno));
		goto out;
	}
	if (!sysfs_read_ulong(KSM_DIR "run", &run) ||
	    !ksm_knob("sleep_millisecs", &sleep_ms, 0) ||
	    !ksm_knob("pages_to_scan", &to_scan, 1000) ||
	    !ksm_knob("run", &dummy, 1)) {
		mmt_fail(v, "cannot start ksmd: %s", strerror(errno));
		goto out;
	}
	/* The second scan of a page merges it. */
	if (!ksm_scans(3))
		mmt_fail(v, "ksmd made no 3 full scans in 60 s");
	expect_held((int *)p, 1, EPERM, "after ksmd's scans", v);
	if (!mmt_all_bytes(p + pagesize, 3 * pagesize, 0x3c))
		mmt_fail(v, "a merged page changed");
	/* Take a merged page: it is unshared, the others stay merged. */
	if (take((int *)(p + 2 * pagesize), 1, v)) {
		if (!mmt_all_bytes(p, 4 * pagesize, 0x3c))
			mmt_fail(v, "the data changed");
		expect_held((int *)(p + 2 * pagesize), 1, 0,
			    "after the CPU read", v);
	}
	sysfs_write_ulong(KSM_DIR "run", run);
	sysfs_write_ulong(KSM_DIR "pages_to_scan", to_scan);
	sysfs_write_ulong(KSM_DIR "sleep_millisecs", sleep_ms);
out:
	madvise(p, 4 * pagesize, MADV_UNMERGEABLE);
	munmap(p, 4 * pagesize);
}

struct dropper {
	int *p;
	int stop;
	unsigned long drops;
};

/* Drop one page after another, with a pause that lets takes succeed. */
static void *drop_loop(void *arg)
{
	struct timespec pause = { 0, 200000 };
	struct dropper *d = arg;
	unsigned long i;

	for (i = 0; !__atomic_load_n(&d->stop, __ATOMIC_RELAXED); i++) {
		madvise((char *)d->p + (i % NPAGES) * pagesize, pagesize,
			MADV_DONTNEED);
		d->drops++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/*
 * dontneed_race: the device keeps taking pages that another thread keeps
 * dropping with MADV_DONTNEED while this one reads them: a read sees the
 * data or zeroes, never anything else, and nothing leaks or warns.
 */
static void dontneed_race(struct mmt_verdict *v)
{
	struct dropper d = { 0 };
	int *buf = malloc(NPAGES * pagesize);
	unsigned long takes = 0;
	pthread_t th;
	int round, val, err;
	size_t i;

	d.p = anon_ints(NPAGES, v);
	if (!d.p || !buf)
		goto out;
	if (pthread_create(&th, NULL, drop_loop, &d)) {
		mmt_fail(v, "pthread_create");
		goto out;
	}
	for (round = 0; round < 300 && mmt_ok(v); round++) {
		for (i = 0; i < NPAGES * pagesize / sizeof(int); i += 97)
			d.p[i] = 5;
		err = dmirror(0, HMM_DMIRROR_EXCLUSIVE, d.p, buf, NPAGES, NULL);
		if (!err)
			takes++;
		else if (err != EBUSY)
			mmt_fail(v, "HMM_DMIRROR_EXCLUSIVE: %s", strerror(err));
		for (i = 0; i < NPAGES * pagesize / sizeof(int); i += 97) {
			val = d.p[i];
			if (val != 5 && val != 0) {
				mmt_fail(v, "round %d: int %zu is %d", round, i,
					 val);
				break;
			}
		}
	}
	__atomic_store_n(&d.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	if (!takes || !d.drops)
		mmt_fail(v, "no race: %lu takes, %lu drops", takes, d.drops);
	ksft_print_msg("%s: %d rounds, %lu takes, %lu drops\n", __func__,
		       round, takes, d.drops);
out:
	free(buf);
	if (d.p)
		munmap(d.p, NPAGES * pagesize);
}

/* One refused request: its errno must be @want. */
static void expect_refused(void *addr, unsigned long npages, int want,
			   const char *what, struct mmt_verdict *v)
{
	char *buf = malloc(pagesize * 4);
	int err = dmirror(0, HMM_DMIRROR_EXCLUSIVE, addr, buf, npages, NULL);

	if (err != want)
		mmt_fail(v, "%s: %s, expected %s", what,
			 err ? strerror(err) : "success", strerror(want));
	free(buf);
}

/* bad_input: unaligned, empty, too large and unmapped ranges. */
static void bad_input(struct mmt_verdict *v)
{
	int *p = anon_ints(1, v);
	void *hole;

	if (!p)
		return;
	expect_refused((char *)p + 8, 1, EINVAL, "unaligned", v);
	expect_refused(p, 0, EINVAL, "empty", v);
	expect_refused(p, 1UL << 20, E2BIG, "4 GiB", v);
	hole = mmap(NULL, pagesize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (hole != MAP_FAILED) {
		munmap(hole, pagesize);
		expect_refused(hole, 1, EFAULT, "unmapped", v);
	}
	if (mprotect(p, pagesize, PROT_READ) == 0)
		expect_refused(p, 1, EFAULT, "read-only", v);
	munmap(p, pagesize);
}

/* bad_shared: shared anonymous (shmem) and file pages are refused. */
static void bad_shared(struct mmt_verdict *v)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	memset(p, 1, pagesize);
	expect_refused(p, 1, EOPNOTSUPP, "shared anonymous", v);
	if (!mmt_all_bytes(p, pagesize, 1))
		mmt_fail(v, "the shared page changed");
	munmap(p, pagesize);
}

/* bad_hugetlb: hugetlb pages are refused. */
static void bad_hugetlb(struct mmt_verdict *v)
{
	size_t huge = 2UL << 20;
	char *p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED) {
		mmt_skip(v, "no hugetlb page: %s", strerror(errno));
		return;
	}
	memset(p, 3, huge);
	expect_refused(p, 1, EOPNOTSUPP, "hugetlb", v);
	if (!mmt_all_bytes(p, huge, 3))
		mmt_fail(v, "the hugetlb page changed");
	munmap(p, huge);
}

struct test_case {
	const char *name;
	void (*run)(struct mmt_verdict *v);
};

static const struct test_case cases[] = {
	{ "cpu_read", cpu_read },
	{ "cpu_write", cpu_write },
	{ "device_write", device_write },
	{ "device_mprotect", device_mprotect },
	{ "fork", fork_exclusive },
	{ "fork_locked", fork_locked },
	{ "pageout", pageout },
	{ "move_pages", move_exclusive },
	{ "migrate_race", migrate_race },
	{ "munmap", munmap_exclusive },
	{ "munmap_after_fault", munmap_after_fault },
	{ "munmap_after_fork", munmap_after_fork },
	{ "exit", exit_exclusive },
	{ "thp", thp_exclusive },
	{ "soft_dirty", soft_dirty },
	{ "uffd_wp", uffd_wp },
	{ "pinned", pinned },
	{ "proc", proc_counts },
	{ "gup", gup_restores },
	{ "mremap", mremap_exclusive },
	{ "migrate_pinned", migrate_pinned },
	{ "two_devices", two_devices },
	{ "two_devices_exclusive", two_devices_exclusive },
	{ "ksm", ksm },
	{ "dontneed_race", dontneed_race },
	{ "bad_input", bad_input },
	{ "bad_shared", bad_shared },
	{ "bad_hugetlb", bad_hugetlb },
};

int main(void)
{
	char why[128] = "";
	size_t i;

	ksft_print_header();
	dev[0] = open(DEV0, O_RDWR);
	if (dev[0] < 0)
		snprintf(why, sizeof(why), "%s: %s (CONFIG_TEST_HMM)", DEV0,
			 strerror(errno));
	dev[1] = open(DEV1, O_RDWR);
	if (dev[1] < 0 && !why[0])
		snprintf(why, sizeof(why), "%s: %s", DEV1, strerror(errno));
	mmt_plan(ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mmt_verdict v = { .res = MMT_PASS };

		if (why[0])
			mmt_skip(&v, "%s", why);
		else
			cases[i].run(&v);
		mmt_report(cases[i].name, v.res, NULL, "%s", v.why);
	}
	return mmt_exit();
}
