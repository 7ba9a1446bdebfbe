// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the pieces that carry PageAnonExclusive(): the exclusive
 * bit of swap PTEs, the three kinds of migration entry, and the rmap and
 * GUP helpers that share, duplicate and pin anonymous pages.
 *
 * The rmap and GUP cases work on pages made anonymous by hand: a page whose
 * mapping has PAGE_MAPPING_ANON set and no anon_vma, which is all that the
 * helpers under test look at.  The fork cases use a scratch mm with its
 * write_protect_seq held for write, as fork holds it.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/page-flags.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "internal.h"

/* Swap entries of a few types and offsets, the largest ones included. */
static const struct {
	unsigned long type;
	pgoff_t offset;
} aek_swp[] = {
	{ 0, 0 },
	{ 0, 1 },
	{ 1, 0x12345 },
	{ MAX_SWAPFILES - 1, 0x7ffff },
};

static void aek_swp_pte_exclusive(struct kunit *test)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(aek_swp); i++) {
		swp_entry_t entry = swp_entry(aek_swp[i].type,
					      aek_swp[i].offset);
		pte_t pte = swp_entry_to_pte(entry), excl;

		KUNIT_EXPECT_FALSE(test, pte_swp_exclusive(pte));
		excl = pte_swp_mkexclusive(pte);
		/* The entry survives the bit, and the bit the entry. */
		KUNIT_EXPECT_EQ(test, pte_to_swp_entry(excl).val, entry.val);
		KUNIT_EXPECT_TRUE(test, is_swap_pte(excl));
		KUNIT_EXPECT_EQ(test, pte_val(pte_swp_clear_exclusive(excl)),
				pte_val(pte));
		KUNIT_EXPECT_EQ(test, pte_val(pte_swp_clear_flags(excl)),
				pte_val(pte));
		KUNIT_EXPECT_FALSE(test,
				   pte_swp_exclusive(pte_swp_clear_exclusive(excl)));
	}
}

/* The bit is independent of the soft-dirty and uffd-wp bits. */
static void aek_swp_pte_other_bits(struct kunit *test)
{
	pte_t pte = swp_entry_to_pte(swp_entry(1, 0x1234)), all;

	all = pte_swp_mkuffd_wp(pte_swp_mksoft_dirty(pte_swp_mkexclusive(pte)));
	KUNIT_EXPECT_EQ(test, pte_swp_exclusive(all),
			pte_swp_exclusive(pte_swp_mkexclusive(pte)));
	KUNIT_EXPECT_EQ(test, pte_to_swp_entry(all).val,
			pte_to_swp_entry(pte).val);
	all = pte_swp_clear_uffd_wp(pte_swp_clear_soft_dirty(all));
	KUNIT_EXPECT_EQ(test, pte_val(all), pte_val(pte_swp_mkexclusive(pte)));
	KUNIT_EXPECT_EQ(test, pte_val(pte_swp_clear_flags(all)), pte_val(pte));
}

#ifdef __HAVE_ARCH_PTE_SWP_EXCLUSIVE
/* Where the architecture has the bit, it really is kept. */
static void aek_swp_pte_arch_bit(struct kunit *test)
{
	pte_t pte = swp_entry_to_pte(swp_entry(2, 0x4321));

	KUNIT_EXPECT_TRUE(test, pte_swp_exclusive(pte_swp_mkexclusive(pte)));
	KUNIT_EXPECT_NE(test, pte_val(pte_swp_mkexclusive(pte)), pte_val(pte));
	KUNIT_EXPECT_FALSE(test, pte_present(pte_swp_mkexclusive(pte)));
	KUNIT_EXPECT_FALSE(test, pte_none(pte_swp_mkexclusive(pte)));
}
#endif

