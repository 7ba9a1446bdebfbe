// SPDX-License-Identifier: GPL-2.0
/*
 * A write fault on a private hugetlb page that only one process maps must
 * not fail where copying the page is impossible.  The parent writes a
 * MAP_PRIVATE 2 MiB hugetlb page, forks and unmaps it: the child maps the
 * page alone, but does not own the mapping's reservation, so a copy needs
 * a free page from the pool.  With the pool empty (nr_hugepages set to
 * what is in use, and no overcommit), 5.10 reuses the page, whatever else
 * holds references to it; a kernel that copies instead of reusing when
 * the page has an extra reference kills the child with SIGBUS.
 *
 * The extra reference is a vmsplice() of the page's first 4 KiB into a
 * pipe that is not read.  Whether a kernel reuses or copies the page, the
 * child must see its own write; what the pipe then gives is the data of
 * before the write (copied) or the child's (reused), and never anything
 * else.  The child vmsplicing its own page is no leak: it sees its own
 * write, as it would with any page of its own.
 *
 * A vmsplice() by the parent before fork() puts the page in the same
 * state: mapped by the child alone, with one reference from a pipe.  There
 * the pipe must keep the data of before fork() (CVE-2020-29374), and with
 * a free page in the pool the child's write copies the page.  With the
 * pool empty, no kernel can both keep the pipe's data and let the child's
 * write succeed: the page is then reused, the pipe gives the child's
 * write, and the child lives (Documentation/mm/anon_exclusive.rst).  Each
 * case expects one outcome: copied with a free page, reused without one.
 *
 * Every case restores the pool as it found it.
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
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "mm_util.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#define HUGETLB_SIZE	(2UL << 20)
#define HUGETLB_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB/"

#define OLD	0x5a	/* what the parent wrote before fork() */
#define CHILD	0x3c	/* what the child writes */

/* ---------------------------------------------------------------------- */
/* The huge page pool */

struct pool {
	bool saved;			/* the fields below are set */
	unsigned long nr;		/* nr_hugepages */
	unsigned long overcommit;	/* nr_overcommit_hugepages */
};

static bool pool_read(const char *file, unsigned long *val)
{
	char path[128];

	snprintf(path, sizeof(path), HUGETLB_DIR "%s", file);
	return sysfs_read_ulong(path, val);
}

static bool pool_write(const char *file, unsigned long val)
{
	char path[128];

	snprintf(path, sizeof(path), HUGETLB_DIR "%s", file);
	return sysfs_write_ulong(path, val);
}

/*
 * Shrink the pool to the pages in use and reserved, plus @spare free pages
 * that anyone may take, with no overcommit; the old sizes go to @saved.
 */
static bool pool_limit(unsigned long spare, struct pool *saved,
		       struct mmt_verdict *v)
{
	unsigned long nr, free, resv;

	if (!pool_read("nr_hugepages", &saved->nr) ||
	    !pool_read("nr_overcommit_hugepages", &saved->overcommit) ||
	    !pool_read("free_hugepages", &free) ||
	    !pool_read("resv_hugepages", &resv)) {
		mmt_skip(v, "cannot read the 2 MiB huge page pool");
		return false;
	}
	saved->saved = true;
	nr = saved->nr - free + resv + spare;
	if (!pool_write("nr_overcommit_hugepages", 0) ||
	    !pool_write("nr_hugepages", nr)) {
		mmt_skip(v, "cannot resize the huge page pool: %s",
			 strerror(errno));
		return false;
	}
	if (!pool_read("free_hugepages", &free) ||
	    !pool_read("resv_hugepages", &resv) || free - resv != spare) {
		mmt_skip(v, "the pool has %lu unreserved free pages, not %lu",
			 free - resv, spare);
		return false;
	}
	return true;
}

/* Put the pool back as it was; failing to is the case's failure. */
static void pool_restore(const struct pool *saved, struct mmt_verdict *v)
{
	unsigned long nr = 0;

	if (!saved->saved)
		return;
	if (!pool_write("nr_hugepages", saved->nr) ||
	    !pool_write("nr_overcommit_hugepages", saved->overcommit) ||
	    !pool_read("nr_hugepages", &nr) || nr != saved->nr)
		mmt_fail(v, "could not restore the huge page pool: %lu pages, not %lu",
			 nr, saved->nr);
}

