// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of device-exclusive entries: the swap entry helpers, the
 * bits a PTE holding such an entry carries, and the rule that decides
 * whether the mapping a CPU fault puts back may be writable.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "internal.h"

/* Offsets (PFNs) to build entries from, the largest one included. */
static const pgoff_t dek_offsets[] = { 0, 1, 0x12345, SWP_OFFSET_MASK };

static void dek_entry_kinds(struct kunit *test)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dek_offsets); i++) {
		pgoff_t off = dek_offsets[i];
		swp_entry_t r = make_readable_device_exclusive_entry(off);
		swp_entry_t w = make_writable_device_exclusive_entry(off);

		KUNIT_EXPECT_TRUE(test, is_device_exclusive_entry(r));
		KUNIT_EXPECT_TRUE(test, is_device_exclusive_entry(w));
		KUNIT_EXPECT_FALSE(test, is_writable_device_exclusive_entry(r));
		KUNIT_EXPECT_TRUE(test, is_writable_device_exclusive_entry(w));
		KUNIT_EXPECT_EQ(test, device_exclusive_entry_to_pfn(r),
				(unsigned long)off);
		KUNIT_EXPECT_EQ(test, device_exclusive_entry_to_pfn(w),
				(unsigned long)off);
		/* Neither swap space nor another special kind. */
		KUNIT_EXPECT_TRUE(test, non_swap_entry(r));
		KUNIT_EXPECT_TRUE(test, non_swap_entry(w));
		KUNIT_EXPECT_FALSE(test, is_device_private_entry(w));
		KUNIT_EXPECT_FALSE(test, is_migration_entry(w));
		KUNIT_EXPECT_FALSE(test, is_hwpoison_entry(w));
	}
}

/* Other entries are not device-exclusive. */
static void dek_other_entries(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, is_device_exclusive_entry(swp_entry(0, 5)));
	KUNIT_EXPECT_FALSE(test,
			   is_device_exclusive_entry(swp_entry(MAX_SWAPFILES - 1, 5)));
	KUNIT_EXPECT_FALSE(test,
			   is_device_exclusive_entry(swp_entry(SWP_DEVICE_WRITE, 5)));
	KUNIT_EXPECT_FALSE(test,
			   is_device_exclusive_entry(swp_entry(SWP_DEVICE_READ, 5)));
	KUNIT_EXPECT_FALSE(test, is_device_exclusive_pte(__pte(0)));
	/* The two types fit the swap type field. */
	KUNIT_EXPECT_LT(test, SWP_DEVICE_EXCLUSIVE_READ,
			1 << MAX_SWAPFILES_SHIFT);
	KUNIT_EXPECT_LT(test, SWP_DEVICE_EXCLUSIVE_WRITE,
			1 << MAX_SWAPFILES_SHIFT);
}

/* A PTE's soft-dirty and uffd-wp bits leave the entry as it is. */
static void dek_pte_bits(struct kunit *test)
{
	swp_entry_t w = make_writable_device_exclusive_entry(0x4321);
	pte_t pte = swp_entry_to_pte(w);
	pte_t sd = pte_swp_mksoft_dirty(pte), wp = pte_swp_mkuffd_wp(pte);

	KUNIT_EXPECT_TRUE(test, is_device_exclusive_pte(pte));
	KUNIT_EXPECT_FALSE(test, pte_present(pte));
	KUNIT_EXPECT_TRUE(test, is_device_exclusive_pte(sd));
	KUNIT_EXPECT_TRUE(test, is_device_exclusive_pte(wp));
	KUNIT_EXPECT_EQ(test, pte_to_swp_entry(sd).val, w.val);
	KUNIT_EXPECT_EQ(test, pte_to_swp_entry(wp).val, w.val);
	if (IS_ENABLED(CONFIG_MEM_SOFT_DIRTY))
		KUNIT_EXPECT_TRUE(test, pte_swp_soft_dirty(sd));
	if (IS_ENABLED(CONFIG_HAVE_ARCH_USERFAULTFD_WP))
		KUNIT_EXPECT_TRUE(test, pte_swp_uffd_wp(wp));
}

/*
 * The mapping put back is writable only for a write entry in a writable
 * VMA, of an exclusive page, that no write tracking wants to see first.
 */
static void dek_restore_writable(struct kunit *test)
{
	pte_t w = swp_entry_to_pte(make_writable_device_exclusive_entry(7));
	pte_t r = swp_entry_to_pte(make_readable_device_exclusive_entry(7));
	/* VM_SOFTDIRTY set: soft-dirty tracking is off for the VMA. */
	unsigned long rw = VM_READ | VM_WRITE | VM_SOFTDIRTY;

	KUNIT_EXPECT_TRUE(test, device_exclusive_restore_writable(rw, w, true));
	KUNIT_EXPECT_FALSE(test, device_exclusive_restore_writable(rw, r, true));
	KUNIT_EXPECT_FALSE(test,
			   device_exclusive_restore_writable(VM_READ | VM_SOFTDIRTY,
							     w, true));
	/* Shared with another mm (after fork, KSM): do_wp_page decides. */
	KUNIT_EXPECT_FALSE(test, device_exclusive_restore_writable(rw, w, false));
	if (IS_ENABLED(CONFIG_HAVE_ARCH_USERFAULTFD_WP)) {
		pte_t wp = pte_swp_mkuffd_wp(w);

		KUNIT_EXPECT_FALSE(test,
				   device_exclusive_restore_writable(rw, wp,
								     true));
	}
	if (IS_ENABLED(CONFIG_MEM_SOFT_DIRTY)) {
		unsigned long tracked = rw & ~VM_SOFTDIRTY;
		pte_t sd = pte_swp_mksoft_dirty(w);

		/* Tracking on and no write seen: the next write must fault. */
		KUNIT_EXPECT_FALSE(test,
				   device_exclusive_restore_writable(tracked, w,
								     true));
		/* Tracking on and the write already recorded. */
		KUNIT_EXPECT_TRUE(test,
				  device_exclusive_restore_writable(tracked, sd,
								    true));
	}
}

static struct kunit_case dek_cases[] = {
	KUNIT_CASE(dek_entry_kinds),
	KUNIT_CASE(dek_other_entries),
	KUNIT_CASE(dek_pte_bits),
	KUNIT_CASE(dek_restore_writable),
	{}
};

static struct kunit_suite dek_suite = {
	.name = "device_exclusive",
	.test_cases = dek_cases,
};

kunit_test_suites(&dek_suite);

MODULE_LICENSE("GPL v2");
