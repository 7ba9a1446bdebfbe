// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_FORCE writes into private read-only anonymous memory: what a
 * debugger does through ptrace() or /proc/pid/mem.  Such a write may be
 * refused, or it may break COW and land in a page of this process only;
 * either way the mapping must stay read-only: a plain store to it must
 * still fault.  After fork() the forced write of one side must not reach
 * the other.
 *
 * The write goes through /proc/self/mem.  Refused is an error of EFAULT or
 * EIO (what mem_rw() makes of a failed access), with the memory unchanged.
 * Accepted is a complete write whose data then reads back.  Base pages and
 * THPs must accept it (debuggers rely on that); hugetlb must refuse it,
 * since it cannot break COW there without leaving the entry writable.
 *
 * Cases are named <kind>.<set-up>: a kind is a base page, a THP or a 2 MiB
 * hugetlb page; the set-ups are
 *   unpopulated        PROT_READ, nothing mapped yet: the forced write
 *                      faults the memory in
 *   read_faulted       PROT_READ, read first (the zero page, the huge zero
 *                      page, or a zeroed hugetlb page)
 *   mprotected         written while PROT_READ | PROT_WRITE, then made
 *                      PROT_READ: the page is exclusive and may be reused
 *   fork_child_writes  mprotected, then fork(); the child writes
 *   fork_parent_writes mprotected, then fork(); the parent writes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "mm_util.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#define HUGETLB_SIZE	(2UL << 20)
#define HUGETLB_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB/"
/* One page mapped, one copy for a child and one spare. */
#define HUGETLB_NEEDED	3

#define OLD	0x5a	/* the content before the forced write */
#define NEW	0xa5	/* what the forced write puts there */
#define STORE	0x3c	/* what the plain store tries to put there */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * How a forced write, and the store after it, went.  The codes travel from
 * a child to its parent as exit status, hence the small numbers.
 */
enum outcome {
	OK,
	E_SYS,		/* a system call the test needs failed */
	E_ERRNO,	/* the write failed with an unexpected error */
	E_SHORT,	/* the write was partial */
	E_LOST,		/* the write succeeded; its data does not read back */
	E_CHANGED,	/* the write was refused; the memory changed anyway */
	E_STORED,	/* a plain store to the read-only mapping succeeded */
	E_SIGBUS,	/* the plain store raised SIGBUS, not SIGSEGV */
	E_LEAKED,	/* the other process sees the forced write */
	E_STORED_OTHER,	/* the other process's store succeeded */
	E_CHILD,	/* the child died or lost contact */
	E_REFUSED,	/* the write was refused where it must be accepted */
	E_ACCEPTED,	/* the write was accepted where it must be refused */
	NR_OUTCOMES,
};

static const char *const outcome_text[NR_OUTCOMES] = {
	[OK] = "",
	[E_SYS] = "a system call failed",
	[E_ERRNO] = "the forced write failed with an unexpected error",
	[E_SHORT] = "the forced write was partial",
	[E_LOST] = "the forced write succeeded but its data does not read back",
	[E_CHANGED] = "the forced write was refused but the memory changed",
	[E_STORED] = "a plain store to the PROT_READ mapping succeeded",
	[E_SIGBUS] = "the plain store raised SIGBUS instead of SIGSEGV",
	[E_LEAKED] = "the other process sees the forced write",
	[E_STORED_OTHER] =
		"a plain store of the process that did not write succeeded",
	[E_CHILD] = "lost the child",
	[E_REFUSED] = "the forced write was refused; this kind must take it",
	[E_ACCEPTED] = "the forced write was accepted; this kind must refuse it",
};

/* A child's exit status: the outcome, and whether its write was refused. */
#define REFUSED_BIT	0x40

/* Whether the kind of the current case must refuse forced writes. */
static bool must_refuse;

static sigjmp_buf store_env;
static int store_sig;	/* the signal the store raised, 0 for none */

