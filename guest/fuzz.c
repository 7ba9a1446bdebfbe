// SPDX-License-Identifier: GPL-2.0
/*
 * `make fuzz`: random calls of the interfaces the series adds or changes,
 * repeatable from a seed, for a bounded time (FUZZ_SECS, default 60) or a
 * bounded number of calls (FUZZ_OPS).
 *
 * Interfaces: gup_test's ioctls, test_mapping_dirty's, test_hmm's
 * (HMM_DMIRROR_EXCLUSIVE and CHECK_EXCLUSIVE too), memfd_create() flags and
 * F_ADD_SEALS, and the calls whose behaviour the series changes: fork,
 * madvise, mprotect, mremap, process_vm_writev/readv and /proc/self/mem.
 * Ranges are taken from regions of every memory type (private and shared
 * anonymous memory, THPs, memfds private and shared, hugetlb, a tmpfs
 * file, the zero page, PROT_NONE), or are deliberately bad (unaligned,
 * empty, huge, wrapping, kernel addresses).
 *
 * Two fuzzers run at once, one as root and one as an unprivileged user
 * (uid 65534), each on its own stream of the seed.  Every call must
 * succeed or fail with an errno that its interface documents; on top:
 *   - what process_vm_writev() or a /proc/self/mem write reports written
 *     is what the CPU then reads at that address;
 *   - a fork child never sees the parent's later write, nor the parent
 *     the child's;
 *   - a memfd with F_SEAL_WRITE never changes, and write(), a shared
 *     writable mmap() and an mprotect() to writable fail on it;
 *   - after both fuzzers exit, every FOLL_PIN reference taken has been
 *     dropped (nr_foll_pin_acquired == nr_foll_pin_released).
 * The harness fails the run on any kernel splat.  A violation prints the
 * seed and the call's number; FUZZ_SEED=<seed> FUZZ_OPS=<number> replays
 * the same calls up to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "lib/test_hmm_uapi.h"
#include "lib/test_mapping_dirty_uapi.h"
#include "mm/gup_test.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_COLD		20
#define MADV_PAGEOUT		21
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC		0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL		0x0008U
#define MFD_EXEC		0x0010U
#endif
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NREGIONS	8
#define NMEMFDS		4
#define SCRATCH		(64 * 4096)
#define HPAGE		(2UL << 20)
#define KERNEL_ADDR	0xffff888000000000ULL

/* ------------------------------------------------------------------ */
/* What a fuzzer reports, in memory shared with the parent. */

struct tally {
	unsigned long calls, ok, failed, checks, violations;
	unsigned long errnos[160];
	char first[240];
	int skipped;
};

static struct tally *me;
static unsigned long seed, callno, maxcalls;
static double deadline;
static int is_root;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The last calls, printed with the first violation. */
#define RING	24
static char ring[RING][160];
static unsigned int ring_next;

