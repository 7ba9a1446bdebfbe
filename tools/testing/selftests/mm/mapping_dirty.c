// SPDX-License-Identifier: GPL-2.0
/*
 * The shared-mapping dirty helpers, wp_shared_mapping_range() and
 * clean_record_shared_mapping_range(), driven through the test driver
 * /dev/test_mapping_dirty on memfds mapped shared: recorded bits, counts
 * and ranges on base pages and on shmem THPs (which must stay mapped by
 * their PMD), several processes mapping one file, pages swapped out
 * meanwhile, writers running during the walk, and every malformed request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "../../../../lib/test_mapping_dirty_uapi.h"
#include "mm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define DEV_PATH	"/dev/test_mapping_dirty"
#define SHMEM_THP_KNOB	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define WORD_BITS	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int dev_fd = -1;
static size_t thp_size;		/* 0: no shmem THP in this kernel */
static char msg[256];		/* why the current case failed or skipped */

/* Set the failure text and return MMT_FAIL. */
static enum mmt_result fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return MMT_FAIL;
}

static enum mmt_result skip(const char *why)
{
	snprintf(msg, sizeof(msg), "%s", why);
	return MMT_SKIP;
}

/* A memfd of @size bytes, mapped shared; THP-aligned and advised if @thp. */
struct file_map {
	int fd;
	char *mem;
	size_t size;
};

static void unmap_file(struct file_map *m)
{
	munmap(m->mem, m->size);
	close(m->fd);
}

/* The memfd mapped over [@at, @at + @size), which the caller reserved. */
static bool map_file_at(struct file_map *m, size_t size, char *at)
{
	m->size = size;
	m->mem = at;
	m->fd = memfd_create("mapping_dirty", 0);
	if (m->fd < 0)
		return false;
	if (ftruncate(m->fd, size) ||
	    mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 m->fd, 0) == MAP_FAILED) {
		close(m->fd);
		m->fd = -1;
		return false;
	}
	return true;
}

static bool map_file(struct file_map *m, size_t size, bool thp)
{
	char *at = mmap_aligned(size, thp ? thp_size : pagesize);

	if (!at)
		return false;
	if (!map_file_at(m, size, at)) {
		munmap(at, size);
		return false;
	}
	if (thp && madvise(m->mem, size, MADV_HUGEPAGE)) {
		unmap_file(m);
		return false;
	}
	return true;
}

static size_t npages(const struct file_map *m)
{
	return m->size / pagesize;
}

static char *page_at(const struct file_map *m, size_t i)
{
	return m->mem + i * pagesize;
}

/* Whether the page at @addr is mapped, by /proc/self/pagemap; -1 on error */
static int page_present(const void *addr)
{
	uint64_t ent;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &ent, sizeof(ent),
		  (uintptr_t)addr / pagesize * sizeof(ent));
	close(fd);
	if (n != sizeof(ent))
		return -1;
	return !!(ent & (1ULL << 63));
}

/* A bitmap as the driver takes it, with its set-bit range. */
struct bitmap {
	uint64_t *words;
	size_t bits;
	uint64_t start, end;
};

static void bitmap_init(struct bitmap *b, size_t bits)
{
	b->bits = bits;
	b->words = calloc((bits + WORD_BITS - 1) / WORD_BITS, 8);
	if (!b->words)
		ksft_exit_fail_msg("out of memory\n");
	b->start = 0;
	b->end = 0;
}

static void bitmap_reset(struct bitmap *b)
{
	memset(b->words, 0, (b->bits + WORD_BITS - 1) / WORD_BITS * 8);
	b->start = 0;
	b->end = 0;
}

static bool bit(const struct bitmap *b, size_t i)
{
	return b->words[i / WORD_BITS] >> (i % WORD_BITS) & 1;
}

/* MAPPING_DIRTY_CLEAN of pages [first, first + nr); 0 or an errno */
static int clean(const struct file_map *m, size_t first, size_t nr,
		 size_t bitmap_pgoff, struct bitmap *b, uint64_t *total)
{
	struct mapping_dirty_cmd cmd = {
		.fd = m->fd,
		.offset = first * pagesize,
		.length = nr * pagesize,
		.bitmap_pgoff = bitmap_pgoff,
		.bitmap = (uintptr_t)b->words,
		.bitmap_bits = b->bits,
		.start = b->start,
		.end = b->end,
	};

	if (ioctl(dev_fd, MAPPING_DIRTY_CLEAN, &cmd))
		return errno;
	b->start = cmd.start;
	b->end = cmd.end;
	*total = cmd.total;
	return 0;
}

static int clean_all(const struct file_map *m, struct bitmap *b,
		     uint64_t *total)
{
	return clean(m, 0, npages(m), 0, b, total);
}

