// SPDX-License-Identifier: GPL-2.0
/*
 * Throughput of clean_record_shared_mapping_range() over 1 GiB of dirtied
 * shmem, on base pages and on shmem THPs, through /dev/test_mapping_dirty.
 *
 * Reference kernel: base-walker (the series with the base's walker, as the
 * test driver is the series')
 *
 * Each case dirties every page of a memfd mapped shared, runs one CLEAN
 * over the whole file, and repeats; the time is what the driver measured
 * around the helper (guest time: under QEMU -icount it counts executed
 * instructions).  Output lines: "bench <case> <key> <value>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "lib/test_mapping_dirty_uapi.h"
#include "bench_util.h"
#include "mm_util.h"

#define SIZE		((1UL << 30) / bench_shrink)
#define RUNS		7
#define SHMEM_THP_KNOB	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static void set_knob(const char *val)
{
	FILE *f = fopen(SHMEM_THP_KNOB, "w");

	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

static int run(int dev, const char *name, bool thp)
{
	size_t npages = SIZE / pagesize, i;
	uint64_t ns[RUNS], *bitmap;
	struct mapping_dirty_cmd cmd;
	int fd, r, err;
	char *mem;

	set_knob(thp ? "advise" : "never");
	fd = memfd_create(name, 0);
	if (fd < 0 || ftruncate(fd, SIZE))
		return -1;
	mem = mmap_aligned(SIZE, 2UL << 20);
	if (!mem || mmap(mem, SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		return -1;
	if (thp)
		madvise(mem, SIZE, MADV_HUGEPAGE);
	bitmap = calloc(npages / 64, 8);
	if (!bitmap)
		return -1;

	for (r = 0; r < RUNS; r++) {
		for (i = 0; i < npages; i++)
			mem[i * pagesize] = (char)r;
		memset(&cmd, 0, sizeof(cmd));
		cmd.fd = fd;
		cmd.length = SIZE;
		cmd.bitmap = (uintptr_t)bitmap;
		cmd.bitmap_bits = npages;
		bench_gate(name, r, true);
		err = ioctl(dev, MAPPING_DIRTY_CLEAN, &cmd);
		bench_gate(name, r, false);
		if (err) {
			printf("# %s: CLEAN: %s\n", name, strerror(errno));
			return -1;
		}
		ns[r] = cmd.time_ns;
	}
	qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
	printf("bench %s pmd_mapped_kb %ld\n", name,
	       smaps_kb(mem, "ShmemPmdMapped"));
	printf("bench %s recorded_pages %llu\n", name,
	       (unsigned long long)cmd.total);
	printf("bench %s median_ns %llu\n", name,
	       (unsigned long long)ns[RUNS / 2]);
	printf("bench %s ns_per_page %.1f\n", name,
	       (double)ns[RUNS / 2] / npages);
	printf("bench %s pages_per_s %.0f\n", name,
	       cmd.total ? cmd.total * 1e9 / ns[RUNS / 2] : 0.0);
	munmap(mem, SIZE);
	close(fd);
	free(bitmap);
	return 0;
}

int main(void)
{
	int dev = open("/dev/test_mapping_dirty", O_RDWR);

	if (!bench_on_cpu0())
		return 1;
	if (dev < 0) {
		printf("# no /dev/test_mapping_dirty: %s\n", strerror(errno));
		return 1;
	}
	if (run(dev, "clean_record_1g_base", false) ||
	    run(dev, "clean_record_1g_thp", true))
		return 1;
	set_knob("never");
	return 0;
}
