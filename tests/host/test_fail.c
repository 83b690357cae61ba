/*
 * test_fail.c - failure injection (mm/fail.c), the per-hart level counters
 * and the end-of-run drains, on the simulated two-node machine.
 *
 * With fail_set(N) on, a random workload runs on each layer (pages, vmem
 * with imports and quantum caches, object caches and kmalloc) against a
 * model of what is live.  Every injected failure must be an ordinary
 * failure: the layer counts it (pst_alloc_fail, vk_fail, KMS_FAIL equal to
 * the NULLs the model saw), nothing it handed out overlaps, and at the end,
 * after freeing everything, draining every hart and purging, every zone's
 * free count, every arena's size and every cache's buffers are back where
 * they started.  fail_stats must show that failures really were injected.
 * One test runs four real threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "host_env.h"
#include "kmem_sim.h"
#include "mm/fail.h"

#define FT_SLOTS	256

/* The test's own xorshift64 (independent of fail.c's dice). */
static uint64_t ft_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Every zone's free count, after draining every hart's page caches. */
static void zone_free_snapshot(uint64_t *out, unsigned max)
{
	struct page_zone_info zi;

	cpu_call_all((void (*)(void *))page_pcp_drain_this_hart, NULL);
	for (unsigned i = 0; i < max; i++)
		out[i] = page_zone_info(i, &zi) == 0 ? zi.pzi_free : 0;
}

/* The end-of-run drain: every hart's magazines and page caches, then the depots and slabs. */
static void drain_everything(void)
{
	cpu_call_all((void (*)(void *))kmem_drain_this_hart, NULL);
	kmem_purge();
	cpu_call_all((void (*)(void *))page_pcp_drain_this_hart, NULL);
}

/* Fail naming the zone unless every zone has the free count it had in before[]. */
static void assert_zones_back(const uint64_t *before, unsigned n)
{
	uint64_t now[8];

	zone_free_snapshot(now, n);
	for (unsigned i = 0; i < n; i++)
		if (now[i] != before[i])
			fail_msg("zone %u: %lu pages free, %lu before", i, (unsigned long)now[i],
				 (unsigned long)before[i]);
}

/* ------------------------------------------------------------ the dice */

/* Off injects nothing; on, about one in N, reproducible from the seed, counted per site. */
static void fail_test_rate_seed_and_counts(void **state)
{
	uint64_t st[FAIL_NSITES];
	unsigned hits = 0, again = 0;
	bool first[1000];

	(void)state;
	fail_set(0, 0);
	for (int i = 0; i < 10000; i++)
		assert_false(fail_inject(FAIL_PAGE));
	fail_set(10, 42);
	assert_int_equal(fail_every(), 10);
	for (int i = 0; i < 100000; i++)
		hits += fail_inject(i % 2 ? FAIL_VMEM : FAIL_SLAB);
	assert_in_range(hits, 9000, 11000);
	fail_stats(st);
	assert_int_equal(st[FAIL_PAGE], 0);
	assert_int_equal(st[FAIL_VMEM] + st[FAIL_SLAB], hits);
	assert_true(st[FAIL_VMEM] > 4000 && st[FAIL_SLAB] > 4000);
	fail_set(10, 42);				/* the same seed: the same sequence */
	for (int i = 0; i < 1000; i++)
		first[i] = fail_inject(FAIL_PAGE);
	fail_set(10, 42);
	for (int i = 0; i < 1000; i++)
		again += first[i] == fail_inject(FAIL_PAGE);
	assert_int_equal(again, 1000);
	fail_hold();					/* held: nothing fails */
	for (int i = 0; i < 1000; i++)
		assert_false(fail_inject(FAIL_PAGE));
	fail_release();
	HOST_EXPECT_PANIC(fail_release(), "fail_release: no fail_hold");
	fail_set(0, 0);
}

/* ------------------------------------------------------------ pages */

struct ft_block { paddr_t fb_pa; unsigned fb_order; uint64_t fb_stamp; };

/*
 * One step of the random page traffic: free a slot's block (its stamp
 * intact) or allocate one of random order, zone class, node and urgency,
 * counting NULLs (and the urgent ones) in *nulls and *urgent_nulls.
 */