static int wp(const struct file_map *m, size_t first, size_t nr,
	      uint64_t *total)
{
	struct mapping_dirty_cmd cmd = {
		.fd = m->fd,
		.offset = first * pagesize,
		.length = nr * pagesize,
	};

	if (ioctl(dev_fd, MAPPING_DIRTY_WP, &cmd))
		return errno;
	*total = cmd.total;
	return 0;
}

/* Bits [0, b->bits) are set exactly for the pages @want says. */
static const char *bits_are(const struct bitmap *b, bool (*want)(size_t))
{
	static char buf[96];
	size_t i;

	for (i = 0; i < b->bits; i++) {
		if (bit(b, i) != want(i)) {
			snprintf(buf, sizeof(buf), "bit %zu is %d, expected %d",
				 i, bit(b, i), want(i));
			return buf;
		}
	}
	return NULL;
}

/* ---- malformed requests ---------------------------------------------- */

static struct file_map emap;	/* 16 pages, for the errno cases */

static enum mmt_result expect_errno(unsigned long req,
				    struct mapping_dirty_cmd *cmd, int err)
{
	int ret = ioctl(dev_fd, req, cmd);

	if (!ret)
		return fail("succeeded, expected %s", strerror(err));
	if (errno != err)
		return fail("got %s, expected %s", strerror(errno),
			    strerror(err));
	return MMT_PASS;
}

static uint64_t ebits[1];

/* A good CLEAN request on emap, for the cases to spoil one field of. */
static struct mapping_dirty_cmd good_clean(void)
{
	struct mapping_dirty_cmd cmd = {
		.fd = emap.fd,
		.offset = 0,
		.length = 16 * pagesize,
		.bitmap = (uintptr_t)ebits,
		.bitmap_bits = 64,
	};

	return cmd;
}

static enum mmt_result t_good_request(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	if (ioctl(dev_fd, MAPPING_DIRTY_CLEAN, &cmd))
		return fail("CLEAN: %s", strerror(errno));
	cmd = (struct mapping_dirty_cmd){ .fd = emap.fd,
					  .length = 16 * pagesize };
	if (ioctl(dev_fd, MAPPING_DIRTY_WP, &cmd))
		return fail("WP: %s", strerror(errno));
	return MMT_PASS;
}

static enum mmt_result t_bad_fd(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.fd = 1000;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EBADF);
}

static enum mmt_result t_fd_too_large(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.fd = 1ULL << 32;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EBADF);
}

static enum mmt_result t_not_shmem(void)
{
	struct mapping_dirty_cmd cmd = good_clean();
	enum mmt_result res;
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return fail("open /dev/null: %s", strerror(errno));
	cmd.fd = fd;
	res = expect_errno(MAPPING_DIRTY_WP, &(struct mapping_dirty_cmd){
				   .fd = fd, .length = pagesize }, ENODEV);
	if (res == MMT_PASS)
		res = expect_errno(MAPPING_DIRTY_CLEAN, &cmd, ENODEV);
	close(fd);
	return res;
}

static enum mmt_result t_hugetlb_memfd(void)
{
	struct mapping_dirty_cmd cmd = { .length = 2UL << 20 };
	enum mmt_result res;
	int fd = memfd_create("mapping_dirty_huge", MFD_HUGETLB);

	if (fd < 0)
		return skip("no hugetlb memfd");
	if (ftruncate(fd, 2UL << 20)) {
		close(fd);
		return skip("no free 2 MiB hugetlb page");
	}
	cmd.fd = fd;
	res = expect_errno(MAPPING_DIRTY_WP, &cmd, ENODEV);
	close(fd);
	return res;
}

static enum mmt_result t_unaligned_offset(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.offset = 100;
	cmd.length = pagesize;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EINVAL);
}

static enum mmt_result t_unaligned_length(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.length = pagesize + 1;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EINVAL);
}

static enum mmt_result t_empty_range(void)
{
	struct mapping_dirty_cmd cmd = { .fd = emap.fd };

	return expect_errno(MAPPING_DIRTY_WP, &cmd, EINVAL);
}

static enum mmt_result t_past_end(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.offset = 8 * pagesize;
	cmd.length = 16 * pagesize;
	cmd.bitmap_bits = 64;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, ERANGE);
}

static enum mmt_result t_range_wraps(void)
{
	struct mapping_dirty_cmd cmd = { .fd = emap.fd, .offset = pagesize,
					 .length = -pagesize };

	return expect_errno(MAPPING_DIRTY_WP, &cmd, ERANGE);
}

static enum mmt_result t_bitmap_too_small(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.bitmap_bits = 15;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, ENOSPC);
}

