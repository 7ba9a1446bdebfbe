// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the shared-mapping dirty helpers, wp_shared_mapping_range()
 * and clean_record_shared_mapping_range().
 *
 * Each test maps a small shmem file shared into a scratch mm, which the test
 * thread adopts with kthread_use_mm(), so that plain user accesses fault,
 * dirty and write-protect real PTEs.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/swapops.h>
#include <linux/uaccess.h>
#include <asm/tlbflush.h>

#define MDK_PAGES	16

struct mdk {
	struct file *file;
	struct mm_struct *mm;
	unsigned long addr;		/* user address of the mapping */
	DECLARE_BITMAP(bitmap, MDK_PAGES);
	pgoff_t start, end;		/* the bitmap's set-bit range */
};

static int mdk_init(struct kunit *test)
{
	struct rlimit stack = { _STK_LIM, RLIM_INFINITY };
	struct mdk *t;
	unsigned long addr;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;

	t->file = shmem_kernel_file_setup("mapping_dirty_kunit",
					  MDK_PAGES * PAGE_SIZE, 0);
	if (IS_ERR(t->file))
		return PTR_ERR(t->file);

	t->mm = mm_alloc();
	if (!t->mm) {
		fput(t->file);
		return -ENOMEM;
	}
	arch_pick_mmap_layout(t->mm, &stack);
	kthread_use_mm(t->mm);

	addr = vm_mmap(t->file, 0, MDK_PAGES * PAGE_SIZE,
		       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	if (IS_ERR_VALUE(addr)) {
		kthread_unuse_mm(t->mm);
		mmput(t->mm);
		fput(t->file);
		return (int)addr;
	}
	t->addr = addr;
	test->priv = t;
	return 0;
}

static void mdk_exit(struct kunit *test)
{
	struct mdk *t = test->priv;

	if (!t)
		return;
	vm_munmap(t->addr, MDK_PAGES * PAGE_SIZE);
	kthread_unuse_mm(t->mm);
	mmput(t->mm);
	fput(t->file);
}

static char __user *mdk_page(struct mdk *t, unsigned int i)
{
	return (char __user *)(t->addr + i * PAGE_SIZE);
}

/* Fault fresh pages [0, @n) in with a read: mapped, clean and writable. */
static bool mdk_read(struct kunit *test, struct mdk *t, unsigned int n)
{
	unsigned int i;
	char c;

	for (i = 0; i < n; i++) {
		if (get_user(c, mdk_page(t, i)) || c) {
			KUNIT_FAIL(test, "page %u: read faulted or not zero", i);
			return false;
		}
	}
	return true;
}

/* Write to each page in the mask @pages. */
static bool mdk_write(struct kunit *test, struct mdk *t, unsigned long pages)
{
	unsigned int i;

	for_each_set_bit(i, &pages, MDK_PAGES) {
		if (put_user((char)i, mdk_page(t, i))) {
			KUNIT_FAIL(test, "write to page %u faulted", i);
			return false;
		}
	}
	return true;
}

/*
 * The PMD that maps page @i to a page table, or NULL if there is none.  The
 * caller holds mmap_lock.
 */
static pmd_t *mdk_pmd(struct mdk *t, unsigned int i)
{
	unsigned long addr = t->addr + i * PAGE_SIZE;
	pgd_t *pgd = pgd_offset(t->mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none_or_clear_bad(pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none_or_clear_bad(p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none_or_clear_bad(pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	if (pmd_none_or_trans_huge_or_clear_bad(pmd))
		return NULL;
	return pmd;
}

/* Read the PTE of page @i; a test failure if there is none. */
static bool mdk_pte(struct kunit *test, struct mdk *t, unsigned int i,
		    pte_t *ptent)
{
	spinlock_t *ptl;	/* the PTE lock */
	pte_t *ptep;
	pmd_t *pmd;

	mmap_read_lock(t->mm);
	pmd = mdk_pmd(t, i);
	if (pmd) {
		ptep = pte_offset_map_lock(t->mm, pmd, t->addr + i * PAGE_SIZE,
					   &ptl);
		*ptent = ptep_get(ptep);
		pte_unmap_unlock(ptep, ptl);
	}
	mmap_read_unlock(t->mm);
	if (!pmd || !pte_present(*ptent)) {
		KUNIT_FAIL(test, "page %u is not mapped", i);
		return false;
	}
	return true;
}

/* Whether the PTEs of the pages in @pages are writable (or dirty). */
static void mdk_expect_ptes(struct kunit *test, struct mdk *t,
			    unsigned long pages, bool write, bool dirty)
{
	unsigned int i;
	pte_t ptent;

	for_each_set_bit(i, &pages, MDK_PAGES) {
		if (!mdk_pte(test, t, i, &ptent))
			return;
		KUNIT_EXPECT_EQ_MSG(test, !!pte_write(ptent), (int)write,
				    "page %u", i);
		KUNIT_EXPECT_EQ_MSG(test, !!pte_dirty(ptent), (int)dirty,
				    "page %u", i);
	}
}

static unsigned long mdk_wp(struct mdk *t, pgoff_t first, pgoff_t nr)
{
	return wp_shared_mapping_range(t->file->f_mapping, first, nr);
}

static unsigned long mdk_clean(struct mdk *t, pgoff_t first, pgoff_t nr,
			       pgoff_t bitmap_pgoff)
{
	return clean_record_shared_mapping_range(t->file->f_mapping, first, nr,
						 bitmap_pgoff, t->bitmap,
						 &t->start, &t->end);
}

/* The first @nbits bits of the bitmap are exactly the mask @want. */
static void mdk_expect_bits(struct kunit *test, struct mdk *t,
			    unsigned long want, unsigned int nbits)
{
	unsigned int i;

	for (i = 0; i < nbits; i++)
		KUNIT_EXPECT_EQ_MSG(test, !!test_bit(i, t->bitmap),
				    !!(want & BIT(i)), "bit %u", i);
}

/* Dirty pages are recorded and cleaned; clean and unmapped ones are not. */
static void mdk_clean_records_dirty(struct kunit *test)
{
	struct mdk *t = test->priv;
	unsigned long dirty = BIT(1) | BIT(3) | BIT(4) | BIT(10);

	if (!mdk_read(test, t, MDK_PAGES / 2) || !mdk_write(test, t, dirty))
		return;

	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 4UL);
	mdk_expect_bits(test, t, dirty, MDK_PAGES);
	KUNIT_EXPECT_EQ(test, t->start, 1UL);
	KUNIT_EXPECT_EQ(test, t->end, 11UL);
	mdk_expect_ptes(test, t, dirty, true, false);

	/* Nothing was written since: nothing more to record. */
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 0UL);
	mdk_expect_bits(test, t, dirty, MDK_PAGES);
	KUNIT_EXPECT_EQ(test, t->start, 1UL);
	KUNIT_EXPECT_EQ(test, t->end, 11UL);
}

/* Only the range is cleaned; bit 0 stands for page bitmap_pgoff. */
static void mdk_clean_partial_range(struct kunit *test)
{
	struct mdk *t = test->priv;

	if (!mdk_write(test, t, BIT(2) | BIT(5) | BIT(9) | BIT(14)))
		return;

	/* Pages 4..11, recorded from bit 0 = page 4. */
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 4, 8, 4), 2UL);
	mdk_expect_bits(test, t, BIT(5 - 4) | BIT(9 - 4), MDK_PAGES);
	KUNIT_EXPECT_EQ(test, t->start, 1UL);
	KUNIT_EXPECT_EQ(test, t->end, 6UL);
	mdk_expect_ptes(test, t, BIT(2) | BIT(14), true, true);

	/* The pages outside the range are still dirty. */
	bitmap_zero(t->bitmap, MDK_PAGES);
	t->start = 0;
	t->end = 0;
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 2UL);
	mdk_expect_bits(test, t, BIT(2) | BIT(14), MDK_PAGES);
}

