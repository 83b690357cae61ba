/*
 * mmu.c - Sv39/Sv48 page tables for the kernel (layout in mmu.h).
 *
 * Tables.  One root shared by every hart (kernel_satp).  Each table is a
 * 4 KiB page of 512 PTEs; a PTE with any of R/W/X set is a leaf, otherwise
 * it points to the next level.  Leaves are created with A and D already set
 * so that no hardware or software A/D update is ever needed.
 *
 * Boot.  mmu_init() runs once on the boot hart with the MMU off: it takes
 * table pages from bootmem, maps RAM and the image, then writes satp.  If
 * the hart refuses Sv48 (satp is WARL: an unsupported mode leaves it bare)
 * the tables are rebuilt for Sv39.  Secondary harts load kernel_satp in
 * entry.S.
 *
 * Locking.  mmu_lock serialises changes after boot (heap map/unmap).  Order
 * (docs/kernel.md): vmem arena lock, mmu_lock, zone lock (a table page is
 * allocated while mmu_lock is held), printk_lock.  Walks
 * that only read (mmu_translate) take it too, so they never see a table being
 * built.  TLB shootdown is done by the caller after unmapping, outside the
 * lock, through SBI RFENCE, which returns after every target has flushed:
 * either for a range (mmu_tlb_shootdown) or for everything
 * (mmu_tlb_flush_all, which the heap's lazy purge uses, kernel/segkmem.c).
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/mmu.h"
#include "arch/riscv/sbi.h"
#include "arch/riscv/spinlock.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "mm/bootmem.h"
#include "mm/page.h"

#define PTE_V	(1UL << 0)
#define PTE_R	(1UL << 1)
#define PTE_W	(1UL << 2)
#define PTE_X	(1UL << 3)
#define PTE_G	(1UL << 5)
#define PTE_A	(1UL << 6)
#define PTE_D	(1UL << 7)
#define PTE_LEAF (PTE_R | PTE_W | PTE_X)
#define PTE_PPN_SHIFT 10

/*
 * Above this many bytes a local flush drops the whole TLB rather than walk
 * the range page by page: 64 single-page sfence.vma cost more than refilling
 * a TLB of that size (OpenSBI makes the same choice for remote fences, at a
 * lower limit).
 */
#define MMU_LOCAL_FLUSH_MAX	(64 * MMU_PAGE_SIZE)
/* An SBI RFENCE size meaning "the whole address space" (SBI spec, RFENCE). */
#define SBI_RFENCE_ALL		(~0UL)

#define MMU_MAX_MMIO	16

unsigned long kernel_satp;
static uint64_t *mmu_root;
static unsigned mmu_nlevels;
static spinlock_t mmu_lock = SPINLOCK_INIT("mmu", LOCK_RANK_MMU);
SPINLOCK_REGISTER(mmu_lock);	/* lockstat sees it */
static bool (*mmu_pt_alloc)(uint64_t *pa);
static struct mmu_stats mmu_st;
/* Page-table pages taken from the page allocator, per node and zone type. */
static uint64_t mmu_pt_zone[MM_MAX_NODES][PAGE_NR_ZONE_TYPES];
static struct { uint64_t base, size; } mmu_mmio[MMU_MAX_MMIO];
static unsigned mmu_nmmio;

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __kernel_end[], __kernel_start[];

void mmu_early_mmio(uint64_t pa, uint64_t size)
{
	if (mmu_nmmio == MMU_MAX_MMIO)
		panic("mmu_early_mmio: more than %d device ranges (0x%lx)", MMU_MAX_MMIO,
		      (unsigned long)pa);
	mmu_mmio[mmu_nmmio].base = pa;
	mmu_mmio[mmu_nmmio++].size = size;
}

unsigned mmu_levels(void)
{
	return mmu_nlevels;
}

void mmu_set_pt_alloc(bool (*alloc)(uint64_t *pa))
{
	mmu_pt_alloc = alloc;
}

/* Count a table page from the page allocator under its node and zone type. */
static void mmu_count_paged_table(uint64_t pa)
{
	int node = page_node_of(pa), type = page_zone_type_of(pa);

	if (node >= 0 && node < MM_MAX_NODES && type >= 0 && type < PAGE_NR_ZONE_TYPES)
		__atomic_fetch_add(&mmu_pt_zone[node][type], 1, __ATOMIC_RELAXED);
}

uint64_t mmu_pt_pages_zone(int node, int type)
{
	if (node < 0 || node >= MM_MAX_NODES || type < 0 || type >= PAGE_NR_ZONE_TYPES)
		return 0;
	return __atomic_load_n(&mmu_pt_zone[node][type], __ATOMIC_RELAXED);
}

