// SPDX-License-Identifier: GPL-2.0
/*
 * Several threads of one process fault on the same swapped-out page at
 * once.  On a swap device with SWP_SYNCHRONOUS_IO (zram) the swap-in may
 * bypass the swap cache, so that each faulting thread reads the page into
 * a page of its own, and only the PTE, still holding the swap entry, says
 * which one gets mapped.  If the thread that maps first writes the page
 * and it is swapped out again into the same swap slot before a slower
 * thread gets to the PTE, that thread finds the very same swap PTE and
 * maps its stale copy: the write is lost.
 *
 * Every page holds a version number in its first word, which only the
 * writer thread changes, and a constant pattern in the rest.  Per round,
 * the writer pages the pages out (until pagemap shows them swapped), then
 * lets the reader threads go, and all threads fault on the pages at once:
 * the writer reads each page (it must show the writer's last version),
 * stores the next version, reads it back and publishes it; the readers
 * read each page once.  Before the next round the writer waits for the
 * readers, but briefly: a reader still stuck in its fault when the writer
 * pages the page out again is the race.  No thread may see a version older
 * than one published before it looked, or see the version go back; at the
 * end every page must hold the last version.
 *
 * Cases:
 *   system_swap.one_page, system_swap.many_pages
 *       the swap areas the system has.  A freed swap slot goes into a
 *       per-CPU cache first, so it is hardly ever handed out again at
 *       once: these guard the common path rather than expose the race.
 *   one_slot_swap.one_page
 *       a zram swap area of a single slot, the only one active (the
 *       others are swapped off meanwhile and swapped on again after): each
 *       swap-out of the page takes the same swap entry, as the race needs.
 *
 * The lost write needs a faulting thread to stall between reading the
 * swap PTE and mapping its page for as long as the writer takes to map,
 * write and page out; under QEMU/TCG that happens when the host deschedules
 * a virtual CPU.  A run that does not hit the window passes: then the test
 * is a regression guard, not a proof of absence.  The rounds are bounded
 * by count and by time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <linux/mempolicy.h>
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define READERS		3
/* How long the writer waits for the readers of a round, at most. */
#define READERS_WAIT_USEC	500
#define MAX_ROUNDS	20000
#define CASE_SECONDS	20
#define MANY_PAGES	16
#define MAX_SWAPS	16

#define ZRAM_CONTROL	"/sys/class/zram-control/"

/* Swap entry fields of a pagemap entry (admin-guide/mm/pagemap.rst). */
#define PM_SWP_TYPE(e)		((e) & 0x1f)
#define PM_SWP_OFFSET(e)	(((e) & PM_PFN_MASK) >> 5)

/* ---------------------------------------------------------------------- */
/* Pages with a version */

#define WORDS	(pagesize / sizeof(uint64_t))

static uint64_t pattern(size_t page, size_t word)
{
	return (word + 1) * 0x9e3779b97f4a7c15ULL ^ page;
}

static uint64_t *page_at(char *mem, size_t page)
{
	return (uint64_t *)(mem + page * pagesize);
}

static void page_fill(char *mem, size_t page, uint64_t version)
{
	uint64_t *w = page_at(mem, page);
	size_t i;

	w[0] = version;
	for (i = 1; i < WORDS; i++)
		w[i] = pattern(page, i);
}

/* Whether the words after the version are intact. */
static bool page_pattern_ok(char *mem, size_t page)
{
	uint64_t *w = page_at(mem, page);
	size_t i;

	for (i = 1; i < WORDS; i++)
		if (w[i] != pattern(page, i))
			return false;
	return true;
}

