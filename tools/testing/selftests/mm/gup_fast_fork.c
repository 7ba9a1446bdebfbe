// SPDX-License-Identifier: GPL-2.0
/*
 * GUP-fast pins racing with fork().  fork() shares each anonymous page of
 * the parent with the child and clears its exclusive flag, unless the page
 * may be pinned; GUP-fast pins without the mmap lock and relies on
 * mm->write_protect_seq to find out afterwards that a fork() ran
 * meanwhile, and then drops what it pinned.  A pin that GUP-fast keeps
 * must be of an exclusive page; a pin it takes while fork() shares the
 * page is dropped again, and that must not trip the kernel's own checks.
 *
 * One thread pins a populated range again and again through the gup_test
 * fast paths: PIN_FAST_BENCHMARK read-only and read-write, and long-term
 * fast pins (PIN_LONGTERM_TEST_START with USE_FAST) whose pages are read
 * back through the pin.  Another thread makes the pages writable and
 * exclusive again (it writes them, or, for THPs, maps fresh ones) and
 * forks, and each child checks what it sees and writes a few pages.
 *
 * For a race, fork() must be at a page while GUP-fast pins it, and a page
 * fork() has done stops GUP-fast (which then takes the slow path, and the
 * mmap lock).  The two work in lock-step, one pin per fork(), started
 * together.  The range interleaves parts that fork() copies with larger
 * parts that fork() skips (MADV_DONTFORK, vmas of their own) but GUP-fast
 * pins: GUP-fast comes to each forked part from a skipped one, and is
 * slower than fork() over the whole range, so that fork() catches up with
 * it at some forked part.  Where it did shows in the child: fork() gives it
 * copies of the pages it finds pinned and shares the others.  The race is
 * where the point of catching up moves from one forked part to the next:
 * there GUP-fast reaches the part just as fork() does.  So one of the two
 * starts a little later than the other, by a lag adjusted from fork to
 * fork to keep the point of catching up at the middle of the range.
 *
 * Checks: every ioctl succeeds and covers its range; a long-term pin sees
 * what the parent maps; a child sees the parent's data and its own writes;
 * the parent never sees a child's write.  With CONFIG_DEBUG_VM the kernel
 * checks that every page GUP pins is exclusive; a warning it logs while a
 * case runs (read from /dev/kmsg, with the once-only warnings re-armed
 * first) fails the case, and the harness's dmesg check catches it in any
 * case.  A case in which fork() never caught up with GUP-fast in the
 * middle of the range did not reach the race and skips.
 *
 * Cases: base_page.pin_fork (the forked parts are base pages) and
 * thp.pin_fork (each forked part is one PMD-mapped THP).  Each runs for a
 * bounded time and number of forks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#define FOLL_WRITE	0x01	/* gup_test.gup_flags */

#define CASE_SECONDS	25
#define MAX_FORKS	5000
#define CHILD_WRITES	4	/* pages a checking child writes */
#define CHECK_EVERY	16	/* every so many children check */
#define LONGTERM_EVERY	8	/* every so many pins are long-term */
#define LONGTERM_PAGES	64

#define PARENT_MAGIC	0x70a7e47000000000ULL
#define CHILD_MAGIC	0xc417d00000000000ULL

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int gup_fd = -1;

/* ---------------------------------------------------------------------- */
/* Data: the first and the last word of every page carry its stamp. */

static uint64_t stamp(uint64_t magic, size_t page)
{
	return magic | page;
}

static void page_stamp(char *mem, size_t page, uint64_t magic)
{
	uint64_t *w = (uint64_t *)(mem + page * pagesize);

	w[0] = stamp(magic, page);
	w[pagesize / sizeof(*w) - 1] = stamp(magic, page);
}

/* Whether the copy of page @page at @p carries the stamp of @magic. */
static bool copy_has(const char *p, size_t page, uint64_t magic)
{
	const uint64_t *w = (const uint64_t *)p;

	return w[0] == stamp(magic, page) &&
	       w[pagesize / sizeof(*w) - 1] == stamp(magic, page);
}

static bool page_has(const char *mem, size_t page, uint64_t magic)
{
	return copy_has(mem + page * pagesize, page, magic);
}

/* ---------------------------------------------------------------------- */
/* Kernel warnings, from /dev/kmsg */

