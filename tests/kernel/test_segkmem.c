/*
 * test_segkmem.c - pages mapped into the kernel heap's address space
 * (kernel/segkmem.c) and coherent DMA: allocations on
 * every hart at once and freed on another hart, guard pages and
 * use-after-free (on the freeing hart at once, on a hart that had the range
 * in its TLB after the purge) ending in panics that name the allocation,
 * the lazy TLB purge (a freed range is not reused before the purge, is after,
 * and the dirty list stays under its limit, as vmem itself counts), and the
 * shared-dma-pool arenas.
 */
#include "arch/riscv/mmu.h"
#include "kernel/dma.h"
#include "kernel/hart.h"
#include "kernel/segkmem.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/smp.h"

extern struct plat_map boot_plat_map;
const char *segkmem_fault_last(void);

#define SK_PER_HART	16	/* slots per hart */
#define SK_TOTAL	64	/* allocations in all: the test's work does not grow with harts */

static uint8_t *sk_slots[MAX_CPUS][SK_PER_HART];	/* allocations by hart */
static volatile int sk_bad;				/* pattern mismatches */

static int segkmem_suite_init(void)
{
	segkmem_init();
	dma_init(&boot_plat_map);
	return 0;
}

/* Size of allocation i: 1 to 5 pages, not page multiples. */
static size_t sk_size(unsigned i) { return (i % 5 + 1) * MMU_PAGE_SIZE - 100; }

/* Slots each hart uses: SK_TOTAL spread over the harts, at least one each. */
static unsigned sk_per_hart(void)
{
	unsigned n = SK_TOTAL / cpu_count();

	return n < 1 ? 1 : n > SK_PER_HART ? SK_PER_HART : n;
}

/* Each hart allocates and stamps its slots (run on every hart). */
static void sk_alloc_all(void *arg)
{
	unsigned c = cpu_id();

	(void)arg;
	for (unsigned i = 0; i < sk_per_hart(); i++) {
		uint8_t *p = segkmem_alloc(sk_size(i), VM_NOSLEEP);

		sk_slots[c][i] = p;
		if (p == NULL) {
			sk_bad++;
			continue;
		}
		memset(p, (int)(c * 16 + i), sk_size(i));
	}
}

/* Each hart checks and frees the next hart's slots. */
static void sk_free_next(void *arg)
{
	unsigned c = (cpu_id() + 1) % cpu_count();

	(void)arg;
	for (unsigned i = 0; i < sk_per_hart(); i++) {
		uint8_t *p = sk_slots[c][i];

		if (p == NULL)
			continue;
		if (p[0] != (uint8_t)(c * 16 + i) || p[sk_size(i) - 1] != (uint8_t)(c * 16 + i))
			sk_bad++;
		segkmem_free(p, sk_size(i));
		sk_slots[c][i] = NULL;
	}
}

/* Every hart allocates at once, writes, and another hart frees: no overlap, nothing leaks. */
static void segkmem_test_all_harts_alloc_free_elsewhere(struct ktest *t)
{
	size_t before;
	char err[128];

	segkmem_purge();
	before = vmem_size(segkmem_arena(), VMEM_ALLOC);
	sk_bad = 0;
	cpu_call_all(sk_alloc_all, NULL);
	KEXPECT_EQ(t, sk_bad, 0);
	cpu_call_all(sk_free_next, NULL);
	KEXPECT_EQ(t, sk_bad, 0);
	segkmem_purge();
	KEXPECT_EQ(t, vmem_size(segkmem_arena(), VMEM_ALLOC), before);
	KEXPECT_TRUE(t, vmem_check(segkmem_arena(), err, sizeof(err)));
}

