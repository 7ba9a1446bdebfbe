// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of the anonymous-memory paths that follow who owns a page: first
 * fault, COW fault after fork, fork, swap-out and swap-in.
 *
 * Reference kernel: vanilla
 *
 * Cases (sizes per run; base pages unless named _thp, as every mapping but
 * anon_fault_thp's is MADV_NOHUGEPAGE):
 *   anon_fault      write one byte to each page of a fresh 256 MiB mapping
 *   anon_fault_thp  the same on a MADV_HUGEPAGE mapping: one fault and one
 *                   2 MiB clear per PMD (per-page figures are per 4 KiB)
 *   cow_fault       fork, then the child writes one byte to each of the
 *                   256 MiB it shares with the parent; the child times its
 *                   loop and hands the figure to the parent through a pipe,
 *                   so the parent's pages stay shared while it runs
 *   fork            fork() of a process with 1 GiB of populated anonymous
 *                   memory, timed in the parent until fork() returns; the
 *                   child waits on a pipe until the parent has its figure,
 *                   so the child's exit is not counted
 *   fork_thp        the same with 1 GiB of PMD-mapped THPs (MADV_HUGEPAGE)
 *   zap_munmap      munmap() of 1 GiB of populated anonymous memory
 *   zap_exit        exit of a child that populated 1 GiB, timed in the
 *                   parent from the byte that lets the child go until
 *                   waitpid() returns
 *   dontneed        MADV_DONTNEED of 1 GiB of populated anonymous memory
 *   ksm_merge       ksmd merging 256 MiB of identical pages
 *                   (MADV_MERGEABLE): timed from switching ksmd on until
 *                   every page is merged; ksmd scans every page
 *                   in one batch and sleeps 1 ms between scans, and the
 *                   program polls every millisecond
 *   swap_out        MADV_PAGEOUT of 64 MiB to zram
 *   swap_in_read    read one byte of each of those 64 MiB: swap-in by read
 *                   fault (do_swap_page() without a write)
 *   swap_in_write   write one byte of each page of another 64 MiB just
 *                   swapped out: swap-in by write fault
 * Before each fork the parent writes every page again, so that every run
 * starts from the same state: each page mapped writable by the parent only.
 * A swapped page holds a 64-byte pattern of its own, repeated: not
 * same-filled (zram would store nothing) and cheap to compress, so that the
 * compressor does not hide the mm paths.  A swap case checks that every page
 * really left (pagemap bit 62, pages written to zram0) and came back from
 * zram (pages read from zram0, contents); it reports an error, not a
 * figure, otherwise.
 *
 * Each case runs RUNS times; the time is CLOCK_MONOTONIC around the timed
 * loop or call only.  Under QEMU -icount shift=0,sleep=off guest time
 * counts executed instructions (1 ns each, all vCPUs together).  The
 * program pins itself, and so its children, to CPU 0.
 *
 * Output lines: "bench <case> <figure> <value>" with the figures pages,
 * median_ns, ns_per_page and spread_pct ((max - min) / median); every run's
 * time in a comment line.  Arguments, if any, name the cases to run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "bench_util.h"
#include "mm_util.h"

#define RUNS		9
#define FAULT_SIZE	((256UL << 20) / bench_shrink)
#define FORK_SIZE	((1UL << 30) / bench_shrink)
#define SWAP_SIZE	((64UL << 20) / bench_shrink)
#define KSM_SIZE	((256UL << 20) / bench_shrink)
#define KSM_SYSFS	"/sys/kernel/mm/ksm/"
#define PMD_ALIGN	(2UL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int fail(const char *name, const char *what)
{
	printf("# %s: %s\n", name, what);
	return -1;
}

static int fail_sys(const char *name, const char *call)
{
	printf("# %s: %s: %s\n", name, call, strerror(errno));
	return -1;
}

/* A private anonymous mapping, PMD-aligned so every run has the same tables. */
static char *map_anon(size_t size, int advice)
{
	char *mem = mmap_aligned(size, PMD_ALIGN);

	if (mem && madvise(mem, size, advice)) {
		munmap(mem, size);
		return NULL;
	}
	return mem;
}

static void write_pages(char *mem, size_t size, char val)
{
	size_t off;

	for (off = 0; off < size; off += pagesize)
		mem[off] = val;
}

/* What read_pages() read, kept so that the reads cannot be left out. */
unsigned int read_sum;

static void read_pages(const char *mem, size_t size)
{
	unsigned int sum = 0;
	size_t off;

	for (off = 0; off < size; off += pagesize)
		sum += mem[off];
	read_sum += sum;
}

struct bench_case {
	const char *name;
	int (*run)(const struct bench_case *c);
	bool thp;	/* anon_fault, fork: MADV_HUGEPAGE */
	bool write;	/* swap-in: by write fault */
};

static int anon_fault(const struct bench_case *c)
{
	size_t pages = FAULT_SIZE / pagesize;
	long want = c->thp ? (long)(FAULT_SIZE >> 10) : 0, kb;
	uint64_t ns[RUNS], t;
	char *mem;
	int r;

	for (r = 0; r < RUNS; r++) {
		mem = map_anon(FAULT_SIZE, c->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		if (!mem)
			return fail_sys(c->name, "mmap");
		bench_gate(c->name, r, true);
		t = now_ns();
		write_pages(mem, FAULT_SIZE, 1);
		ns[r] = now_ns() - t;
		bench_gate(c->name, r, false);
		kb = smaps_kb(mem, "AnonHugePages");
		munmap(mem, FAULT_SIZE);
		if (kb != want) {
			printf("# %s: AnonHugePages %ld kB, not %ld kB\n",
			       c->name, kb, want);
			return fail(c->name, "not the page size the case is about");
		}
	}
	bench_report(c->name, ns, RUNS, pages);
	return 0;
}

/* Fork; the child times its write to every page and sends the figure. */
static int cow_fault_run(const struct bench_case *c, char *mem, int r,
			 uint64_t *ns)
{
	int p[2], status;
	uint64_t t;
	pid_t pid;

	if (pipe(p))
		return fail_sys(c->name, "pipe");
	pid = fork();
	if (pid < 0)
		return fail_sys(c->name, "fork");
	if (pid == 0) {
		bench_gate(c->name, r, true);
		t = now_ns();
		write_pages(mem, FAULT_SIZE, r + 1);
		t = now_ns() - t;
		bench_gate(c->name, r, false);
		_exit(write(p[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], ns, sizeof(*ns)) != sizeof(*ns))
		*ns = 0;
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || status || !*ns)
		return fail(c->name, "the child failed");
	return 0;
}

static int cow_fault(const struct bench_case *c)
{
	size_t pages = FAULT_SIZE / pagesize;
	uint64_t ns[RUNS];
	int r, ret = 0;
	char *mem;

	mem = map_anon(FAULT_SIZE, MADV_NOHUGEPAGE);
	if (!mem)
		return fail_sys(c->name, "mmap");
	for (r = 0; r < RUNS && !ret; r++) {
		write_pages(mem, FAULT_SIZE, r);
		ret = cow_fault_run(c, mem, r, &ns[r]);
	}
	munmap(mem, FAULT_SIZE);
	if (!ret)
		bench_report(c->name, ns, RUNS, pages);
	return ret;
}

/* Fork, timed in the parent; the child leaves once the parent has its figure. */
static int fork_run(const struct bench_case *c, int r, uint64_t *ns)
{
	int p[2], status;
	uint64_t t;
	pid_t pid;
	char b = 0;

	if (pipe(p))
		return fail_sys(c->name, "pipe");
	bench_gate(c->name, r, true);
	t = now_ns();
	pid = fork();
	if (pid == 0)
		_exit(read(p[0], &b, 1) == 1 ? 0 : 1);
	*ns = now_ns() - t;
	bench_gate(c->name, r, false);
	if (pid < 0)
		return fail_sys(c->name, "fork");
	if (write(p[1], &b, 1) != 1)
		kill(pid, SIGKILL);
	close(p[0]);
	close(p[1]);
	if (waitpid(pid, &status, 0) != pid || status)
		return fail(c->name, "the child failed");
	return 0;
}

static int fork_case(const struct bench_case *c)
{
	size_t pages = FORK_SIZE / pagesize;
	uint64_t ns[RUNS];
	int r, ret = 0;
	char *mem;

	mem = map_anon(FORK_SIZE, c->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (!mem)
		return fail_sys(c->name, "mmap");
	for (r = 0; r < RUNS && !ret; r++) {
		write_pages(mem, FORK_SIZE, r);
		ret = fork_run(c, r, &ns[r]);
	}
	if (!ret && c->thp && smaps_kb(mem, "AnonHugePages") != (long)(FORK_SIZE >> 10))
		ret = fail(c->name, "the memory is not all THPs");
	munmap(mem, FORK_SIZE);
	if (!ret)
		bench_report(c->name, ns, RUNS, pages);
	return ret;
}

/* munmap() or MADV_DONTNEED of 1 GiB just written: the zap of every PTE. */
static int zap_case(const struct bench_case *c)
{
	size_t pages = FORK_SIZE / pagesize;
	bool unmap = !strcmp(c->name, "zap_munmap");
	uint64_t ns[RUNS], t;
	int r, err;
	char *mem;

	for (r = 0; r < RUNS; r++) {
		mem = map_anon(FORK_SIZE, MADV_NOHUGEPAGE);
		if (!mem)
			return fail_sys(c->name, "mmap");
		write_pages(mem, FORK_SIZE, r + 1);
		bench_gate(c->name, r, true);
		t = now_ns();
		err = unmap ? munmap(mem, FORK_SIZE) :
			      madvise(mem, FORK_SIZE, MADV_DONTNEED);
		ns[r] = now_ns() - t;
		bench_gate(c->name, r, false);
		if (err)
			return fail_sys(c->name, unmap ? "munmap" : "madvise");
		if (!unmap) {
			/* The next touch reads zeroes from fresh pages. */
			if (mem[pagesize] || mem[FORK_SIZE - 1]) {
				munmap(mem, FORK_SIZE);
				return fail(c->name, "MADV_DONTNEED kept the contents");
			}
			munmap(mem, FORK_SIZE);
		}
	}
	bench_report(c->name, ns, RUNS, pages);
	return 0;
}

/*
 * A child populates 1 GiB of its own, says so, and exits when the parent
 * lets it; the parent times from letting it go until waitpid() returns.
 */
static int zap_exit_run(const struct bench_case *c, int r, uint64_t *ns)
{
	int ready[2], go[2], status;
	char b = 0;
	uint64_t t;
	pid_t pid;

	if (pipe(ready))
		return fail_sys(c->name, "pipe");
	if (pipe(go)) {
		close(ready[0]);
		close(ready[1]);
		return fail_sys(c->name, "pipe");
	}
	pid = fork();
	if (pid < 0)
		return fail_sys(c->name, "fork");
	if (pid == 0) {
		char *mem = map_anon(FORK_SIZE, MADV_NOHUGEPAGE);

		if (!mem)
			_exit(1);
		write_pages(mem, FORK_SIZE, 1);
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	status = read(ready[0], &b, 1) == 1;
	bench_gate(c->name, r, true);
	t = now_ns();
	if (!status || write(go[1], &b, 1) != 1)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	*ns = now_ns() - t;
	bench_gate(c->name, r, false);
	close(ready[0]);
	close(go[1]);
	if (status)
		return fail(c->name, "the child failed");
	return 0;
}

static int zap_exit(const struct bench_case *c)
{
	uint64_t ns[RUNS];
	int r;

	for (r = 0; r < RUNS; r++)
		if (zap_exit_run(c, r, &ns[r]))
			return -1;
	bench_report(c->name, ns, RUNS, FORK_SIZE / pagesize);
	return 0;
}

static bool ksm_write(const char *file, long val)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), KSM_SYSFS "%s", file);
	f = fopen(path, "w");
	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", val) > 0;
	return fclose(f) == 0 && ok;
}

static long ksm_read(const char *file)
{
	char path[128];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), KSM_SYSFS "%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* One merge of @mem, timed; ksmd is stopped and everything unmerged after. */
static int ksm_run(const struct bench_case *c, char *mem, int r, uint64_t *ns)
{
	long want = KSM_SIZE / pagesize, merged = 0, polls;
	uint64_t t;
	size_t off;

	for (off = 0; off < KSM_SIZE; off += pagesize)
		memset(mem + off, 0x5a + r, pagesize);
	if (madvise(mem, KSM_SIZE, MADV_MERGEABLE))
		return fail_sys(c->name, "MADV_MERGEABLE");
	bench_gate(c->name, r, true);
	t = now_ns();
	if (!ksm_write("run", 1))
		return fail_sys(c->name, "ksm run");
	/* ten seconds of guest time at most: ten times what the merge takes */
	for (polls = 0; polls < 10000; polls++) {
		merged = ksm_read("pages_shared") + ksm_read("pages_sharing");
		if (merged >= want)
			break;
		usleep(1000);
	}
	*ns = now_ns() - t;
	bench_gate(c->name, r, false);
	/* stop ksmd and split every KSM page again, outside the timing */
	if (!ksm_write("run", 2) || madvise(mem, KSM_SIZE, MADV_UNMERGEABLE))
		return fail_sys(c->name, "ksm unmerge");
	if (merged != want || ksm_read("pages_shared") != 0) {
		printf("# %s: %ld of %ld pages merged\n", c->name, merged, want);
		return fail(c->name, "ksmd did not merge every page");
	}
	for (off = 0; off < KSM_SIZE; off += pagesize)
		if (mem[off] != (char)(0x5a + r) || mem[off + pagesize - 1] != (char)(0x5a + r))
			return fail(c->name, "a merged page lost its contents");
	return 0;
}

static int ksm_merge(const struct bench_case *c)
{
	uint64_t ns[RUNS];
	int r, ret = 0;
	char *mem;

	if (ksm_read("run") < 0)
		return fail(c->name, "no " KSM_SYSFS);
	if (!ksm_write("run", 2) || !ksm_write("pages_to_scan", KSM_SIZE / pagesize + 64) ||
	    !ksm_write("sleep_millisecs", 1))
		return fail_sys(c->name, "ksm setup");
	mem = map_anon(KSM_SIZE, MADV_NOHUGEPAGE);
	if (!mem)
		return fail_sys(c->name, "mmap");
	for (r = 0; r < RUNS && !ret; r++)
		ret = ksm_run(c, mem, r, &ns[r]);
	munmap(mem, KSM_SIZE);
	ksm_write("run", 0);
	if (!ret)
		bench_report(c->name, ns, RUNS, KSM_SIZE / pagesize);
	return ret;
}

/* Word @w of the 64-byte block that page @i of run @r repeats. */
static uint64_t pattern(size_t i, int r, int w)
{
	return ((uint64_t)r << 56) | ((uint64_t)i << 8) | (w + 1);
}

static void fill(char *mem, size_t size, int r)
{
	size_t i, j, words = pagesize / sizeof(uint64_t);
	uint64_t *q;

	for (i = 0; i < size / pagesize; i++) {
		q = (uint64_t *)(mem + i * pagesize);
		for (j = 0; j < words; j++)
			q[j] = pattern(i, r, j % 8);
	}
}

/* Whether each page still holds its pattern (first word, one sample block). */
static bool filled(const char *mem, size_t size, int r)
{
	const char *page;
	size_t i;

	for (i = 0; i < size / pagesize; i++) {
		page = mem + i * pagesize;
		if (*(const uint64_t *)page != pattern(i, r, 0) ||
		    memcmp(page + 64 * (i % (pagesize / 64)), page, 64))
			return false;
	}
	return true;
}

/*
 * Pages read from and written to zram0 so far, from its block-layer
 * counters (sectors of 512 bytes); false if there is no zram0.
 */
static bool zram_pages(long *read, long *written)
{
	FILE *f = fopen("/sys/block/zram0/stat", "r");
	long rd, rs, wr, ws, ignored;
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%ld %ld %ld %ld %ld %ld %ld", &rd, &ignored, &rs,
		    &ignored, &wr, &ignored, &ws) == 7;
	fclose(f);
	*read = rs * 512 / pagesize;
	*written = ws * 512 / pagesize;
	return ok;
}