static void aek_migration_entries(struct kunit *test)
{
	const unsigned long pfn = 0x2468;
	swp_entry_t r = make_readable_migration_entry(pfn);
	swp_entry_t re = make_readable_exclusive_migration_entry(pfn);
	swp_entry_t w = make_writable_migration_entry(pfn);
	swp_entry_t entries[] = { r, re, w };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(entries); i++) {
		swp_entry_t e = entries[i];
		pte_t pte = swp_entry_to_pte(e);

		KUNIT_EXPECT_TRUE(test, is_migration_entry(e));
		KUNIT_EXPECT_TRUE(test, non_swap_entry(e));
		KUNIT_EXPECT_EQ(test, migration_entry_to_pfn(e), pfn);
		/* Through a PTE and back, with and without the swap bits. */
		KUNIT_EXPECT_EQ(test, pte_to_swp_entry(pte).val, e.val);
		pte = pte_swp_mksoft_dirty(pte_swp_mkuffd_wp(pte));
		KUNIT_EXPECT_EQ(test, pte_to_swp_entry(pte).val, e.val);
		/* Exactly one kind. */
		KUNIT_EXPECT_EQ(test, is_readable_migration_entry(e) +
				is_readable_exclusive_migration_entry(e) +
				is_writable_migration_entry(e), 1);
	}
	KUNIT_EXPECT_TRUE(test, is_readable_migration_entry(r));
	KUNIT_EXPECT_TRUE(test, is_readable_exclusive_migration_entry(re));
	KUNIT_EXPECT_TRUE(test, is_writable_migration_entry(w));
	KUNIT_EXPECT_TRUE(test, is_write_migration_entry(w));
	KUNIT_EXPECT_FALSE(test, is_write_migration_entry(re));
	KUNIT_EXPECT_NE(test, r.val, re.val);
	KUNIT_EXPECT_NE(test, re.val, w.val);

	/* Dropping write makes a readable entry of the same page. */
	make_migration_entry_read(&w);
	KUNIT_EXPECT_TRUE(test, is_readable_migration_entry(w));
	KUNIT_EXPECT_EQ(test, migration_entry_to_pfn(w), pfn);
	make_migration_entry_read(&re);
	KUNIT_EXPECT_TRUE(test, is_readable_migration_entry(re));

	/* Swap entries, device entries and migration entries stay apart. */
	KUNIT_EXPECT_FALSE(test, is_migration_entry(swp_entry(0, pfn)));
	KUNIT_EXPECT_FALSE(test, is_device_private_entry(r));
	KUNIT_EXPECT_FALSE(test, is_hwpoison_entry(re));
}

/* A page that the helpers take for anonymous, and its undoing. */
static struct page *aek_anon_page(struct kunit *test, unsigned int order)
{
	struct page *page;

	page = alloc_pages(GFP_KERNEL | (order ? __GFP_COMP : 0), order);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, page);
	page->mapping = (struct address_space *)PAGE_MAPPING_ANON;
	return page;
}

static void aek_put_anon_page(struct page *page, unsigned int order)
{
	unsigned int i;

	for (i = 0; i < (1U << order); i++)
		if (PageAnonExclusive(page + i))
			__ClearPageAnonExclusive(page + i);
	page->mapping = NULL;
	__free_pages(page, order);
}

/* Pin a page the way gup does when it cannot count pins exactly. */
static void aek_fake_pin(struct page *page, bool pin)
{
	if (pin)
		page_ref_add(page, GUP_PIN_COUNTING_BIAS);
	else
		page_ref_sub(page, GUP_PIN_COUNTING_BIAS);
}

static void aek_page_flag(struct kunit *test)
{
	struct page *page = aek_anon_page(test, 0);

	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	SetPageAnonExclusive(page);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page));
	/* It is the bit of PG_mappedtodisk, and only that. */
	KUNIT_EXPECT_TRUE(test, test_bit(PG_mappedtodisk, &page->flags));
	ClearPageAnonExclusive(page);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_FALSE(test, test_bit(PG_mappedtodisk, &page->flags));
	aek_put_anon_page(page, 0);
}

/* The subpages of a THP each have their own flag. */
static void aek_page_flag_per_subpage(struct kunit *test)
{
	struct page *page = aek_anon_page(test, 2);

	SetPageAnonExclusive(page + 2);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page + 2));
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page + 1));
	SetPageAnonExclusive(page);
	ClearPageAnonExclusive(page + 2);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page + 2));
	aek_put_anon_page(page, 2);
}

#ifdef CONFIG_HUGETLB_PAGE
/*
 * A hugetlb page keeps the flag on its head: every accessor, given any of
 * its pages, works on the head's bit, as GUP-fast needs where contiguous
 * PTEs map a hugetlb page.  The compound page is only dressed as hugetlb
 * (its destructor) for the test.
 */
static void aek_page_flag_hugetlb_head(struct kunit *test)
{
	struct page *page = aek_anon_page(test, 2);

	set_compound_page_dtor(page, HUGETLB_PAGE_DTOR);
	KUNIT_ASSERT_TRUE(test, PageHuge(page + 3));
	SetPageAnonExclusive(page + 2);
	KUNIT_EXPECT_TRUE(test, test_bit(PG_anon_exclusive, &page->flags));
	KUNIT_EXPECT_FALSE(test, test_bit(PG_anon_exclusive,
					  &page[2].flags));
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page + 3));
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(NULL, FOLL_PIN, page + 3));
	ClearPageAnonExclusive(page + 1);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_TRUE(test, gup_must_unshare(NULL, FOLL_PIN, page + 3));
	set_compound_page_dtor(page, COMPOUND_PAGE_DTOR);
	aek_put_anon_page(page, 2);
}
#endif

