// SPDX-License-Identifier: GPL-2.0
/*
 * Fork, COW and long-term pins: after fork, mprotect() and the like, a page
 * pinned through gup_test must still be the page the parent has mapped, and
 * parent and child must each see only their own writes.
 *
 * Every case is named <page kind>.<pin>.<scenario>.  A kernel that cannot
 * tell an exclusively owned anonymous page from a shared one fails the
 * read-only pins after fork and the pins across mprotect().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#define OLD	0x11	/* content before fork */
#define NEW	0x22	/* what the parent writes */
#define CHILD	0x33	/* what the child writes */

struct kind {
	const char *name;
	bool thp;
};

struct pin {
	const char *name;
	bool pinned;
	unsigned int flags;	/* PIN_LONGTERM_TEST_FLAG_* */
};

struct scenario {
	const char *name;
	bool needs_pin;		/* meaningless without a pin */
	bool pin_first;		/* pin before fork, not after */
	bool child_writes;	/* the child writes, not the parent */
	const char *(*run)(char *mem, size_t size, const struct pin *pin,
			   const struct scenario *s);
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int gup_fd;

static bool all_bytes(const char *p, size_t size, char val)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (p[i] != val)
			return false;
	return true;
}

static int pin_start(char *mem, size_t size, const struct pin *pin)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem, .size = size, .flags = pin->flags,
	};

	if (!pin->pinned)
		return 0;
	return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args);
}

static void pin_stop(const struct pin *pin)
{
	if (pin->pinned)
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
}

/* Does the pin still see what the parent has mapped? */
static const char *pin_coherent(char *mem, size_t size, const struct pin *pin)
{
	static char *buf;
	static size_t buf_size;
	uint64_t dst;

	if (!pin->pinned)
		return NULL;
	if (buf_size < size) {
		free(buf);
		buf = malloc(size);
		buf_size = buf ? size : 0;
		if (!buf)
			return "out of memory";
	}
	dst = (uintptr_t)buf;
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst))
		return "PIN_LONGTERM_TEST_READ failed";
	if (memcmp(buf, mem, size))
		return "the pinned page no longer is the page the parent maps";
	return NULL;
}

/*
 * A child that shares the parent's memory until told to go on; then it
 * optionally writes, and checks that it sees only its own data.
 */
struct child {
	pid_t pid;
	int go;		/* parent -> child */
	int done;	/* child -> parent */
};

static int child_start(struct child *c, char *mem, size_t size, bool do_write)
{
	int to_child[2], to_parent[2];
	char b = 0;

	if (pipe(to_child) || pipe(to_parent))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (!c->pid) {
		int ret = 0;

		close(to_child[1]);
		close(to_parent[0]);
		if (do_write) {
			memset(mem, CHILD, size);
			ret = !all_bytes(mem, size, CHILD);
		}
		if (write(to_parent[1], &b, 1) != 1 ||
		    read(to_child[0], &b, 1) != 1)
			_exit(2);
		if (!do_write && !all_bytes(mem, size, OLD))
			ret = 1;
		_exit(ret);
	}
	close(to_child[0]);
	close(to_parent[1]);
	c->go = to_child[1];
	c->done = to_parent[0];
	/* Wait until the child has run (and written, if asked to). */
	return read(c->done, &b, 1) == 1 ? 0 : -1;
}

/* Let the child finish; NULL if it saw only its own data. */
static const char *child_finish(struct child *c)
{
	char b = 0;
	int status;

	if (write(c->go, &b, 1) != 1)
		return "lost the child";
	close(c->go);
	close(c->done);
	if (waitpid(c->pid, &status, 0) != c->pid || !WIFEXITED(status))
		return "the child died";
	if (WEXITSTATUS(status) == 1)
		return "the child saw data that is not its own";
	return WEXITSTATUS(status) ? "the child failed" : NULL;
}

/*
 * Fork while the parent's memory may be pinned; then the parent or the
 * child writes.  Each must see only its own data, and the pin must still
 * see what the parent maps.
 */
