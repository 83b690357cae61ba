/*
 * test_page.c - the page allocator on the real machine: zones against the
 * platform map, DMA placement, NUMA placement, fragmentation and drains,
 * exhaustion, misuse.  Runs on every boot of the matrix and every board.
 */
#include "kernel/console.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/mm_cmds.h"
#include "kernel/mm_init.h"
#include "kernel/plat_zones.h"
#include "kernel/printk.h"
#include "kernel/prof.h"
#include "kernel/smp.h"
#include "mm/kmem.h"
#include "mm/page.h"
#include "mm/page_impl.h"	/* the buddy-direct measurement only */

extern struct plat_map boot_plat_map;

/* Per-zone free counts after a full drain. */
static void page_free_per_zone(uint64_t *out)
{
	struct page_zone_info zi;

	page_drain_all();
	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
		out[i] = zi.pzi_free;
}

/* The allocator's zone for (node, type), or -1. */
static int page_find_zone(int node, enum page_zone_type type, struct page_zone_info *zi)
{
	for (unsigned i = 0; page_zone_info(i, zi) == 0; i++)
		if (zi->pzi_node == node && zi->pzi_type == type)
			return (int)i;
	return -1;
}

/* Is the page at pa inside a reservation of the blob itself (not the kernel's)? */
static bool page_blob_reserved(uint64_t pa)
{
	for (unsigned i = 0; i < boot_plat_map.pm_nresv; i++) {
		const struct plat_resv *r = &boot_plat_map.pm_resv[i];

		if (!r->pr_kernel && pa + MM_PAGE_SIZE > r->pr_base && pa < r->pr_base + r->pr_size)
			return true;
	}
	return false;
}

/*
 * Pages of the kernel's own reservations (image, blob) inside [base, end)
 * that the blob does not reserve already: a blob reservation over the image
 * (a no-map region, say) has taken those pages out of the blob's zones.
 */
static uint64_t page_kernel_resv_pages(uint64_t base, uint64_t end)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < boot_plat_map.pm_nresv; i++) {
		const struct plat_resv *r = &boot_plat_map.pm_resv[i];
		uint64_t lo = ALIGN_DOWN(r->pr_base, MM_PAGE_SIZE);
		uint64_t hi = ALIGN_UP(r->pr_base + r->pr_size, MM_PAGE_SIZE);

		if (!r->pr_kernel)
			continue;
		for (uint64_t pa = MAX(lo, base); pa < MIN(hi, end); pa += MM_PAGE_SIZE)
			n += !page_blob_reserved(pa);
	}
	return n;
}

/* Reservations of the map, page-rounded outwards and sorted by base. */
static unsigned page_resv_sorted(uint64_t (*r)[2])
{
	unsigned n = boot_plat_map.pm_nresv;

	for (unsigned i = 0; i < n; i++) {
		const struct plat_resv *pr = &boot_plat_map.pm_resv[i];
		uint64_t lo = ALIGN_DOWN(pr->pr_base, MM_PAGE_SIZE);
		uint64_t hi = ALIGN_UP(pr->pr_base + pr->pr_size, MM_PAGE_SIZE);
		unsigned j = i;

		for (; j > 0 && r[j - 1][0] > lo; j--) {
			r[j][0] = r[j - 1][0];
			r[j][1] = r[j - 1][1];
		}
		r[j][0] = lo;
		r[j][1] = hi;
	}
	return n;
}

/*
 * Usable pages of node `node` in [lo, hi), counted from the raw memory and
 * reservation lists (not from the map's zones): whole pages of memory less
 * the union of every reservation, the kernel's own included.  Memory ranges
 * are taken in base order and a part already covered by an earlier range is
 * not counted again (overlapping memory nodes are merged).
 */
