/*
 * test_kmem.c - host tests of the object caches (mm/kmem*.c) on one thread
 * at a time: slab geometry, constructed state, slab list policy, reaping,
 * magazines and depots, NUMA homes, failure paths, misuse, dumps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_env.h"
#include "kmem_sim.h"

/* The slab header of a buffer, through the page owner word. */
static struct kmem_slab *slab_of(const void *buf)
{
	struct page *pg = page_lookup(virt_to_phys(buf));

	return (struct kmem_slab *)(pg->pg_owner & ~(uintptr_t)1);
}

/* Waste of a slab of `slabsize` for chunk c, header inside when small (recomputed here). */
static size_t waste_of(size_t slabsize, size_t c, bool small)
{
	size_t avail = slabsize - (small ? sizeof(struct kmem_slab) : 0);

	return avail / c == 0 ? slabsize : slabsize - (avail / c) * c;
}

/* Every size gets the smallest slab that wastes <= 1/8, and small objects keep the header inside. */
static void kmem_test_geometry_waste_at_most_one_eighth(void **state)
{
	static const size_t sizes[] = { 8, 16, 24, 40, 64, 100, 192, 256, 500, 512, 513, 1000,
					2048, 3000, 4096, 4608, 5000, 8192, 12000, 40000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		kmem_cache_t *cp = kmem_cache_create("geo", sizes[i], 0, NULL, NULL, NULL, NULL,
						     NULL, 0);
		size_t c = (sizes[i] + 7) & ~(size_t)7, s = cp->cache_slabsize;
		bool small = c * 8 <= s;
		void *b;

		assert_int_equal(cp->cache_chunksize, c);
		assert_true(cp->cache_small == small);
		assert_true(waste_of(s, c, small) * 8 <= s);
		if (s > MM_PAGE_SIZE)	/* the next smaller slab would waste too much */
			assert_true(waste_of(s / 2, c, c * 8 <= s / 2) * 8 > s / 2);
		assert_int_equal(cp->cache_chunks, (s - (small ? sizeof(struct kmem_slab) : 0)) / c);
		b = kmem_cache_alloc(cp, KM_SLEEP);
		assert_non_null(b);
		if (small)	/* header in the last bytes of the slab */
			assert_ptr_equal(slab_of(b), (void *)(slab_of(b)->slab_base + s -
							       sizeof(struct kmem_slab)));
		kmem_cache_free(cp, b);
		ksim_check(cp);
		kmem_cache_destroy(cp);
	}
}

/* The geometry table of docs/kmem.md, exactly. */
static void kmem_test_geometry_matches_docs_table(void **state)
{
	static const struct { size_t size, slab; unsigned chunks; bool small; int mag; } t[] = {
		{ 16, 4096, 252, true, 63 }, { 64, 4096, 63, true, 31 },
		{ 192, 4096, 21, true, 31 }, { 1000, 4096, 4, false, 15 },
		{ 4096, 4096, 1, false, 3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		kmem_cache_t *cp = kmem_cache_create("doc", t[i].size, 0, NULL, NULL, NULL, NULL,
						     NULL, 0);

		assert_int_equal(cp->cache_slabsize, t[i].slab);
		assert_int_equal(cp->cache_chunks, t[i].chunks);
		assert_true(cp->cache_small == t[i].small);
		assert_int_equal(ksim_stat(cp, KMS_MAGSIZE), t[i].mag);
		kmem_cache_destroy(cp);
	}
}

/* Successive slabs start their first buffer one alignment step further, wrapping at the leftover. */
static void kmem_test_colour_offsets_advance_and_wrap(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("colour", 200, 64, NULL, NULL, NULL, NULL, NULL,
					     KMC_NOMAGAZINE);
	size_t left = cp->cache_slabsize - sizeof(struct kmem_slab) - cp->cache_chunks * 256;
	unsigned nslabs = (unsigned)(left / 64) + 3;
	void **bufs = calloc((size_t)nslabs * cp->cache_chunks, sizeof(void *));
	size_t expect = 0;

	(void)state;
	assert_int_equal(cp->cache_chunksize, 256);
	assert_int_equal(cp->cache_maxcolour, left & ~(size_t)63);
	for (unsigned s = 0; s < nslabs; s++) {
		for (unsigned i = 0; i < cp->cache_chunks; i++)
			bufs[s * cp->cache_chunks + i] = kmem_cache_alloc(cp, KM_SLEEP);
		struct kmem_slab *sp = slab_of(bufs[s * cp->cache_chunks]);

		assert_int_equal(sp->slab_first - sp->slab_base, expect);
		assert_int_equal((uintptr_t)bufs[s * cp->cache_chunks] % 64, 0);
		expect = expect + 64 > cp->cache_maxcolour ? 0 : expect + 64;
	}
	for (unsigned i = 0; i < nslabs * cp->cache_chunks; i++)
		kmem_cache_free(cp, bufs[i]);
	free(bufs);
	kmem_cache_destroy(cp);
}

static int ctor_calls, dtor_calls, ctor_fail_after = -1;

/* Constructor: writes a pattern the clients must find intact. */
static int obj_ctor(void *buf, void *private, int kmflag)
{
	(void)kmflag;
	if (ctor_fail_after >= 0 && ctor_calls >= ctor_fail_after)
		return -1;
	ctor_calls++;
	memset(buf, 0x5a, 48);
	*(void **)buf = private;
	return 0;
}

static void obj_dtor(void *buf, void *private)
{
	assert_ptr_equal(*(void **)buf, private);
	dtor_calls++;
}

/* The constructor runs once per buffer when its slab is made, the destructor when the slab is freed. */
static void kmem_test_ctor_dtor_run_once_per_slab_lifetime(void **state)
{
	kmem_cache_t *cp;
	void *b[3];

	(void)state;
	ctor_calls = dtor_calls = 0;
	ctor_fail_after = -1;
	cp = kmem_cache_create("ctor", 48, 0, obj_ctor, obj_dtor, NULL, &ctor_calls, NULL, 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) {
			b[i] = kmem_cache_alloc(cp, KM_SLEEP);
			assert_ptr_equal(*(void **)b[i], &ctor_calls);	/* constructed state */
			assert_int_equal(((unsigned char *)b[i])[47], 0x5a);
		}
		for (int i = 0; i < 3; i++)
			kmem_cache_free(cp, b[i]);
	}
	assert_int_equal(ctor_calls, cp->cache_chunks);		/* one slab, made once */
	assert_int_equal(dtor_calls, 0);
	kmem_cache_drain(cp);					/* magazines, then the slab */
	assert_int_equal(dtor_calls, cp->cache_chunks);
	assert_int_equal(ksim_stat(cp, KMS_SLABS), 0);
	kmem_cache_destroy(cp);
}

