// SPDX-License-Identifier: GPL-2.0
/*
 * `make faultinject`: allocation failures in the paths the series changes,
 * with the kernel's fault injection (failslab and fail_page_alloc, on the
 * kasan profile's kernel).
 *
 * 1. Sweeps.  For each case, the one system call under test runs again and
 *    again with /proc/thread-self/fail-nth = 1, 2, 3, ...: the n-th
 *    allocation the call makes fails, until the call makes fewer than n.
 *    After every run the call has succeeded or failed with an errno it
 *    documents, the program's data is intact, every pin taken has been
 *    released (nr_foll_pin_acquired == nr_foll_pin_released) and the
 *    hugetlb pool is whole again; after each case the free memory is back.
 *      fork_pinned          fork() of pinned anonymous pages: the child
 *                           gets copies (the fork copy of maybe-pinned
 *                           pages)
 *      fork_pinned_hugetlb  the same with a pinned private hugetlb page,
 *                           the copy from a surplus page (the hugetlb fork
 *                           copy)
 *      unshare_pin          a read-only long-term pin of anonymous pages a
 *                           fork child shares (the unshare fault)
 *      unshare_pin_hugetlb  the same with a private hugetlb page
 *      unshare_pin_hugetlb_copy  the same, only huge-page allocations
 *                           counted: the first run fails the unshare's
 *                           copy, whatever slab and per-CPU refills the
 *                           call happens to need
 *      cow_gup_write        process_vm_writev() into pages a fork child
 *                           shares (a COW fault through GUP)
 *      pageout_pinned       MADV_PAGEOUT of swap-cache pages, some pinned
 *                           (try_share refuses the pinned ones)
 *      move_pinned          move_pages() of pages, some pinned (the same
 *                           refusal in migration)
 *      walker_clean         MAPPING_DIRTY_CLEAN of a shared memfd mapping
 *      device_exclusive     HMM_DMIRROR_EXCLUSIVE of anonymous pages
 *      fork_pinned_hugetlb_nopool  fork_pinned_hugetlb with no page to
 *                           copy into: fork() fails with ENOMEM anyway
 *      memfd_noexec         memfd_create(MFD_NOEXEC_SEAL)
 * 2. Selftests.  The selftests of fork, COW, pins, swap and the walker run
 *    with failslab and fail_page_alloc failing FAULT_PERCENT (default 1)
 *    percent of their allocations (task-filtered: only the tests'
 *    processes).  Their verdicts are not the point (an allocation that
 *    fails may fail a test); the kernel's state afterwards is: pins
 *    balanced, hugetlb pool whole, free memory back.
 *
 * The harness checks the console: the injected failures' own reports are
 * expected, any other splat fails the run.  It also reads the kernel's
 * line coverage (gcov) afterwards to show which error paths ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "lib/test_hmm_uapi.h"
#include "lib/test_mapping_dirty_uapi.h"
#include "mm/gup_test.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#endif
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NPAGES		16
#define HPAGE		(2UL << 20)
#define HPAGE_ORDER	9	/* of HPAGE, with 4 KiB pages */
#define MAX_NTH		3000
#define DBG		"/sys/kernel/debug/"
#define HUGE_KNOB	"/proc/sys/vm/"

/* ------------------------------------------------------------------ */
/* Fault injection. */

static int nth_fd = -1;

/*
 * One system call with /proc/thread-self/fail-nth armed: the n-th
 * allocation the call makes fails.  Fail-nth counts every allocation of
 * the task, and user page faults are allocations too: one that failed
 * would not return ENOMEM but invoke the OOM killer.  And after a fork,
 * or with a fork child alive, the first write to any page of the program
 * (its stack, libc's data) is a COW fault.  So arming, the call, reading
 * fail-nth back and disarming are one sequence of system calls that
 * writes no user memory but this structure, which lives in a shared
 * mapping (no COW) that is already populated.
 */
struct inject {
	long nr, arg[6];	/* the call */
	long fd;		/* fail-nth */
	long is_fork;		/* the call returns twice: 0 in the child */
	long armlen;		/* strlen(arm) */
	long ret;		/* (out) what the call returned */
	char arm[16];		/* "n" */
	char zero[8];		/* "0" */
	char state[16];		/* (out) fail-nth after the call */
};

static struct inject *inj;

#define INJ(f)	"i"(__builtin_offsetof(struct inject, f))