static uint64_t page_usable_pages(int node, uint64_t lo, uint64_t hi)
{
	static uint64_t resv[PLAT_MAX_RESV][2];
	unsigned nr = page_resv_sorted(resv);
	uint64_t pages = 0, covered = 0;

	for (unsigned m = 0; m < boot_plat_map.pm_nmem; m++) {
		const struct plat_mem *pm = &boot_plat_map.pm_mem[m];
		uint64_t a = MAX(MAX(ALIGN_UP(pm->pmr_base, MM_PAGE_SIZE), lo), covered);
		uint64_t b = MIN(ALIGN_DOWN(pm->pmr_base + pm->pmr_size, MM_PAGE_SIZE), hi);

		covered = MAX(covered, ALIGN_DOWN(pm->pmr_base + pm->pmr_size, MM_PAGE_SIZE));
		if ((pm->pmr_node < 0 ? 0 : pm->pmr_node) != node || a >= b)
			continue;
		for (unsigned i = 0; i < nr && a < b; i++) {
			if (resv[i][1] <= a || resv[i][0] >= b)
				continue;
			if (resv[i][0] > a)
				pages += (resv[i][0] - a) >> MM_PAGE_SHIFT;
			a = MAX(a, resv[i][1]);
		}
		if (a < b)
			pages += (b - a) >> MM_PAGE_SHIFT;
	}
	return pages;
}

/*
 * Every allocator zone against an independent count: its present pages are
 * the usable pages of its node inside its bounds, its type fits its
 * addresses (DMA below the DMA limit, DMA32 below 4 GiB), and the zones
 * together hold every usable page of every node.
 */
static void page_test_zones_recounted(struct ktest *t)
{
	uint64_t dma_end = boot_plat_map.pm_has_dma_limit && boot_plat_map.pm_dma_limit < (1ull << 32)
			   ? ALIGN_DOWN(boot_plat_map.pm_dma_limit, MM_PAGE_SIZE) : 0;
	uint64_t in_zones = 0, all = 0;
	struct page_zone_info zi;

	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++) {
		KEXPECT_EQ(t, zi.pzi_present, page_usable_pages(zi.pzi_node, zi.pzi_base, zi.pzi_end));
		if (zi.pzi_type == PAGE_ZONE_DMA)
			KEXPECT_LE(t, zi.pzi_end, dma_end);
		else if (zi.pzi_type == PAGE_ZONE_DMA32)
			KEXPECT_TRUE(t, zi.pzi_base >= dma_end && zi.pzi_end <= (1ull << 32));
		else
			KEXPECT_GE(t, zi.pzi_base, 1ull << 32);
		in_zones += zi.pzi_present;
	}
	for (unsigned n = 0; n < boot_plat_map.pm_nnodes; n++)
		all += page_usable_pages((int)n, 0, ~0ull);
	KEXPECT_EQ(t, in_zones, all);
}

/*
 * The zones equal the blob's zones (what fdtinfo computes: the map without
 * the kernel's own reservations) less the kernel-reserved pages.
 */
static void page_test_zones_match_platform_map(struct ktest *t)
{
	static struct plat_map dtb;
	static struct page_zone_desc zd[PLAT_MAX_ZONES];
	struct page_zone_info zi;
	unsigned k = 0;
	int nz;

	dtb = boot_plat_map;
	for (unsigned i = 0; i < dtb.pm_nresv; i++)
		if (!dtb.pm_resv[i].pr_kernel)
			dtb.pm_resv[k++] = dtb.pm_resv[i];
	dtb.pm_nresv = k;
	nz = plat_zones(&dtb, zd, PLAT_MAX_ZONES);
	KASSERT_GE(t, nz, 0);
	for (int i = 0; i < nz; i++) {
		uint64_t kern = page_kernel_resv_pages(zd[i].pzd_base, zd[i].pzd_end);

		if (page_find_zone(zd[i].pzd_node, zd[i].pzd_type, &zi) < 0) {
			KEXPECT_EQ(t, zd[i].pzd_pages, kern);	/* only if the kernel took it all */
			continue;
		}
		KEXPECT_EQ(t, zi.pzi_present, zd[i].pzd_pages - kern);
		KEXPECT_LE(t, zi.pzi_managed, zi.pzi_present);
		KEXPECT_GE(t, zi.pzi_base, zd[i].pzd_base);
		KEXPECT_LE(t, zi.pzi_end, zd[i].pzd_end);
	}
	page_test_zones_recounted(t);
}

