// SPDX-License-Identifier: GPL-2.0
/*
 * Long-term write pins of file-backed memory.  A file that is written back
 * through the page cache must see every write through a write fault, so a
 * long-term write pin of a MAP_SHARED mapping of it is refused with EFAULT,
 * by pin_user_pages() and pin_user_pages_fast() (gup_test) and by io_uring
 * fixed buffers.  Memory that is never written back (anonymous, shmem,
 * memfd, hugetlb) can be pinned, and so can a MAP_PRIVATE mapping of any
 * file, whose write pin takes a copy: the file must not change.
 *
 * The written-back file is a zram block device, mapped directly, so that
 * the test needs no filesystem.  Cases are <memory>.<how>, how being slow
 * (pin_user_pages()), fast (pin_user_pages_fast()) or io_uring
 * (IORING_REGISTER_BUFFERS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/io_uring.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#define HUGETLB_SIZE	(2UL << 20)
#define ZRAM_CONTROL	"/sys/class/zram-control/"

#define OLD	0x5a	/* the file's data */
#define NEW	0xa5	/* what goes through the pin */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int gup_fd = -1;
static int gup_errno;
static int zram_id = -1;
static char zram_path[32];

enum pin_way { SLOW, FAST, URING };

static const char *const how_name[] = { "slow", "fast", "io_uring" };

/* ---------------------------------------------------------------------- */
/* Memory */

struct region {
	char *mem;
	size_t size;
	int fd;		/* the file, -1 for anonymous memory */
};

/* The zram device, made once, of one MiB. */
static int zram_open(struct mmt_verdict *v)
{
	char path[64];
	unsigned long id;
	int fd;

	if (zram_id < 0) {
		if (access(ZRAM_CONTROL "hot_add", R_OK)) {
			mmt_skip(v, "no %shot_add", ZRAM_CONTROL);
			return -1;
		}
		if (!sysfs_read_ulong(ZRAM_CONTROL "hot_add", &id)) {
			mmt_fail(v, "cannot add a zram device: %s",
				 strerror(errno));
			return -1;
		}
		zram_id = id;
		snprintf(zram_path, sizeof(zram_path), "/dev/zram%d", zram_id);
		snprintf(path, sizeof(path), "/sys/block/zram%d/disksize",
			 zram_id);
		if (!sysfs_write_ulong(path, 1UL << 20)) {
			mmt_fail(v, "cannot size %s: %s", zram_path,
				 strerror(errno));
			return -1;
		}
	}
	fd = open(zram_path, O_RDWR);
	if (fd < 0)
		mmt_fail(v, "%s: %s", zram_path, strerror(errno));
	return fd;
}

static void zram_remove(void)
{
	char buf[16];
	int fd, len;

	if (zram_id < 0)
		return;
	len = snprintf(buf, sizeof(buf), "%d", zram_id);
	fd = open(ZRAM_CONTROL "hot_remove", O_WRONLY);
	if (fd < 0 || write(fd, buf, len) != len)
		ksft_print_msg("cannot remove %s\n", zram_path);
	if (fd >= 0)
		close(fd);
}

/* Fill the file @r->fd with OLD through a shared mapping. */
static bool file_fill(struct region *r, struct mmt_verdict *v)
{
	char *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->fd, 0);

	if (p == MAP_FAILED) {
		mmt_fail(v, "mmap to fill the file: %s", strerror(errno));
		return false;
	}
	memset(p, OLD, r->size);
	munmap(p, r->size);
	return true;
}

static void map_file(struct region *r, bool shared, struct mmt_verdict *v)
{
	if (!file_fill(r, v))
		return;
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
		      shared ? MAP_SHARED : MAP_PRIVATE, r->fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	/* Populate it, so that the pin finds the file's pages mapped. */
	if (!mmt_all_bytes(r->mem, r->size, OLD))
		mmt_fail(v, "the mapping does not show the file's data");
}

static void setup_blockdev(struct region *r, bool shared,
			   struct mmt_verdict *v)
{
	r->fd = zram_open(v);
	if (r->fd < 0)
		return;
	r->size = 4 * pagesize;
	map_file(r, shared, v);
}

static void setup_blockdev_shared(struct region *r, struct mmt_verdict *v)
{
	setup_blockdev(r, true, v);
}

static void setup_blockdev_private(struct region *r, struct mmt_verdict *v)
{
	setup_blockdev(r, false, v);
}