static void violation(const char *fmt, ...)
	__attribute__((__format__(__printf__, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;
	int n;

	me->violations++;
	if (me->violations > 1)
		return;
	for (n = 0; n < RING; n++) {
		const char *line = ring[(ring_next + n) % RING];

		/* (the ring holds the last calls, oldest first from here) */

		if (*line)
			printf("# %s call %s\n", is_root ? "root" : "user", line);
	}
	fflush(stdout);
	n = snprintf(me->first, sizeof(me->first), "seed %lu call %lu: ",
		     seed, callno);
	va_start(ap, fmt);
	vsnprintf(me->first + n, sizeof(me->first) - n, fmt, ap);
	va_end(ap);
}

static int tracing, kmsg = -1;


/*
 * FUZZ_TRACE=1: one line per call, with the monotonic time the kernel log
 * uses too, to find the call behind a splat.
 */
static void trace(const char *fmt, ...)
	__attribute__((__format__(__printf__, 1, 2)));

static void trace(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	va_start(ap, fmt);
	{
		char *slot = ring[ring_next++ % RING];
		int n = snprintf(slot, sizeof(ring[0]), "%lu: ", callno);

		vsnprintf(slot + n, sizeof(ring[0]) - n, fmt, ap);
	}
	va_end(ap);
	if (!tracing)
		return;
	if (tracing == 2) {	/* FUZZ_TRACE=kmsg: in the kernel's log */
		char line[200];
		int n;

		n = snprintf(line, sizeof(line), "fuzz %s %lu: ",
			     is_root ? "root" : "user", callno);
		va_start(ap, fmt);
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (kmsg >= 0 && write(kmsg, line, n) < 0)
			tracing = 0;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("# [%5ld.%06ld] %s %lu: ", (long)ts.tv_sec, ts.tv_nsec / 1000,
	       is_root ? "root" : "user", callno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void check(int ok, const char *what)
{
	me->checks++;
	if (!ok)
		violation("%s", what);
}

/*
 * The errnos an interface documents, as a list ending in 0.  A call that
 * fails with another one is a violation.
 */
#define ERRS(...)	((const int []){ __VA_ARGS__, 0 })

/* Account one call's result @ret against @allowed; @ret is returned. */
static long result(const char *call, long ret, const int *allowed)
{
	int e = errno, i;

	me->calls++;
	trace("%s = %ld%s%s", call, ret, ret < 0 ? " " : "",
	      ret < 0 ? strerrorname_np(e) ?: "?" : "");
	if (ret >= 0) {
		me->ok++;
		return ret;
	}
	me->failed++;
	if (e > 0 && e < (int)ARRAY_SIZE(me->errnos))
		me->errnos[e]++;
	for (i = 0; allowed[i]; i++)
		if (allowed[i] == e)
			return ret;
	violation("%s failed with errno %d (%s), not one it documents",
		  call, e, strerror(e));
	errno = e;
	return ret;
}

/* ------------------------------------------------------------------ */
/* A repeatable random stream (xorshift64*). */

static uint64_t rstate;

static uint64_t rnd(void)
{
	rstate ^= rstate >> 12;
	rstate ^= rstate << 25;
	rstate ^= rstate >> 27;
	return rstate * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int chance(int percent)
{
	return below(100) < (uint64_t)percent;
}

/* ------------------------------------------------------------------ */
/* CPU accesses that may fault: SIGSEGV and SIGBUS end just the access. */

static sigjmp_buf fault_jmp;
static volatile int in_access;

static const char *current_op;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!in_access) {
		/* The program's own memory broke: say where, as a violation. */
		violation("signal %d at %p in %s", sig, si->si_addr,
			  current_op);
		_exit(128 + sig);
	}
	siglongjmp(fault_jmp, 1);
}

/* Read the byte at @p into *@val, or write *@val there; 0 if it faulted. */
static int cpu_access(volatile char *p, char *val, int write)
{
	in_access = 1;
	if (sigsetjmp(fault_jmp, 1)) {
		in_access = 0;
		return 0;
	}
	if (write)
		*p = *val;
	else
		*val = *p;
	in_access = 0;
	return 1;
}

static int cpu_read(volatile char *p, char *val)
{
	return cpu_access(p, val, 0);
}

static int cpu_write(volatile char *p, char val)
{
	return cpu_access(p, &val, 1);
}

/* ------------------------------------------------------------------ */
/* Regions of every memory type. */

enum kind {
	ANON, ANON_SHARED, THP, MEMFD_SHARED, MEMFD_PRIVATE, HUGETLB,
	MEMFD_HUGETLB, TMPFS_FILE, ZERO_PAGE, PROT_NONE_ANON, NKINDS
};


struct region {
	char *addr;
	size_t len;
	int kind, fd, live;
};

static struct region regions[NREGIONS];

static void region_drop(struct region *r)
{
	if (!r->live)
		return;
	munmap(r->addr, r->len);
	if (r->fd >= 0)
		close(r->fd);
	r->live = 0;
}

static int memfd(const char *name, unsigned int flags)
{
	return syscall(__NR_memfd_create, name, flags);
}

/* Create a region of a random kind in slot @r; 0 if its mmap failed. */
static int region_new(struct region *r)
{
	int kind = below(NKINDS), prot = PROT_READ | PROT_WRITE;
	int flags = MAP_PRIVATE, fd = -1;
	size_t len = (1 + below(32)) * pagesize;
	char path[64], *p;

	region_drop(r);
	switch (kind) {
	case ANON_SHARED:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case THP:
		len = (1 + below(2)) * HPAGE;
		p = mmap_aligned(len, HPAGE);
		if (!p)
			return 0;
		madvise(p, len, MADV_HUGEPAGE);
		r->addr = p;
		goto done;
	case MEMFD_SHARED:
	case MEMFD_PRIVATE:
		fd = memfd("fuzz", MFD_ALLOW_SEALING);
		flags = kind == MEMFD_SHARED ? MAP_SHARED : MAP_PRIVATE;
		break;
	case HUGETLB:
		len = HPAGE;
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
		break;
	case MEMFD_HUGETLB:
		len = HPAGE;
		fd = memfd("fuzz", MFD_HUGETLB);
		flags = MAP_SHARED;
		break;
	case TMPFS_FILE:
		snprintf(path, sizeof(path), "/tmp/fuzz.%d.%ld", getpid(),
			 (long)(r - regions));
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(path);
		flags = chance(50) ? MAP_SHARED : MAP_PRIVATE;
		break;
	case ZERO_PAGE:
		prot = PROT_READ;
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case PROT_NONE_ANON:
		prot = PROT_NONE;
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	default:
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
	}
	if (fd < 0 && !(flags & MAP_ANONYMOUS))
		return 0;
	if (fd >= 0 && ftruncate(fd, len)) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, len, prot, flags, fd, 0);
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	r->addr = p;
done:
	r->len = len;
	r->kind = kind;
	r->fd = fd;
	r->live = 1;
	/* Populate some of it. */
	if (prot & PROT_WRITE) {
		size_t off;

		for (off = 0; off < len; off += pagesize)
			if (chance(60))
				cpu_write(p + off, (char)rnd());
	} else if (kind == ZERO_PAGE) {
		char c;

		cpu_read(p, &c);
	}
	return 1;
}

static struct region *some_region(void)
{
	struct region *r = &regions[below(NREGIONS)];

	if (!r->live && !region_new(r))
		return NULL;
	return r;
}

/*
 * A range for a call: mostly part of a region, with sometimes an
 * unaligned start or length, nothing, too much, or no region at all.
 * @harmless: the range may also lie anywhere at all, or reach past its
 * region (only for calls that cannot change the program's own memory).
 */
static void pick_range(uint64_t *addr, uint64_t *len, int harmless)
{
	struct region *r = some_region();
	uint64_t pages, first;

	switch (below(20)) {
	case 0:
		*addr = KERNEL_ADDR + below(1 << 20) * pagesize;
		*len = (1 + below(16)) * pagesize;
		return;
	case 1:
		*addr = -(uint64_t)pagesize;
		*len = 2 * pagesize;
		return;
	case 2:
		if (harmless) {
			*addr = below(1ULL << 47) & ~(pagesize - 1);
			*len = (1 + below(64)) * pagesize;
			return;
		}
		break;
	case 3:
		*addr = r ? (uintptr_t)r->addr : 0;
		*len = harmless && chance(50) ? 1ULL << (40 + below(20)) : 0;
		return;
	}
	if (!r) {
		*addr = KERNEL_ADDR;
		*len = pagesize;
		return;
	}
	pages = r->len / pagesize;
	first = below(pages);
	*addr = (uintptr_t)r->addr + first * pagesize;
	*len = (1 + below(pages - first)) * pagesize;
	if (chance(5))
		*addr += 1 + below(pagesize - 1);
	if (chance(5))	/* an unaligned length, still within the region */
		*len -= 1 + below(pagesize - 1);
	if (harmless && chance(5))
		*len += below(4) * pagesize;	/* past the end */
}

/* A byte-sized address within a live region, or NULL. */
static char *some_byte(int *kind)
{
	struct region *r = some_region();

	if (!r)
		return NULL;
	*kind = r->kind;
	return r->addr + below(r->len);
}

/* ------------------------------------------------------------------ */
/* Sealed memfds: their content is remembered and checked. */

struct sealed {
	int fd, live, hugetlb;
	unsigned int seals;
	size_t size;
	uint64_t sum;
};

static struct sealed memfds[NMEMFDS];
static char scratch[SCRATCH] __attribute__((aligned(4096)));

static uint64_t fd_sum(int fd, size_t size)
{
	uint64_t sum = 1469598103934665603ULL;
	ssize_t n, i;
	off_t off = 0;

	while ((size_t)off < size) {
		n = pread(fd, scratch, sizeof(scratch), off);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			sum = (sum ^ (unsigned char)scratch[i]) * 1099511628211ULL;
		off += n;
	}
	return sum;
}

static void op_memfd(void)
{
	static const unsigned int valid[] = {
		0, MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB,
		MFD_NOEXEC_SEAL, MFD_EXEC, MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL,
		MFD_EXEC | MFD_NOEXEC_SEAL, MFD_HUGETLB | MFD_ALLOW_SEALING,
		MFD_HUGETLB | (21U << 26), MFD_HUGETLB | (30U << 26),
	};
	static const unsigned int seal_bits[] = {
		F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE,
		F_SEAL_FUTURE_WRITE, F_SEAL_EXEC, 0x40, 0x80000000U,
	};
	struct sealed *s = &memfds[below(NMEMFDS)];
	unsigned int flags, seals = 0;
	char *p;
	size_t i;
	long got;
	int fd;

	if (!s->live || chance(10)) {
		if (s->live)
			close(s->fd);
		s->live = 0;
		flags = valid[below(ARRAY_SIZE(valid))];
		if (chance(10))
			flags |= 1U << below(32);
		/*
		 * ENODEV: no huge page pool of the size asked for; ENOSPC:
		 * shmem could not allocate the inode
		 */
		fd = result("memfd_create", memfd("fuzz", flags),
			    ERRS(EINVAL, ENOMEM, EMFILE, ENFILE, EPERM, ENODEV,
				 ENOSPC));
		if (fd < 0)
			return;
		s->fd = fd;
		s->hugetlb = !!(flags & MFD_HUGETLB);
		s->size = (flags & MFD_HUGETLB) ? HPAGE : (1 + below(8)) * pagesize;
		if (ftruncate(fd, s->size) ||
		    pwrite(fd, scratch, pagesize, 0) < 0) {
			/* hugetlbfs: no write(); ENOMEM: an empty pool */
			s->size = 0;
		}
		s->seals = fcntl(fd, F_GET_SEALS);
		s->live = 1;
		s->sum = fd_sum(fd, s->size);
		return;
	}
	/* Check what a write seal promises. */
	if (s->seals & F_SEAL_WRITE) {
		check(fd_sum(s->fd, s->size) == s->sum,
		      "a write-sealed memfd changed");
		errno = 0;
		got = pwrite(s->fd, "x", 1, 0);
		/* hugetlbfs has no write() at all */
		if (got >= 0 || (errno != EPERM && !(s->hugetlb && errno == EINVAL)))
			violation("write() to a write-sealed memfd (seals %#x) returned %ld, errno %d",
				  s->seals, (long)got, errno);
		p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED,
			 s->fd, 0);
		check(p == MAP_FAILED && errno == EPERM,
		      "shared writable mmap of a write-sealed memfd did not fail with EPERM");
		if (p != MAP_FAILED)
			munmap(p, pagesize);
		p = mmap(NULL, pagesize, PROT_READ, MAP_SHARED, s->fd, 0);
		if (p != MAP_FAILED) {
			errno = 0;
			check(mprotect(p, pagesize, PROT_READ | PROT_WRITE) &&
			      errno == EACCES,
			      "mprotect(PROT_WRITE) of a write-sealed memfd's mapping did not fail with EACCES");
			munmap(p, pagesize);
		}
	}
	switch (below(4)) {
	case 0:	/* add seals */
		for (i = 0; i < 1 + below(3); i++)
			seals |= seal_bits[below(ARRAY_SIZE(seal_bits))];
		/* Sometimes with a writable mapping in the way. */
		p = chance(30) ? mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				      MAP_SHARED, s->fd, 0) : MAP_FAILED;
		if (result("F_ADD_SEALS", fcntl(s->fd, F_ADD_SEALS, seals),
			   ERRS(EINVAL, EPERM, EBUSY)) == 0) {
			s->seals = fcntl(s->fd, F_GET_SEALS);
			check(p == MAP_FAILED || !(seals & F_SEAL_WRITE),
			      "F_SEAL_WRITE was added while a writable mapping exists");
			s->sum = fd_sum(s->fd, s->size);
		}
		if (p != MAP_FAILED)
			munmap(p, pagesize);
		break;
	case 1:	/* resize: the seals on size decide, not the write seal */
		i = below(16) * pagesize;
		if (result("ftruncate", ftruncate(s->fd, i),
			   ERRS(EPERM, EINVAL, ENOMEM, EFBIG)) == 0) {
			s->size = i;
			s->sum = fd_sum(s->fd, s->size);
		}
		break;
	case 2:	/* write */
		got = result("pwrite(memfd)",
			     pwrite(s->fd, scratch, 1 + below(2 * pagesize),
				    below(s->size + 1)),
			     ERRS(EPERM, EINVAL, ENOMEM, EFBIG, ENOSPC));
		/* (hugetlbfs: EINVAL, it has no write()) */
		check(got < 0 || !(s->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)),
		      "write() went through a write seal");
		break;
	case 3:	/* exec bit */
		result("fchmod(memfd)", fchmod(s->fd, chance(50) ? 0777 : 0666),
		       ERRS(EPERM));
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Calls whose behaviour the series changes. */

static void op_madvise(void)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
		MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK,
		MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, 22, 23, 24, 25, 99,
	};
	uint64_t addr, len;
	int adv = advice[below(ARRAY_SIZE(advice))];

	pick_range(&addr, &len, 0);
	trace("madvise(%#lx, %#lx, %d)", (long)addr, (long)len, adv);
	result("madvise", madvise((void *)addr, len, adv),
	       ERRS(EINVAL, ENOMEM, EAGAIN, EACCES, EPERM, EBADF, EIO, EFAULT));
}