/* PAGE_DMA memory lies inside the DMA window and below 4 GiB, in the right zone. */
static void page_test_dma_inside_window(struct ktest *t)
{
	static struct page_zone_desc zd[PLAT_MAX_ZONES];
	int nz = plat_zones(&boot_plat_map, zd, PLAT_MAX_ZONES);
	bool has_dma = false, has_low = false;
	paddr_t pa[16];

	for (int i = 0; i < nz; i++) {
		has_dma |= zd[i].pzd_type == PAGE_ZONE_DMA;
		/* PAGE_DMA never goes above the DMA limit (mm/zone.c zone_in_class) */
		has_low |= zd[i].pzd_type != PAGE_ZONE_NORMAL &&
			   (!boot_plat_map.pm_has_dma_limit ||
			    zd[i].pzd_end <= boot_plat_map.pm_dma_limit);
	}
	if (!has_low && boot_plat_map.pm_has_dma_limit)
		ktest_log(t, "dma-ranges reach no zone: PAGE_DMA must fail");
	for (unsigned i = 0; i < 16; i++) {
		unsigned order = i % 4;

		pa[i] = page_alloc(order, PAGE_DMA);
		if (!has_low) {
			KEXPECT_EQ(t, pa[i], PAGE_NOADDR);
			continue;
		}
		KASSERT_NE(t, pa[i], PAGE_NOADDR);
		KEXPECT_LE(t, pa[i] + (MM_PAGE_SIZE << order), 1ull << 32);
		if (boot_plat_map.pm_has_dma_limit)
			KEXPECT_LE(t, pa[i] + (MM_PAGE_SIZE << order), boot_plat_map.pm_dma_limit);
		KEXPECT_EQ(t, page_zone_type_of(pa[i]), has_dma ? PAGE_ZONE_DMA : PAGE_ZONE_DMA32);
	}
	for (unsigned i = 0; i < 16; i++)
		if (pa[i] != PAGE_NOADDR)
			KEXPECT_EQ(t, page_free(pa[i], i % 4), 0);
}

struct page_local_probe {
	int plp_node[MAX_CPUS][2];	/* node of the order-0 and order-2 blocks */
	int plp_hart_node[MAX_CPUS];	/* the hart's own node */
};

/* On each hart: allocate with default flags, note where it landed, free. */
static void page_local_fn(void *arg)
{
	struct page_local_probe *p = arg;
	unsigned c = this_cpu();
	paddr_t a = page_alloc(0, 0), b = page_alloc(2, 0);

	p->plp_node[c][0] = a == PAGE_NOADDR ? -2 : page_node_of(a);
	p->plp_node[c][1] = b == PAGE_NOADDR ? -2 : page_node_of(b);
	p->plp_hart_node[c] = this_hart()->h_node;
	if (a != PAGE_NOADDR)
		page_free(a, 0);
	if (b != PAGE_NOADDR)
		page_free(b, 2);
}

/* Default allocations land on the calling hart's node (when it has memory). */
static void page_test_default_on_local_node(struct ktest *t)
{
	static struct page_local_probe p;

	cpu_call_all(page_local_fn, &p);
	for (unsigned c = 0; c < ncpus; c++) {
		struct page_zone_info zi;
		bool has_mem = false;

		for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
			has_mem |= zi.pzi_node == p.plp_hart_node[c] && zi.pzi_free > zi.pzi_low + 64;
		if (!has_mem)
			continue;
		KEXPECT_EQ(t, p.plp_node[c][0], p.plp_hart_node[c]);
		KEXPECT_EQ(t, p.plp_node[c][1], p.plp_hart_node[c]);
	}
}

#define FRAG_BLOCKS	2048
static paddr_t frag_pa[FRAG_BLOCKS];
static uint8_t frag_order[FRAG_BLOCKS];

/* On each hart: free the blocks whose index falls to it (cross-hart frees). */
static void page_frag_free_fn(void *arg)
{
	unsigned c = this_cpu();

	(void)arg;
	for (unsigned i = c; i < FRAG_BLOCKS; i += ncpus)
		if (frag_pa[i] != PAGE_NOADDR && (i * 7) % 3 != 0) {
			page_free(frag_pa[i], frag_order[i]);
			frag_pa[i] = PAGE_NOADDR;
		}
	/* Leave some pages of our own in this hart's cache. */
	for (unsigned i = 0; i < 16; i++) {
		paddr_t a = page_alloc(0, 0);

		if (a != PAGE_NOADDR)
			page_free(a, 0);
	}
}

/*
 * After a fragmenting workload (mixed orders, frees on other harts) is freed
 * and the caches drained, every zone's free count is back and a max-order
 * allocation succeeds on every node.
 */
