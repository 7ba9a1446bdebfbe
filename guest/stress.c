// SPDX-License-Identifier: GPL-2.0
/*
 * `make stress`: workers that race the paths the series changes, each in a
 * process of its own and for a bounded time (STRESS_SECS, default 60),
 * each checking an invariant after every operation.  One KTAP line per
 * worker: operations, checks made, violations; any violation fails it,
 * and the harness fails the run on any kernel splat.
 *
 * fork_cow     fork with COW writes on both sides: neither side ever reads
 *              what the other wrote after the fork
 * fork_cow_memfd  the same on a private mapping of a memfd
 * pin_rw       a long-term R/W pin (gup_test) of pages the process keeps
 *              writing while another thread forks and pages are swapped
 *              out and read back in: the pin always shows the owner's
 *              latest write
 * uring_pin    an io_uring fixed buffer (a long-term R/W pin that the
 *              base has too) written by its owner, offered to reclaim,
 *              read and written again: an IORING_OP_WRITE_FIXED of the
 *              buffer shows the owner's latest write
 * pin_ro_fork  a long-term R/O pin taken after fork, then the parent
 *              writes: the pin shows the parent's write, never the old data
 * vmsplice     the child of a fork vmsplice()s a page into a pipe and
 *              unmaps it, the parent then writes it: the pipe never shows
 *              the parent's write (CVE-2020-29374, closed since 5.8)
 * swap         MADV_PAGEOUT and swap-in by read and write: data survives
 * thp          THPs split by partial MADV_DONTNEED, munmap and mprotect
 *              flips: the rest of the data survives
 * ksm          pages merged by a fast ksmd and written again: each page
 *              keeps its own data
 * migrate      move_pages() between the nodes while another thread writes:
 *              data survives
 * exclusive    test_hmm takes pages for its device while threads read and
 *              write them: data survives, every take is given back
 * memfd_seal   F_SEAL_WRITE raced against writable mappings and pins: a
 *              sealed memfd never changes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include "lib/test_hmm_uapi.h"
#include "mm/gup_test.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef F_SEAL_WRITE
#define F_SEAL_WRITE	0x0008
#endif
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NPAGES		32

/* What a worker reports, in memory its parent shares. */
struct tally {
	unsigned long ops;
	unsigned long checks;
	unsigned long violations;
	int skipped;
	char first[160];	/* the first violation, or why it skipped */
};

static struct tally *me;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int running(void)
{
	return now() < deadline;
}

static void check(int ok, const char *fmt, ...)
	__attribute__((__format__(__printf__, 2, 3)));

/* Count a check; record the first violation. */
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&me->checks, 1, __ATOMIC_RELAXED);
	if (ok)
		return;
	if (__atomic_add_fetch(&me->violations, 1, __ATOMIC_RELAXED) == 1) {
		va_start(ap, fmt);
		vsnprintf(me->first, sizeof(me->first), fmt, ap);
		va_end(ap);
	}
}

static void skip(const char *why)
{
	me->skipped = 1;
	snprintf(me->first, sizeof(me->first), "%s", why);
}

static void op(void)
{
	__atomic_add_fetch(&me->ops, 1, __ATOMIC_RELAXED);
}

