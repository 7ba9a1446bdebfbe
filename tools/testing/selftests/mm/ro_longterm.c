// SPDX-License-Identifier: GPL-2.0
/*
 * Long-term read-only pins of pages a private mapping maps but the process
 * does not own: the zero page, the huge zero page and the page-cache pages
 * of private memfd (tmpfs) and hugetlbfs mappings.  The process writes
 * after pinning; that write gives it a page of its own, and a pin of the
 * old page would go on showing the old data.  So the pin must have taken
 * the process's own copy: PIN_LONGTERM_TEST_READ must return the write.
 * The file must not see the write either.
 *
 * Cases are <kind>.<pin>, the pin taken with pin_user_pages() (slow) or
 * pin_user_pages_fast() (fast).  Kinds:
 *   anon_untouched   private anonymous memory never touched: the pin
 *                    faults it in
 *   anon_read        private anonymous memory read first: the zero page
 *   anon_huge_zero   a PMD-aligned THP range read first: the huge zero page
 *   memfd_private    a memfd with data, mapped MAP_PRIVATE and read
 *   hugetlb_private  a hugetlb memfd with data, mapped MAP_PRIVATE, read
 *   tmpfs_thp_private  a file of a huge=always tmpfs, mapped MAP_PRIVATE
 *                    and read, so that a PMD maps its THP
 *   memfd_shared     control: a memfd mapped MAP_SHARED, where the pin must
 *                    keep the page-cache page and see the write through it
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
#include <sys/mount.h>
#include "../../../../mm/gup_test.h"
#include "mm_util.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#define HUGETLB_SIZE	(2UL << 20)

#define OLD	0x5a	/* the file's data */
#define NEW	0xa5	/* what the process writes after pinning */

/* The zero page and the huge zero page, as /proc/kpageflags has them. */
#define KPF_THP		22
#define KPF_ZERO_PAGE	24
#define KPF(bit)	(1ULL << (bit))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int gup_fd = -1;
static int gup_errno;	/* why gup_test could not be opened */

/* A mapping under test: where it is, and the file behind it if any. */
struct region {
	char *mem;
	size_t size;
	int fd;		/* -1 for anonymous memory */
	char old;	/* what the memory reads before the write */
	char *mnt;	/* a tmpfs mounted for the case, or NULL */
};

/* ---------------------------------------------------------------------- */
/* Set-ups */

static bool read_all(const char *p, size_t size, char old)
{
	size_t i;

	for (i = 0; i < size; i += pagesize)
		if (__atomic_load_n(&p[i], __ATOMIC_RELAXED) != old)
			return false;
	return true;
}

static void setup_anon(struct region *r, bool touch, struct mmt_verdict *v)
{
	r->size = 4 * pagesize;
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	r->old = 0;
	if (touch && !read_all(r->mem, r->size, 0))
		mmt_fail(v, "fresh anonymous memory is not zero");
}

static void setup_anon_untouched(struct region *r, struct mmt_verdict *v)
{
	setup_anon(r, false, v);
}

static void setup_anon_read(struct region *r, struct mmt_verdict *v)
{
	uint64_t pfn, flags;

	setup_anon(r, true, v);
	if (!mmt_ok(v))
		return;
	/* Without PFNs the zero page cannot be seen; it is mapped anyway. */
	if (page_flags_at(r->mem, &pfn, &flags) &&
	    !(flags & KPF(KPF_ZERO_PAGE)))
		mmt_skip(v, "a read did not map the zero page");
}

static void setup_anon_huge_zero(struct region *r, struct mmt_verdict *v)
{
	size_t size = thp_pmd_size();
	unsigned long use_zero;
	uint64_t pfn, flags;

	if (!size) {
		mmt_skip(v, "THP is not available");
		return;
	}
	if (!sysfs_read_ulong("/sys/kernel/mm/transparent_hugepage/use_zero_page",
			      &use_zero) || !use_zero) {
		mmt_skip(v, "the huge zero page is off");
		return;
	}
	r->mem = mmap_aligned(size, size);
	if (!r->mem) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	r->size = size;
	r->old = 0;
	if (madvise(r->mem, size, MADV_HUGEPAGE)) {
		mmt_skip(v, "MADV_HUGEPAGE: %s", strerror(errno));
		return;
	}
	if (!read_all(r->mem, size, 0)) {
		mmt_fail(v, "fresh anonymous memory is not zero");
		return;
	}
	if (!page_flags_at(r->mem, &pfn, &flags)) {
		mmt_skip(v, "PFNs and page flags need CAP_SYS_ADMIN");
		return;
	}
	if ((flags & (KPF(KPF_ZERO_PAGE) | KPF(KPF_THP))) !=
	    (KPF(KPF_ZERO_PAGE) | KPF(KPF_THP)))
		mmt_skip(v, "a read did not map the huge zero page");
}