static void ft_page_step(struct ft_block *live, uint64_t *rng, uint64_t *nulls,
			 uint64_t *urgent_nulls)
{
	static const unsigned cls[] = { PAGE_ANY, PAGE_DMA32, PAGE_DMA };
	struct ft_block *b = &live[ft_rng(rng) % FT_SLOTS];
	uint64_t r = ft_rng(rng);
	unsigned flags;
	paddr_t pa;

	if (b->fb_pa != 0) {
		assert_true(*(uint64_t *)phys_to_virt(b->fb_pa) == b->fb_stamp);
		assert_int_equal(page_free(b->fb_pa, b->fb_order), 0);
		b->fb_pa = 0;
		return;
	}
	b->fb_order = r % 3 == 0 ? (unsigned)(r >> 8) % 5 : 0;
	flags = cls[(r >> 16) % 3] | ((r >> 20) % 4 == 0 ? PAGE_URGENT : 0) |
		((r >> 24) % 4 == 0 ? PAGE_NODE((r >> 28) % 2) : 0);
	pa = page_alloc(b->fb_order, flags);
	if (pa == PAGE_NOADDR) {
		(*nulls)++;
		*urgent_nulls += (flags & PAGE_URGENT) != 0;
		return;
	}
	b->fb_pa = pa;
	b->fb_stamp = r;
	*(uint64_t *)phys_to_virt(pa) = r;	/* an overlap would break a stamp */
}

/*
 * kmastat's failure-injection line (the one users read), parsed: rate
 * `every` and `page` injected page failures (counted by the test itself),
 * none at vmem or slab; every == 0 and page == 0: no such line at all.
 */
static void assert_kmastat_fail_line(unsigned every, uint64_t page)
{
	unsigned long e, p, v, sl;
	const char *line;

	host_capture_reset();
	kmem_kmastat(host_capture);
	line = strstr(host_captured(), "failure injection:");
	if (every == 0 && page == 0) {
		if (line != NULL)
			fail_msg("kmastat shows injection while it is off: %.80s", line);
		return;
	}
	if (line == NULL || sscanf(line, "failure injection: every %lu, injected page %lu vmem %lu slab %lu",
				   &e, &p, &v, &sl) != 4)
		fail_msg("kmastat has no failure-injection line");
	if (e != every || p != page || v != 0 || sl != 0)
		fail_msg("kmastat shows every %lu page %lu vmem %lu slab %lu; expected %u, %lu, 0, 0",
			 e, p, v, sl, every, (unsigned long)page);
}

/* Random page traffic at 1/4: frees every block, counts match, zones come back. */
static void fail_test_page_workload_loses_nothing(void **state)
{
	struct ft_block live[FT_SLOTS] = { { 0 } };
	struct page_stats ps0, ps1;
	uint64_t before[8], rng = 7, st[FAIL_NSITES], nulls = 0, urgent_nulls = 0;
	char why[256];

	(void)state;
	zone_free_snapshot(before, 8);
	page_get_stats(&ps0);
	fail_set(4, 1);
	for (int op = 0; op < 40000; op++)
		ft_page_step(live, &rng, &nulls, &urgent_nulls);
	fail_stats(st);
	assert_kmastat_fail_line(4, nulls);
	fail_set(0, 0);
	assert_kmastat_fail_line(0, 0);
	page_get_stats(&ps1);
	assert_true(st[FAIL_PAGE] > 1000);
	assert_int_equal(st[FAIL_VMEM] + st[FAIL_SLAB], 0);
	assert_int_equal(urgent_nulls, 0);		/* plenty of memory: only injection fails */
	assert_int_equal(nulls, st[FAIL_PAGE]);
	assert_int_equal(ps1.pst_alloc_fail - ps0.pst_alloc_fail, nulls);
	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (live[i].fb_pa != 0)
			assert_int_equal(page_free(live[i].fb_pa, live[i].fb_order), 0);
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	assert_zones_back(before, 8);
}

/* ------------------------------------------------------------ vmem */

struct ft_range { uintptr_t fr_addr; size_t fr_size; bool fr_x; };

/* Does live range *me overlap another live range? */
static bool ft_overlaps(const struct ft_range *live, const struct ft_range *me)
{
	uintptr_t a = me->fr_addr;
	size_t n = me->fr_size;

	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (&live[i] != me && live[i].fr_addr != 0 && a < live[i].fr_addr + live[i].fr_size &&
		    live[i].fr_addr < a + n)
			return true;
	return false;
}