/* Allocations are mapped, zeroed, and separated by an unmapped guard page. */
static void segkmem_test_guard_page_unmapped(struct ktest *t)
{
	uint8_t *p = segkmem_alloc(3 * MMU_PAGE_SIZE, 0);
	uint64_t pa;
	unsigned prot;

	KASSERT_NOT_NULL(t, p);
	KEXPECT_TRUE(t, (uintptr_t)p >= MMU_HEAP_BASE);
	for (unsigned i = 0; i < 3; i++)
		KEXPECT_TRUE(t, mmu_translate((uintptr_t)p + i * MMU_PAGE_SIZE, &pa, &prot));
	KEXPECT_FALSE(t, mmu_translate((uintptr_t)p + 3 * MMU_PAGE_SIZE, &pa, &prot));
	KEXPECT_EQ(t, p[100] | p[3 * MMU_PAGE_SIZE - 1], 0);
	segkmem_free(p, 3 * MMU_PAGE_SIZE);
	KEXPECT_FALSE(t, mmu_translate((uintptr_t)p, &pa, &prot));
}

/* Writing one byte past an allocation faults in the guard page; the report names the allocation. */
static void segkmem_test_overrun_panics_naming_allocation(struct ktest *t)
{
	uint8_t *p = segkmem_alloc(2 * MMU_PAGE_SIZE, 0);
	volatile uint8_t *past = p + 2 * MMU_PAGE_SIZE;

	KASSERT_NOT_NULL(t, p);
	KTEST_EXPECT_PANIC(t, *past = 1, "store/AMO page fault");
	KEXPECT_TRUE(t, ktest_msg_has(segkmem_fault_last(), "guard page of heap allocation"));
	KTEST_EXPECT_PANIC(t, *past = 2, "guard page of heap allocation");
	segkmem_free(p, 2 * MMU_PAGE_SIZE);
}

static volatile uint8_t *sk_remote_p;
static struct ktest *sk_remote_t;

/* On another hart: read the memory (fills that hart's TLB). */
static void sk_remote_touch(void *arg)
{
	(void)arg;
	(void)*sk_remote_p;
}

/* On another hart, after the free: the read must fault. */
static void sk_remote_touch_freed(void *arg)
{
	(void)arg;
	KTEST_EXPECT_PANIC(sk_remote_t, (void)*sk_remote_p, "load page fault");
}

/* After a free, touching the range faults on this hart at once and, after the
 * purge, on a hart that had it in its TLB (before the purge that hart may
 * still translate it: segkmem.c §4, so that is not checked). */
static void segkmem_test_use_after_free_panics_on_every_hart(struct ktest *t)
{
	uint8_t *p = segkmem_alloc(MMU_PAGE_SIZE, 0);
	unsigned other = cpu_count() > 1 ? (cpu_id() + 1) % cpu_count() : cpu_id();

	KASSERT_NOT_NULL(t, p);
	p[0] = 7;
	sk_remote_p = p;
	sk_remote_t = t;
	if (other != cpu_id())
		cpu_call_one(other, sk_remote_touch, NULL);
	segkmem_free(p, MMU_PAGE_SIZE);
	KTEST_EXPECT_PANIC(t, (void)*sk_remote_p, "load page fault");
	KEXPECT_TRUE(t, ktest_msg_has(segkmem_fault_last(), "use after free"));
	KTEST_EXPECT_PANIC(t, (void)*sk_remote_p, "TLB purge pending");
	segkmem_purge();
	KTEST_EXPECT_PANIC(t, (void)*sk_remote_p, "use after free: heap allocation");
	KEXPECT_FALSE(t, ktest_msg_has(segkmem_fault_last(), "purge pending"));
	if (other != cpu_id())
		cpu_call_one(other, sk_remote_touch_freed, NULL);
	else
		ktest_log(t, "one hart: remote shootdown not exercised");
}

