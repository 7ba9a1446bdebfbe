// SPDX-License-Identifier: GPL-2.0
/*
 * memfd seals that hold: the exec seal and the exec policy, and udmabuf,
 * which must not wrap a memfd sealed against writes.
 *
 * udmabuf.*   UDMABUF_CREATE refuses memfds sealed with F_SEAL_WRITE or
 *             F_SEAL_FUTURE_WRITE; a udmabuf's page references make
 *             F_SEAL_WRITE fail until it is closed
 * race.*      F_SEAL_WRITE raced against UDMABUF_CREATE, a long-term write
 *             pin and a writable shared mmap: never do both succeed
 * map.*       read-only shared mappings of write-sealed memfds, and the
 *             count of writable mappings kept right through fork, mremap,
 *             split and munmap
 * sealed.*    after F_SEAL_WRITE no new writer appears; after
 *             F_SEAL_FUTURE_WRITE old writers keep writing, by design
 * pin.*       F_SEAL_WRITE fails while a page of the memfd (shmem, shmem
 *             THP, hugetlb) is held by a long-term pin, an io_uring fixed
 *             buffer, vmsplice() or an O_DIRECT read in flight, not for a
 *             long-term read-only pin through a private mapping, which
 *             holds the process's copy
 * exec.*      MFD_NOEXEC_SEAL, MFD_EXEC and F_SEAL_EXEC on shmem and
 *             hugetlb memfds: mode, seals, chmod, implied write seals and
 *             their checks against writable mappings and pins
 * sysctl.*    vm.memfd_noexec: values, range, privilege, and nesting in
 *             pid namespaces
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/uio.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <linux/udmabuf.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

/* The uapi values, for C libraries that predate them. */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC		0x0020
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL		0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC		0x0010U
#endif

#define WRITE_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
			 F_SEAL_FUTURE_WRITE)
#define SYSCTL		"/proc/sys/vm/memfd_noexec"
#define HUGETLB_SIZE	(2UL << 20)
#define RACE_ROUNDS	400
#define RACE_PAGES	64

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* What the tests read, kept so that the reads cannot be left out. */
unsigned int read_sum;

static int memfd(unsigned int flags)
{
	return syscall(SYS_memfd_create, "memfd_seal", flags);
}

static int seals_of(int fd)
{
	return fcntl(fd, F_GET_SEALS);
}

/* 0 or the errno of F_ADD_SEALS. */
static int add_seals(int fd, int seals)
{
	return fcntl(fd, F_ADD_SEALS, seals) ? errno : 0;
}

static const char *err_name(int err)
{
	return err ? strerror(err) : "success";
}

/* One memory type of the exec cases. */
struct mtype {
	const char *name;
	unsigned int flags;
	size_t size;
};

static const struct mtype mtypes[] = {
	{ "shmem", 0, 0 },
	{ "hugetlb", MFD_HUGETLB, HUGETLB_SIZE },
};

/*
 * A memfd of @t with @flags, sized one page of its kind; -1 with the
 * verdict set if it cannot be made.
 */
