// SPDX-License-Identifier: GPL-2.0
/*
 * The gup_test interface itself: every ioctl on a good request, every
 * malformed request refused with its errno, and the lifetime rules of the
 * long-term pin set (STOP is idempotent, close() unpins).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

/* gup_test.gup_flags bits, numbered as in mainline (mm/gup_test.c). */
#define GT_FOLL_WRITE		0x001
#define GT_FOLL_TOUCH		0x002
#define GT_FOLL_FORCE		0x008
#define GT_FOLL_LONGTERM	0x100

#define NR_PAGES	64
#define MAX_PAGES	262144UL	/* gup_test's limit per request: 2^18 */

static int gup_fd;
static char *mem;		/* NR_PAGES of anonymous memory, filled */
static size_t mem_size;

static void fill(char *p, size_t size, unsigned int seed)
{
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = (char)(seed + i / pagesize * 7 + i % 251);
}

/*
 * The pin counters of /proc/vmstat, exact after a stat_refresh.  Nothing
 * else in the test guest pins pages, so their deltas are ours.
 */
static bool pin_counts(long *acq, long *rel)
{
	if (!vmstat_refresh())
		return false;
	*acq = vmstat_read("nr_foll_pin_acquired");
	*rel = vmstat_read("nr_foll_pin_released");
	return *acq >= 0 && *rel >= 0;
}

#define NO_COUNTS "no exact pin counters (/proc/sys/vm/stat_refresh)"

/* ioctl that is expected to fail with @err; returns a failure text or NULL */
static const char *expect_errno(int fd, unsigned long cmd, void *arg, int err)
{
	static char buf[96];
	int ret = ioctl(fd, cmd, arg);

	if (ret == 0) {
		snprintf(buf, sizeof(buf), "succeeded, expected %s",
			 strerror(err));
		return buf;
	}
	if (errno != err) {
		snprintf(buf, sizeof(buf), "got %s, expected %s",
			 strerror(errno), strerror(err));
		return buf;
	}
	return NULL;
}

static void check_errno(const char *name, int fd, unsigned long cmd,
			void *arg, int err)
{
	const char *why = expect_errno(fd, cmd, arg, err);

	mmt_report(name, why ? MMT_FAIL : MMT_PASS, NULL, "%s", why ? why : "");
}

static struct gup_test gup_args(void)
{
	struct gup_test gup = {
		.addr = (uintptr_t)mem,
		.size = mem_size,
		.nr_pages_per_call = 7,	/* not a divisor: a short last chunk */
	};
	return gup;
}

/* The benchmark and basic ioctls: all pages processed, pins balanced. */
static void test_benchmark(const char *name, unsigned long cmd,
			   unsigned int gup_flags, unsigned int test_flags,
			   bool pins)
{
	struct gup_test gup = gup_args();
	long acq0, rel0, acq1, rel1;

	gup.gup_flags = gup_flags;
	gup.test_flags = test_flags;
	gup.which_pages[0] = 1;
	gup.which_pages[1] = NR_PAGES;
	if (!pin_counts(&acq0, &rel0)) {
		mmt_report(name, MMT_SKIP, NULL, NO_COUNTS);
		return;
	}
	if (ioctl(gup_fd, cmd, &gup)) {
		mmt_report(name, MMT_FAIL, NULL, "ioctl: %s", strerror(errno));
		return;
	}
	pin_counts(&acq1, &rel1);
	if (gup.size != mem_size) {
		mmt_report(name, MMT_FAIL, NULL, "processed %llu of %zu bytes",
			   (unsigned long long)gup.size, mem_size);
		return;
	}
	if (acq1 - acq0 != (pins ? NR_PAGES : 0) || acq1 - acq0 != rel1 - rel0) {
		mmt_report(name, MMT_FAIL, NULL,
			   "pins acquired %ld released %ld, expected %d each",
			   acq1 - acq0, rel1 - rel0, pins ? NR_PAGES : 0);
		return;
	}
	mmt_report(name, MMT_PASS, NULL, NULL);
}