/* One random vmem request into r; false when it failed. */
static bool ft_vmem_alloc(vmem_t *vmp, struct ft_range *r, uint64_t x)
{
	int flag = (x >> 4) % 2 ? VM_NOSLEEP : VM_SLEEP;

	r->fr_size = (size_t)(1 + (x >> 8) % 6) * 0x1000;
	r->fr_x = (x >> 12) % 3 == 0;
	if (!r->fr_x) {
		r->fr_addr = vmem_alloc(vmp, r->fr_size, flag);
	} else {
		size_t align = (size_t)0x1000 << ((x >> 16) % 4);

		r->fr_addr = vmem_xalloc(vmp, r->fr_size, align, align > 0x1000 ? 0x1000 : 0, 0,
					 0, 0, flag);
		if (r->fr_addr != 0 && align > 0x1000 && r->fr_addr % align != 0x1000)
			fail_msg("vmem_xalloc: 0x%lx breaks align 0x%lx phase 0x1000",
				 (unsigned long)r->fr_addr, (unsigned long)align);
	}
	return r->fr_addr != 0;
}

/*
 * 30,000 random frees and allocations on kid (over src) with the ranges in
 * live[], both arenas checked every 1,000: the allocations that failed.
 */
static uint64_t ft_vmem_run(vmem_t *kid, vmem_t *src, struct ft_range *live)
{
	uint64_t rng = 11, nulls = 0;
	char why[256];

	for (int op = 0; op < 30000; op++) {
		struct ft_range *r = &live[ft_rng(&rng) % FT_SLOTS];
		uint64_t x = ft_rng(&rng);

		if (r->fr_addr != 0) {
			(r->fr_x ? vmem_xfree : vmem_free)(kid, r->fr_addr, r->fr_size);
			r->fr_addr = 0;
		} else if (!ft_vmem_alloc(kid, r, x)) {
			nulls++;
		} else if (ft_overlaps(live, r)) {
			fail_msg("vmem: overlapping allocation");
		}
		if (op % 1000 == 0 && (!vmem_check(kid, why, sizeof(why)) ||
				       !vmem_check(src, why, sizeof(why))))
			fail_msg("vmem_check: %s", why);
	}
	return nulls;
}

/* An importing arena with quantum caches over a source: at 1/5, nothing lost, sizes back. */
static void fail_test_vmem_workload_loses_nothing(void **state)
{
	size_t span = 32 << 20;
	void *mem = aligned_alloc(MM_PAGE_SIZE, span);
	vmem_t *src = vmem_create("ft_src", (uintptr_t)mem, span, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *kid = vmem_create("ft_kid", 0, 0, 0x1000, vmem_alloc, vmem_free, src, 0x4000, 0);
	struct ft_range live[FT_SLOTS] = { { 0 } };
	struct vmem_kstat k0, k1, s0, s1;
	uint64_t st[FAIL_NSITES], nulls;

	(void)state;
	assert_non_null(kid);
	vmem_stats(kid, &k0);
	vmem_stats(src, &s0);
	fail_set(5, 2);
	nulls = ft_vmem_run(kid, src, live);
	fail_stats(st);
	fail_set(0, 0);
	vmem_stats(kid, &k1);
	vmem_stats(src, &s1);
	assert_true(st[FAIL_VMEM] > 500);
	assert_true(nulls > 0 && nulls <= st[FAIL_VMEM] + st[FAIL_SLAB]);
	/*
	 * Memory is plentiful: every arena failure comes from an injection,
	 * counted by the arena it hit, and at most once more by ft_kid when it
	 * was ft_kid's import that failed.
	 */
	assert_in_range((k1.vk_fail - k0.vk_fail) + (s1.vk_fail - s0.vk_fail), st[FAIL_VMEM],
			2 * st[FAIL_VMEM]);
	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (live[i].fr_addr != 0)
			(live[i].fr_x ? vmem_xfree : vmem_free)(kid, live[i].fr_addr, live[i].fr_size);
	drain_everything();
	assert_int_equal(vmem_size(kid, VMEM_ALLOC), 0);
	assert_int_equal(vmem_size(kid, VMEM_ALLOC | VMEM_FREE), 0);	/* every span released */
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0);
	assert_int_equal(vmem_size(src, VMEM_FREE), span);
	vmem_destroy(kid);
	vmem_destroy(src);
	free(mem);
}

/* ------------------------------------------------------------ object caches */

enum { FK_SMALL, FK_BIG, FK_FLAT, FK_DEBUG, FK_NCACHES, FK_KMALLOC = FK_NCACHES };

struct ft_obj { void *fo_buf; int fo_kind; size_t fo_size; uint64_t fo_stamp; };

static kmem_cache_t *fk_cache[FK_NCACHES];
static const size_t fk_size[FK_NCACHES] = { 48, 2000, 200, 96 };

/* Constructor of the small cache: a word the client must find. */
static int fk_ctor(void *buf, void *private, int kmflag)
{
	(void)private, (void)kmflag;
	*(uint64_t *)buf = 0xc0115717c0115717ull;
	return 0;
}