static void page_test_fragment_free_drain_restores(struct ktest *t)
{
	static uint64_t before[PLAT_MAX_ZONES], after[PLAT_MAX_ZONES];
	uint64_t seed = 12345;

	page_free_per_zone(before);
	for (unsigned i = 0; i < FRAG_BLOCKS; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		frag_order[i] = (uint8_t)((seed >> 33) % 6);
		frag_pa[i] = page_alloc(frag_order[i], (seed >> 40) % 5 == 0 ? PAGE_DMA32 : 0);
	}
	cpu_call_all(page_frag_free_fn, NULL);
	for (unsigned i = FRAG_BLOCKS; i-- > 0;)
		if (frag_pa[i] != PAGE_NOADDR)
			KEXPECT_EQ(t, page_free(frag_pa[i], frag_order[i]), 0);
	page_free_per_zone(after);
	for (unsigned i = 0; i < page_zone_count(); i++)
		KEXPECT_EQ(t, after[i], before[i]);
	KEXPECT_EQ(t, page_cached_count(), 0);
	for (unsigned n = 0; n < boot_plat_map.pm_nnodes; n++) {
		paddr_t big;
		struct page_zone_info zi;
		bool has_mem = false;

		for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
			has_mem |= zi.pzi_node == (int)n && zi.pzi_nr_free[PAGE_MAX_ORDER] > 0;
		if (!has_mem)
			continue;
		big = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(n) | PAGE_THISNODE);
		KEXPECT_NE(t, big, PAGE_NOADDR);
		if (big != PAGE_NOADDR)
			page_free(big, PAGE_MAX_ORDER);
	}
	{
		char why[128];

		KEXPECT_EQ(t, page_check(why, sizeof(why)), 0);
	}
}

/*
 * Blocks held by the exhaustion test.  Their addresses go into this table,
 * not into the blocks: writing one word into every 4 MiB block makes the host
 * back all of guest RAM (transparent huge pages), which for a 64 GiB guest is
 * more than this host has.  With 2^16 entries the table holds every max-order
 * block of 256 GiB; past that, blocks are chained through their first words.
 */
#define PAGE_HOLD_MAX	(65536 + 8192)
static paddr_t page_held[PAGE_HOLD_MAX];	/* block address | order */
static unsigned long page_nheld;

/* A chain of blocks threaded through their own first words (table full). */
struct page_chain {
	paddr_t pc_next;		/* next block, PAGE_NOADDR at the end */
	unsigned pc_order;		/* this block's order */
};

/* Hold one block: in the table while it has room, else on the chain *head. */
static void page_hold(paddr_t pa, unsigned order, paddr_t *head)
{
	struct page_chain *pc;

	if (page_nheld < PAGE_HOLD_MAX) {
		page_held[page_nheld++] = pa | order;
		return;
	}
	pc = phys_to_virt(pa);
	pc->pc_next = *head;
	pc->pc_order = order;
	*head = pa;
}

/* Allocate `order` blocks with flags until failure, holding each one. */
static uint64_t page_grab_all(unsigned order, unsigned flags, paddr_t *head)
{
	uint64_t n = 0;
	paddr_t pa;

	while ((pa = page_alloc(order, flags)) != PAGE_NOADDR) {
		page_hold(pa, order, head);
		n++;
	}
	return n;
}

/* Free every held block (table and chain); returns how many frees failed. */
static unsigned page_release_all(paddr_t head)
{
	unsigned bad = 0;

	while (page_nheld > 0) {
		paddr_t e = page_held[--page_nheld];

		bad += page_free(e & ~(paddr_t)(MM_PAGE_SIZE - 1), e & (MM_PAGE_SIZE - 1)) != 0;
	}
	while (head != PAGE_NOADDR) {
		const struct page_chain *pc = phys_to_virt(head);
		paddr_t next = pc->pc_next;

		bad += page_free(head, pc->pc_order) != 0;
		head = next;
	}
	return bad;
}

/* Exhaustion returns PAGE_NOADDR (no panic) after asking the caches to reclaim, urgent gets
 * the reserve, the low zones keep their protection for requests limited to them, and
 * nothing is lost.  The caches are reaped first, so that what the reclaim hook could give
 * back during the run is already counted in `before`. */