static int make(const struct mtype *t, unsigned int flags,
		struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	int fd = memfd(t->flags | flags);

	if (fd < 0) {
		int err = errno, plain = memfd(t->flags);

		/* No hugetlb memfds at all is a set-up matter; refused flags are not. */
		if ((t->flags & MFD_HUGETLB) && plain < 0)
			mmt_skip(v, "no hugetlb memfd: %s", strerror(errno));
		else
			mmt_fail(v, "memfd_create(%#x): %s", flags,
				 strerror(err));
		if (plain >= 0)
			close(plain);
		return -1;
	}
	if (ftruncate(fd, size)) {
		mmt_fail(v, "ftruncate: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned int mode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? ~0U : st.st_mode & 07777;
}

static void expect_seals(int fd, int want, struct mmt_verdict *v)
{
	int got = seals_of(fd);

	if (got != want)
		mmt_fail(v, "seals %#x, expected %#x", got, want);
}

static void expect_chmod(int fd, unsigned int mode, int want,
			 struct mmt_verdict *v)
{
	int err = fchmod(fd, mode) ? errno : 0;

	if (err != want)
		mmt_fail(v, "chmod %04o: %s, expected %s", mode, err_name(err),
			 err_name(want));
}

/* ---------------------------------------------------------------------- */
/* holding pages */

/* The ways a page of a memfd can be held while F_SEAL_WRITE is tried. */
enum hold_way { HOLD_GUP, HOLD_IO_URING, HOLD_VMSPLICE, HOLD_DIRECT_IO };

static const char *const hold_name[] = {
	"gup", "io_uring", "vmsplice", "direct_io"
};

struct hold {
	int fd;		/* gup_test, the ring, the pipe's read end, the disk */
	int wfd;	/* the pipe's write end */
	aio_context_t ctx;	/* the O_DIRECT read's AIO context */
};

/*
 * A null_blk disk, made through configfs, whose requests complete
 * SLOW_DISK_NS after they are issued: an O_DIRECT read from it holds its
 * buffer's pages for that long, far longer than F_ADD_SEALS waits for
 * page references to go away.
 */
#define NULLB_CONFIG	"/sys/kernel/config/nullb"
#define SLOW_DISK	NULLB_CONFIG "/memfd_seal"
#define SLOW_DISK_NS	"2000000000"

static char slow_disk[32];

static bool put_attr(const char *attr, const char *val)
{
	char path[128];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", SLOW_DISK, attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (int)strlen(val);
}

/* The slow disk's device node, or NULL with the verdict set. */
static const char *slow_disk_path(struct mmt_verdict *v)
{
	char buf[16] = "";
	int fd, n;

	if (slow_disk[0])
		return slow_disk;
	if (access(NULLB_CONFIG, F_OK) &&
	    mount("configfs", "/sys/kernel/config", "configfs", 0, NULL) &&
	    errno != EBUSY) {
		mmt_skip(v, "mount configfs: %s", strerror(errno));
		return NULL;
	}
	if (access(NULLB_CONFIG, F_OK)) {
		mmt_skip(v, "%s: %s (CONFIG_BLK_DEV_NULL_BLK)", NULLB_CONFIG,
			 strerror(errno));
		return NULL;
	}
	if (mkdir(SLOW_DISK, 0755) && errno != EEXIST) {
		mmt_fail(v, "mkdir %s: %s", SLOW_DISK, strerror(errno));
		return NULL;
	}
	/* 16 MiB, 4 KiB blocks, completions from a timer, no data kept */
	if (!put_attr("size", "16") || !put_attr("blocksize", "4096") ||
	    !put_attr("irqmode", "2") ||
	    !put_attr("completion_nsec", SLOW_DISK_NS) ||
	    !put_attr("memory_backed", "0") || !put_attr("power", "1")) {
		mmt_fail(v, "configure %s: %s", SLOW_DISK, strerror(errno));
		return NULL;
	}
	fd = open(SLOW_DISK "/index", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		mmt_fail(v, "%s/index: %s", SLOW_DISK, strerror(errno));
		return NULL;
	}
	snprintf(slow_disk, sizeof(slow_disk), "/dev/nullb%d", atoi(buf));
	return slow_disk;
}

/* Start an O_DIRECT read of @size bytes from the slow disk into @p. */
static bool start_direct_read(char *p, size_t size, struct hold *h,
			      struct mmt_verdict *v)
{
	struct iocb cb = { .aio_lio_opcode = IOCB_CMD_PREAD };
	struct iocb *cbs[1] = { &cb };
	const char *disk = slow_disk_path(v);

	if (!disk)
		return false;
	h->fd = open(disk, O_RDONLY | O_DIRECT);
	if (h->fd < 0) {
		mmt_fail(v, "open %s: %s", disk, strerror(errno));
		return false;
	}
	if (syscall(__NR_io_setup, 1, &h->ctx)) {
		mmt_fail(v, "io_setup: %s", strerror(errno));
		h->ctx = 0;
		return false;
	}
	cb.aio_fildes = h->fd;
	cb.aio_buf = (uintptr_t)p;
	cb.aio_nbytes = size;
	if (syscall(__NR_io_submit, h->ctx, 1, cbs) != 1) {
		mmt_fail(v, "io_submit: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * Whether the O_DIRECT read is still in flight; with @wait, wait for it
 * and check that it read everything.
 */
static bool direct_read_pending(struct hold *h, size_t size, bool wait,
				struct mmt_verdict *v)
{
	struct timespec ts = { .tv_sec = wait ? 60 : 0 };
	struct io_event ev;
	long n;

	n = syscall(__NR_io_getevents, h->ctx, wait ? 1 : 0, 1, &ev, &ts);
	if (n < 0) {
		mmt_fail(v, "io_getevents: %s", strerror(errno));
		return false;
	}
	if (n == 1 && ev.res != (long long)size)
		mmt_fail(v, "the O_DIRECT read returned %lld, expected %zu",
			 (long long)ev.res, size);
	if (wait && !n)
		mmt_fail(v, "the O_DIRECT read did not complete");
	return !n;
}

/*
 * Take a reference to the memfd's pages through a shared writable mapping
 * that is then unmapped: a long-term write pin (gup_test), an io_uring
 * fixed buffer, or vmsplice() into a pipe.  False with the verdict set if
 * it cannot be taken.
 */
static bool hold_pages(int fd, size_t size, enum hold_way how,
		       struct hold *h, struct mmt_verdict *v)
{
	struct pin_longterm_test pin = {
		.size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	struct io_uring_params params;
	struct iovec iov = { .iov_len = size };
	int pfd[2], sz;
	char *p;
	bool ok = false;

	h->fd = -1;
	h->wfd = -1;
	h->ctx = 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return false;
	}
	iov.iov_base = p;
	switch (how) {
	case HOLD_GUP:
		h->fd = gup_test_open();
		if (h->fd < 0) {
			mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
			break;
		}
		pin.addr = (uintptr_t)p;
		if (ioctl(h->fd, PIN_LONGTERM_TEST_START, &pin))
			mmt_fail(v, "PIN_LONGTERM_TEST_START: %s",
				 strerror(errno));
		else
			ok = true;
		break;
	case HOLD_IO_URING:
		memset(&params, 0, sizeof(params));
		h->fd = syscall(__NR_io_uring_setup, 4, &params);
		if (h->fd < 0) {
			mmt_skip(v, "io_uring_setup: %s", strerror(errno));
			break;
		}
		if (syscall(__NR_io_uring_register, h->fd,
			    IORING_REGISTER_BUFFERS, &iov, 1))
			mmt_fail(v, "IORING_REGISTER_BUFFERS: %s",
				 strerror(errno));
		else
			ok = true;
		break;
	case HOLD_VMSPLICE:
		if (pipe(pfd)) {
			mmt_fail(v, "pipe: %s", strerror(errno));
			break;
		}
		h->fd = pfd[0];
		h->wfd = pfd[1];
		sz = fcntl(h->wfd, F_SETPIPE_SZ, (int)size);
		if (sz < (int)size) {
			mmt_skip(v, "a pipe of %zu bytes: %s", size,
				 strerror(errno));
			break;
		}
		if (vmsplice(h->wfd, &iov, 1, 0) != (ssize_t)size)
			mmt_fail(v, "vmsplice: %s", strerror(errno));
		else
			ok = true;
		break;
	case HOLD_DIRECT_IO:
		ok = start_direct_read(p, size, h, v);
		break;
	}
	munmap(p, size);
	return ok;
}

static void release_pages(enum hold_way how, struct hold *h)
{
	if (how == HOLD_GUP && h->fd >= 0)
		ioctl(h->fd, PIN_LONGTERM_TEST_STOP);
	/* Closing a ring frees its buffers later, from a worker. */
	if (how == HOLD_IO_URING && h->fd >= 0)
		syscall(__NR_io_uring_register, h->fd,
			IORING_UNREGISTER_BUFFERS, NULL, 0);
	if (h->ctx)
		syscall(__NR_io_destroy, h->ctx);
	h->ctx = 0;
	if (h->fd >= 0)
		close(h->fd);
	if (h->wfd >= 0)
		close(h->wfd);
}

/*
 * Add @seal while the pages of @fd are held @how: it must fail with EBUSY
 * and add nothing, and succeed once they are released.
 */
static void seal_while_held(int fd, size_t size, enum hold_way how, int seal,
			    struct mmt_verdict *v)
{
	struct hold h;
	int err;

	if (!hold_pages(fd, size, how, &h, v))
		goto out;
	err = add_seals(fd, seal);
	/* The read must still be in flight for the verdict to mean much. */
	if (how == HOLD_DIRECT_IO && !direct_read_pending(&h, size, false, v))
		mmt_fail(v, "the O_DIRECT read ended before the seal: disk too fast");
	if (err != EBUSY)
		mmt_fail(v, "seal %#x with the pages held: %s, expected EBUSY",
			 seal, err_name(err));
	expect_seals(fd, 0, v);
	if (how == HOLD_DIRECT_IO)
		direct_read_pending(&h, size, true, v);
	release_pages(how, &h);
	h.fd = -1;
	h.wfd = -1;
	err = add_seals(fd, seal);
	if (err)
		mmt_fail(v, "seal %#x after the release: %s", seal,
			 strerror(err));
out:
	release_pages(how, &h);
}

/* ---------------------------------------------------------------------- */
/* exec */

/* MFD_NOEXEC_SEAL: no execute bits, F_SEAL_EXEC, sealing allowed. */
static void exec_noexec_seal(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_NOEXEC_SEAL, v);
	int err;

	if (fd < 0)
		return;
	if (mode_of(fd) & 0111)
		mmt_fail(v, "mode %04o has execute bits", mode_of(fd));
	expect_seals(fd, F_SEAL_EXEC, v);
	expect_chmod(fd, 0777, EPERM, v);
	expect_chmod(fd, 0766, EPERM, v);
	/* The other bits stay free. */
	expect_chmod(fd, 0600, 0, v);
	err = add_seals(fd, F_SEAL_SHRINK);
	if (err)
		mmt_fail(v, "F_SEAL_SHRINK: %s", strerror(err));
	close(fd);
}

/* MFD_EXEC: executable, and no sealing without MFD_ALLOW_SEALING. */
static void exec_exec(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_EXEC, v);

	if (fd < 0)
		return;
	if ((mode_of(fd) & 0111) != 0111)
		mmt_fail(v, "mode %04o lacks execute bits", mode_of(fd));
	expect_seals(fd, F_SEAL_SEAL, v);
	if (add_seals(fd, F_SEAL_EXEC) != EPERM)
		mmt_fail(v, "F_SEAL_EXEC on an unsealable memfd was not refused");
	close(fd);
}

/* F_SEAL_EXEC on an executable memfd seals its contents too. */
static void exec_implies_write(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_EXEC | MFD_ALLOW_SEALING, v);
	char c = 1;
	int err;

	if (fd < 0)
		return;
	err = add_seals(fd, F_SEAL_EXEC);
	if (err) {
		mmt_fail(v, "F_SEAL_EXEC: %s", strerror(err));
		goto out;
	}
	expect_seals(fd, F_SEAL_EXEC | WRITE_SEALS, v);
	if (!(t->flags & MFD_HUGETLB) && pwrite(fd, &c, 1, 0) != -1)
		mmt_fail(v, "write() to the sealed memfd succeeded");
	if (mmap(NULL, t->size ? t->size : pagesize, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0) != MAP_FAILED)
		mmt_fail(v, "a writable shared mapping of the sealed memfd");
	expect_chmod(fd, 0666, EPERM, v);
out:
	close(fd);
}

/*
 * The implied write seals are checked like F_SEAL_WRITE itself: while a
 * writable shared mapping exists the exec seal fails with EBUSY and adds
 * nothing.
 */
static void exec_mapped(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_EXEC | MFD_ALLOW_SEALING, v);
	size_t size = t->size ? t->size : pagesize;
	char *p;
	int err;

	if (fd < 0)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		goto out;
	}
	p[0] = 1;
	err = add_seals(fd, F_SEAL_EXEC);
	if (err != EBUSY)
		mmt_fail(v, "F_SEAL_EXEC with a writable mapping: %s, expected EBUSY",
			 err_name(err));
	expect_seals(fd, 0, v);
	munmap(p, size);
	err = add_seals(fd, F_SEAL_EXEC);
	if (err)
		mmt_fail(v, "F_SEAL_EXEC after munmap: %s", strerror(err));
	expect_seals(fd, F_SEAL_EXEC | WRITE_SEALS, v);
out:
	close(fd);
}

