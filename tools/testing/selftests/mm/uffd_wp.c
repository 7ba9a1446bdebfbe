// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd write protection of anonymous memory must survive what the
 * kernel does to the pages behind the process's back: KSM unmerging and
 * page migration.
 *
 * ksm.unmerge_wp: identical pages are merged by ksmd, then registered and
 * write-protected with userfaultfd.  MADV_UNMERGEABLE must still give
 * every page a copy of its own: breaking COW there is the kernel's doing,
 * not a write of the process, and no userfaultfd can resolve it.
 * ksm.unmerge_keeps_wp: after that, a write to one of the pages must still
 * be reported as a write-protect fault.
 *
 * <kind>.migrated: a write-protected page (a base page, or a THP that a
 * PMD maps) is moved to another NUMA node with move_pages(); a write to it
 * must then be reported as a write-protect fault.  <kind>.not_migrated is
 * the same without the migration: it shows that write protection works on
 * the kind at all.
 *
 * A write that must be reported is done by a second thread; the main
 * thread waits for the message (bounded), checks it, and removes the
 * protection so that the write completes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include "mm_util.h"

#define OLD	0x5a	/* the content of the pages */
#define NEW	0xa5	/* what the writer thread writes */

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define KSM_PAGES	64
#define KSM_DEADLINE	60	/* seconds ksmd gets to merge our pages */
#define EVENT_TIMEOUT_MS	10000
#define MAX_NODES	64

#define KPF(bit)	(1ULL << (bit))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Time */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------- */
/* userfaultfd */

/*
 * A userfaultfd with [mem, mem + size) registered for write protection;
 * -1 (and why) if that cannot be had.
 */
static int uffd_wp_register(char *mem, size_t size, struct mmt_verdict *v)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		mmt_skip(v, "userfaultfd: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		mmt_fail(v, "UFFDIO_API: %s", strerror(errno));
		goto err;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		mmt_skip(v, "userfaultfd write protection is not supported");
		goto err;
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		/* Write protection of this kind of memory is not supported. */
		mmt_skip(v, "UFFDIO_REGISTER (write protect): %s",
			 strerror(errno));
		goto err;
	}
	if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT))) {
		mmt_skip(v, "no UFFDIO_WRITEPROTECT for this range");
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static bool uffd_protect(int fd, char *mem, size_t size, bool protect,
			 struct mmt_verdict *v)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)mem, .len = size },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		mmt_fail(v, "UFFDIO_WRITEPROTECT (%s): %s",
			 protect ? "protect" : "unprotect", strerror(errno));
		return false;
	}
	return true;
}

struct writer {
	pthread_t thread;
	char *addr;
	int done;	/* set once the write has completed */
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	__atomic_store_n(w->addr, NEW, __ATOMIC_RELAXED);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Write to @addr from another thread; the write must block and be reported
 * on *@fdp as a write-protect fault of its page.  [mem, mem + size) is
 * unprotected afterwards in any case, so that the writer finishes; if that
 * fails, *@fdp is closed (and set to -1), which releases the writer too.
 */
static void expect_wp_fault(int *fdp, char *mem, size_t size, char *addr,
			    struct mmt_verdict *v)
{
	int fd = *fdp;
	struct writer w = { .addr = addr };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct uffd_msg msg;
	uint64_t page = (uintptr_t)addr & ~(uint64_t)(pagesize - 1);
	int ret;

	if (pthread_create(&w.thread, NULL, writer_fn, &w)) {
		mmt_fail(v, "pthread_create failed");
		return;
	}
	ret = poll(&pfd, 1, EVENT_TIMEOUT_MS);
	if (ret < 0) {
		mmt_fail(v, "poll: %s", strerror(errno));
	} else if (!ret) {
		if (__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
			mmt_fail(v, "the write went through without a write-protect fault");
		else
			mmt_fail(v, "the writer is stuck, but no message in %d ms",
				 EVENT_TIMEOUT_MS);
	} else if (read(fd, &msg, sizeof(msg)) != sizeof(msg)) {
		mmt_fail(v, "reading the userfaultfd message: %s",
			 strerror(errno));
	} else if (msg.event != UFFD_EVENT_PAGEFAULT) {
		mmt_fail(v, "unexpected userfaultfd event %u", msg.event);
	} else if (!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
		mmt_fail(v, "a page fault, but not a write-protect one (flags %#llx)",
			 (unsigned long long)msg.arg.pagefault.flags);
	} else if ((msg.arg.pagefault.address & ~(uint64_t)(pagesize - 1)) !=
		   page) {
		mmt_fail(v, "a write-protect fault at %#llx, expected the page %#llx",
			 (unsigned long long)msg.arg.pagefault.address,
			 (unsigned long long)page);
	} else if (__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		mmt_fail(v, "the write completed before its fault was resolved");
	}
	if (!uffd_protect(fd, mem, size, false, v)) {
		close(fd);
		*fdp = -1;
	}
	pthread_join(w.thread, NULL);
	if (__atomic_load_n(addr, __ATOMIC_RELAXED) != (char)NEW)
		mmt_fail(v, "the write is lost");
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
	    !ksm_write("sleep_millisecs", 20) || !ksm_write("run", 1)) {
		mmt_fail(v, "cannot start ksmd: %s", strerror(errno));
		return false;
	}
	return true;
}

static void ksm_stop(void)
{
	if (!ksm_old.saved)
		return;
	ksm_write("run", ksm_old.run);
	ksm_write("sleep_millisecs", ksm_old.sleep_millisecs);
	ksm_write("pages_to_scan", ksm_old.pages_to_scan);
}

/* How many of the @n pages at @mem are KSM pages; -1 if unreadable. */
static long ksm_count(char *mem, size_t n)
{
	uint64_t pfn, flags;
	long ksm = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!page_flags_at(mem + i * pagesize, &pfn, &flags))
			return -1;
		ksm += !!(flags & KPF(KPF_KSM));
	}
	return ksm;
}

