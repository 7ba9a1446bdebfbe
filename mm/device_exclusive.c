// SPDX-License-Identifier: GPL-2.0
/*
 * Device-exclusive access to anonymous pages.
 *
 * A device that does atomic operations on system memory asks for a range
 * with make_device_exclusive_range().  Each page of the range that can be
 * taken has its PTE replaced by a device-exclusive entry: a non-present
 * swap entry that names the page.  The CPU cannot reach the page through
 * it, so the device's atomics need not be coherent with the CPU's.  The
 * first CPU access faults, tells the device through an mmu notifier, and
 * puts the mapping back.
 *
 * The entry stands for the mapping it replaced: the page keeps its
 * mapcount and the reference that goes with it, so reclaim, migration,
 * compaction and memory offline see a mapped page, and each rmap walker
 * that can meet the entry either gives the page back to the CPU (unmap,
 * inside the walker's own notifier range) or leaves it alone.
 *
 * Locking: every change of an entry is made under the page table lock.
 * make_device_exclusive_range() installs entries with mmap_lock held for
 * read and the page locked, and the CPU fault removes them the same way;
 * try_to_unmap() callers hold the page lock too.  fork (mmap_lock held for
 * write), zap and mremap change entries without the page lock: the entry
 * keeps the page mapped, so there is no rmap to add or remove but the
 * mapping's own.
 */
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include <asm/tlbflush.h>

#include "internal.h"

/**
 * device_exclusive_restore_writable - may the CPU's mapping be writable
 * @vm_flags: the flags of the VMA that maps the page
 * @entry_pte: the device-exclusive entry being removed
 * @exclusive: whether the page is PageAnonExclusive()
 *
 * The mapping a device-exclusive entry stands for is writable only if
 * the entry is a write entry (the mapping it replaced was writable and no
 * mprotect() took that away since), the VMA is writable, the page is
 * exclusive to this mm, and no write-tracking mechanism has to see the
 * next write: neither uffd-wp nor soft-dirty.  Otherwise the mapping is
 * put back read-only and do_wp_page() decides on the next write.
 *
 * Context: any.
 * Return: true if the restored mapping may be writable.
 */
bool device_exclusive_restore_writable(unsigned long vm_flags, pte_t entry_pte,
				       bool exclusive)
{
	swp_entry_t entry = pte_to_swp_entry(entry_pte);

	if (!is_writable_device_exclusive_entry(entry) ||
	    !(vm_flags & VM_WRITE) || !exclusive)
		return false;
	if (pte_swp_uffd_wp(entry_pte))
		return false;
	/* Soft-dirty tracking is on and has not seen a write yet. */
	if (IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && !(vm_flags & VM_SOFTDIRTY) &&
	    !pte_swp_soft_dirty(entry_pte))
		return false;
	return true;
}

/**
 * device_exclusive_restore_locked - give a page back to the CPU
 * @vma: the VMA that maps the page
 * @addr: the address of the entry
 * @ptep: the entry, a device-exclusive one
 *
 * Replace the device-exclusive entry by the mapping it stands for.  The
 * page keeps its mapcount and reference, so there is nothing to account.
 * The caller has told the device already: it is inside an mmu notifier
 * invalidation of a range that contains @addr.
 *
 * Context: page table lock of @ptep held.
 */
void device_exclusive_restore_locked(struct vm_area_struct *vma,
				     unsigned long addr, pte_t *ptep)
{
	pte_t orig = *ptep;
	swp_entry_t entry = pte_to_swp_entry(orig);
	struct page *page = device_exclusive_entry_to_page(entry);
	pte_t pte;

	VM_WARN_ON_ONCE(!is_device_exclusive_pte(orig));
	VM_WARN_ON_ONCE_PAGE(!PageAnon(page), page);

	pte = pte_mkold(mk_pte(page, READ_ONCE(vma->vm_page_prot)));
	if (pte_swp_soft_dirty(orig))
		pte = pte_mksoft_dirty(pte);
	if (pte_swp_uffd_wp(orig))
		pte = pte_wrprotect(pte_mkuffd_wp(pte));
	if (device_exclusive_restore_writable(vma->vm_flags, orig,
					      PageAnonExclusive(page)))
		pte = pte_mkwrite(pte_mkdirty(pte));
	anon_exclusive_check_writable(page, pte_write(pte));
	/* The entry was not present: no TLB holds it. */
	set_pte_at(vma->vm_mm, addr, ptep, pte);
	update_mmu_cache(vma, addr, ptep);
}

/**
 * device_exclusive_fault - the CPU touches a page a device holds
 * @vmf: the fault; vmf->orig_pte is a device-exclusive entry
 *
 * Take a reference to the page while the entry, under the page table
 * lock, still holds it mapped, then lock it: the driver keeps it locked
 * from make_device_exclusive_range() until it has programmed the device.
 * Tell the device (MMU_NOTIFY_CLEAR, no owner, so that no driver takes
 * the invalidation for its own) and put the mapping back if the entry is
 * still there.  The access is then retried, and a write to a mapping put
 * back read-only goes to do_wp_page().
 *
 * Context: mmap_lock held for read.  If the page lock is not free, the
 * fault waits for it; with FAULT_FLAG_ALLOW_RETRY it drops mmap_lock
 * first (and with FAULT_FLAG_RETRY_NOWAIT it does not wait at all).
 * Return: 0, or VM_FAULT_RETRY when the page lock was not taken (mmap_lock
 * dropped unless FAULT_FLAG_RETRY_NOWAIT).
 */