/* A constructor failing half-way fails the allocation and loses nothing. */
static void kmem_test_ctor_failure_returns_null_and_loses_nothing(void **state)
{
	uint64_t before;
	kmem_cache_t *cp;

	(void)state;
	ctor_calls = dtor_calls = 0;
	cp = kmem_cache_create("ctorfail", 48, 0, obj_ctor, obj_dtor, NULL, &ctor_calls, NULL, 0);
	ksim_make_magazine_caches();	/* made on first use and kept: not this test's loss */
	page_drain_all();
	before = page_free_count() + page_cached_count();
	ctor_fail_after = 5;
	assert_null(kmem_cache_alloc(cp, KM_NOSLEEP));
	assert_int_equal(dtor_calls, 5);		/* the five made are undone */
	assert_int_equal(ksim_stat(cp, KMS_SLABS), 0);
	assert_int_equal(ksim_stat(cp, KMS_FAIL), 1);
	assert_true(ksim_stat(cp, KMS_CTOR_FAIL) >= 1);	/* each node was tried */
	assert_int_equal(ksim_stat(cp, KMS_BUF_INUSE), 0);
	kmem_reap();				/* the magazine it used is cached, not lost */
	page_drain_all();
	assert_int_equal(page_free_count(), before);
	ctor_fail_after = -1;
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* Allocation takes the fullest partial slab, so the emptier one can drain. */
static void kmem_test_alloc_prefers_fullest_partial_slab(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("fullest", 256, 0, NULL, NULL, NULL, NULL, NULL,
					     KMC_NOMAGAZINE);
	unsigned n = cp->cache_chunks;
	void **a = calloc(n, sizeof(void *)), **b = calloc(n, sizeof(void *)), *x;

	(void)state;
	for (unsigned i = 0; i < n; i++)
		a[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (unsigned i = 0; i < n; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	assert_ptr_not_equal(slab_of(a[0]), slab_of(b[0]));
	for (unsigned i = 1; i < n; i++)	/* slab A: 1 buffer in use */
		kmem_cache_free(cp, a[i]);
	kmem_cache_free(cp, b[0]);		/* slab B: n-1 in use: fullest */
	x = kmem_cache_alloc(cp, KM_SLEEP);
	assert_ptr_equal(slab_of(x), slab_of(b[1]));
	kmem_cache_free(cp, x);
	kmem_cache_free(cp, a[0]);
	for (unsigned i = 1; i < n; i++)
		kmem_cache_free(cp, b[i]);
	free(a);
	free(b);
	kmem_cache_destroy(cp);
}

/* Free slabs stay until a reap, which gives their pages back. */
static void kmem_test_reap_frees_free_slabs(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("reap", 1000, 0, NULL, NULL, NULL, NULL, NULL,
					     KMC_NOMAGAZINE);
	void *b[64];
	uint64_t before;

	(void)state;
	page_drain_all();
	before = page_free_count();
	for (int i = 0; i < 64; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < 64; i++)
		kmem_cache_free(cp, b[i]);
	assert_true(ksim_stat(cp, KMS_SLABS) > 0);	/* still there */
	assert_int_equal(ksim_stat(cp, KMS_BUF_SLABFREE), ksim_stat(cp, KMS_BUF_TOTAL));
	kmem_reap();
	assert_int_equal(ksim_stat(cp, KMS_SLABS), 0);
	assert_int_equal(ksim_stat(cp, KMS_SLAB_DESTROY), ksim_stat(cp, KMS_SLAB_CREATE));
	page_drain_all();
	assert_int_equal(page_free_count(), before);
	kmem_cache_destroy(cp);
}

/*
 * Memory pressure reaches the caches: with every page in free slabs, a page
 * request that may wait fails without the page allocator's reclaim hook and
 * succeeds with it (kmem_reap frees the slabs), once, counted.
 */
static void kmem_test_page_alloc_reaps_before_failing(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("pressure", 2000, 0, NULL, NULL, NULL, NULL, NULL,
					     KMC_NOMAGAZINE);
	size_t n = 0, cap = 1 << 18;
	void **b = malloc(cap * sizeof(*b));
	struct page_stats st0, st1;
	paddr_t pa;

	(void)state;
	while (n < cap && (b[n] = kmem_cache_alloc(cp, KM_NOSLEEP)) != NULL)
		n++;
	assert_true(n > 1000 && n < cap);	/* memory ran out, not the array */
	while (n > 0)
		kmem_cache_free(cp, b[--n]);
	free(b);
	assert_int_equal(ksim_stat(cp, KMS_BUF_SLABFREE), ksim_stat(cp, KMS_BUF_TOTAL));
	page_reclaim_hook_set(NULL);
	assert_int_equal(page_alloc(0, 0), PAGE_NOADDR);	/* all of it sits in free slabs */
	page_reclaim_hook_set(kmem_reap);
	page_get_stats(&st0);
	pa = page_alloc(0, 0);
	page_get_stats(&st1);
	assert_int_not_equal(pa, PAGE_NOADDR);
	assert_int_equal(st1.pst_reclaim, st0.pst_reclaim + 1);
	assert_int_equal(ksim_stat(cp, KMS_SLABS), 0);	/* the reap gave every slab back */
	assert_int_equal(page_free(pa, 0), 0);
	kmem_cache_destroy(cp);
}

/* A warm pair is a magazine hit; with KMC_NOMAGAZINE every call goes to the slab layer. */
static void kmem_test_magazines_on_and_off(void **state)
{
	kmem_cache_t *on = kmem_cache_create("mag_on", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *off = kmem_cache_create("mag_off", 64, 0, NULL, NULL, NULL, NULL, NULL,
					      KMC_NOMAGAZINE);
	void *b;

	(void)state;
	kmem_cache_free(on, kmem_cache_alloc(on, KM_SLEEP));	/* warm up */
	for (int i = 0; i < 100; i++) {
		b = kmem_cache_alloc(on, KM_SLEEP);
		kmem_cache_free(on, b);
		b = kmem_cache_alloc(off, KM_SLEEP);
		kmem_cache_free(off, b);
	}
	/* the first allocation filled a magazine in bulk and popped it too */
	assert_int_equal(ksim_stat(on, KMS_MAG_ALLOC), 101);
	assert_int_equal(ksim_stat(on, KMS_ALLOC), 101);
	assert_int_equal(ksim_stat(on, KMS_SLAB_ALLOC), ksim_stat(on, KMS_MAGSIZE));
	assert_int_equal(ksim_stat(off, KMS_MAG_ALLOC) + ksim_stat(off, KMS_MAG_FREE), 0);
	assert_int_equal(ksim_stat(off, KMS_SLAB_ALLOC), 100);
	assert_int_equal(ksim_stat(off, KMS_MAGSIZE), 0);
	ksim_check(on);
	ksim_check(off);
	kmem_cache_destroy(on);
	kmem_cache_destroy(off);
}

/* Count the caches called nc_name (kmem_cache_walk body). */
struct named_count { const char *nc_name; unsigned nc_n; };
static void count_named(kmem_cache_t *cp, void *arg)
{
	struct named_count *nc = arg;

	nc->nc_n += strcmp(kmem_cache_name(cp), nc->nc_name) == 0;
}

/* How many caches are called name. */
static unsigned caches_named(const char *name)
{
	struct named_count nc = { name, 0 };

	kmem_cache_walk(count_named, &nc);
	return nc.nc_n;
}

/* kmem_cache_walk body (holds the cache list, as a reclaim callback does): one alloc and free. */
static void pair_under_list_lock(kmem_cache_t *cp, void *arg)
{
	kmem_cache_t *lazy = arg;
	void *b;

	if (cp != lazy)
		return;
	b = kmem_cache_alloc(lazy, KM_NOSLEEP);
	assert_non_null(b);
	kmem_cache_free(lazy, b);
}

/*
 * Magazine caches are made on first use: after boot only the cross-node
 * magazines' (15 rounds, two nodes); a 48-byte cache's first magazine (63
 * rounds, the paper's size below 64 bytes) makes kmem_magazine_63 once, and
 * a 40-byte cache shares it.  A hart holding the cache list cannot make one:
 * it gets no magazine, and its buffers go to and from the slab layer.
 */
static void kmem_test_magazine_caches_made_on_first_use(void **state)
{
	static const int sizes[] = { 1, 3, 7, 31, 63, 127, 255 };
	kmem_cache_t *c48 = kmem_cache_create("lazy48", 48, 0, NULL, NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *c40 = kmem_cache_create("lazy40", 40, 0, NULL, NULL, NULL, NULL, NULL, 0);
	char name[KMEM_NAMELEN];

	(void)state;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "kmem_magazine_%d", sizes[i]);
		assert_int_equal(caches_named(name), 0);
	}
	assert_int_equal(caches_named("kmem_magazine_15"), 1);
	assert_int_equal(ksim_stat(c48, KMS_MAGSIZE), 63);
	kmem_cache_walk(pair_under_list_lock, c48);
	assert_int_equal(caches_named("kmem_magazine_63"), 0);
	assert_int_equal(ksim_stat(c48, KMS_MAG_ALLOC), 0);
	assert_int_equal(ksim_stat(c48, KMS_SLAB_ALLOC), 1);
	assert_int_equal(ksim_stat(c48, KMS_SLAB_FREE), 1);
	kmem_cache_free(c48, kmem_cache_alloc(c48, KM_SLEEP));
	assert_int_equal(caches_named("kmem_magazine_63"), 1);
	assert_int_equal(ksim_stat(c48, KMS_MAG_ALLOC), 1);
	kmem_cache_free(c40, kmem_cache_alloc(c40, KM_SLEEP));
	assert_int_equal(ksim_stat(c40, KMS_MAG_ALLOC), 1);
	assert_int_equal(caches_named("kmem_magazine_63"), 1);
	ksim_check(c48);
	ksim_check(c40);
	kmem_cache_destroy(c48);
	kmem_cache_destroy(c40);
}

/* Bursts larger than a magazine go through the depot: full magazines come back from it. */
static void kmem_test_depot_trades_full_and_empty(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("depot", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	int m = (int)ksim_stat(cp, KMS_MAGSIZE), n = m * 6;
	void **b = calloc((size_t)n, sizeof(void *));
	uint64_t full, empty;

	(void)state;
	assert_true(m > 0);
	for (int i = 0; i < n; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, b[i]);
	uint64_t slab_alloc = ksim_stat(cp, KMS_SLAB_ALLOC);

	kmem_cache_depot_count(cp, 0, &full, &empty);
	assert_true(full >= 3);
	assert_int_equal(ksim_stat(cp, KMS_DEPOT_FREE), full);
	assert_int_equal(ksim_stat(cp, KMS_BUF_DEPOT), full * (uint64_t)m);
	ksim_check(cp);
	for (int i = 0; i < n; i++)	/* the same buffers come back, from the depot */
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	assert_true(ksim_stat(cp, KMS_DEPOT_ALLOC) >= full);
	assert_int_equal(ksim_stat(cp, KMS_SLAB_ALLOC), slab_alloc);	/* no slab touched */
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, b[i]);
	free(b);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* Free side: both magazines full and two empty ones in the depot: both full ones go in one trade. */
static void kmem_test_depot_free_trades_two_full(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("depot2", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	int m = (int)ksim_stat(cp, KMS_MAGSIZE), n = m * 6, k = 0, l, p;
	void **b = calloc((size_t)n, sizeof(void *));
	uint64_t full0, empty0, full1, empty1, dfree;

	(void)state;
	for (int i = 0; i < n; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, b[i]);
	for (int i = 0; i < n; i++)	/* each full magazine taken leaves an empty one */
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_depot_count(cp, 0, &full0, &empty0);
	assert_true(empty0 >= 2);
	for (kmem_cache_cpu_rounds(cp, 0, &l, &p); l != m || p != m;
	     kmem_cache_cpu_rounds(cp, 0, &l, &p)) {
		assert_true(k < n);
		kmem_cache_free(cp, b[k++]);
	}
	kmem_cache_depot_count(cp, 0, &full0, &empty0);
	dfree = ksim_stat(cp, KMS_DEPOT_FREE);
	assert_true(empty0 >= 2);
	kmem_cache_free(cp, b[k++]);
	kmem_cache_depot_count(cp, 0, &full1, &empty1);
	assert_int_equal(full1, full0 + 2);
	assert_int_equal(empty1, empty0 - 2);
	assert_int_equal(ksim_stat(cp, KMS_DEPOT_FREE), dfree + 2);
	kmem_cache_cpu_rounds(cp, 0, &l, &p);
	assert_int_equal(l, 1);			/* the new buffer, in an empty magazine */
	assert_int_equal(p, 0);			/* the second empty one */
	ksim_check(cp);				/* conservation: cf_out counted both */
	while (k < n)
		kmem_cache_free(cp, b[k++]);
	free(b);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* Working set: magazines unused for a whole interval are reaped, the rest stay. */
static void kmem_test_reap_keeps_working_set(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("ws", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	int m = (int)ksim_stat(cp, KMS_MAGSIZE), n = m * 8;
	void **b = calloc((size_t)n, sizeof(void *));
	uint64_t full0, full1, empty;
	extern void kmem_ws_update_all(void);

	(void)state;
	for (int i = 0; i < n; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cache_depot_count(cp, 0, &full0, &empty);
	kmem_reap();				/* no interval has passed: limit 0 */
	kmem_cache_depot_count(cp, 0, &full1, &empty);
	assert_int_equal(full1, full0);
	kmem_ws_update_all();			/* interval 1: min = current */
	for (int i = 0; i < 2 * m; i++)		/* use two magazines' worth */
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < 2 * m; i++)
		kmem_cache_free(cp, b[i]);
	kmem_ws_update_all();			/* limit = lowest full count seen */
	kmem_cache_depot_count(cp, 0, &full1, &empty);
	kmem_reap();
	kmem_cache_depot_count(cp, 0, &full0, &empty);
	assert_true(full0 < full1);		/* the idle ones went */
	assert_true(full0 >= 1);		/* the working set stayed */
	free(b);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* kmem_reap asks every hart to empty its magazines; each does so at its own kmem_reap_local. */
static void kmem_test_reap_local_flushes_each_hart_once_asked(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("rl", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	void *b0, *b1;
	int l, p;

	(void)state;
	sim_become(&sim_two_nodes, 1);
	b1 = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b1);
	sim_become(&sim_two_nodes, 0);
	b0 = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b0);
	kmem_reap_local();			/* not asked yet: nothing happens */
	kmem_cache_cpu_rounds(cp, 0, &l, &p);
	assert_true(l > 0);
	kmem_reap();
	kmem_cache_cpu_rounds(cp, 0, &l, &p);
	assert_true(l > 0);			/* kmem_reap leaves other harts' lines alone */
	kmem_reap_local();
	kmem_cache_cpu_rounds(cp, 0, &l, &p);
	assert_int_equal(l, -1);		/* hart 0 emptied its own */
	kmem_cache_cpu_rounds(cp, 1, &l, &p);
	assert_true(l > 0);			/* hart 1 has not looked yet */
	sim_become(&sim_two_nodes, 1);
	kmem_reap_local();
	kmem_cache_cpu_rounds(cp, 1, &l, &p);
	assert_int_equal(l, -1);
	sim_become(&sim_two_nodes, 0);
	assert_int_equal(ksim_stat(cp, KMS_BUF_MAG), 0);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* A hart allocates memory of its own node; a free on the other node goes home in batches. */
static void kmem_test_numa_home_and_cross_node_free(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("numa", 128, 0, NULL, NULL, NULL, NULL, NULL, 0);
	void *b[40];
	uint64_t mag;

	(void)state;
	sim_become(&sim_two_nodes, 2);		/* node 1 */
	for (int i = 0; i < 40; i++) {
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
		assert_true(sim_in_zone(virt_to_phys(b[i]), 128, 1, -1));
		assert_int_equal(kmem_buf_node(b[i]), 1);
	}
	mag = ksim_stat(cp, KMS_BUF_MAG);	/* what hart 2's magazines hold */
	sim_become(&sim_two_nodes, 0);		/* node 0 frees them */
	for (int i = 0; i < 40; i++)
		kmem_cache_free(cp, b[i]);
	assert_int_equal(ksim_stat(cp, KMS_CROSS_FREE), 40);
	/* 40 = two full cross magazines of 15 sent home, 10 still waiting */
	assert_int_equal(ksim_stat(cp, KMS_BUF_MAG), mag + 10);
	assert_int_equal(cp->cache_node[1]->kn_buf_free + 10 + mag, cp->cache_node[1]->kn_buf_total);
	assert_int_equal(cp->cache_node[0]->kn_buf_total, 0);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* kmalloc_node puts memory on the node asked for. */
static void kmem_test_kmalloc_node_places_memory(void **state)
{
	void *p = kmalloc_node(100, KM_SLEEP, 1), *q = kmalloc_node(100, KM_SLEEP, 0);

	(void)state;
	assert_true(sim_in_zone(virt_to_phys(p), 100, 1, -1));
	assert_true(sim_in_zone(virt_to_phys(q), 100, 0, -1));
	kfree(p);
	kfree(q);
}

/* Every size up to the largest class fits its class with under 12.5% waste above 64 bytes. */
static void kmem_test_kmalloc_classes_bound_waste(void **state)
{
	char name[40];

	(void)state;
	void *z = kmalloc(0, KM_SLEEP);

	assert_int_equal(ksize(z), 8);			/* size 0: the smallest class */
	kfree(z);
	for (size_t s = 1; s <= KMALLOC_MAX_CLASS; s++) {
		void *p = kmalloc(s, KM_SLEEP);
		size_t k = ksize(p);

		assert_true(k >= s);
		if (s > 64)
			assert_true((k - s) * 8 < s);
		else
			assert_true(k - s < 8 && k % 8 == 0);
		assert_int_equal((uintptr_t)p % 8, 0);
		snprintf(name, sizeof(name), "kmalloc-%zu", k);
		assert_ptr_equal(slab_of(p)->slab_cache, kmem_cache_find(name));
		memset(p, 0xab, s);
		kfree(p);
	}
}

/* A machine whose DMA window is on node 1 (its harts 2 and 3). */
static const struct sim_machine dma_on_node1 = {
	.sm_nzones = 4,
	.sm_zones = {
		{ 1, PAGE_ZONE_DMA, 0, 16 * MIB },
		{ 1, PAGE_ZONE_DMA32, 16 * MIB, 64 * MIB },
		{ 1, PAGE_ZONE_NORMAL, 64 * MIB, 128 * MIB },
		{ 0, PAGE_ZONE_NORMAL, 128 * MIB, 256 * MIB },
	},
	.sm_dma_limit = 16 * MIB,
	.sm_dma32_limit = 64 * MIB,
	.sm_ncpus = 4,
	.sm_cpu_node = { 0, 0, 1, 1 },
	.sm_nresv = 1,
	.sm_resv = { { 1 * MIB, 64 * 1024 } },
	.sm_nnodes = 2,
};

static int boot_dma_node1(void **state) { (void)state; return ksim_boot(&dma_on_node1, 0, false); }

/* DMA caches have one home whatever node the DMA window is on: alloc and free from any hart. */
static void kmem_test_dma_window_on_another_node(void **state)
{
	void *d[3];

	(void)state;
	for (unsigned h = 0; h < 4; h += 2) {
		sim_become(&dma_on_node1, h);
		for (int i = 0; i < 3; i++) {
			d[i] = kmalloc(500, KM_SLEEP | KM_DMA);
			assert_true(sim_in_zone(virt_to_phys(d[i]), 500, 1, PAGE_ZONE_DMA));
		}
		sim_become(&dma_on_node1, 2 - h);
		for (int i = 0; i < 3; i++)
			kfree(d[i]);
	}
	ksim_check(kmem_cache_find("dma-kmalloc-512"));
	sim_become(&dma_on_node1, 0);
}

/* kzalloc zeroes; large sizes use the large arena; DMA memory is inside the DMA window. */
static void kmem_test_kmalloc_zero_large_and_dma(void **state)
{
	unsigned char *z, *l, *d;

	(void)state;
	z = kmalloc(300, KM_SLEEP);
	memset(z, 0xff, 300);
	kfree(z);
	z = kzalloc(300, KM_SLEEP);
	for (int i = 0; i < 300; i++)
		assert_int_equal(z[i], 0);
	l = kmalloc(100000, KM_SLEEP);
	assert_non_null(l);
	assert_true(vmem_size(ksim_large, VMEM_ALLOC) >= 100000);
	assert_int_equal(ksize(l), 100000);
	d = kmalloc(500, KM_SLEEP | KM_DMA);
	assert_true(sim_in_zone(virt_to_phys(d), 500, -1, PAGE_ZONE_DMA));
	assert_ptr_equal(slab_of(d)->slab_cache, kmem_cache_find("dma-kmalloc-512"));
	kfree(z);
	kfree(l);
	kfree(d);
	assert_int_equal(vmem_size(ksim_large, VMEM_ALLOC), 0);
}

/* kmem_cache_alloc out of line, for test functions that also use setjmp. */
static __attribute__((noinline)) void *nalloc(kmem_cache_t *cp, int kmflag)
{
	return kmem_cache_alloc(cp, kmflag);
}

/* An allocation outside the setjmp frame (the inline fast path's locals would be clobbered). */
static __attribute__((noinline)) void try_alloc(kmem_cache_t *cp, int kmflag)
{
	(void)kmem_cache_alloc(cp, kmflag);
}

/* The class after class size s (ksize of a request one byte larger). */
static size_t ksize_of_next(size_t s)
{
	void *p;
	size_t k;

	if (s >= KMALLOC_MAX_CLASS)
		return SIZE_MAX;
	p = kmalloc(s + 1, KM_SLEEP);
	k = ksize(p);
	kfree(p);
	return k;
}

/* kfree of a pointer kmalloc did not return panics and names it. */
static void kmem_test_kfree_foreign_pointer_panics(void **state)
{
	int local;
	char *p = kmalloc_var(100, KM_SLEEP);	/* out of line: setjmp below */
	void *heap = malloc(64);
	kmem_cache_t *cp = kmem_cache_create("notkmalloc", 100, 0, NULL, NULL, NULL, NULL, NULL, 0);
	void *obj = nalloc(cp, KM_SLEEP);

	(void)state;
	HOST_EXPECT_PANIC(kfree(&local), "not allocated by kmalloc");
	HOST_EXPECT_PANIC(kfree(heap), "not allocated by kmalloc");
	HOST_EXPECT_PANIC(kfree(obj), "not allocated by kmalloc");
	HOST_EXPECT_PANIC(kfree(p + 8), "kfree");
	assert_non_null(strstr(host_panic_msg, "not the start of a buffer of kmalloc-104"));
	HOST_EXPECT_PANIC(ksize(&local), "not allocated by kmalloc");
	kfree(p);
	kmem_cache_free(cp, obj);
	free(heap);
	kmem_cache_destroy(cp);
}

/* kfree(q) must panic as an interior pointer (a frame of its own for the longjmp). */
static __attribute__((noinline)) void expect_interior_panic(char *q)
{
	HOST_EXPECT_PANIC(kfree(q), "not the start of a buffer");
}

/*
 * kfree's division-free buffer test (kmalloc.c §3) agrees with the
 * definition: in every class, each offset inside a buffer that is not 0
 * (every offset up to 256 bytes, then a spread) panics as an interior
 * pointer, and the buffer's own start is freed.
 */
static void kmem_test_kfree_rejects_every_interior_offset(void **state)
{
	(void)state;
	for (size_t s = 8; s <= KMALLOC_MAX_CLASS; s = ksize_of_next(s)) {
		char *p = kmalloc(s, KM_SLEEP);
		size_t k = ksize(p);
		size_t spread[] = { k / 2, k / 2 + 1, k - 8, k - 1, k / 3, 2 * k / 3 };
		uint64_t st0[KMS_NSTATS], st1[KMS_NSTATS];
		kmem_cache_t *cp = slab_of(p)->slab_cache;

		assert_int_equal(k, s);
		for (size_t off = 1; off < k && off <= 256; off++)
			expect_interior_panic(p + off);
		for (unsigned i = 0; i < sizeof(spread) / sizeof(spread[0]); i++)
			if (spread[i] > 256 && spread[i] < k)
				expect_interior_panic(p + spread[i]);
		kmem_cache_stats(cp, st0);
		kfree(p);
		kmem_cache_stats(cp, st1);
		assert_int_equal(st1[KMS_FREE] - st0[KMS_FREE], 1);
	}
}

/*
 * The free fast path's section map (kmem.h, kmem_numa_node) never
 * contradicts the page allocator: at every MiB of every zone the map says
 * "mixed" or the page's own node, and it names both nodes somewhere.
 */
static void kmem_test_numa_map_agrees_with_page_nodes(void **state)
{
	struct page_zone_info zi;
	unsigned named[2] = { 0, 0 };

	(void)state;
	for (unsigned z = 0; z < page_zone_count(); z++) {
		assert_int_equal(page_zone_info(z, &zi), 0);
		for (paddr_t pa = zi.pzi_base; pa < zi.pzi_end; pa += MIB) {
			unsigned n = kmem_numa_node(phys_to_virt(pa));
			int pn = page_node_of(pa);

			if (n == KMEM_NUMA_MIXED || pn < 0)
				continue;
			assert_int_equal(n, (unsigned)pn);
			named[n & 1]++;
		}
	}
	assert_true(named[0] > 0 && named[1] > 0);
}

/* Freeing to the wrong cache or an interior pointer panics before anything changes. */
static void kmem_test_free_misuse_panics(void **state)
{
	kmem_cache_t *a = kmem_cache_create("a", 64, 0, NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	kmem_cache_t *b = kmem_cache_create("b", 64, 0, NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	kmem_cache_t *big = kmem_cache_create("big", 3000, 0, NULL, NULL, NULL, NULL, NULL,
					      KMC_NOMAGAZINE);
	char *x = nalloc(a, KM_SLEEP), *y = nalloc(big, KM_SLEEP);

	(void)state;
	HOST_EXPECT_PANIC(kmem_cache_free(b, x), "not");
	HOST_EXPECT_PANIC(kmem_cache_free(a, x + 8), "not an allocated buffer");
	HOST_EXPECT_PANIC(kmem_cache_free(big, y + 8), "not an allocated buffer");
	HOST_EXPECT_PANIC(kmem_cache_create("bad", 0, 0, NULL, NULL, NULL, NULL, NULL, 0),
			  "invalid");
	HOST_EXPECT_PANIC(kmem_cache_create("bad", 8, 3, NULL, NULL, NULL, NULL, NULL, 0),
			  "invalid");
	HOST_EXPECT_PANIC(try_alloc(a, 0x100), "invalid flags");
	HOST_EXPECT_PANIC(kmem_cache_destroy(a), "still allocated");
	ksim_check(a);
	ksim_check(b);
	ksim_check(big);
	kmem_cache_free(a, x);
	kmem_cache_free(big, y);
	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
	kmem_cache_destroy(big);
}

/* A cache over a small foreign arena: allocation fails cleanly when it is full, nothing lost. */
static void kmem_test_foreign_arena_exhaustion(void **state)
{
	void *mem = aligned_alloc(MM_PAGE_SIZE, 16 * MM_PAGE_SIZE);
	vmem_t *vm = vmem_create("tiny", (uintptr_t)mem, 16 * MM_PAGE_SIZE, MM_PAGE_SIZE, NULL,
				 NULL, NULL, 0, VM_NOSLEEP);
	kmem_cache_t *cp = kmem_cache_create("tinyobj", 512, 0, NULL, NULL, NULL, NULL, vm,
					     KMC_NOMAGAZINE);
	void *b[256];
	int n = 0;

	(void)state;
	assert_false(cp->cache_small);		/* foreign arena: headers outside, hash */
	while (n < 256 && (b[n] = nalloc(cp, KM_NOSLEEP)) != NULL)
		n++;
	assert_int_equal(n, 16 * MM_PAGE_SIZE / 512);
	assert_int_equal(ksim_stat(cp, KMS_FAIL), 1);
	assert_int_equal(ksim_stat(cp, KMS_BUF_INUSE), (uint64_t)n);
	ksim_check(cp);
	HOST_EXPECT_PANIC(kmem_cache_free(cp, (char *)b[0] + 16), "not an allocated buffer");
	while (n > 0)
		kmem_cache_free(cp, b[--n]);
	kmem_cache_destroy(cp);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_destroy(vm);
	free(mem);
}

/* kmastat and slabinfo show exactly the counters after a known workload. */
static void kmem_test_dumps_show_known_workload(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("dumped", 100, 0, NULL, NULL, NULL, NULL, NULL, 0);
	unsigned long bsz, inuse, total, mem, allocs, fails, active, num, osz, per, pages;
	void *b[37];
	char *line;

	(void)state;
	for (int i = 0; i < 37; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b[36]);
	host_capture_reset();
	kmem_kmastat(host_capture);
	line = strstr(host_captured(), "\ndumped ");
	assert_non_null(line);
	assert_int_equal(sscanf(line + 7, "%lu %lu %lu %lu %lu %lu", &bsz, &inuse, &total, &mem,
				&allocs, &fails), 6);
	assert_int_equal(bsz, 100);
	assert_int_equal(inuse, 36);
	assert_int_equal(allocs, 37);
	assert_int_equal(fails, 0);
	assert_int_equal(total, cp->cache_chunks);	/* one slab */
	assert_int_equal(mem, cp->cache_slabsize);
	assert_non_null(strstr(host_captured(), "kmem_slab_0"));	/* the arenas follow */
	host_capture_reset();
	kmem_slabinfo(host_capture);
	assert_memory_equal(host_captured(), "slabinfo - version: 2.1\n", 24);
	line = strstr(host_captured(), "\ndumped ");
	assert_int_equal(sscanf(line + 7, "%lu %lu %lu %lu %lu", &active, &num, &osz, &per, &pages), 5);
	assert_int_equal(active, 36);
	assert_int_equal(num, cp->cache_chunks);
	assert_int_equal(osz, 104);
	assert_int_equal(per, cp->cache_chunks);
	assert_int_equal(pages, 1);
	host_capture_reset();
	kmem_magstat(host_capture);
	assert_non_null(strstr(host_captured(), "dumped: magsize 31 mag_alloc 37 mag_free 1 "));
	for (int i = 0; i < 36; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cache_destroy(cp);
}

/* vmem_alloc of up to qcache_max goes through a magazine-layer cache; larger sizes and xalloc do not. */
static void kmem_test_vmem_qcache_serves_small_sizes(void **state)
{
	void *mem = aligned_alloc(MM_PAGE_SIZE, 0x10000);
	vmem_t *vmp = vmem_create("qc", (uintptr_t)mem, 0x10000, 0x100, NULL, NULL, NULL, 0x400, 0);
	kmem_cache_t *qc = kmem_cache_find("qc_256");
	uintptr_t a, b, c, x;
	struct vmem_kstat vk;

	(void)state;
	assert_non_null(qc);
	assert_non_null(kmem_cache_find("qc_1024"));
	assert_null(kmem_cache_find("qc_1280"));
	a = vmem_alloc(vmp, 0x100, 0);
	vmem_free(vmp, a, 0x100);
	b = vmem_alloc(vmp, 0x100, 0);
	assert_int_equal(a, b);			/* came back from the hart's magazine */
	assert_int_equal(ksim_stat(qc, KMS_ALLOC), 2);
	assert_int_equal(ksim_stat(qc, KMS_MAG_ALLOC), 2);
	/* the bulk import took a magazine's worth from the arena at once */
	assert_int_equal(vmem_size(vmp, VMEM_ALLOC), ksim_stat(qc, KMS_BUF_TOTAL) * 0x100);
	c = vmem_alloc(vmp, 0x500, 0);		/* above qcache_max: segment layer */
	x = vmem_xalloc(vmp, 0x100, 0, 0, 0, 0, 0, 0);	/* xalloc: never a cache */
	assert_true(vmem_is_allocated(vmp, x, 0x100));
	vmem_stats(vmp, &vk);
	assert_int_equal(vk.vk_qcache_alloc, 2);
	assert_int_equal(vk.vk_qcache_free, 1);
	vmem_xfree(vmp, x, 0x100);
	vmem_free(vmp, c, 0x500);
	vmem_free(vmp, b, 0x100);
	ksim_check(qc);
	vmem_destroy(vmp);			/* destroys the caches: objects back first */
	assert_null(kmem_cache_find("qc_256"));
	free(mem);
}

/* VM_SLEEP empties the quantum caches (this hart's magazines, the depots) and retries; VM_NOSLEEP does not. */
static void kmem_test_vmem_qcache_sleep_reaps_then_retries(void **state)
{
	void *mem = aligned_alloc(MM_PAGE_SIZE, 0x1000);
	vmem_t *vmp = vmem_create("reap", (uintptr_t)mem, 0x1000, 0x100, NULL, NULL, NULL, 0x100, 0);
	kmem_cache_t *qc = kmem_cache_find("reap_256");
	uintptr_t a[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		a[i] = vmem_alloc(vmp, 0x100, 0);
	for (int i = 0; i < 16; i++)
		assert_int_not_equal(a[i], 0);
	for (int i = 0; i < 16; i++)
		vmem_free(vmp, a[i], 0x100);	/* all parked in the cache */
	assert_int_equal(ksim_stat(qc, KMS_BUF_MAG) + ksim_stat(qc, KMS_BUF_DEPOT), 16);
	assert_int_equal(vmem_alloc(vmp, 0x200, VM_NOSLEEP), 0);
	assert_int_equal(ksim_stat(qc, KMS_REAP), 0);
	a[0] = vmem_alloc(vmp, 0x200, VM_SLEEP);
	assert_int_not_equal(a[0], 0);
	assert_true(ksim_stat(qc, KMS_REAP) >= 1);
	vmem_free(vmp, a[0], 0x200);
	assert_int_equal(ksim_stat(qc, KMS_BUF_MAG) + ksim_stat(qc, KMS_BUF_DEPOT), 0);
	vmem_destroy(vmp);
	free(mem);
}

/* The debug flag parser takes names, commas and "all", and refuses unknown words. */
static void kmem_test_debug_flags_parse(void **state)
{
	unsigned f = 0;

	(void)state;
	assert_int_equal(kmem_debug_parse("redzone,audit", &f), 0);
	assert_int_equal(f, KMF_REDZONE | KMF_AUDIT);
	assert_int_equal(kmem_debug_parse("all", &f), 0);
	assert_int_equal(f, KMF_DEBUG_ALL);
	assert_int_equal(kmem_debug_parse("", &f), 0);
	assert_int_equal(f, 0);
	f = 7;
	assert_int_equal(kmem_debug_parse("redzone,bogus", &f), -1);
	assert_int_equal(f, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, ksim_boot_two, ksim_teardown)
		T(kmem_test_geometry_waste_at_most_one_eighth),
		T(kmem_test_geometry_matches_docs_table),
		T(kmem_test_colour_offsets_advance_and_wrap),
		T(kmem_test_ctor_dtor_run_once_per_slab_lifetime),
		T(kmem_test_ctor_failure_returns_null_and_loses_nothing),
		T(kmem_test_alloc_prefers_fullest_partial_slab),
		T(kmem_test_reap_frees_free_slabs),
	T(kmem_test_page_alloc_reaps_before_failing),
		T(kmem_test_magazines_on_and_off),
		T(kmem_test_magazine_caches_made_on_first_use),
		T(kmem_test_depot_trades_full_and_empty),
		T(kmem_test_depot_free_trades_two_full),
		T(kmem_test_reap_keeps_working_set),
		T(kmem_test_reap_local_flushes_each_hart_once_asked),
		T(kmem_test_numa_home_and_cross_node_free),
		T(kmem_test_kmalloc_node_places_memory),
		T(kmem_test_kmalloc_classes_bound_waste),
		T(kmem_test_kmalloc_zero_large_and_dma),
		T(kmem_test_kfree_foreign_pointer_panics),
		T(kmem_test_kfree_rejects_every_interior_offset),
		T(kmem_test_numa_map_agrees_with_page_nodes),
		T(kmem_test_free_misuse_panics),
		T(kmem_test_foreign_arena_exhaustion),
		T(kmem_test_dumps_show_known_workload),
		T(kmem_test_vmem_qcache_serves_small_sizes),
		T(kmem_test_vmem_qcache_sleep_reaps_then_retries),
		T(kmem_test_debug_flags_parse),
#undef T
		cmocka_unit_test_setup_teardown(kmem_test_dma_window_on_another_node, boot_dma_node1,
						ksim_teardown),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
