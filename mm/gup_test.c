// SPDX-License-Identifier: GPL-2.0
/*
 * gup_test: drive get_user_pages() and pin_user_pages() from user space.
 *
 * /sys/kernel/debug/gup_test accepts the ioctls of mm/gup_test.h:
 *
 * - the benchmark and basic-test ioctls take references on a user range in
 *   chunks, check them, optionally dump_page() some of them and drop them
 *   again, reporting how long each half took;
 * - the PIN_LONGTERM_TEST_* ioctls keep a range pinned with FOLL_LONGTERM
 *   across calls, so that a test can fork, write, swap or migrate while the
 *   pin is held and then compare the pinned pages with its mapping.
 *
 * Each open file has its own long-term pin set, released by
 * PIN_LONGTERM_TEST_STOP or when the file is closed.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>
#include <linux/ktime.h>
#include <linux/debugfs.h>
#include "gup_test.h"

/*
 * gup_test.gup_flags numbers the FOLL_* bits the way mainline does since
 * 6.2 (enum in include/linux/mm_types.h), because that is what its
 * selftests hard-code, not the way this kernel does.  The bits a test may
 * pass, and the flag each one becomes here:
 *
 * - 0x001, FOLL_WRITE in both;
 * - 0x002, mainline's FOLL_GET, which every get call sets anyway and a pin
 *   call must not have; mainline's gup_test program passes it as "touch",
 *   fault the pages in from the kernel, which is FOLL_TOUCH here (and was
 *   0x002 in gup_test's first ABI too);
 * - 0x008, FOLL_FORCE;
 * - 0x100, FOLL_LONGTERM, for the pin ioctls only.
 *
 * Any other bit is refused with -EINVAL.
 */
#define GUP_TEST_FOLL_WRITE	0x001
#define GUP_TEST_FOLL_TOUCH	0x002
#define GUP_TEST_FOLL_FORCE	0x008
#define GUP_TEST_FOLL_LONGTERM	0x100
#define GUP_TEST_FOLL_ALL	(GUP_TEST_FOLL_WRITE | GUP_TEST_FOLL_TOUCH | \
				 GUP_TEST_FOLL_FORCE | GUP_TEST_FOLL_LONGTERM)

#define PIN_LONGTERM_TEST_FLAGS	(PIN_LONGTERM_TEST_FLAG_USE_WRITE | \
				 PIN_LONGTERM_TEST_FLAG_USE_FAST)

/*
 * Every FOLL_PIN adds GUP_PIN_COUNTING_BIAS to the page's refcount, and one
 * page (the shared zero page, say) may be pinned over and over: bound what
 * one request may pin, and what all long-term pin sets together may hold,
 * far below what could overflow a refcount.
 */
#define GUP_TEST_MAX_PAGES	BIT(18)
#define GUP_TEST_MAX_PINNED	(2 * GUP_TEST_MAX_PAGES)

/* A FOLL_LONGTERM call allocates an array per call: keep it to a page. */
#define GUP_TEST_LONGTERM_CHUNK	(PAGE_SIZE / sizeof(struct page *))

/* Pages held in the long-term pin sets of all open files. */
static atomic_long_t gup_test_pinned = ATOMIC_LONG_INIT(0);

/**
 * struct gup_test_file - per-open-file state
 * @lock: serialises the PIN_LONGTERM_TEST_* ioctls of this file
 * @pages: the long-term pinned pages, NULL while no set is active
 * @nr_pages: number of entries in @pages
 */
struct gup_test_file {
	struct mutex lock;	/* protects @pages and @nr_pages */
	struct page **pages;
	unsigned long nr_pages;
};

/*
 * Check that [addr, addr + size) is a non-empty, page-aligned range of user
 * addresses, no longer than GUP_TEST_MAX_PAGES, and store its length in
 * pages in *nr_pages.
 */
static int gup_test_range(u64 addr, u64 size, unsigned long *nr_pages)
{
	if (!size || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(size))
		return -EINVAL;
	if (addr >= TASK_SIZE || size > TASK_SIZE - addr)
		return -EINVAL;
	if (size >> PAGE_SHIFT > GUP_TEST_MAX_PAGES)
		return -E2BIG;
	*nr_pages = size >> PAGE_SHIFT;
	return 0;
}

