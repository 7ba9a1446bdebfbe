// SPDX-License-Identifier: GPL-2.0
/*
 * `make run`: show, scenario by scenario, what the series' kernel does.
 * Each scenario says what it does, does it, and says what the kernel did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "lib/test_hmm_uapi.h"
#include "mm/gup_test.h"
#include "mm_util.h"

static int failures;

static uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &ent, 8, (uintptr_t)addr / pagesize * 8) != 8)
			ent = 0;
		close(fd);
	}
	return (ent >> 63) ? ent & ((1ULL << 55) - 1) : 0;
}

/* A /proc/vmstat counter, exact: the per-CPU deltas folded in first. */
static long vmstat(const char *name)
{
	vmstat_refresh();
	return vmstat_read(name);
}

static void verdict(int ok, const char *what)
{
	printf("  => %s: %s\n\n", ok ? "as expected" : "UNEXPECTED", what);
	failures += !ok;
}

static void *page(const char *text)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	strcpy(p, text);
	return p;
}

static void scenario_pin(int gup)
{
	char *p = page("written before the pin");
	char *buf = calloc(1, pagesize);
	uint64_t dst = (uintptr_t)buf;
	struct pin_longterm_test args = {
		.addr = (uintptr_t)p, .size = pagesize,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	long acq = vmstat("nr_foll_pin_acquired");
	long rel = vmstat("nr_foll_pin_released");
	int ok;

	printf("Scenario 1: pin a page, write to it, read it through the pin\n");
	printf("  does: PIN_LONGTERM_TEST_START (FOLL_LONGTERM|FOLL_WRITE) on one page\n");
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &args)) {
		printf("  kernel: START failed: %s\n", strerror(errno));
		verdict(0, "the pin was refused");
		return;
	}
	printf("  kernel: pinned pfn %#llx; pins acquired +%ld\n",
	       (unsigned long long)pfn_of(p), vmstat("nr_foll_pin_acquired") - acq);
	strcpy(p, "written while pinned");
	printf("  does: write \"%s\" through the mapping, then PIN_LONGTERM_TEST_READ\n", p);
	ioctl(gup, PIN_LONGTERM_TEST_READ, &dst);
	printf("  kernel: the pinned page holds \"%s\"\n", buf);
	ok = !strcmp(buf, p);
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
	printf("  does: PIN_LONGTERM_TEST_STOP\n");
	printf("  kernel: pins released +%ld (acquired %ld, released %ld in all)\n",
	       vmstat("nr_foll_pin_released") - rel,
	       vmstat("nr_foll_pin_acquired"), vmstat("nr_foll_pin_released"));
	verdict(ok, "the device's view and the process's view are the same page");
	munmap(p, pagesize);
	free(buf);
}

static void scenario_cow(void)
{
	char *p = page("parent's data");
	uint64_t before = pfn_of(p);
	int fds[2], status;
	char child_view[64] = "";
	pid_t pid;

	printf("Scenario 2: copy-on-write after fork\n");
	printf("  does: write \"%s\" (pfn %#llx), fork; the child writes its own text\n",
	       p, (unsigned long long)before);
	if (pipe(fds))
		exit(1);
	pid = fork();
	if (!pid) {
		strcpy(p, "child's data");
		snprintf(child_view, sizeof(child_view), "%s @ %#llx", p,
			 (unsigned long long)pfn_of(p));
		if (write(fds[1], child_view, sizeof(child_view)) < 0)
			_exit(1);
		_exit(0);
	}
	if (read(fds[0], child_view, sizeof(child_view)) < 0)
		child_view[0] = 0;
	waitpid(pid, &status, 0);
	printf("  kernel: the child sees \"%s\"\n", child_view);
	printf("  kernel: the parent sees \"%s\" @ %#llx\n", p,
	       (unsigned long long)pfn_of(p));
	verdict(!strcmp(p, "parent's data") && pfn_of(p) == before,
		"the child's write went to a copy; the parent kept its page");
	munmap(p, pagesize);
}

/*
 * Fork a child that waits until the parent writes to @fds[1], then exits
 * with 0 if it still sees "before fork" at @p, 1 if it does not.
 */