/* ... and while a page is pinned, through a mapping since gone. */
static void exec_pinned(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_EXEC | MFD_ALLOW_SEALING, v);

	if (fd < 0)
		return;
	seal_while_held(fd, t->size ? t->size : pagesize, HOLD_GUP,
			F_SEAL_EXEC, v);
	close(fd);
}

/* On a memfd without execute bits F_SEAL_EXEC adds only itself. */
static void exec_nonexec(const struct mtype *t, struct mmt_verdict *v)
{
	int fd = make(t, MFD_ALLOW_SEALING, v);
	int err;

	if (fd < 0)
		return;
	expect_chmod(fd, 0666, 0, v);
	err = add_seals(fd, F_SEAL_EXEC);
	if (err)
		mmt_fail(v, "F_SEAL_EXEC: %s", strerror(err));
	expect_seals(fd, F_SEAL_EXEC, v);
	expect_chmod(fd, 0676, EPERM, v);
	expect_chmod(fd, 0644, 0, v);
	close(fd);
}

/*
 * An access ACL sets the permission bits too: under F_SEAL_EXEC one that
 * would change an execute bit is refused, one that keeps them is not.
 * hugetlbfs has no ACLs (EOPNOTSUPP).
 */
static void exec_acl(const struct mtype *t, struct mmt_verdict *v)
{
	/* A minimal access ACL: user, group and other entries only. */
	struct {
		uint32_t version;
		struct { uint16_t tag, perm; uint32_t id; } e[3];
	} acl = {
		2, { { 0x01, 7, ~0U }, { 0x04, 7, ~0U }, { 0x20, 7, ~0U } },
	};
	int fd = make(t, MFD_NOEXEC_SEAL, v), err;

	if (fd < 0)
		return;
	err = fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0) ?
	      errno : 0;
	if (err == EOPNOTSUPP) {
		if (!(t->flags & MFD_HUGETLB))
			mmt_skip(v, "no POSIX ACLs on tmpfs");
		goto out;
	}
	if (err != EPERM)
		mmt_fail(v, "an rwx ACL under F_SEAL_EXEC: %s, expected EPERM",
			 err_name(err));
	if (mode_of(fd) & 0111)
		mmt_fail(v, "mode %04o has execute bits", mode_of(fd));
	/* rw- for all keeps the execute bits as they are. */
	acl.e[0].perm = 6;
	acl.e[1].perm = 6;
	acl.e[2].perm = 6;
	err = fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0) ?
	      errno : 0;
	if (err)
		mmt_fail(v, "an rw- ACL under F_SEAL_EXEC: %s", strerror(err));
out:
	close(fd);
}

/*
 * hugetlbfs checks seals in ->setattr for every inode: a mount's root,
 * which no memfd ever was, must accept any chmod.  Its inode may reuse
 * the memory of an exec-sealed hugetlb memfd's.
 */
static void exec_hugetlbfs_root(const struct mtype *t, struct mmt_verdict *v)
{
	char dir[] = "/tmp/memfd_seal.XXXXXX";
	int round, fd, err;

	if (!(t->flags & MFD_HUGETLB)) {
		mmt_skip(v, "a hugetlbfs case");
		return;
	}
	if (!mkdtemp(dir)) {
		mmt_fail(v, "mkdtemp: %s", strerror(errno));
		return;
	}
	for (round = 0; round < 8 && mmt_ok(v); round++) {
		fd = make(t, MFD_NOEXEC_SEAL, v);
		if (fd < 0)
			break;
		close(fd);
		if (mount("none", dir, "hugetlbfs", 0, "mode=0755")) {
			mmt_skip(v, "mount hugetlbfs: %s", strerror(errno));
			break;
		}
		err = chmod(dir, 0700) ? errno : 0;
		if (err)
			mmt_fail(v, "chmod of a hugetlbfs root: %s",
				 strerror(err));
		umount(dir);
	}
	rmdir(dir);
}