/* How many pages of [mem, mem + size) pagemap shows as swapped out. */
static long swapped_pages(const char *mem, size_t size)
{
	size_t n = size / pagesize, i;
	uint64_t *pm = malloc(n * sizeof(*pm));
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long swapped = -1;

	if (fd >= 0 && pm &&
	    pread(fd, pm, n * sizeof(*pm),
		  (uintptr_t)mem / pagesize * sizeof(*pm)) ==
	    (ssize_t)(n * sizeof(*pm))) {
		swapped = 0;
		for (i = 0; i < n; i++)
			swapped += !!(pm[i] & PM_SWAP);
	}
	if (fd >= 0)
		close(fd);
	free(pm);
	return swapped;
}

/*
 * One run of a swap case on @mem: fill it, page it out (*out_ns), touch
 * every page by reading or writing (*in_ns).  The write stores the byte the
 * page already holds, so the contents can be checked either way.
 */
static int swap_run(const struct bench_case *c, char *mem, int r,
		    uint64_t *out_ns, uint64_t *in_ns)
{
	long pages = SWAP_SIZE / pagesize, rd[3], wr[3], swapped;
	uint64_t t;

	fill(mem, SWAP_SIZE, r);
	if (!zram_pages(&rd[0], &wr[0]))
		return fail(c->name, "no /sys/block/zram0/stat");
	bench_gate("swap_out", c->write ? -1 : r, true);
	t = now_ns();
	if (madvise(mem, SWAP_SIZE, MADV_PAGEOUT))
		return fail_sys(c->name, "MADV_PAGEOUT");
	*out_ns = now_ns() - t;
	bench_gate("swap_out", c->write ? -1 : r, false);
	zram_pages(&rd[1], &wr[1]);
	swapped = swapped_pages(mem, SWAP_SIZE);
	if (swapped != pages || wr[1] - wr[0] != pages) {
		printf("# %s: %ld of %ld pages swapped out, %ld written to zram\n",
		       c->name, swapped, pages, wr[1] - wr[0]);
		return fail(c->name, "MADV_PAGEOUT did not swap every page out");
	}

	bench_gate(c->name, r, true);
	t = now_ns();
	if (c->write)
		write_pages(mem, SWAP_SIZE, (char)pattern(0, r, 0));
	else
		read_pages(mem, SWAP_SIZE);
	*in_ns = now_ns() - t;
	bench_gate(c->name, r, false);
	zram_pages(&rd[2], &wr[2]);
	if (rd[2] - rd[1] != pages || !filled(mem, SWAP_SIZE, r)) {
		printf("# %s: %ld pages read from zram for %ld\n", c->name,
		       rd[2] - rd[1], pages);
		return fail(c->name, "the pages did not come back from zram intact");
	}
	return 0;
}