static void page_test_exhaustion_fails_and_loses_nothing(struct ktest *t)
{
	static uint64_t before[PLAT_MAX_ZONES], after[PLAT_MAX_ZONES];
	struct page_stats st0, st1;
	paddr_t head = PAGE_NOADDR;
	uint64_t big, small, urgent, kept, protection = 0;
	struct page_zone_info zi;

	kmem_reap();
	page_free_per_zone(before);
	page_get_stats(&st0);
	page_nheld = 0;
	big = page_grab_all(PAGE_MAX_ORDER, 0, &head);
	small = page_grab_all(0, 0, &head);
	KEXPECT_EQ(t, page_alloc(0, 0), PAGE_NOADDR);
	urgent = page_grab_all(0, PAGE_URGENT, &head);
	KEXPECT_EQ(t, page_alloc(0, PAGE_URGENT), PAGE_NOADDR);
	/* What is left is the low zones' protection: only requests limited to them get it. */
	kept = page_grab_all(0, PAGE_DMA32 | PAGE_URGENT, &head);
	kept += page_grab_all(0, PAGE_DMA | PAGE_URGENT, &head);
	KEXPECT_EQ(t, page_alloc(0, PAGE_DMA | PAGE_URGENT), PAGE_NOADDR);
	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
		protection += zi.pzi_lowmem[PAGE_ANY];
	page_get_stats(&st1);
	ktest_log(t, "exhausted with %llu 4 MiB blocks, %llu pages, %llu urgent pages, "
		  "%llu protected low pages", (unsigned long long)big, (unsigned long long)small,
		  (unsigned long long)urgent, (unsigned long long)kept);
	KEXPECT_GT(t, big, 0);
	KEXPECT_GT(t, urgent, 0);
	KEXPECT_EQ(t, kept, protection);
	KEXPECT_GE(t, st1.pst_alloc_fail, st0.pst_alloc_fail + 4);
	KEXPECT_EQ(t, st1.pst_reclaim > st0.pst_reclaim, kmem_initialized());
	KEXPECT_EQ(t, page_free_count(), 0);
	KEXPECT_EQ(t, page_release_all(head), 0);
	page_free_per_zone(after);
	for (unsigned i = 0; i < page_zone_count(); i++)
		KEXPECT_EQ(t, after[i], before[i]);
}

/* A misuse returns its code and changes no count. */
static void page_expect_misuse(struct ktest *t, paddr_t pa, unsigned order, int code)
{
	uint64_t free0 = page_free_count(), cached0 = page_cached_count();

	KEXPECT_EQ(t, page_free(pa, order), code);
	KEXPECT_EQ(t, page_free_count(), free0);
	KEXPECT_EQ(t, page_cached_count(), cached0);
}

/* Double free, free of never-allocated memory, wrong order and misalignment are caught. */
static void page_test_misuse_detected(struct ktest *t)
{
	paddr_t a = page_alloc(0, 0), b = page_alloc(2, 0), c = page_alloc(1, 0);
	paddr_t image = ALIGN_DOWN((paddr_t)(uintptr_t)&mm_boot_info, MM_PAGE_SIZE);
	struct page_stats st0, st1;
	char why[128];

	KASSERT_NE(t, a, PAGE_NOADDR);
	KASSERT_NE(t, b, PAGE_NOADDR);
	KASSERT_NE(t, c, PAGE_NOADDR);
	page_get_stats(&st0);
	KEXPECT_EQ(t, page_free(a, 0), 0);
	page_expect_misuse(t, a, 0, PAGE_EDOUBLE);
	page_expect_misuse(t, image, 0, PAGE_ENOTALLOC);
	page_expect_misuse(t, 0x1000, 0, PAGE_ENOTALLOC);
	page_expect_misuse(t, b + MM_PAGE_SIZE, 0, PAGE_ENOTALLOC);
	page_expect_misuse(t, b, 1, PAGE_EORDER);
	page_expect_misuse(t, b, 3, PAGE_EORDER);
	page_expect_misuse(t, b + 16, 2, PAGE_EALIGN);
	KEXPECT_EQ(t, page_free(c, 1), 0);
	page_expect_misuse(t, c, 1, PAGE_EDOUBLE);
	page_get_stats(&st1);
	KEXPECT_EQ(t, st1.pst_double_free, st0.pst_double_free + 2);
	KEXPECT_EQ(t, st1.pst_not_alloc, st0.pst_not_alloc + 3);
	KEXPECT_EQ(t, st1.pst_wrong_order, st0.pst_wrong_order + 2);
	KEXPECT_EQ(t, st1.pst_misaligned, st0.pst_misaligned + 1);
	KEXPECT_EQ(t, page_free(b, 2), 0);
	KEXPECT_EQ(t, page_alloc(PAGE_MAX_ORDER + 1, 0), PAGE_NOADDR);
	KTEST_EXPECT_PANIC(t, page_alloc(0, PAGE_DMA | PAGE_DMA32), "invalid flags");
	page_drain_all();
	KEXPECT_EQ(t, page_check(why, sizeof(why)), 0);
}