static void aek_try_share(struct kunit *test)
{
	struct page *page = aek_anon_page(test, 0);

	SetPageAnonExclusive(page);
	KUNIT_EXPECT_EQ(test, page_try_share_anon_rmap(page), 0);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));

	/* A page that may be pinned stays exclusive. */
	SetPageAnonExclusive(page);
	aek_fake_pin(page, true);
	KUNIT_EXPECT_EQ(test, page_try_share_anon_rmap(page), -EBUSY);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page));
	aek_fake_pin(page, false);
	aek_put_anon_page(page, 0);
}

/* A THP's pins are counted on the head and hold every subpage. */
static void aek_try_share_thp(struct kunit *test)
{
	struct page *page = aek_anon_page(test, 2);

	SetPageAnonExclusive(page + 1);
	atomic_inc(compound_pincount_ptr(page));
	KUNIT_EXPECT_EQ(test, page_try_share_anon_rmap(page + 1), -EBUSY);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page + 1));
	atomic_dec(compound_pincount_ptr(page));
	KUNIT_EXPECT_EQ(test, page_try_share_anon_rmap(page + 1), 0);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page + 1));
	aek_put_anon_page(page, 2);
}

struct aek_fork {
	struct mm_struct *mm;
	struct vm_area_struct vma;
};

static int aek_fork_init(struct kunit *test)
{
	struct aek_fork *f;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->mm = mm_alloc();
	if (!f->mm)
		return -ENOMEM;
	/* A private writable mapping, in an mm that has pinned pages. */
	f->vma.vm_mm = f->mm;
	f->vma.vm_flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;
	atomic_set(&f->mm->has_pinned, 1);
	/* As fork holds it. */
	raw_write_seqcount_begin(&f->mm->write_protect_seq);
	test->priv = f;
	return 0;
}

static void aek_fork_exit(struct kunit *test)
{
	struct aek_fork *f = test->priv;

	if (!f || !f->mm)
		return;
	raw_write_seqcount_end(&f->mm->write_protect_seq);
	mmput(f->mm);
}

static void aek_try_dup(struct kunit *test)
{
	struct aek_fork *f = test->priv;
	struct page *page = aek_anon_page(test, 0);

	/* Shared with the child: no longer exclusive, one more mapping. */
	SetPageAnonExclusive(page);
	KUNIT_EXPECT_EQ(test, page_try_dup_anon_rmap(page, false, &f->vma), 0);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_EQ(test, page_mapcount(page), 1);

	/* Maybe pinned: refused, and left as it was. */
	SetPageAnonExclusive(page);
	aek_fake_pin(page, true);
	KUNIT_EXPECT_EQ(test, page_try_dup_anon_rmap(page, false, &f->vma),
			-EBUSY);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_EQ(test, page_mapcount(page), 1);

	/* An mm that never pinned a page cannot have pinned this one. */
	atomic_set(&f->mm->has_pinned, 0);
	KUNIT_EXPECT_EQ(test, page_try_dup_anon_rmap(page, false, &f->vma), 0);
	KUNIT_EXPECT_FALSE(test, PageAnonExclusive(page));
	KUNIT_EXPECT_EQ(test, page_mapcount(page), 2);

	aek_fake_pin(page, false);
	atomic_set(&page->_mapcount, -1);
	aek_put_anon_page(page, 0);
}

/* Only COW mappings give the child a copy of a pinned page. */
static void aek_try_dup_not_cow(struct kunit *test)
{
	struct aek_fork *f = test->priv;
	struct page *page = aek_anon_page(test, 0);

	f->vma.vm_flags |= VM_SHARED | VM_MAYSHARE;
	KUNIT_EXPECT_FALSE(test, page_needs_cow_for_dma(&f->vma, page));
	aek_fake_pin(page, true);
	KUNIT_EXPECT_FALSE(test, page_needs_cow_for_dma(&f->vma, page));
	f->vma.vm_flags &= ~(VM_SHARED | VM_MAYSHARE);
	KUNIT_EXPECT_TRUE(test, page_needs_cow_for_dma(&f->vma, page));
	aek_fake_pin(page, false);
	KUNIT_EXPECT_FALSE(test, page_needs_cow_for_dma(&f->vma, page));
	aek_put_anon_page(page, 0);
}