/* START/READ/STOP round trip with the given flags. */
static void test_longterm(const char *name, unsigned int flags)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size, .flags = flags,
	};
	char *buf = malloc(mem_size);
	uint64_t dst = (uintptr_t)buf;
	long acq0, rel0, acq1, rel1, acq2, rel2;
	const char *why = NULL;

	if (!pin_counts(&acq0, &rel0)) {
		mmt_report(name, MMT_SKIP, NULL, NO_COUNTS);
		free(buf);
		return;
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		mmt_report(name, MMT_FAIL, NULL, "START: %s", strerror(errno));
		free(buf);
		return;
	}
	pin_counts(&acq1, &rel1);
	memset(buf, 0, mem_size);
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst))
		why = "READ failed";
	else if (memcmp(buf, mem, mem_size))
		why = "READ returned other data than the mapping holds";
	else if (acq1 - acq0 != NR_PAGES || rel1 != rel0)
		why = "START did not pin each page exactly once";
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP) && !why)
		why = "STOP failed";
	pin_counts(&acq2, &rel2);
	if (!why && (rel2 - rel1 != NR_PAGES || acq2 != acq1))
		why = "STOP did not unpin each page exactly once";
	mmt_report(name, why ? MMT_FAIL : MMT_PASS, NULL, "%s", why ? why : "");
	free(buf);
}

static void test_start_twice(void)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size,
	};
	char *buf = malloc(mem_size);
	uint64_t dst = (uintptr_t)buf;
	const char *why;

	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		mmt_report("start_twice", MMT_FAIL, NULL, "first START: %s",
			   strerror(errno));
		free(buf);
		return;
	}
	why = expect_errno(gup_fd, PIN_LONGTERM_TEST_START, &args, EINVAL);
	/* The refused START must leave the first set intact. */
	if (!why && (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst) ||
		     memcmp(buf, mem, mem_size)))
		why = "the first pin set did not survive the second START";
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	mmt_report("start_twice", why ? MMT_FAIL : MMT_PASS, NULL, "%s",
		   why ? why : "");
	free(buf);
}

/*
 * A START that must be refused; STOP afterwards, so that a START wrongly
 * accepted here cannot make the next case pass for the wrong reason.
 */
static void check_start_refused(const char *name, uint64_t addr,
				uint64_t size, unsigned int flags, int err)
{
	struct pin_longterm_test args = { addr, size, flags };

	check_errno(name, gup_fd, PIN_LONGTERM_TEST_START, &args, err);
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
}

static void test_start_bad(void)
{
	uintptr_t hole;

	check_start_refused("start_unaligned_addr", (uintptr_t)mem + 1,
			    pagesize, 0, EINVAL);
	check_start_refused("start_unaligned_size", (uintptr_t)mem,
			    pagesize + 1, 0, EINVAL);
	check_start_refused("start_size_zero", (uintptr_t)mem, 0, 0, EINVAL);
	check_start_refused("start_unknown_flags", (uintptr_t)mem, pagesize,
			    4, EINVAL);
	check_start_refused("start_kernel_range", -4096ULL, pagesize, 0,
			    EINVAL);
	check_start_refused("start_too_large", (uintptr_t)mem,
			    (MAX_PAGES + 1) * pagesize, 0, E2BIG);
	check_errno("start_bad_pointer", gup_fd, PIN_LONGTERM_TEST_START,
		    (void *)16, EFAULT);
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);

	/* A range with nothing mapped cannot be pinned. */
	hole = (uintptr_t)mmap(NULL, pagesize, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap((void *)hole, pagesize);
	check_start_refused("start_unmapped_range", hole, pagesize, 0, EFAULT);
	check_start_refused("start_unmapped_range_fast", hole, pagesize,
			    PIN_LONGTERM_TEST_FLAG_USE_FAST, EFAULT);
}