static long inject_syscall(void)
{
	long ret;

	asm volatile(
		/* arm: pwrite64(fd, arm, strlen(arm), 0) */
		"mov %[pwrite], %%eax\n\t"
		"mov %c[fd](%%rbx), %%rdi\n\t"
		"lea %c[arm](%%rbx), %%rsi\n\t"
		"mov %c[armlen](%%rbx), %%rdx\n\t"
		"xor %%r10d, %%r10d\n\t"
		"syscall\n\t"
		/* the call */
		"mov %c[nr](%%rbx), %%rax\n\t"
		"mov %c[a0](%%rbx), %%rdi\n\t"
		"mov %c[a1](%%rbx), %%rsi\n\t"
		"mov %c[a2](%%rbx), %%rdx\n\t"
		"mov %c[a3](%%rbx), %%r10\n\t"
		"mov %c[a4](%%rbx), %%r8\n\t"
		"mov %c[a5](%%rbx), %%r9\n\t"
		"syscall\n\t"
		/* a fork child: fail-nth is its parent's, leave it alone */
		"test %%rax, %%rax\n\t"
		"jnz 1f\n\t"
		"cmpq $0, %c[isfork](%%rbx)\n\t"
		"jne 2f\n"
		"1:\n\t"
		"mov %%rax, %c[ret](%%rbx)\n\t"
		/* pread64(fd, state, 15, 0) */
		"mov %[pread], %%eax\n\t"
		"mov %c[fd](%%rbx), %%rdi\n\t"
		"lea %c[state](%%rbx), %%rsi\n\t"
		"mov $15, %%edx\n\t"
		"xor %%r10d, %%r10d\n\t"
		"syscall\n\t"
		/* disarm: pwrite64(fd, "0", 1, 0) */
		"mov %[pwrite], %%eax\n\t"
		"mov %c[fd](%%rbx), %%rdi\n\t"
		"lea %c[zero](%%rbx), %%rsi\n\t"
		"mov $1, %%edx\n\t"
		"xor %%r10d, %%r10d\n\t"
		"syscall\n\t"
		"mov %c[ret](%%rbx), %%rax\n"
		"2:\n\t"
		: "=a"(ret)
		: "b"(inj), [pwrite] "i"(SYS_pwrite64), [pread] "i"(SYS_pread64),
		  [armlen] INJ(armlen),
		  [fd] INJ(fd), [arm] INJ(arm), [nr] INJ(nr), [a0] INJ(arg[0]),
		  [a1] INJ(arg[1]), [a2] INJ(arg[2]), [a3] INJ(arg[3]),
		  [a4] INJ(arg[4]), [a5] INJ(arg[5]), [isfork] INJ(is_fork),
		  [ret] INJ(ret), [state] INJ(state), [zero] INJ(zero)
		: "rcx", "r11", "rdi", "rsi", "rdx", "r8", "r9", "r10",
		  "memory", "cc");
	return ret;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return 0;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/*
 * Set up failslab and fail_page_alloc: every allocation counts for
 * fail-nth (sleeping ones, highmem ones, order 0); @percent of the
 * allocations of tasks with make-it-fail fail as well, with a trace.
 * @min_order > 0: only page allocations of at least that order count
 * (failslab's cache filter, with no cache marked, leaves slab out).
 */
static int setup_injection(int percent, int min_order)
{
	static const char *const caps[] = { "failslab", "fail_page_alloc" };
	char path[128], val[16];
	size_t i;
	int ok = 1;

	snprintf(val, sizeof(val), "%d", percent);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
#define SET(knob, v)							\
	do {								\
		snprintf(path, sizeof(path), DBG "%s/" knob, caps[i]);	\
		ok &= write_str(path, v);				\
	} while (0)
		SET("probability", val);
		SET("interval", "1");
		SET("times", "-1");
		SET("space", "0");
		SET("verbose", "2");
		SET("task-filter", "Y");
		SET("ignore-gfp-wait", "N");
		if (i == 0)
			SET("cache-filter", min_order ? "Y" : "N");
		if (i == 1) {
			snprintf(val, sizeof(val), "%d", min_order);
			SET("ignore-gfp-highmem", "N");
			SET("min-order", val);
		}
#undef SET
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Verdicts. */

struct verdict {
	unsigned long runs, fired, failed, ok;
	unsigned long violations;
	char first[200];
	char errnos[120];
};

static struct verdict *cur;

static void violation(const char *fmt, ...)
	__attribute__((__format__(__printf__, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	if (cur->violations++)
		return;
	va_start(ap, fmt);
	vsnprintf(cur->first, sizeof(cur->first), fmt, ap);
	va_end(ap);
}

static void note_errno(int e)
{
	char name[24];

	snprintf(name, sizeof(name), " %s", strerrorname_np(e) ?: "?");
	if (!strstr(cur->errnos, name) &&
	    strlen(cur->errnos) + strlen(name) < sizeof(cur->errnos))
		strcat(cur->errnos, name);
}

static long pins_outstanding(void)
{
	vmstat_refresh();
	return vmstat_read("nr_foll_pin_acquired") -
	       vmstat_read("nr_foll_pin_released");
}

static unsigned long hugetlb_knob(const char *name)
{
	char path[128];
	unsigned long v = 0;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-2048kB/%s",
		 name);
	sysfs_read_ulong(path, &v);
	return v;
}

/*
 * Free memory, counting what slabs (KASAN's quarantine keeps freed objects
 * for a while), page tables and kernel stacks hold as free too: what a
 * leaked page or pin would make smaller.
 */
static long mem_free_kb(void)
{
	static const char *const fields[] = {
		"MemFree:", "Slab:", "PageTables:", "KernelStack:",
	};
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kb, sum = 0;
	size_t i;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < ARRAY_SIZE(fields); i++)
			if (!strncmp(line, fields[i], strlen(fields[i])) &&
			    sscanf(line + strlen(fields[i]), "%ld", &kb) == 1)
				sum += kb;
	fclose(f);
	return sum;
}

/* ------------------------------------------------------------------ */
/* Helpers of the cases. */

static int gup_fd = -1;

static void fill(char *p, size_t size, int tag)
{
	size_t i;

	for (i = 0; i < size; i += pagesize)
		memset(p + i, (tag + i / pagesize) & 0xff, pagesize);
}

static int holds(const char *p, size_t size, int tag)
{
	size_t i;

	for (i = 0; i < size; i += pagesize)
		if (!mmt_all_bytes(p + i, pagesize, (tag + i / pagesize) & 0xff))
			return 0;
	return 1;
}

static int pin(int fd, void *p, size_t size, int write)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)p,
		.size = size,
		.flags = write ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0,
	};

	return ioctl(fd, PIN_LONGTERM_TEST_START, &t);
}