/*
 * Wait until pages_sharing is down to @limit (ksmd forgets unmerged pages
 * on its next scan); its last value in *@sharing, false if not in time.
 */
static bool ksm_wait_sharing(unsigned long limit, unsigned long *sharing)
{
	struct timespec tick = { 0, 2000000 };
	double deadline = now() + KSM_DEADLINE;

	do {
		if (!ksm_read("pages_sharing", sharing))
			return false;
		if (*sharing <= limit)
			return true;
		nanosleep(&tick, NULL);
	} while (now() < deadline);
	return false;
}

/*
 * ksm.unmerge_wp and ksm.unmerge_keeps_wp: one set-up, two verdicts.
 */
static void ksm_cases(void)
{
	struct mmt_verdict v = { MMT_PASS, "" }, keep = { MMT_PASS, "" };
	size_t size = KSM_PAGES * pagesize, i;
	struct timespec tick = { 0, 2000000 };
	unsigned long sharing_before, sharing_merged, sharing_after;
	uint64_t pfn0, pfn, flags;
	bool tested = false;
	double deadline;
	long ksm;
	char *mem;
	int fd = -1;

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		mmt_fail(&v, "mmap: %s", strerror(errno));
		goto out;
	}
	memset(mem, OLD, size);
	if (ksm_count(mem, KSM_PAGES) < 0) {
		mmt_skip(&v, "no PFNs in pagemap or no kpageflags");
		goto out;
	}
	if (!ksm_start(&v))
		goto out;
	if (!ksm_read("pages_sharing", &sharing_before)) {
		mmt_fail(&v, "cannot read " KSM_DIR "pages_sharing");
		goto out;
	}
	if (madvise(mem, size, MADV_MERGEABLE)) {
		mmt_fail(&v, "MADV_MERGEABLE: %s", strerror(errno));
		goto out;
	}
	/* Merged: every page is a KSM page, and all are the same one. */
	deadline = now() + KSM_DEADLINE;
	for (;;) {
		ksm = ksm_count(mem, KSM_PAGES);
		if (ksm == KSM_PAGES || ksm < 0 || now() > deadline)
			break;
		nanosleep(&tick, NULL);
	}
	if (ksm != KSM_PAGES) {
		mmt_fail(&v, "ksmd merged %ld of %d identical pages in %d s", ksm,
			 KSM_PAGES, KSM_DEADLINE);
		goto out;
	}
	pfn0 = pagemap_pfn(mem);
	for (i = 1; i < KSM_PAGES; i++) {
		if (pagemap_pfn(mem + i * pagesize) != pfn0) {
			mmt_fail(&v, "the merged pages are not one KSM page");
			goto out;
		}
	}
	ksm_read("pages_sharing", &sharing_merged);

	fd = uffd_wp_register(mem, size, &v);
	if (fd < 0 || !uffd_protect(fd, mem, size, true, &v))
		goto out;
	if (madvise(mem, size, MADV_UNMERGEABLE)) {
		mmt_fail(&v, "MADV_UNMERGEABLE: %s", strerror(errno));
		goto out;
	}
	ksm = ksm_count(mem, KSM_PAGES);
	if (ksm)
		mmt_fail(&v, "%ld of %d pages are still KSM pages after MADV_UNMERGEABLE",
			 ksm, KSM_PAGES);
	for (i = 0; i < KSM_PAGES; i++) {
		if (!page_flags_at(mem + i * pagesize, &pfn, &flags)) {
			mmt_fail(&v, "page %zu is not present", i);
			break;
		}
		if (pfn == pfn0) {
			mmt_fail(&v, "page %zu still maps the KSM page frame", i);
			break;
		}
	}
	if (!mmt_all_bytes(mem, size, OLD))
		mmt_fail(&v, "the pages lost their data");
	if (!ksm_wait_sharing(sharing_before, &sharing_after))
		mmt_fail(&v,
			 "pages_sharing still %lu %d s after unmerging, %lu before merging, %lu merged",
			 sharing_after, KSM_DEADLINE, sharing_before,
			 sharing_merged);

	/* However the pages were (or were not) unmerged: still protected? */
	expect_wp_fault(&fd, mem, size, mem + 7 * pagesize + 42, &keep);
	tested = true;