static pid_t fork_watcher(const char *p, int fds[2])
{
	char go;
	pid_t pid;

	if (pipe(fds))
		exit(1);
	pid = fork();
	if (!pid) {
		if (read(fds[0], &go, 1) != 1)
			_exit(2);
		_exit(strcmp(p, "before fork") != 0);
	}
	return pid;
}

static void scenario_pin_fork(int gup)
{
	char *p = page("before fork");
	char *buf = calloc(1, pagesize);
	uint64_t dst = (uintptr_t)buf;
	struct pin_longterm_test args = {
		.addr = (uintptr_t)p, .size = pagesize,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	int fds[2], status;
	char go = 0;
	pid_t pid;

	printf("Scenario 3: a pinned page across fork\n");
	printf("  does: pin R/W, fork (the child waits), parent writes\n");
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &args)) {
		verdict(0, "the pin was refused");
		return;
	}
	pid = fork_watcher(p, fds);
	strcpy(p, "parent wrote after fork");
	ioctl(gup, PIN_LONGTERM_TEST_READ, &dst);
	if (write(fds[1], &go, 1) != 1)
		perror("write");
	waitpid(pid, &status, 0);
	printf("  kernel: the pinned page holds \"%s\"; the child %s\n", buf,
	       WEXITSTATUS(status) ? "saw the parent's write" :
				     "still saw \"before fork\"");
	verdict(!strcmp(buf, p) && !WEXITSTATUS(status),
		"fork gave the child a copy and left the pinned page to the parent");
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
	munmap(p, pagesize);
	free(buf);
}

/* PG_anon_exclusive, as /proc/kpageflags reports it (KPF_MAPPEDTODISK). */
static const char *exclusive(const void *addr)
{
	uint64_t pfn = pfn_of(addr), flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || !pfn ||
	    pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) !=
	    sizeof(flags)) {
		if (fd >= 0)
			close(fd);
		return "unknown";
	}
	close(fd);
	return flags & (1ULL << 34) ? "exclusive" : "not exclusive";
}

static void scenario_ro_pin_fork(int gup)
{
	char *p = page("before fork");
	char *buf = calloc(1, pagesize);
	uint64_t dst = (uintptr_t)buf, pfn;
	struct pin_longterm_test args = {
		.addr = (uintptr_t)p, .size = pagesize, .flags = 0,
	};
	int fds[2], status;
	char go = 0;
	pid_t pid;

	printf("Scenario 4: a read-only pin of a page that fork shared\n");
	printf("  kernel: before fork the page is %s\n", exclusive(p));
	pid = fork_watcher(p, fds);
	printf("  kernel: after fork it is %s (parent and child map it)\n",
	       exclusive(p));
	printf("  does: PIN_LONGTERM_TEST_START without FOLL_WRITE, then the parent writes\n");
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &args)) {
		verdict(0, "the pin was refused");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return;
	}
	pfn = pfn_of(p);
	printf("  kernel: the pin unshared the page first: pfn %#llx, %s\n",
	       (unsigned long long)pfn, exclusive(p));
	strcpy(p, "parent wrote after the pin");
	ioctl(gup, PIN_LONGTERM_TEST_READ, &dst);
	if (write(fds[1], &go, 1) != 1)
		perror("write");
	waitpid(pid, &status, 0);
	printf("  kernel: the pinned page holds \"%s\"; the parent maps pfn %#llx; the child %s\n",
	       buf, (unsigned long long)pfn_of(p),
	       WEXITSTATUS(status) ? "saw the parent's write" :
				     "still saw \"before fork\"");
	verdict(!strcmp(buf, p) && pfn_of(p) == pfn && !WEXITSTATUS(status),
		"the read-only pin sees what the parent maps");
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
	munmap(p, pagesize);
	free(buf);
}

