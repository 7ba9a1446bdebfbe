// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "mm_util.h"

size_t pagesize;

static void __attribute__((constructor)) mm_util_init(void)
{
	pagesize = sysconf(_SC_PAGESIZE);
	/* Results must reach the log even if a later case kills us. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * A child that died early closes its end of a pipe: writing to it
	 * must fail the case (EPIPE), not kill the test.
	 */
	signal(SIGPIPE, SIG_IGN);
}

void mmt_report(const char *name, enum mmt_result res, const char *gap,
		const char *fmt, ...)
{
	char why[256] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	if (res == MMT_SKIP) {
		ksft_inc_xskip_cnt();
		printf("ok %u %s # SKIP %s\n", ksft_test_num(), name, why);
	} else if (gap && res == MMT_FAIL) {
		ksft_inc_xfail_cnt();
		printf("ok %u %s # XFAIL %s (%s)\n", ksft_test_num(), name,
		       gap, why);
	} else if (gap) {
		ksft_inc_xpass_cnt();
		printf("not ok %u %s # XPASS known gap is fixed, drop its mark: %s\n",
		       ksft_test_num(), name, gap);
	} else if (res == MMT_PASS) {
		ksft_inc_pass_cnt();
		printf("ok %u %s\n", ksft_test_num(), name);
	} else {
		ksft_inc_fail_cnt();
		printf("# %s: %s\n", name, why);
		printf("not ok %u %s\n", ksft_test_num(), name);
	}
}

/*
 * kselftest.h keeps its counters in static variables, one set per file:
 * planning, reporting and the totals must all go through this file.
 */
void mmt_plan(unsigned int n)
{
	ksft_set_plan(n);
}

int mmt_exit(void)
{
	ksft_print_cnts();
	if (ksft_get_fail_cnt() || ksft_get_xpass_cnt() || ksft_get_error_cnt())
		return KSFT_FAIL;
	/* A program that tested nothing did not pass. */
	if (!ksft_get_pass_cnt() && !ksft_get_xfail_cnt())
		return KSFT_SKIP;
	return KSFT_PASS;
}

long vmstat_read(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

bool vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "1", 1) == 1;
	close(fd);
	return ok;
}

size_t thp_pmd_size(void)
{
	unsigned long size = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu", &size) != 1)
		size = 0;
	fclose(f);
	return size;
}

long smaps_kb(const void *addr, const char *field)
{
	size_t len = strlen(field);
	unsigned long start, end;
	char line[256];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start <= (uintptr_t)addr && (uintptr_t)addr < end;
			continue;
		}
		if (in && !strncmp(line, field, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

bool range_is_thp(const void *addr, size_t size)
{
	long kb = smaps_kb(addr, "AnonHugePages");

	return kb >= 0 && (size_t)kb * 1024 >= size;
}

void *mmap_aligned(size_t size, size_t align)
{
	char *raw, *p;

	if (align < pagesize)
		align = pagesize;
	raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (p + size < raw + size + align)
		munmap(p + size, raw + size + align - (p + size));
	return p;
}

int gup_test_open(void)
{
	return open(GUP_TEST_PATH, O_RDWR);
}

bool pagemap_read(const void *addr, size_t n, uint64_t *ents)
{
	size_t len = n * sizeof(*ents);
	off_t off = (uintptr_t)addr / pagesize * sizeof(*ents);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t got;

	if (fd < 0)
		return false;
	got = pread(fd, ents, len, off);
	close(fd);
	return got == (ssize_t)len;
}

uint64_t pagemap_pfn(const void *addr)
{
	uint64_t ent;

	if (!pagemap_read(addr, 1, &ent) || !(ent & PM_PRESENT))
		return 0;
	return ent & PM_PFN_MASK;
}

bool pagemap_swapped(const void *addr)
{
	uint64_t ent;

	return pagemap_read(addr, 1, &ent) && (ent & PM_SWAP);
}

bool kpageflags_read(uint64_t pfn, uint64_t *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	ssize_t got;

	if (fd < 0)
		return false;
	got = pread(fd, flags, sizeof(*flags), pfn * sizeof(*flags));
	close(fd);
	return got == sizeof(*flags);
}

bool page_flags_at(const void *addr, uint64_t *pfn, uint64_t *flags)
{
	*pfn = pagemap_pfn(addr);
	return *pfn && kpageflags_read(*pfn, flags);
}

bool swap_available(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	/* A header line, then one line per active swap area. */
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1;
}

bool sysfs_read_ulong(const char *path, unsigned long *val)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%lu", val) == 1;
	fclose(f);
	return ok;
}

bool sysfs_write_ulong(const char *path, unsigned long val)
{
	char buf[32];
	int fd = open(path, O_WRONLY);
	int len = snprintf(buf, sizeof(buf), "%lu", val);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, buf, len) == len;
	close(fd);
	return ok;
}

static void mmt_note(struct mmt_verdict *v, enum mmt_result res,
		     const char *fmt, va_list ap)
{
	size_t len;

	if (res == MMT_SKIP && v->res == MMT_FAIL)
		return;
	if (res == MMT_FAIL && v->res == MMT_SKIP)
		v->why[0] = '\0';
	v->res = res;
	len = strlen(v->why);
	if (len && len + 2 < sizeof(v->why)) {
		strcpy(v->why + len, "; ");
		len += 2;
	}
	vsnprintf(v->why + len, sizeof(v->why) - len, fmt, ap);
}

void mmt_fail(struct mmt_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mmt_note(v, MMT_FAIL, fmt, ap);
	va_end(ap);
}

void mmt_skip(struct mmt_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mmt_note(v, MMT_SKIP, fmt, ap);
	va_end(ap);
}

bool mmt_all_bytes(const char *p, size_t size, char val)
{
	/* Every byte equals the one after it, and the first is @val. */
	return p[0] == val && !memcmp(p, p + 1, size - 1);
}