out:
	ksm_stop();
	if (fd >= 0)
		close(fd);
	if (mem != MAP_FAILED)
		munmap(mem, size);
	if (!tested)
		mmt_skip(&keep, "the set-up failed");
	mmt_report("ksm.unmerge_wp", v.res, NULL, "%s", v.why);
	mmt_report("ksm.unmerge_keeps_wp", keep.res, NULL, "%s", keep.why);
}

/* ---------------------------------------------------------------------- */
/* Migration */

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

static long move_pages(unsigned long count, void **pages, const int *nodes,
		       int *status, int flags)
{
	return syscall(__NR_move_pages, 0, count, pages, nodes, status,
		       flags);
}

/* Move the page (base, THP or hugetlb) at @addr to another node. */
static void migrate_page(char *addr, struct mmt_verdict *v)
{
	int nodes[MAX_NODES], n, i, node = -1, status;
	void *page = addr;
	long ret;

	n = memory_nodes(nodes, MAX_NODES);
	if (n < 2) {
		mmt_skip(v, "only one NUMA node has memory");
		return;
	}
	ret = move_pages(1, &page, NULL, &status, 0);
	if (ret || status < 0) {
		mmt_fail(v, "move_pages (query): %s",
			 strerror(ret ? errno : -status));
		return;
	}
	for (i = 0; i < n && node < 0; i++)
		if (nodes[i] != status)
			node = nodes[i];
	ret = move_pages(1, &page, &node, &status, MPOL_MF_MOVE);
	if (ret) {
		mmt_fail(v, "move_pages: %s", ret < 0 ? strerror(errno) :
			 "the page was not migrated");
		return;
	}
	if (status != node)
		mmt_fail(v, "move_pages: page status %d, wanted node %d", status,
			 node);
	ret = move_pages(1, &page, NULL, &status, 0);
	if (ret || status != node)
		mmt_fail(v, "the page is not on node %d after move_pages", node);
}

struct kind {
	const char *name;
	bool thp;
};

static const struct kind kinds[] = {
	{ "base_page", false },
	{ "thp", true },
};

static void migrate_case(const struct kind *k, bool migrate)
{
	struct mmt_verdict v = { MMT_PASS, "" };
	size_t size = k->thp ? thp_pmd_size() : pagesize;
	char name[64], *mem = NULL;
	uint64_t pfn;
	int fd = -1;

	snprintf(name, sizeof(name), "%s.%s", k->name,
		 migrate ? "migrated" : "not_migrated");
	if (!size) {
		mmt_skip(&v, "THP is not available");
		goto out;
	}
	mem = mmap_aligned(size, size);
	if (!mem) {
		mmt_fail(&v, "mmap: %s", strerror(errno));
		goto out;
	}
	if (k->thp && madvise(mem, size, MADV_HUGEPAGE)) {
		mmt_skip(&v, "MADV_HUGEPAGE: %s", strerror(errno));
		goto out;
	}
	memset(mem, OLD, size);
	if (k->thp && !range_is_thp(mem, size)) {
		mmt_skip(&v, "could not get a THP");
		goto out;
	}
	fd = uffd_wp_register(mem, size, &v);
	if (fd < 0 || !uffd_protect(fd, mem, size, true, &v))
		goto out;
	pfn = pagemap_pfn(mem);
	if (migrate) {
		migrate_page(mem, &v);
		if (!mmt_ok(&v))
			goto out;
		if (pfn && pagemap_pfn(mem) == pfn) {
			mmt_fail(&v, "the page frame did not change");
			goto out;
		}
		if (k->thp && !range_is_thp(mem, size)) {
			/* Then the PTE path was tested, not the PMD one. */
			mmt_skip(&v, "migration split the THP");
			goto out;
		}
		if (!mmt_all_bytes(mem, size, OLD)) {
			mmt_fail(&v, "the data changed in migration");
			goto out;
		}
	}
	expect_wp_fault(&fd, mem, size, mem + size / 2 + 42, &v);
	if (k->thp && !range_is_thp(mem, size))
		ksft_print_msg("%s: no longer a PMD-mapped THP after the write\n",
			       name);
out:
	if (fd >= 0)
		close(fd);
	if (mem)
		munmap(mem, size);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

int main(void)
{
	size_t k;

	ksft_print_header();
	mmt_plan(2 + 2 * ARRAY_SIZE(kinds));
	ksm_cases();
	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		migrate_case(&kinds[k], false);
		migrate_case(&kinds[k], true);
	}
	return mmt_exit();
}