/* The pinned pages show fill(@tag) of @size bytes. */
static int pin_shows(int fd, size_t size, int tag)
{
	char *buf = malloc(size);
	uint64_t ubuf = (uintptr_t)buf;
	int ok;

	ok = buf && !ioctl(fd, PIN_LONGTERM_TEST_READ, &ubuf) &&
	     holds(buf, size, tag);
	free(buf);
	return ok;
}

/* A child that keeps the memory shared until it is told to go. */
struct holder {
	pid_t pid;
	int pipe[2];
};

static int hold_fork(struct holder *h, const char *p, size_t size, int tag)
{
	char c;

	if (pipe(h->pipe))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (!h->pid) {
		close(h->pipe[1]);
		if (read(h->pipe[0], &c, 1) < 0)
			_exit(3);
		/* what the child shares never changes under it */
		_exit(holds(p, size, tag) ? 0 : 1);
	}
	close(h->pipe[0]);
	return 0;
}

/*
 * Let the holder go; whether it still saw fill(@tag).  @huge: a private
 * hugetlb page's owner that finds no page for its COW or unshare takes
 * the page away from the children, which get SIGBUS (documented).
 */
static int hold_release(struct holder *h, int huge)
{
	int status = 0;

	close(h->pipe[1]);
	waitpid(h->pid, &status, 0);
	if (huge && WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ------------------------------------------------------------------ */
/*
 * The cases: set up, prepare the call (inj), check its outcome (the call
 * returned c->ret, errno c->err), tear down.  Nothing between prepare and
 * check runs but inject_syscall().
 */

struct ctx {
	char *p, *buf;
	size_t size;
	int huge;		/* a private hugetlb page, not anonymous pages */
	int tag, fd;
	struct holder h;
	struct pin_longterm_test pin;
	struct iovec iov[2];
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES];
	uint64_t bitmap;
	struct mapping_dirty_cmd dirty;
	struct hmm_dmirror_cmd hmm;
	long ret;
	int err;
};

static void call(long nr, long a0, long a1, long a2, long a3, long a4)
{
	inj->nr = nr;
	inj->arg[0] = a0;
	inj->arg[1] = a1;
	inj->arg[2] = a2;
	inj->arg[3] = a3;
	inj->arg[4] = a4;
	inj->arg[5] = 0;
	inj->is_fork = nr == SYS_fork;
}

/* NPAGES anonymous pages, or a hugetlb page, and a buffer as large. */
static int mem_setup(struct ctx *c, int tag)
{
	c->size = c->huge ? HPAGE : NPAGES * pagesize;
	c->p = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | (c->huge ? MAP_HUGETLB : 0),
		    -1, 0);
	if (c->p == MAP_FAILED)
		return -1;
	c->tag = tag;
	fill(c->p, c->size, tag);
	/* populated, so that the call under fail-nth faults on nothing */
	c->buf = malloc(c->size);
	if (!c->buf)
		return -1;
	fill(c->buf, c->size, tag + 2);
	return 0;
}

static void pin_call(struct ctx *c, size_t size, int write)
{
	c->pin.addr = (uintptr_t)c->p;
	c->pin.size = size;
	c->pin.flags = write ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0;
	call(SYS_ioctl, gup_fd, PIN_LONGTERM_TEST_START, (long)&c->pin, 0, 0);
}