/* The workload's caches: constructed small, bufctl-backed big, one-home, full debug. */
static void fk_create(void)
{
	fk_cache[FK_SMALL] = kmem_cache_create("ft_small", 48, 0, fk_ctor, NULL, NULL, NULL, NULL, 0);
	fk_cache[FK_BIG] = kmem_cache_create("ft_big", 2000, 0, NULL, NULL, NULL, NULL, NULL, 0);
	fk_cache[FK_FLAT] = kmem_cache_create("ft_flat", 200, 0, NULL, NULL, NULL, NULL, NULL,
					      KMC_NOTNUMA);
	fk_cache[FK_DEBUG] = kmem_cache_create("ft_debug", 96, 0, NULL, NULL, NULL, NULL, NULL,
					       KMF_DEBUG_ALL);
	for (int k = 0; k < FK_NCACHES; k++)
		assert_non_null(fk_cache[k]);
}

/* One random allocation into o (a random hart, cache or kmalloc size, flag); false: NULL. */
static bool fk_alloc(struct ft_obj *o, uint64_t x)
{
	int flag = (x >> 4) % 2 ? KM_NOSLEEP : KM_SLEEP;
	size_t n;

	o->fo_kind = (int)((x >> 8) % (FK_NCACHES + 1));
	if (o->fo_kind == FK_KMALLOC) {
		o->fo_size = 1 + (size_t)((x >> 16) % ((x >> 40) % 8 == 0 ? 20000 : 1000));
		o->fo_buf = kmalloc(o->fo_size, flag);
	} else {
		o->fo_size = fk_size[o->fo_kind];
		o->fo_buf = (x >> 12) % 8 == 0 ?
			    kmem_cache_alloc_node(fk_cache[o->fo_kind], flag, (int)((x >> 20) % 2)) :
			    kmem_cache_alloc(fk_cache[o->fo_kind], flag);
	}
	if (o->fo_buf == NULL)
		return false;
	if (o->fo_kind == FK_SMALL && *(uint64_t *)o->fo_buf != 0xc0115717c0115717ull)
		fail_msg("ft_small: buffer %p not constructed", o->fo_buf);
	o->fo_stamp = x;
	n = o->fo_size < 8 ? o->fo_size : 8;	/* the stamp: the last 8 bytes (or all) */
	memcpy((char *)o->fo_buf + o->fo_size - n, &x, n);
	return true;
}

/* Does live object o overlap another live one? */
static bool fk_overlap(const struct ft_obj *live, const struct ft_obj *o)
{
	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (&live[i] != o && live[i].fo_buf != NULL &&
		    (char *)live[i].fo_buf < (char *)o->fo_buf + o->fo_size &&
		    (char *)o->fo_buf < (char *)live[i].fo_buf + live[i].fo_size)
			return true;
	return false;
}

/* Check o's stamp and free it. */
static void fk_free(struct ft_obj *o)
{
	size_t n = o->fo_size < 8 ? o->fo_size : 8;

	if (memcmp((char *)o->fo_buf + o->fo_size - n, &o->fo_stamp, n) != 0)
		fail_msg("buffer %p (kind %d, %zu bytes) lost its stamp", o->fo_buf, o->fo_kind,
			 o->fo_size);
	if (o->fo_kind == FK_KMALLOC)
		kfree(o->fo_buf);
	else
		kmem_cache_free(fk_cache[o->fo_kind], o->fo_buf);
	o->fo_buf = NULL;
}

/* Every cache in use as the model says, and consistent. */
static void fk_check(const struct ft_obj *live)
{
	uint64_t n[FK_NCACHES] = { 0 };

	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (live[i].fo_buf != NULL && live[i].fo_kind != FK_KMALLOC)
			n[live[i].fo_kind]++;
	for (int k = 0; k < FK_NCACHES; k++) {
		assert_int_equal(ksim_stat(fk_cache[k], KMS_BUF_INUSE), n[k]);
		ksim_check(fk_cache[k]);
	}
}

/*
 * 40,000 random frees and allocations of the objects in live[] on random
 * harts of both nodes, the model checked every 4,000: failed allocations
 * counted per kind in nulls[].
 */