/*
 * *start and *end grow to take in new bits; start >= end on entry means
 * that no bit is set yet, whatever the two values are.
 */
static void mdk_clean_start_end(struct kunit *test)
{
	struct mdk *t = test->priv;

	/* Bits 3 and 4 set by an earlier call. */
	__set_bit(3, t->bitmap);
	__set_bit(4, t->bitmap);
	t->start = 3;
	t->end = 5;
	if (!mdk_write(test, t, BIT(7)))
		return;
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 1UL);
	mdk_expect_bits(test, t, BIT(3) | BIT(4) | BIT(7), MDK_PAGES);
	KUNIT_EXPECT_EQ(test, t->start, 3UL);
	KUNIT_EXPECT_EQ(test, t->end, 8UL);

	/* None set yet, said with start > end. */
	bitmap_zero(t->bitmap, MDK_PAGES);
	t->start = 9;
	t->end = 2;
	if (!mdk_write(test, t, BIT(12)))
		return;
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 1UL);
	KUNIT_EXPECT_EQ(test, t->start, 12UL);
	KUNIT_EXPECT_EQ(test, t->end, 13UL);

	/* A bitmap that starts before the range: bits count from page 0. */
	bitmap_zero(t->bitmap, MDK_PAGES);
	t->start = 0;
	t->end = 0;
	if (!mdk_write(test, t, BIT(9)))
		return;
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 8, 4, 0), 1UL);
	mdk_expect_bits(test, t, BIT(9), MDK_PAGES);
	KUNIT_EXPECT_EQ(test, t->start, 9UL);
	KUNIT_EXPECT_EQ(test, t->end, 10UL);
}