/* The console commands run and print every zone. */
static void page_test_console_commands(struct ktest *t)
{
	char b[] = "buddyinfo", z[] = "zoneinfo", s[] = "pagestat";

	KEXPECT_EQ(t, console_exec(b), 0);
	KEXPECT_EQ(t, console_exec(z), 0);
	KEXPECT_EQ(t, console_exec(s), 0);
}


/* The pagestat counters, as read back from its text. */
struct pst_read {
	uint64_t pr_free, pr_cached;	/* "free N cached N pages" */
	uint64_t pr_val[8];		/* alloc_fail .. reclaim, in printed order */
	bool pr_ok;			/* every field was found */
};

/* The number after "name " in s, or false. */
static bool pst_field(const char *s, const char *name, uint64_t *v)
{
	const char *p = strstr(s, name);
	size_t n = strlen(name);
	char *end;

	if (p == NULL || p[n] != ' ' || p[n + 1] < '0' || p[n + 1] > '9')
		return false;
	*v = strtoul(p + n + 1, &end, 10);
	return end != p + n + 1;
}

/* Run pagestat's printer into the buffer and parse what it wrote. */
static struct pst_read pst_run(void)
{
	static const char *const names[8] = { "alloc_fail", "bad_order", "misaligned",
					      "not_alloc", "double_free", "wrong_order",
					      "drain_all", "reclaim" };
	struct pst_read r;

	ktest_capture_reset();
	mm_pagestat_print(ktest_capture);
	r.pr_ok = strncmp(ktest_captured(), "free ", 5) == 0 && pst_field(ktest_captured(), "free", &r.pr_free) &&
		  pst_field(ktest_captured(), "cached", &r.pr_cached);
	for (unsigned i = 0; i < 8; i++)
		r.pr_ok = r.pr_ok && pst_field(ktest_captured(), names[i], &r.pr_val[i]);
	return r;
}

/* pagestat's text, read back after a known workload (two impossible orders,
 * one free of each misuse kind, one more double free, two cross-hart drains,
 * no reclaim: an impossible order fails before it), moves by exactly that
 * workload and equals page_get_stats. */
static void page_test_pagestat_text_matches_counters(struct ktest *t)
{
	static const uint64_t work[8] = { 2, 2, 1, 1, 2, 1, 2, 0 };	/* printed order */
	paddr_t b = page_alloc(1, 0);
	struct pst_read r0, r1;
	struct page_stats st;

	KASSERT_NE(t, b, PAGE_NOADDR);
	page_drain_all();			/* settle cached counts before reading */
	r0 = pst_run();
	KASSERT_TRUE(t, r0.pr_ok);
	KEXPECT_EQ(t, page_alloc(PAGE_MAX_ORDER + 1, 0), PAGE_NOADDR);
	KEXPECT_EQ(t, page_alloc(PAGE_MAX_ORDER + 7, PAGE_ZERO), PAGE_NOADDR);
	KEXPECT_EQ(t, page_free(b + 16, 1), PAGE_EALIGN);
	KEXPECT_EQ(t, page_free(b + MM_PAGE_SIZE, 0), PAGE_ENOTALLOC);
	KEXPECT_EQ(t, page_free(b, 0), PAGE_EORDER);
	KEXPECT_EQ(t, page_free(b, 1), 0);
	KEXPECT_EQ(t, page_free(b, 1), PAGE_EDOUBLE);
	KEXPECT_EQ(t, page_free(b, 1), PAGE_EDOUBLE);
	page_drain_all();
	page_drain_all();
	r1 = pst_run();
	page_get_stats(&st);
	KASSERT_TRUE(t, r1.pr_ok);
	for (unsigned i = 0; i < 8; i++)
		KEXPECT_EQ(t, r1.pr_val[i] - r0.pr_val[i], work[i]);
	KEXPECT_EQ(t, r1.pr_val[0], st.pst_alloc_fail);
	KEXPECT_EQ(t, r1.pr_val[1], st.pst_bad_order);
	KEXPECT_EQ(t, r1.pr_val[2], st.pst_misaligned);
	KEXPECT_EQ(t, r1.pr_val[3], st.pst_not_alloc);
	KEXPECT_EQ(t, r1.pr_val[4], st.pst_double_free);
	KEXPECT_EQ(t, r1.pr_val[5], st.pst_wrong_order);
	KEXPECT_EQ(t, r1.pr_val[6], st.pst_drain_all);
	KEXPECT_EQ(t, r1.pr_val[7], st.pst_reclaim);
	KEXPECT_EQ(t, r1.pr_free, page_free_count());
	KEXPECT_EQ(t, r1.pr_cached, page_cached_count());
	KEXPECT_EQ(t, r1.pr_cached, 0);		/* just drained, nothing allocated since */
}