/* Bad input: each gets its errno and changes nothing. */
static void exec_bad_input(const struct mtype *t, struct mmt_verdict *v)
{
	int fd, ro, err;
	char path[64];

	fd = memfd(t->flags | MFD_EXEC | MFD_NOEXEC_SEAL);
	if (fd >= 0 || errno != EINVAL) {
		mmt_fail(v, "MFD_EXEC | MFD_NOEXEC_SEAL: %s, expected EINVAL",
			 fd >= 0 ? "success" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (!(t->flags & MFD_HUGETLB)) {
		fd = memfd(0x20);
		if (fd >= 0 || errno != EINVAL) {
			mmt_fail(v, "unknown flag 0x20: %s, expected EINVAL",
				 fd >= 0 ? "success" : strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	fd = make(t, MFD_ALLOW_SEALING, v);
	if (fd < 0)
		return;
	err = add_seals(fd, 0x40);
	if (err != EINVAL)
		mmt_fail(v, "unknown seal 0x40: %s, expected EINVAL",
			 err_name(err));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY);
	if (ro < 0) {
		mmt_fail(v, "reopen read-only: %s", strerror(errno));
	} else {
		err = add_seals(ro, F_SEAL_EXEC);
		if (err != EPERM)
			mmt_fail(v, "F_SEAL_EXEC through a read-only fd: %s, expected EPERM",
				 err_name(err));
		close(ro);
	}
	err = add_seals(fd, F_SEAL_SEAL);
	if (!err)
		err = add_seals(fd, F_SEAL_EXEC);
	if (err != EPERM)
		mmt_fail(v, "F_SEAL_EXEC after F_SEAL_SEAL: %s, expected EPERM",
			 err_name(err));
	expect_seals(fd, F_SEAL_SEAL, v);
	close(fd);
}

struct exec_case {
	const char *name;
	void (*run)(const struct mtype *t, struct mmt_verdict *v);
};

static const struct exec_case exec_cases[] = {
	{ "noexec_seal", exec_noexec_seal },
	{ "exec", exec_exec },
	{ "seal_implies_write", exec_implies_write },
	{ "seal_while_mapped", exec_mapped },
	{ "seal_while_pinned", exec_pinned },
	{ "seal_nonexec", exec_nonexec },
	{ "acl", exec_acl },
	{ "hugetlbfs_root", exec_hugetlbfs_root },
	{ "bad_input", exec_bad_input },
};

/* ---------------------------------------------------------------------- */
/* shared mappings */

/*
 * A memfd sealed with @seal can be mapped shared and read-only, through a
 * descriptor opened for writing; that mapping can never become writable,
 * and a writable shared mapping is still refused.
 */
static void map_ro_sealed(const struct mtype *t, int seal,
			  struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	int fd = make(t, MFD_ALLOW_SEALING, v), err;
	char *p;

	if (fd < 0)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap before sealing: %s", strerror(errno));
		goto out;
	}
	p[0] = 0x5a;
	munmap(p, size);
	err = add_seals(fd, seal);
	if (err) {
		mmt_fail(v, "sealing: %s", strerror(err));
		goto out;
	}
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "read-only shared mmap of the sealed memfd: %s",
			 strerror(errno));
		goto out;
	}
	if (p[0] != 0x5a)
		mmt_fail(v, "the mapping does not show the data");
	err = mprotect(p, size, PROT_READ | PROT_WRITE) ? errno : 0;
	if (err != EACCES)
		mmt_fail(v, "mprotect(PROT_WRITE): %s, expected EACCES",
			 err_name(err));
	/* A mapping that can never write does not hold off F_SEAL_WRITE. */
	if (seal != F_SEAL_WRITE) {
		err = add_seals(fd, F_SEAL_WRITE);
		if (err)
			mmt_fail(v, "F_SEAL_WRITE with the read-only mapping: %s",
				 strerror(err));
	}
	munmap(p, size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		mmt_fail(v, "a writable shared mmap of the sealed memfd");
		munmap(p, size);
	} else if (errno != EPERM) {
		mmt_fail(v, "writable shared mmap: %s, expected EPERM",
			 strerror(errno));
	}
out:
	close(fd);
}

static void map_ro_write_sealed(const struct mtype *t, struct mmt_verdict *v)
{
	map_ro_sealed(t, F_SEAL_WRITE, v);
}

static void map_ro_future_write_sealed(const struct mtype *t,
				       struct mmt_verdict *v)
{
	map_ro_sealed(t, F_SEAL_FUTURE_WRITE, v);
}

/*
 * Writable shared mappings are counted and uncounted consistently through
 * fork, mremap, a split and munmap: F_SEAL_WRITE fails while any of them,
 * or a read-only shared mapping that may become writable, is left, and
 * succeeds once all are gone.
 */
static void map_count_balanced(const struct mtype *t, struct mmt_verdict *v)
{
	size_t unit = t->size ? t->size : pagesize, size = 2 * unit;
	int fd = make(t, MFD_ALLOW_SEALING, v), err, status;
	char *p, *q, *ro = MAP_FAILED;
	pid_t pid;

	if (fd < 0)
		return;
	if (ftruncate(fd, size)) {
		mmt_fail(v, "ftruncate: %s", strerror(errno));
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		/* Two huge pages may be more than the pool has. */
		if (t->flags & MFD_HUGETLB)
			mmt_skip(v, "mmap: %s", strerror(errno));
		else
			mmt_fail(v, "mmap: %s", strerror(errno));
		goto out;
	}
	p[0] = 1;
	pid = fork();
	if (pid == 0)
		_exit(p[0] == 1 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
		mmt_fail(v, "the child failed");
	q = mremap(p, size, size, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		mmt_fail(v, "mremap: %s", strerror(errno));
		munmap(p, size);
		goto out;
	}
	/* Split it, and unmap one half. */
	munmap(q + unit, unit);
	err = add_seals(fd, F_SEAL_WRITE);
	if (err != EBUSY)
		mmt_fail(v, "F_SEAL_WRITE with a writable mapping left: %s, expected EBUSY",
			 err_name(err));
	munmap(q, unit);
	ro = mmap(NULL, unit, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED) {
		mmt_fail(v, "read-only shared mmap: %s", strerror(errno));
		goto out;
	}
	err = add_seals(fd, F_SEAL_WRITE);
	if (err != EBUSY)
		mmt_fail(v, "F_SEAL_WRITE, read-only map that may become writable: %s",
			 err_name(err));
	munmap(ro, unit);
	err = add_seals(fd, F_SEAL_WRITE);
	if (err)
		mmt_fail(v, "F_SEAL_WRITE with no mapping left: %s",
			 strerror(err));
out:
	close(fd);
}

static const struct exec_case map_cases[] = {
	{ "ro_shared_write_sealed", map_ro_write_sealed },
	{ "ro_shared_future_write_sealed", map_ro_future_write_sealed },
	{ "writable_count_balanced", map_count_balanced },
};

/* ---------------------------------------------------------------------- */
/* pins */

#define SHMEM_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static char shmem_enabled_saved[32];

/* Let shmem memfds use THPs where madvised; false if THP is not built. */
static bool shmem_thp_on(void)
{
	FILE *f = fopen(SHMEM_ENABLED, "r");
	char buf[128], *l, *r;
	int fd;

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	/* The current setting is the one in brackets. */
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || r - l - 1 >= (long)sizeof(shmem_enabled_saved))
		return false;
	memcpy(shmem_enabled_saved, l + 1, r - l - 1);
	shmem_enabled_saved[r - l - 1] = 0;
	fd = open(SHMEM_ENABLED, O_WRONLY);
	if (fd < 0)
		return false;
	if (write(fd, "advise", 6) != 6) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void shmem_thp_restore(void)
{
	int fd, len = strlen(shmem_enabled_saved);

	if (!len)
		return;
	fd = open(SHMEM_ENABLED, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, shmem_enabled_saved, len) != len)
			ksft_print_msg("cannot restore %s\n", SHMEM_ENABLED);
		close(fd);
	}
}

