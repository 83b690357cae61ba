/*
 * test_defer.c - host tests of deferred page descriptors (mm/page_init.c §2:
 * page_layout.lay_defer, page_grow, zone_buddy_alloc) over a simulated 2 GiB
 * machine with 128 MiB sections.
 *
 * The machine (offsets from sim_base, one section = 128 MiB):
 *   node 0: DMA [0, 16M), DMA32 [16M, 256M), NORMAL [256M, 1G)
 *   node 1: NORMAL [1G, 2G)
 * with lay_defer = one section.  Section 0 holds two zones, so it is written
 * at boot; DMA32's section 1 is its eager part; node 0's NORMAL writes
 * section 2 and defers 3..7; node 1 writes section 8 and defers 9..15.
 * bootmem puts each node's maps at the top of its memory (sections 7 and
 * 15), so the eager sections 2 and 8 are entirely free.  Those facts, not
 * the allocator's own numbers, are the model the tests compare with.
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

#define SIM_SPAN	(2048ull << 20)

#include "mm/mm_platform.h"
#include "mm/page.h"
#include "mm/page_impl.h"
#include "host_env.h"
#include "page_sim.h"

#define SECT		(128 * MIB)
#define SECT_PAGES	(SECT / PG)
#define Z_N0		2		/* zone index of node 0's NORMAL */
#define Z_N1		3		/* zone index of node 1's NORMAL */

static char why[256];

static const struct sim_machine sim_defer = {
	.sm_nzones = 4,
	.sm_zones = {
		{ 0, PAGE_ZONE_DMA, 0, 16 * MIB },
		{ 0, PAGE_ZONE_DMA32, 16 * MIB, 256 * MIB },
		{ 0, PAGE_ZONE_NORMAL, 256 * MIB, 1024 * MIB },
		{ 1, PAGE_ZONE_NORMAL, 1024 * MIB, 2048 * MIB },
	},
	.sm_dma_limit = 16 * MIB,
	.sm_dma32_limit = 256 * MIB,
	.sm_ncpus = 4,
	.sm_cpu_node = { 0, 0, 1, 1 },
	.sm_nresv = 1,
	.sm_resv = { { 1 * MIB, 64 * 1024 } },
	.sm_nnodes = 2,
	.sm_defer = 128 * MIB,
};

/* Boot the deferring machine before each case. */
static int boot_defer(void **state)
{
	(void)state;
	return sim_boot(&sim_defer);
}

/* "Physical" address of offset off. */
static paddr_t at(uint64_t off)
{
	return sim_base + off;
}

/* Zone zi's snapshot (asserting it exists). */
static struct page_zone_info zinfo(unsigned zi)
{
	struct page_zone_info z;

	assert_int_equal(page_zone_info(zi, &z), 0);
	return z;
}

/* Sum of every zone's deferred pages. */
static uint64_t deferred_total(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < page_zone_count(); i++)
		n += zinfo(i).pzi_deferred;
	return n;
}

/* A number from zone zi's zoneinfo block, read from the text (a second reader). */
static uint64_t zoneinfo_value(unsigned zi, const char *label)
{
	char *p, key[64];
	unsigned long long v;

	host_capture_reset();
	page_zoneinfo(host_capture);
	p = host_captured();
	for (unsigned i = 0; i <= zi; i++) {
		p = strstr(p, "Node ");
		assert_non_null(p);
		p++;
	}
	snprintf(key, sizeof(key), "      %s ", label);
	p = strstr(p, key);
	assert_non_null(p);
	assert_int_equal(sscanf(p + strlen(key), "%llu", &v), 1);
	return v;
}

/* Free blocks of zone zi counted from buddyinfo, in pages. */
static uint64_t buddyinfo_pages(unsigned zi)
{
	char *line;
	uint64_t pages = 0;

	host_capture_reset();
	page_buddyinfo(host_capture);
	line = host_captured();
	for (unsigned i = 0; i < zi; i++)
		line = strchr(line, '\n') + 1;
	line = strstr(line, "Normal");
	assert_non_null(line);
	line += strlen("Normal");
	for (unsigned o = 0; o < PAGE_NR_ORDERS; o++)
		pages += strtoull(line, &line, 10) << o;
	return pages;
}