#define PAGE_PROF_ITERS	10000

/* One order-0 allocate + free through the per-hart cache (page_alloc/page_free). */
static void page_prof_pcp(void *arg, unsigned long i)
{
	(void)arg;
	(void)i;
	page_free(page_alloc(0, 0), 0);
}

/* One order-0 allocate + free straight from the buddy lists, under the zone lock (interrupts off). */
static void page_prof_buddy(void *arg, unsigned long i)
{
	struct page_zone *zp = arg;
	struct page *pg;
	irqflags_t zf;

	(void)i;
	zf = zone_lock(zp);
	pg = buddy_alloc(zp, 0);
	zone_unlock(zp, zf);
	zf = zone_lock(zp);
	buddy_free(zp, pg, 0);
	zone_unlock(zp, zf);
}

/*
 * Put the zone in a known state for the buddy measurement: hold order-0
 * pages until freeing one leaves it a free order-0 block whose buddy is
 * held, at the head of the order-0 list.  Each measured pair then takes it
 * (no split) and gives it back (no merge): the cost does not depend on what
 * earlier tests left behind.  Returns that page, or NULL.
 */
static struct page *page_prof_buddy_setup(struct page_zone *zp, struct page **holds,
					  unsigned *nholds)
{
	struct page *spare = NULL;
	irqflags_t zf = zone_lock(zp);

	for (*nholds = 0; *nholds < 8 && spare == NULL; (*nholds)++) {
		holds[*nholds] = buddy_alloc(zp, 0);
		spare = buddy_alloc(zp, 0);
		if (holds[*nholds] == NULL || spare == NULL)
			break;
		buddy_free(zp, spare, 0);
		if (spare->pg_state != PG_FREE || spare->pg_order != 0 ||
		    zp->z_area[0].fa_head != spare)
			spare = NULL;
	}
	zone_unlock(zp, zf);
	return spare;
}

/* Give back what page_prof_buddy_setup held. */
static void page_prof_buddy_release(struct page_zone *zp, struct page **holds, unsigned n)
{
	irqflags_t zf = zone_lock(zp);

	for (unsigned i = 0; i < n; i++)
		if (holds[i] != NULL)
			buddy_free(zp, holds[i], 0);
	zone_unlock(zp, zf);
}

/*
 * The two fast-path measurements (docs/page_alloc.md): instructions per
 * order-0 pair through the cache and through the buddy (no split, no merge).
 * Here only their effect is checked: every pair gives its page back.
 */