/* fork_pinned / fork_pinned_hugetlb: a R/W pin, then fork() */
static int fork_pinned_setup(struct ctx *c)
{
	if (mem_setup(c, 11) || pin(gup_fd, c->p, c->size, 1))
		return -1;
	call(SYS_fork, 0, 0, 0, 0, 0);
	return 0;
}

/* In the fork child: it has the parent's data. */
static void fork_child(struct ctx *c)
{
	_exit(holds(c->p, c->size, c->tag) ? 0 : 1);
}

static void fork_pinned_check(struct ctx *c)
{
	int status = 0;

	if (c->ret > 0) {
		waitpid(c->ret, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			violation("the fork child did not see the parent's data");
	}
	/* The pin still sees what the parent writes. */
	fill(c->p, c->size, c->tag + 1);
	if (!pin_shows(gup_fd, c->size, c->tag + 1))
		violation("after fork, the pin lost the parent's write");
}

static void pinned_teardown(struct ctx *c)
{
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	munmap(c->p, c->size);
	free(c->buf);
}

/* unshare_pin / unshare_pin_hugetlb / cow_gup_write: a fork child shares */
static int shared_setup(struct ctx *c)
{
	if (mem_setup(c, 21))
		return -1;
	return hold_fork(&c->h, c->p, c->size, c->tag);
}

static int unshare_setup(struct ctx *c)
{
	if (shared_setup(c))
		return -1;
	pin_call(c, c->size, 0);
	return 0;
}

static void unshare_check(struct ctx *c)
{
	if (c->ret == 0) {
		/* A R/O pin follows what its owner writes. */
		fill(c->p, c->size, c->tag + 1);
		if (!pin_shows(gup_fd, c->size, c->tag + 1))
			violation("the R/O pin does not show the owner's write");
	}
	if (!holds(c->p, c->size, c->ret == 0 ? c->tag + 1 : c->tag))
		violation("the owner's data changed");
}

static void shared_teardown(struct ctx *c)
{
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	if (!hold_release(&c->h, c->huge))
		violation("the fork child saw the parent's write");
	munmap(c->p, c->size);
	free(c->buf);
}

static int cow_write_setup(struct ctx *c)
{
	if (shared_setup(c))
		return -1;
	c->iov[0].iov_base = c->buf;
	c->iov[0].iov_len = c->size;
	c->iov[1].iov_base = c->p;
	c->iov[1].iov_len = c->size;
	call(SYS_process_vm_writev, getpid(), (long)&c->iov[0], 1,
	     (long)&c->iov[1], 1);
	return 0;
}

static void cow_write_check(struct ctx *c)
{
	size_t done = c->ret > 0 ? c->ret : 0, i;

	/* a short write is how process_vm_writev() reports a late failure */
	if (c->ret >= 0 && (size_t)c->ret != c->size && c->ret % pagesize)
		violation("process_vm_writev() wrote %ld bytes, not whole pages",
			  c->ret);
	for (i = 0; i < c->size; i += pagesize)
		if (!mmt_all_bytes(c->p + i, pagesize,
				   (c->tag + (i < done ? 2 : 0) + i / pagesize) & 0xff))
			violation("page %zu does not hold what was written",
				  i / pagesize);
}

/* pageout_pinned: swap-cache pages, half of them pinned */
static int pageout_setup(struct ctx *c)
{
	volatile char sink;
	size_t i;

	if (mem_setup(c, 31))
		return -1;
	/* Out to swap and read back: the pages stay in the swap cache. */
	madvise(c->p, c->size, MADV_PAGEOUT);
	for (i = 0; i < c->size; i += pagesize)
		sink = c->p[i];
	(void)sink;
	if (pin(gup_fd, c->p, NPAGES / 2 * pagesize, 0))
		return -1;
	call(SYS_madvise, (long)c->p, c->size, MADV_PAGEOUT, 0, 0);
	return 0;
}

static void data_check(struct ctx *c)
{
	if (!holds(c->p, c->size, c->tag))
		violation("data changed");
	if (!pin_shows(gup_fd, NPAGES / 2 * pagesize, c->tag))
		violation("the pin lost the data");
}

/* move_pinned */
static int move_setup(struct ctx *c)
{
	size_t i;

	if (mem_setup(c, 41))
		return -1;
	if (pin(gup_fd, c->p, NPAGES / 2 * pagesize, 0))
		return -1;
	for (i = 0; i < NPAGES; i++) {
		c->pages[i] = c->p + i * pagesize;
		c->nodes[i] = 1;
		c->status[i] = -1;
	}
	call(SYS_move_pages, 0, NPAGES, (long)c->pages, (long)c->nodes,
	     (long)c->status);
	return 0;
}

static void move_check(struct ctx *c)
{
	size_t i;

	for (i = 0; c->ret == 0 && i < NPAGES; i++)
		if (c->status[i] < 0 && c->status[i] != -ENOMEM &&
		    c->status[i] != -EBUSY && c->status[i] != -EAGAIN)
			violation("move_pages() status %d for page %zu",
				  c->status[i], i);
	data_check(c);
}

/* walker_clean */
static int walker_dev = -1;

static int walker_setup(struct ctx *c)
{
	c->fd = memfd_create("walker", 0);
	if (c->fd < 0 || ftruncate(c->fd, NPAGES * pagesize))
		return -1;
	c->p = mmap(NULL, NPAGES * pagesize, PROT_READ | PROT_WRITE,
		    MAP_SHARED, c->fd, 0);
	if (c->p == MAP_FAILED)
		return -1;
	c->size = NPAGES * pagesize;
	c->tag = 51;
	fill(c->p, c->size, c->tag);
	c->bitmap = 0;
	memset(&c->dirty, 0, sizeof(c->dirty));
	c->dirty.fd = c->fd;
	c->dirty.length = c->size;
	c->dirty.bitmap = (uintptr_t)&c->bitmap;
	c->dirty.bitmap_bits = 64;
	c->dirty.start = 64;
	call(SYS_ioctl, walker_dev, MAPPING_DIRTY_CLEAN, (long)&c->dirty, 0, 0);
	return 0;
}

static void walker_check(struct ctx *c)
{
	if (c->ret == 0 && c->dirty.total != NPAGES)
		violation("the walker recorded %llu pages, not %d",
			  (unsigned long long)c->dirty.total, NPAGES);
	if (!holds(c->p, c->size, c->tag))
		violation("data changed");
}

static void walker_teardown(struct ctx *c)
{
	munmap(c->p, c->size);
	close(c->fd);
}

/* device_exclusive */
static int hmm_dev = -1;

static int exclusive_setup(struct ctx *c)
{
	if (mem_setup(c, 61))
		return -1;
	memset(&c->hmm, 0, sizeof(c->hmm));
	c->hmm.addr = (uintptr_t)c->p;
	c->hmm.ptr = (uintptr_t)c->buf;
	c->hmm.npages = NPAGES;
	call(SYS_ioctl, hmm_dev, HMM_DMIRROR_EXCLUSIVE, (long)&c->hmm, 0, 0);
	return 0;
}

static void exclusive_check(struct ctx *c)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)c->p, .npages = NPAGES,
	};

	if (c->ret == 0 && !holds(c->buf, c->size, c->tag))
		violation("the device read other data");
	/* The CPU takes every page back by reading it. */
	if (!holds(c->p, c->size, c->tag))
		violation("data changed");
	fill(c->p, c->size, c->tag + 1);
	if (ioctl(hmm_dev, HMM_DMIRROR_CHECK_EXCLUSIVE, &cmd))
		violation("a page is still device-exclusive after CPU writes");
}