static void setup_memfd(struct region *r, unsigned int mfd_flags,
			size_t size, struct mmt_verdict *v)
{
	r->fd = memfd_create("longterm_write", mfd_flags);
	if (r->fd < 0) {
		if (mfd_flags & MFD_HUGETLB)
			mmt_skip(v, "no hugetlb memfd: %s", strerror(errno));
		else
			mmt_fail(v, "memfd_create: %s", strerror(errno));
		return;
	}
	r->size = size;
	if (ftruncate(r->fd, size)) {
		mmt_fail(v, "ftruncate: %s", strerror(errno));
		return;
	}
	map_file(r, true, v);
}

static void setup_memfd_shared(struct region *r, struct mmt_verdict *v)
{
	setup_memfd(r, 0, 4 * pagesize, v);
}

static void setup_hugetlb_shared(struct region *r, struct mmt_verdict *v)
{
	setup_memfd(r, MFD_HUGETLB, HUGETLB_SIZE, v);
}

static void setup_anon(struct region *r, struct mmt_verdict *v)
{
	r->size = 4 * pagesize;
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	memset(r->mem, OLD, r->size);
}

struct kind {
	const char *name;
	void (*setup)(struct region *r, struct mmt_verdict *v);
	bool refused;	/* a long-term write pin must fail with EFAULT */
	bool private;	/* a file the pin's writes must not reach */
};

static const struct kind kinds[] = {
	{ "blockdev_shared", setup_blockdev_shared, true, false },
	{ "blockdev_private", setup_blockdev_private, false, true },
	{ "memfd_shared", setup_memfd_shared, false, false },
	{ "hugetlb_shared", setup_hugetlb_shared, false, false },
	{ "anon", setup_anon, false, false },
};

/* ---------------------------------------------------------------------- */
/* Pins */

/* Take the long-term write pin; 0 or the errno. */
static int pin(struct region *r, enum pin_way how, int *ring)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)r->mem,
		.size = r->size,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			 (how == FAST ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0),
	};
	struct io_uring_params p;
	struct iovec iov = { .iov_base = r->mem, .iov_len = r->size };

	if (how != URING)
		return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args) ? errno : 0;
	memset(&p, 0, sizeof(p));
	*ring = syscall(__NR_io_uring_setup, 4, &p);
	if (*ring < 0)
		return -errno;	/* no io_uring: negative, a set-up problem */
	if (syscall(__NR_io_uring_register, *ring, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return errno;
	return 0;
}

static void unpin(enum pin_way how, int ring)
{
	if (how != URING)
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	else if (ring >= 0)
		close(ring);
}

/* A private mapping's writes must not reach the file. */
static void file_unchanged(struct region *r, struct mmt_verdict *v)
{
	char *view = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);

	if (view == MAP_FAILED) {
		mmt_fail(v, "mmap of the file: %s", strerror(errno));
		return;
	}
	if (!mmt_all_bytes(view, r->size, OLD))
		mmt_fail(v, "a write to the private mapping reached the file");
	munmap(view, r->size);
}

static void run_case(const struct kind *k, enum pin_way how)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	struct region r = { .fd = -1 };
	int err, ring = -1;
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", k->name, how_name[how]);
	if (how != URING && gup_fd < 0)
		mmt_skip(&v, "%s: %s", GUP_TEST_PATH, strerror(gup_errno));
	else
		k->setup(&r, &v);
	if (!mmt_ok(&v))
		goto out;
	err = pin(&r, how, &ring);
	if (err < 0) {
		mmt_skip(&v, "io_uring_setup: %s", strerror(-err));
	} else if (k->refused) {
		if (err != EFAULT)
			mmt_fail(&v, "%s, expected EFAULT",
				 err ? strerror(err) : "the pin succeeded");
	} else if (err) {
		mmt_fail(&v, "the pin failed: %s", strerror(err));
	} else {
		/* The process writes; for a private file, to its copy. */
		memset(r.mem, NEW, r.size);
		if (k->private)
			file_unchanged(&r, &v);
	}
	unpin(how, ring);
out:
	if (r.mem)
		munmap(r.mem, r.size);
	if (r.fd >= 0)
		close(r.fd);
	mmt_report(name, v.res, NULL, "%s", v.why);
}

int main(void)
{
	size_t k;
	int how;

	ksft_print_header();
	gup_fd = gup_test_open();
	gup_errno = errno;
	mmt_plan(3 * ARRAY_SIZE(kinds));
	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (how = SLOW; how <= URING; how++)
			run_case(&kinds[k], how);
	zram_remove();
	if (gup_fd >= 0)
		close(gup_fd);
	return mmt_exit();
}