/* An empty range changes nothing, not even the caller's range. */
static void mdk_clean_empty_range(struct kunit *test)
{
	struct mdk *t = test->priv;

	if (!mdk_write(test, t, BIT(0) | BIT(6)))
		return;
	t->start = 3;
	t->end = 5;
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 6, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 6, 0), 0UL);
	KUNIT_EXPECT_EQ(test, t->start, 3UL);
	KUNIT_EXPECT_EQ(test, t->end, 5UL);
	mdk_expect_bits(test, t, 0, MDK_PAGES);
	mdk_expect_ptes(test, t, BIT(0) | BIT(6), true, true);
}

/* Write protection holds until the next write, which faults it away. */
static void mdk_wp_then_write(struct kunit *test)
{
	struct mdk *t = test->priv;
	unsigned long all = GENMASK(MDK_PAGES - 1, 0);

	if (!mdk_write(test, t, all))
		return;
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 0, MDK_PAGES), (unsigned long)MDK_PAGES);
	mdk_expect_ptes(test, t, all, false, true);
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 0, MDK_PAGES), 0UL);

	/* The write faults and makes page 5 writable again; nothing else. */
	if (!mdk_write(test, t, BIT(5)))
		return;
	mdk_expect_ptes(test, t, BIT(5), true, true);
	mdk_expect_ptes(test, t, all & ~BIT(5), false, true);
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 0, MDK_PAGES), 1UL);
}

/* Only the range is write-protected. */
static void mdk_wp_partial_range(struct kunit *test)
{
	struct mdk *t = test->priv;
	unsigned long all = GENMASK(MDK_PAGES - 1, 0);
	unsigned long range = GENMASK(7, 4);

	if (!mdk_write(test, t, all))
		return;
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 4, 4), 4UL);
	mdk_expect_ptes(test, t, range, false, true);
	mdk_expect_ptes(test, t, all & ~range, true, true);
}

/* Replace the PTE of page @i by @pte, under the PTE lock; return the old. */
static pte_t mdk_swap_pte(struct mdk *t, unsigned int i, pte_t pte)
{
	unsigned long addr = t->addr + i * PAGE_SIZE;
	spinlock_t *ptl;	/* the PTE lock */
	pte_t *ptep, old;

	mmap_read_lock(t->mm);
	ptep = pte_offset_map_lock(t->mm, mdk_pmd(t, i), addr, &ptl);
	old = ptep_get_and_clear(t->mm, addr, ptep);
	set_pte_at(t->mm, addr, ptep, pte);
	pte_unmap_unlock(ptep, ptl);
	flush_tlb_mm(t->mm);
	mmap_read_unlock(t->mm);
	return old;
}