static void anon_teardown(struct ctx *c)
{
	munmap(c->p, c->size);
	free(c->buf);
}

/* fork_pinned_hugetlb_nopool: the copy finds no page at all */
static int nopool_setup(struct ctx *c)
{
	sysfs_write_ulong(HUGE_KNOB "nr_overcommit_hugepages", 0);
	return fork_pinned_setup(c);
}

static void nopool_check(struct ctx *c)
{
	if (c->ret >= 0)
		violation("fork() copied a pinned hugetlb page without a free page");
	fork_pinned_check(c);
}

static void nopool_teardown(struct ctx *c)
{
	pinned_teardown(c);
	sysfs_write_ulong(HUGE_KNOB "nr_overcommit_hugepages", 4);
}

/* memfd_noexec: memfd_create(MFD_NOEXEC_SEAL) */
static const char memfd_name[] = "noexec";

static int noexec_setup(struct ctx *c)
{
	(void)c;
	call(SYS_memfd_create, (long)memfd_name,
	     MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING, 0, 0, 0);
	return 0;
}

static void noexec_check(struct ctx *c)
{
	struct stat st;

	if (c->ret < 0)
		return;
	if (!(fcntl(c->ret, F_GET_SEALS) & F_SEAL_EXEC) ||
	    fstat(c->ret, &st) || (st.st_mode & 0111))
		violation("an MFD_NOEXEC_SEAL memfd is executable or not sealed");
	close(c->ret);
}

static void nothing(struct ctx *c)
{
	(void)c;
}

#define ERRS(...)	((const int []){ __VA_ARGS__, 0 })