static void test_read_bad(void)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size,
	};
	uint64_t dst = (uintptr_t)mem;
	char *hole;

	check_errno("read_without_start", gup_fd, PIN_LONGTERM_TEST_READ,
		    &dst, EINVAL);
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		mmt_report("read_bad_buffer", MMT_FAIL, NULL, "START: %s",
			   strerror(errno));
		mmt_report("read_bad_pointer", MMT_FAIL, NULL, "START failed");
		return;
	}
	hole = mmap(NULL, pagesize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	munmap(hole, pagesize);
	dst = (uintptr_t)hole;
	check_errno("read_bad_buffer", gup_fd, PIN_LONGTERM_TEST_READ, &dst,
		    EFAULT);
	check_errno("read_bad_pointer", gup_fd, PIN_LONGTERM_TEST_READ,
		    (void *)16, EFAULT);
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
}

static void test_benchmark_bad(void)
{
	struct gup_test gup;

	gup = gup_args();
	gup.size = 0;
	check_errno("benchmark_size_zero", gup_fd, PIN_FAST_BENCHMARK, &gup,
		    EINVAL);
	gup = gup_args();
	gup.addr += 1;
	check_errno("benchmark_unaligned_addr", gup_fd, GUP_BASIC_TEST, &gup,
		    EINVAL);
	gup = gup_args();
	gup.nr_pages_per_call = 0;
	check_errno("benchmark_zero_per_call", gup_fd, GUP_FAST_BENCHMARK,
		    &gup, EINVAL);
	gup = gup_args();
	gup.gup_flags = 0x40;
	check_errno("benchmark_unknown_gup_flags", gup_fd, PIN_BASIC_TEST,
		    &gup, EINVAL);
	gup = gup_args();
	gup.test_flags = 0x2;
	check_errno("dump_unknown_test_flags", gup_fd, DUMP_USER_PAGES_TEST,
		    &gup, EINVAL);
	gup = gup_args();
	gup.which_pages[0] = NR_PAGES + 1;
	check_errno("dump_page_index_out_of_range", gup_fd,
		    DUMP_USER_PAGES_TEST, &gup, EINVAL);
	gup = gup_args();
	gup.addr = -4096ULL;
	gup.size = pagesize;
	check_errno("benchmark_kernel_range", gup_fd, PIN_LONGTERM_BENCHMARK,
		    &gup, EINVAL);
	check_errno("benchmark_bad_pointer", gup_fd, GUP_FAST_BENCHMARK,
		    (void *)16, EFAULT);
	gup = gup_args();
	gup.addr = (uintptr_t)mmap(NULL, pagesize, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap((void *)(uintptr_t)gup.addr, pagesize);
	gup.size = pagesize;
	check_errno("benchmark_unmapped_range", gup_fd, PIN_BASIC_TEST, &gup,
		    EFAULT);
	gup = gup_args();
	gup.gup_flags = GT_FOLL_TOUCH;
	check_errno("fast_benchmark_touch", gup_fd, PIN_FAST_BENCHMARK, &gup,
		    EINVAL);
	/* Mainline's FOLL_DUMP; this kernel's FOLL_GET. */
	gup = gup_args();
	gup.gup_flags = 0x4;
	check_errno("gup_flags_dump", gup_fd, GUP_BASIC_TEST, &gup, EINVAL);
	/* This kernel's own FOLL_LONGTERM number is not the ABI's. */
	gup = gup_args();
	gup.gup_flags = 0x10000;
	check_errno("gup_flags_kernel_numbering", gup_fd, PIN_BASIC_TEST,
		    &gup, EINVAL);
	gup = gup_args();
	gup.gup_flags = GT_FOLL_LONGTERM;
	check_errno("gup_fast_longterm", gup_fd, GUP_FAST_BENCHMARK, &gup,
		    EINVAL);
	gup = gup_args();
	gup.gup_flags = GT_FOLL_LONGTERM;
	check_errno("gup_basic_longterm", gup_fd, GUP_BASIC_TEST, &gup,
		    EINVAL);
	gup = gup_args();
	gup.size = (MAX_PAGES + 1) * pagesize;
	check_errno("benchmark_too_large", gup_fd, GUP_BASIC_TEST, &gup, E2BIG);
	check_errno("unknown_ioctl", gup_fd, _IO('g', 42), NULL, ENOTTY);
}

/*
 * A write pin of a read-only private mapping fails; with the force bit
 * (mainline's FOLL_FORCE number) it breaks COW and succeeds, so the bit
 * reaches get_user_pages() as this kernel's FOLL_FORCE.
 */
static void test_force(void)
{
	struct gup_test gup = gup_args();
	const char *why;
	char *ro;

	ro = mmap(NULL, pagesize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	if (ro == MAP_FAILED) {
		mmt_report("pin_write_readonly", MMT_FAIL, NULL, "mmap: %s",
			   strerror(errno));
		mmt_report("pin_force_write_readonly", MMT_FAIL, NULL,
			   "mmap: %s", strerror(errno));
		return;
	}
	gup.addr = (uintptr_t)ro;
	gup.size = pagesize;
	gup.gup_flags = GT_FOLL_WRITE;
	check_errno("pin_write_readonly", gup_fd, PIN_BASIC_TEST, &gup,
		    EFAULT);
	gup.gup_flags = GT_FOLL_WRITE | GT_FOLL_FORCE;
	why = ioctl(gup_fd, PIN_BASIC_TEST, &gup) ? strerror(errno) :
	      gup.size != pagesize ? "the page was not pinned" : NULL;
	mmt_report("pin_force_write_readonly", why ? MMT_FAIL : MMT_PASS,
		   NULL, "%s", why ? why : "");
	munmap(ro, pagesize);
}

static void test_stop_idempotent(void)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size,
	};
	bool ok;

	ok = !ioctl(gup_fd, PIN_LONGTERM_TEST_STOP) &&
	     !ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args) &&
	     !ioctl(gup_fd, PIN_LONGTERM_TEST_STOP) &&
	     !ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	mmt_report("stop_idempotent", ok ? MMT_PASS : MMT_FAIL, NULL,
		   "STOP failed: %s", strerror(errno));
}