#define MT_THP	0x80000000U	/* pseudo flag: a shmem memfd backed by a THP */

static const struct mtype pin_mtypes[] = {
	{ "shmem", 0, 0 },
	{ "shmem_thp", MT_THP, HUGETLB_SIZE },
	{ "hugetlb", MFD_HUGETLB, HUGETLB_SIZE },
};

/* A memfd of @t for the pin cases, its pages populated, shared-mapped. */
static int pin_memfd(const struct mtype *t, struct mmt_verdict *v)
{
	struct mtype m = { t->name, t->flags & ~MT_THP, t->size };
	size_t size = t->size ? t->size : pagesize;
	char *p;
	int fd;

	if ((t->flags & MT_THP) && !shmem_enabled_saved[0]) {
		mmt_skip(v, "shmem THPs cannot be enabled (%s)", SHMEM_ENABLED);
		return -1;
	}
	fd = make(&m, MFD_ALLOW_SEALING, v);
	if (fd < 0)
		return -1;
	p = mmap_aligned(size, HUGETLB_SIZE);
	if (!p || mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       fd, 0) == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		goto err;
	}
	if (t->flags & MT_THP)
		madvise(p, size, MADV_HUGEPAGE);
	memset(p, 0x5a, size);
	if ((t->flags & MT_THP) && smaps_kb(p, "ShmemPmdMapped") != 2048) {
		mmt_skip(v, "no shmem THP: ShmemPmdMapped %ld kB",
			 smaps_kb(p, "ShmemPmdMapped"));
		munmap(p, size);
		goto err;
	}
	munmap(p, size);
	return fd;
err:
	close(fd);
	return -1;
}

/* A held page of the memfd holds off F_SEAL_WRITE until released. */
static void pin_blocks_seal(const struct mtype *t, enum hold_way how,
			    struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	int fd = pin_memfd(t, v);

	if (fd < 0)
		return;
	seal_while_held(fd, size, how, F_SEAL_WRITE, v);
	close(fd);
}

/*
 * Write the memfd through a shared mapping, then read what the pin holds
 * (gup_test's READ): it must still be the data the private mapping had.
 */
static void pin_sees_own_copy(int fd, int gup, size_t size,
			      struct mmt_verdict *v)
{
	char *w, *buf = malloc(size);
	uint64_t dst = (uintptr_t)buf;

	if (!buf) {
		mmt_fail(v, "malloc");
		return;
	}
	w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		mmt_fail(v, "shared mmap: %s", strerror(errno));
		goto out;
	}
	memset(w, 0xa5, size);
	munmap(w, size);
	if (ioctl(gup, PIN_LONGTERM_TEST_READ, &dst))
		mmt_fail(v, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	else if (!mmt_all_bytes(buf, size, 0x5a))
		mmt_fail(v, "the pin shows a later write to the memfd");
out:
	free(buf);
}

/*
 * A long-term read-only pin through a private mapping holds the process's
 * own copy, not the memfd's page: a later write to the memfd does not show
 * through it, and it does not hold off F_SEAL_WRITE.
 */
static void pin_private_ro(const struct mtype *t, struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	struct pin_longterm_test pin = { .size = size };
	int fd = pin_memfd(t, v), gup = -1, err;
	char *p;

	if (fd < 0)
		return;
	gup = gup_test_open();
	if (gup < 0) {
		mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
		goto out;
	}
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		goto out;
	}
	read_sum += p[0];
	pin.addr = (uintptr_t)p;
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin)) {
		mmt_fail(v, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		munmap(p, size);
		goto out;
	}
	pin_sees_own_copy(fd, gup, size, v);
	err = add_seals(fd, F_SEAL_WRITE);
	if (err)
		mmt_fail(v, "F_SEAL_WRITE with a private read-only pin: %s",
			 strerror(err));
	ioctl(gup, PIN_LONGTERM_TEST_STOP);
	munmap(p, size);
out:
	if (gup >= 0)
		close(gup);
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* after the seal */

/*
 * Once F_SEAL_WRITE is set, no new way to write appears: write(), a hole
 * punch, a writable shared mapping, and a forced write through a read-only
 * shared mapping all fail, and the contents stay.
 */
static void sealed_no_new_writer(const struct mtype *t, struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	int fd = make(t, MFD_ALLOW_SEALING, v), mem, err;
	char c = 1, *p;

	if (fd < 0)
		return;
	err = add_seals(fd, F_SEAL_WRITE);
	if (err) {
		mmt_fail(v, "F_SEAL_WRITE: %s", strerror(err));
		goto out;
	}
	if (!(t->flags & MFD_HUGETLB) && pwrite(fd, &c, 1, 0) != -1)
		mmt_fail(v, "write() succeeded");
	if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		       size))
		mmt_fail(v, "a hole punch succeeded");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		mmt_fail(v, "a writable shared mmap succeeded");
		munmap(p, size);
	}
	/* Reopened read-only, so that the mapping exists on any kernel. */
	{
		char path[64];
		int ro;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY);
		p = ro < 0 ? MAP_FAILED :
		    mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
		if (ro >= 0)
			close(ro);
	}
	if (p == MAP_FAILED) {
		mmt_fail(v, "read-only shared mmap: %s", strerror(errno));
		goto out;
	}
	mem = open("/proc/self/mem", O_RDWR);
	if (mem < 0) {
		mmt_fail(v, "/proc/self/mem: %s", strerror(errno));
	} else {
		if (pwrite(mem, &c, 1, (uintptr_t)p) == 1)
			mmt_fail(v, "a forced write through the mapping succeeded");
		close(mem);
	}
	if (p[0] != 0)
		mmt_fail(v, "the sealed memfd changed");
	munmap(p, size);
out:
	close(fd);
}

/*
 * F_SEAL_FUTURE_WRITE stops new writers only: a writable mapping and a
 * write pin taken before it keep writing, by design, while new writable
 * mappings and write() fail.
 */