static void scenario_pin_mprotect(int gup)
{
	char *p = page("before mprotect");
	char *buf = calloc(1, pagesize);
	uint64_t dst = (uintptr_t)buf, pfn;
	struct pin_longterm_test args = {
		.addr = (uintptr_t)p, .size = pagesize,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};

	printf("Scenario 5: a pinned page across mprotect(PROT_READ) and back\n");
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &args)) {
		verdict(0, "the pin was refused");
		return;
	}
	pfn = pfn_of(p);
	printf("  does: pin R/W (pfn %#llx, %s), mprotect R/O and R/W, write\n",
	       (unsigned long long)pfn, exclusive(p));
	if (mprotect(p, pagesize, PROT_READ) ||
	    mprotect(p, pagesize, PROT_READ | PROT_WRITE))
		perror("mprotect");
	strcpy(p, "written after mprotect");
	ioctl(gup, PIN_LONGTERM_TEST_READ, &dst);
	printf("  kernel: the write fault reused the exclusive page: pfn %#llx; the pin holds \"%s\"\n",
	       (unsigned long long)pfn_of(p), buf);
	verdict(!strcmp(buf, p) && pfn_of(p) == pfn,
		"the pinned page is still the one the process writes");
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
	munmap(p, pagesize);
	free(buf);
}

/* One test_hmm request on one page; 0 or the errno. */
static int dmirror1(int dev, unsigned long req, void *addr, void *buf,
		    struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)addr;
	cmd->ptr = (uintptr_t)buf;
	cmd->npages = 1;
	return ioctl(dev, req, cmd) ? errno : 0;
}

static void scenario_device_exclusive(void)
{
	int dev = open("/dev/hmm_dmirror0", O_RDWR);
	char *p = page("written by the CPU");
	char *buf = calloc(1, pagesize);
	struct hmm_dmirror_cmd cmd;
	int held, err, ok;

	printf("Scenario 6: a device takes a page for atomics, the CPU touches it\n");
	if (dev < 0) {
		printf("  no /dev/hmm_dmirror0: %s\n", strerror(errno));
		verdict(0, "test_hmm's device is missing");
		goto out;
	}
	printf("  does: HMM_DMIRROR_EXCLUSIVE (make_device_exclusive_range) on a page holding \"%s\"\n",
	       p);
	err = dmirror1(dev, HMM_DMIRROR_EXCLUSIVE, p, buf, &cmd);
	if (err) {
		printf("  kernel: refused: %s\n", strerror(err));
		verdict(0, "the device could not take the page");
		goto out;
	}
	held = dmirror1(dev, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, &cmd);
	printf("  kernel: the device read \"%s\" and holds the page (%s); pfn %#llx still mapped\n",
	       buf, held == EPERM ? "CHECK_EXCLUSIVE: EPERM" : "not held",
	       (unsigned long long)pfn_of(p));
	strcpy(buf, "written by the device");
	err = dmirror1(dev, HMM_DMIRROR_WRITE, p, buf, &cmd);
	printf("  does: the device writes \"%s\" (%s, %llu faults), then the CPU reads the page\n",
	       buf, err ? strerror(err) : "ok", (unsigned long long)cmd.faults);
	ok = held == EPERM && !err && !cmd.faults && !strcmp(p, buf);
	err = dmirror1(dev, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, &cmd);
	printf("  kernel: the CPU fault took the page back and told the driver (CHECK_EXCLUSIVE: %s); the CPU reads \"%s\"\n",
	       err ? strerror(err) : "0", p);
	verdict(ok && !err, "the device had the page alone, and the CPU got it back with the device's data");
out:
	if (dev >= 0)
		close(dev);
	munmap(p, pagesize);
	free(buf);
}

int main(void)
{
	int gup;

	printf("mm-exclusive demonstration\n\n");
	gup = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gup < 0) {
		printf("no /sys/kernel/debug/gup_test: %s\n", strerror(errno));
		return 1;
	}
	scenario_pin(gup);
	scenario_cow();
	scenario_pin_fork(gup);
	scenario_ro_pin_fork(gup);
	scenario_pin_mprotect(gup);
	scenario_device_exclusive();
	close(gup);
	printf("%s\n", failures ? "Some scenarios did not behave as expected."
				: "All scenarios behaved as expected.");
	return !!failures;
}