/* Closing the file with a pin set active releases every pin. */
static void test_close_unpins(unsigned int flags, const char *name)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size, .flags = flags,
	};
	long acq0, rel0, acq1, rel1;
	int fd = gup_test_open();

	if (!pin_counts(&acq0, &rel0)) {
		mmt_report(name, MMT_SKIP, NULL, NO_COUNTS);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0 || ioctl(fd, PIN_LONGTERM_TEST_START, &args)) {
		mmt_report(name, MMT_FAIL, NULL, "START: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	pin_counts(&acq1, &rel1);
	if (acq1 - acq0 != NR_PAGES || rel1 - rel0 != NR_PAGES)
		mmt_report(name, MMT_FAIL, NULL,
			   "after close: %ld pins taken, %ld released, expected %d",
			   acq1 - acq0, rel1 - rel0, NR_PAGES);
	else if (acq1 != rel1)
		mmt_report(name, MMT_FAIL, NULL,
			   "nr_foll_pin_acquired %ld != nr_foll_pin_released %ld",
			   acq1, rel1);
	else
		mmt_report(name, MMT_PASS, NULL, NULL);
}

/* One file's pin set is not visible through, or released by, another. */
static void test_sets_per_file(void)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = mem_size,
	};
	uint64_t dst = (uintptr_t)malloc(mem_size);
	int fd = gup_test_open();
	const char *why = NULL;

	if (fd < 0 || ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args))
		why = "set-up failed";
	else if (expect_errno(fd, PIN_LONGTERM_TEST_READ, &dst, EINVAL))
		why = "READ on a second file saw the first file's pins";
	if (fd >= 0)
		close(fd);
	if (!why && ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst))
		why = "closing a second file dropped the first file's pins";
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	free((void *)(uintptr_t)dst);
	mmt_report("pin_set_per_file", why ? MMT_FAIL : MMT_PASS, NULL, "%s",
		   why ? why : "");
}

/*
 * All long-term sets together stay below 2 * MAX_PAGES pins, whatever the
 * files: here two full sets of the (never written) zero page are allowed
 * and a third is refused, so no refcount can overflow.
 */