/* ---------------------------------------------------------------------- */
/* The child that is left with the page */

/* What the child does, one step per byte from the parent. */
#define STEP_SPLICE	's'	/* vmsplice the first 4 KiB into the pipe */
#define STEP_WRITE	'w'	/* write CHILD over the page, check, exit */

/* Exit codes of the child */
#define CHILD_OK	0
#define CHILD_DATA	1	/* it read back something else */
#define CHILD_ERROR	2	/* a system call failed */

struct child {
	pid_t pid;
	int cmd;	/* parent -> child: steps */
	int ack;	/* child -> parent: a step is done */
};

static bool splice_page(int fd, char *mem)
{
	struct iovec iov = { .iov_base = mem, .iov_len = pagesize };

	return vmsplice(fd, &iov, 1, 0) == (ssize_t)pagesize;
}

static void __attribute__((noreturn)) child_main(char *mem, int splice_fd,
						 int cmd, int ack)
{
	char step, res;

	while (read(cmd, &step, 1) == 1) {
		switch (step) {
		case STEP_SPLICE:
			res = splice_page(splice_fd, mem) ? CHILD_OK :
							    CHILD_ERROR;
			if (write(ack, &res, 1) != 1 || res != CHILD_OK)
				_exit(CHILD_ERROR);
			break;
		case STEP_WRITE:
			memset(mem, CHILD, HUGETLB_SIZE);
			_exit(mmt_all_bytes(mem, HUGETLB_SIZE, CHILD) ? CHILD_OK :
								    CHILD_DATA);
		default:
			_exit(CHILD_ERROR);
		}
	}
	_exit(CHILD_ERROR);
}

static bool child_start(struct child *c, char *mem, int splice_fd,
			struct mmt_verdict *v)
{
	int cmd[2], ack[2];