static char *anon(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Fill each page of @p with a value made of @tag and its index. */
static void fill(char *p, int npages, int tag)
{
	int i;

	for (i = 0; i < npages; i++)
		memset(p + i * pagesize, (tag + i) & 0xff, pagesize);
}

/* Whether @p holds what fill(@tag) wrote. */
static int holds(const char *p, int npages, int tag)
{
	int i;

	for (i = 0; i < npages; i++)
		if (!mmt_all_bytes(p + i * pagesize, pagesize, (tag + i) & 0xff))
			return 0;
	return 1;
}

/* ---------------------------------------------------------------------- */

/*
 * fork with COW writes on both sides of @p, NPAGES pages: neither side
 * ever reads what the other wrote after the fork.
 */
static void fork_cow_on(char *p)
{
	int tag = 1, status;
	pid_t pid;

	while (running()) {
		fill(p, NPAGES, tag);
		pid = fork();
		if (pid < 0) {
			check(0, "fork: %s", strerror(errno));
			break;
		}
		if (!pid) {
			int ok = holds(p, NPAGES, tag);

			fill(p, NPAGES, tag + 100);
			usleep(100);
			_exit(ok && holds(p, NPAGES, tag + 100) ? 0 : 1);
		}
		fill(p, NPAGES, tag + 50);
		check(holds(p, NPAGES, tag + 50), "parent lost its write");
		waitpid(pid, &status, 0);
		check(WIFEXITED(status) && !WEXITSTATUS(status),
		      "the child saw the parent's write or lost its own");
		check(holds(p, NPAGES, tag + 50), "parent saw the child's write");
		tag += 3;
		op();
	}
}

static void fork_cow(void)
{
	char *p = anon(NPAGES * pagesize);

	if (!p)
		return skip("mmap");
	fork_cow_on(p);
	munmap(p, NPAGES * pagesize);
}

/* The same on a MAP_PRIVATE mapping of a memfd: COW from page cache. */
static void fork_cow_memfd(void)
{
	int fd = memfd_create("stress", 0);
	char *p;

	if (fd < 0 || ftruncate(fd, NPAGES * pagesize))
		return skip("memfd");
	p = mmap(NULL, NPAGES * pagesize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return skip("mmap");
	fork_cow_on(p);
	munmap(p, NPAGES * pagesize);
	close(fd);
}

struct forker {
	int stop;
	unsigned long forks;
};

static void *fork_loop(void *arg)
{
	struct forker *f = arg;
	pid_t pid;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		pid = fork();
		if (!pid)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		f->forks++;
	}
	return NULL;
}

/*
 * Read what the long-term pin of gup_test holds into @buf, check it is
 * fill(@tag), and release the pin.
 */
static void pin_shows(int gup, char *buf, int tag, const char *what)
{
	uint64_t ubuf = (uintptr_t)buf;

	if (ioctl(gup, PIN_LONGTERM_TEST_READ, &ubuf))
		check(0, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	else
		check(holds(buf, NPAGES, tag), "%s", what);
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
}

static void pin_rw(void)
{
	struct pin_longterm_test pin = {
		.size = NPAGES * pagesize,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	char *p = anon(NPAGES * pagesize), *buf = malloc(NPAGES * pagesize);
	struct forker f = { 0 };
	int gup = gup_test_open(), tag = 7, round = 0;
	pthread_t th;

	if (!p || !buf || gup < 0)
		return skip("gup_test or memory");
	fill(p, NPAGES, tag);
	pthread_create(&th, NULL, fork_loop, &f);
	while (running()) {
		pin.addr = (uintptr_t)p;
		pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			    (round & 1 ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
		if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin)) {
			check(0, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
			break;
		}
		tag += 5;
		fill(p, NPAGES, tag);
		if (round % 4 == 3) {
			/* Swapped out, then read back in before the write. */
			madvise(p, NPAGES * pagesize, MADV_PAGEOUT);
			check(holds(p, NPAGES, tag), "data lost by swap");
		}
		fill(p, NPAGES, tag + 1);
		pin_shows(gup, buf, tag + 1,
			  "the R/W pin does not show the owner's last write");
		round++;
		op();
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	close(gup);
	munmap(p, NPAGES * pagesize);
	free(buf);
}

/* A minimal io_uring: one ring, one fixed buffer, one request at a time. */
struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail;
	unsigned int *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *r, void *buf, size_t size)
{
	struct io_uring_params prm;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	char *sq, *cq;

	memset(&prm, 0, sizeof(prm));
	r->fd = syscall(__NR_io_uring_setup, 4, &prm);
	if (r->fd < 0)
		return -1;
	sq = mmap(NULL, prm.sq_off.array + prm.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, prm.cq_off.cqes +
		  prm.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		  IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, prm.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		       IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned int *)(sq + prm.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + prm.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + prm.sq_off.array);
	r->cq_head = (unsigned int *)(cq + prm.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + prm.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + prm.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + prm.cq_off.cqes);
	/* The registration pins the buffer: FOLL_WRITE | FOLL_LONGTERM. */
	return syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS,
		       &iov, 1);
}

/* IORING_OP_WRITE_FIXED of the whole buffer to @fd; its result. */
static int ring_write_fixed(struct ring *r, int fd, void *buf, size_t size)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_WRITE_FIXED;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = size;
	sqe->buf_index = 0;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

#define URING_PAGES	8	/* 32 KiB: fits a pipe */

static void uring_pin(void)
{
	size_t size = URING_PAGES * pagesize;
	char *p = anon(size), *buf = malloc(size);
	int tag = 21, fds[2], res;
	struct ring r;

	if (!swap_available())
		return skip("no swap");
	if (!p || !buf || pipe(fds))
		return skip("memory or pipe");
	fill(p, URING_PAGES, tag);
	if (ring_setup(&r, p, size))
		return skip("io_uring fixed buffers");
	while (running()) {
		tag += 2;
		fill(p, URING_PAGES, tag);
		/* Offered to reclaim, read, then written. */
		madvise(p, size, MADV_PAGEOUT);
		check(holds(p, URING_PAGES, tag), "data lost by swap");
		fill(p, URING_PAGES, tag + 1);
		res = ring_write_fixed(&r, fds[1], p, size);
		if (res != (int)size) {
			check(0, "IORING_OP_WRITE_FIXED: %d", res);
			break;
		}
		if (read(fds[0], buf, size) != (ssize_t)size) {
			check(0, "read from the pipe: %s", strerror(errno));
			break;
		}
		check(holds(buf, URING_PAGES, tag + 1),
		      "the fixed buffer does not show the owner's last write");
		op();
	}
	close(r.fd);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
	free(buf);
}

static void pin_ro_fork(void)
{
	struct pin_longterm_test pin = { .size = NPAGES * pagesize };
	char *p = anon(NPAGES * pagesize), *buf = malloc(NPAGES * pagesize);
	int gup = gup_test_open(), tag = 3, status;
	pid_t pid;

	if (!p || !buf || gup < 0)
		return skip("gup_test or memory");
	while (running()) {
		fill(p, NPAGES, tag);
		pid = fork();
		if (!pid) {
			usleep(2000);
			_exit(holds(p, NPAGES, tag) ? 0 : 1);
		}
		pin.addr = (uintptr_t)p;
		if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin)) {
			check(0, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
			waitpid(pid, NULL, 0);
			break;
		}
		fill(p, NPAGES, tag + 1);
		pin_shows(gup, buf, tag + 1,
			  "the R/O pin does not show the parent's write");
		waitpid(pid, &status, 0);
		check(WIFEXITED(status) && !WEXITSTATUS(status),
		      "the child saw the parent's write");
		tag += 2;
		op();
	}
	close(gup);
	munmap(p, NPAGES * pagesize);
	free(buf);
}

static void vmsplice_leak(void)
{
	char *p = anon(pagesize), *buf = malloc(pagesize);
	int tag = 9, status, fds[2];
	pid_t pid;

	if (!p || !buf)
		return skip("memory");
	while (running()) {
		if (pipe(fds)) {
			check(0, "pipe: %s", strerror(errno));
			break;
		}
		fill(p, 1, tag);
		pid = fork();
		if (!pid) {
			struct iovec iov = { .iov_base = p, .iov_len = pagesize };

			close(fds[0]);
			if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)pagesize)
				_exit(2);
			/* Unmapped: only the pipe's reference holds the page. */
			munmap(p, pagesize);
			pause();
			_exit(0);
		}
		close(fds[1]);
		usleep(1000);
		fill(p, 1, tag + 1);
		if (read(fds[0], buf, pagesize) != (ssize_t)pagesize)
			check(0, "read from the pipe: %s", strerror(errno));
		else
			check(holds(buf, 1, tag),
			      "the child's pipe shows the parent's later write");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(fds[0]);
		tag += 2;
		op();
	}
	munmap(p, pagesize);
	free(buf);
}