static void test_pin_budget(void)
{
	size_t size = MAX_PAGES * pagesize;
	const char *why = NULL;
	int fd[3], i;
	char *ro;

	ro = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED) {
		mmt_report("pin_budget_all_files", MMT_FAIL, NULL, "mmap: %s",
			   strerror(errno));
		return;
	}
	for (i = 0; i < 3; i++) {
		struct pin_longterm_test args = { (uintptr_t)ro, size, 0 };

		fd[i] = gup_test_open();
		if (fd[i] < 0) {
			why = "open failed";
			continue;
		}
		if (why)
			continue;
		if (i < 2 && ioctl(fd[i], PIN_LONGTERM_TEST_START, &args))
			why = "a set within the budget was refused";
		if (i == 2)
			why = expect_errno(fd[i], PIN_LONGTERM_TEST_START,
					   &args, EBUSY);
	}
	for (i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	munmap(ro, size);
	mmt_report("pin_budget_all_files", why ? MMT_FAIL : MMT_PASS, NULL,
		   "%s", why ? why : "");
}

int main(void)
{
	ksft_print_header();
	gup_fd = gup_test_open();
	if (gup_fd < 0)
		ksft_exit_skip("%s: %s (needs CONFIG_GUP_TEST and debugfs)\n",
			       GUP_TEST_PATH, strerror(errno));

	mem_size = NR_PAGES * pagesize;
	mem = mmap_aligned(mem_size, pagesize);
	if (!mem)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	fill(mem, mem_size, 1);

	mmt_plan(50);
	test_benchmark("gup_fast_benchmark", GUP_FAST_BENCHMARK, 0, 0, false);
	test_benchmark("pin_fast_benchmark", PIN_FAST_BENCHMARK, 0, 0, true);
	test_benchmark("pin_longterm_benchmark", PIN_LONGTERM_BENCHMARK,
		       GT_FOLL_WRITE, 0, true);
	test_benchmark("gup_basic_test", GUP_BASIC_TEST, GT_FOLL_WRITE, 0,
		       false);
	test_benchmark("pin_basic_test", PIN_BASIC_TEST, GT_FOLL_TOUCH, 0,
		       true);
	test_benchmark("dump_user_pages_get", DUMP_USER_PAGES_TEST, 0, 0,
		       false);
	test_benchmark("dump_user_pages_pin", DUMP_USER_PAGES_TEST, 0,
		       GUP_TEST_FLAG_DUMP_PAGES_USE_PIN, true);
	/* What mainline's hmm-tests pass: FOLL_WRITE | FOLL_LONGTERM. */
	test_benchmark("pin_fast_benchmark_longterm", PIN_FAST_BENCHMARK,
		       GT_FOLL_WRITE | GT_FOLL_LONGTERM, 0, true);
	test_benchmark("pin_basic_test_longterm", PIN_BASIC_TEST,
		       GT_FOLL_LONGTERM, 0, true);
	test_benchmark("pin_longterm_benchmark_longterm",
		       PIN_LONGTERM_BENCHMARK, GT_FOLL_LONGTERM, 0, true);

	test_longterm("longterm_ro", 0);
	test_longterm("longterm_ro_fast", PIN_LONGTERM_TEST_FLAG_USE_FAST);
	test_longterm("longterm_rw", PIN_LONGTERM_TEST_FLAG_USE_WRITE);
	test_longterm("longterm_rw_fast", PIN_LONGTERM_TEST_FLAG_USE_WRITE |
					  PIN_LONGTERM_TEST_FLAG_USE_FAST);

	test_start_twice();
	test_start_bad();
	test_read_bad();
	test_benchmark_bad();
	test_force();
	test_stop_idempotent();
	test_close_unpins(0, "close_unpins");
	test_close_unpins(PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			  PIN_LONGTERM_TEST_FLAG_USE_FAST, "close_unpins_rw_fast");
	test_sets_per_file();
	test_pin_budget();

	close(gup_fd);
	return mmt_exit();
}