static void future_write_existing(const struct mtype *t, struct mmt_verdict *v)
{
	size_t size = t->size ? t->size : pagesize;
	int fd = make(t, MFD_ALLOW_SEALING, v), err;
	struct hold h = { .fd = -1, .wfd = -1 };
	char c = 1, *p, *q;

	if (fd < 0)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		goto out;
	}
	if (!hold_pages(fd, size, HOLD_GUP, &h, v))
		goto unmap;
	err = add_seals(fd, F_SEAL_FUTURE_WRITE);
	if (err) {
		mmt_fail(v, "F_SEAL_FUTURE_WRITE with a writer: %s",
			 strerror(err));
		goto unmap;
	}
	p[0] = 7;
	q = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (q == MAP_FAILED) {
		mmt_fail(v, "read-only shared mmap: %s", strerror(errno));
	} else {
		if (q[0] != 7)
			mmt_fail(v, "the existing mapping's write is not seen");
		munmap(q, size);
	}
	q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (q != MAP_FAILED) {
		mmt_fail(v, "a new writable shared mmap succeeded");
		munmap(q, size);
	}
	if (!(t->flags & MFD_HUGETLB) && pwrite(fd, &c, 1, 0) != -1)
		mmt_fail(v, "write() succeeded");
unmap:
	release_pages(HOLD_GUP, &h);
	munmap(p, size);
out:
	close(fd);
}

static const struct exec_case sealed_cases[] = {
	{ "no_new_writer", sealed_no_new_writer },
	{ "future_write_keeps_old_writers", future_write_existing },
};

/* ---------------------------------------------------------------------- */
/* udmabuf */

static int udmabuf_dev = -1;