/* Everything consistent and all free memory back, at the end of a case. */
static void expect_clean(void)
{
	sim_become(&sim_defer, 0);
	page_drain_all();
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	assert_int_equal(page_free_count(), sim_managed());
}

/* Boot: the sections the model says are deferred are, counted as free, and dumps agree. */
static void defer_test_boot_defers_the_model_sections(void **state)
{
	struct page_zone_info n0 = zinfo(Z_N0), n1 = zinfo(Z_N1);

	(void)state;
	assert_int_equal(zinfo(0).pzi_deferred, 0);	/* DMA: only in shared section 0 */
	assert_int_equal(zinfo(1).pzi_deferred, 0);	/* DMA32: section 1 is its eager part */
	/* NORMAL zones: everything but their fully free eager section. */
	assert_int_equal(n0.pzi_deferred, n0.pzi_managed - SECT_PAGES);
	assert_int_equal(n1.pzi_deferred, n1.pzi_managed - SECT_PAGES);
	assert_true(n1.pzi_managed > 6 * SECT_PAGES);
	for (unsigned i = 0; i < 4; i++) {
		struct page_zone_info z = zinfo(i);

		assert_int_equal(z.pzi_free, z.pzi_managed);	/* deferred pages are free */
		assert_int_equal(zoneinfo_value(i, "nr_deferred_pages"), z.pzi_deferred);
		assert_int_equal(zoneinfo_value(i, "nr_free_pages"), z.pzi_free);
		assert_int_equal(zoneinfo_value(i, "nr_deferred_grows"), 0);
	}
	/* The lists hold only the written sections. */
	assert_int_equal(buddyinfo_pages(Z_N1), SECT_PAGES);
	assert_int_equal(page_free_count(), sim_managed());
	expect_clean();
}

/* page_lookup is NULL in a deferred section until the zone grows into it. */
static void defer_test_lookup_null_until_grown(void **state)
{
	paddr_t blk[40], s9 = at(9 * SECT + 5 * PG), s10 = at(10 * SECT);
	unsigned n = 0;

	(void)state;
	assert_non_null(page_lookup(at(8 * SECT + 5 * PG)));	/* eager */
	assert_null(page_lookup(s9));
	assert_int_equal(page_node_of(s9), -1);
	/* A free in a deferred section is refused and changes nothing. */
	assert_int_equal(page_free(s9 & ~(PG - 1), 0), PAGE_ENOTALLOC);
	assert_int_equal(zinfo(Z_N1).pzi_deferred, zinfo(Z_N1).pzi_managed - SECT_PAGES);
	/* Section 8 holds 32 blocks of 4 MiB: the 33rd needs section 9. */
	for (n = 0; n < 32; n++) {
		blk[n] = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE);
		assert_true(blk[n] >= at(8 * SECT) && blk[n] < at(9 * SECT));
	}
	assert_null(page_lookup(s9));
	blk[n++] = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE);
	assert_true(blk[n - 1] >= at(9 * SECT) && blk[n - 1] < at(10 * SECT));
	assert_non_null(page_lookup(s9));
	assert_int_equal(page_lookup(s9)->pg_pa, s9 & ~(PG - 1));
	assert_int_equal(page_node_of(s9), 1);
	assert_null(page_lookup(s10));			/* one section at a time */
	assert_int_equal(zoneinfo_value(Z_N1, "nr_deferred_grows"), 1);
	assert_int_equal(zinfo(Z_N1).pzi_deferred, zinfo(Z_N1).pzi_managed - 2 * SECT_PAGES);
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	while (n > 0)
		assert_int_equal(page_free(blk[--n], PAGE_MAX_ORDER), 0);
	assert_int_equal(buddyinfo_pages(Z_N1), 2 * SECT_PAGES);
	expect_clean();
}

static unsigned hook_calls;
static uint64_t hook_deferred_seen;

/* Reclaim hook: remembers the deferred pages left when the allocator gave up. */
static void note_reclaim(void)
{
	hook_calls++;
	hook_deferred_seen += deferred_total();
}

/* Blocks held by the exhaustion test. */
static paddr_t *held;
static unsigned char *held_order;
static unsigned nheld;