static void fk_run(struct ft_obj *live, uint64_t *nulls)
{
	uint64_t rng = 5;

	for (int op = 0; op < 40000; op++) {
		struct ft_obj *o = &live[ft_rng(&rng) % FT_SLOTS];
		uint64_t x = ft_rng(&rng);

		sim_become(&sim_two_nodes, (unsigned)(x % 4));
		if (o->fo_buf != NULL)
			fk_free(o);
		else if (!fk_alloc(o, x))
			nulls[o->fo_kind]++;
		else if (fk_overlap(live, o))
			fail_msg("op %d: buffer %p handed out twice", op, o->fo_buf);
		if (op % 4000 == 0)
			fk_check(live);
	}
	sim_become(&sim_two_nodes, 0);
}

/*
 * Random object traffic on random harts of both nodes at 1/6: every NULL is
 * one KMS_FAIL of its cache, the model's counts hold throughout, and after
 * the drains every cache is empty and every zone as before.
 */
static void fail_test_kmem_workload_loses_nothing(void **state)
{
	struct ft_obj live[FT_SLOTS] = { { 0 } };
	uint64_t before[8], st[FAIL_NSITES], nulls[FK_NCACHES + 1] = { 0 };
	uint64_t fail0[FK_NCACHES];

	(void)state;
	fk_create();
	for (int k = 0; k < FK_NCACHES; k++)
		fail0[k] = ksim_stat(fk_cache[k], KMS_FAIL);
	ksim_make_magazine_caches();	/* made on first use and kept: not the workload's */
	zone_free_snapshot(before, 8);
	fail_set(6, 3);
	fk_run(live, nulls);
	fail_stats(st);
	fail_set(0, 0);
	fk_check(live);
	for (int k = 0; k < FK_NCACHES; k++)
		assert_int_equal(ksim_stat(fk_cache[k], KMS_FAIL) - fail0[k], nulls[k]);
	assert_true(st[FAIL_SLAB] > 100 && st[FAIL_VMEM] > 0 && st[FAIL_PAGE] > 0);
	assert_true(nulls[FK_SMALL] > 0 && nulls[FK_BIG] > 0 && nulls[FK_KMALLOC] > 0);
	for (unsigned i = 0; i < FT_SLOTS; i++)
		if (live[i].fo_buf != NULL)
			fk_free(&live[i]);
	drain_everything();
	for (int k = 0; k < FK_NCACHES; k++) {
		assert_int_equal(ksim_stat(fk_cache[k], KMS_BUF_INUSE), 0);
		assert_int_equal(ksim_stat(fk_cache[k], KMS_SLABS), 0);
		assert_int_equal(ksim_stat(fk_cache[k], KMS_BUF_MAG) +
				 ksim_stat(fk_cache[k], KMS_BUF_DEPOT), 0);
		ksim_check(fk_cache[k]);
	}
	assert_zones_back(before, 8);
	for (int k = 0; k < FK_NCACHES; k++)
		kmem_cache_destroy(fk_cache[k]);
}