static void op_mprotect(void)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
		PROT_WRITE, PROT_READ | PROT_GROWSDOWN, 0x10, 0x40,
	};
	uint64_t addr, len;
	int prot;

	pick_range(&addr, &len, 0);
	prot = prots[below(ARRAY_SIZE(prots))];
	trace("mprotect(%#lx, %#lx, %#x)", (long)addr, (long)len, prot);
	result("mprotect", mprotect((void *)addr, len, prot),
	       ERRS(EINVAL, ENOMEM, EACCES));
}

/* mremap() a whole region; on success the region is where it went. */
static void op_mremap(void)
{
	static const int flag_sets[] = {
		0, MREMAP_MAYMOVE, MREMAP_MAYMOVE | MREMAP_FIXED,
		MREMAP_MAYMOVE | MREMAP_DONTUNMAP, MREMAP_FIXED, 0x10,
	};
	struct region *r = some_region();
	int flags = flag_sets[below(ARRAY_SIZE(flag_sets))];
	size_t newlen;
	void *to = NULL, *p;

	if (!r)
		return;
	newlen = chance(50) ? r->len : (1 + below(64)) * pagesize;
	if (r->kind == HUGETLB || r->kind == MEMFD_HUGETLB || r->kind == THP)
		newlen = chance(70) ? r->len : newlen;
	if (flags & MREMAP_FIXED) {
		/* A free place of the new size: reserved, then replaced. */
		to = mmap(NULL, newlen + HPAGE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (to == MAP_FAILED)
			return;
		munmap(to, newlen + HPAGE);
		to = (char *)(((uintptr_t)to + HPAGE - 1) & ~(HPAGE - 1));
	}
	trace("mremap(%p, %#zx, %#zx, %#x, %p) %d", r->addr, r->len, newlen,
	      flags, to, r->kind);
	p = mremap(r->addr, r->len, newlen, flags, to);
	if (result("mremap", p == MAP_FAILED ? -1 : 0,
		   ERRS(EINVAL, ENOMEM, EFAULT, EAGAIN)) < 0) {
		/*
		 * A failed move may already have shrunk the old mapping
		 * (mremap_to() unmaps the tail before it checks the rest):
		 * what the region was is no longer known, so it goes, before
		 * anything else can be mapped where its tail was.
		 */
		if (flags & MREMAP_FIXED)
			region_drop(r);
		return;
	}
	if ((flags & MREMAP_DONTUNMAP) && p != r->addr)
		munmap(r->addr, r->len);
	r->addr = p;
	r->len = newlen;
}

/*
 * process_vm_writev() of a value to a byte of a region: what it reports
 * written, the CPU reads back.
 */
static void op_process_vm(void)
{
	uint64_t addr, len;
	struct iovec local, remote;
	char val = (char)(rnd() | 1), got;
	ssize_t n;
	char *p;
	int kind;

	if (chance(40)) {
		pick_range(&addr, &len, 1);
		local.iov_base = scratch;
		local.iov_len = len < SCRATCH ? len : SCRATCH;
		remote.iov_base = (void *)addr;
		remote.iov_len = len;
		trace("process_vm_readv(%#lx, %#lx)", (long)addr, (long)len);
		if (chance(50))
			result("process_vm_readv",
			       process_vm_readv(getpid(), &local, 1, &remote,
						1, 0),
			       ERRS(EFAULT, ENOMEM, EINVAL, EPERM));
		return;
	}
	p = some_byte(&kind);
	if (!p)
		return;
	trace("process_vm_writev(%p) kind %d", p, kind);
	local.iov_base = &val;
	local.iov_len = 1;
	remote.iov_base = p;
	remote.iov_len = 1;
	n = result("process_vm_writev",
		   process_vm_writev(getpid(), &local, 1, &remote, 1, 0),
		   ERRS(EFAULT, ENOMEM, EIO));
	if (n == 1 && cpu_read(p, &got))
		check(got == val, "process_vm_writev() reported a write the CPU does not see");
}

/* A /proc/self/mem write (FOLL_FORCE): the CPU reads what it wrote. */
static void op_proc_mem(void)
{
	static int fd = -1;
	uint64_t addr, len;
	char val = (char)(rnd() | 1), got;
	ssize_t n;
	char *p;
	int kind;

	if (fd < 0)
		fd = open("/proc/self/mem", O_RDWR);
	if (fd < 0)
		return;
	if (chance(40)) {
		pick_range(&addr, &len, 1);
		if (len > SCRATCH)
			len = SCRATCH;
		result("pread(/proc/self/mem)",
		       pread(fd, scratch, len, (off_t)addr),
		       ERRS(EIO, EFAULT, ENOMEM, EINVAL));
		return;
	}
	p = some_byte(&kind);
	if (!p)
		return;
	trace("pwrite(/proc/self/mem, %p) kind %d", p, kind);
	n = result("pwrite(/proc/self/mem)",
		   pwrite(fd, &val, 1, (off_t)(uintptr_t)p),
		   ERRS(EIO, EFAULT, ENOMEM, EPERM));
	if (n == 1 && cpu_read(p, &got))
		check(got == val, "a /proc/self/mem write the CPU does not see");
}

/*
 * fork(): the parent writes a byte of a private region before and after
 * the fork, the child writes its own; neither sees the other's.
 */
/* What a fork child saw, for the parent's report: its pagemap entry. */
static uint64_t *fork_diag;

static uint64_t pm(const void *p)
{
	uint64_t e = 0;

	if (!pagemap_read(p, 1, &e))
		return 0;
	return e;
}

static void op_fork(void)
{
	struct region *r = some_region();
	char *p, before = (char)(rnd() | 1), got;
	int status, wp[2];
	pid_t pid;

	if (!r || pipe(wp))
		return;
	p = r->addr + below(r->len);
	/*
	 * Only private memory gets checked, and not hugetlb: a private
	 * hugetlb COW that finds the pool empty takes the page from the
	 * child (SIGBUS), as documented.
	 */
	if (r->kind == ANON_SHARED || r->kind == MEMFD_SHARED ||
	    r->kind == MEMFD_HUGETLB || r->kind == TMPFS_FILE ||
	    r->kind == HUGETLB || !cpu_write(p, before))
		p = NULL;
	trace("fork %p", p);
	pid = result("fork", fork(), ERRS(EAGAIN, ENOMEM));
	if (pid == 0) {
		char c = 0;

		close(wp[1]);
		/*
		 * MADV_DONTFORK leaves the child nothing to read, and
		 * MADV_WIPEONFORK zeroes: both are what fork() documents.
		 */
		if (p && fork_diag)
			*fork_diag = pm(p);
		if (p && (!cpu_read(p, &c) || (c == 0 && before != 0)))
			p = NULL;
		if (p && c != before)
			_exit(100 + ((unsigned char)c % 100));
		if (p && !cpu_write(p, (char)~before))
			p = NULL;
		/* wait for the parent's write, then look again */
		if (read(wp[0], &c, 1) != 1)
			_exit(3);
		if (p && (!cpu_read(p, &c) || c != (char)~before))
			_exit(2);
		_exit(0);
	}
	close(wp[0]);
	if (pid > 0) {
		uint64_t pm0 = p ? pm(p) : 0;

		if (p) {
			cpu_write(p, (char)(before + 1));
			check(cpu_read(p, &got) && got == (char)(before + 1),
			      "the parent lost its write after fork");
		}
		if (write(wp[1], "g", 1) != 1)
			violation("pipe to the fork child: %s", strerror(errno));
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			/*
			 * 100 + x: the child read x (mod 100) where the parent
			 * had written before; 2: it lost its own write
			 */
			violation("fork child status %#x at %p (kind %d, wrote %d; pagemap flags parent %#llx/%#llx, child %#llx): it saw the parent's later write, or lost its own",
				  status, p, r->kind, (unsigned char)before % 100,
				  (unsigned long long)(pm0 >> 55),
				  (unsigned long long)(p ? pm(p) >> 55 : 0),
				  (unsigned long long)(fork_diag ? *fork_diag >> 55 : 0));
		}
		me->checks++;
		if (p)
			check(cpu_read(p, &got) && got == (char)(before + 1),
			      "the parent saw the fork child's write");
	}
	close(wp[1]);
}