static void swap_worker(void)
{
	char *p = anon(NPAGES * pagesize);
	int tag = 11;

	if (!swap_available())
		return skip("no swap");
	if (!p)
		return skip("memory");
	while (running()) {
		fill(p, NPAGES, tag);
		madvise(p, NPAGES * pagesize, MADV_PAGEOUT);
		if (tag & 1) {
			check(holds(p, NPAGES, tag), "data lost by swap (read)");
		} else {
			p[0] = tag & 0xff;
			check(holds(p + pagesize, NPAGES - 1, tag + 1),
			      "data lost by swap (write)");
		}
		tag++;
		op();
	}
	munmap(p, NPAGES * pagesize);
}

static void thp_worker(void)
{
	size_t thp = thp_pmd_size();
	int tag = 13, n;
	char *p;

	if (!thp)
		return skip("no THP");
	n = thp / pagesize;
	while (running()) {
		p = mmap_aligned(thp, thp);
		if (!p) {
			check(0, "mmap: %s", strerror(errno));
			break;
		}
		madvise(p, thp, MADV_HUGEPAGE);
		fill(p, n, tag);
		/* Split it: drop a page, flip another's protection. */
		madvise(p + 5 * pagesize, pagesize, MADV_DONTNEED);
		mprotect(p + 9 * pagesize, pagesize, PROT_READ);
		check(holds(p + 6 * pagesize, n - 6, tag + 6),
		      "THP data lost by the split");
		mprotect(p + 9 * pagesize, pagesize, PROT_READ | PROT_WRITE);
		munmap(p + (n / 2) * pagesize, pagesize);
		check(holds(p, 5, tag), "THP data lost by partial munmap");
		munmap(p, thp);
		tag++;
		op();
	}
}