static enum mmt_result t_bitmap_too_large(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.bitmap_bits = MAPPING_DIRTY_MAX_BITS + 1;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, E2BIG);
}

static enum mmt_result t_bitmap_pgoff_past_first(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.bitmap_pgoff = 1;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EINVAL);
}

static enum mmt_result t_set_range_past_bitmap(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.start = 0;
	cmd.end = 65;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EINVAL);
}

static enum mmt_result t_wp_with_bitmap(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	return expect_errno(MAPPING_DIRTY_WP, &cmd, EINVAL);
}

static enum mmt_result t_reserved_set(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.reserved = 1;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EINVAL);
}

static enum mmt_result t_bad_bitmap_pointer(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	cmd.bitmap = 8;
	return expect_errno(MAPPING_DIRTY_CLEAN, &cmd, EFAULT);
}

static enum mmt_result t_bad_cmd_pointer(void)
{
	return expect_errno(MAPPING_DIRTY_CLEAN,
			    (struct mapping_dirty_cmd *)8, EFAULT);
}

static enum mmt_result t_unknown_ioctl(void)
{
	struct mapping_dirty_cmd cmd = good_clean();

	return expect_errno(_IOWR(0xB8, 0x7f, struct mapping_dirty_cmd),
			    &cmd, ENOTTY);
}

/* ---- base pages ------------------------------------------------------ */

#define BASE_PAGES	64

static bool want_sparse(size_t i)
{
	return i == 0 || i == 5 || i == 6 || i == 40 || i == 63;
}

static void write_pages(const struct file_map *m, bool (*which)(size_t),
			char val)
{
	size_t i;

	for (i = 0; i < npages(m); i++)
		if (which(i))
			*page_at(m, i) = val;
}

static void read_all(const struct file_map *m)
{
	size_t i;

	for (i = 0; i < npages(m); i++)
		(void)__atomic_load_n(page_at(m, i), __ATOMIC_RELAXED);
}

static bool want_all(size_t i)
{
	return true;
}

static bool want_none(size_t i)
{
	return false;
}

/* Dirty pages are recorded with their count and range; then nothing. */
static enum mmt_result t_base_clean_records_dirty(void)
{
	struct file_map m;
	struct bitmap b;
	const char *err;
	uint64_t total;
	int ret;