static uint64_t page_version(char *mem, size_t page)
{
	return __atomic_load_n(page_at(mem, page), __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------------- */
/* Swapping out */

static char *drain_page;

/*
 * MADV_PAGEOUT takes only pages on the LRU lists: a page another CPU has
 * just faulted in may still sit in that CPU's LRU pagevec.  move_pages()
 * drains the pagevecs of all CPUs before it moves anything, even when it
 * has nothing to move: "move" a page of ours to where it is.
 */
static void drain_all_pagevecs(void)
{
	void *page = drain_page;
	int node, status;

	if (syscall(__NR_move_pages, 0, 1, &page, NULL, &node, 0) ||
	    node < 0)
		return;
	syscall(__NR_move_pages, 0, 1, &page, &node, &status, MPOL_MF_MOVE);
}

/* Page @addr out; its pagemap entry after that (0 if it is not swapped). */
static uint64_t page_out(void *addr)
{
	uint64_t ent;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (tries)
			drain_all_pagevecs();
		if (madvise(addr, pagesize, MADV_PAGEOUT))
			return 0;
		if (pagemap_read(addr, 1, &ent) && (ent & PM_SWAP))
			return ent;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The race */

struct race {
	char *mem;
	size_t npages;
	uint64_t *published;	/* the last version the writer completed */
	int go;			/* all threads start at once */
	int stop;
	double deadline;

	unsigned int gen;	/* rounds started: the readers go */
	unsigned int reads;	/* rounds the readers have read, all told */
	uint64_t *last_ent;	/* the swap PTE of each page, last round */

	pthread_mutex_t lock;	/* protects what follows */
	unsigned long errors;
	char why[256];
	unsigned long rounds, swapped, same_entry;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void race_error(struct race *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->errors++) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
}

static bool race_stopped(struct race *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
}

static void wait_for_go(struct race *r)
{
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void stay_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % CPU_SETSIZE, &set);
	/* Fewer CPUs than we would like: let the scheduler place us. */
	sched_setaffinity(0, sizeof(set), &set);
}

static int nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

static void wait_for_readers(struct race *r, unsigned int round)
{
	double end = now() + READERS_WAIT_USEC / 1e6;

	while (__atomic_load_n(&r->reads, __ATOMIC_ACQUIRE) < READERS * round &&
	       now() < end)
		sched_yield();
}

static void *writer_fn(void *arg)
{
	struct race *r = arg;
	uint64_t v, ent;
	unsigned long round;
	size_t k;

	/* One CPU: MADV_PAGEOUT drains its pagevec, where our faults go. */
	stay_on_cpu(0);
	wait_for_go(r);
	for (round = 0; round < MAX_ROUNDS && !race_stopped(r); round++) {
		if (now() > r->deadline)
			break;
		/*
		 * A reader still reading would fault the pages right back in;
		 * but one stuck in a fault is what the race needs: wait for
		 * the readers a little only.
		 */
		wait_for_readers(r, round);
		for (k = 0; k < r->npages; k++) {
			ent = page_out(page_at(r->mem, k));
			if (!ent)
				continue;
			r->swapped++;
			r->same_entry += ent == r->last_ent[k];
			r->last_ent[k] = ent;
		}
		/* Everyone faults at once. */
		__atomic_store_n(&r->gen, round + 1, __ATOMIC_RELEASE);
		for (k = 0; k < r->npages && !race_stopped(r); k++) {
			v = page_version(r->mem, k);
			if (v != r->published[k]) {
				race_error(r,
					   "page %zu: the writer reads version %llu after writing %llu",
					   k, (unsigned long long)v,
					   (unsigned long long)r->published[k]);
				break;
			}
			if (!page_pattern_ok(r->mem, k)) {
				race_error(r, "page %zu: the writer reads a corrupted page",
					   k);
				break;
			}
			__atomic_store_n(page_at(r->mem, k), v + 1,
					 __ATOMIC_RELAXED);
			if (page_version(r->mem, k) != v + 1) {
				race_error(r, "page %zu: the writer does not read back its write",
					   k);
				break;
			}
			__atomic_store_n(&r->published[k], v + 1,
					 __ATOMIC_RELEASE);
		}
		r->rounds++;
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct reader {
	pthread_t thread;
	struct race *race;
	int index;
};

static void *reader_fn(void *arg)
{
	struct reader *rd = arg;
	struct race *r = rd->race;
	uint64_t *seen = calloc(r->npages, sizeof(*seen));
	unsigned int gen = 0, now_gen;
	uint64_t pub, v;
	size_t i, k;

	if (!seen) {
		race_error(r, "out of memory");
		return NULL;
	}
	/* The readers share the CPUs the writer does not use, if any. */
	stay_on_cpu(nr_cpus() > 1 ? 1 + rd->index % (nr_cpus() - 1) : 0);
	wait_for_go(r);
	while (!race_stopped(r)) {
		/* Touch nothing until the pages are out again. */
		now_gen = __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE);
		if (now_gen == gen) {
			sched_yield();
			continue;
		}
		gen = now_gen;
		for (i = 0; i < r->npages; i++) {
			k = (i + rd->index) % r->npages;
			pub = __atomic_load_n(&r->published[k],
					      __ATOMIC_ACQUIRE);
			/* This read is the one that faults. */
			v = page_version(r->mem, k);
			if (v < pub) {
				race_error(r,
					   "page %zu: a reader sees version %llu after %llu was written",
					   k, (unsigned long long)v,
					   (unsigned long long)pub);
				break;
			}
			if (v < seen[k]) {
				race_error(r,
					   "page %zu: a reader sees version %llu after it saw %llu",
					   k, (unsigned long long)v,
					   (unsigned long long)seen[k]);
				break;
			}
			seen[k] = v;
			if (!page_pattern_ok(r->mem, k)) {
				race_error(r, "page %zu: a reader sees a corrupted page",
					   k);
				break;
			}
		}
		__atomic_fetch_add(&r->reads, 1, __ATOMIC_RELEASE);
	}
	free(seen);
	return NULL;
}

/* Swap-outs of the last race_run(), and how many reused the entry before. */
static unsigned long last_swapped, last_same_entry;

/*
 * Run the rounds on @npages pages; MMT_PASS if every thread saw consistent
 * data, otherwise why not in @why.
 */
static enum mmt_result race_run(const char *name, size_t npages,
				char *why, size_t why_size)
{
	struct reader readers[READERS];
	struct race r;
	pthread_t writer;
	size_t size = npages * pagesize, k;
	enum mmt_result res = MMT_PASS;
	int i, started = 0;

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.npages = npages;
	r.published = calloc(npages, sizeof(*r.published));
	r.last_ent = calloc(npages, sizeof(*r.last_ent));
	r.mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!r.published || !r.last_ent || r.mem == MAP_FAILED) {
		snprintf(why, why_size, "out of memory");
		res = MMT_FAIL;
		goto out;
	}
	madvise(r.mem, size, MADV_NOHUGEPAGE);
	for (k = 0; k < npages; k++) {
		page_fill(r.mem, k, 1);
		r.published[k] = 1;
	}
	for (k = 0; k < npages; k++) {
		r.last_ent[k] = page_out(page_at(r.mem, k));
		if (!r.last_ent[k]) {
			snprintf(why, why_size,
				 "MADV_PAGEOUT does not swap page %zu out", k);
			res = MMT_FAIL;
			goto out;
		}
	}

	r.deadline = now() + CASE_SECONDS;
	if (pthread_create(&writer, NULL, writer_fn, &r)) {
		snprintf(why, why_size, "pthread_create failed");
		res = MMT_FAIL;
		goto out;
	}
	for (i = 0; i < READERS; i++) {
		readers[i].race = &r;
		readers[i].index = i;
		if (pthread_create(&readers[i].thread, NULL, reader_fn,
				   &readers[i])) {
			race_error(&r, "pthread_create failed");
			break;
		}
		started++;
	}
	__atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
	pthread_join(writer, NULL);
	for (i = 0; i < started; i++)
		pthread_join(readers[i].thread, NULL);

	/* Every page holds the last version written, and its pattern. */
	for (k = 0; k < npages && !r.errors; k++) {
		if (page_version(r.mem, k) != r.published[k])
			race_error(&r, "page %zu: version %llu at the end, %llu written",
				   k, (unsigned long long)page_version(r.mem, k),
				   (unsigned long long)r.published[k]);
		else if (!page_pattern_ok(r.mem, k))
			race_error(&r, "page %zu: corrupted at the end", k);
	}
	ksft_print_msg("%s: %lu rounds, %lu swap-outs, %lu reusing the entry before\n",
		       name, r.rounds, r.swapped, r.same_entry);
	last_swapped = r.swapped;
	last_same_entry = r.same_entry;
	if (r.errors) {
		snprintf(why, why_size, "%s (%lu errors in %lu rounds)", r.why,
			 r.errors, r.rounds);
		res = MMT_FAIL;
	} else if (!r.swapped) {
		snprintf(why, why_size, "no page could be swapped out again");
		res = MMT_FAIL;
	}
out:
	if (r.mem != MAP_FAILED)
		munmap(r.mem, size);
	free(r.published);
	free(r.last_ent);
	pthread_mutex_destroy(&r.lock);
	return res;
}

/* ---------------------------------------------------------------------- */
/* A swap area of one slot */

struct swap_area {
	char path[256];
	int prio;
};

static struct swap_area saved[MAX_SWAPS];
static int nr_saved;
static int zram_id = -1;
static char zram_path[64];

/* The active swap areas, from /proc/swaps; -1 if it cannot be read. */
static int swaps_read(struct swap_area *areas, int max)
{
	char line[512], path[256], type[32];
	long size, used;
	int prio, n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %31s %ld %ld %d", path, type, &size,
			   &used, &prio) != 5)
			continue;
		snprintf(areas[n].path, sizeof(areas[n].path), "%s", path);
		areas[n].prio = prio;
		n++;
	}
	fclose(f);
	return n;
}