static void ksm_worker(void)
{
	char *p = anon(NPAGES * pagesize);
	int round = 0, i;

	if (access("/sys/kernel/mm/ksm/run", F_OK))
		return skip("no KSM");
	if (!p)
		return skip("memory");
	/* Half the pages identical, for ksmd to merge over and over. */
	memset(p, 0x42, NPAGES * pagesize);
	madvise(p, NPAGES * pagesize, MADV_MERGEABLE);
	while (running()) {
		i = round % NPAGES;
		p[i * pagesize] = (char)round;
		usleep(500);
		check(p[i * pagesize] == (char)round &&
		      mmt_all_bytes(p + i * pagesize + 1, pagesize - 1, 0x42),
		      "a merged page lost its write");
		p[i * pagesize] = 0x42;
		round++;
		op();
	}
	madvise(p, NPAGES * pagesize, MADV_UNMERGEABLE);
	munmap(p, NPAGES * pagesize);
}

static void migrate_worker(void)
{
	char *p = anon(NPAGES * pagesize);
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES], tag = 17, node = 1, i;

	if (access("/sys/devices/system/node/node1", F_OK))
		return skip("one NUMA node");
	if (!p)
		return skip("memory");
	for (i = 0; i < NPAGES; i++)
		pages[i] = p + i * pagesize;
	while (running()) {
		fill(p, NPAGES, tag);
		for (i = 0; i < NPAGES; i++)
			nodes[i] = node;
		if (syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status,
			    0) < 0)
			check(0, "move_pages: %s", strerror(errno));
		check(holds(p, NPAGES, tag), "data lost by migration");
		node = !node;
		tag++;
		op();
	}
	munmap(p, NPAGES * pagesize);
}

struct rw_thread {
	char *p;
	int stop;
	int bad;
};

/* Keep writing one byte per page and reading the rest. */
static void *rw_loop(void *arg)
{
	struct rw_thread *t = arg;
	unsigned long i = 0;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		char *pg = t->p + (i % NPAGES) * pagesize;

		__atomic_store_n(pg, 0x5a, __ATOMIC_RELAXED);
		if (__atomic_load_n(pg + 100, __ATOMIC_RELAXED) != 0x5a)
			t->bad = 1;
		i++;
	}
	return NULL;
}

