// SPDX-License-Identifier: GPL-2.0
/*
 * Exclusively owned anonymous pages: deciding when a write fault may reuse
 * the page it hit instead of copying it.
 *
 * PG_anon_exclusive (PageAnonExclusive()) says that an anonymous page is
 * mapped by one mm only and that no other mm may map it before the flag
 * is cleared.  Such a page is reused by a write fault whatever its
 * reference count: the extra references may be pins, and reusing the
 * page is what keeps them coherent with the page tables.  A page without
 * the flag may still be reused, and become exclusive, when its reference
 * count proves that nothing else holds it.  See
 * Documentation/mm/anon_exclusive.rst.
 */
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/pagemap.h>

#include "internal.h"

/**
 * wp_can_reuse_locked_anon_page() - may a write fault reuse a locked page?
 * @vma: the vma of the fault
 * @page: the page the write-protected entry maps: the page a PTE maps
 *	  (possibly a subpage of a THP), or the head of a PMD-mapped THP
 *
 * A page that is not exclusive is reused only if nothing but this mapping
 * (and the swap cache, which is dropped then) holds a reference to it; it
 * is then moved to @vma's anon_vma and becomes exclusive.  KSM pages are
 * never reused.
 *
 * Context: the page table lock of the entry and the page lock are held.
 * Return: true if the caller may make the entry writable and keep @page.
 */
bool wp_can_reuse_locked_anon_page(struct vm_area_struct *vma,
				   struct page *page)
{
	struct page *head = compound_head(page);

	VM_BUG_ON_PAGE(!PageAnon(page), page);
	VM_BUG_ON_PAGE(!PageLocked(head), page);

	if (PageSwapCache(head))
		try_to_free_swap(head);
	if (PageKsm(head) || page_count(head) != 1)
		return false;
	/*
	 * The only reference is that of our mapping, and the page lock keeps
	 * new swap cache references away: nobody else can map the page now.
	 */
	page_move_anon_rmap(head, vma);
	SetPageAnonExclusive(page);
	return true;
}

/**
 * __wp_can_reuse_anon_page() - may a write fault reuse a shared-looking page?
 * @vma: the vma of the fault
 * @page: the page the write-protected PTE maps (possibly a subpage of a
 *	  THP)
 *
 * The slow part of wp_can_reuse_anon_page(), for a page that is not
 * exclusive and that it could not refuse at once; see
 * wp_can_reuse_locked_anon_page().  The page lock is only tried, never
 * waited for: when it is busy, the caller copies.
 *
 * Context: the page table lock of the entry is held; may take the page
 * lock with trylock_page() and drain the local LRU pagevecs.
 * Return: true if the caller may make the entry writable and keep @page.
 */
bool __wp_can_reuse_anon_page(struct vm_area_struct *vma, struct page *page)
{
	struct page *head = compound_head(page);
	bool reuse;

	if (PageKsm(head))
		return false;
	/*
	 * A page that is not on the LRU yet may owe a reference to a per-CPU
	 * pagevec: drain the local ones once before giving up on it.
	 */
	if (page_count(head) > anon_page_unshared_refs(head)) {
		lru_add_drain();
		if (page_count(head) > anon_page_unshared_refs(head))
			return false;
	}
	if (!trylock_page(head))
		return false;
	reuse = wp_can_reuse_locked_anon_page(vma, page);
	unlock_page(head);
	return reuse;
}