struct sweep {
	const char *name;
	int (*setup)(struct ctx *c);	/* and prepare the call */
	void (*check)(struct ctx *c);
	void (*teardown)(struct ctx *c);
	const int *allowed;
	int needs;		/* NEED_* */
	int natural;		/* the errno the call fails with anyway */
	int huge;		/* on a private hugetlb page */
	int min_order;		/* only allocations of this order or more */
};

#define NEED_GUP	1
#define NEED_HUGETLB	2
#define NEED_NODES	4
#define NEED_WALKER	8
#define NEED_HMM	16

#define SWEEP(n, su, ch, td, errs, nd, ...)				\
	{ .name = n, .setup = su, .check = ch, .teardown = td,		\
	  .allowed = errs, .needs = nd, __VA_ARGS__ }

static const struct sweep sweeps[] = {
	SWEEP("fork_pinned", fork_pinned_setup, fork_pinned_check,
	      pinned_teardown, ERRS(ENOMEM, EAGAIN), NEED_GUP),
	SWEEP("fork_pinned_hugetlb", fork_pinned_setup, fork_pinned_check,
	      pinned_teardown, ERRS(ENOMEM, EAGAIN), NEED_GUP | NEED_HUGETLB,
	      .huge = 1),
	SWEEP("fork_pinned_hugetlb_nopool", nopool_setup, nopool_check,
	      nopool_teardown, ERRS(ENOMEM), NEED_GUP | NEED_HUGETLB,
	      .natural = ENOMEM, .huge = 1),
	SWEEP("unshare_pin", unshare_setup, unshare_check, shared_teardown,
	      ERRS(ENOMEM), NEED_GUP),
	SWEEP("unshare_pin_hugetlb", unshare_setup, unshare_check,
	      shared_teardown, ERRS(ENOMEM), NEED_GUP | NEED_HUGETLB,
	      .huge = 1),
	SWEEP("unshare_pin_hugetlb_copy", unshare_setup, unshare_check,
	      shared_teardown, ERRS(ENOMEM), NEED_GUP | NEED_HUGETLB,
	      .huge = 1, .min_order = HPAGE_ORDER),
	SWEEP("cow_gup_write", cow_write_setup, cow_write_check,
	      shared_teardown, ERRS(ENOMEM, EFAULT), NEED_GUP),
	SWEEP("pageout_pinned", pageout_setup, data_check, pinned_teardown,
	      ERRS(ENOMEM), NEED_GUP),
	SWEEP("move_pinned", move_setup, move_check, pinned_teardown,
	      ERRS(ENOMEM), NEED_GUP | NEED_NODES),
	SWEEP("walker_clean", walker_setup, walker_check, walker_teardown,
	      ERRS(ENOMEM), NEED_WALKER),
	SWEEP("device_exclusive", exclusive_setup, exclusive_check,
	      anon_teardown, ERRS(ENOMEM, EBUSY, EFAULT), NEED_HMM),
	/* shmem reports an inode it could not allocate as ENOSPC */
	SWEEP("memfd_noexec", noexec_setup, noexec_check, nothing,
	      ERRS(ENOMEM, ENOSPC, EMFILE, ENFILE), 0),
};

static int allowed(const int *set, int e)
{
	for (; *set; set++)
		if (*set == e)
			return 1;
	return 0;
}

static const char *missing(int needs)
{
	if ((needs & NEED_GUP) && gup_fd < 0)
		return "no gup_test";
	if ((needs & NEED_WALKER) && walker_dev < 0)
		return "no test_mapping_dirty";
	if ((needs & NEED_HMM) && hmm_dev < 0)
		return "no test_hmm with HMM_DMIRROR_EXCLUSIVE";
	if ((needs & NEED_HUGETLB) && !hugetlb_knob("nr_hugepages") &&
	    !hugetlb_knob("nr_overcommit_hugepages"))
		return "no hugetlb pool";
	if ((needs & NEED_NODES) &&
	    access("/sys/devices/system/node/node1", F_OK))
		return "one NUMA node";
	return NULL;
}