/* /dev/kmsg positioned after what is logged now; -1 if unreadable. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* The first new record that reports a warning or a bug, into @line. */
static bool kmsg_splat(int fd, char *line, size_t size)
{
	char rec[1024], *msg;
	ssize_t n;

	if (fd < 0)
		return false;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			return false;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (strstr(msg, "WARNING:") || strstr(msg, "BUG:")) {
			msg[strcspn(msg, "\n")] = '\0';
			snprintf(line, size, "%.200s", msg);
			return true;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* The stress */

/*
 * The range: @segments times a skipped part of @skip pages (MADV_DONTFORK)
 * followed by a forked part of @forked pages.
 */
struct stress {
	char *mem;
	size_t npages;
	size_t segments, skip, forked;
	bool thp;		/* each forked part is one THP */

	/* Lock-step: the forker refreshes, then both go at once. */
	unsigned int ready;	/* cycles the range was ready for */
	unsigned int done;	/* cycles the pinner has pinned in */
	int stop;
	double deadline;

	uint64_t *pfns;		/* of the forked parts, before fork() */
	long *caught;		/* shared with the child, see pages_copied() */
	/* How much later the pinner starts, in microseconds; < 0: fork(). */
	long lag;

	pthread_mutex_t lock;	/* protects the first error */
	unsigned long errors;
	char why[256];

	unsigned long forks, ro_pins, rw_pins, longterm_pins;
	unsigned long caught_up;
};

static size_t segment_pages(const struct stress *s)
{
	return s->skip + s->forked;
}

/* Page @i of the forked parts, as a page index of the range. */
static size_t forked_page(const struct stress *s, size_t i)
{
	return (i / s->forked) * segment_pages(s) + s->skip + i % s->forked;
}

static size_t forked_pages(const struct stress *s)
{
	return s->segments * s->forked;
}

/* The PFNs of the forked parts into @pfns; false if they cannot be read. */
static bool forked_pfns(const struct stress *s, uint64_t *pfns)
{
	size_t seg, i;

	for (seg = 0; seg < s->segments; seg++)
		if (!pagemap_read(s->mem + forked_page(s, seg * s->forked) *
				  pagesize, s->forked, pfns + seg * s->forked))
			return false;
	for (i = 0; i < forked_pages(s); i++) {
		if (!(pfns[i] & PM_PRESENT))
			return false;
		pfns[i] &= PM_PFN_MASK;
	}
	return true;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void stress_error(struct stress *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->errors++) {
		va_start(ap, fmt);
		vsnprintf(s->why, sizeof(s->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
}

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) ||
	       now() > s->deadline;
}

/* A cheap pseudo-random sequence, one per thread. */
static unsigned int next_rand(unsigned int *state)
{
	*state = *state * 1103515245 + 12345;
	return *state >> 8;
}

static void stay_on_cpu(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Spin for @usec microseconds. */
static void spin(long usec)
{
	double end = now() + usec / 1e6;

	while (now() < end)
		;
}

/* Spin until *@counter passes @val; false if the stress stops first. */
static bool wait_for(struct stress *s, unsigned int *counter,
		     unsigned int val)
{
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) <= val)
		if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* ---------------------------------------------------------------------- */
/* The pinner */

/* PIN_FAST_BENCHMARK of the whole range in one pin_user_pages_fast(). */
static void fast_pin(struct stress *s, bool write)
{
	struct gup_test gup;

	memset(&gup, 0, sizeof(gup));
	gup.addr = (uintptr_t)s->mem;
	gup.size = s->npages * pagesize;
	gup.nr_pages_per_call = s->npages;
	gup.gup_flags = write ? FOLL_WRITE : 0;
	if (ioctl(gup_fd, PIN_FAST_BENCHMARK, &gup)) {
		stress_error(s, "PIN_FAST_BENCHMARK (%s): %s",
			     write ? "R/W" : "R/O", strerror(errno));
		return;
	}
	if (gup.size != s->npages * pagesize) {
		stress_error(s, "PIN_FAST_BENCHMARK (%s) pinned %llu of %zu bytes",
			     write ? "R/W" : "R/O",
			     (unsigned long long)gup.size,
			     s->npages * pagesize);
		return;
	}
	if (write)
		s->rw_pins++;
	else
		s->ro_pins++;
}

/*
 * A long-term fast pin of LONGTERM_PAGES pages from page @first: what it
 * reads must be what the parent maps.
 */
static void longterm_pin(struct stress *s, size_t first, bool write,
			 char *buf)
{
	struct pin_longterm_test args;
	uint64_t dst = (uintptr_t)buf;
	size_t i;

	memset(&args, 0, sizeof(args));
	args.addr = (uintptr_t)(s->mem + first * pagesize);
	args.size = LONGTERM_PAGES * pagesize;
	args.flags = PIN_LONGTERM_TEST_FLAG_USE_FAST |
		     (write ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0);
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		stress_error(s, "PIN_LONGTERM_TEST_START (%s): %s",
			     write ? "R/W" : "R/O", strerror(errno));
		return;
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst)) {
		stress_error(s, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	} else {
		for (i = 0; i < LONGTERM_PAGES; i++) {
			if (!copy_has(buf + i * pagesize, first + i,
				      PARENT_MAGIC)) {
				stress_error(s,
					     "the long-term pin of page %zu does not see the parent's data",
					     first + i);
				break;
			}
		}
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		stress_error(s, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	s->longterm_pins++;
}

/* One pin per cycle, started as the forker's fork() starts. */
static void *pinner_fn(void *arg)
{
	struct stress *s = arg;
	unsigned int rnd = 1, i;
	size_t first;
	char *buf;

	/* Not for fork() to copy: GUP-fast would have to wait for that. */
	buf = mmap(NULL, LONGTERM_PAGES * pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED ||
	    madvise(buf, LONGTERM_PAGES * pagesize, MADV_DONTFORK)) {
		stress_error(s, "mapping a buffer: %s", strerror(errno));
		return NULL;
	}
	stay_on_cpu(1);
	for (i = 0; wait_for(s, &s->ready, i); i++) {
		if (s->lag > 0)
			spin(s->lag);
		if (i % LONGTERM_EVERY == LONGTERM_EVERY - 1) {
			first = next_rand(&rnd) % (s->npages - LONGTERM_PAGES);
			longterm_pin(s, first, i & LONGTERM_EVERY, buf);
		} else {
			fast_pin(s, i & 1);
		}
		__atomic_store_n(&s->done, i + 1, __ATOMIC_RELEASE);
	}
	munmap(buf, LONGTERM_PAGES * pagesize);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The forker and its children */

/*
 * In the child: fork() copied the pages it found pinned and shared the
 * others.  Where it caught up with GUP-fast: the number of forked pages
 * copied before the first one shared; -1 if the PFNs cannot be read.
 */
static long pages_copied(struct stress *s)
{
	uint64_t *now = calloc(forked_pages(s), sizeof(*now));
	size_t i;

	if (!now || !s->pfns[0] || !forked_pfns(s, now)) {
		free(now);
		return -1;
	}
	for (i = 0; i < forked_pages(s); i++)
		if (now[i] == s->pfns[i])
			break;
	free(now);
	return i;
}

/*
 * Move the point where fork() catches up with GUP-fast towards the middle
 * of the range: start GUP-fast later if fork() caught up late, earlier if
 * early.  No pages copied at all says nothing: GUP-fast may as well have
 * been too late as done before fork() got there.
 */
static void adjust_lag(struct stress *s, long copied)
{
	long n = forked_pages(s);

	if (copied <= 0)
		return;
	if (copied < n)
		s->caught_up++;
	if (copied > n / 2)
		s->lag += 1 + (copied - n / 2) / 4;
	else if (copied < n / 2)
		s->lag -= 1 + (n / 2 - copied) / 4;
}

/* The checking child: the parent's data, then a few pages of its own. */
static int child_check(struct stress *s, unsigned int seed)
{
	size_t mine[CHILD_WRITES], i, n = forked_pages(s);

	for (i = 0; i < n; i++)
		if (!page_has(s->mem, forked_page(s, i), PARENT_MAGIC))
			return 2;
	for (i = 0; i < CHILD_WRITES; i++) {
		mine[i] = forked_page(s, next_rand(&seed) % n);
		page_stamp(s->mem, mine[i], CHILD_MAGIC);
	}
	for (i = 0; i < CHILD_WRITES; i++)
		if (!page_has(s->mem, mine[i], CHILD_MAGIC))
			return 1;
	return 0;
}

/*
 * Make the forked parts writable and exclusive again, with the same data:
 * write them, or map new THPs in place of the old ones (fork() splits a
 * THP it finds pinned, and then even a write maps base pages).  Note their
 * PFNs for the child.
 */
static void refresh(struct stress *s)
{
	size_t seg, i, size = s->forked * pagesize;
	char *part;

	for (seg = 0; s->thp && seg < s->segments; seg++) {
		part = s->mem + (seg * segment_pages(s) + s->skip) * pagesize;
		if (mmap(part, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_FIXED, -1, 0) != part ||
		    madvise(part, size, MADV_HUGEPAGE))
			stress_error(s, "mapping new THPs: %s",
				     strerror(errno));
	}
	for (i = 0; i < forked_pages(s); i++)
		page_stamp(s->mem, forked_page(s, i), PARENT_MAGIC);
	if (!forked_pfns(s, s->pfns))
		s->pfns[0] = 0;
}

/*
 * Per cycle: refresh the range while the pinner waits, let it go, fork()
 * at once, reap the child, wait for the pinner to finish.
 */
static void *forker_fn(void *arg)
{
	struct stress *s = arg;
	unsigned int cycle;
	int status, code;
	pid_t pid;

	stay_on_cpu(0);
	for (cycle = 0; !stopped(s) && cycle < MAX_FORKS; cycle++) {
		refresh(s);
		*s->caught = -1;
		__atomic_store_n(&s->ready, cycle + 1, __ATOMIC_RELEASE);
		if (s->lag < 0)
			spin(-s->lag);
		pid = fork();
		if (pid < 0) {
			stress_error(s, "fork: %s", strerror(errno));
			break;
		}
		if (!pid) {
			*s->caught = pages_copied(s);
			/* Most children go at once: fork() is what counts. */
			_exit(cycle % CHECK_EVERY ? 0 : child_check(s, cycle));
		}
		if (waitpid(pid, &status, 0) != pid) {
			stress_error(s, "waitpid: %s", strerror(errno));
			break;
		}
		s->forks++;
		code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (code < 0)
			stress_error(s, "a child died of signal %d",
				     WTERMSIG(status));
		else if (code == 1)
			stress_error(s, "a child does not see its own write");
		else if (code)
			stress_error(s, "a child does not see the parent's data");
		if (!wait_for(s, &s->done, cycle))
			break;
		/* The long-term pins do not race. */
		if (cycle % LONGTERM_EVERY != LONGTERM_EVERY - 1)
			adjust_lag(s, *s->caught);
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Cases */

struct kind {
	const char *name;
	bool thp;
	size_t segments;
	size_t skip;	/* pages; for THPs, a PMD's worth */
	size_t forked;	/* pages; for THPs, one THP */
};

static const struct kind kinds[] = {
	{ "base_page", false, 48, 96, 1 },
	{ "thp", true, 4, 0, 0 },
};

/* Map and populate the range of @s; NULL, or why not and whether to skip. */
static const char *setup(struct stress *s, const struct kind *k,
			 bool *skip)
{
	size_t pmd = thp_pmd_size(), seg, i, align = pagesize;
	char *part;

	*skip = false;
	s->thp = k->thp;
	s->segments = k->segments;
	s->skip = k->skip;
	s->forked = k->forked;
	if (k->thp) {
		if (!pmd) {
			*skip = true;
			return "THP is not available";
		}
		/* A skipped part that fills a PMD, then one THP. */
		s->skip = pmd / pagesize;
		s->forked = s->skip;
		align = pmd;
	}
	s->npages = s->segments * segment_pages(s);
	s->mem = mmap_aligned(s->npages * pagesize, align);
	if (!s->mem)
		return "mmap failed";
	for (seg = 0; seg < s->segments; seg++) {
		part = s->mem + seg * segment_pages(s) * pagesize;
		if (madvise(part, s->skip * pagesize, MADV_NOHUGEPAGE) ||
		    madvise(part, s->skip * pagesize, MADV_DONTFORK) ||
		    madvise(part + s->skip * pagesize, s->forked * pagesize,
			    k->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
			*skip = true;
			return "madvise failed";
		}
	}
	for (i = 0; i < s->npages; i++)
		page_stamp(s->mem, i, PARENT_MAGIC);
	for (seg = 0; k->thp && seg < s->segments; seg++) {
		part = s->mem + (seg * segment_pages(s) + s->skip) * pagesize;
		if (!range_is_thp(part, pmd)) {
			*skip = true;
			return "could not get THPs";
		}
	}
	s->pfns = calloc(forked_pages(s), sizeof(*s->pfns));
	s->caught = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!s->pfns || s->caught == MAP_FAILED) {
		s->caught = NULL;
		return "out of memory";
	}
	return NULL;
}

static void run_case(const struct kind *k)
{
	char name[64], splat[256];
	pthread_t pinner, forker;
	const char *why;
	struct stress s;
	int kmsg = -1;
	size_t i;
	bool skip;

	snprintf(name, sizeof(name), "%s.pin_fork", k->name);
	if (gup_fd < 0) {
		mmt_report(name, MMT_SKIP, NULL, "no %s", GUP_TEST_PATH);
		return;
	}
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	why = setup(&s, k, &skip);
	if (why) {
		mmt_report(name, skip ? MMT_SKIP : MMT_FAIL, NULL, "%s", why);
		goto out;
	}

	/*
	 * The checks warn once per boot: re-arm them, or an earlier program
	 * that tripped one would leave this case unable to fail.
	 */
	if (!sysfs_write_ulong("/sys/kernel/debug/clear_warn_once", 1)) {
		mmt_report(name, MMT_SKIP, NULL,
			   "cannot re-arm the once-only warnings: %s",
			   strerror(errno));
		goto out;
	}
	kmsg = kmsg_open();
	if (kmsg < 0) {
		mmt_report(name, MMT_SKIP, NULL,
			   "/dev/kmsg: %s: kernel warnings cannot be seen",
			   strerror(errno));
		goto out;
	}
	s.deadline = now() + CASE_SECONDS;
	if (pthread_create(&pinner, NULL, pinner_fn, &s)) {
		mmt_report(name, MMT_FAIL, NULL, "pthread_create failed");
		goto out;
	}
	if (pthread_create(&forker, NULL, forker_fn, &s)) {
		stress_error(&s, "pthread_create failed");
		pthread_join(pinner, NULL);
	} else {
		pthread_join(forker, NULL);
		pthread_join(pinner, NULL);
	}

	for (i = 0; i < s.npages; i++) {
		if (!page_has(s.mem, i, PARENT_MAGIC)) {
			stress_error(&s, "page %zu of the parent lost its data",
				     i);
			break;
		}
	}
	if (kmsg_splat(kmsg, splat, sizeof(splat)))
		stress_error(&s, "the kernel warned: %s", splat);
	ksft_print_msg("%s: %lu forks; %lu R/O and %lu R/W fast pins, %lu long-term\n",
		       name, s.forks, s.ro_pins, s.rw_pins, s.longterm_pins);
	ksft_print_msg("%s: fork() caught up with GUP-fast %lu times; lag %ld us\n",
		       name, s.caught_up, s.lag);
	if (!s.errors && (!s.forks || !s.ro_pins || !s.rw_pins))
		stress_error(&s, "the threads did not get to race");
	if (!s.errors && !s.caught_up) {
		/* fork() never met GUP-fast inside the range. */
		mmt_report(name, MMT_SKIP, NULL,
			   "fork() never caught up with GUP-fast: race not reached");
		goto out;
	}
	mmt_report(name, s.errors ? MMT_FAIL : MMT_PASS, NULL, "%s", s.why);
out:
	if (kmsg >= 0)
		close(kmsg);
	if (s.mem)
		munmap(s.mem, s.npages * pagesize);
	if (s.caught)
		munmap(s.caught, pagesize);
	free(s.pfns);
	pthread_mutex_destroy(&s.lock);
}

int main(void)
{
	size_t k;

	ksft_print_header();
	gup_fd = gup_test_open();
	if (gup_fd < 0)
		ksft_print_msg("%s: %s: the cases skip\n", GUP_TEST_PATH,
			       strerror(errno));
	mmt_plan(ARRAY_SIZE(kinds));
	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		run_case(&kinds[k]);
	return mmt_exit();
}