	if (pipe(cmd)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		return false;
	}
	if (pipe(ack)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		close(cmd[0]);
		close(cmd[1]);
		return false;
	}
	c->pid = fork();
	if (!c->pid) {
		close(cmd[1]);
		close(ack[0]);
		child_main(mem, splice_fd, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	if (c->pid < 0) {
		mmt_fail(v, "fork: %s", strerror(errno));
		close(cmd[1]);
		close(ack[0]);
		return false;
	}
	c->cmd = cmd[1];
	c->ack = ack[0];
	return true;
}

static bool child_step(struct child *c, char step, struct mmt_verdict *v)
{
	char res;

	if (write(c->cmd, &step, 1) != 1 || read(c->ack, &res, 1) != 1 ||
	    res != CHILD_OK) {
		mmt_fail(v, "step '%c' failed in the child", step);
		return false;
	}
	return true;
}

/*
 * Let the child write and reap it.  Returns the signal that killed it,
 * 0 if it exited; a failed exit fails @v.
 */
static int child_write(struct child *c, struct mmt_verdict *v)
{
	char step = STEP_WRITE;
	int status;

	if (write(c->cmd, &step, 1) != 1)
		mmt_fail(v, "lost the child");
	close(c->cmd);
	close(c->ack);
	if (waitpid(c->pid, &status, 0) != c->pid) {
		mmt_fail(v, "waitpid: %s", strerror(errno));
		return 0;
	}
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	if (WEXITSTATUS(status) == CHILD_DATA)
		mmt_fail(v, "the child did not read back its own write");
	else if (WEXITSTATUS(status))
		mmt_fail(v, "a system call failed in the child");
	return 0;
}

/* What the pipe gives: OLD, CHILD, or (-1) anything else. */
static int pipe_content(int fd, struct mmt_verdict *v)
{
	char *buf = malloc(pagesize);
	size_t done = 0;
	ssize_t n;
	int what = -1;

	if (!buf) {
		mmt_fail(v, "out of memory");
		return -1;
	}
	while (done < pagesize) {
		n = read(fd, buf + done, pagesize - done);
		if (n <= 0)
			break;
		done += n;
	}
	if (done < pagesize)
		mmt_fail(v, "the pipe gave %zu of %zu bytes", done, pagesize);
	else if (mmt_all_bytes(buf, pagesize, OLD))
		what = OLD;
	else if (mmt_all_bytes(buf, pagesize, CHILD))
		what = CHILD;
	else
		mmt_fail(v, "the pipe gives data that is neither the old data nor the child's");
	free(buf);
	return what;
}

/* ---------------------------------------------------------------------- */
/* Cases */

/* Who vmsplices the page, and how many free pages the pool keeps. */
#define SPLICE_NONE	0
#define SPLICE_CHILD	1	/* after the parent unmapped it */
#define SPLICE_PARENT	2	/* before fork() */

struct test_case {
	const char *name;
	int splice;		/* SPLICE_* */
	unsigned long spare;	/* free pages left in the pool */
	int expect;		/* what the pipe gives then: OLD or CHILD */
};

/* A free page means a copy; without one, the page is reused. */
static const struct test_case cases[] = {
	{ "child_write_no_free_page", SPLICE_NONE, 0, 0 },
	{ "child_splice_no_free_page", SPLICE_CHILD, 0, CHILD },
	{ "child_splice_free_page", SPLICE_CHILD, 1, OLD },
	{ "parent_splice_no_free_page", SPLICE_PARENT, 0, CHILD },
	{ "parent_splice_free_page", SPLICE_PARENT, 1, OLD },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *content_name(int what)
{
	return what == OLD ? "the old data (the page was copied)" :
			     "the child's write (the page was reused)";
}

/* Judge how the child's write went and what the pipe gives then. */
static void judge(const struct test_case *c, int sig, int fd,
		  struct mmt_verdict *v)
{
	int what;

	if (sig) {
		mmt_fail(v, "the child's write killed it with signal %d (%s)%s",
			 sig, strsignal(sig),
			 sig == SIGBUS ? ": the page was neither reused nor copied" :
				     "");
		return;
	}
	if (c->splice == SPLICE_NONE)
		return;
	what = pipe_content(fd, v);
	if (mmt_ok(v) && what != c->expect)
		mmt_fail(v, "the pipe gives %s, not %s", content_name(what),
			 content_name(c->expect));
}

static void run_case(const struct test_case *c, struct mmt_verdict *v)
{
	struct pool saved = { .saved = false };
	struct child child;
	int fds[2], sig;
	char *mem;

	if (pipe(fds)) {
		mmt_fail(v, "pipe: %s", strerror(errno));
		return;
	}
	mem = mmap(NULL, HUGETLB_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		   -1, 0);
	if (mem == MAP_FAILED) {
		mmt_skip(v, "no free 2 MiB hugetlb page: %s", strerror(errno));
		goto out;
	}
	memset(mem, OLD, HUGETLB_SIZE);
	if (c->splice == SPLICE_PARENT && !splice_page(fds[1], mem)) {
		mmt_fail(v, "vmsplice: %s", strerror(errno));
		munmap(mem, HUGETLB_SIZE);
		goto out;
	}
	if (!child_start(&child, mem, fds[1], v)) {
		munmap(mem, HUGETLB_SIZE);
		goto out;
	}
	/* The child alone maps the page now; the parent owns the reserve. */
	if (munmap(mem, HUGETLB_SIZE))
		mmt_fail(v, "munmap: %s", strerror(errno));
	if (mmt_ok(v) && c->splice == SPLICE_CHILD)
		child_step(&child, STEP_SPLICE, v);
	if (!mmt_ok(v) || !pool_limit(c->spare, &saved, v)) {
		/* The child goes without writing: EOF on its steps. */
		close(child.cmd);
		close(child.ack);
		waitpid(child.pid, NULL, 0);
		pool_restore(&saved, v);
		goto out;
	}
	sig = child_write(&child, v);
	pool_restore(&saved, v);
	judge(c, sig, fds[0], v);
out:
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	size_t i;

	ksft_print_header();
	mmt_plan(ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mmt_verdict v = { .res = MMT_PASS };

		run_case(&cases[i], &v);
		mmt_report(cases[i].name, v.res, NULL, "%s", v.why);
	}
	return mmt_exit();
}