	if (!map_file(&m, BASE_PAGES * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, BASE_PAGES);
	read_all(&m);
	write_pages(&m, want_sparse, 1);

	ret = clean_all(&m, &b, &total);
	if (ret)
		return fail("CLEAN: %s", strerror(ret));
	if (total != 5)
		return fail("count %lu, expected 5", (unsigned long)total);
	err = bits_are(&b, want_sparse);
	if (err)
		return fail("%s", err);
	if (b.start != 0 || b.end != 64)
		return fail("range [%lu, %lu), expected [0, 64)",
			    (unsigned long)b.start,
			    (unsigned long)b.end);

	ret = clean_all(&m, &b, &total);
	if (ret || total != 0)
		return fail("second CLEAN: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

static bool want_16_31_sparse(size_t i)
{
	return i == 16 || i == 20 || i == 31;
}

/* A range in the middle, bits counted from bitmap_pgoff 8. */
static enum mmt_result t_base_clean_partial_range(void)
{
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	size_t i;
	int ret;

	if (!map_file(&m, BASE_PAGES * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, 32);
	write_pages(&m, want_16_31_sparse, 1);
	write_pages(&m, want_sparse, 1);

	ret = clean(&m, 16, 16, 8, &b, &total);
	if (ret)
		return fail("CLEAN: %s", strerror(ret));
	if (total != 3)
		return fail("count %lu, expected 3", (unsigned long)total);
	for (i = 0; i < 32; i++)
		if (bit(&b, i) != want_16_31_sparse(i + 8))
			return fail("bit %zu", i);
	if (b.start != 8 || b.end != 24)
		return fail("range [%lu, %lu), expected [8, 24)",
			    (unsigned long)b.start,
			    (unsigned long)b.end);

	/* The five pages outside the range are still dirty. */
	free(b.words);
	bitmap_init(&b, BASE_PAGES);
	ret = clean_all(&m, &b, &total);
	if (ret || total != 5)
		return fail("full CLEAN: %s, count %lu, expected 5",
			    strerror(ret),
			    (unsigned long)total);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/*
 * 16 pages placed across a page-table boundary (a multiple of 4 MiB ends
 * a page table on every configuration: 2 MiB or 4 MiB of PTEs): one call
 * cleans dirty PTEs in two page tables, whose bits, count and bit range
 * must come out as one.
 */
#define SPLIT_PAGES	16
#define SPLIT_SPAN	(4UL << 20)

static bool want_split(size_t i)
{
	return i == 2 || i == 7 || i == 8 || i == 13;
}

static enum mmt_result t_base_clean_two_tables(void)
{
	size_t size = SPLIT_PAGES * pagesize;
	enum mmt_result res = MMT_PASS;
	struct file_map m;
	struct bitmap b;
	const char *err;
	uint64_t total;
	char *area;
	int ret;

	area = mmap_aligned(2 * SPLIT_SPAN, SPLIT_SPAN);
	if (!area)
		return fail("mmap: %s", strerror(errno));
	/* Pages 0-7 in one page table, 8-15 in the next. */
	if (!map_file_at(&m, size, area + SPLIT_SPAN - size / 2)) {
		res = fail("memfd: %s", strerror(errno));
		goto out;
	}
	bitmap_init(&b, SPLIT_PAGES);
	read_all(&m);
	write_pages(&m, want_split, 1);

	ret = clean_all(&m, &b, &total);
	err = ret ? NULL : bits_are(&b, want_split);
	if (ret)
		res = fail("CLEAN: %s", strerror(ret));
	else if (total != 4)
		res = fail("count %lu, expected 4", (unsigned long)total);
	else if (err)
		res = fail("%s", err);
	else if (b.start != 2 || b.end != 14)
		res = fail("range [%lu, %lu), expected [2, 14)",
			   (unsigned long)b.start, (unsigned long)b.end);
	if (res == MMT_PASS) {
		ret = clean_all(&m, &b, &total);
		if (ret || total)
			res = fail("second CLEAN: %s, count %lu",
				   strerror(ret), (unsigned long)total);
	}
	free(b.words);
out:
	if (m.fd >= 0)
		close(m.fd);
	munmap(area, 2 * SPLIT_SPAN);
	return res;
}

/* Write protection holds until a write faults it away, page by page. */
static enum mmt_result t_base_wp_then_write(void)
{
	struct file_map m;
	uint64_t total;
	int ret;

	if (!map_file(&m, BASE_PAGES * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	write_pages(&m, want_all, 3);
	ret = wp(&m, 0, BASE_PAGES, &total);
	if (ret || total != BASE_PAGES)
		return fail("WP: %s, count %lu, expected %d", strerror(ret),
			    (unsigned long)total, BASE_PAGES);
	ret = wp(&m, 0, BASE_PAGES, &total);
	if (ret || total != 0)
		return fail("second WP: %s, count %lu", strerror(ret),
			    (unsigned long)total);

	*page_at(&m, 7) = 4;
	ret = wp(&m, 0, BASE_PAGES, &total);
	if (ret || total != 1)
		return fail("WP after a write: %s, count %lu, expected 1",
			    strerror(ret),
			    (unsigned long)total);
	if (*page_at(&m, 7) != 4 || *page_at(&m, 8) != 3)
		return fail("data changed");
	unmap_file(&m);
	return MMT_PASS;
}

/*
 * Three processes map the file, each with its own mapping: one clean
 * records the writes of all and cleans every mapping.
 */
static enum mmt_result t_base_several_processes(void)
{
	int to_child[2], from_child[2];
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	pid_t pids[2];
	size_t i;
	char c;
	int ret, n, status;

	if (!map_file(&m, BASE_PAGES * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, BASE_PAGES);
	if (pipe(to_child) || pipe(from_child))
		return fail("pipe: %s", strerror(errno));

	for (n = 0; n < 2; n++) {
		pids[n] = fork();
		if (pids[n] < 0)
			return fail("fork: %s", strerror(errno));
		if (pids[n] == 0) {
			char *p = mmap(NULL, m.size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, m.fd, 0);

			if (p == MAP_FAILED)
				_exit(1);
			/* Child n writes pages 10n..10n+4, and page 50. */
			for (i = 0; i < 5; i++)
				p[(10 * n + i) * pagesize] = 1;
			p[50 * pagesize] = 1;
			if (write(from_child[1], "w", 1) != 1 ||
			    read(to_child[0], &c, 1) != 1)
				_exit(1);
			_exit(0);
		}
	}
	/* The parent writes page 60 through its own mapping. */
	*page_at(&m, 60) = 1;
	for (n = 0; n < 2; n++)
		if (read(from_child[0], &c, 1) != 1)
			return fail("child %d died", n);

	ret = clean_all(&m, &b, &total);
	/* 10 pages of the children, page 50 in both, page 60. */
	if (ret || total != 13)
		return fail("CLEAN: %s, count %lu, expected 13", strerror(ret),
			    (unsigned long)total);
	for (i = 0; i < BASE_PAGES; i++) {
		bool want = i < 5 || (i >= 10 && i < 15) || i == 50 || i == 60;

		if (bit(&b, i) != want)
			return fail("bit %zu is %d", i, bit(&b, i));
	}
	ret = clean_all(&m, &b, &total);
	if (ret || total != 0)
		return fail("second CLEAN: %s, count %lu", strerror(ret),
			    (unsigned long)total);

	for (n = 0; n < 2; n++)
		if (write(to_child[1], "g", 1) != 1)
			return fail("pipe");
	for (n = 0; n < 2; n++) {
		if (waitpid(pids[n], &status, 0) != pids[n] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			return fail("child %d failed", n);
	}
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/*
 * A private mapping of the file that comes first in the file's mappings is
 * skipped, and the shared mapping after it is still walked.
 */
static enum mmt_result t_base_private_mapping_first(void)
{
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	char *priv;
	int ret;

	if (!map_file(&m, BASE_PAGES * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, BASE_PAGES);
	/* The shared mapping starts at page 0; move it to start at page 8. */
	munmap(m.mem, m.size);
	m.size = (BASE_PAGES - 8) * pagesize;
	m.mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd,
		     8 * pagesize);
	priv = mmap(NULL, BASE_PAGES * pagesize, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE, m.fd, 0);
	if (m.mem == MAP_FAILED || priv == MAP_FAILED)
		return fail("mmap: %s", strerror(errno));
	priv[0] = 1;		/* a private copy, not the file's page */
	m.mem[2 * pagesize] = 1;	/* file page 10 */

	ret = clean(&m, 0, BASE_PAGES, 0, &b, &total);
	if (ret || total != 1)
		return fail("CLEAN: %s, count %lu, expected 1", strerror(ret),
			    (unsigned long)total);
	if (!bit(&b, 10) || b.start != 10 || b.end != 11)
		return fail("page 10 is not recorded alone: range [%lu, %lu)",
			    (unsigned long)b.start, (unsigned long)b.end);
	munmap(priv, BASE_PAGES * pagesize);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/* Page out page @i of @m; 1 if it is no longer mapped, 0 if it is. */
static int page_out(const struct file_map *m, size_t i)
{
	if (madvise(page_at(m, i), pagesize, MADV_PAGEOUT))
		return -1;
	return !page_present(page_at(m, i));
}

/* A page swapped out in the range is left alone; the rest is recorded. */
static enum mmt_result t_base_swapped_out_page(void)
{
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	size_t i;
	int ret;

	if (!map_file(&m, 16 * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, 16);
	for (i = 0; i < 16; i++)
		*page_at(&m, i) = (char)(i + 1);
	if (page_out(&m, 3) != 1) {
		unmap_file(&m);
		free(b.words);
		return skip("MADV_PAGEOUT left the page mapped");
	}

	ret = clean_all(&m, &b, &total);
	if (ret || total != 15)
		return fail("CLEAN: %s, count %lu, expected 15", strerror(ret),
			    (unsigned long)total);
	for (i = 0; i < 16; i++) {
		bool want = i != 3;

		if (bit(&b, i) != want)
			return fail("bit %zu is %d", i, bit(&b, i));
	}
	for (i = 0; i < 16; i++)
		if (*page_at(&m, i) != (char)(i + 1))
			return fail("page %zu lost its data", i);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/*
 * A page mapped by a read fault and then written has only a dirty PTE.
 * Once that is cleaned and recorded, the page must still be written to
 * swap, not dropped, when it is paged out.
 */
static enum mmt_result t_base_clean_then_page_out(void)
{
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	int ret, out;

	if (!map_file(&m, 4 * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	bitmap_init(&b, 4);
	read_all(&m);
	memset(page_at(&m, 1), 0x5a, pagesize);

	ret = clean_all(&m, &b, &total);
	if (ret || total != 1)
		return fail("CLEAN: %s, count %lu, expected 1", strerror(ret),
			    (unsigned long)total);
	out = page_out(&m, 1);
	if (out != 1) {
		unmap_file(&m);
		free(b.words);
		return skip("MADV_PAGEOUT left the page mapped");
	}
	if (*page_at(&m, 1) != 0x5a || page_at(&m, 1)[pagesize - 1] != 0x5a)
		return fail("the write is lost: page reads back %#x",
			    (unsigned char)*page_at(&m, 1));
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/* ---- writers running during the walk ---------------------------------- */

#define ROUNDS		100
#define WRITERS		2

struct race {
	const struct file_map *m;
	pthread_barrier_t bar;
	int stop;
	unsigned char *s1, *s2;	/* pages written before / during the walk */
	bool failed;
};

struct writer_arg {
	struct race *r;
	size_t id;
};

static void *writer(void *arg)
{
	struct writer_arg *wa = arg;
	struct race *r = wa->r;
	size_t n = npages(r->m), p, round;
	unsigned int seed = 1 + wa->id;

	for (round = 0; round < ROUNDS; round++) {
		/* Before the walk: about a quarter of this writer's pages. */
		for (p = wa->id; p < n; p += WRITERS) {
			if (rand_r(&seed) % 4 == 0) {
				__atomic_store_n(page_at(r->m, p), (char)round,
						 __ATOMIC_RELAXED);
				r->s1[p] = 1;
			}
		}
		pthread_barrier_wait(&r->bar);
		/* During the walk: keep writing until it has returned. */
		while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
			p = (rand_r(&seed) % (n / WRITERS)) * WRITERS + wa->id;
			__atomic_store_n(page_at(r->m, p), (char)round,
					 __ATOMIC_RELAXED);
			r->s2[p] = 1;
		}
		pthread_barrier_wait(&r->bar);
		/* The main thread checks the round. */
		pthread_barrier_wait(&r->bar);
	}
	return NULL;
}

/*
 * Each round: writers dirty pages (S1), then keep writing (S2) while one
 * CLEAN runs; after they stopped, a second CLEAN.  Every page of S1 must be
 * in the first bitmap, every page of S2 in one of the two, and nothing
 * else in either (at @unit granularity: a huge entry records all its pages).
 */
static enum mmt_result race_rounds(const struct file_map *m, size_t unit)
{
	struct writer_arg args[WRITERS];
	size_t n = npages(m), p, q, round;
	pthread_t th[WRITERS];
	struct bitmap b1, b2;
	struct race r = { .m = m };
	const char *err = NULL;
	static char buf[128];
	uint64_t total;
	int ret;
	size_t i;

	bitmap_init(&b1, n);
	bitmap_init(&b2, n);
	r.s1 = calloc(n, 1);
	r.s2 = calloc(n, 1);
	if (!r.s1 || !r.s2)
		return fail("out of memory");
	pthread_barrier_init(&r.bar, NULL, WRITERS + 1);
	/* Start from clean entries. */
	read_all(m);
	ret = clean_all(m, &b1, &total);
	if (ret)
		return fail("CLEAN: %s", strerror(ret));

	for (i = 0; i < WRITERS; i++) {
		args[i].r = &r;
		args[i].id = i;
		if (pthread_create(&th[i], NULL, writer, &args[i]))
			return fail("pthread_create failed");
	}

	for (round = 0; round < ROUNDS; round++) {
		bitmap_reset(&b1);
		bitmap_reset(&b2);
		__atomic_store_n(&r.stop, 0, __ATOMIC_RELEASE);
		pthread_barrier_wait(&r.bar);
		ret = clean_all(m, &b1, &total);
		__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&r.bar);
		if (!ret)
			ret = clean_all(m, &b2, &total);
		if (ret && !err) {
			snprintf(buf, sizeof(buf), "round %zu: CLEAN: %s", round,
				 strerror(ret));
			err = buf;
		}
		for (p = 0; p < n && !err; p++) {
			const char *what = NULL;
			bool any = false;

			for (q = p / unit * unit; q < (p / unit + 1) * unit; q++)
				any |= r.s1[q] || r.s2[q];
			if (r.s1[p] && !bit(&b1, p))
				what = "dirty before the call, is not recorded";
			else if (r.s2[p] && !bit(&b1, p) && !bit(&b2, p))
				what = "written during the call, is lost";
			else if (!any && (bit(&b1, p) || bit(&b2, p)))
				what = "is recorded but was not written";
			if (what) {
				snprintf(buf, sizeof(buf), "round %zu: page %zu %s",
					 round, p, what);
				err = buf;
			}
		}
		memset(r.s1, 0, n);
		memset(r.s2, 0, n);
		pthread_barrier_wait(&r.bar);
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.bar);
	free(r.s1);
	free(r.s2);
	free(b1.words);
	free(b2.words);
	if (err)
		return fail("%s", err);
	return MMT_PASS;
}

static enum mmt_result t_base_concurrent_writers(void)
{
	enum mmt_result res;
	struct file_map m;

	if (!map_file(&m, 256 * pagesize, false))
		return fail("memfd: %s", strerror(errno));
	res = race_rounds(&m, 1);
	unmap_file(&m);
	return res;
}

/* ---- shmem THPs ------------------------------------------------------ */

#define THPS	2

/* Whether all of @m is mapped by shmem THP PMDs. */
static bool pmd_mapped(const struct file_map *m)
{
	long kb = smaps_kb(m->mem, "ShmemPmdMapped");

	return kb == (long)(THPS * thp_size / 1024);
}

/* Map THPS shmem THPs and write to each; skip if they are not PMD-mapped. */
static enum mmt_result map_thps(struct file_map *m)
{
	size_t i;

	if (!thp_size)
		return skip("no shmem THP");
	if (!map_file(m, THPS * thp_size, true))
		return fail("memfd: %s", strerror(errno));
	for (i = 0; i < THPS; i++)
		m->mem[i * thp_size + 100 * pagesize] = 1;
	if (!pmd_mapped(m)) {
		unmap_file(m);
		return skip("the shmem THPs are not mapped by PMDs");
	}
	return MMT_PASS;
}

/* A dirty THP is recorded whole and cleaned, and stays PMD-mapped. */
static enum mmt_result t_thp_clean_records_all(void)
{
	enum mmt_result res;
	struct file_map m;
	struct bitmap b;
	const char *err;
	uint64_t total;
	int ret;

	res = map_thps(&m);
	if (res != MMT_PASS)
		return res;
	bitmap_init(&b, npages(&m));

	ret = clean_all(&m, &b, &total);
	if (ret)
		return fail("CLEAN: %s", strerror(ret));
	if (total != npages(&m))
		return fail("count %lu, expected %zu", (unsigned long)total,
			    npages(&m));
	err = bits_are(&b, want_all);
	if (err)
		return fail("%s", err);
	if (b.start != 0 || b.end != npages(&m))
		return fail("range [%lu, %lu)", (unsigned long)b.start,
			    (unsigned long)b.end);
	if (!pmd_mapped(&m))
		return fail("the THPs were split: ShmemPmdMapped %ld kB",
			    smaps_kb(m.mem, "ShmemPmdMapped"));

	bitmap_reset(&b);
	ret = clean_all(&m, &b, &total);
	if (ret || total != 0)
		return fail("second CLEAN: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	err = bits_are(&b, want_none);
	if (err)
		return fail("second CLEAN: %s", err);

	/* A new write dirties the PMD again: only its THP is recorded. */
	m.mem[thp_size + 5] = 2;
	ret = clean_all(&m, &b, &total);
	if (ret || total != thp_size / pagesize)
		return fail("CLEAN after a write: %s, count %lu",
			    strerror(ret),
			    (unsigned long)total);
	if (bit(&b, 0) || !bit(&b, thp_size / pagesize))
		return fail("the wrong THP was recorded");
	if (!pmd_mapped(&m))
		return fail("the THPs were split");
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/*
 * A range that covers half a THP records that half, and leaves the PMD
 * dirty: its other half can only be recorded by a call that covers it.
 */
static enum mmt_result t_thp_partial_range(void)
{
	size_t half = thp_size / pagesize / 2, i;
	enum mmt_result res;
	struct file_map m;
	struct bitmap b;
	uint64_t total;
	int ret;

	res = map_thps(&m);
	if (res != MMT_PASS)
		return res;
	bitmap_init(&b, npages(&m));

	ret = clean(&m, 0, half, 0, &b, &total);
	if (ret || total != half)
		return fail("CLEAN of half: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	for (i = 0; i < npages(&m); i++) {
		bool want = i < half;

		if (bit(&b, i) != want)
			return fail("bit %zu is %d", i, bit(&b, i));
	}
	if (!pmd_mapped(&m))
		return fail("the THPs were split");

	bitmap_reset(&b);
	ret = clean_all(&m, &b, &total);
	if (ret || total != npages(&m))
		return fail("full CLEAN: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	ret = clean_all(&m, &b, &total);
	if (ret || total != 0)
		return fail("second full CLEAN: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	unmap_file(&m);
	free(b.words);
	return MMT_PASS;
}

/* A THP is write-protected in place; the next write still works. */
static enum mmt_result t_thp_wp(void)
{
	enum mmt_result res;
	struct file_map m;
	uint64_t total;
	int ret;

	res = map_thps(&m);
	if (res != MMT_PASS)
		return res;

	ret = wp(&m, 0, npages(&m), &total);
	if (ret || total != npages(&m))
		return fail("WP: %s, count %lu, expected %zu", strerror(ret),
			    (unsigned long)total, npages(&m));
	if (!pmd_mapped(&m))
		return fail("the THPs were split");
	ret = wp(&m, 0, npages(&m), &total);
	if (ret || total != 0)
		return fail("second WP: %s, count %lu", strerror(ret),
			    (unsigned long)total);

	/* shmem has no huge fault handler: the write falls back to a PTE. */
	m.mem[200 * pagesize] = 9;
	if (m.mem[200 * pagesize] != 9 || m.mem[100 * pagesize] != 1)
		return fail("data changed");
	ret = wp(&m, 0, npages(&m), &total);
	if (ret || total < 1)
		return fail("WP after a write: %s, count %lu", strerror(ret),
			    (unsigned long)total);
	unmap_file(&m);
	return MMT_PASS;
}

static enum mmt_result t_thp_concurrent_writers(void)
{
	enum mmt_result res;
	struct file_map m;

	res = map_thps(&m);
	if (res != MMT_PASS)
		return res;
	res = race_rounds(&m, thp_size / pagesize);
	if (res == MMT_PASS && !pmd_mapped(&m))
		res = fail("the THPs were split");
	unmap_file(&m);
	return res;
}

/* ---- main -------------------------------------------------------------- */

static const struct {
	const char *name;
	enum mmt_result (*fn)(void);
} cases[] = {
	{ "good_request", t_good_request },
	{ "bad_fd_ebadf", t_bad_fd },
	{ "fd_too_large_ebadf", t_fd_too_large },
	{ "not_shmem_enodev", t_not_shmem },
	{ "hugetlb_memfd_enodev", t_hugetlb_memfd },
	{ "unaligned_offset_einval", t_unaligned_offset },
	{ "unaligned_length_einval", t_unaligned_length },
	{ "empty_range_einval", t_empty_range },
	{ "past_end_erange", t_past_end },
	{ "range_wraps_erange", t_range_wraps },
	{ "bitmap_too_small_enospc", t_bitmap_too_small },
	{ "bitmap_too_large_e2big", t_bitmap_too_large },
	{ "bitmap_pgoff_past_first_einval", t_bitmap_pgoff_past_first },
	{ "set_range_past_bitmap_einval", t_set_range_past_bitmap },
	{ "wp_with_bitmap_einval", t_wp_with_bitmap },
	{ "reserved_set_einval", t_reserved_set },
	{ "bad_bitmap_pointer_efault", t_bad_bitmap_pointer },
	{ "bad_cmd_pointer_efault", t_bad_cmd_pointer },
	{ "unknown_ioctl_enotty", t_unknown_ioctl },
	{ "base.clean_records_dirty", t_base_clean_records_dirty },
	{ "base.clean_partial_range", t_base_clean_partial_range },
	{ "base.clean_two_tables", t_base_clean_two_tables },
	{ "base.wp_then_write", t_base_wp_then_write },
	{ "base.several_processes", t_base_several_processes },
	{ "base.private_mapping_first", t_base_private_mapping_first },
	{ "base.swapped_out_page", t_base_swapped_out_page },
	{ "base.clean_then_page_out", t_base_clean_then_page_out },
	{ "base.concurrent_writers", t_base_concurrent_writers },
	{ "thp.clean_records_all", t_thp_clean_records_all },
	{ "thp.partial_range", t_thp_partial_range },
	{ "thp.wp", t_thp_wp },
	{ "thp.concurrent_writers", t_thp_concurrent_writers },
};

/* Let shmem THPs be used where madvise(MADV_HUGEPAGE) asks; old setting */
static char knob_old[64];

static void shmem_thp_setup(void)
{
	char buf[128], *sel, *end;
	FILE *f = fopen(SHMEM_THP_KNOB, "r");

	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return;
	}
	fclose(f);
	sel = strchr(buf, '[');
	end = sel ? strchr(sel, ']') : NULL;
	if (!end)
		return;
	*end = '\0';
	snprintf(knob_old, sizeof(knob_old), "%s", sel + 1);
	f = fopen(SHMEM_THP_KNOB, "w");
	if (!f)
		return;
	if (fputs("advise", f) >= 0 && !fclose(f))
		thp_size = thp_pmd_size();
}

static void shmem_thp_restore(void)
{
	FILE *f;

	if (!knob_old[0])
		return;
	f = fopen(SHMEM_THP_KNOB, "w");
	if (f) {
		fputs(knob_old, f);
		fclose(f);
	}
}

int main(void)
{
	enum mmt_result res;
	size_t i;

	ksft_print_header();
	mmt_plan(ARRAY_SIZE(cases));

	dev_fd = open(DEV_PATH, O_RDWR);
	if (dev_fd < 0) {
		for (i = 0; i < ARRAY_SIZE(cases); i++)
			mmt_report(cases[i].name, MMT_SKIP, NULL,
				   "no %s (CONFIG_TEST_MAPPING_DIRTY)", DEV_PATH);
		return mmt_exit();
	}
	if (!map_file(&emap, 16 * pagesize, false))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	shmem_thp_setup();

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		msg[0] = '\0';
		res = cases[i].fn();
		mmt_report(cases[i].name, res, NULL, "%s", msg);
	}

	shmem_thp_restore();
	unmap_file(&emap);
	close(dev_fd);
	return mmt_exit();
}