/*
 * A migration entry in the range is not a mapping, even with the soft-dirty
 * bit set (on x86_64 it sits where a present PTE has its write bit).
 * Cleaning leaves it alone; write protection turns a write migration entry
 * into a read one, soft-dirty bit and all, so that the migration cannot end
 * in a writable PTE.
 */
static void mdk_migration_entry(struct kunit *test)
{
	struct mdk *t = test->priv;
	pte_t ptent, entry, read_entry, now;
	swp_entry_t swp;
	struct page *page;

	if (!mdk_write(test, t, BIT(2)) || !mdk_pte(test, t, 2, &ptent))
		return;
	page = pte_page(ptent);
	get_page(page);
	if (!trylock_page(page)) {
		KUNIT_FAIL(test, "page 2 is locked by someone else");
		put_page(page);
		return;
	}

	/* Stand in for try_to_unmap() of a migration, without the rmap. */
	swp = make_migration_entry(page, 1);
	entry = pte_swp_mksoft_dirty(swp_entry_to_pte(swp));
	make_migration_entry_read(&swp);
	read_entry = pte_swp_mksoft_dirty(swp_entry_to_pte(swp));
	ptent = mdk_swap_pte(t, 2, entry);

	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 0UL);
	mdk_expect_bits(test, t, 0, MDK_PAGES);
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 0, MDK_PAGES), 1UL);
	KUNIT_EXPECT_EQ(test, mdk_wp(t, 0, MDK_PAGES), 0UL);
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 0UL);

	/* End the "migration" as remove_migration_pte() would: read-only. */
	now = mdk_swap_pte(t, 2, pte_wrprotect(ptent));
	unlock_page(page);
	put_page(page);

	KUNIT_EXPECT_TRUE(test, pte_same(now, read_entry));
	/* The page's own dirty PTE is still there to be recorded. */
	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 1UL);
	mdk_expect_bits(test, t, BIT(2), MDK_PAGES);
}

/*
 * A write through a PTE that was mapped clean on a read fault dirties only
 * the PTE; cleaning it must leave the page dirty, or reclaim would drop it.
 */
static void mdk_clean_keeps_page_dirty(struct kunit *test)
{
	struct mdk *t = test->priv;
	struct page *page;
	pte_t ptent;

	if (!mdk_read(test, t, 4) || !mdk_pte(test, t, 3, &ptent))
		return;
	page = pte_page(ptent);
	KUNIT_EXPECT_FALSE_MSG(test, PageDirty(page),
			       "a read fault left the page dirty");
	if (!mdk_write(test, t, BIT(3)))
		return;

	KUNIT_EXPECT_EQ(test, mdk_clean(t, 0, MDK_PAGES, 0), 1UL);
	mdk_expect_ptes(test, t, BIT(3), true, false);
	KUNIT_EXPECT_TRUE(test, PageDirty(page));
}

static struct kunit_case mapping_dirty_cases[] = {
	KUNIT_CASE(mdk_clean_records_dirty),
	KUNIT_CASE(mdk_clean_partial_range),
	KUNIT_CASE(mdk_clean_start_end),
	KUNIT_CASE(mdk_clean_empty_range),
	KUNIT_CASE(mdk_wp_then_write),
	KUNIT_CASE(mdk_wp_partial_range),
	KUNIT_CASE(mdk_migration_entry),
	KUNIT_CASE(mdk_clean_keeps_page_dirty),
	{}
};

static struct kunit_suite mapping_dirty_suite = {
	.name = "mapping_dirty",
	.init = mdk_init,
	.exit = mdk_exit,
	.test_cases = mapping_dirty_cases,
};

kunit_test_suites(&mapping_dirty_suite);

MODULE_LICENSE("GPL");