static bool gup_test_uses_pin(unsigned int cmd, const struct gup_test *gup)
{
	switch (cmd) {
	case PIN_FAST_BENCHMARK:
	case PIN_BASIC_TEST:
	case PIN_LONGTERM_BENCHMARK:
		return true;
	case DUMP_USER_PAGES_TEST:
		return gup->test_flags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN;
	default:
		return false;
	}
}

static bool gup_test_is_fast(unsigned int cmd)
{
	return cmd == GUP_FAST_BENCHMARK || cmd == PIN_FAST_BENCHMARK;
}

static void gup_test_release_pages(bool pinned, struct page **pages,
				   unsigned long nr)
{
	unsigned long i;

	if (pinned) {
		unpin_user_pages(pages, nr);
		return;
	}
	for (i = 0; i < nr; i++)
		put_page(pages[i]);
}

/* This kernel's FOLL_* flags for gup_test.gup_flags, already checked. */
static unsigned int gup_test_foll(u32 user)
{
	unsigned int flags = 0;

	if (user & GUP_TEST_FOLL_WRITE)
		flags |= FOLL_WRITE;
	if (user & GUP_TEST_FOLL_TOUCH)
		flags |= FOLL_TOUCH;
	if (user & GUP_TEST_FOLL_FORCE)
		flags |= FOLL_FORCE;
	if (user & GUP_TEST_FOLL_LONGTERM)
		flags |= FOLL_LONGTERM;
	return flags;
}

/* One get/pin call of the benchmark loop; returns what the call returned. */
static long gup_test_get_chunk(unsigned int cmd, const struct gup_test *gup,
			       unsigned long addr, unsigned long nr,
			       struct page **pages)
{
	unsigned int flags = gup_test_foll(gup->gup_flags);

	switch (cmd) {
	case GUP_FAST_BENCHMARK:
		return get_user_pages_fast(addr, nr, flags, pages);
	case PIN_FAST_BENCHMARK:
		return pin_user_pages_fast(addr, nr, flags, pages);
	case PIN_LONGTERM_BENCHMARK:
		return pin_user_pages(addr, nr, flags | FOLL_LONGTERM, pages,
				      NULL);
	default:
		if (gup_test_uses_pin(cmd, gup))
			return pin_user_pages(addr, nr, flags, pages, NULL);
		return get_user_pages(addr, nr, flags, pages, NULL);
	}
}

/*
 * A page we pinned must look pinned: anything else is a bug in the pinning
 * code, not in the caller, so it deserves a warning.
 */
static void gup_test_verify_pinned(struct page **pages, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		if (WARN(!page_maybe_dma_pinned(pages[i]),
			 "gup_test: page %lu of %lu is not dma-pinned\n",
			 i, nr)) {
			dump_page(pages[i], "gup_test: pin not recorded");
			return;
		}
	}
}

static void gup_test_dump_pages(const struct gup_test *gup,
				struct page **pages, unsigned long nr)
{
	unsigned int i, idx;

	for (i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++) {
		idx = gup->which_pages[i];
		if (idx && idx <= nr)
			dump_page(pages[idx - 1],
				  "gup_test: DUMP_USER_PAGES_TEST");
	}
}