/* Freeing something that is not a live heap allocation panics before unmapping anything. */
static void segkmem_test_bad_free_panics(struct ktest *t)
{
	uint8_t *p = segkmem_alloc(2 * MMU_PAGE_SIZE, 0);
	uint64_t pa;
	unsigned prot;

	KASSERT_NOT_NULL(t, p);
	KTEST_EXPECT_PANIC(t, segkmem_free(p, MMU_PAGE_SIZE), "not a live heap allocation");
	KTEST_EXPECT_PANIC(t, segkmem_free(p + MMU_PAGE_SIZE, MMU_PAGE_SIZE), "segkmem_free");
	KEXPECT_TRUE(t, mmu_translate((uintptr_t)p, &pa, &prot));
	segkmem_free(p, 2 * MMU_PAGE_SIZE);
	KTEST_EXPECT_PANIC(t, segkmem_free(p, 2 * MMU_PAGE_SIZE), "already freed, TLB purge");
	segkmem_purge();
	KTEST_EXPECT_PANIC(t, segkmem_free(p, 2 * MMU_PAGE_SIZE), "not a live heap allocation");
}

#define SK_PAGE	MMU_PAGE_SIZE

/* Can exactly [va, va + len) be taken from the heap arena now?  (Gives it back.) */
static bool sk_range_free(uintptr_t va, size_t len)
{
	uintptr_t a = vmem_xalloc(segkmem_arena(), len, 0, 0, 0, va, va + len, VM_NOSLEEP);

	if (a != 0)
		vmem_xfree(segkmem_arena(), a, len);
	return a == va;
}

/* A freed range stays out of the arena until a purge, and is back in it after. */
static void segkmem_test_freed_range_not_reused_before_purge(struct ktest *t)
{
	struct segkmem_stats s0, s1, s2;
	uint8_t *p;

	segkmem_purge();
	segkmem_get_stats(&s0);
	p = segkmem_alloc(2 * SK_PAGE, VM_NOSLEEP);
	KASSERT_NOT_NULL(t, p);
	KEXPECT_FALSE(t, sk_range_free((uintptr_t)p, 3 * SK_PAGE));
	segkmem_free(p, 2 * SK_PAGE);
	segkmem_get_stats(&s1);
	KEXPECT_EQ(t, s1.sks_frees, s0.sks_frees + 1);
	KEXPECT_EQ(t, s1.sks_dirty_ranges, 1);
	KEXPECT_EQ(t, s1.sks_dirty_pages, 3);
	KEXPECT_FALSE(t, sk_range_free((uintptr_t)p, 3 * SK_PAGE));	/* still held */
	segkmem_purge();
	segkmem_get_stats(&s2);
	KEXPECT_TRUE(t, sk_range_free((uintptr_t)p, 3 * SK_PAGE));	/* back in the arena */
	KEXPECT_EQ(t, s2.sks_purges, s1.sks_purges + 1);
	KEXPECT_EQ(t, s2.sks_purged_pages, s1.sks_purged_pages + 3);
	KEXPECT_EQ(t, s2.sks_dirty_ranges, 0);
}

/* A forced purge empties the dirty list: vmem's own count of allocated space
 * falls back to what it was before the frees. */
static void segkmem_test_purge_empties_dirty_list(struct ktest *t)
{
	static uint8_t *p[8];
	struct segkmem_stats st;
	size_t before;

	segkmem_purge();
	before = vmem_size(segkmem_arena(), VMEM_ALLOC);
	for (unsigned i = 0; i < 8; i++)
		p[i] = segkmem_alloc((i + 1) * SK_PAGE, VM_NOSLEEP);
	for (unsigned i = 0; i < 8; i++)
		if (p[i] != NULL)
			segkmem_free(p[i], (i + 1) * SK_PAGE);
	KEXPECT_EQ(t, vmem_size(segkmem_arena(), VMEM_ALLOC), before + (36 + 8) * SK_PAGE);
	segkmem_get_stats(&st);
	KEXPECT_EQ(t, st.sks_dirty_ranges, 8);
	segkmem_purge();
	segkmem_get_stats(&st);
	KEXPECT_EQ(t, st.sks_dirty_ranges, 0);
	KEXPECT_EQ(t, st.sks_dirty_pages, 0);
	KEXPECT_EQ(t, vmem_size(segkmem_arena(), VMEM_ALLOC), before);
}