static void op_touch(void)
{
	int kind;
	char *p = some_byte(&kind), c;

	if (!p)
		return;
	if (chance(50))
		cpu_write(p, (char)rnd());
	else
		cpu_read(p, &c);
}

/* ------------------------------------------------------------------ */
/* The test drivers' ioctls. */

static int gup_fd = -2, hmm_fd = -2, dirty_fd = -2;

/* The device, opened once; whether the fuzzer may use it. */
static int device(int *fd, const char *path, int flags)
{
	if (*fd == -2)
		*fd = result(path, open(path, flags),
			     is_root ? ERRS(ENOENT) : ERRS(EACCES, ENOENT, EPERM));
	return *fd >= 0;
}

static unsigned long some_cmd(const unsigned long *cmds, size_t n)
{
	if (chance(5))
		return _IOWR(below(256), below(256), char[below(64)]);
	return cmds[below(n)];
}

static void op_gup_test(void)
{
	static const unsigned long cmds[] = {
		GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK,
		GUP_BASIC_TEST, PIN_BASIC_TEST, DUMP_USER_PAGES_TEST,
		PIN_LONGTERM_TEST_START, PIN_LONGTERM_TEST_STOP,
		PIN_LONGTERM_TEST_READ,
	};
	static const unsigned int flags[] = { 0, 1, 2, 3, 8, 9, 0x100, 0x101,
					      0x109, 0x4 };
	unsigned long cmd = some_cmd(cmds, ARRAY_SIZE(cmds));
	struct pin_longterm_test pin = { 0 };
	struct gup_test gup;
	uint64_t addr, len, buf;
	void *arg = &gup;
	size_t i;

	if (!device(&gup_fd, "/sys/kernel/debug/gup_test", O_RDWR))
		return;
	pick_range(&addr, &len, 1);
	if (len > 512 * pagesize && chance(90))
		len = 512 * pagesize;
	memset(&gup, 0, sizeof(gup));
	gup.addr = addr;
	gup.size = len;
	gup.nr_pages_per_call = chance(5) ? 0 : 1 + below(64);
	gup.gup_flags = chance(5) ? rnd() : flags[below(ARRAY_SIZE(flags))];
	gup.test_flags = chance(10) ? rnd() : below(2);
	for (i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
		gup.which_pages[i] = chance(20) ? below(8) : 0;
	if (cmd == DUMP_USER_PAGES_TEST && chance(80))
		cmd = PIN_BASIC_TEST;	/* dump_page() output in moderation */
	if (cmd == PIN_LONGTERM_TEST_START) {
		pin.addr = addr;
		/*
		 * READ copies the whole pin into scratch: a pin never
		 * exceeds it, larger sizes are ones gup_test refuses.
		 */
		pin.size = len > SCRATCH ? SCRATCH : len;
		if (chance(5))
			pin.size = chance(50) ? ((1ULL << 18) + 1) * pagesize :
				   rnd() | 1;
		pin.flags = chance(5) ? rnd() : below(4);
		arg = &pin;
	} else if (cmd == PIN_LONGTERM_TEST_READ) {
		/* The buffer must hold as much as the pin: scratch or bad. */
		buf = chance(80) ? (uintptr_t)scratch : KERNEL_ADDR;
		arg = &buf;
	}
	if (chance(2))
		arg = (void *)KERNEL_ADDR;
	trace("gup_test(%#lx, %#lx, %#lx, flags %#x/%#x)", cmd, (long)addr,
	      (long)len, gup.gup_flags, pin.flags);
	result("gup_test ioctl", ioctl(gup_fd, cmd, arg),
	       ERRS(EINVAL, E2BIG, EFAULT, ENOMEM, EINTR, EBUSY, EPERM,
		    EOPNOTSUPP, ENOTTY, EAGAIN, EHWPOISON));
}

/* PIN_LONGTERM_TEST_READ copies the whole pin: keep pins that fit. */
static void gup_test_fixup(void)
{
	if (gup_fd >= 0 && chance(30))
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
}

static void op_mapping_dirty(void)
{
	static const unsigned long cmds[] = {
		MAPPING_DIRTY_WP, MAPPING_DIRTY_CLEAN,
	};
	struct mapping_dirty_cmd c;
	struct region *r = some_region();
	size_t size;

	if (!device(&dirty_fd, "/dev/test_mapping_dirty", O_RDWR))
		return;
	memset(&c, 0, sizeof(c));
	memset(scratch, 0, SCRATCH);
	c.fd = r && r->fd >= 0 && chance(85) ? (uint64_t)r->fd :
	       chance(50) ? below(8) : rnd();
	size = r && r->fd >= 0 ? r->len : 16 * pagesize;
	c.offset = below(size / pagesize) * pagesize;
	c.length = (1 + below(size / pagesize)) * pagesize;
	if (chance(5))
		c.offset |= 1 + below(pagesize - 1);
	if (chance(5))
		c.length = chance(50) ? 0 : rnd();
	/* scratch holds the largest bitmap a request may pass, twice */
	c.bitmap = chance(90) ? (uintptr_t)scratch : rnd();
	c.bitmap_pgoff = chance(80) ? c.offset / pagesize : rnd() % 4096;
	c.bitmap_bits = chance(80) ? 4096 : rnd() % (2 * MAPPING_DIRTY_MAX_BITS);
	c.start = chance(80) ? c.bitmap_bits : below(4096);
	c.end = chance(80) ? 0 : below(4096);
	c.reserved = chance(3) ? rnd() : 0;
	result("test_mapping_dirty ioctl",
	       ioctl(dirty_fd, some_cmd(cmds, ARRAY_SIZE(cmds)),
		     chance(2) ? (void *)KERNEL_ADDR : (void *)&c),
	       ERRS(EINVAL, E2BIG, EFAULT, ENOSPC, ENOMEM, EBADF, ENOTTY,
		    ENODEV, ERANGE));
}

static void op_hmm(void)
{
	static const unsigned long cmds[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE,
		HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE,
		HMM_DMIRROR_CHECK_EXCLUSIVE,
	};
	struct hmm_dmirror_cmd c;
	uint64_t addr, len;

	if (!device(&hmm_fd, "/dev/hmm_dmirror0", O_RDWR))
		return;
	pick_range(&addr, &len, 0);
	memset(&c, 0, sizeof(c));
	c.addr = addr;
	c.npages = len / pagesize;
	if (c.npages > SCRATCH / pagesize && chance(90))
		c.npages = SCRATCH / pagesize;
	if (chance(5))
		c.npages = chance(50) ? 0 : rnd();
	/* The device copies npages pages to or from ptr: scratch holds 64. */
	c.ptr = c.npages <= SCRATCH / pagesize && chance(90) ?
		(uintptr_t)scratch : KERNEL_ADDR;
	trace("test_hmm(%#lx, %#lx)", (long)c.addr, (long)c.npages);
	result("test_hmm ioctl",
	       ioctl(hmm_fd, some_cmd(cmds, ARRAY_SIZE(cmds)),
		     chance(2) ? (void *)KERNEL_ADDR : (void *)&c),
	       ERRS(EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, ENOENT, E2BIG,
		    EOPNOTSUPP, EAGAIN, ENOTTY, EINTR));
}

/* ------------------------------------------------------------------ */

struct op {
	const char *name;
	void (*run)(void);
	int weight;
};

static const struct op ops[] = {
	{ "touch", op_touch, 10 },
	{ "fork", op_fork, 3 },
	{ "madvise", op_madvise, 10 },
	{ "mprotect", op_mprotect, 6 },
	{ "mremap", op_mremap, 4 },
	{ "process_vm", op_process_vm, 8 },
	{ "proc_mem", op_proc_mem, 8 },
	{ "memfd", op_memfd, 8 },
	{ "gup_test", op_gup_test, 10 },
	{ "mapping_dirty", op_mapping_dirty, 6 },
	{ "hmm", op_hmm, 8 },
	{ "new_region", NULL, 3 },
};

static void fuzz(void)
{
	struct sigaction sa = {
		.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK,
	};
	static char altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	int total = 0;
	size_t i;

	/* Its own stack, so that a broken stack is reported too. */
	sigaltstack(&ss, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	for (callno = 1; now() < deadline && (!maxcalls || callno <= maxcalls);
	     callno++) {
		int w = below(total);

		for (i = 0; w >= ops[i].weight; i++)
			w -= ops[i].weight;
		current_op = ops[i].name;
		trace("%s", current_op);
		if (ops[i].run)
			ops[i].run();
		else
			region_new(&regions[below(NREGIONS)]);
		if (callno % 64 == 0)
			gup_test_fixup();
	}
	for (i = 0; i < NREGIONS; i++)
		region_drop(&regions[i]);
	for (i = 0; i < NMEMFDS; i++)
		if (memfds[i].live && (memfds[i].seals & F_SEAL_WRITE))
			check(fd_sum(memfds[i].fd, memfds[i].size) == memfds[i].sum,
			      "a write-sealed memfd changed");
}

static void report(const char *name, struct tally *t, int status, int secs)
{
	char line[512];
	int n = 0, e;

	for (e = 1; e < (int)ARRAY_SIZE(t->errnos) && n < (int)sizeof(line) - 32; e++)
		if (t->errnos[e])
			n += snprintf(line + n, sizeof(line) - n, " %s:%lu",
				      strerrorname_np(e) ?: "?", t->errnos[e]);
	line[n] = 0;
	ksft_print_msg("%s: %lu calls (%.0f/s), %lu ok, %lu failed, %lu checks, %lu violations\n",
		       name, t->calls, t->calls / (double)secs, t->ok,
		       t->failed, t->checks, t->violations);
	ksft_print_msg("%s: errnos%s\n", name, n ? line : " none");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		mmt_report(name, MMT_FAIL, NULL, "fuzzer died (status %#x)%s%s",
			   status, t->violations ? ": " : "", t->first);
	else if (t->violations)
		mmt_report(name, MMT_FAIL, NULL, "%lu violations: %s",
			   t->violations, t->first);
	else
		mmt_report(name, t->calls ? MMT_PASS : MMT_FAIL, NULL,
			   "no call made");
}

int main(void)
{
	const char *env = getenv("FUZZ_SECS");
	int secs = env ? atoi(env) : 60, status[2] = { 0, 0 }, i;
	long acquired, released;
	struct tally *t;
	pid_t pid[2];

	ksft_print_header();
	pagesize = getpagesize();
	if (secs <= 0)
		secs = 60;
	env = getenv("FUZZ_SEED");
	seed = env && *env ? strtoul(env, NULL, 0) : (unsigned long)time(NULL);
	env = getenv("FUZZ_TRACE");
	tracing = !env ? 0 : !strcmp(env, "kmsg") ? 2 : *env == '1';
	if (tracing == 2)	/* opened as root, for both fuzzers */
		kmsg = open("/dev/kmsg", O_WRONLY);
	env = getenv("FUZZ_OPS");
	maxcalls = env ? strtoul(env, NULL, 0) : 0;
	t = mmap(NULL, 2 * sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(t, 0, 2 * sizeof(*t));
	fork_diag = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fork_diag == MAP_FAILED)
		fork_diag = NULL;
	ksft_print_msg("fuzz: seed %lu, %d s%s; replay with FUZZ_SEED=%lu\n",
		       seed, secs, maxcalls ? " (bounded calls)" : "", seed);
	fflush(stdout);
	deadline = now() + secs;
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i])
			continue;
		me = &t[i];
		rstate = seed * 2 + i + 1;
		rstate = rstate * 0x9e3779b97f4a7c15ULL ?: 1;
		is_root = i == 0;
		if (!is_root && (setgid(65534) || setuid(65534)))
			_exit(4);
		fuzz();
		_exit(0);
	}
	mmt_plan(3);
	for (i = 0; i < 2; i++)
		if (pid[i] > 0)
			waitpid(pid[i], &status[i], 0);
	report("root", &t[0], pid[0] > 0 ? status[0] : -1, secs);
	report("unprivileged", &t[1], pid[1] > 0 ? status[1] : -1, secs);
	/* Every pin is gone once its holders are. */
	vmstat_refresh();
	acquired = vmstat_read("nr_foll_pin_acquired");
	released = vmstat_read("nr_foll_pin_released");
	if (acquired < 0 || released < 0)
		mmt_report("pins_balanced", MMT_SKIP, NULL,
			   "no nr_foll_pin_* in /proc/vmstat");
	else
		mmt_report("pins_balanced",
			   acquired == released ? MMT_PASS : MMT_FAIL, NULL,
			   "nr_foll_pin_acquired %ld, nr_foll_pin_released %ld",
			   acquired, released);
	return mmt_exit();
}