vm_fault_t device_exclusive_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PAGE_MASK;
	struct mmu_notifier_range range;
	swp_entry_t entry;
	struct page *page;

	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
				       &vmf->ptl);
	if (unlikely(!pte_same(*vmf->pte, vmf->orig_pte))) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;
	}
	entry = pte_to_swp_entry(vmf->orig_pte);
	page = device_exclusive_entry_to_page(entry);
	/* The entry maps the page, so it has a reference to build on. */
	get_page(page);
	pte_unmap_unlock(vmf->pte, vmf->ptl);

	if (!lock_page_or_retry(page, vma->vm_mm, vmf->flags)) {
		put_page(page);
		return VM_FAULT_RETRY;
	}
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_CLEAR, 0, vma,
				      vma->vm_mm, addr, addr + PAGE_SIZE, NULL);
	mmu_notifier_invalidate_range_start(&range);
	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
				       &vmf->ptl);
	/* Unless the entry went meanwhile (zap, reclaim, another fault). */
	if (likely(pte_same(*vmf->pte, vmf->orig_pte)))
		device_exclusive_restore_locked(vma, addr, vmf->pte);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	mmu_notifier_invalidate_range_end(&range);
	unlock_page(page);
	put_page(page);
	return 0;
}

/**
 * device_exclusive_fork_restore - give a page back to the CPU before fork
 * @vma: the parent's VMA, a private one
 * @addr: the address of the entry
 * @ptep: the entry, a device-exclusive one
 *
 * fork() copies a page a device holds as the mapped page it is: the
 * parent's entry becomes the mapping again, and the child then shares the
 * page or gets a copy like any other anonymous page.  The device was told
 * by the notifier range fork opened over the parent's private VMA, before
 * it took any page table lock.
 *
 * The page lock is not needed: the entry kept the page's mapcount, so
 * there is no rmap to add back, and a driver still programming its device
 * with the page locked sees fork's invalidation in its sequence check.
 * Not waiting for that lock matters: such a driver may be waiting in
 * mmu_interval_read_begin() for fork's invalidation to end.  So fork
 * never waits for the device and never fails because of it.
 *
 * Context: the page table lock of @ptep held, mmap_lock held for write.
 */
void device_exclusive_fork_restore(struct vm_area_struct *vma,
				   unsigned long addr, pte_t *ptep)
{
	VM_WARN_ON_ONCE(!is_cow_mapping(vma->vm_flags));
	device_exclusive_restore_locked(vma, addr, ptep);
}

/**
 * device_exclusive_get_page - the page a device-exclusive entry holds
 * @vma: the VMA of @addr
 * @addr: the address to look at
 *
 * For move_pages(), which looks pages up with follow_page(): a page that
 * a device holds is still mapped, and moves like one (migration takes it
 * back from the device first).
 *
 * Context: mmap_lock held.
 * Return: the page, with a reference, if @addr holds a device-exclusive
 * entry; NULL otherwise.
 */
struct page *device_exclusive_get_page(struct vm_area_struct *vma,
				       unsigned long addr)
{
	struct page *page = NULL;
	spinlock_t *ptl;	/* the page table lock of the entry */
	pte_t *ptep;
	pmd_t *pmd;

	mmap_assert_locked(vma->vm_mm);
	pmd = mm_find_pmd(vma->vm_mm, addr);
	if (!pmd)
		return NULL;
	ptep = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (is_device_exclusive_pte(*ptep)) {
		page = device_exclusive_entry_to_page(pte_to_swp_entry(*ptep));
		get_page(page);
	}
	pte_unmap_unlock(ptep, ptl);
	return page;
}

#ifdef CONFIG_MMU_NOTIFIER
/*
 * Replace the writable PTE that maps @page at @addr by a device-exclusive
 * write entry.  Fails if the PTE no longer maps @page writable.
 */