static void page_test_measure_alloc_free_pairs(struct ktest *t)
{
	paddr_t warm = page_alloc(0, 0);
	struct page_stats st0, st1;
	struct page_zone *zp;
	struct page *holds[8], *spare;
	uint64_t free0, cached0;
	unsigned nholds;

	KASSERT_NE(t, warm, PAGE_NOADDR);
	page_free(warm, 0);			/* the cache now holds a page */
	page_get_stats(&st0);
	cached0 = page_cached_count();
	prof_region("page_pcp_alloc_free", PAGE_PROF_ITERS, page_prof_pcp, NULL);
	page_get_stats(&st1);
	KEXPECT_EQ(t, page_cached_count(), cached0);
	KEXPECT_EQ(t, st1.pst_double_free + st1.pst_not_alloc, st0.pst_double_free + st0.pst_not_alloc);
	zp = &page_state.pgs_zone[page_lookup(warm)->pg_zone];
	free0 = page_free_count();
	spare = page_prof_buddy_setup(zp, holds, &nholds);
	KASSERT_NOT_NULL(t, spare);
	prof_region("page_buddy_alloc_free", PAGE_PROF_ITERS, page_prof_buddy, zp);
	KEXPECT_EQ(t, zp->z_area[0].fa_head, spare);		/* the same block each time */
	page_prof_buddy_release(zp, holds, nholds);
	KEXPECT_EQ(t, page_free_count(), free0);
}

/* A burst: this many order-0 allocations, then as many frees. */
#define PAGE_BURST	1000

/* Pages held between the allocation half and the free half of a burst. */
struct page_burst {
	paddr_t pb_page[PAGE_BURST];	/* the burst's pages, PAGE_NOADDR if it failed */
	unsigned long pb_failed;	/* allocations that returned PAGE_NOADDR */
};

/* Iteration i of a burst sequence: allocations for i % 2000 < 1000, frees after. */
static void page_prof_burst(void *arg, unsigned long i)
{
	struct page_burst *pb = arg;
	unsigned long k = i % (2 * PAGE_BURST);

	if (k < PAGE_BURST) {
		pb->pb_page[k] = page_alloc(0, 0);
		pb->pb_failed += pb->pb_page[k] == PAGE_NOADDR;
	} else if (pb->pb_page[k - PAGE_BURST] != PAGE_NOADDR) {
		page_free(pb->pb_page[k - PAGE_BURST], 0);
	}
}

/*
 * The amortised per-hart cache figure (docs/page_alloc.md): bursts of 1,000
 * allocations then 1,000 frees, so the cache is refilled and drained by
 * batches within the window.  Checked here: the batches happened, and every
 * page came back.
 */
static void page_test_measure_pcp_bursts(struct ktest *t)
{
	static struct page_burst pb;
	struct page_zone_info zi;
	uint64_t refills = 0, drains = 0, free0;
	unsigned z;

	page_drain_all();
	free0 = page_free_count();
	for (z = 0; page_zone_info(z, &zi) == 0; z++) {
		refills -= page_state.pgs_zone[z].z_stats.zs_refills;
		drains -= page_state.pgs_zone[z].z_stats.zs_drains;
	}
	pb.pb_failed = 0;
	prof_region("page_pcp_burst", 5 * 2 * PAGE_BURST, page_prof_burst, &pb);
	for (z = 0; page_zone_info(z, &zi) == 0; z++) {
		refills += page_state.pgs_zone[z].z_stats.zs_refills;
		drains += page_state.pgs_zone[z].z_stats.zs_drains;
	}
	KEXPECT_EQ(t, pb.pb_failed, 0);
	KEXPECT_GE(t, refills, 5);		/* at least one refill per burst */
	KEXPECT_GE(t, drains, 5);		/* and one drain */
	page_drain_all();
	KEXPECT_EQ(t, page_free_count(), free0);
}

static const struct ktest_case page_cases[] = {
	KTEST_CASE(page_test_zones_match_platform_map),
	KTEST_CASE(page_test_dma_inside_window),
	KTEST_CASE(page_test_default_on_local_node),
	KTEST_CASE(page_test_fragment_free_drain_restores),
	KTEST_CASE(page_test_exhaustion_fails_and_loses_nothing),
	KTEST_CASE(page_test_misuse_detected),
	KTEST_CASE(page_test_console_commands),
	KTEST_CASE(page_test_pagestat_text_matches_counters),
	KTEST_CASE(page_test_measure_alloc_free_pairs),
	KTEST_CASE(page_test_measure_pcp_bursts),
	KTEST_END,
};

/* Skip the suite when the boot did not start the page allocator. */
static int page_suite_init(void)
{
	return page_zone_count() == 0;
}

KTEST_SUITE_INIT(page_suite, "page", page_cases, page_suite_init);