/* A shmem memfd of @pages base pages, allowed to seal, sealed with @seals. */
static int udmabuf_memfd(size_t pages, int seals, struct mmt_verdict *v)
{
	int fd = memfd(MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, pages * pagesize) ||
	    (seals && add_seals(fd, seals))) {
		mmt_fail(v, "memfd set-up: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The dma-buf fd of a udmabuf over @fd, or -errno. */
static int udmabuf_create(int fd, uint64_t offset, uint64_t size)
{
	struct udmabuf_create c = {
		.memfd = fd, .offset = offset, .size = size,
	};
	int buf = ioctl(udmabuf_dev, UDMABUF_CREATE, &c);

	return buf < 0 ? -errno : buf;
}

static void udmabuf_expect(int fd, uint64_t offset, uint64_t size,
			   int want, const char *what, struct mmt_verdict *v)
{
	int buf = udmabuf_create(fd, offset, size);

	if (buf >= 0) {
		close(buf);
		buf = 0;
	}
	if (buf != -want)
		mmt_fail(v, "%s: %s, expected %s", what, err_name(-buf),
			 err_name(want));
}

/* A udmabuf of a SHRINK-sealed memfd holds off F_SEAL_WRITE. */
static void udmabuf_pins(struct mmt_verdict *v)
{
	int fd = udmabuf_memfd(2, F_SEAL_SHRINK, v), buf, err;

	if (fd < 0)
		return;
	buf = udmabuf_create(fd, 0, 2 * pagesize);
	if (buf < 0) {
		mmt_fail(v, "UDMABUF_CREATE: %s", strerror(-buf));
		goto out;
	}
	err = add_seals(fd, F_SEAL_WRITE);
	if (err != EBUSY)
		mmt_fail(v, "F_SEAL_WRITE with a udmabuf: %s, expected EBUSY",
			 err_name(err));
	close(buf);
	err = add_seals(fd, F_SEAL_WRITE);
	if (err)
		mmt_fail(v, "F_SEAL_WRITE after closing the udmabuf: %s",
			 strerror(err));
out:
	close(fd);
}

static void udmabuf_write_sealed(struct mmt_verdict *v)
{
	int fd = udmabuf_memfd(1, F_SEAL_SHRINK | F_SEAL_WRITE, v);

	if (fd < 0)
		return;
	udmabuf_expect(fd, 0, pagesize, EINVAL, "F_SEAL_WRITE memfd", v);
	close(fd);
}

static void udmabuf_future_write_sealed(struct mmt_verdict *v)
{
	int fd = udmabuf_memfd(1, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE, v);

	if (fd < 0)
		return;
	udmabuf_expect(fd, 0, pagesize, EINVAL, "F_SEAL_FUTURE_WRITE memfd",
		       v);
	close(fd);
}

static void udmabuf_bad_input(struct mmt_verdict *v)
{
	int fd = udmabuf_memfd(2, 0, v), hfd, nfd;

	if (fd < 0)
		return;
	udmabuf_expect(fd, 0, pagesize, EINVAL, "no F_SEAL_SHRINK", v);
	if (add_seals(fd, F_SEAL_SHRINK))
		mmt_fail(v, "F_SEAL_SHRINK: %s", strerror(errno));
	udmabuf_expect(fd, 1, pagesize, EINVAL, "unaligned offset", v);
	udmabuf_expect(fd, 0, pagesize + 1, EINVAL, "unaligned size", v);
	udmabuf_expect(fd, 0, 0, EINVAL, "empty range", v);
	udmabuf_expect(-1, 0, pagesize, EBADFD, "no fd", v);
	nfd = open("/dev/null", O_RDWR);
	if (nfd >= 0) {
		udmabuf_expect(nfd, 0, pagesize, EBADFD, "not a memfd", v);
		close(nfd);
	}
	hfd = memfd(MFD_HUGETLB | MFD_ALLOW_SEALING);
	if (hfd >= 0) {
		if (!ftruncate(hfd, HUGETLB_SIZE) &&
		    !add_seals(hfd, F_SEAL_SHRINK))
			udmabuf_expect(hfd, 0, pagesize, EBADFD,
				       "hugetlb memfd", v);
		close(hfd);
	}
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* races with F_ADD_SEALS(F_SEAL_WRITE) */

/* What races with the seal: each is a way to write the memfd later. */
enum race_way { RACE_UDMABUF, RACE_PIN, RACE_MMAP };

static const char *const race_name[] = { "udmabuf", "pin", "mmap" };

struct race {
	pthread_barrier_t go;
	enum race_way way;
	int fd;
	int gup;	/* gup_test, for RACE_PIN */
	bool got;	/* the way to write was set up */
	int buf;	/* RACE_UDMABUF: the dma-buf */
	char *map;	/* RACE_MMAP: the writable mapping */
	int seal_err;	/* F_ADD_SEALS's result */
	unsigned int round;
	bool stop;
};

/* Set up r->way on r->fd: a udmabuf, a long-term write pin or a mapping. */
static void race_get(struct race *r)
{
	size_t size = RACE_PAGES * pagesize;
	struct pin_longterm_test pin = {
		.size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	char *p;

	r->got = false;
	switch (r->way) {
	case RACE_UDMABUF:
		r->buf = udmabuf_create(r->fd, 0, size);
		r->got = r->buf >= 0;
		break;
	case RACE_PIN:
	case RACE_MMAP:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->fd, 0);
		if (p == MAP_FAILED)
			break;
		p[0] = 1;
		if (r->way == RACE_MMAP) {
			r->map = p;
			r->got = true;
			break;
		}
		pin.addr = (uintptr_t)p;
		r->got = !ioctl(r->gup, PIN_LONGTERM_TEST_START, &pin);
		munmap(p, size);
		break;
	}
}

static void race_put(struct race *r)
{
	if (!r->got)
		return;
	switch (r->way) {
	case RACE_UDMABUF:
		close(r->buf);
		break;
	case RACE_PIN:
		ioctl(r->gup, PIN_LONGTERM_TEST_STOP);
		break;
	case RACE_MMAP:
		munmap(r->map, RACE_PAGES * pagesize);
		break;
	}
}

static void *race_thread(void *arg)
{
	struct race *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (r->stop)
			return NULL;
		race_get(r);
		pthread_barrier_wait(&r->go);
	}
}

/*
 * Race the seal against one way to write, on a fresh memfd per round, and
 * check that they never both succeed.  Bounded by rounds and time.
 */
static void seal_race(enum race_way way, struct mmt_verdict *v)
{
	struct race r = { .way = way, .fd = -1, .gup = -1 };
	unsigned int both = 0, gots = 0, seals = 0, spin;
	struct timespec t0, t;
	pthread_t th;

	if (way == RACE_PIN) {
		r.gup = gup_test_open();
		if (r.gup < 0) {
			mmt_skip(v, "%s: %s", GUP_TEST_PATH, strerror(errno));
			return;
		}
	}
	pthread_barrier_init(&r.go, NULL, 2);
	if (pthread_create(&th, NULL, race_thread, &r)) {
		mmt_fail(v, "pthread_create");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (r.round = 0; r.round < RACE_ROUNDS; r.round++) {
		r.fd = udmabuf_memfd(RACE_PAGES, F_SEAL_SHRINK, v);
		if (r.fd < 0)
			break;
		pthread_barrier_wait(&r.go);
		/* Start the seal at a different point of the other side each round. */
		for (spin = 0; spin < (r.round % 32) * 200; spin++)
			__asm__ __volatile__("" ::: "memory");
		r.seal_err = add_seals(r.fd, F_SEAL_WRITE);
		pthread_barrier_wait(&r.go);
		gots += r.got;
		seals += !r.seal_err;
		if (r.got && !r.seal_err)
			both++;
		race_put(&r);
		close(r.fd);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 10)
			break;
	}
	r.stop = true;
	pthread_barrier_wait(&r.go);
	pthread_join(th, NULL);
	ksft_print_msg("%s race: %u rounds, %u set up, %u seals, %u both\n",
		       race_name[way], r.round, gots, seals, both);
	if (both)
		mmt_fail(v, "%u rounds: the seal and a %s both succeeded", both,
			 race_name[way]);
out:
	pthread_barrier_destroy(&r.go);
	if (r.gup >= 0)
		close(r.gup);
}

static void race_udmabuf(struct mmt_verdict *v)
{
	if (udmabuf_dev < 0)
		mmt_skip(v, "no /dev/udmabuf");
	else
		seal_race(RACE_UDMABUF, v);
}

static void race_pin(struct mmt_verdict *v)
{
	seal_race(RACE_PIN, v);
}

static void race_mmap(struct mmt_verdict *v)
{
	seal_race(RACE_MMAP, v);
}

struct plain_case {
	const char *name;
	void (*run)(struct mmt_verdict *v);
};

static const struct plain_case udmabuf_cases[] = {
	{ "pins_block_write_seal", udmabuf_pins },
	{ "write_sealed", udmabuf_write_sealed },
	{ "future_write_sealed", udmabuf_future_write_sealed },
	{ "bad_input", udmabuf_bad_input },
};

static const struct plain_case race_cases[] = {
	{ "udmabuf", race_udmabuf },
	{ "pin", race_pin },
	{ "mmap", race_mmap },
};

/* ---------------------------------------------------------------------- */
/* vm.memfd_noexec */

/* The sysctl's value, or -1. */
static int sysctl_get(void)
{
	unsigned long val;

	return sysfs_read_ulong(SYSCTL, &val) ? (int)val : -1;
}

/* 0 or the errno of writing @text to the sysctl. */
static int sysctl_put(const char *text)
{
	int fd = open(SYSCTL, O_WRONLY), err = 0;
	ssize_t len = strlen(text);

	if (fd < 0)
		return errno;
	if (write(fd, text, len) != len)
		err = errno;
	close(fd);
	return err;
}

static void expect_put(const char *text, int want, struct mmt_verdict *v)
{
	int err = sysctl_put(text);

	if (err != want)
		mmt_fail(v, "write %s: %s, expected %s", text, err_name(err),
			 err_name(want));
}

/* What memfd_create(@flags) gives: 'x' executable, 'n' noexec-sealed, errno. */
static int created(unsigned int flags, char *kind)
{
	int fd = memfd(flags), err = 0;

	*kind = '?';
	if (fd < 0)
		return errno;
	if ((mode_of(fd) & 0111) == 0111 && !(seals_of(fd) & F_SEAL_EXEC))
		*kind = 'x';
	else if (!(mode_of(fd) & 0111) && (seals_of(fd) & F_SEAL_EXEC))
		*kind = 'n';
	close(fd);
	return err;
}

static void expect_created(unsigned int flags, int want_err, char want,
			   struct mmt_verdict *v)
{
	char kind;
	int err = created(flags, &kind);

	if (err != want_err || (!err && kind != want))
		mmt_fail(v, "memfd_create(%#x) at vm.memfd_noexec=%d: %s/%c, expected %s/%c",
			 flags, sysctl_get(), err_name(err), err ? '-' : kind,
			 err_name(want_err), want_err ? '-' : want);
}

static void sysctl_values(struct mmt_verdict *v)
{
	if (sysctl_get() != 0)
		mmt_fail(v, "vm.memfd_noexec is %d at boot, expected 0",
			 sysctl_get());
	expect_created(0, 0, 'x', v);
	expect_created(MFD_EXEC, 0, 'x', v);
	expect_created(MFD_NOEXEC_SEAL, 0, 'n', v);
	expect_put("1", 0, v);
	expect_created(0, 0, 'n', v);
	expect_created(MFD_EXEC, 0, 'x', v);
	expect_created(MFD_NOEXEC_SEAL, 0, 'n', v);
	expect_put("2", 0, v);
	expect_created(0, 0, 'n', v);
	expect_created(MFD_EXEC, EACCES, 0, v);
	expect_created(MFD_NOEXEC_SEAL, 0, 'n', v);
	/* The top level can lower its own value again. */
	expect_put("0", 0, v);
	expect_created(0, 0, 'x', v);
}

static void sysctl_range(struct mmt_verdict *v)
{
	expect_put("3", EINVAL, v);
	expect_put("-1", EINVAL, v);
	if (sysctl_get() != 0)
		mmt_fail(v, "a refused write changed the value to %d",
			 sysctl_get());
}

/* Run @fn in a child as @uid; its exit status carries the errno. */
static int as_child(int (*fn)(void), bool new_pidns, uid_t uid)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (new_pidns) {
			if (unshare(CLONE_NEWPID))
				_exit(200);
			/* The namespace holds this process's children. */
			pid = fork();
			if (pid < 0)
				_exit(201);
			if (pid) {
				if (waitpid(pid, &status, 0) != pid ||
				    !WIFEXITED(status))
					_exit(202);
				_exit(WEXITSTATUS(status));
			}
		}
		if (uid && setresuid(uid, uid, uid))
			_exit(203);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int try_put_1(void)
{
	return sysctl_put("1");
}

static void sysctl_unprivileged(struct mmt_verdict *v)
{
	int err = as_child(try_put_1, false, 65534);

	if (err != EACCES && err != EPERM)
		mmt_fail(v, "an unprivileged write: %s, expected EACCES or EPERM",
			 err < 0 || err > 200 ? "the child failed" : err_name(err));
	if (sysctl_get() != 0)
		mmt_fail(v, "the value is %d after an unprivileged write",
			 sysctl_get());
}

/*
 * In a child pid namespace of a parent at 1: the child reads 1, cannot go
 * below it, can go to 2, and then refuses MFD_EXEC; the parent stays at 1.
 * Exit status: 0, or a code for the first check that failed.
 */
static int nested_child(void)
{
	char kind;

	if (sysctl_get() != 1)
		return 10;
	if (sysctl_put("0") != EINVAL)
		return 11;
	if (created(0, &kind) || kind != 'n')
		return 12;
	if (sysctl_put("2"))
		return 13;
	if (created(MFD_EXEC, &kind) != EACCES)
		return 14;
	return 0;
}

/* A namespace created where 2 applies starts at 2. */
static int inherit_child(void)
{
	return sysctl_get() == 2 ? 0 : 20;
}

static int nested_grandchild(void)
{
	if (sysctl_put("2"))
		return 30;
	return as_child(inherit_child, true, 0);
}

static void sysctl_nested(struct mmt_verdict *v)
{
	int ret;

	expect_put("1", 0, v);
	ret = as_child(nested_child, true, 0);
	if (ret == 200)
		mmt_skip(v, "unshare(CLONE_NEWPID): no pid namespaces");
	else if (ret)
		mmt_fail(v, "the child namespace's check %d failed", ret);
	if (sysctl_get() != 1)
		mmt_fail(v, "the child changed the parent's value to %d",
			 sysctl_get());
	expect_put("0", 0, v);
	ret = as_child(nested_grandchild, true, 0);
	if (ret && ret != 200)
		mmt_fail(v, "inheritance check %d failed", ret);
	if (sysctl_get() != 0)
		mmt_fail(v, "the parent's value is %d, expected 0",
			 sysctl_get());
}

static const struct plain_case sysctl_cases[] = {
	{ "values", sysctl_values },
	{ "range", sysctl_range },
	{ "unprivileged", sysctl_unprivileged },
	{ "nested", sysctl_nested },
};

/* ---------------------------------------------------------------------- */

static void run_typed(const char *group, const struct exec_case *c,
		      const struct mtype *t)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	char name[64];

	snprintf(name, sizeof(name), "%s.%s.%s", group, c->name, t->name);
	c->run(t, &v);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

static const struct exec_case pin_private_ro_case = {
	"private_ro_no_block", pin_private_ro
};

static void run_pin(enum hold_way how, const struct mtype *t)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	char name[64];

	snprintf(name, sizeof(name), "pin.%s_blocks_write_seal.%s",
		 hold_name[how], t->name);
	pin_blocks_seal(t, how, &v);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

static void run_plain(const char *group, const struct plain_case *c,
		      const char *skip)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", group, c->name);
	if (skip)
		mmt_skip(&v, "%s", skip);
	else
		c->run(&v);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

int main(void)
{
	const char *skip = NULL;
	char why[128];
	size_t i, j;

	ksft_print_header();
	mmt_plan((ARRAY_SIZE(exec_cases) + ARRAY_SIZE(map_cases) +
		  ARRAY_SIZE(sealed_cases)) * ARRAY_SIZE(mtypes) +
		 (HOLD_DIRECT_IO + 2) * ARRAY_SIZE(pin_mtypes) +
		 ARRAY_SIZE(udmabuf_cases) + ARRAY_SIZE(race_cases) +
		 ARRAY_SIZE(sysctl_cases));
	for (i = 0; i < ARRAY_SIZE(exec_cases); i++)
		for (j = 0; j < ARRAY_SIZE(mtypes); j++)
			run_typed("exec", &exec_cases[i], &mtypes[j]);
	for (i = 0; i < ARRAY_SIZE(map_cases); i++)
		for (j = 0; j < ARRAY_SIZE(mtypes); j++)
			run_typed("map", &map_cases[i], &mtypes[j]);
	for (i = 0; i < ARRAY_SIZE(sealed_cases); i++)
		for (j = 0; j < ARRAY_SIZE(mtypes); j++)
			run_typed("sealed", &sealed_cases[i], &mtypes[j]);
	shmem_thp_on();
	for (i = HOLD_GUP; i <= HOLD_DIRECT_IO; i++)
		for (j = 0; j < ARRAY_SIZE(pin_mtypes); j++)
			run_pin(i, &pin_mtypes[j]);
	for (j = 0; j < ARRAY_SIZE(pin_mtypes); j++)
		run_typed("pin", &pin_private_ro_case, &pin_mtypes[j]);
	shmem_thp_restore();

	udmabuf_dev = open("/dev/udmabuf", O_RDWR);
	if (udmabuf_dev < 0) {
		snprintf(why, sizeof(why), "/dev/udmabuf: %s",
			 strerror(errno));
		skip = why;
	}
	for (i = 0; i < ARRAY_SIZE(udmabuf_cases); i++)
		run_plain("udmabuf", &udmabuf_cases[i], skip);
	for (i = 0; i < ARRAY_SIZE(race_cases); i++)
		run_plain("race", &race_cases[i], NULL);
	if (udmabuf_dev >= 0)
		close(udmabuf_dev);

	skip = NULL;
	if (access(SYSCTL, R_OK)) {
		snprintf(why, sizeof(why), "%s: %s", SYSCTL, strerror(errno));
		skip = why;
	} else if (geteuid()) {
		skip = "not root";
	}
	for (i = 0; i < ARRAY_SIZE(sysctl_cases); i++)
		run_plain("sysctl", &sysctl_cases[i], skip);
	if (!skip)
		sysctl_put("0");
	return mmt_exit();
}
