/*
 * test_pcp.c - host tests of the per-hart page caches (mm/pcp.c and the
 * inline fast paths in mm/page.h), single- and multi-threaded, plus the
 * buddyinfo/zoneinfo dumps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "mm/mm_platform.h"
#include "mm/page.h"
#include "mm/page_impl.h"
#include "host_env.h"
#include "page_sim.h"

static char why[256];

static int boot_two(void **state)
{
	(void)state;
	return sim_boot(&sim_two_nodes);
}

static void expect_clean(void)
{
	sim_become(&sim_two_nodes, 0);
	page_drain_all();
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	assert_int_equal(page_cached_count(), 0);
	assert_int_equal(page_free_count(), sim_managed());
}

/* The calling hart's cache of the zone holding pa. */
static struct page_pcp *my_pcp(paddr_t pa)
{
	return &page_mem.pgm_hart[cpu_id()]->pgh_pcp[page_lookup(pa)->pg_zone];
}

/* A free then an alloc on one hart is a cache hit: same page, buddy untouched. */
static void pcp_test_hit_reuses_page_without_buddy(void **state)
{
	paddr_t a = page_alloc(0, 0), b;
	struct page_zone_info before, after;
	unsigned zi = page_lookup(a)->pg_zone;

	(void)state;
	page_zone_info(zi, &before);
	assert_int_equal(page_free(a, 0), 0);
	b = page_alloc(0, 0);
	page_zone_info(zi, &after);
	assert_int_equal(a, b);
	assert_int_equal(before.pzi_free, after.pzi_free);
	page_free(b, 0);
	expect_clean();
}

/* An empty cache is refilled with one batch from the buddy. */
static void pcp_test_refill_takes_a_batch(void **state)
{
	paddr_t a = page_alloc(0, 0);
	struct page_pcp *pc = my_pcp(a);

	(void)state;
	assert_true(pc->pc_batch > 1);
	assert_int_equal(pcp_count(pc), pc->pc_batch - 1);
	assert_int_equal(pc->pc_refilled, pc->pc_batch);
	page_free(a, 0);
	expect_clean();
}

/* A cache above its high mark drains one batch back to the buddy. */
static void pcp_test_overflow_drains_a_batch(void **state)
{
	static paddr_t pa[4096];
	struct page_pcp *pc;
	unsigned n;

	(void)state;
	pa[0] = page_alloc(0, 0);
	pc = my_pcp(pa[0]);
	n = pc->pc_high + 2 * pc->pc_batch;
	for (unsigned i = 1; i < n; i++)
		pa[i] = page_alloc(0, 0);
	page_pcp_drain_this_hart();
	for (unsigned i = 0; i < n; i++) {
		page_free(pa[i], 0);
		assert_true(pcp_count(pc) <= pc->pc_high);
	}
	assert_true(pc->pc_drained >= 2 * pc->pc_batch);
	assert_true(pcp_count(pc) > pc->pc_high - pc->pc_batch);
	expect_clean();
}

/* Batch and high follow the zone size (Linux's zone_batchsize), high = 6 batches. */
static void pcp_test_sizes_scale_with_zone(void **state)
{
	struct page_zone_info z16, z64, z128;

	(void)state;
	page_zone_info(0, &z16);	/* 16 MiB DMA */
	page_zone_info(2, &z64);	/* 64 MiB NORMAL, node 0 */
	page_zone_info(3, &z128);	/* 128 MiB NORMAL, node 1 */
	assert_true(z16.pzi_batch <= z64.pzi_batch && z64.pzi_batch <= z128.pzi_batch);
	assert_true(z16.pzi_batch < z128.pzi_batch);
	assert_int_equal(z128.pzi_batch, 7);	/* 32768 pages: 32/4 = 8, +4 -> 8, -1 */
	assert_int_equal(z128.pzi_pcp_high, 6 * z128.pzi_batch);
	for (unsigned i = 0; i < 4; i++) {
		struct page_zone_info zi;

		page_zone_info(i, &zi);
		assert_true(zi.pzi_batch >= 1 && zi.pzi_batch <= 63);
		assert_int_equal((zi.pzi_batch + 1) & zi.pzi_batch, 0);	/* 2^n - 1 */
	}
	expect_clean();
}