static uint8_t *sk_hook_p;		/* what the purge hook frees */
static unsigned sk_hook_runs;		/* times the hook ran */
static struct segkmem_stats sk_hook_st;	/* the statistics the hook read */

/* Purge hook: a heap free and a statistics read, each of which takes segkmem_lock. */
static void sk_purge_hook(void)
{
	sk_hook_runs++;
	segkmem_free(sk_hook_p, SK_PAGE);
	segkmem_get_stats(&sk_hook_st);
}

/*
 * A purge holds no lock across its remote fence: between the fence and the
 * batch's frees, a heap free runs (here on the purging hart itself, which
 * would take segkmem_lock a second time if the purge held it); the range it
 * frees is not in the batch and waits for the next purge, whose fence comes
 * after its unmap.
 */
static void segkmem_test_purge_fences_without_lock(struct ktest *t)
{
	struct segkmem_stats st;
	uint8_t *p;

	segkmem_purge();
	p = segkmem_alloc(SK_PAGE, VM_NOSLEEP);
	sk_hook_p = segkmem_alloc(SK_PAGE, VM_NOSLEEP);
	KASSERT_NOT_NULL(t, p);
	KASSERT_NOT_NULL(t, sk_hook_p);
	segkmem_free(p, SK_PAGE);
	sk_hook_runs = 0;
	segkmem_purge_test_hook = sk_purge_hook;
	segkmem_purge();
	segkmem_purge_test_hook = NULL;
	KEXPECT_EQ(t, sk_hook_runs, 1);
	KEXPECT_EQ(t, sk_hook_st.sks_dirty_ranges, 1);		/* the hook's range, listed */
	KEXPECT_TRUE(t, sk_range_free((uintptr_t)p, 2 * SK_PAGE));	/* the batch is back */
	KEXPECT_FALSE(t, sk_range_free((uintptr_t)sk_hook_p, 2 * SK_PAGE));	/* not yet */
	segkmem_get_stats(&st);
	KEXPECT_EQ(t, st.sks_dirty_ranges, 1);
	segkmem_purge();
	KEXPECT_TRUE(t, sk_range_free((uintptr_t)sk_hook_p, 2 * SK_PAGE));
}

#define SK_GRAB_MAX	512	/* address-space pieces the exhaustion test can hold */

static uintptr_t sk_grab[SK_GRAB_MAX];	/* pieces of the arena taken by hand */
static size_t sk_grab_len[SK_GRAB_MAX];

/* Take every free byte of the heap arena, largest pieces first; false if the table is full. */
static bool sk_grab_all(unsigned *np)
{
	size_t size = (size_t)1 << 40;
	uintptr_t a;

	*np = 0;
	while (size >= SK_PAGE) {
		a = vmem_alloc(segkmem_arena(), size, VM_NOSLEEP);
		if (a == 0) {
			size /= 2;
			continue;
		}
		if (*np == SK_GRAB_MAX) {
			vmem_free(segkmem_arena(), a, size);
			return false;
		}
		sk_grab[*np] = a;
		sk_grab_len[(*np)++] = size;
	}
	return true;
}