/* Allocate blocks of `order` from hart 0 until failure; each must come from
 * zone Z_N0 for as long as that zone has anything deferred. */
static void exhaust(unsigned order)
{
	for (;;) {
		uint64_t deferred_before = zinfo(Z_N0).pzi_deferred;
		paddr_t pa = page_alloc(order, 0);

		if (pa == PAGE_NOADDR)
			return;
		if (deferred_before != 0 && !sim_in_zone(pa, PG << order, 0, PAGE_ZONE_NORMAL))
			fail_msg("fell back to 0x%llx with %llu pages deferred at home",
				 (unsigned long long)pa, (unsigned long long)deferred_before);
		held[nheld] = pa;
		held_order[nheld++] = (unsigned char)order;
	}
}

/* Everything grows before a request falls back, drains or reclaims; then it fails cleanly. */
static void defer_test_exhaustion_grows_everything_then_fails(void **state)
{
	uint64_t managed = sim_managed(), pages = 0, grows;
	struct page_stats st;

	(void)state;
	held = calloc(SIM_SPAN / PG, sizeof(*held));
	held_order = calloc(SIM_SPAN / PG, 1);
	assert_non_null(held);
	assert_non_null(held_order);
	nheld = 0;
	hook_calls = 0;
	hook_deferred_seen = 0;
	page_reclaim_hook_set(note_reclaim);
	sim_become(&sim_defer, 0);
	exhaust(PAGE_MAX_ORDER);
	exhaust(0);
	page_reclaim_hook_set(NULL);
	assert_true(hook_calls > 0);
	assert_int_equal(hook_deferred_seen, 0);
	assert_int_equal(deferred_total(), 0);
	grows = zoneinfo_value(Z_N0, "nr_deferred_grows") + zoneinfo_value(Z_N1, "nr_deferred_grows");
	assert_int_equal(grows, 5 + 7);
	page_get_stats(&st);
	assert_true(st.pst_alloc_fail >= 2);
	for (unsigned i = 0; i < nheld; i++)
		pages += 1ull << held_order[i];
	page_drain_all();
	assert_int_equal(pages + page_free_count(), managed);	/* nothing lost */
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	while (nheld > 0) {
		nheld--;
		assert_int_equal(page_free(held[nheld], held_order[nheld]), 0);
	}
	free(held);
	free(held_order);
	/* A second round finds nothing left to grow. */
	assert_int_equal(zoneinfo_value(Z_N1, "nr_deferred_grows"), 7);
	expect_clean();
}

/* ---- model-based random test ---- */

#include "page_model.h"

/* One random allocation; a block must be unheld and described (grown). */
static void random_alloc(void)
{
	static const unsigned cls[4] = { PAGE_ANY, PAGE_ANY, PAGE_ANY, PAGE_DMA32 };
	unsigned r = (unsigned)(rnd() % 100), order = r < 60 ? 0 : r < 90 ? r % 4 : 9 + r % 2;
	unsigned flags = cls[rnd() % 4];
	struct page *pg;
	paddr_t pa;

	if (rnd() % 4 == 0)
		flags |= PAGE_NODE(rnd() % 2) | ((rnd() & 1) ? PAGE_THISNODE : 0);
	pa = page_alloc(order, flags);
	if (pa == PAGE_NOADDR)
		return;
	pg = page_lookup(pa);
	if (pg == NULL || pg->pg_pa != pa)
		fail_msg("block 0x%llx handed out from an unwritten section", (unsigned long long)pa);
	if (!model_mark(pa, order, 1))
		fail_msg("block 0x%llx order %u overlaps a held block", (unsigned long long)pa, order);
	model_hold(pa, order);
}

/* Random traffic with growth: free + cached + held = managed after every step, and
 * deferred pages only ever shrink. */