/*
 * A set-up step failed: for a hugetlb memfd that means no huge page could
 * be had (a skip), for any other memfd it is a failure.
 */
static void memfd_step_failed(struct mmt_verdict *v, unsigned int mfd_flags,
			      const char *step)
{
	if (mfd_flags & MFD_HUGETLB)
		mmt_skip(v, "%s: no 2 MiB hugetlb page: %s", step,
			 strerror(errno));
	else
		mmt_fail(v, "%s: %s", step, strerror(errno));
}

/* A memfd of @size bytes of OLD, mapped with @shared or privately. */
static void setup_memfd(struct region *r, unsigned int mfd_flags,
			size_t size, bool shared, struct mmt_verdict *v)
{
	char *fill;

	r->fd = memfd_create("ro_longterm", mfd_flags);
	if (r->fd < 0) {
		memfd_step_failed(v, mfd_flags, "memfd_create");
		return;
	}
	if (ftruncate(r->fd, size)) {
		mmt_fail(v, "ftruncate: %s", strerror(errno));
		return;
	}
	/* hugetlbfs has no write(): fill the file through a shared map. */
	fill = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (fill == MAP_FAILED) {
		memfd_step_failed(v, mfd_flags, "mmap");
		return;
	}
	memset(fill, OLD, size);
	munmap(fill, size);
	r->size = size;
	r->old = OLD;
	r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      shared ? MAP_SHARED : MAP_PRIVATE, r->fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		memfd_step_failed(v, mfd_flags, "mmap");
		return;
	}
	if (!read_all(r->mem, size, OLD))
		mmt_fail(v, "the mapping does not show the file's data");
}

static void setup_memfd_private(struct region *r, struct mmt_verdict *v)
{
	setup_memfd(r, 0, 4 * pagesize, false, v);
}

static void setup_hugetlb_private(struct region *r, struct mmt_verdict *v)
{
	setup_memfd(r, MFD_HUGETLB, HUGETLB_SIZE, false, v);
}

static void setup_memfd_shared(struct region *r, struct mmt_verdict *v)
{
	setup_memfd(r, 0, 4 * pagesize, true, v);
}

static const char mnt_template[] = "/tmp/ro_longterm.XXXXXX";

/*
 * A THP of a tmpfs mounted with huge=always, mapped privately by a PMD:
 * unsharing it must go to the PTE level and copy there, not map the same
 * THP by a PMD again.
 */
static void setup_tmpfs_thp_private(struct region *r, struct mmt_verdict *v)
{
	size_t size = thp_pmd_size();
	char path[64], *buf, *area;

	if (!size) {
		mmt_skip(v, "THP is not available");
		return;
	}
	strcpy(path, mnt_template);
	if (!mkdtemp(path)) {
		mmt_fail(v, "mkdtemp: %s", strerror(errno));
		return;
	}
	r->mnt = strdup(path);
	if (!r->mnt || mount("tmpfs", r->mnt, "tmpfs", 0, "huge=always")) {
		mmt_skip(v, "cannot mount a huge=always tmpfs: %s",
			 strerror(errno));
		if (r->mnt)
			rmdir(r->mnt);
		free(r->mnt);
		r->mnt = NULL;
		return;
	}
	snprintf(path, sizeof(path), "%s/file", r->mnt);
	r->fd = open(path, O_RDWR | O_CREAT, 0600);
	buf = malloc(size);
	if (r->fd < 0 || !buf) {
		mmt_fail(v, "cannot create %s", path);
		free(buf);
		return;
	}
	memset(buf, OLD, size);
	if (pwrite(r->fd, buf, size, 0) != (ssize_t)size) {
		mmt_fail(v, "write: %s", strerror(errno));
		free(buf);
		return;
	}
	free(buf);
	/* A PMD-aligned address, so that the THP can be mapped whole. */
	area = mmap_aligned(size, size);
	if (!area) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return;
	}
	r->mem = mmap(area, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_FIXED, r->fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		munmap(area, size);
		mmt_fail(v, "mmap of the file: %s", strerror(errno));
		return;
	}
	r->size = size;
	r->old = OLD;
	if (!read_all(r->mem, size, OLD)) {
		mmt_fail(v, "the mapping does not show the file's data");
		return;
	}
	if (smaps_kb(r->mem, "ShmemPmdMapped") <= 0)
		mmt_skip(v, "the file's THP is not mapped by a PMD");
}