/* page_drain_all empties every hart's caches, not only the caller's. */
static void pcp_test_drain_all_empties_every_hart(void **state)
{
	paddr_t pa[4];

	(void)state;
	for (unsigned c = 0; c < 4; c++) {
		sim_become(&sim_two_nodes, c);
		pa[c] = page_alloc(0, 0);
		page_free(pa[c], 0);
	}
	assert_true(page_cached_count() >= 4);
	sim_become(&sim_two_nodes, 0);
	page_drain_all();
	assert_int_equal(page_cached_count(), 0);
	expect_clean();
}

/* A high-order allocation that fails while pages sit in caches drains them and succeeds. */
static void pcp_test_high_order_failure_drains_caches(void **state)
{
	static paddr_t pa[70000];
	static bool block_seen[64];
	struct page_stats st0, st1;
	const unsigned fl = PAGE_NODE(1) | PAGE_THISNODE;
	unsigned n = 0, pinned = 0;
	paddr_t big;

	(void)state;
	/* Take all of node 1 as single pages. */
	sim_become(&sim_two_nodes, 2);
	while ((pa[n] = page_alloc(0, fl | PAGE_URGENT)) != PAGE_NOADDR)
		n++;
	/* One page of every 4 MiB block goes to hart 3's cache (fewer than its high mark)... */
	sim_become(&sim_two_nodes, 3);
	for (unsigned i = 0; i < n; i++) {
		unsigned b = (unsigned)((pa[i] - sim_base) >> 22) % 64;

		if (!block_seen[b]) {
			block_seen[b] = true;
			page_free(pa[i], 0);
			pa[i] = PAGE_NOADDR;
			pinned++;
		}
	}
	assert_int_equal(page_cached_count(), pinned);
	/* ...and everything else goes back to the buddy through hart 2. */
	sim_become(&sim_two_nodes, 2);
	for (unsigned i = 0; i < n; i++)
		if (pa[i] != PAGE_NOADDR)
			page_free(pa[i], 0);
	page_pcp_drain_this_hart();
	assert_int_equal(page_cached_count(), pinned);
	page_get_stats(&st0);
	big = page_alloc(PAGE_MAX_ORDER, fl);
	page_get_stats(&st1);
	assert_int_not_equal(big, PAGE_NOADDR);
	assert_int_equal(st1.pst_drain_all, st0.pst_drain_all + 1);
	assert_int_equal(page_cached_count(), 0);
	page_free(big, PAGE_MAX_ORDER);
	expect_clean();
}

/* Pages freed on one hart land in that hart's cache whatever hart allocated them. */
static void pcp_test_free_goes_to_freeing_hart(void **state)
{
	paddr_t a;
	struct page_pcp *pc;
	unsigned before;

	(void)state;
	sim_become(&sim_two_nodes, 0);
	a = page_alloc(0, 0);
	sim_become(&sim_two_nodes, 1);
	pc = my_pcp(a);
	before = pcp_count(pc);
	page_free(a, 0);
	assert_int_equal(pcp_count(pc), before + 1);
	expect_clean();
}

/* A double free of a cached page is caught even from another hart. */
static void pcp_test_double_free_of_cached_page(void **state)
{
	paddr_t a = page_alloc(0, 0);

	(void)state;
	assert_int_equal(page_free(a, 0), 0);
	sim_become(&sim_two_nodes, 3);
	assert_int_equal(page_free(a, 0), PAGE_EDOUBLE);
	expect_clean();
}

/* buddyinfo and zoneinfo print every zone in the Linux formats. */
static void pcp_test_dumps_have_linux_format(void **state)
{
	paddr_t a = page_alloc(0, 0);

	(void)state;
	host_capture_reset();
	page_buddyinfo(host_capture);
	assert_non_null(strstr(host_captured(), "Node 0, zone      DMA "));
	assert_non_null(strstr(host_captured(), "Node 0, zone    DMA32 "));
	assert_non_null(strstr(host_captured(), "Node 1, zone   Normal "));
	host_capture_reset();
	page_zoneinfo(host_capture);
	assert_non_null(strstr(host_captured(), "Node 0, zone   Normal\n  pages free     "));
	assert_non_null(strstr(host_captured(), "        managed  "));
	assert_non_null(strstr(host_captured(), "  pagesets\n    cpu: 0\n              count: "));
	assert_non_null(strstr(host_captured(), "              batch: "));
	assert_non_null(strstr(host_captured(), "nr_pcp_refills "));
	page_free(a, 0);
	expect_clean();
}