/* Requests that may not fail do not, even when every other one fails. */
static void fail_test_panic_requests_never_fail(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("ft_panic", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	vmem_t *vmp = vmem_create("ft_panic", 0x10000000, 1 << 20, 0x1000, NULL, NULL, NULL, 0, 0);
	void *a, *b, *c;
	uintptr_t v;
	paddr_t pa;

	(void)state;
	fail_set(1, 9);				/* every allocation that may fail, fails */
	assert_null(kmem_cache_alloc(cp, KM_NOSLEEP));
	assert_null(kmem_cache_alloc(cp, KM_SLEEP));
	assert_null(kmalloc(100000, KM_SLEEP));
	assert_int_equal(vmem_alloc(vmp, 0x1000, VM_SLEEP), 0);
	assert_int_equal(page_alloc(0, PAGE_ANY), PAGE_NOADDR);
	a = kmem_cache_alloc(cp, KM_PANIC);
	b = kmalloc(100000, KM_PANIC);
	c = kmem_cache_alloc_node(cp, KM_PANIC, 1);
	v = vmem_alloc(vmp, 0x1000, VM_PANIC);
	pa = page_alloc(0, PAGE_URGENT);
	fail_set(0, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_not_equal(v, 0);
	assert_int_not_equal(pa, PAGE_NOADDR);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, c);
	kfree(b);
	vmem_free(vmp, v, 0x1000);
	assert_int_equal(page_free(pa, 0), 0);
	vmem_destroy(vmp);
	kmem_cache_destroy(cp);
}

/* ------------------------------------------------------------ real threads */

#define MT_THREADS	4
#define MT_OPS		40000
#define MT_MBOX		512

/* One thing a thread holds: an object, a page block or a vmem range. */
struct mt_item { struct ft_obj mi_obj; paddr_t mi_pa; unsigned mi_order; uintptr_t mi_va; size_t mi_len; };

static vmem_t *mt_arena;
static struct mt_item mt_mbox[MT_MBOX];		/* guarded by mt_lock */
static unsigned mt_nmbox;
static pthread_mutex_t mt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t mt_go;
static atomic_int mt_errors;

/* Give back whatever it holds (a stamp check first for objects). */
static void mt_release(struct mt_item *it)
{
	if (it->mi_obj.fo_buf != NULL)
		fk_free(&it->mi_obj);
	if (it->mi_pa != 0 && page_free(it->mi_pa, it->mi_order) != 0)
		atomic_fetch_add(&mt_errors, 1);
	if (it->mi_va != 0)
		vmem_free(mt_arena, it->mi_va, it->mi_len);
	memset(it, 0, sizeof(*it));
}

/* Take something of a random kind into an empty item; failures are expected. */
static void mt_take(struct mt_item *it, uint64_t x)
{
	switch (x % 4) {
	case 0:
		it->mi_order = (unsigned)(x >> 8) % 4;
		it->mi_pa = page_alloc(it->mi_order, (x >> 12) % 2 ? PAGE_ANY : PAGE_DMA32);
		if (it->mi_pa == PAGE_NOADDR)
			it->mi_pa = 0;
		break;
	case 1:
		it->mi_len = (size_t)(1 + (x >> 8) % 8) * 0x1000;
		it->mi_va = vmem_alloc(mt_arena, it->mi_len, (x >> 12) % 2 ? VM_NOSLEEP : VM_SLEEP);
		break;
	default:
		fk_alloc(&it->mi_obj, x);
		break;
	}
}

/* Pass an item to another thread (false: the mailbox is full). */
static bool mt_pass(struct mt_item *it)
{
	bool ok;

	pthread_mutex_lock(&mt_lock);
	ok = mt_nmbox < MT_MBOX;
	if (ok) {
		mt_mbox[mt_nmbox++] = *it;
		memset(it, 0, sizeof(*it));
	}
	pthread_mutex_unlock(&mt_lock);
	return ok;
}

/* Release one item some thread passed, if any. */
static void mt_collect(void)
{
	struct mt_item it;

	memset(&it, 0, sizeof(it));
	pthread_mutex_lock(&mt_lock);
	if (mt_nmbox > 0)
		it = mt_mbox[--mt_nmbox];
	pthread_mutex_unlock(&mt_lock);
	mt_release(&it);
}

/* One hart: random take / release / pass / collect over 64 items, reaping now and then. */
static void *mt_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	struct mt_item slot[64];
	uint64_t rng = 0x5eed0000ull + me;

	memset(slot, 0, sizeof(slot));
	sim_become(&sim_two_nodes, me);
	pthread_barrier_wait(&mt_go);
	for (int op = 0; op < MT_OPS; op++) {
		uint64_t x = ft_rng(&rng);
		struct mt_item *it = &slot[x % 64];

		if (it->mi_obj.fo_buf == NULL && it->mi_pa == 0 && it->mi_va == 0)
			mt_take(it, x >> 6);
		else if ((x >> 50) % 4 != 0 || !mt_pass(it))
			mt_release(it);
		if ((x >> 56) % 4 == 0)
			mt_collect();
		if (op % 5000 == 0)
			kmem_reap_local();
	}
	for (unsigned i = 0; i < 64; i++)
		mt_release(&slot[i]);
	return NULL;
}

/*
 * Four threads (two per node) at 1/5 on every layer, passing a quarter of
 * their items to each other; then every hart drains and kmem purges: every
 * zone, cache and arena is back where it started.
 */
static void fail_test_threads_then_drain_loses_nothing(void **state)
{
	pthread_t th[MT_THREADS];
	uint64_t before[8], st[FAIL_NSITES];

	(void)state;
	fk_create();
	mt_arena = vmem_create("ft_mt", 0, 0, 0x1000, vmem_alloc, vmem_free, ksim_large, 0x4000, 0);
	assert_non_null(mt_arena);
	ksim_make_magazine_caches();	/* made on first use and kept: not the workload's */
	zone_free_snapshot(before, 8);
	fail_set(5, 4);
	pthread_barrier_init(&mt_go, NULL, MT_THREADS);
	for (unsigned t = 0; t < MT_THREADS; t++)
		pthread_create(&th[t], NULL, mt_worker, (void *)(uintptr_t)t);
	for (unsigned t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&mt_go);
	sim_become(&sim_two_nodes, 0);
	fail_stats(st);
	fail_set(0, 0);
	while (mt_nmbox > 0)
		mt_collect();
	assert_int_equal(atomic_load(&mt_errors), 0);
	assert_true(st[FAIL_PAGE] > 0 && st[FAIL_VMEM] > 0 && st[FAIL_SLAB] > 0);
	drain_everything();
	for (int k = 0; k < FK_NCACHES; k++) {
		assert_int_equal(ksim_stat(fk_cache[k], KMS_BUF_INUSE), 0);
		assert_int_equal(ksim_stat(fk_cache[k], KMS_SLABS), 0);
		ksim_check(fk_cache[k]);
	}
	assert_int_equal(vmem_size(mt_arena, VMEM_ALLOC | VMEM_FREE), 0);
	assert_zones_back(before, 8);
	vmem_destroy(mt_arena);
	for (int k = 0; k < FK_NCACHES; k++)
		kmem_cache_destroy(fk_cache[k]);
}