struct kind {
	const char *name;
	void (*setup)(struct region *r, struct mmt_verdict *v);
	bool shared;
};

static const struct kind kinds[] = {
	{ "anon_untouched", setup_anon_untouched, false },
	{ "anon_read", setup_anon_read, false },
	{ "anon_huge_zero", setup_anon_huge_zero, false },
	{ "memfd_private", setup_memfd_private, false },
	{ "hugetlb_private", setup_hugetlb_private, false },
	{ "tmpfs_thp_private", setup_tmpfs_thp_private, false },
	{ "memfd_shared", setup_memfd_shared, true },
};

/* ---------------------------------------------------------------------- */
/* The case */

/* What the pins show now, into @buf; false (and why) if they cannot. */
static bool pins_read(char *buf, struct mmt_verdict *v)
{
	uint64_t dst = (uintptr_t)buf;

	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst)) {
		mmt_fail(v, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Where the pinned pages differ from @want; -1 if they do not. */
static long first_page_not(const char *buf, size_t size, char want)
{
	size_t i;

	for (i = 0; i < size; i += pagesize)
		if (!mmt_all_bytes(buf + i, pagesize, want))
			return i / pagesize;
	return -1;
}

static void pin_and_write(struct region *r, bool fast, struct mmt_verdict *v)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)r->mem,
		.size = r->size,
		.flags = fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0,
	};
	char *buf = malloc(r->size);
	long page;

	if (!buf) {
		mmt_fail(v, "out of memory");
		return;
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		mmt_fail(v, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		goto out;
	}
	/* Before the write the pins show what the mapping shows. */
	if (!pins_read(buf, v))
		goto stop;
	page = first_page_not(buf, r->size, r->old);
	if (page >= 0) {
		mmt_fail(v, "before the write, pinned page %ld is not the mapped data",
			 page);
		goto stop;
	}
	memset(r->mem, NEW, r->size);
	if (!pins_read(buf, v))
		goto stop;
	page = first_page_not(buf, r->size, NEW);
	if (page >= 0)
		mmt_fail(v, "pinned page %ld does not show the process's write",
			 page);
stop:
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
out:
	free(buf);
}

/* A private mapping's write must not reach the file. */
static void file_unchanged(const struct kind *k, struct region *r,
			   struct mmt_verdict *v)
{
	char *view;

	if (r->fd < 0 || k->shared || !mmt_ok(v))
		return;
	view = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
	if (view == MAP_FAILED) {
		mmt_fail(v, "mmap of the file: %s", strerror(errno));
		return;
	}
	if (first_page_not(view, r->size, OLD) >= 0)
		mmt_fail(v, "the private write reached the file");
	munmap(view, r->size);
}

static void run_case(const struct kind *k, bool fast)
{
	struct mmt_verdict v = { .res = MMT_PASS };
	struct region r = { .fd = -1 };
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", k->name, fast ? "fast" : "slow");
	if (gup_fd < 0)
		mmt_skip(&v, "%s: %s", GUP_TEST_PATH, strerror(gup_errno));
	else
		k->setup(&r, &v);
	if (mmt_ok(&v))
		pin_and_write(&r, fast, &v);
	file_unchanged(k, &r, &v);
	if (r.mem)
		munmap(r.mem, r.size);
	if (r.fd >= 0)
		close(r.fd);
	if (r.mnt) {
		if (umount(r.mnt) || rmdir(r.mnt))
			mmt_fail(&v, "cannot remove the tmpfs at %s: %s",
				 r.mnt, strerror(errno));
		free(r.mnt);
	}
	mmt_report(name, v.res, NULL, "%s", v.why);
}

int main(void)
{
	size_t k;

	ksft_print_header();
	gup_fd = gup_test_open();
	gup_errno = errno;
	mmt_plan(2 * ARRAY_SIZE(kinds));
	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		run_case(&kinds[k], false);
		run_case(&kinds[k], true);
	}
	if (gup_fd >= 0)
		close(gup_fd);
	return mmt_exit();
}