static void defer_test_random_matches_model(void **state)
{
	uint64_t managed = sim_managed(), last_deferred = deferred_total();

	(void)state;
	owned = calloc(SIM_SPAN / PG, 1);
	assert_non_null(owned);
	nrh = 0;
	rh_pages = 0;
	for (unsigned step = 0; step < 400000; step++) {
		unsigned op = (unsigned)(rnd() % 100);
		uint64_t d;

		if (op < 2)
			sim_become(&sim_defer, (unsigned)(rnd() % 4));
		/* Grow the held set in waves so the zones reach their deferred sections. */
		if (op < ((step / 50000) % 2 ? 35 : 65))
			random_alloc();
		else
			random_free();
		model_expect_counts(step, managed);
		d = deferred_total();
		if (d > last_deferred)
			fail_msg("step %u: deferred pages grew from %llu to %llu", step,
				 (unsigned long long)last_deferred, (unsigned long long)d);
		last_deferred = d;
		if (step % 10000 == 0 && page_check(why, sizeof(why)) != 0)
			fail_msg("step %u: %s", step, why);
	}
	print_message("400000 steps, %llu of %llu pages still deferred\n",
		      (unsigned long long)last_deferred, (unsigned long long)managed);
	assert_true(last_deferred < zinfo(Z_N0).pzi_managed + zinfo(Z_N1).pzi_managed -
				    2 * SECT_PAGES);	/* the run did grow */
	while (nrh > 0)
		random_free();
	free(owned);
	expect_clean();
}

/* ---- several harts growing one zone at once ---- */

#define MT_THREADS	4
static paddr_t *mt_held[MT_THREADS];
static unsigned mt_n[MT_THREADS], mt_order[MT_THREADS];
static atomic_int mt_go;

/* One hart: allocate from node 1 only until it fails; hart 3 takes single pages
 * (through its cache), the others 4 MiB blocks. */
static void *mt_grabber(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	paddr_t pa;

	sim_become(&sim_defer, t);
	mt_order[t] = t == 3 ? 0 : PAGE_MAX_ORDER;
	while (atomic_load(&mt_go) == 0)
		;
	/* PAGE_URGENT: down to the last page, and no page_drain_all, which the host
	 * runs by borrowing every hart's identity on the calling thread while the
	 * real owners are still using their caches. */
	while ((pa = page_alloc(mt_order[t], PAGE_NODE(1) | PAGE_THISNODE | PAGE_URGENT)) !=
	       PAGE_NOADDR) {
		*(uint64_t *)phys_to_virt(pa) = pa ^ t;	/* a stamp only the owner writes */
		mt_held[t][mt_n[t]++] = pa;
	}
	return NULL;
}

/* Sort helper for paddr_t. */
static int cmp_pa(const void *a, const void *b)
{
	paddr_t x = *(const paddr_t *)a, y = *(const paddr_t *)b;

	return x < y ? -1 : x > y;
}

/* After a round: every stamp intact, every block in node 1's NORMAL, none twice, and
 * held + free = the zone's pages (the eager section's 32 blocks held by the caller). */
static void mt_check_held(uint64_t zone_pages)
{
	uint64_t pages = SECT_PAGES;
	paddr_t *all = calloc(zone_pages, sizeof(paddr_t));
	unsigned total = 0;

	assert_non_null(all);
	for (unsigned t = 0; t < MT_THREADS; t++)
		for (unsigned i = 0; i < mt_n[t]; i++) {
			paddr_t pa = mt_held[t][i];

			assert_int_equal(*(uint64_t *)phys_to_virt(pa), pa ^ t);
			assert_true(sim_in_zone(pa, PG << mt_order[t], 1, PAGE_ZONE_NORMAL));
			all[total++] = pa;
			pages += 1ull << mt_order[t];
		}
	qsort(all, total, sizeof(paddr_t), cmp_pa);
	for (unsigned i = 1; i < total; i++)
		assert_true(all[i] != all[i - 1]);
	free(all);
	page_drain_all();
	assert_int_equal(pages + zinfo(Z_N1).pzi_free, zone_pages);
}

/* One round: the eager section of node 1 taken first, then four harts empty the
 * rest at once; every section grows exactly once, no page goes out twice. */