/* With no free address space, an allocation purges the dirty list and gets the freed range. */
static void segkmem_test_alloc_purges_when_out_of_space(struct ktest *t)
{
	struct segkmem_stats s0, s1;
	uint8_t *p, *q;
	unsigned n;
	bool all;

	segkmem_purge();
	p = segkmem_alloc(2 * SK_PAGE, VM_NOSLEEP);
	KASSERT_NOT_NULL(t, p);
	all = sk_grab_all(&n);
	segkmem_free(p, 2 * SK_PAGE);
	segkmem_get_stats(&s0);
	q = all ? segkmem_alloc(SK_PAGE, VM_NOSLEEP) : NULL;
	segkmem_get_stats(&s1);
	for (unsigned i = 0; i < n; i++)
		vmem_free(segkmem_arena(), sk_grab[i], sk_grab_len[i]);
	if (!all)
		ktest_skip(t, "heap arena too fragmented to fill");
	KASSERT_NOT_NULL(t, q);
	KEXPECT_TRUE(t, q >= p && q < p + 3 * SK_PAGE);		/* the only free space */
	KEXPECT_EQ(t, s1.sks_forced_purges, s0.sks_forced_purges + 1);
	KEXPECT_EQ(t, s1.sks_purges, s0.sks_purges + 1);
	segkmem_free(q, SK_PAGE);
	segkmem_purge();
	ktest_log(t, "arena filled with %u pieces", n);
}

/* Free many ranges one at a time: the address space freed and not yet given back,
 * as vmem counts it, never passes the limit, and purges come as the policy says. */
static void segkmem_test_dirty_list_stays_under_limit(struct ktest *t)
{
	struct segkmem_stats s0, s1;
	size_t before, held, most = 0;
	unsigned frees = 0;

	segkmem_purge();
	segkmem_get_stats(&s0);
	before = vmem_size(segkmem_arena(), VMEM_ALLOC);
	for (unsigned i = 0; i < SEGKMEM_DIRTY_SLOTS + 44; i++) {	/* past the slot limit */
		uint8_t *p = segkmem_alloc(SK_PAGE, VM_NOSLEEP);

		KASSERT_NOT_NULL(t, p);
		segkmem_free(p, SK_PAGE);
		held = vmem_size(segkmem_arena(), VMEM_ALLOC) - before;
		most = MAX(most, held);
		frees++;
		KEXPECT_LT(t, held / SK_PAGE / 2, SEGKMEM_DIRTY_SLOTS);
	}
	segkmem_purge();
	for (unsigned i = 0; i < 6; i++) {		/* past the page limit: 6 x 501 pages */
		uint8_t *p = segkmem_alloc(500 * SK_PAGE, VM_NOSLEEP);

		KASSERT_NOT_NULL(t, p);
		segkmem_free(p, 500 * SK_PAGE);
		held = vmem_size(segkmem_arena(), VMEM_ALLOC) - before;
		most = MAX(most, held);
		frees++;
		KEXPECT_LE(t, held, SEGKMEM_DIRTY_PAGES * SK_PAGE);
	}
	segkmem_get_stats(&s1);
	KEXPECT_EQ(t, s1.sks_frees - s0.sks_frees, frees);
	/* One purge at the 256th one-page free, the explicit one, one at the fifth big free. */
	KEXPECT_EQ(t, s1.sks_purges - s0.sks_purges, 3);
	KEXPECT_GT(t, most, 2 * SK_PAGE);		/* lazy: frees did not purge one by one */
	KEXPECT_LE(t, s1.sks_dirty_max, SEGKMEM_DIRTY_PAGES);
	segkmem_purge();
	ktest_log(t, "%u frees, %llu purges, most held %zu pages", frees,
		  (unsigned long long)(s1.sks_purges - s0.sks_purges), most / SK_PAGE);
}

/* Does the DMA window reach any memory?  (plat_boot warned at boot if not.) */
static bool segkmem_dma_reaches_ram(void)
{
	const struct plat_map *pm = &boot_plat_map;

	for (unsigned i = 0; i < pm->pm_nmem; i++)
		if (!pm->pm_has_dma_limit || pm->pm_mem[i].pmr_base < pm->pm_dma_limit)
			return true;
	return false;
}

/* DMA memory is zeroed, its bus address is the CPU address less the window's
 * offset, it lies inside a pool when the board has one (else inside the DMA
 * window), and with every pool full (an allocation that does not fit one pool
 * moves on to the next) one more fails cleanly.  Skipped when the device
 * tree's dma-ranges reach no RAM and there is no pool: there is no DMA memory. */