static int swapon_prio(const char *path, int prio)
{
	int flags = 0;

	if (prio >= 0)
		flags = SWAP_FLAG_PREFER |
			((prio << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
	return swapon(path, flags);
}

/*
 * Under the kernel's fault injection (make-it-fail set for this process,
 * as `make faultinject` does), adding and removing the zram device runs
 * without it: 5.10's add_disk() cannot fail, and an allocation failure
 * inside it leaves the disk half registered, which its removal then
 * dereferences.  That is the block layer's, not what this test is about.
 * Return: the previous setting, to give to injection_restore().
 */
static int injection_pause(void)
{
	char c = '0';
	int fd = open("/proc/self/make-it-fail", O_RDWR);

	if (fd < 0)
		return -1;
	if (pread(fd, &c, 1, 0) != 1 || c == '0' ||
	    pwrite(fd, "0", 1, 0) != 1)
		c = '0';
	close(fd);
	return c - '0';
}

static void injection_restore(int old)
{
	char c = '0' + old;
	int fd;

	if (old <= 0)
		return;
	fd = open("/proc/self/make-it-fail", O_WRONLY);
	if (fd < 0)
		return;
	if (pwrite(fd, &c, 1, 0) != 1)
		ksft_print_msg("cannot restore make-it-fail\n");
	close(fd);
}

/* Undo one_slot_setup(), as far as it got. */
static void one_slot_teardown(void)
{
	char buf[16];
	int i, len;

	if (zram_id >= 0) {
		swapoff(zram_path);
		len = snprintf(buf, sizeof(buf), "%d", zram_id);
		i = open(ZRAM_CONTROL "hot_remove", O_WRONLY);
		if (i >= 0) {
			if (write(i, buf, len) != len)
				ksft_print_msg("cannot remove %s\n", zram_path);
			close(i);
		}
		zram_id = -1;
	}
	for (i = 0; i < nr_saved; i++)
		if (swapon_prio(saved[i].path, saved[i].prio))
			ksft_print_msg("cannot swap on %s again: %s\n",
				       saved[i].path, strerror(errno));
	nr_saved = 0;
}

/* Write a swap header ("SWAPSPACE2", version 1): @slots pages of swap. */
static bool write_swap_header(const char *path, unsigned int slots)
{
	unsigned char *hdr = calloc(1, pagesize);
	uint32_t info[3] = { 1, slots, 0 };	/* version, last_page, bad */
	bool done;
	int fd;

	if (!hdr)
		return false;
	memcpy(hdr + 1024, info, sizeof(info));
	memcpy(hdr + pagesize - 10, "SWAPSPACE2", 10);
	fd = open(path, O_WRONLY);
	done = fd >= 0 && pwrite(fd, hdr, pagesize, 0) == (ssize_t)pagesize &&
	       !fsync(fd);
	if (fd >= 0)
		close(fd);
	free(hdr);
	return done;
}

/*
 * Make a zram swap area with one slot the only active one; false (and why)
 * if that cannot be done, with everything undone.
 */
static bool one_slot_setup(char *why, size_t why_size, bool *skip)
{
	char path[128];
	unsigned long id;
	int i;

	*skip = true;
	if (access(ZRAM_CONTROL "hot_add", R_OK)) {
		snprintf(why, why_size, "no %shot_add", ZRAM_CONTROL);
		return false;
	}
	nr_saved = swaps_read(saved, MAX_SWAPS);
	if (nr_saved < 0) {
		nr_saved = 0;
		snprintf(why, why_size, "cannot read /proc/swaps");
		return false;
	}
	if (!sysfs_read_ulong(ZRAM_CONTROL "hot_add", &id)) {
		nr_saved = 0;
		snprintf(why, why_size, "cannot add a zram device");
		return false;
	}
	zram_id = id;
	snprintf(zram_path, sizeof(zram_path), "/dev/zram%d", zram_id);
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", zram_id);
	*skip = false;
	/* The header page and one slot. */
	if (!sysfs_write_ulong(path, 2 * pagesize) ||
	    !write_swap_header(zram_path, 1)) {
		snprintf(why, why_size, "cannot set up %s", zram_path);
		goto err;
	}
	/*
	 * The swap allocator for solid-state devices never hands out the
	 * slot its per-CPU cursor points at when it has to scan: with one
	 * slot, it would hand out none.  Let the area be "rotational".
	 */
	snprintf(path, sizeof(path), "/sys/block/zram%d/queue/rotational",
		 zram_id);
	if (!sysfs_write_ulong(path, 1)) {
		snprintf(why, why_size, "cannot set up %s", zram_path);
		goto err;
	}
	for (i = 0; i < nr_saved; i++) {
		if (swapoff(saved[i].path)) {
			/* Not allowed to: not a failure of the kernel. */
			*skip = errno == EPERM;
			snprintf(why, why_size, "swapoff %.200s: %s",
				 saved[i].path, strerror(errno));
			nr_saved = i;
			goto err;
		}
	}
	if (swapon(zram_path, 0)) {
		*skip = errno == EPERM;
		snprintf(why, why_size, "swapon %s: %s", zram_path,
			 strerror(errno));
		goto err;
	}
	return true;
err:
	one_slot_teardown();
	return false;
}

/* ---------------------------------------------------------------------- */

static void system_case(const char *name, size_t npages)
{
	char why[512] = "";
	enum mmt_result res;

	if (!swap_available()) {
		mmt_report(name, MMT_SKIP, NULL, "no swap space");
		return;
	}
	res = race_run(name, npages, why, sizeof(why));
	mmt_report(name, res, NULL, "%s", why);
}

static void one_slot_case(const char *name)
{
	char why[512] = "";
	enum mmt_result res;
	int inj = injection_pause();
	bool skip, ready;

	ready = one_slot_setup(why, sizeof(why), &skip);
	injection_restore(inj);
	if (!ready) {
		mmt_report(name, skip ? MMT_SKIP : MMT_FAIL, NULL, "%s", why);
		return;
	}
	res = race_run(name, 1, why, sizeof(why));
	inj = injection_pause();
	one_slot_teardown();
	injection_restore(inj);
	/* The point of the one slot: every swap-out reuses the entry. */
	if (res == MMT_PASS && last_same_entry != last_swapped) {
		snprintf(why, sizeof(why),
			 "only %lu of %lu swap-outs reused the entry: the one-slot set-up did not hold",
			 last_same_entry, last_swapped);
		res = MMT_SKIP;
	}
	mmt_report(name, res, NULL, "%s", why);
}

int main(void)
{
	ksft_print_header();
	mmt_plan(3);
	drain_page = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (drain_page == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* Only a page that is there can be "moved". */
	memset(drain_page, 1, pagesize);
	system_case("system_swap.one_page", 1);
	system_case("system_swap.many_pages", MANY_PAGES);
	one_slot_case("one_slot_swap.one_page");
	return mmt_exit();
}