static void mt_round(void)
{
	pthread_t th[MT_THREADS];
	uint64_t zone_pages = zinfo(Z_N1).pzi_managed;
	paddr_t eager[32];

	sim_become(&sim_defer, 0);
	for (unsigned i = 0; i < 32; i++)	/* the lists are empty when the race starts */
		assert_true((eager[i] = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE)) <
			    at(9 * SECT));
	atomic_store(&mt_go, 0);
	for (unsigned t = 0; t < MT_THREADS; t++) {
		mt_held[t] = calloc(zone_pages, sizeof(paddr_t));
		assert_non_null(mt_held[t]);
		mt_n[t] = 0;
		assert_int_equal(pthread_create(&th[t], NULL, mt_grabber, (void *)(uintptr_t)t), 0);
	}
	atomic_store(&mt_go, 1);
	for (unsigned t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	sim_become(&sim_defer, 0);
	assert_int_equal(zinfo(Z_N1).pzi_deferred, 0);
	assert_int_equal(zoneinfo_value(Z_N1, "nr_deferred_grows"), 7);
	mt_check_held(zone_pages);
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	for (unsigned t = 0; t < MT_THREADS; t++) {
		for (unsigned i = 0; i < mt_n[t]; i++)
			assert_int_equal(page_free(mt_held[t][i], mt_order[t]), 0);
		free(mt_held[t]);
	}
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(page_free(eager[i], PAGE_MAX_ORDER), 0);
	expect_clean();
}

/* Several harts growing one zone at once, over fresh boots. */
static void defer_test_threads_grow_at_once(void **state)
{
	(void)state;
	for (unsigned round = 0; round < 24; round++) {
		if (round > 0)
			assert_int_equal(sim_boot(&sim_defer), 0);
		mt_round();
	}
}

/* page_check must fail, naming the fault with `expect`, and then pass once it is undone. */
static void expect_check_fails(const char *expect)
{
	assert_int_equal(page_check(why, sizeof(why)), -1);
	if (strstr(why, expect) == NULL)
		fail_msg("page_check said \"%s\", not \"%s\"", why, expect);
}

/* page_check reports each broken deferral invariant of page_init.c §2, changing nothing. */
static void defer_test_check_reports_broken_deferral(void **state)
{
	struct page_zone *zp = &page_state.pgs_zone[Z_N1];
	uint64_t dnext = zp->z_dnext;

	(void)state;
	zp->z_deferred++;			/* a count that disagrees with the sections */
	expect_check_fails("deferred sections hold");
	zp->z_deferred--;
	zp->z_dnext = zp->z_dend;		/* deferred sections 9..15 outside the cursor */
	expect_check_fails("zone 3 section 9: deferred 1, published 0");
	zp->z_dnext = dnext;
	page_state.pgs_sect[8].psc_deferred = true;	/* a written section marked deferred */
	expect_check_fails("zone 3 section 8: deferred 1, published 1");
	page_state.pgs_sect[8].psc_deferred = false;
	assert_int_equal(zinfo(Z_N1).pzi_deferred, zinfo(Z_N1).pzi_managed - SECT_PAGES);
	expect_clean();
}

/* lay_defer larger than every zone defers nothing; the default (0) neither. */
static void defer_test_large_eager_defers_nothing(void **state)
{
	struct sim_machine m = sim_defer;

	(void)state;
	m.sm_defer = 4096 * MIB;
	assert_int_equal(sim_boot(&m), 0);
	assert_int_equal(deferred_total(), 0);
	assert_non_null(page_lookup(at(15 * SECT)));
	m.sm_defer = 0;
	assert_int_equal(sim_boot(&m), 0);
	assert_int_equal(deferred_total(), 0);
	assert_int_equal(buddyinfo_pages(Z_N1), zinfo(Z_N1).pzi_managed);
	expect_clean();
	assert_int_equal(sim_boot(&sim_defer), 0);	/* leave the usual machine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(defer_test_boot_defers_the_model_sections, boot_defer),
		cmocka_unit_test_setup(defer_test_lookup_null_until_grown, boot_defer),
		cmocka_unit_test_setup(defer_test_exhaustion_grows_everything_then_fails, boot_defer),
		cmocka_unit_test_setup(defer_test_random_matches_model, boot_defer),
		cmocka_unit_test_setup(defer_test_threads_grow_at_once, boot_defer),
		cmocka_unit_test_setup(defer_test_check_reports_broken_deferral, boot_defer),
		cmocka_unit_test_setup(defer_test_large_eager_defers_nothing, boot_defer),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
