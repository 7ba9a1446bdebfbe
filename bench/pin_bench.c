// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of GUP-fast on memory the process owns: get_user_pages_fast() and
 * pin_user_pages_fast(), read-only and read-write, of 256 MiB, through the
 * kernel's GUP benchmark ioctls.
 *
 * Reference kernel: vanilla
 *
 * The series has /sys/kernel/debug/gup_test; the vanilla kernel has the
 * older /sys/kernel/debug/gup_benchmark (CONFIG_GUP_BENCHMARK), whose fast
 * ioctls run the same calls under other numbers.  Both time the get/pin
 * loop in the kernel and report it in microseconds; that loop is the
 * figure (the release is not counted).  One call covers 512 pages.
 *
 * Cases (256 MiB of base pages, MADV_NOHUGEPAGE):
 *   gup_fast_ro_anon   get_user_pages_fast() of exclusive anonymous memory
 *   gup_fast_rw_anon   the same with FOLL_WRITE
 *   pin_fast_ro_anon   pin_user_pages_fast() of exclusive anonymous memory
 *   pin_fast_rw_anon   the same with FOLL_WRITE
 *   pin_fast_ro_file   pin_user_pages_fast() of a MAP_PRIVATE mapping of a
 *                      memfd whose pages the process has read: the pins
 *                      take the page-cache pages
 *   pin_fast_rw_file   the same with FOLL_WRITE on a fresh mapping each run:
 *                      every page is copied (GUP-fast finds only read-only
 *                      entries and the slow path breaks COW)
 * "Exclusive anonymous" memory was written by this process and never shared.
 * After each run the case checks that every page was got or pinned.
 *
 * Each case runs RUNS times; under QEMU -icount shift=0,sleep=off guest time
 * counts executed instructions (1 ns each).  Output lines: "bench <case>
 * <figure> <value>" with pages, median_ns, ns_per_page and spread_pct.
 * Arguments, if any, name the cases to run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "bench_util.h"
#include "mm/gup_test.h"
#include "mm_util.h"

#define RUNS		9
#define PIN_SIZE	((256UL << 20) / bench_shrink)
#define PER_CALL	512
#define PMD_ALIGN	(2UL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The vanilla kernel's gup_benchmark (mm/gup_benchmark.c in 5.10). */
struct gup_benchmark_arg {
	__u64 get_delta_usec;
	__u64 put_delta_usec;
	__u64 addr;
	__u64 size;
	__u32 nr_pages_per_call;
	__u32 flags;
	__u64 expansion[10];
};

#define GB_GUP_FAST	_IOWR('g', 1, struct gup_benchmark_arg)
#define GB_PIN_FAST	_IOWR('g', 3, struct gup_benchmark_arg)

#define GUP_FLAG_WRITE	0x1	/* FOLL_WRITE in both interfaces */

struct bench_case {
	const char *name;
	bool pin;
	bool write;
	bool file;
};

static int dev = -1;
static bool old_iface;	/* gup_benchmark rather than gup_test */

static int open_dev(void)
{
	dev = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (dev >= 0)
		return 0;
	dev = open("/sys/kernel/debug/gup_benchmark", O_RDWR);
	if (dev >= 0) {
		old_iface = true;
		return 0;
	}
	printf("# neither gup_test nor gup_benchmark: %s\n", strerror(errno));
	return -1;
}

/*
 * One get/pin pass over [mem, mem + size); *usec is the kernel's time for
 * it, *done the bytes it covered.
 */
static int gup_pass(const struct bench_case *c, char *mem, size_t size,
		    uint64_t *usec, uint64_t *done)
{
	__u32 flags = c->write ? GUP_FLAG_WRITE : 0;

	if (old_iface) {
		struct gup_benchmark_arg a = {
			.addr = (uintptr_t)mem, .size = size,
			.nr_pages_per_call = PER_CALL, .flags = flags,
		};

		if (ioctl(dev, c->pin ? GB_PIN_FAST : GB_GUP_FAST, &a))
			return -1;
		*usec = a.get_delta_usec;
		*done = a.size;
	} else {
		struct gup_test a = {
			.addr = (uintptr_t)mem, .size = size,
			.nr_pages_per_call = PER_CALL, .gup_flags = flags,
		};

		if (ioctl(dev, c->pin ? PIN_FAST_BENCHMARK : GUP_FAST_BENCHMARK, &a))
			return -1;
		*usec = a.get_delta_usec;
		*done = a.size;
	}
	return 0;
}