static const char *fork_write(char *mem, size_t size, const struct pin *pin,
			      const struct scenario *s)
{
	const char *why = NULL, *child_why;
	struct child c;

	if (s->pin_first && pin_start(mem, size, pin))
		return "PIN_LONGTERM_TEST_START failed";
	if (child_start(&c, mem, size, s->child_writes)) {
		pin_stop(pin);
		return "fork failed";
	}
	if (!s->pin_first && pin_start(mem, size, pin))
		why = "PIN_LONGTERM_TEST_START failed";
	if (!why && !s->child_writes)
		memset(mem, NEW, size);
	if (!why && !all_bytes(mem, size, s->child_writes ? OLD : NEW))
		why = s->child_writes ? "the parent sees the child's write" :
					"the parent lost its own write";
	if (!why)
		why = pin_coherent(mem, size, pin);
	child_why = child_finish(&c);
	pin_stop(pin);
	return why ? why : child_why;
}

static const char *mprotect_write(char *mem, size_t size,
				  const struct pin *pin,
				  const struct scenario *s)
{
	const char *why;

	if (pin_start(mem, size, pin))
		return "PIN_LONGTERM_TEST_START failed";
	if (mprotect(mem, size, PROT_READ) ||
	    mprotect(mem, size, PROT_READ | PROT_WRITE)) {
		pin_stop(pin);
		return "mprotect failed";
	}
	memset(mem, NEW, size);
	why = pin_coherent(mem, size, pin);
	pin_stop(pin);
	return why;
}

static const struct kind kinds[] = {
	{ "base_page", false },
	{ "thp", true },
};

static const struct pin pins[] = {
	{ "no_pin", false, 0 },
	{ "ro_pin", true, 0 },
	{ "ro_pin_fast", true, PIN_LONGTERM_TEST_FLAG_USE_FAST },
	{ "rw_pin", true, PIN_LONGTERM_TEST_FLAG_USE_WRITE },
	{ "rw_pin_fast", true, PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			       PIN_LONGTERM_TEST_FLAG_USE_FAST },
};

static const struct scenario scenarios[] = {
	{ "pin_fork_parent_write", false, true, false, fork_write },
	{ "pin_fork_child_write", false, true, true, fork_write },
	{ "fork_pin_parent_write", true, false, false, fork_write },
	{ "pin_mprotect_parent_write", true, true, false, mprotect_write },
};

static void run_case(const struct kind *k, const struct pin *p,
		     const struct scenario *s)
{
	size_t size = k->thp ? thp_pmd_size() : pagesize;
	const char *why;
	char name[128];
	char *mem;

	snprintf(name, sizeof(name), "%s.%s.%s", k->name, p->name,
		 /* without a pin, "pin_fork_x" is plain "fork_x" */
		 p->pinned ? s->name : s->name + 4);

	if (p->pinned && gup_fd < 0) {
		mmt_report(name, MMT_SKIP, NULL, "no %s", GUP_TEST_PATH);
		return;
	}
	if (k->thp && !size) {
		mmt_report(name, MMT_SKIP, NULL, "THP not available");
		return;
	}
	mem = mmap_aligned(size, size);
	if (!mem) {
		mmt_report(name, MMT_FAIL, NULL, "mmap: %s", strerror(errno));
		return;
	}
	if (k->thp && madvise(mem, size, MADV_HUGEPAGE)) {
		mmt_report(name, MMT_SKIP, NULL, "MADV_HUGEPAGE: %s",
			   strerror(errno));
		munmap(mem, size);
		return;
	}
	memset(mem, OLD, size);
	if (k->thp && !range_is_thp(mem, size)) {
		mmt_report(name, MMT_SKIP, NULL, "could not get a THP");
		munmap(mem, size);
		return;
	}
	why = s->run(mem, size, p, s);
	mmt_report(name, why ? MMT_FAIL : MMT_PASS, NULL, "%s", why ? why : "");
	munmap(mem, size);
}

int main(void)
{
	size_t k, p, s, n = 0;

	ksft_print_header();
	gup_fd = gup_test_open();
	if (gup_fd < 0)
		ksft_print_msg("%s: %s: pinned cases skip\n", GUP_TEST_PATH,
			       strerror(errno));

	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (p = 0; p < ARRAY_SIZE(pins); p++)
			for (s = 0; s < ARRAY_SIZE(scenarios); s++)
				n += pins[p].pinned || !scenarios[s].needs_pin;
	mmt_plan(n);

	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (p = 0; p < ARRAY_SIZE(pins); p++)
			for (s = 0; s < ARRAY_SIZE(scenarios); s++)
				if (pins[p].pinned || !scenarios[s].needs_pin)
					run_case(&kinds[k], &pins[p],
						 &scenarios[s]);
	return mmt_exit();
}