static void segkmem_test_dma_pool_alloc_and_exhaustion(struct ktest *t)
{
	uint64_t bus, bus2, offset = boot_plat_map.pm_has_dma_limit ? boot_plat_map.pm_dma_offset : 0;
	static void *rest[PLAT_MAX_POOLS];
	static size_t free[PLAT_MAX_POOLS];
	unsigned np = dma_pool_count();
	uint8_t *p;
	uintptr_t s, e, pa;

	if (np == 0 && !segkmem_dma_reaches_ram()) {
		KEXPECT_NULL(t, dma_alloc_coherent(10000, &bus, VM_NOSLEEP));
		ktest_skip(t, "dma-ranges reach no RAM and there is no shared-dma-pool");
	}
	p = dma_alloc_coherent(10000, &bus, VM_NOSLEEP);
	pa = virt_to_phys(p);
	KASSERT_NOT_NULL(t, p);
	KEXPECT_EQ(t, bus, pa - offset);
	KEXPECT_EQ(t, p[0] | p[9999], 0);
	p[5] = 1;
	if (np == 0) {
		if (boot_plat_map.pm_has_dma_limit)
			KEXPECT_LE(t, pa + 10000, boot_plat_map.pm_dma_limit);
		dma_free_coherent(p, 10000, bus);
		ktest_log(t, "no shared-dma-pool on this board: DMA zone fallback checked");
		return;
	}
	KEXPECT_EQ(t, vmem_lookup(dma_pool_arena(0), pa, &s, &e), VMEM_ALLOC);
	/* Fill the pools in order: each fill lands in the pool it was sized for. */
	for (unsigned i = 0; i < np; i++) {
		free[i] = vmem_size(dma_pool_arena(i), VMEM_FREE);
		rest[i] = dma_alloc_coherent(free[i], &bus2, VM_NOSLEEP);
		KEXPECT_NOT_NULL(t, rest[i]);
		if (rest[i] != NULL)
			KEXPECT_EQ(t, vmem_lookup(dma_pool_arena(i), virt_to_phys(rest[i]), &s, &e),
				   VMEM_ALLOC);
	}
	KEXPECT_NULL(t, dma_alloc_coherent(MMU_PAGE_SIZE, &bus2, VM_NOSLEEP));
	for (unsigned i = 0; i < np; i++)
		if (rest[i] != NULL)
			dma_free_coherent(rest[i], free[i], virt_to_phys(rest[i]) - offset);
	dma_free_coherent(p, 10000, bus);
	for (unsigned i = 0; i < np; i++)
		KEXPECT_EQ(t, vmem_size(dma_pool_arena(i), VMEM_ALLOC), 0);
	ktest_log(t, "%u shared-dma-pool region(s) filled", np);
}

static const struct ktest_case segkmem_cases[] = {
	KTEST_CASE(segkmem_test_all_harts_alloc_free_elsewhere),
	KTEST_CASE(segkmem_test_guard_page_unmapped),
	KTEST_CASE(segkmem_test_overrun_panics_naming_allocation),
	KTEST_CASE(segkmem_test_use_after_free_panics_on_every_hart),
	KTEST_CASE(segkmem_test_bad_free_panics),
	KTEST_CASE(segkmem_test_freed_range_not_reused_before_purge),
	KTEST_CASE(segkmem_test_purge_empties_dirty_list),
	KTEST_CASE(segkmem_test_purge_fences_without_lock),
	KTEST_CASE(segkmem_test_alloc_purges_when_out_of_space),
	KTEST_CASE(segkmem_test_dirty_list_stays_under_limit),
	KTEST_CASE(segkmem_test_dma_pool_alloc_and_exhaustion),
	KTEST_END,
};
KTEST_SUITE_INIT(segkmem_suite, "segkmem", segkmem_cases, segkmem_suite_init);