/* What touch_pages() read, kept so that the reads cannot be left out. */
unsigned int read_sum;

static void touch_pages(char *mem, size_t size, bool write)
{
	unsigned int sum = 0;
	size_t off;

	for (off = 0; off < size; off += pagesize) {
		if (write)
			mem[off] = 1;
		else
			sum += mem[off];
	}
	read_sum += sum;
}

/* A memfd of @size whose every page holds data. */
static int make_memfd(size_t size)
{
	int fd = syscall(SYS_memfd_create, "pin_bench", 0);
	char *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size))
		goto err;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	touch_pages(p, size, true);
	munmap(p, size);
	return fd;
err:
	close(fd);
	return -1;
}

/*
 * The memory of one run: the anonymous mapping is made once and kept; a
 * file case maps the memfd afresh each run and reads every page, so that
 * GUP-fast finds every entry present.
 */
static char *run_mapping(const struct bench_case *c, int fd, char *anon)
{
	char *mem;

	if (!c->file)
		return anon;
	mem = mmap(NULL, PIN_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (mem == MAP_FAILED)
		return NULL;
	touch_pages(mem, PIN_SIZE, false);
	return mem;
}

static int run_case(const struct bench_case *c)
{
	size_t pages = PIN_SIZE / pagesize;
	uint64_t ns[RUNS], usec, done;
	char *anon = NULL, *mem;
	int r, err, fd = -1, ret = -1;

	if (c->file) {
		fd = make_memfd(PIN_SIZE);
		if (fd < 0) {
			printf("# %s: memfd: %s\n", c->name, strerror(errno));
			return -1;
		}
	} else {
		anon = mmap_aligned(PIN_SIZE, PMD_ALIGN);
		if (!anon || madvise(anon, PIN_SIZE, MADV_NOHUGEPAGE)) {
			printf("# %s: mmap: %s\n", c->name, strerror(errno));
			return -1;
		}
		touch_pages(anon, PIN_SIZE, true);
	}
	for (r = 0; r < RUNS; r++) {
		mem = run_mapping(c, fd, anon);
		if (!mem) {
			printf("# %s: mmap: %s\n", c->name, strerror(errno));
			goto out;
		}
		/* a trace covers the put too, which is not timed */
		bench_gate(c->name, r, true);
		err = gup_pass(c, mem, PIN_SIZE, &usec, &done);
		bench_gate(c->name, r, false);
		if (err) {
			printf("# %s: ioctl: %s\n", c->name, strerror(errno));
			goto out;
		}
		if (c->file)
			munmap(mem, PIN_SIZE);
		if (done != PIN_SIZE) {
			printf("# %s: %llu of %lu bytes got\n", c->name,
			       (unsigned long long)done, PIN_SIZE);
			goto out;
		}
		ns[r] = usec * 1000;
	}
	bench_report(c->name, ns, RUNS, pages);
	ret = 0;
out:
	if (anon)
		munmap(anon, PIN_SIZE);
	if (fd >= 0)
		close(fd);
	return ret;
}

static const struct bench_case cases[] = {
	{ "gup_fast_ro_anon", false, false, false },
	{ "gup_fast_rw_anon", false, true, false },
	{ "pin_fast_ro_anon", true, false, false },
	{ "pin_fast_rw_anon", true, true, false },
	{ "pin_fast_ro_file", true, false, true },
	{ "pin_fast_rw_file", true, true, true },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (!bench_on_cpu0())
		return 1;
	if (open_dev())
		return 1;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (bench_wanted(cases[i].name, argc, argv) && run_case(&cases[i]))
			ret = 1;
	return ret;
}