static void run_sweep(const struct sweep *s, struct verdict *v)
{
	unsigned long free_huge = hugetlb_knob("free_hugepages");
	long pins = pins_outstanding(), before = -1, ret;
	struct ctx c;
	unsigned int n;

	cur = v;
	if (s->min_order && !setup_injection(0, s->min_order))
		violation("cannot count only allocations of order %d",
			  s->min_order);
	for (n = 1; n <= MAX_NTH; n++) {
		int hit;

		memset(&c, 0, sizeof(c));
		c.fd = -1;
		c.huge = s->huge;
		if (s->setup(&c)) {
			violation("set-up failed without injection: %s",
				  strerror(errno));
			break;
		}
		if (n == 1)
			before = mem_free_kb();
		inj->armlen = snprintf(inj->arm, sizeof(inj->arm), "%u", n);
		strcpy(inj->state, "x");
		ret = inject_syscall();
		if (inj->is_fork && ret == 0)
			fork_child(&c);
		if (!strcmp(inj->state, "x"))
			ksft_exit_fail_msg("fail-nth could not be read back\n");
		hit = atoi(inj->state) == 0;
		c.ret = ret < 0 ? -1 : ret;
		c.err = ret < 0 ? -ret : 0;
		v->runs++;
		v->fired += hit;
		if (c.ret < 0) {
			v->failed++;
			note_errno(c.err);
			if (!allowed(s->allowed, c.err))
				violation("failure %u: errno %d (%s), not one the call documents",
					  n, c.err, strerror(c.err));
			if (!hit && c.err != s->natural)
				violation("the call failed (%s) with no failure injected",
					  strerror(c.err));
		} else {
			v->ok++;
		}
		s->check(&c);
		s->teardown(&c);
		if (pins_outstanding() != pins)
			violation("failure %u: %ld pins left behind", n,
				  pins_outstanding() - pins);
		if (hugetlb_knob("free_hugepages") != free_huge ||
		    hugetlb_knob("surplus_hugepages"))
			violation("failure %u: the hugetlb pool is not whole (free %lu, was %lu; surplus %lu)",
				  n, hugetlb_knob("free_hugepages"), free_huge,
				  hugetlb_knob("surplus_hugepages"));
		if (!hit)
			break;	/* fewer than n allocations: all swept */
	}
	if (n > MAX_NTH)
		violation("more than %d allocations in one call", MAX_NTH);
	if (s->min_order)
		setup_injection(0, 0);
	/* Every page is back (per-CPU lists and slabs: some slack). */
	if (before > 0 && mem_free_kb() < before - 4096) {
		write_str("/proc/sys/vm/drop_caches", "3");
		if (mem_free_kb() < before - 4096)
			violation("%ld kB of free memory missing after the sweep",
				  before - mem_free_kb());
	}
}

/* ------------------------------------------------------------------ */
/* Selftests with random allocation failures. */

static const char *const selftests[] = {
	"cow_pin", "anon_exclusive", "gup_fast_fork", "ro_longterm",
	"hugetlb_reuse", "thp_reuse", "swapin_race", "mapping_dirty",
	"force_write",
};

/*
 * What a selftest leaves for the kernel to release after it is reaped: its
 * io_uring rings are torn down from a workqueue, with their fixed buffers'
 * pins.  Wait for the pin count to come back, for a bounded time.
 */
static long pins_settled(long pins)
{
	long now = pins_outstanding();
	int i;

	for (i = 0; i < 300 && now != pins; i++) {
		usleep(100 * 1000);
		now = pins_outstanding();
	}
	return now;
}

/*
 * Reap the test and everything it forked.  The harness is their subreaper,
 * so a child that outlives a test killed by a signal (and still holds the
 * test's files, and so its pins) comes back here; the test runs in its own
 * process group, which the harness kills once the test is gone.
 */
static int reap_test(pid_t pid)
{
	int status = 0, st;

	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL);
	while (waitpid(-pid, &st, 0) > 0)
		;
	return status;
}

static void run_selftest(const char *name, struct verdict *v)
{
	unsigned long free_huge = hugetlb_knob("free_hugepages");
	long pins = pins_outstanding(), before = mem_free_kb(), left;
	char path[128], line[512], c;
	int out[2], go[2], status = 0;
	FILE *f;
	pid_t pid;

	cur = v;
	snprintf(path, sizeof(path), "/mmx/tests/%s", name);
	if (access(path, X_OK)) {
		snprintf(v->first, sizeof(v->first), "no %s", path);
		v->runs = 0;
		return;
	}
	if (pipe(out) || pipe2(go, O_CLOEXEC))
		return;
	pid = fork();
	if (!pid) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(go[0]);
		alarm(600);
		execl(path, name, NULL);
		_exit(126);
	}
	/*
	 * Allocations fail once the test runs, not while it is exec()ed:
	 * go[1] closes when exec() succeeds.
	 */
	close(go[1]);
	while (read(go[0], &c, 1) > 0)
		;
	close(go[0]);
	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", pid);
	if (!write_str(path, "1"))
		violation("cannot set %s", path);
	close(out[1]);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "ok ", 3))
			v->ok++;
		else if (!strncmp(line, "not ok ", 7))
			v->failed++;
	}
	if (f)
		fclose(f);
	status = reap_test(pid);
	v->runs = 1;
	if (WIFSIGNALED(status))
		snprintf(v->errnos, sizeof(v->errnos), " killed by signal %d",
			 WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125)
		violation("could not run %s (%d)", name, WEXITSTATUS(status));
	left = pins_settled(pins) - pins;
	if (left)
		violation("%ld pins left behind", left);
	/*
	 * The test resizes the pool itself and may fail to restore it when
	 * its allocations fail: what counts is that no huge page is still
	 * in use.  Then the pool gets its size back.
	 */
	if (hugetlb_knob("free_hugepages") != hugetlb_knob("nr_hugepages") ||
	    hugetlb_knob("surplus_hugepages"))
		violation("%lu huge pages still in use (%lu surplus)",
			  hugetlb_knob("nr_hugepages") -
			  hugetlb_knob("free_hugepages"),
			  hugetlb_knob("surplus_hugepages"));
	sysfs_write_ulong(HUGE_KNOB "nr_hugepages", free_huge);
	if (before > 0 && mem_free_kb() < before - 8192) {
		write_str("/proc/sys/vm/drop_caches", "3");
		if (mem_free_kb() < before - 8192)
			violation("%ld kB of free memory missing",
				  before - mem_free_kb());
	}
}