/* One zone as buddyinfo and zoneinfo print it (cpu 0's cache only). */
struct dump_zone {
	int dz_node;
	char dz_name[16];
	unsigned long long dz_nr_free[PAGE_NR_ORDERS];	/* buddyinfo columns */
	unsigned long long dz_free, dz_pcp;		/* zoneinfo: pages free, nr_pcp_pages */
	unsigned long long dz_counts;			/* sum of the per-cpu count: lines */
	unsigned long long dz_allocs0, dz_frees0, dz_refilled0, dz_drained0;
};

/* Parse buddyinfo as printed now into z[]: node, zone name, one count per order. */
static unsigned dump_parse_buddyinfo(struct dump_zone *z, unsigned max)
{
	char *line, *save = NULL;
	unsigned n = 0;

	host_capture_reset();
	page_buddyinfo(host_capture);
	for (line = strtok_r(host_captured(), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int off = 0;
		char *p;

		assert_true(n < max);
		assert_int_equal(sscanf(line, "Node %d, zone %15s %n", &z[n].dz_node,
					z[n].dz_name, &off), 2);
		p = line + off;
		for (unsigned o = 0; o < PAGE_NR_ORDERS; o++)
			z[n].dz_nr_free[o] = strtoull(p, &p, 10);
		n++;
	}
	return n;
}

/* Add one zoneinfo line to zone d; *cpu is the pageset being read. */
static void dump_zoneinfo_line(struct dump_zone *d, const char *line, unsigned *cpu)
{
	unsigned long long v;

	if (sscanf(line, "  pages free %llu", &d->dz_free) == 1 ||
	    sscanf(line, " nr_pcp_pages %llu", &d->dz_pcp) == 1 ||
	    sscanf(line, " cpu: %u", cpu) == 1)
		return;
	if (sscanf(line, " count: %llu", &v) == 1)
		d->dz_counts += v;
	else if (*cpu == 0)
		sscanf(line, " allocs: %llu frees: %llu refilled: %llu drained: %llu",
		       &d->dz_allocs0, &d->dz_frees0, &d->dz_refilled0, &d->dz_drained0);
}

/* Parse buddyinfo then zoneinfo, as printed now, into z[]; returns the zone count. */
static unsigned dump_parse(struct dump_zone *z, unsigned max)
{
	unsigned n, zi = 0, cpu = 0;
	char *line, *save = NULL;

	memset(z, 0, max * sizeof(*z));
	n = dump_parse_buddyinfo(z, max);
	host_capture_reset();
	page_zoneinfo(host_capture);
	for (line = strtok_r(host_captured(), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int node;
		char name[16];

		if (sscanf(line, "Node %d, zone %15s", &node, name) == 2) {
			assert_true(zi < n);	/* zoneinfo lists the zones buddyinfo did */
			assert_int_equal(node, z[zi].dz_node);
			assert_string_equal(name, z[zi].dz_name);
			zi++;
		} else {
			assert_true(zi > 0);
			dump_zoneinfo_line(&z[zi - 1], line, &cpu);
		}
	}
	assert_int_equal(zi, n);
	return n;
}

/* buddyinfo's blocks add up to zoneinfo's free pages, and the caches to nr_pcp_pages. */
static void dump_check_zones(const struct dump_zone *z, unsigned n)
{
	struct page_zone_info zi;

	assert_int_equal(n, page_zone_count());
	for (unsigned i = 0; i < n; i++) {
		unsigned long long pages = 0;

		assert_int_equal(page_zone_info(i, &zi), 0);
		assert_int_equal(z[i].dz_node, zi.pzi_node);
		assert_string_equal(z[i].dz_name, page_zone_name(zi.pzi_type));
		for (unsigned o = 0; o < PAGE_NR_ORDERS; o++)
			pages += z[i].dz_nr_free[o] << o;
		assert_int_equal(pages, z[i].dz_free);
		assert_int_equal(z[i].dz_free, zi.pzi_free);
		assert_int_equal(z[i].dz_counts, z[i].dz_pcp);
		assert_int_equal(z[i].dz_pcp, zi.pzi_cached);
	}
}

/*
 * The dumps' numbers after a known workload: on hart 0, 10 order-0
 * allocations and 4 frees.  zoneinfo must show exactly those allocations and
 * frees, the whole batches an empty cache needs for 10 pages refilled, the
 * cache holding those less 6, and buddyinfo's columns short by the refill.
 */
static void pcp_test_dumps_agree_with_counters(void **state)
{
	static struct dump_zone z0[8], z1[8];
	paddr_t pa[10];
	unsigned n, zi;
	unsigned long long b0 = 0, b1 = 0, batch, refill;

	(void)state;
	sim_become(&sim_two_nodes, 0);
	n = dump_parse(z0, 8);
	dump_check_zones(z0, n);
	for (unsigned i = 0; i < 10; i++)
		assert_int_not_equal(pa[i] = page_alloc(0, 0), PAGE_NOADDR);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(page_free(pa[i], 0), 0);
	zi = page_lookup(pa[9])->pg_zone;
	batch = my_pcp(pa[9])->pc_batch;
	refill = (10 + batch - 1) / batch * batch;	/* whole batches, from an empty cache */
	assert_true(refill - 6 <= my_pcp(pa[9])->pc_high);	/* so nothing was drained */
	assert_int_equal(dump_parse(z1, 8), n);
	dump_check_zones(z1, n);
	assert_int_equal(z1[zi].dz_allocs0 - z0[zi].dz_allocs0, 10);
	assert_int_equal(z1[zi].dz_frees0 - z0[zi].dz_frees0, 4);
	assert_int_equal(z1[zi].dz_refilled0 - z0[zi].dz_refilled0, refill);
	assert_int_equal(z1[zi].dz_drained0, z0[zi].dz_drained0);
	assert_int_equal(z1[zi].dz_pcp - z0[zi].dz_pcp, refill - 6);
	for (unsigned o = 0; o < PAGE_NR_ORDERS; o++) {
		b0 += z0[zi].dz_nr_free[o] << o;
		b1 += z1[zi].dz_nr_free[o] << o;
	}
	assert_int_equal(b0 - b1, refill);
	for (unsigned i = 4; i < 10; i++)
		page_free(pa[i], 0);
	expect_clean();
}

/* ---- real threads, one hart each ---- */

#define MT_THREADS	4
#define MT_STEPS	1000000
#define MT_SLOTS	256

/* A hand-off mailbox: pages allocated on one hart and freed on another. */
static struct {
	pthread_mutex_t mb_lock;
	paddr_t mb_pa[1024];
	unsigned mb_order[1024];
	unsigned mb_n;
} mbox = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0 };

static uint64_t mt_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Stamp a block with its owner and check the stamp before freeing. */
static void stamp(paddr_t pa, unsigned order, uint64_t v)
{
	uint64_t *p = phys_to_virt(pa);

	for (unsigned i = 0; i < (1u << order); i++)
		p[i * (PG / 8)] = v;
}

static bool stamp_ok(paddr_t pa, unsigned order, uint64_t v)
{
	const uint64_t *p = phys_to_virt(pa);

	for (unsigned i = 0; i < (1u << order); i++)
		if (p[i * (PG / 8)] != v)
			return false;
	return true;
}

static atomic_int mt_errors;

/* Hand a block to the mailbox, or free it here when the mailbox is full. */
static void mt_pass_or_free(paddr_t pa, unsigned order)
{
	pthread_mutex_lock(&mbox.mb_lock);
	if (mbox.mb_n < 1024) {
		mbox.mb_pa[mbox.mb_n] = pa;
		mbox.mb_order[mbox.mb_n++] = order;
		pa = PAGE_NOADDR;
	}
	pthread_mutex_unlock(&mbox.mb_lock);
	if (pa != PAGE_NOADDR && page_free(pa, order) != 0)
		atomic_fetch_add(&mt_errors, 1);
}

/* Free one block from the mailbox (allocated by some other hart), if any. */
static void mt_take_from_mailbox(void)
{
	paddr_t pa = PAGE_NOADDR;
	unsigned order = 0;

	pthread_mutex_lock(&mbox.mb_lock);
	if (mbox.mb_n > 0) {
		pa = mbox.mb_pa[--mbox.mb_n];
		order = mbox.mb_order[mbox.mb_n];
	}
	pthread_mutex_unlock(&mbox.mb_lock);
	if (pa != PAGE_NOADDR && page_free(pa, order) != 0)
		atomic_fetch_add(&mt_errors, 1);
}

/* One hart: random order-0 (mostly) traffic with stamps, frees here and elsewhere. */
static void *mt_worker(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0x1234567ull * (cpu + 1), me = 0xabc0000000000000ull | cpu;
	paddr_t slot[MT_SLOTS];
	unsigned sorder[MT_SLOTS];

	sim_become(&sim_two_nodes, cpu);
	for (unsigned i = 0; i < MT_SLOTS; i++)
		slot[i] = PAGE_NOADDR;
	for (unsigned step = 0; step < MT_STEPS; step++) {
		unsigned i = (unsigned)(mt_rnd(&seed) % MT_SLOTS), r = (unsigned)(mt_rnd(&seed) % 100);

		if (slot[i] == PAGE_NOADDR) {
			sorder[i] = r < 90 ? 0 : (unsigned)(r % 4);
			slot[i] = page_alloc(sorder[i], r % 7 == 0 ? PAGE_DMA32 : 0);
			if (slot[i] != PAGE_NOADDR)
				stamp(slot[i], sorder[i], me ^ slot[i]);
		} else {
			if (!stamp_ok(slot[i], sorder[i], me ^ slot[i]))
				atomic_fetch_add(&mt_errors, 1);	/* someone else got our page */
			stamp(slot[i], sorder[i], 0);
			if (r < 20)
				mt_pass_or_free(slot[i], sorder[i]);
			else if (page_free(slot[i], sorder[i]) != 0)
				atomic_fetch_add(&mt_errors, 1);
			slot[i] = PAGE_NOADDR;
		}
		if (r >= 95)
			mt_take_from_mailbox();
	}
	for (unsigned i = 0; i < MT_SLOTS; i++)
		if (slot[i] != PAGE_NOADDR && page_free(slot[i], sorder[i]) != 0)
			atomic_fetch_add(&mt_errors, 1);
	return NULL;
}

/* Four threads as four harts: no page is ever given twice, and nothing is lost. */
static void pcp_test_threads_never_share_pages(void **state)
{
	pthread_t th[MT_THREADS];

	(void)state;
	atomic_store(&mt_errors, 0);
	for (unsigned t = 0; t < MT_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, mt_worker, (void *)(uintptr_t)t), 0);
	for (unsigned t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	while (mbox.mb_n > 0)
		mt_take_from_mailbox();
	assert_int_equal(atomic_load(&mt_errors), 0);
	expect_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(pcp_test_hit_reuses_page_without_buddy, boot_two),
		cmocka_unit_test_setup(pcp_test_refill_takes_a_batch, boot_two),
		cmocka_unit_test_setup(pcp_test_overflow_drains_a_batch, boot_two),
		cmocka_unit_test_setup(pcp_test_sizes_scale_with_zone, boot_two),
		cmocka_unit_test_setup(pcp_test_drain_all_empties_every_hart, boot_two),
		cmocka_unit_test_setup(pcp_test_high_order_failure_drains_caches, boot_two),
		cmocka_unit_test_setup(pcp_test_free_goes_to_freeing_hart, boot_two),
		cmocka_unit_test_setup(pcp_test_double_free_of_cached_page, boot_two),
		cmocka_unit_test_setup(pcp_test_dumps_have_linux_format, boot_two),
		cmocka_unit_test_setup(pcp_test_dumps_agree_with_counters, boot_two),
		cmocka_unit_test_setup(pcp_test_threads_never_share_pages, boot_two),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