static int swap_case(const struct bench_case *c)
{
	size_t pages = SWAP_SIZE / pagesize;
	uint64_t out[RUNS], in[RUNS];
	int r, ret = 0;
	char *mem;

	for (r = 0; r < RUNS && !ret; r++) {
		mem = map_anon(SWAP_SIZE, MADV_NOHUGEPAGE);
		if (!mem)
			return fail_sys(c->name, "mmap");
		ret = swap_run(c, mem, r, &out[r], &in[r]);
		munmap(mem, SWAP_SIZE);
	}
	if (ret)
		return ret;
	if (!c->write)
		bench_report("swap_out", out, RUNS, pages);
	bench_report(c->name, in, RUNS, pages);
	return 0;
}

static const struct bench_case cases[] = {
	{ "anon_fault", anon_fault, false, false },
	{ "anon_fault_thp", anon_fault, true, false },
	{ "cow_fault", cow_fault, false, false },
	{ "fork", fork_case, false, false },
	{ "fork_thp", fork_case, true, false },
	{ "zap_munmap", zap_case, false, false },
	{ "zap_exit", zap_exit, false, false },
	{ "dontneed", zap_case, false, false },
	{ "ksm_merge", ksm_merge, false, false },
	/* Reports swap_out too. */
	{ "swap_in_read", swap_case, false, false },
	{ "swap_in_write", swap_case, false, true },
};

/* bench_wanted(), with swap_out standing for the case that reports it. */
static bool wanted(const char *name, int argc, char **argv)
{
	return bench_wanted(name, argc, argv) ||
	       (!strcmp(name, "swap_in_read") &&
		bench_wanted("swap_out", argc, argv));
}

int main(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (!bench_on_cpu0())
		return 1;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (wanted(cases[i].name, argc, argv) && cases[i].run(&cases[i]))
			ret = 1;
	return ret;
}