int main(void)
{
	const char *env = getenv("FAULT_PERCENT");
	int percent = env ? atoi(env) : 1;
	struct verdict v;
	size_t i;

	ksft_print_header();
	pagesize = getpagesize();
	if (access(DBG "fail_page_alloc", F_OK) || access(DBG "failslab", F_OK)) {
		ksft_print_msg("this kernel has no failslab and fail_page_alloc: build it with PROFILE=kasan\n");
		mmt_plan(1);
		mmt_report("fault_injection", MMT_SKIP, NULL,
			   "no CONFIG_FAILSLAB/CONFIG_FAIL_PAGE_ALLOC");
		return mmt_exit();
	}
	if (!setup_injection(0, 0))
		ksft_exit_fail_msg("cannot configure fault injection in debugfs\n");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		ksft_exit_fail_msg("PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		ksft_exit_fail_msg("/proc/thread-self/fail-nth: %s\n",
				   strerror(errno));
	inj = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (inj == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(inj, 0, pagesize);
	inj->fd = nth_fd;
	strcpy(inj->zero, "0");
	gup_fd = gup_test_open();
	walker_dev = open("/dev/test_mapping_dirty", O_RDWR);
	hmm_dev = open("/dev/hmm_dmirror0", O_RDWR);
	/*
	 * Hugetlb: one page in the pool for each case's owner, the copies
	 * and unshares from surplus pages, which come from the page
	 * allocator (and so can fail).
	 */
	sysfs_write_ulong(HUGE_KNOB "nr_hugepages", 1);
	sysfs_write_ulong(HUGE_KNOB "nr_overcommit_hugepages", 4);

	mmt_plan(ARRAY_SIZE(sweeps) + ARRAY_SIZE(selftests));
	for (i = 0; i < ARRAY_SIZE(sweeps); i++) {
		const struct sweep *s = &sweeps[i];
		const char *why = missing(s->needs);
		char name[64];

		snprintf(name, sizeof(name), "sweep.%s", s->name);
		if (why) {
			mmt_report(name, MMT_SKIP, NULL, "%s", why);
			continue;
		}
		memset(&v, 0, sizeof(v));
		run_sweep(s, &v);
		ksft_print_msg("%s: %lu runs, %lu failures injected, the call failed %lu times (errnos:%s), succeeded %lu times\n",
			       name, v.runs, v.fired, v.failed,
			       v.errnos[0] ? v.errnos : " none", v.ok);
		if (v.violations)
			mmt_report(name, MMT_FAIL, NULL, "%lu violations: %s",
				   v.violations, v.first);
		else
			mmt_report(name, v.fired ? MMT_PASS : MMT_FAIL, NULL,
				   "no failure was injected");
		fflush(stdout);
	}

	/* The selftests, with random failures in their processes only. */
	sysfs_write_ulong(HUGE_KNOB "nr_overcommit_hugepages", 0);
	sysfs_write_ulong(HUGE_KNOB "nr_hugepages", 16);
	if (!setup_injection(percent, 0))
		ksft_exit_fail_msg("cannot configure fault injection\n");
	for (i = 0; i < ARRAY_SIZE(selftests); i++) {
		char name[64];

		snprintf(name, sizeof(name), "selftest.%s", selftests[i]);
		memset(&v, 0, sizeof(v));
		run_selftest(selftests[i], &v);
		if (!v.runs) {
			mmt_report(name, MMT_SKIP, NULL, "%s", v.first);
			continue;
		}
		ksft_print_msg("%s with %d%% failures: %lu cases passed, %lu failed%s\n",
			       name, percent, v.ok, v.failed, v.errnos);
		mmt_report(name, v.violations ? MMT_FAIL : MMT_PASS, NULL,
			   "%lu violations: %s", v.violations, v.first);
		fflush(stdout);
	}
	setup_injection(0, 0);
	return mmt_exit();
}
