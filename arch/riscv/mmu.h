/*
 * mmu.h - kernel page tables (Sv39, or Sv48 when every hart's mmu-type
 * allows it).
 *
 * Layout of the kernel address space:
 *   - all RAM found in the FDT, except no-map reservations, is identity-mapped
 *     (VA == PA), read-write and never executable, with 1 GiB / 2 MiB pages
 *     where alignment allows;
 *   - the kernel image sits inside that map with 4 KiB pages and per-section
 *     rights: text R-X, rodata R--, data and bss RW-;
 *   - device registers that drivers registered with mmu_early_mmio() are
 *     identity-mapped RW-;
 *   - MMU_HEAP_BASE.. (the upper half) is left empty for mapped allocations
 *     (the vmem kernel heap), managed with mmu_map_page/mmu_unmap_page.
 */
#ifndef ARCH_RISCV_MMU_H
#define ARCH_RISCV_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plat_map;

#define MMU_PROT_R	1u
#define MMU_PROT_W	2u
#define MMU_PROT_X	4u

#define MMU_PAGE_SIZE	4096UL
#define MMU_HEAP_BASE	0xffffffc000000000UL	/* lowest upper-half VA in Sv39 */
#define MMU_HEAP_SIZE	(64UL << 30)		/* 64 GiB of heap address space */

extern unsigned long kernel_satp;	/* read by secondary harts in entry.S */

/* Record a device range to identity-map (before mmu_init). */
void mmu_early_mmio(uint64_t pa, uint64_t size);

/* Build the kernel page tables from bootmem and enable paging on this hart. */
void mmu_init(const struct plat_map *pm);

unsigned mmu_levels(void);		/* 3 (Sv39) or 4 (Sv48); 0 before mmu_init */

/*
 * After bootmem closes, page-table pages come from this function (the page
 * allocator installs it).  It returns a zeroed page or false.
 */
void mmu_set_pt_alloc(bool (*alloc)(uint64_t *pa));

/*
 * Map one 4 KiB page.  0 on success, -1 if a page-table page could not be
 * allocated, -2 if va is already mapped (nothing changed in either case).
 */
int mmu_map_page(uintptr_t va, uint64_t pa, unsigned prot);

/* Unmap one 4 KiB page; returns true and its physical address, false if unmapped.
 * The caller shoots down the TLBs (mmu_tlb_shootdown) before reusing pa. */
bool mmu_unmap_page(uintptr_t va, uint64_t *pa);

/* Walk the tables: true with pa and prot if va is mapped (any page size). */
bool mmu_translate(uintptr_t va, uint64_t *pa, unsigned *prot);

/* Invalidate [va, va+size) in this hart's TLB and, through SBI RFENCE, in every
 * other online hart's; returns once all of them have done it. */
void mmu_tlb_shootdown(uintptr_t va, size_t size);

/* Invalidate [va, va+size) in this hart's TLB only (the whole TLB if large). */
void mmu_tlb_flush_local(uintptr_t va, size_t size);

/* Invalidate every translation in this hart's TLB and in every other online
 * hart's (one SBI RFENCE per 64-hart window); returns once all have done it. */
void mmu_tlb_flush_all(void);

struct mmu_stats {
	uint64_t ms_pt_pages;		/* page-table pages in use */
	uint64_t ms_maps;		/* mmu_map_page successes */
	uint64_t ms_unmaps;		/* mmu_unmap_page successes */
	uint64_t ms_shootdowns;		/* mmu_tlb_shootdown calls */
	uint64_t ms_full_flushes;	/* mmu_tlb_flush_all calls */
	uint64_t ms_giga, ms_mega, ms_kilo;	/* boot-time leaves by size */
};
void mmu_get_stats(struct mmu_stats *st);

/*
 * Page-table pages taken from the page allocator (after boot; they are never
 * freed) that lie in zone `type` (enum page_zone_type) of `node`: a counter
 * of its own, so that a check of free pages per zone (the stress run) can
 * tell page tables from lost pages.
 */
uint64_t mmu_pt_pages_zone(int node, int type);

#endif /* ARCH_RISCV_MMU_H */
