// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of exclusive device access to anonymous memory, two ways: with
 * device-exclusive entries (test_hmm's HMM_DMIRROR_EXCLUSIVE, then a CPU
 * read of every page, which takes each back), and the way a driver can do
 * it without them: migrate the range to device-private memory
 * (HMM_DMIRROR_MIGRATE), then a CPU read of every page, which migrates
 * each back.  Both ioctls read the range through the device, so both
 * include one copy of the data.
 *
 * Reference kernel: vanilla (it has only the migration way; the series'
 * figures for both ways are in the same run, and vs_migrate is the
 * exclusive way's time over the migration way's)
 *
 * Cases, each on RANGE (64 MiB) of private anonymous memory, populated
 * before each run and not timed:
 *   exclusive_base   base pages: take the range, then read every page
 *   exclusive_thp    the range in PMD-mapped THPs (checked), which the
 *                    take splits
 *   migrate_base     base pages: migrate to the device, read every page
 *   migrate_thp      the range in PMD-mapped THPs
 * Each case runs RUNS times; under QEMU -icount shift=0,sleep=off guest
 * time counts executed instructions.  Output lines: "bench <case>
 * <figure> <value>" with pages, median_ns, ns_per_page and spread_pct,
 * and for the exclusive cases vs_migrate.  Arguments, if any, name the
 * cases to run.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "lib/test_hmm_uapi.h"
#include "bench_util.h"
#include "mm_util.h"

#define RUNS		5
#define RANGE		((64UL << 20) / bench_shrink)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct bench_case {
	const char *name;
	unsigned long req;	/* the ioctl that takes the range */
	bool thp;
	double ns_per_page;	/* of the last run of the case */
};

static int dev = -1;
static char *bounce;

/* RANGE of anonymous memory, written, in THPs if @thp; NULL on failure. */
static char *populated(bool thp)
{
	size_t pmd = thp_pmd_size(), off;
	char *p = mmap_aligned(RANGE, pmd ? pmd : (size_t)pagesize);

	if (!p)
		return NULL;
	madvise(p, RANGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (off = 0; off < RANGE; off += pagesize)
		p[off] = (char)(off >> 12);
	if (thp && smaps_kb(p, "AnonHugePages") * 1024 != (long)RANGE) {
		printf("# the range is not in THPs: AnonHugePages %ld kB\n",
		       smaps_kb(p, "AnonHugePages"));
		munmap(p, RANGE);
		return NULL;
	}
	return p;
}

static int run_case(struct bench_case *c)
{
	size_t pages = RANGE / pagesize, off;
	uint64_t ns[RUNS], t0;
	volatile char sink;
	int r;

	for (r = 0; r < RUNS; r++) {
		struct hmm_dmirror_cmd cmd = {
			.ptr = (uintptr_t)bounce, .npages = pages,
		};
		char *p = populated(c->thp);

		if (!p) {
			printf("# %s: no populated range: %s\n", c->name,
			       strerror(errno));
			return 1;
		}
		cmd.addr = (uintptr_t)p;
		bench_gate(c->name, r, true);
		t0 = now_ns();
		if (ioctl(dev, c->req, &cmd)) {
			bench_gate(c->name, r, false);
			printf("# %s: ioctl: %s\n", c->name, strerror(errno));
			munmap(p, RANGE);
			/* The vanilla kernel has no HMM_DMIRROR_EXCLUSIVE. */
			return c->req == HMM_DMIRROR_EXCLUSIVE && errno == EINVAL ?
				0 : 1;
		}
		for (off = 0; off < RANGE; off += pagesize)
			sink = p[off];
		ns[r] = now_ns() - t0;
		bench_gate(c->name, r, false);
		(void)sink;
		if (cmd.cpages != pages) {
			printf("# %s: the device read %llu of %zu pages\n",
			       c->name, (unsigned long long)cmd.cpages, pages);
			munmap(p, RANGE);
			return 1;
		}
		munmap(p, RANGE);
	}
	bench_report(c->name, ns, RUNS, pages);
	c->ns_per_page = (double)ns[RUNS / 2] / pages;
	return 0;
}

static struct bench_case cases[] = {
	{ .name = "migrate_base", .req = HMM_DMIRROR_MIGRATE },
	{ .name = "migrate_thp", .req = HMM_DMIRROR_MIGRATE, .thp = true },
	{ .name = "exclusive_base", .req = HMM_DMIRROR_EXCLUSIVE },
	{ .name = "exclusive_thp", .req = HMM_DMIRROR_EXCLUSIVE, .thp = true },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (!bench_on_cpu0())
		return 1;
	dev = open("/dev/hmm_dmirror0", O_RDWR);
	bounce = malloc(RANGE);
	if (dev < 0 || !bounce) {
		printf("# /dev/hmm_dmirror0: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (bench_wanted(cases[i].name, argc, argv) &&
		    run_case(&cases[i]))
			ret = 1;
	/* Exclusive access against migration, from this run's figures. */
	for (i = 2; i < ARRAY_SIZE(cases); i++)
		if (cases[i].ns_per_page && cases[i - 2].ns_per_page)
			printf("bench %s vs_migrate %.3f\n", cases[i].name,
			       cases[i].ns_per_page / cases[i - 2].ns_per_page);
	return ret;
}