static void exclusive_worker(void)
{
	char *p = anon(NPAGES * pagesize), *buf = malloc(NPAGES * pagesize);
	struct rw_thread t = { .p = p };
	int dev = open("/dev/hmm_dmirror0", O_RDWR), err;
	pthread_t th;

	if (dev < 0)
		return skip("no /dev/hmm_dmirror0");
	if (!p || !buf)
		return skip("memory");
	memset(p, 0x5a, NPAGES * pagesize);
	pthread_create(&th, NULL, rw_loop, &t);
	while (running()) {
		struct hmm_dmirror_cmd cmd = {
			.addr = (uintptr_t)p, .ptr = (uintptr_t)buf,
			.npages = NPAGES,
		};

		err = ioctl(dev, HMM_DMIRROR_EXCLUSIVE, &cmd) ? errno : 0;
		/* EINVAL: a kernel without device-exclusive entries. */
		if (err == EINVAL) {
			skip("no HMM_DMIRROR_EXCLUSIVE");
			break;
		}
		check(!err || err == EBUSY, "HMM_DMIRROR_EXCLUSIVE: %s",
		      strerror(err));
		check(!err || !cmd.cpages || mmt_all_bytes(buf, cmd.cpages * pagesize, 0x5a),
		      "the device read other data");
		op();
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	check(!t.bad && mmt_all_bytes(p, NPAGES * pagesize, 0x5a),
	      "data changed under device-exclusive takes");
	close(dev);
	munmap(p, NPAGES * pagesize);
	free(buf);
}

static void memfd_seal(void)
{
	struct pin_longterm_test pin = {
		.size = pagesize, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	int gup = gup_test_open(), round = 0;

	while (running()) {
		int fd = memfd_create("stress", MFD_ALLOW_SEALING);
		char *w, *r;
		int sealed, pinned;

		if (fd < 0 || ftruncate(fd, pagesize)) {
			check(0, "memfd: %s", strerror(errno));
			break;
		}
		w = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (w == MAP_FAILED) {
			check(0, "mmap: %s", strerror(errno));
			close(fd);
			break;
		}
		memset(w, 1, pagesize);
		pin.addr = (uintptr_t)w;
		pinned = gup >= 0 && (round & 1) &&
			 !ioctl(gup, PIN_LONGTERM_TEST_START, &pin);
		munmap(w, pagesize);
		/* A pin holds off the seal; then no pin and no mapping. */
		sealed = !fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
		check(!(sealed && pinned),
		      "F_SEAL_WRITE succeeded with a write pin held");
		if (pinned)
			ioctl(gup, PIN_LONGTERM_TEST_STOP);
		if (!sealed)
			sealed = !fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
		check(sealed, "F_SEAL_WRITE failed without pins or mappings");
		w = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		check(w == MAP_FAILED, "a writable mapping of a sealed memfd");
		if (w != MAP_FAILED)
			munmap(w, pagesize);
		check(pwrite(fd, "x", 1, 0) < 0, "write() to a sealed memfd");
		r = mmap(NULL, pagesize, PROT_READ, MAP_SHARED, fd, 0);
		if (r != MAP_FAILED) {
			check(mmt_all_bytes(r, pagesize, 1),
			      "a sealed memfd changed");
			munmap(r, pagesize);
		}
		close(fd);
		round++;
		op();
	}
	if (gup >= 0)
		close(gup);
}

struct worker {
	const char *name;
	void (*run)(void);
};

static const struct worker workers[] = {
	{ "fork_cow", fork_cow },
	{ "fork_cow_memfd", fork_cow_memfd },
	{ "pin_rw", pin_rw },
	{ "uring_pin", uring_pin },
	{ "pin_ro_fork", pin_ro_fork },
	{ "vmsplice", vmsplice_leak },
	{ "swap", swap_worker },
	{ "thp", thp_worker },
	{ "ksm", ksm_worker },
	{ "migrate", migrate_worker },
	{ "exclusive", exclusive_worker },
	{ "memfd_seal", memfd_seal },
};

int main(void)
{
	const char *env = getenv("STRESS_SECS");
	int secs = env ? atoi(env) : 60;
	struct tally *tallies;
	pid_t pids[ARRAY_SIZE(workers)];
	double start = now();
	size_t i;

	ksft_print_header();
	if (secs <= 0)
		secs = 60;
	tallies = mmap(NULL, sizeof(*tallies) * ARRAY_SIZE(workers),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tallies == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(tallies, 0, sizeof(*tallies) * ARRAY_SIZE(workers));
	/* ksmd as fast as it goes, so that merges race with the rest. */
	sysfs_write_ulong("/sys/kernel/mm/ksm/sleep_millisecs", 0);
	sysfs_write_ulong("/sys/kernel/mm/ksm/pages_to_scan", 1000);
	sysfs_write_ulong("/sys/kernel/mm/ksm/run", 1);
	deadline = start + secs;
	ksft_print_msg("stress: %zu workers for %d s\n", ARRAY_SIZE(workers),
		       secs);
	fflush(stdout);
	for (i = 0; i < ARRAY_SIZE(workers); i++) {
		pids[i] = fork();
		if (!pids[i]) {
			me = &tallies[i];
			workers[i].run();
			_exit(0);
		}
	}
	mmt_plan(ARRAY_SIZE(workers));
	for (i = 0; i < ARRAY_SIZE(workers); i++) {
		struct tally *t = &tallies[i];
		int status = 0;

		if (pids[i] > 0)
			waitpid(pids[i], &status, 0);
		ksft_print_msg("%s: %lu ops (%.1f/s), %lu checks, %lu violations\n",
			       workers[i].name, t->ops, t->ops / (double)secs,
			       t->checks, t->violations);
		if (pids[i] < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			mmt_report(workers[i].name, MMT_FAIL, NULL,
				   "worker died (status %#x)", status);
		else if (t->violations)
			mmt_report(workers[i].name, MMT_FAIL, NULL,
				   "%lu ops, %lu checks, %lu violations: %s",
				   t->ops, t->checks, t->violations, t->first);
		else if (t->skipped)
			mmt_report(workers[i].name, MMT_SKIP, NULL, "%s",
				   t->first);
		else
			mmt_report(workers[i].name,
				   t->ops ? MMT_PASS : MMT_FAIL, NULL,
				   "no operation in %d s", secs);
	}
	sysfs_write_ulong("/sys/kernel/mm/ksm/run", 0);
	return mmt_exit();
}