/* A zeroed page for a table: the page allocator's hook, else bootmem. */
static uint64_t *mmu_alloc_table(void)
{
	uint64_t pa;

	if (mmu_pt_alloc) {
		if (!mmu_pt_alloc(&pa))
			return NULL;
		memset((void *)(uintptr_t)pa, 0, MMU_PAGE_SIZE);
		mmu_count_paged_table(pa);
	} else if (!bootmem_alloc(MMU_PAGE_SIZE, MMU_PAGE_SIZE, BOOTMEM_ANY_NODE, false, 0, &pa)) {
		return NULL;
	}
	mmu_st.ms_pt_pages++;
	return (uint64_t *)(uintptr_t)pa;
}

static inline unsigned vpn(uintptr_t va, unsigned level)
{
	return (va >> (12 + 9 * level)) & 511;
}

static inline uint64_t *pte_table(uint64_t pte)
{
	return (uint64_t *)(uintptr_t)((pte >> PTE_PPN_SHIFT) << 12);
}

/* The PTE slot for va at `level`, creating tables above it; NULL if out of memory
 * or a leaf already covers va at a higher level. */
static uint64_t *mmu_walk(uintptr_t va, unsigned level, bool create)
{
	uint64_t *table = mmu_root;

	for (unsigned l = mmu_nlevels - 1; l > level; l--) {
		uint64_t *pte = &table[vpn(va, l)];

		if (*pte & PTE_V) {
			if (*pte & PTE_LEAF)
				return NULL;
			table = pte_table(*pte);
			continue;
		}
		if (!create || !(table = mmu_alloc_table()))
			return NULL;
		*pte = (((uintptr_t)table >> 12) << PTE_PPN_SHIFT) | PTE_V;
	}
	return &table[vpn(va, level)];
}

static uint64_t prot_bits(unsigned prot)
{
	return ((prot & MMU_PROT_R) ? PTE_R : 0) | ((prot & MMU_PROT_W) ? PTE_W : 0) |
	       ((prot & MMU_PROT_X) ? PTE_X : 0) | PTE_V | PTE_A | PTE_D | PTE_G;
}

/* Map [va, va+size) -> pa at boot with the largest pages alignment allows. */
static void mmu_map_range(uintptr_t va, uint64_t pa, uint64_t size, unsigned prot)
{
	uint64_t end = va + size;

	while (va < end) {
		unsigned level = 2;
		uint64_t *pte;

		while (level > 0 && ((va | pa) & ((1UL << (12 + 9 * level)) - 1) ||
				     va + (1UL << (12 + 9 * level)) > end))
			level--;
		pte = mmu_walk(va, level, true);
		if (!pte)
			panic("mmu: out of boot memory mapping 0x%lx", (unsigned long)va);
		*pte = ((pa >> 12) << PTE_PPN_SHIFT) | prot_bits(prot);
		if (level == 2)
			mmu_st.ms_giga++;
		else if (level == 1)
			mmu_st.ms_mega++;
		else
			mmu_st.ms_kilo++;
		va += 1UL << (12 + 9 * level);
		pa += 1UL << (12 + 9 * level);
	}
}

/*
 * Identity-map [lo, hi) RW, leaving holes for the 2 MiB window around the
 * image (mapped by section below) and for every no-map reservation (the
 * device tree forbids any mapping there; a driver that owns one, such as a
 * no-map DMA pool, maps it itself).  Holes are taken in turn from `hole`.
 */
static void mmu_map_ram(const struct plat_map *pm, uint64_t lo, uint64_t hi, unsigned hole,
			uint64_t win_lo, uint64_t win_hi)
{
	for (; hole <= pm->pm_nresv; hole++) {
		uint64_t h_lo = win_lo, h_hi = win_hi;

		if (hole < pm->pm_nresv) {
			if (!pm->pm_resv[hole].pr_no_map)
				continue;
			h_lo = ALIGN_DOWN(pm->pm_resv[hole].pr_base, MMU_PAGE_SIZE);
			h_hi = ALIGN_UP(pm->pm_resv[hole].pr_base + pm->pm_resv[hole].pr_size,
					MMU_PAGE_SIZE);
		}
		if (h_hi <= lo || h_lo >= hi)
			continue;
		if (lo < h_lo)
			mmu_map_ram(pm, lo, h_lo, hole + 1, win_lo, win_hi);
		if (hi > h_hi)
			mmu_map_ram(pm, h_hi, hi, hole + 1, win_lo, win_hi);
		return;
	}
	mmu_map_range(lo, lo, hi - lo, MMU_PROT_R | MMU_PROT_W);
}