static void store_fault(int sig)
{
	__atomic_store_n(&store_sig, sig, __ATOMIC_RELAXED);
	siglongjmp(store_env, 1);
}

/*
 * Store one byte to @p: 0 if the store went through, otherwise the signal
 * it raised.
 */
static int store_signal(char *p)
{
	struct sigaction sa, old_segv, old_bus;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = store_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	__atomic_store_n(&store_sig, 0, __ATOMIC_RELAXED);
	/* The store returns only if the mapping is writable. */
	if (!sigsetjmp(store_env, 1))
		__atomic_store_n(p, STORE, __ATOMIC_RELAXED);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return __atomic_load_n(&store_sig, __ATOMIC_RELAXED);
}

/*
 * Write @len bytes of NEW over @p, whose bytes are all @old, through
 * /proc/self/mem; then store to @p directly.  *@refused tells how the
 * forced write went.
 */
static enum outcome force_write(char *p, size_t len, char old, bool *refused)
{
	char *buf = malloc(len);
	ssize_t done;
	int fd, err, sig;

	*refused = false;
	if (!buf)
		return E_SYS;
	memset(buf, NEW, len);
	fd = open("/proc/self/mem", O_RDWR);
	if (fd < 0) {
		free(buf);
		return E_SYS;
	}
	done = pwrite(fd, buf, len, (off_t)(uintptr_t)p);
	err = errno;
	close(fd);
	free(buf);
	if (done < 0) {
		if (err != EFAULT && err != EIO)
			return E_ERRNO;
		*refused = true;
		if (!mmt_all_bytes(p, len, old))
			return E_CHANGED;
	} else if ((size_t)done != len) {
		return E_SHORT;
	} else if (!mmt_all_bytes(p, len, NEW)) {
		return E_LOST;
	}
	sig = store_signal(p);
	if (!sig)
		return E_STORED;
	return sig == SIGSEGV ? OK : E_SIGBUS;
}

/* ---------------------------------------------------------------------- */
/* Kinds */

struct kind {
	const char *name;
	/* Map @prot memory of the kind; NULL and *why if it cannot be. */
	char *(*map)(int prot, size_t *size, const char **why, bool *skip);
	/* Whether set-ups that write first must see a THP afterwards. */
	bool thp;
	/* Whether forced writes must be refused. */
	bool refuse;
};

static char *map_base(int prot, size_t *size, const char **why, bool *skip)
{
	char *p = mmap(NULL, pagesize, prot, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED) {
		*why = "mmap failed";
		return NULL;
	}
	*size = pagesize;
	return p;
}

static char *map_thp(int prot, size_t *size, const char **why, bool *skip)
{
	size_t pmd = thp_pmd_size();
	char *p;

	if (!pmd) {
		*skip = true;
		*why = "THP is not available";
		return NULL;
	}
	p = mmap_aligned(pmd, pmd);
	if (!p) {
		*why = "mmap failed";
		return NULL;
	}
	if (madvise(p, pmd, MADV_HUGEPAGE)) {
		*skip = true;
		*why = "MADV_HUGEPAGE failed";
		munmap(p, pmd);
		return NULL;
	}
	if (mprotect(p, pmd, prot)) {
		*why = "mprotect failed";
		munmap(p, pmd);
		return NULL;
	}
	*size = pmd;
	return p;
}

static unsigned long hugetlb_saved = ~0UL;	/* nr_hugepages to restore */

/* Make sure that HUGETLB_NEEDED huge pages are free; false if not. */
static bool hugetlb_reserve(void)
{
	unsigned long nr, free_pages;

	if (!sysfs_read_ulong(HUGETLB_DIR "free_hugepages", &free_pages) ||
	    !sysfs_read_ulong("/proc/sys/vm/nr_hugepages", &nr))
		return false;
	if (free_pages >= HUGETLB_NEEDED)
		return true;
	if (hugetlb_saved == ~0UL)
		hugetlb_saved = nr;
	sysfs_write_ulong("/proc/sys/vm/nr_hugepages",
			  nr + HUGETLB_NEEDED - free_pages);
	return sysfs_read_ulong(HUGETLB_DIR "free_hugepages", &free_pages) &&
	       free_pages >= HUGETLB_NEEDED;
}