static bool device_exclusive_install(struct vm_area_struct *vma,
				     unsigned long addr, struct page *page,
				     void *owner)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	bool done = false;
	swp_entry_t entry;
	spinlock_t *ptl;	/* the page table lock of the entry */
	pte_t *ptep, pteval, swp_pte;
	pmd_t *pmd;

	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_EXCLUSIVE, 0, vma, mm,
				      addr, addr + PAGE_SIZE, owner);
	mmu_notifier_invalidate_range_start(&range);
	pmd = mm_find_pmd(mm, addr);
	if (!pmd)
		goto out;
	ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);
	pteval = *ptep;
	/*
	 * Only a writable mapping of an anonymous page is exclusive to this
	 * mm: there is no other mapping the device could race with.
	 */
	if (!pte_present(pteval) || pte_pfn(pteval) != page_to_pfn(page) ||
	    !pte_write(pteval))
		goto unlock;
	anon_exclusive_check_writable(page, true);

	flush_cache_page(vma, addr, pte_pfn(pteval));
	pteval = ptep_clear_flush(vma, addr, ptep);
	/* The device may write the page; the CPU's dirty bit goes to it. */
	if (pte_dirty(pteval))
		set_page_dirty(page);
	entry = make_writable_device_exclusive_entry(page_to_pfn(page));
	swp_pte = swp_entry_to_pte(entry);
	if (pte_soft_dirty(pteval))
		swp_pte = pte_swp_mksoft_dirty(swp_pte);
	if (pte_uffd_wp(pteval))
		swp_pte = pte_swp_mkuffd_wp(swp_pte);
	set_pte_at(mm, addr, ptep, swp_pte);
	done = true;
unlock:
	pte_unmap_unlock(ptep, ptl);
out:
	mmu_notifier_invalidate_range_end(&range);
	return done;
}

/*
 * Look up the page at @addr writable and unshared, lock it, and make it
 * device-exclusive.  Returns the page, locked and referenced; NULL if it
 * cannot be made exclusive; or an error pointer if GUP finds nothing.
 */
static struct page *device_exclusive_one(struct mm_struct *mm,
					 unsigned long addr, void *owner)
{
	struct vm_area_struct *vma;
	struct page *page;
	long n;

	n = get_user_pages_remote(mm, addr, 1,
				  FOLL_GET | FOLL_WRITE | FOLL_SPLIT_PMD,
				  &page, &vma, NULL);
	if (n != 1)
		return ERR_PTR(n < 0 ? n : -EFAULT);

	/*
	 * Anonymous pages only.  GUP does not split hugetlb pages: refuse
	 * them here, before any rmap code sees one.
	 */
	if (!PageAnon(page) || PageKsm(page) || PageHuge(page) ||
	    is_zone_device_page(page) || is_vm_hugetlb_page(vma))
		goto put;
	if (lock_page_killable(page))
		goto put;
	/*
	 * The caller unlocks every page it gets: a page of a THP (mapped by
	 * PTEs after FOLL_SPLIT_PMD) shares its head's lock, so split it.
	 * The page we hold stays locked and referenced.
	 */
	if (PageTransCompound(page) && split_huge_page(page))
		goto unlock;
	if (!device_exclusive_install(vma, addr, page, owner))
		goto unlock;
	return page;
unlock:
	unlock_page(page);
put:
	put_page(page);
	return NULL;
}

/**
 * make_device_exclusive_range() - mark a range for exclusive use by a device
 * @mm: the mm of the range
 * @start: start of the range, page aligned
 * @end: end of the range, page aligned, above @start
 * @pages: array of (@end - @start) / PAGE_SIZE entries, filled in
 * @owner: the caller's cookie, passed as the owner of the
 *	MMU_NOTIFY_EXCLUSIVE invalidation that takes each page, so that the
 *	caller can tell it from other invalidations
 *
 * Look up each page of the range as GUP does for a write (faulting it in
 * and breaking COW), and replace the CPU's mapping of it by a
 * device-exclusive entry.  The device may then access the page, atomics
 * included, until the CPU touches it: that fault, or anything else that
 * takes the page back (fork, reclaim, migration, munmap, mprotect), tells
 * the driver through its mmu notifier, with an event other than
 * MMU_NOTIFY_EXCLUSIVE or with no owner.
 *
 * Only private anonymous pages can be made exclusive; a page of a THP
 * gets the THP split first.  Hugetlb, KSM, file and device pages, and
 * pages whose mapping changed under the call, are left as they were.
 *
 * The driver programs the device for a page only inside its
 * mmu_interval_notifier critical section (mmu_interval_read_retry() under
 * its lock), then unlocks and puts the page.  It must not take mmap_lock
 * while it holds one of the pages locked.
 *
 * Context: process context; mmap_lock of @mm held for read.  Sleeps.
 * Return: the number of pages looked up, from @start on; @pages[i] is the
 * i-th page, locked and referenced, or NULL if it was not made exclusive.
 * -EINVAL for a range that is not page aligned, empty, or of more than
 * INT_MAX pages; -EFAULT or the
 * error GUP returned if the first page cannot be looked up.
 */
int make_device_exclusive_range(struct mm_struct *mm, unsigned long start,
				unsigned long end, struct page **pages,
				void *owner)
{
	unsigned long addr;
	struct page *page;
	int i = 0;

	mmap_assert_locked(mm);
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || end <= start ||
	    (end - start) >> PAGE_SHIFT > INT_MAX)
		return -EINVAL;

	for (addr = start; addr < end; addr += PAGE_SIZE, i++) {
		page = device_exclusive_one(mm, addr, owner);
		if (IS_ERR(page))
			return i ? i : PTR_ERR(page);
		pages[i] = page;
	}
	return i;
}
EXPORT_SYMBOL_GPL(make_device_exclusive_range);
#endif /* CONFIG_MMU_NOTIFIER */