static void aek_gup_must_unshare(struct kunit *test)
{
	struct vm_area_struct cow = { .vm_flags = VM_READ | VM_MAYWRITE };
	struct vm_area_struct shared = {
		.vm_flags = VM_READ | VM_SHARED | VM_MAYSHARE | VM_MAYWRITE,
	};
	const unsigned int ro_longterm = FOLL_PIN | FOLL_LONGTERM;
	struct page *page = aek_anon_page(test, 0);
	struct page *file_page = alloc_page(GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file_page);
	/* A read-only pin of a possibly shared anonymous page unshares. */
	KUNIT_EXPECT_TRUE(test, gup_must_unshare(&cow, FOLL_PIN, page));
	KUNIT_EXPECT_TRUE(test, gup_must_unshare(NULL, ro_longterm, page));
	/* Not a write pin, not a plain reference. */
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(NULL, FOLL_PIN | FOLL_WRITE,
						  page));
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(NULL, FOLL_GET, page));
	/*
	 * Another page: only a long-term read-only pin in a COW mapping
	 * unshares it, and GUP-fast (no vma) leaves that to the slow path.
	 */
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(&cow, FOLL_PIN, file_page));
	KUNIT_EXPECT_TRUE(test, gup_must_unshare(&cow, ro_longterm,
						 file_page));
	KUNIT_EXPECT_TRUE(test, gup_must_unshare(NULL, ro_longterm,
						 file_page));
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(&shared, ro_longterm,
						  file_page));
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(&cow,
						  ro_longterm | FOLL_WRITE,
						  file_page));
	/* Not an exclusive one. */
	SetPageAnonExclusive(page);
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(NULL, FOLL_PIN, page));
	KUNIT_EXPECT_FALSE(test, gup_must_unshare(&cow, ro_longterm, page));
	__free_page(file_page);
	aek_put_anon_page(page, 0);
}

static void aek_gup_can_force_write(struct kunit *test)
{
	struct vm_area_struct ro = { .vm_flags = VM_READ | VM_MAYWRITE };
	struct vm_area_struct rw = {
		.vm_flags = VM_READ | VM_WRITE | VM_MAYWRITE,
	};
	struct vm_area_struct shared = {
		.vm_flags = VM_READ | VM_SHARED | VM_MAYSHARE | VM_MAYWRITE,
	};
	struct vm_area_struct never = { .vm_flags = VM_READ };
	struct page *page = aek_anon_page(test, 0);
	struct page *file_page = alloc_page(GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file_page);
	/* Not exclusive (yet): the write must fault to break COW. */
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&ro, page, false));
	SetPageAnonExclusive(page);
	/* This mm's own page in a read-only private mapping. */
	KUNIT_EXPECT_TRUE(test, gup_can_force_write(&ro, page, false));
	/* Unless soft-dirty or uffd-wp tracking wants the fault. */
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&ro, page, true));
	/* Writable, shared or never-writable mappings: no forced write. */
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&rw, page, false));
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&shared, page, false));
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&never, page, false));
	/* Nor to a page that is not anonymous, or to no page at all. */
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&ro, file_page, false));
	KUNIT_EXPECT_FALSE(test, gup_can_force_write(&ro, NULL, false));
	__free_page(file_page);
	aek_put_anon_page(page, 0);
}

static struct kunit_case aek_entry_cases[] = {
	KUNIT_CASE(aek_swp_pte_exclusive),
	KUNIT_CASE(aek_swp_pte_other_bits),
#ifdef __HAVE_ARCH_PTE_SWP_EXCLUSIVE
	KUNIT_CASE(aek_swp_pte_arch_bit),
#endif
	KUNIT_CASE(aek_migration_entries),
	KUNIT_CASE(aek_page_flag),
	KUNIT_CASE(aek_page_flag_per_subpage),
#ifdef CONFIG_HUGETLB_PAGE
	KUNIT_CASE(aek_page_flag_hugetlb_head),
#endif
	KUNIT_CASE(aek_try_share),
	KUNIT_CASE(aek_try_share_thp),
	KUNIT_CASE(aek_gup_must_unshare),
	KUNIT_CASE(aek_gup_can_force_write),
	{}
};

static struct kunit_suite aek_entry_suite = {
	.name = "anon_exclusive",
	.test_cases = aek_entry_cases,
};

static struct kunit_case aek_fork_cases[] = {
	KUNIT_CASE(aek_try_dup),
	KUNIT_CASE(aek_try_dup_not_cow),
	{}
};

static struct kunit_suite aek_fork_suite = {
	.name = "anon_exclusive_fork",
	.init = aek_fork_init,
	.exit = aek_fork_exit,
	.test_cases = aek_fork_cases,
};

kunit_test_suites(&aek_entry_suite, &aek_fork_suite);

MODULE_LICENSE("GPL v2");