/* The image by section, and the rest of its 2 MiB window (if RAM) read-write. */
static void mmu_map_image(const struct plat_map *pm, uint64_t win_lo, uint64_t win_hi)
{
	uintptr_t ts = (uintptr_t)__text_start, rs = (uintptr_t)__rodata_start;
	uintptr_t ds = (uintptr_t)__data_start, ke = (uintptr_t)__kernel_end;

	mmu_map_range(ts, ts, (uintptr_t)__text_end - ts, MMU_PROT_R | MMU_PROT_X);
	mmu_map_range(rs, rs, (uintptr_t)__rodata_end - rs, MMU_PROT_R);
	mmu_map_range(ds, ds, ke - ds, MMU_PROT_R | MMU_PROT_W);
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		uint64_t lo = MAX(pm->pm_mem[i].pmr_base, win_lo);
		uint64_t hi = MIN(pm->pm_mem[i].pmr_base + pm->pm_mem[i].pmr_size, win_hi);

		if (lo < (uintptr_t)__kernel_start && lo < hi)
			mmu_map_range(lo, lo, MIN(hi, (uintptr_t)__kernel_start) - lo,
				      MMU_PROT_R | MMU_PROT_W);
		lo = MAX(lo, ke);
		if (lo < hi)
			mmu_map_range(lo, lo, hi - lo, MMU_PROT_R | MMU_PROT_W);
	}
}

/* Build every boot mapping into a fresh root for `levels`. */
static void mmu_build(const struct plat_map *pm, unsigned levels)
{
	uint64_t win_lo = ALIGN_DOWN((uint64_t)(uintptr_t)__kernel_start, 2UL << 20);
	uint64_t win_hi = ALIGN_UP((uint64_t)(uintptr_t)__kernel_end, 2UL << 20);
	uint64_t va_limit = 1UL << (12 + 9 * levels - 1);

	mmu_nlevels = levels;
	mmu_root = mmu_alloc_table();
	if (!mmu_root)
		panic("mmu: no boot memory for the root page table");
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		uint64_t lo = ALIGN_UP(pm->pm_mem[i].pmr_base, MMU_PAGE_SIZE);
		uint64_t hi = ALIGN_DOWN(pm->pm_mem[i].pmr_base + pm->pm_mem[i].pmr_size, MMU_PAGE_SIZE);

		if (hi > va_limit)
			panic("mmu: RAM up to 0x%lx lies beyond the %u-level identity map (0x%lx)",
			      (unsigned long)hi, levels, (unsigned long)va_limit);
		if (lo < hi)
			mmu_map_ram(pm, lo, hi, 0, win_lo, win_hi);
	}
	mmu_map_image(pm, win_lo, win_hi);
	for (unsigned i = 0; i < mmu_nmmio; i++) {
		uint64_t lo = ALIGN_DOWN(mmu_mmio[i].base, MMU_PAGE_SIZE);
		uint64_t hi = ALIGN_UP(mmu_mmio[i].base + mmu_mmio[i].size, MMU_PAGE_SIZE);

		mmu_map_range(lo, lo, hi - lo, MMU_PROT_R | MMU_PROT_W);
	}
}

/* The deepest paging mode every enabled hart's mmu-type allows (3 or 4). */
static unsigned mmu_pick_levels(const struct plat_map *pm)
{
	unsigned levels = 4;

	for (unsigned i = 0; i < pm->pm_nharts; i++)
		if (pm->pm_harts[i].ph_enabled && pm->pm_harts[i].ph_mmu_levels < levels)
			levels = pm->pm_harts[i].ph_mmu_levels;
	return levels >= 4 ? 4 : 3;
}

void mmu_init(const struct plat_map *pm)
{
	unsigned levels = mmu_pick_levels(pm);
	unsigned long mode = levels == 4 ? SATP_MODE_SV48 : SATP_MODE_SV39;

	mmu_build(pm, levels);
	kernel_satp = mode | ((uintptr_t)mmu_root >> 12);
	__asm__ volatile("sfence.vma" ::: "memory");
	csr_write(satp, kernel_satp);
	if (csr_read(satp) != kernel_satp) {	/* Sv48 refused: fall back to Sv39 */
		printk("mmu: hart refused Sv48, using Sv39\n");
		memset(&mmu_st, 0, sizeof(mmu_st));
		mmu_build(pm, 3);
		kernel_satp = SATP_MODE_SV39 | ((uintptr_t)mmu_root >> 12);
		csr_write(satp, kernel_satp);
	}
	__asm__ volatile("sfence.vma" ::: "memory");
}