static int gup_test_check_args(unsigned int cmd, const struct gup_test *gup,
			       unsigned long *nr_pages)
{
	unsigned int i;
	int ret;

	ret = gup_test_range(gup->addr, gup->size, nr_pages);
	if (ret)
		return ret;
	if (!gup->nr_pages_per_call)
		return -EINVAL;
	if (gup->gup_flags & ~GUP_TEST_FOLL_ALL)
		return -EINVAL;
	/* The fast paths take no FOLL_TOUCH (and warn about it). */
	if (gup_test_is_fast(cmd) && (gup->gup_flags & GUP_TEST_FOLL_TOUCH))
		return -EINVAL;
	/* A long-term reference must be a pin (mainline warns otherwise). */
	if ((gup->gup_flags & GUP_TEST_FOLL_LONGTERM) &&
	    !gup_test_uses_pin(cmd, gup))
		return -EINVAL;
	if (gup->test_flags & ~GUP_TEST_FLAG_DUMP_PAGES_USE_PIN)
		return -EINVAL;
	if (gup->test_flags && cmd != DUMP_USER_PAGES_TEST)
		return -EINVAL;
	for (i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
		if (gup->which_pages[i] > *nr_pages)
			return -EINVAL;
	return 0;
}

static int gup_test_run(unsigned int cmd, struct gup_test *gup)
{
	bool pinned = gup_test_uses_pin(cmd, gup);
	bool locked = !gup_test_is_fast(cmd);
	unsigned long nr_pages, done = 0, addr, want;
	struct page **pages;
	ktime_t start;
	long nr = 0;
	int ret;

	ret = gup_test_check_args(cmd, gup, &nr_pages);
	if (ret)
		return ret;

	pages = kvcalloc(nr_pages, sizeof(*pages), GFP_KERNEL | __GFP_NOWARN);
	if (!pages)
		return -ENOMEM;

	if (locked && mmap_read_lock_killable(current->mm)) {
		ret = -EINTR;
		goto out_free;
	}

	start = ktime_get();
	while (done < nr_pages) {
		addr = gup->addr + (done << PAGE_SHIFT);
		want = min_t(unsigned long, gup->nr_pages_per_call,
			     nr_pages - done);
		if (cmd == PIN_LONGTERM_BENCHMARK)
			want = min(want, GUP_TEST_LONGTERM_CHUNK);
		nr = gup_test_get_chunk(cmd, gup, addr, want, pages + done);
		if (nr <= 0)
			break;
		done += nr;
		/* A short chunk means the rest of the range is not mapped. */
		if (nr != want)
			break;
	}
	gup->get_delta_usec = ktime_us_delta(ktime_get(), start);
	gup->size = (u64)done << PAGE_SHIFT;

	if (pinned)
		gup_test_verify_pinned(pages, done);
	if (cmd == DUMP_USER_PAGES_TEST)
		gup_test_dump_pages(gup, pages, done);

	start = ktime_get();
	gup_test_release_pages(pinned, pages, done);
	gup->put_delta_usec = ktime_us_delta(ktime_get(), start);

	if (locked)
		mmap_read_unlock(current->mm);

	/* Nothing at all could be taken: report why. */
	if (!done)
		ret = nr < 0 ? nr : -EFAULT;
out_free:
	kvfree(pages);
	return ret;
}

/* Unpin and forget the long-term set of @gf, if any. */
static void pin_longterm_stop(struct gup_test_file *gf)
{
	lockdep_assert_held(&gf->lock);

	if (!gf->pages)
		return;
	unpin_user_pages(gf->pages, gf->nr_pages);
	atomic_long_sub(gf->nr_pages, &gup_test_pinned);
	kvfree(gf->pages);
	gf->pages = NULL;
	gf->nr_pages = 0;
}

static long pin_longterm_pin(const struct pin_longterm_test *args,
			     struct page **pages, unsigned long nr_pages)
{
	unsigned int gup_flags = FOLL_LONGTERM;
	unsigned long done = 0, addr, want;
	long nr;

	if (args->flags & PIN_LONGTERM_TEST_FLAG_USE_WRITE)
		gup_flags |= FOLL_WRITE;

	while (done < nr_pages) {
		addr = args->addr + (done << PAGE_SHIFT);
		want = min(nr_pages - done, GUP_TEST_LONGTERM_CHUNK);
		if (args->flags & PIN_LONGTERM_TEST_FLAG_USE_FAST) {
			nr = pin_user_pages_fast(addr, want, gup_flags,
						 pages + done);
		} else {
			if (mmap_read_lock_killable(current->mm)) {
				nr = -EINTR;
			} else {
				nr = pin_user_pages(addr, want, gup_flags,
						    pages + done, NULL);
				mmap_read_unlock(current->mm);
			}
		}
		if (nr <= 0) {
			unpin_user_pages(pages, done);
			return nr ? nr : -EFAULT;
		}
		done += nr;
	}
	return 0;
}

static int pin_longterm_start(struct gup_test_file *gf, void __user *uarg)
{
	struct pin_longterm_test args;
	unsigned long nr_pages;
	struct page **pages;
	long ret;

	lockdep_assert_held(&gf->lock);

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (gf->pages || (args.flags & ~PIN_LONGTERM_TEST_FLAGS))
		return -EINVAL;
	ret = gup_test_range(args.addr, args.size, &nr_pages);
	if (ret)
		return ret;

	if (atomic_long_add_return(nr_pages, &gup_test_pinned) >
	    GUP_TEST_MAX_PINNED) {
		ret = -EBUSY;
		goto out_unaccount;
	}
	pages = kvcalloc(nr_pages, sizeof(*pages), GFP_KERNEL | __GFP_NOWARN);
	if (!pages) {
		ret = -ENOMEM;
		goto out_unaccount;
	}
	ret = pin_longterm_pin(&args, pages, nr_pages);
	if (ret) {
		kvfree(pages);
		goto out_unaccount;
	}
	gf->pages = pages;
	gf->nr_pages = nr_pages;
	return 0;

out_unaccount:
	atomic_long_sub(nr_pages, &gup_test_pinned);
	return ret;
}

static int pin_longterm_read(struct gup_test_file *gf, void __user *uarg)
{
	u64 user_addr;
	char __user *dst;
	unsigned long i, left;
	void *src;

	lockdep_assert_held(&gf->lock);

	if (!gf->pages)
		return -EINVAL;
	if (get_user(user_addr, (u64 __user *)uarg))
		return -EFAULT;
	if (user_addr != (unsigned long)user_addr)
		return -EFAULT;
	dst = u64_to_user_ptr(user_addr);

	for (i = 0; i < gf->nr_pages; i++, dst += PAGE_SIZE) {
		/* copy_to_user() may fault and sleep: no atomic kmap here. */
		src = kmap(gf->pages[i]);
		left = copy_to_user(dst, src, PAGE_SIZE);
		kunmap(gf->pages[i]);
		if (left)
			return -EFAULT;
	}
	return 0;
}

static long pin_longterm_ioctl(struct gup_test_file *gf, unsigned int cmd,
			       void __user *uarg)
{
	long ret = 0;

	if (mutex_lock_killable(&gf->lock))
		return -EINTR;

	switch (cmd) {
	case PIN_LONGTERM_TEST_START:
		ret = pin_longterm_start(gf, uarg);
		break;
	case PIN_LONGTERM_TEST_STOP:
		pin_longterm_stop(gf);
		break;
	case PIN_LONGTERM_TEST_READ:
		ret = pin_longterm_read(gf, uarg);
		break;
	}

	mutex_unlock(&gf->lock);
	return ret;
}

static long gup_test_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct gup_test gup;
	int ret;

	switch (cmd) {
	case PIN_LONGTERM_TEST_START:
	case PIN_LONGTERM_TEST_STOP:
	case PIN_LONGTERM_TEST_READ:
		return pin_longterm_ioctl(file->private_data, cmd, uarg);
	case GUP_FAST_BENCHMARK:
	case PIN_FAST_BENCHMARK:
	case PIN_LONGTERM_BENCHMARK:
	case GUP_BASIC_TEST:
	case PIN_BASIC_TEST:
	case DUMP_USER_PAGES_TEST:
		break;
	default:
		return -ENOTTY;
	}

	if (copy_from_user(&gup, uarg, sizeof(gup)))
		return -EFAULT;
	ret = gup_test_run(cmd, &gup);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &gup, sizeof(gup)))
		return -EFAULT;
	return 0;
}

static int gup_test_open(struct inode *inode, struct file *file)
{
	struct gup_test_file *gf;

	gf = kzalloc(sizeof(*gf), GFP_KERNEL);
	if (!gf)
		return -ENOMEM;
	mutex_init(&gf->lock);
	file->private_data = gf;
	return nonseekable_open(inode, file);
}

static int gup_test_release(struct inode *inode, struct file *file)
{
	struct gup_test_file *gf = file->private_data;

	mutex_lock(&gf->lock);
	pin_longterm_stop(gf);
	mutex_unlock(&gf->lock);
	mutex_destroy(&gf->lock);
	kfree(gf);
	return 0;
}

static const struct file_operations gup_test_fops = {
	.owner = THIS_MODULE,
	.open = gup_test_open,
	.release = gup_test_release,
	.llseek = no_llseek,
	.unlocked_ioctl = gup_test_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static int __init gup_test_init(void)
{
	debugfs_create_file_unsafe("gup_test", 0600, NULL, NULL,
				   &gup_test_fops);
	return 0;
}
late_initcall(gup_test_init);
