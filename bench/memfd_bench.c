// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of memfd sealing: F_SEAL_WRITE on a populated 1 GiB memfd, which
 * scans every page for extra references, and the create-and-seal sequence
 * of a program that hands out small sealed buffers.
 *
 * Reference kernel: vanilla
 *
 * Cases:
 *   seal_write       F_ADD_SEALS(F_SEAL_WRITE) on a 1 GiB shmem memfd whose
 *                    pages are all present and unmapped (base pages)
 *   seal_write_thp   the same with the memfd in THPs (shmem_enabled set to
 *                    advise, the populating mapping MADV_HUGEPAGE); the
 *                    case checks that the memfd really is in THPs
 *   create_seal      memfd_create(MFD_ALLOW_SEALING), ftruncate to one
 *                    page, F_ADD_SEALS(SHRINK | GROW | WRITE), close: the
 *                    figure is per sequence, pages is the sequence count
 * Each run of a seal case uses a fresh memfd (a seal cannot be added
 * twice); only the fcntl() is timed.  Each case runs RUNS times; under QEMU
 * -icount shift=0,sleep=off guest time counts executed instructions.
 * Output lines: "bench <case> <figure> <value>" with pages, median_ns,
 * ns_per_page and spread_pct.  Arguments, if any, name the cases to run.
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
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "bench_util.h"
#include "mm_util.h"

#define RUNS		9
#define SEAL_SIZE	(1UL << 30)
#define CREATE_COUNT	2000
#define PMD_ALIGN	(2UL << 20)
#define SHMEM_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct bench_case {
	const char *name;
	int (*run)(const struct bench_case *c);
	bool thp;
};

static int fail(const char *name, const char *what)
{
	printf("# %s: %s: %s\n", name, what, strerror(errno));
	return -1;
}

/* Write @mode to shmem_enabled; false if it cannot be set. */
static bool shmem_enabled(const char *mode)
{
	int fd = open(SHMEM_ENABLED, O_WRONLY);
	ssize_t len = strlen(mode);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, mode, len) == len;
	close(fd);
	return ok;
}

/* A 1 GiB memfd, every page present, no mapping left; -1 on failure. */
static int populated_memfd(const struct bench_case *c)
{
	int fd = syscall(SYS_memfd_create, "memfd_bench", MFD_ALLOW_SEALING);
	size_t off;
	char *p;

	if (fd < 0)
		return fail(c->name, "memfd_create");
	if (ftruncate(fd, SEAL_SIZE))
		goto err;
	p = mmap_aligned(SEAL_SIZE, PMD_ALIGN);
	if (!p || mmap(p, SEAL_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		goto err;
	madvise(p, SEAL_SIZE, c->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (off = 0; off < SEAL_SIZE; off += pagesize)
		p[off] = 1;
	if (smaps_kb(p, "ShmemPmdMapped") != (c->thp ? (long)(SEAL_SIZE >> 10) : 0)) {
		printf("# %s: ShmemPmdMapped %ld kB\n", c->name,
		       smaps_kb(p, "ShmemPmdMapped"));
		munmap(p, SEAL_SIZE);
		close(fd);
		errno = EINVAL;
		return fail(c->name, "not the page size the case is about");
	}
	munmap(p, SEAL_SIZE);
	return fd;
err:
	fail(c->name, "set-up");
	close(fd);
	return -1;
}

static int seal_write(const struct bench_case *c)
{
	uint64_t ns[RUNS], t;
	int r, fd, ret = 0;

	if (c->thp && !shmem_enabled("advise"))
		return fail(c->name, "shmem_enabled");
	for (r = 0; r < RUNS && !ret; r++) {
		fd = populated_memfd(c);
		if (fd < 0) {
			ret = -1;
			break;
		}
		t = now_ns();
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE))
			ret = fail(c->name, "F_SEAL_WRITE");
		ns[r] = now_ns() - t;
		close(fd);
	}
	if (c->thp)
		shmem_enabled("never");
	if (!ret)
		bench_report(c->name, ns, RUNS, SEAL_SIZE / pagesize);
	return ret;
}

static int create_seal(const struct bench_case *c)
{
	uint64_t ns[RUNS], t;
	int r, i, fd;

	for (r = 0; r < RUNS; r++) {
		t = now_ns();
		for (i = 0; i < CREATE_COUNT; i++) {
			fd = syscall(SYS_memfd_create, "memfd_bench",
				     MFD_ALLOW_SEALING);
			if (fd < 0)
				return fail(c->name, "memfd_create");
			if (ftruncate(fd, pagesize) ||
			    fcntl(fd, F_ADD_SEALS,
				  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
				close(fd);
				return fail(c->name, "seal");
			}
			close(fd);
		}
		ns[r] = now_ns() - t;
	}
	bench_report(c->name, ns, RUNS, CREATE_COUNT);
	return 0;
}

static const struct bench_case cases[] = {
	{ "seal_write", seal_write, false },
	{ "seal_write_thp", seal_write, true },
	{ "create_seal", create_seal, false },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (!bench_on_cpu0())
		return 1;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (bench_wanted(cases[i].name, argc, argv) && cases[i].run(&cases[i]))
			ret = 1;
	return ret;
}