int mmu_map_page(uintptr_t va, uint64_t pa, unsigned prot)
{
	unsigned long flags = spin_lock_irqsave(&mmu_lock);
	uint64_t *pte = mmu_walk(va, 0, true);
	int ret = 0;

	if (!pte)
		ret = -1;
	else if (*pte & PTE_V)
		ret = -2;
	else {
		*pte = ((pa >> 12) << PTE_PPN_SHIFT) | prot_bits(prot);
		mmu_st.ms_maps++;
	}
	spin_unlock_irqrestore(&mmu_lock, flags);
	/* A new mapping needs no remote flush: no TLB holds an invalid PTE. */
	__asm__ volatile("sfence.vma %0" :: "r"(va) : "memory");
	return ret;
}

bool mmu_unmap_page(uintptr_t va, uint64_t *pa)
{
	unsigned long flags = spin_lock_irqsave(&mmu_lock);
	uint64_t *pte = mmu_walk(va, 0, false);
	bool ok = pte && (*pte & PTE_V);

	if (ok) {
		*pa = (*pte >> PTE_PPN_SHIFT) << 12;
		*pte = 0;
		mmu_st.ms_unmaps++;
	}
	spin_unlock_irqrestore(&mmu_lock, flags);
	return ok;
}

bool mmu_translate(uintptr_t va, uint64_t *pa, unsigned *prot)
{
	unsigned long flags = spin_lock_irqsave(&mmu_lock);
	uint64_t *table = mmu_root, pte = 0;
	unsigned l = mmu_nlevels;

	while (l-- > 0) {
		pte = table[vpn(va, l)];
		if (!(pte & PTE_V) || (pte & PTE_LEAF))
			break;
		table = pte_table(pte);
	}
	spin_unlock_irqrestore(&mmu_lock, flags);
	if (!(pte & PTE_V) || !(pte & PTE_LEAF))
		return false;
	*pa = ((pte >> PTE_PPN_SHIFT) << 12) + (va & ((1UL << (12 + 9 * l)) - 1));
	*prot = ((pte & PTE_R) ? MMU_PROT_R : 0) | ((pte & PTE_W) ? MMU_PROT_W : 0) |
		((pte & PTE_X) ? MMU_PROT_X : 0);
	return true;
}

/*
 * Ask SBI to flush [va, va+size) on every other online hart whose hart id
 * lies in [base, base + 64): one RFENCE call per 64-hart window, so OpenSBI
 * signals all of them at once and waits once.  Returns the next window base
 * above `base` that still has a target, or ~0 when there is none.
 */
static unsigned long mmu_rfence_window(unsigned long base, uintptr_t va, size_t size)
{
	unsigned long mask = 0, next = ~0UL;

	for (unsigned c = 0; c < ncpus; c++) {
		unsigned long id = harts[c].h_hartid;

		if (c == this_cpu() || harts[c].h_state != HART_ONLINE || id < base)
			continue;
		if (id - base < 64)
			mask |= 1UL << (id - base);
		else if (id - id % 64 < next)
			next = id - id % 64;
	}
	if (mask)
		sbi_remote_sfence_vma(mask, base, va, size);
	return next;
}

void mmu_tlb_flush_local(uintptr_t va, size_t size)
{
	if (size > MMU_LOCAL_FLUSH_MAX) {
		__asm__ volatile("sfence.vma" ::: "memory");
		return;
	}
	for (uintptr_t p = va; p < va + size; p += MMU_PAGE_SIZE)
		__asm__ volatile("sfence.vma %0" :: "r"(p) : "memory");
}

void mmu_tlb_shootdown(uintptr_t va, size_t size)
{
	mmu_tlb_flush_local(va, size);
	for (unsigned long base = 0; base != ~0UL;)
		base = mmu_rfence_window(base, va, size);
	__atomic_fetch_add(&mmu_st.ms_shootdowns, 1, __ATOMIC_RELAXED);
}

void mmu_tlb_flush_all(void)
{
	__asm__ volatile("sfence.vma" ::: "memory");
	for (unsigned long base = 0; base != ~0UL;)
		base = mmu_rfence_window(base, 0, SBI_RFENCE_ALL);
	__atomic_fetch_add(&mmu_st.ms_full_flushes, 1, __ATOMIC_RELAXED);
}

void mmu_get_stats(struct mmu_stats *st)
{
	*st = mmu_st;
}