/* ------------------------------------------------------------ level counters */

/* Level counts of hart cpu minus those in *then. */
static struct mm_levelstat lv_delta(unsigned cpu, const struct mm_levelstat *then)
{
	struct mm_levelstat now;

	mm_levelstat_cpu(cpu, &now);
	now.ls_mag -= then->ls_mag;
	now.ls_depot -= then->ls_depot;
	now.ls_slab -= then->ls_slab;
	now.ls_pcp -= then->ls_pcp;
	now.ls_buddy -= then->ls_buddy;
	now.ls_vmem -= then->ls_vmem;
	return now;
}

/*
 * Buffers bulk imports bring in for n allocations from a fresh cache with
 * magazines of `rounds` and slabs of `chunks`: a fill takes what the
 * current slab has left, up to a magazine, or a new slab when it has none.
 */
static uint64_t lv_fill_model(unsigned n, unsigned rounds, uint64_t chunks)
{
	uint64_t left = 0, in_mag = 0, imported = 0;

	for (unsigned i = 0; i < n; i++) {
		if (in_mag == 0) {
			uint64_t take;

			if (left == 0)
				left = chunks;
			take = left < rounds ? left : rounds;
			left -= take;
			in_mag = take;
			imported += take;
		}
		in_mag--;
	}
	return imported;
}

/* The object half of the known workload below: hart 1's counts before its 62 allocations. */
static struct mm_levelstat lv_objects(kmem_cache_t *cp)
{
	struct mm_levelstat t0, t1, d;
	void *b[124];