static void hugetlb_restore(void)
{
	if (hugetlb_saved != ~0UL)
		sysfs_write_ulong("/proc/sys/vm/nr_hugepages", hugetlb_saved);
}

static char *map_hugetlb(int prot, size_t *size, const char **why,
			 bool *skip)
{
	char *p;

	if (!hugetlb_reserve()) {
		*skip = true;
		*why = "cannot get free 2 MiB huge pages";
		return NULL;
	}
	p = mmap(NULL, HUGETLB_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	if (p == MAP_FAILED) {
		*skip = true;
		*why = "cannot map a 2 MiB hugetlb page";
		return NULL;
	}
	*size = HUGETLB_SIZE;
	return p;
}

static const struct kind kinds[] = {
	{ "base_page", map_base, false, false },
	{ "thp", map_thp, true, false },
	{ "hugetlb", map_hugetlb, false, true },
};

/* ---------------------------------------------------------------------- */
/* Set-ups */

struct region {
	char *mem;
	size_t size;
	char old;	/* what every byte holds before the forced write */
};

/* What a set-up hands the case: the region, or why there is none. */
struct setup_result {
	const char *why;
	bool skip;
};

static bool setup_prot_read(const struct kind *k, struct region *r,
			    bool read_first, struct setup_result *res)
{
	size_t i;

	r->mem = k->map(PROT_READ, &r->size, &res->why, &res->skip);
	if (!r->mem)
		return false;
	r->old = 0;
	if (read_first) {
		for (i = 0; i < r->size; i += pagesize)
			if (r->mem[i])
				res->why = "fresh memory is not zero";
	}
	return !res->why;
}

static bool setup_mprotected(const struct kind *k, struct region *r,
			     struct setup_result *res)
{
	r->mem = k->map(PROT_READ | PROT_WRITE, &r->size, &res->why,
			&res->skip);
	if (!r->mem)
		return false;
	r->old = OLD;
	memset(r->mem, OLD, r->size);
	if (k->thp && !range_is_thp(r->mem, r->size)) {
		res->skip = true;
		res->why = "could not get a THP";
		return false;
	}
	if (mprotect(r->mem, r->size, PROT_READ)) {
		res->why = "mprotect failed";
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* Cases */

/* The forced write covers the first page (of a huge page: its start). */
static size_t write_len(void)
{
	return pagesize;
}

/*
 * Say how the forced write went, if it got that far; an outcome that is
 * otherwise fine fails if the kind wants the other answer.
 */
static enum outcome report_write(const char *name, enum outcome o,
				 bool refused)
{
	if (o != OK && o != E_STORED && o != E_SIGBUS)
		return o;
	ksft_print_msg("%s: the forced write was %s\n", name,
		       refused ? "refused" : "accepted");
	if (o == OK && refused != must_refuse)
		return refused ? E_REFUSED : E_ACCEPTED;
	return o;
}

/* The memory of @r, but for what the forced write put there, is @r->old. */
static bool rest_unchanged(const struct region *r, bool refused)
{
	size_t len = write_len();

	if (refused)
		return mmt_all_bytes(r->mem, r->size, r->old);
	return r->size <= len || mmt_all_bytes(r->mem + len, r->size - len, r->old);
}

static enum outcome one_process(const char *name, struct region *r)
{
	enum outcome o;
	bool refused;

	o = force_write(r->mem, write_len(), r->old, &refused);
	o = report_write(name, o, refused);
	if (o == OK && !rest_unchanged(r, refused))
		o = E_CHANGED;
	return o;
}

/* Wait for @pid; the outcome it exited with, and whether it was refused. */
static enum outcome child_outcome(pid_t pid, bool *refused)
{
	int status, code;

	*refused = false;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return E_CHILD;
	code = WEXITSTATUS(status);
	*refused = code & REFUSED_BIT;
	code &= ~REFUSED_BIT;
	return code < NR_OUTCOMES ? (enum outcome)code : E_CHILD;
}

static enum outcome fork_child_writes(const char *name, struct region *r)
{
	enum outcome o, mine;
	bool refused;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return E_SYS;
	if (!pid) {
		o = force_write(r->mem, write_len(), r->old, &refused);
		_exit(o | (refused ? REFUSED_BIT : 0));
	}
	o = child_outcome(pid, &refused);
	o = report_write(name, o, refused);
	/* Nothing of the child's write, and the parent still cannot store. */
	mine = mmt_all_bytes(r->mem, r->size, r->old) ? OK : E_LEAKED;
	if (mine == OK && store_signal(r->mem) != SIGSEGV)
		mine = E_STORED_OTHER;
	return o != OK ? o : mine;
}

static enum outcome fork_parent_writes(const char *name, struct region *r)
{
	int go[2];
	enum outcome o, theirs;
	bool refused, unused;
	pid_t pid;
	char b = 0;

	if (pipe(go))
		return E_SYS;
	pid = fork();
	if (pid < 0) {
		close(go[0]);
		close(go[1]);
		return E_SYS;
	}
	if (!pid) {
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(E_CHILD);
		if (!mmt_all_bytes(r->mem, r->size, r->old))
			_exit(E_LEAKED);
		_exit(store_signal(r->mem) == SIGSEGV ? OK : E_STORED_OTHER);
	}
	close(go[0]);
	o = force_write(r->mem, write_len(), r->old, &refused);
	o = report_write(name, o, refused);
	if (o == OK && !rest_unchanged(r, refused))
		o = E_CHANGED;
	if (write(go[1], &b, 1) != 1 && o == OK)
		o = E_CHILD;
	close(go[1]);
	theirs = child_outcome(pid, &unused);
	return o != OK ? o : theirs;
}

enum setup {
	UNPOPULATED,
	READ_FAULTED,
	MPROTECTED,
};

struct test_case {
	const char *name;
	enum setup setup;
	enum outcome (*run)(const char *name, struct region *r);
};

static const struct test_case cases[] = {
	{ "unpopulated", UNPOPULATED, one_process },
	{ "read_faulted", READ_FAULTED, one_process },
	{ "mprotected", MPROTECTED, one_process },
	{ "fork_child_writes", MPROTECTED, fork_child_writes },
	{ "fork_parent_writes", MPROTECTED, fork_parent_writes },
};

static void run_case(const struct kind *k, const struct test_case *c)
{
	struct setup_result res = { NULL, false };
	struct region r = { NULL, 0, 0 };
	char name[64];
	enum outcome o;
	bool ready;

	snprintf(name, sizeof(name), "%s.%s", k->name, c->name);
	must_refuse = k->refuse;
	if (c->setup == MPROTECTED)
		ready = setup_mprotected(k, &r, &res);
	else
		ready = setup_prot_read(k, &r, c->setup == READ_FAULTED, &res);
	if (!ready) {
		mmt_report(name, res.skip ? MMT_SKIP : MMT_FAIL, NULL, "%s",
			   res.why);
	} else {
		o = c->run(name, &r);
		mmt_report(name, o == OK ? MMT_PASS : MMT_FAIL, NULL, "%s",
			   outcome_text[o]);
	}
	if (r.mem)
		munmap(r.mem, r.size);
}

int main(void)
{
	size_t k, c;

	ksft_print_header();
	mmt_plan(ARRAY_SIZE(kinds) * ARRAY_SIZE(cases));
	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (c = 0; c < ARRAY_SIZE(cases); c++)
			run_case(&kinds[k], &cases[c]);
	hugetlb_restore();
	return mmt_exit();
}