	assert_int_equal(ksim_stat(cp, KMS_MAGSIZE), 31);
	ksim_make_magazine_caches();	/* making one would count its node parts' imports */
	mm_levelstat_cpu(0, &t0);
	for (int i = 0; i < 124; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	d = lv_delta(0, &t0);
	assert_int_equal(d.ls_mag, 124);
	assert_int_equal(d.ls_slab, lv_fill_model(124, 31, ksim_stat(cp, KMS_BUF_TOTAL) /
						  ksim_stat(cp, KMS_SLABS)) + 1);
	assert_int_equal(d.ls_depot, 0);
	for (int i = 0; i < 124; i++)
		kmem_cache_free(cp, b[i]);
	sim_become(&sim_two_nodes, 1);
	mm_levelstat_cpu(1, &t1);
	for (int i = 0; i < 62; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	d = lv_delta(1, &t1);
	assert_int_equal(d.ls_mag, 62);
	assert_int_equal(d.ls_depot, 2);
	assert_int_equal(d.ls_slab, 0);
	for (int i = 0; i < 62; i++)
		kmem_cache_free(cp, b[i]);
	return t1;
}

/* The page and arena half of the known workload below, on harts 2 and 3. */
static void lv_pages_and_ranges(vmem_t *vmp)
{
	struct mm_levelstat t2, t3, d;
	paddr_t pa[13];
	uintptr_t va[5];

	sim_become(&sim_two_nodes, 2);
	mm_levelstat_cpu(2, &t2);
	for (int i = 0; i < 13; i++)
		pa[i] = page_alloc(i < 10 ? 0 : 2, PAGE_ANY);
	d = lv_delta(2, &t2);
	assert_int_equal(d.ls_pcp, 10);
	assert_int_equal(d.ls_buddy, 3);
	for (int i = 0; i < 13; i++)
		assert_int_equal(page_free(pa[i], i < 10 ? 0 : 2), 0);
	sim_become(&sim_two_nodes, 3);
	mm_levelstat_cpu(3, &t3);
	for (int i = 0; i < 5; i++)
		va[i] = vmem_alloc(vmp, 0x1000, VM_SLEEP);
	d = lv_delta(3, &t3);
	assert_int_equal(d.ls_vmem, 5);
	assert_int_equal(d.ls_mag + d.ls_pcp + d.ls_buddy, 0);
	for (int i = 0; i < 5; i++)
		vmem_free(vmp, va[i], 0x1000);
}

/*
 * A known workload, level by level: 124 allocations of a fresh 64-byte
 * cache (31-round magazines) on hart 0 are 124 magazine hits fed by bulk
 * imports (lv_fill_model) and one magazine; after hart 0 frees them, two full
 * magazines sit in the depot, so 62 allocations on hart 1 (same node) are
 * 62 hits after 2 depot trades and no import.  Pages: 10 order-0 pages
 * through hart 2's caches and 3 order-2 blocks from the buddy; vmem: 5
 * allocations from an arena without quantum caches.
 */
static void fail_test_levelstat_known_workload(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("ft_lvl", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	vmem_t *vmp = vmem_create("ft_lvl", 0x10000000, 1 << 20, 0x1000, NULL, NULL, NULL, 0, 0);
	struct mm_levelstat t1, t3;

	(void)state;
	t1 = lv_objects(cp);
	lv_pages_and_ranges(vmp);
	sim_become(&sim_two_nodes, 0);
	vmem_destroy(vmp);
	kmem_cache_destroy(cp);
	mm_levelstat_cpu(1, &t3);		/* a destroyed cache's hits still count */
	assert_true(t3.ls_mag >= t1.ls_mag + 62);
}

/* Creating and destroying caches and arenas at 1/3 loses nothing: a failed create undoes itself. */
static void fail_test_create_destroy_churn(void **state)
{
	uint64_t before[8], st[FAIL_NSITES];
	unsigned made = 0, refused = 0;

	(void)state;
	ksim_make_magazine_caches();	/* made on first use and kept: not the churn's */
	zone_free_snapshot(before, 8);
	fail_set(3, 6);
	for (int i = 0; i < 300; i++) {
		kmem_cache_t *cp = kmem_cache_create("ft_churn", 16 + (size_t)i * 8, 0, NULL, NULL,
						     NULL, NULL, NULL, i % 2 ? KMC_NOTNUMA : 0);
		vmem_t *vmp = vmem_create("ft_churn", 0, 0, 0x1000, vmem_alloc, vmem_free,
					  ksim_large, 0x4000, 0);
		void *b = cp != NULL ? kmem_cache_alloc(cp, KM_NOSLEEP) : NULL;
		uintptr_t v = vmp != NULL ? vmem_alloc(vmp, 0x2000, VM_NOSLEEP) : 0;

		made += cp != NULL && vmp != NULL;
		refused += cp == NULL || vmp == NULL;
		if (b != NULL)
			kmem_cache_free(cp, b);
		if (v != 0)
			vmem_free(vmp, v, 0x2000);
		if (cp != NULL)
			kmem_cache_destroy(cp);
		if (vmp != NULL)
			vmem_destroy(vmp);
	}
	fail_stats(st);
	fail_set(0, 0);
	assert_true(made > 0 && refused > 0 && st[FAIL_VMEM] > 0);
	drain_everything();
	assert_zones_back(before, 8);
}

/* A bufctl hash that grew goes back to its first table when purged empty: no page kept. */
static void fail_test_purge_gives_back_grown_hash(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("ft_hash", 1500, 0, NULL, NULL, NULL, NULL, NULL,
					     KMC_NOTNUMA);
	static void *b[2000];
	uint64_t before[8];

	(void)state;
	ksim_make_magazine_caches();	/* made on first use and kept: not the hash's */
	zone_free_snapshot(before, 8);
	for (int i = 0; i < 2000; i++)
		assert_non_null(b[i] = kmem_cache_alloc(cp, KM_SLEEP));
	for (int i = 0; i < 2000; i++)
		kmem_cache_free(cp, b[i]);
	drain_everything();
	assert_int_equal(ksim_stat(cp, KMS_SLABS), 0);
	assert_zones_back(before, 8);
	kmem_cache_destroy(cp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, ksim_boot_two, ksim_teardown)
		T(fail_test_rate_seed_and_counts),
		T(fail_test_page_workload_loses_nothing),
		T(fail_test_vmem_workload_loses_nothing),
		T(fail_test_kmem_workload_loses_nothing),
		T(fail_test_panic_requests_never_fail),
		T(fail_test_threads_then_drain_loses_nothing),
		T(fail_test_levelstat_known_workload),
		T(fail_test_create_destroy_churn),
		T(fail_test_purge_gives_back_grown_hash),
#undef T
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
