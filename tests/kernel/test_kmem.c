/*
 * test_kmem.c - the `kmem` suite: object caches and kmalloc in the kernel,
 * on every hart of every matrix boot (NUMA boards, DMA boards), with and
 * without `kmem_debug=all` and `kmem_nomagazine`.
 *
 * Every count is compared with a tally the test keeps itself (objects it
 * allocated and freed, constructor and destructor calls it saw, pages the
 * page allocator reports), never with a copy of the value under test.  The
 * dumps and the plugin regions are in test_kmem_obs.c.
 */
#include "kernel/cmdline.h"
#include "kernel/hart.h"
#include "kernel/kmem_glue.h"
#include "kernel/lib.h"
#include "kernel/plat_zones.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"
#include "mm/page.h"
#include "test_kmem.h"

extern struct plat_map boot_plat_map;

#define KT_PER_HART	192	/* objects each hart allocates in the all-harts case */
#define KT_OBJ_SIZE	96	/* their size */
#define KT_MAGIC	0x6b6d656d5f6f626aULL	/* what the constructor writes */

/* A constructed test object: the constructor sets kto_magic; users may not change it. */
struct kt_obj {
	uint64_t kto_magic;		/* KT_MAGIC while constructed */
	uint64_t kto_owner;		/* cpu << 32 | index, written by the user */
	char kto_pad[KT_OBJ_SIZE - 16];	/* the rest of the object */
};

/* Constructor and destructor calls seen, and whether the constructor should fail. */
static uint64_t kt_ctors, kt_dtors;
static bool kt_ctor_fails;

/* Construct: set the magic, count the call (atomics: any hart). */
static int kt_ctor(void *buf, void *private, int kmflag)
{
	struct kt_obj *o = buf;

	(void)private;
	(void)kmflag;
	if (__atomic_load_n(&kt_ctor_fails, __ATOMIC_RELAXED))
		return -1;
	o->kto_magic = KT_MAGIC;
	o->kto_owner = 0;
	__atomic_fetch_add(&kt_ctors, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Destroy: the object must still be constructed; count the call. */
static void kt_dtor(void *buf, void *private)
{
	struct kt_obj *o = buf;

	(void)private;
	if (o->kto_magic != KT_MAGIC)
		panic("kt_dtor(%p): object not in constructed state (magic 0x%llx)", buf,
		      (unsigned long long)o->kto_magic);
	o->kto_magic = 0;
	__atomic_fetch_add(&kt_dtors, 1, __ATOMIC_RELAXED);
}

bool kmem_test_magazines_on(kmem_cache_t *cp)
{
	return kmem_test_stat(cp, KMS_MAGSIZE) != 0;
}

/*
 * Buffers a cache keeps constructed: all it holds, or, when free buffers
 * are filled with 0xdeadbeef (kmem_debug deadbeef), only those handed out:
 * such a cache destroys a buffer at free and constructs it at allocation.
 */
static uint64_t kt_constructed(kmem_cache_t *cp)
{
	return kmem_test_stat(cp, (kmem_debug & KMF_DEADBEEF) ? KMS_BUF_INUSE : KMS_BUF_TOTAL);
}

/* Every invariant of cp holds (kmem_cache_check), reported with its reason. */
static void kt_check(struct ktest *t, kmem_cache_t *cp)
{
	char why[160] = "";
	int err = kmem_cache_check(cp, why, sizeof(why));

	if (err)
		ktest_fail(t, false, __FILE__, __LINE__, "kmem_cache_check(%s): %s",
			   kmem_cache_name(cp), why);
}

/* The boot options reached kmem: parsed words, and what a new cache gets. */
static void kmem_test_boot_options_applied(struct ktest *t)
{
	unsigned flags = 0xffff;
	kmem_cache_t *cp;
	void *b;

	if (cmdline.cl_kmem_debug[0] != 0 && kmem_debug_parse(cmdline.cl_kmem_debug, &flags) == 0)
		KEXPECT_EQ(t, kmem_debug, flags);
	else
		KEXPECT_EQ(t, kmem_debug, 0);
	KEXPECT_EQ(t, kmem_nomagazine, cmdline.cl_kmem_nomagazine);
	cp = kmem_cache_create("kt_options", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	KASSERT_NOT_NULL(t, cp);
	b = kmem_cache_alloc(cp, KM_SLEEP);
	KASSERT_NOT_NULL(t, b);
	kmem_cache_free(cp, b);
	if (kmem_nomagazine)
		KEXPECT_FALSE(t, kmem_test_magazines_on(cp));
	else if (kmem_debug == 0)
		KEXPECT_TRUE(t, kmem_test_magazines_on(cp));
	kmem_cache_destroy(cp);
}

/* The kmem words of the command line parse, and bad values are refused, not guessed. */
static void kmem_test_cmdline_words(struct ktest *t)
{
	struct cmdline cl;
	unsigned flags = 7;

	KEXPECT_EQ(t, cmdline_parse("kmem_nomagazine kmem_reap_interval=250 kmem_debug=all", &cl), 0);
	KEXPECT_TRUE(t, cl.cl_kmem_nomagazine);
	KEXPECT_TRUE(t, cl.cl_kmem_reap_set);
	KEXPECT_EQ(t, cl.cl_kmem_reap_ms, 250);
	KEXPECT_STREQ(t, cl.cl_kmem_debug, "all");
	KEXPECT_EQ(t, cmdline_parse("kmem_reap_interval=0", &cl), 0);
	KEXPECT_TRUE(t, cl.cl_kmem_reap_set);
	KEXPECT_EQ(t, cl.cl_kmem_reap_ms, 0);
	KEXPECT_EQ(t, cmdline_parse("kmem_reap_interval=abc kmem_reap_interval= "
				    "kmem_reap_interval=99999999999 kmem_reap_interval=5x", &cl), 4);
	KEXPECT_FALSE(t, cl.cl_kmem_reap_set);
	KEXPECT_FALSE(t, cl.cl_kmem_nomagazine);
	KEXPECT_EQ(t, kmem_debug_parse("redzone,audit", &flags), 0);
	KEXPECT_EQ(t, flags, KMF_REDZONE | KMF_AUDIT);
	KEXPECT_EQ(t, kmem_debug_parse("all", &flags), 0);
	KEXPECT_EQ(t, flags, KMF_DEBUG_ALL);
	flags = 7;
	KEXPECT_EQ(t, kmem_debug_parse("redzone,nosuchflag", &flags), -1);
	KEXPECT_EQ(t, flags, 7);		/* a bad list changes nothing */
}

/* What each hart did in the all-harts case. */
struct kt_hart_work {
	kmem_cache_t *khw_cp;				/* the cache */
	struct kt_obj *khw_kept[MAX_CPUS][KT_PER_HART];	/* objects still allocated */
	unsigned khw_nkept[MAX_CPUS];			/* how many */
	uint64_t khw_allocs[MAX_CPUS], khw_frees[MAX_CPUS];	/* the tally */
	unsigned khw_bad[MAX_CPUS];			/* constructed-state or pattern errors */
};

/* cpu_call_all body: allocate KT_PER_HART objects, mark them, free every other one. */
static void kt_hart_alloc(void *arg)
{
	struct kt_hart_work *w = arg;
	unsigned c = this_cpu(), n = 0;

	for (unsigned i = 0; i < KT_PER_HART; i++) {
		struct kt_obj *o = kmem_cache_alloc(w->khw_cp, KM_NOSLEEP);

		if (o == NULL)
			continue;
		w->khw_allocs[c]++;
		w->khw_bad[c] += o->kto_magic != KT_MAGIC || o->kto_owner != 0;
		o->kto_owner = (uint64_t)c << 32 | i;
		if (i % 2) {
			o->kto_owner = 0;		/* back to constructed state */
			kmem_cache_free(w->khw_cp, o);
			w->khw_frees[c]++;
		} else {
			w->khw_kept[c][n++] = o;
		}
	}
	w->khw_nkept[c] = n;
}

/* cpu_call_all body: free the objects the next hart kept, checking their marks. */
static void kt_hart_free_next(void *arg)
{
	struct kt_hart_work *w = arg;
	unsigned c = this_cpu(), from = (c + 1) % ncpus;

	for (unsigned i = 0; i < w->khw_nkept[from]; i++) {
		struct kt_obj *o = w->khw_kept[from][i];

		w->khw_bad[c] += (o->kto_owner >> 32) != from || o->kto_magic != KT_MAGIC;
		o->kto_owner = 0;
		kmem_cache_free(w->khw_cp, o);
		w->khw_frees[c]++;
	}
}

/*
 * One cache used on every hart at once, then freed on the neighbour hart:
 * the counters equal the test's tally, constructed state holds, and
 * ctor - dtor calls equal the buffers the cache holds.
 */
static void kmem_test_all_harts_counts_match_tally(struct ktest *t)
{
	static struct kt_hart_work w;
	uint64_t allocs = 0, frees = 0, kept = 0, st[KMS_NSTATS];
	unsigned bad = 0;

	memset(&w, 0, sizeof(w));
	kt_ctors = kt_dtors = 0;
	w.khw_cp = kmem_cache_create("kt_allharts", sizeof(struct kt_obj), 0, kt_ctor, kt_dtor,
				     NULL, NULL, NULL, 0);
	KASSERT_NOT_NULL(t, w.khw_cp);
	cpu_call_all(kt_hart_alloc, &w);
	for (unsigned c = 0; c < ncpus; c++) {
		allocs += w.khw_allocs[c];
		frees += w.khw_frees[c];
		kept += w.khw_nkept[c];
	}
	KEXPECT_EQ(t, allocs, (uint64_t)ncpus * KT_PER_HART);
	kmem_cache_stats(w.khw_cp, st);
	KEXPECT_EQ(t, st[KMS_ALLOC], allocs);
	KEXPECT_EQ(t, st[KMS_FREE], frees);
	KEXPECT_EQ(t, st[KMS_BUF_INUSE], kept);
	KEXPECT_EQ(t, st[KMS_FAIL], 0);
	KEXPECT_EQ(t, kt_ctors - kt_dtors, kt_constructed(w.khw_cp));
	kt_check(t, w.khw_cp);
	cpu_call_all(kt_hart_free_next, &w);
	for (unsigned c = 0; c < ncpus; c++)
		bad += w.khw_bad[c];
	KEXPECT_EQ(t, bad, 0);
	kmem_cache_stats(w.khw_cp, st);
	KEXPECT_EQ(t, st[KMS_BUF_INUSE], 0);
	KEXPECT_EQ(t, st[KMS_FREE], allocs);
	KEXPECT_EQ(t, kt_ctors - kt_dtors, kt_constructed(w.khw_cp));
	kt_check(t, w.khw_cp);
	kmem_cache_destroy(w.khw_cp);
	KEXPECT_EQ(t, kt_ctors, kt_dtors);	/* every constructed buffer destroyed */
}

/*
 * Constructed state: reusing a buffer does not construct it again (with
 * deadbeef debugging: each allocation constructs, each free destroys),
 * every buffer handed out is constructed, and draining the cache destroys
 * exactly what was constructed.
 */
static void kmem_test_ctor_runs_once_per_buffer(struct ktest *t)
{
	bool deadbeef = (kmem_debug & KMF_DEADBEEF) != 0;
	kmem_cache_t *cp;
	struct kt_obj *o;
	uint64_t ctors;

	kt_ctors = kt_dtors = 0;
	cp = kmem_cache_create("kt_ctor", sizeof(struct kt_obj), 0, kt_ctor, kt_dtor, NULL, NULL,
			       NULL, 0);
	KASSERT_NOT_NULL(t, cp);
	o = kmem_cache_alloc(cp, KM_SLEEP);
	KASSERT_NOT_NULL(t, o);
	KEXPECT_EQ(t, o->kto_magic, KT_MAGIC);
	kmem_cache_free(cp, o);
	ctors = kt_ctors;
	KEXPECT_GE(t, ctors, 1);
	KEXPECT_EQ(t, ctors - kt_dtors, kt_constructed(cp));
	for (unsigned i = 0; i < 1000; i++) {
		o = kmem_cache_alloc(cp, KM_SLEEP);
		KASSERT_NOT_NULL(t, o);
		KEXPECT_EQ(t, o->kto_magic, KT_MAGIC);
		kmem_cache_free(cp, o);
	}
	KEXPECT_EQ(t, kt_ctors, ctors + (deadbeef ? 1000 : 0));	/* reuse does not construct */
	KEXPECT_EQ(t, kt_dtors, deadbeef ? ctors + 1000 : 0);
	kmem_cache_drain(cp);
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_BUF_TOTAL), 0);
	KEXPECT_EQ(t, kt_dtors, kt_ctors);
	kmem_cache_destroy(cp);
}

/* A failing constructor fails the allocation, counts it, and loses no memory. */
static void kmem_test_ctor_failure_loses_nothing(struct ktest *t)
{
	uint64_t pages0, st[KMS_NSTATS];
	kmem_cache_t *cp;
	void *o;

	kt_ctors = kt_dtors = 0;
	cp = kmem_cache_create("kt_ctorfail", sizeof(struct kt_obj), 0, kt_ctor, kt_dtor, NULL,
			       NULL, NULL, 0);
	KASSERT_NOT_NULL(t, cp);
	page_drain_all();
	pages0 = page_free_count();
	__atomic_store_n(&kt_ctor_fails, true, __ATOMIC_RELAXED);
	o = kmem_cache_alloc(cp, KM_NOSLEEP);
	__atomic_store_n(&kt_ctor_fails, false, __ATOMIC_RELAXED);
	KEXPECT_NULL(t, o);
	kmem_cache_stats(cp, st);
	KEXPECT_EQ(t, st[KMS_FAIL], 1);
	KEXPECT_GE(t, st[KMS_CTOR_FAIL], 1);
	KEXPECT_EQ(t, st[KMS_BUF_INUSE], 0);
	KEXPECT_EQ(t, kt_ctors, kt_dtors);	/* a half-built slab was destroyed whole */
	kt_check(t, cp);
	kmem_cache_drain(cp);
	page_drain_all();
	KEXPECT_EQ(t, page_free_count(), pages0);
	kmem_cache_destroy(cp);
}

/* What the cross-node case records. */
struct kt_remote {
	kmem_cache_t *ktr_cp;		/* the cache */
	void *ktr_buf[64];		/* buffers allocated on the first hart */
	int ktr_node;			/* that hart's node */
	unsigned ktr_n;			/* how many */
	unsigned ktr_other_node;	/* buffers the second hart got from another node */
};

/* cpu_call_one body: allocate ktr_buf[] here. */
static void kt_remote_alloc(void *arg)
{
	struct kt_remote *r = arg;

	r->ktr_node = this_hart()->h_node;
	for (r->ktr_n = 0; r->ktr_n < ARRAY_SIZE(r->ktr_buf); r->ktr_n++)
		if ((r->ktr_buf[r->ktr_n] = kmem_cache_alloc(r->ktr_cp, KM_NOSLEEP)) == NULL)
			break;
}

/* cpu_call_one body: free ktr_buf[] here, then allocate as many and check their node. */
static void kt_remote_free_realloc(void *arg)
{
	struct kt_remote *r = arg;
	void *mine[ARRAY_SIZE(r->ktr_buf)];

	for (unsigned i = 0; i < r->ktr_n; i++)
		kmem_cache_free(r->ktr_cp, r->ktr_buf[i]);
	for (unsigned i = 0; i < r->ktr_n; i++) {
		mine[i] = kmem_cache_alloc(r->ktr_cp, KM_NOSLEEP);
		if (mine[i] != NULL && page_node_of(virt_to_phys(mine[i])) != this_hart()->h_node)
			r->ktr_other_node++;
	}
	for (unsigned i = 0; i < r->ktr_n; i++)
		if (mine[i] != NULL)
			kmem_cache_free(r->ktr_cp, mine[i]);
}

/* The first cpu on node `node`, or -1. */
static int kt_cpu_on_node(int node)
{
	for (unsigned c = 0; c < ncpus; c++)
		if (harts[c].h_node == node)
			return (int)c;
	return -1;
}

/*
 * NUMA: buffers freed on a hart of another node go home.  They come from
 * the allocating hart's node, the freeing hart keeps getting its own node's
 * memory afterwards, the cross-node frees are counted, and after a drain
 * every buffer is back in its home node's slabs.
 */
static void kmem_test_cross_node_free_goes_home(struct ktest *t)
{
	static struct kt_remote r;
	int a = kt_cpu_on_node(0), b = -1;
	uint64_t cross0;

	for (int n = 1; n < 8 && b < 0; n++)
		b = kt_cpu_on_node(n);
	if (a < 0 || b < 0)
		ktest_skip(t, "needs harts on two NUMA nodes");
	memset(&r, 0, sizeof(r));
	r.ktr_cp = kmem_cache_create("kt_remote", 128, 0, NULL, NULL, NULL, NULL, NULL, 0);
	KASSERT_NOT_NULL(t, r.ktr_cp);
	cross0 = kmem_test_stat(r.ktr_cp, KMS_CROSS_FREE);
	cpu_call_one((unsigned)a, kt_remote_alloc, &r);
	KASSERT_EQ(t, r.ktr_n, ARRAY_SIZE(r.ktr_buf));
	for (unsigned i = 0; i < r.ktr_n; i++)
		KEXPECT_EQ(t, page_node_of(virt_to_phys(r.ktr_buf[i])), r.ktr_node);
	cpu_call_one((unsigned)b, kt_remote_free_realloc, &r);
	KEXPECT_EQ(t, r.ktr_other_node, 0);	/* node 0's buffers were not reused there */
	if (kmem_test_magazines_on(r.ktr_cp))	/* counted by the cross magazine */
		KEXPECT_GE(t, kmem_test_stat(r.ktr_cp, KMS_CROSS_FREE) - cross0, r.ktr_n);
	KEXPECT_EQ(t, kmem_test_stat(r.ktr_cp, KMS_BUF_INUSE), 0);
	kt_check(t, r.ktr_cp);
	kmem_drain_all();
	KEXPECT_EQ(t, kmem_test_stat(r.ktr_cp, KMS_BUF_TOTAL), 0);
	kmem_cache_destroy(r.ktr_cp);
}

/* The sizes the kmalloc case asks for: every size to 520, then a spread to 3 MiB. */
static size_t kt_kmalloc_size(unsigned i)
{
	static const size_t big[] = { 577, 640, 1000, 1023, 1025, 1500, 2047, 2049, 3000, 4095,
				      4096, 4097, 5000, 6000, 7000, 8191, 8192, 8193, 12288,
				      65536, 100000, 3u << 20 };

	return i < 520 ? i + 1 : big[i - 520];
}
#define KT_KMALLOC_SIZES	(520 + 22)

/*
 * kmalloc at many sizes: the usable size covers the request, wastes at most
 * 12.5% above 64 bytes (under 8 bytes below) up to the largest class, the
 * buffer is 8-byte aligned and wholly writable, kzalloc zeroes, and every
 * buffer goes back.
 */
static void kmem_test_kmalloc_sizes_fit(struct ktest *t)
{
	static void *p[KT_KMALLOC_SIZES];

	for (unsigned i = 0; i < KT_KMALLOC_SIZES; i++) {
		size_t s = kt_kmalloc_size(i), u;

		p[i] = i % 3 ? kmalloc(s, KM_SLEEP) : kzalloc(s, KM_SLEEP);
		KASSERT_NOT_NULL(t, p[i]);
		u = ksize(p[i]);
		KEXPECT_GE(t, u, s);
		if (s <= KMALLOC_MAX_CLASS && s > 64)
			KEXPECT_LE(t, (u - s) * 8, s);
		else if (s <= 64)
			KEXPECT_LT(t, u - s, 8);
		KEXPECT_EQ(t, (uintptr_t)p[i] % 8, 0);
		if (i % 3 == 0)
			for (size_t j = 0; j < s; j += 61)
				if (((unsigned char *)p[i])[j] != 0) {
					KEXPECT_EQ(t, ((unsigned char *)p[i])[j], 0);
					break;
				}
		memset(p[i], 0xa5, u);
	}
	for (unsigned i = 0; i < KT_KMALLOC_SIZES; i++)
		kfree(p[i]);
	kfree(NULL);				/* a no-op */
}

/* kmalloc's classes are caches named kmalloc-SIZE, and buffers count in them. */
static void kmem_test_kmalloc_class_caches(struct ktest *t)
{
	static const size_t sizes[] = { 8, 64, 72, 100, 256, 1000, 4096, 8192 };
	char name[32];

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *b = kmalloc(sizes[i], KM_SLEEP);
		kmem_cache_t *cp;
		uint64_t inuse;

		KASSERT_NOT_NULL(t, b);
		snprintf(name, sizeof(name), "kmalloc-%lu", (unsigned long)ksize(b));
		cp = kmem_cache_find(name);
		KASSERT_NOT_NULL(t, cp);
		KEXPECT_EQ(t, kmem_cache_bufsize(cp), ksize(b));
		inuse = kmem_test_stat(cp, KMS_BUF_INUSE);
		kfree(b);
		KEXPECT_EQ(t, kmem_test_stat(cp, KMS_BUF_INUSE), inuse - 1);
	}
}

/*
 * Does the board have memory PAGE_DMA may use (a DMA or DMA32 zone inside
 * the DMA limit), and *has_dma: a DMA zone proper?  From the platform map's
 * zones, as the page test reads them.
 */
static bool kt_dma_window(bool *has_dma)
{
	static struct page_zone_desc zd[PLAT_MAX_ZONES];
	int nz = plat_zones(&boot_plat_map, zd, PLAT_MAX_ZONES);
	bool has_low = false;

	*has_dma = false;
	for (int i = 0; i < nz; i++) {
		*has_dma |= zd[i].pzd_type == PAGE_ZONE_DMA;
		has_low |= zd[i].pzd_type != PAGE_ZONE_NORMAL &&
			   (!boot_plat_map.pm_has_dma_limit ||
			    zd[i].pzd_end <= boot_plat_map.pm_dma_limit);
	}
	return has_low;
}

/* KM_DMA memory lies inside the DMA window, in the zone PAGE_DMA serves. */
static void kmem_test_kmalloc_dma_inside_window(struct ktest *t)
{
	static const size_t sizes[] = { 16, 100, 512, 2000, 4096, 8192 };
	bool has_dma, has_low = kt_dma_window(&has_dma);
	void *p[ARRAY_SIZE(sizes) * 4];

	for (unsigned i = 0; i < ARRAY_SIZE(p); i++) {
		size_t s = sizes[i % ARRAY_SIZE(sizes)];
		paddr_t pa;

		p[i] = kmalloc(s, KM_DMA | KM_NOSLEEP);
		if (!has_low) {
			KEXPECT_NULL(t, p[i]);
			continue;
		}
		KASSERT_NOT_NULL(t, p[i]);
		pa = virt_to_phys(p[i]);
		KEXPECT_LE(t, pa + s, 1ull << 32);
		if (boot_plat_map.pm_has_dma_limit)
			KEXPECT_LE(t, pa + s, boot_plat_map.pm_dma_limit);
		KEXPECT_EQ(t, page_zone_type_of(pa), has_dma ? PAGE_ZONE_DMA : PAGE_ZONE_DMA32);
		KEXPECT_EQ(t, page_zone_type_of(pa + s - 1), has_dma ? PAGE_ZONE_DMA : PAGE_ZONE_DMA32);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(p); i++)
		kfree(p[i]);
}

#define KT_DMA_PER_HART	300	/* more than a slab of 16-byte buffers holds */

/* What each hart allocated with KM_DMA in the all-harts DMA case. */
static void *kt_dma_bufs[MAX_CPUS][KT_DMA_PER_HART];

/* cpu_call_one body: 16-byte KM_DMA buffers from this hart (a new slab of its node). */
static void kt_dma_hart_alloc(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < KT_DMA_PER_HART; i++)
		kt_dma_bufs[this_cpu()][i] = kmalloc(16, KM_DMA | KM_NOSLEEP);
}

/* cpu_call_all body: free the next hart's DMA buffers here. */
static void kt_dma_hart_free_next(void *arg)
{
	unsigned from = (this_cpu() + 1) % ncpus;

	(void)arg;
	for (unsigned i = 0; i < KT_DMA_PER_HART; i++)
		kfree(kt_dma_bufs[from][i]);
}

/*
 * KM_DMA from every hart in turn, each taking a new slab (so from every
 * node's DMA memory on NUMA boards), freed on another hart: the DMA cache
 * stays consistent and gives every buffer back when drained.
 */
static void kmem_test_kmalloc_dma_every_hart(struct ktest *t)
{
	kmem_cache_t *cp = kmem_cache_find("dma-kmalloc-16");

	KASSERT_NOT_NULL(t, cp);
	memset(kt_dma_bufs, 0, sizeof(kt_dma_bufs));
	for (unsigned c = 0; c < ncpus; c++)
		cpu_call_one(c, kt_dma_hart_alloc, NULL);
	for (unsigned c = 0; c < ncpus; c++)
		for (unsigned i = 0; i < KT_DMA_PER_HART; i++)
			if (kt_dma_bufs[c][i] != NULL)
				KEXPECT_NE(t, page_zone_type_of(virt_to_phys(kt_dma_bufs[c][i])),
					   PAGE_ZONE_NORMAL);
	kt_check(t, cp);
	cpu_call_all(kt_dma_hart_free_next, NULL);
	kmem_drain_all();
	kt_check(t, cp);
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_BUF_INUSE), 0);
}

/* kfree of a pointer kmalloc did not return panics naming it: static, page, interior. */
static void kmem_test_kfree_foreign_pointer_panics(struct ktest *t)
{
	static uint64_t not_heap[4];
	static char name[32];
	paddr_t pa = page_alloc(0, 0);
	char *b = kmalloc_var(200, KM_SLEEP);	/* out of line: setjmp below */

	KASSERT_NE(t, pa, PAGE_NOADDR);
	KASSERT_NOT_NULL(t, b);
	KTEST_EXPECT_PANIC(t, kfree(not_heap), "not allocated by kmalloc");
	KTEST_EXPECT_PANIC(t, kfree(phys_to_virt(pa)), "not allocated by kmalloc");
	snprintf(name, sizeof(name), "kmalloc-%lu", (unsigned long)ksize(b));
	KTEST_EXPECT_PANIC(t, kfree(b + 8), name);	/* names the buffer's cache */
	KTEST_EXPECT_PANIC(t, (void)ksize(not_heap), "ksize");
	kfree(b);
	page_free(pa, 0);
}

/* A cache of 48-byte objects with the given debug flags (panics if it cannot). */
static kmem_cache_t *kt_debug_cache(const char *name, unsigned flags)
{
	return kmem_cache_create(name, 48, 0, NULL, NULL, NULL, NULL, NULL, flags);
}

/* Allocate outside the functions that catch panics (setjmp would clobber the inline's locals). */
static __attribute__((noinline)) void *kt_alloc(kmem_cache_t *cp)
{
	return kmem_cache_alloc(cp, KM_SLEEP);
}

/* Free outside the functions that catch panics. */
static __attribute__((noinline)) void kt_free(kmem_cache_t *cp, void *buf)
{
	kmem_cache_free(cp, buf);
}

/* With free checking, a double free panics through the error reporter, naming the cache. */
static void kmem_test_double_free_panics(struct ktest *t)
{
	kmem_cache_t *cp = kt_debug_cache("kt_dblfree", KMF_FREECHECK);
	void *b;

	KASSERT_NOT_NULL(t, cp);
	b = kt_alloc(cp);
	KASSERT_NOT_NULL(t, b);
	kt_free(cp, b);
	KTEST_EXPECT_PANIC(t, kt_free(cp, b), "duplicate free");
	if (t->kt_failed)
		return;		/* undetected: the cache is corrupt, leave it be */
	KTEST_EXPECT_PANIC(t, kt_free(cp, b), "kt_dblfree");
	kmem_cache_destroy(cp);
}

/* With a redzone, writing one byte past the object panics at free, naming the cache. */
static void kmem_test_redzone_overrun_panics(struct ktest *t)
{
	kmem_cache_t *cp = kt_debug_cache("kt_redzone", KMF_REDZONE);
	char *b;

	KASSERT_NOT_NULL(t, cp);
	b = kt_alloc(cp);
	KASSERT_NOT_NULL(t, b);
	b[48] ^= 0x5a;
	KTEST_EXPECT_PANIC(t, kt_free(cp, b), "redzone");
	if (t->kt_failed)
		return;		/* undetected: the buffer was freed, leave the cache be */
	b[48] ^= 0x5a;				/* repaired: the free goes through */
	kt_free(cp, b);
	kmem_cache_destroy(cp);
}

/* Pages in the page allocator, buddy lists and per-hart caches together. */
static uint64_t kt_pages(void)
{
	return page_free_count() + page_cached_count();
}

/*
 * Free slabs stay until reaped; kmem_reap gives them back to the page
 * allocator: every page the workload took returns.
 */
static void kmem_test_reap_returns_slabs(struct ktest *t)
{
	static void *b[2048];
	kmem_cache_t *cp;
	uint64_t pages0, slabs;

	cp = kmem_cache_create("kt_reap", 512, 0, NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	KASSERT_NOT_NULL(t, cp);
	for (unsigned round = 0; round < 2; round++) {	/* round 0 warms vmem's segments */
		pages0 = kt_pages();
		for (unsigned i = 0; i < ARRAY_SIZE(b); i++) {
			b[i] = kmem_cache_alloc(cp, KM_SLEEP);
			KASSERT_NOT_NULL(t, b[i]);
		}
		if (round == 0) {
			for (unsigned i = 0; i < ARRAY_SIZE(b); i++)
				kmem_cache_free(cp, b[i]);
			kmem_reap();
		}
	}
	slabs = kmem_test_stat(cp, KMS_SLABS);
	KEXPECT_GE(t, slabs, 1);
	KEXPECT_LE(t, kt_pages() + ARRAY_SIZE(b) * 512 / MM_PAGE_SIZE, pages0);
	for (unsigned i = 0; i < ARRAY_SIZE(b); i++)
		kmem_cache_free(cp, b[i]);
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_SLABS), slabs);	/* not freed at once */
	KEXPECT_LE(t, kt_pages() + ARRAY_SIZE(b) * 512 / MM_PAGE_SIZE, pages0);
	kmem_reap();
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_SLABS), 0);
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_MEM_TOTAL), 0);
	KEXPECT_EQ(t, kt_pages(), pages0);
	KEXPECT_GE(t, kmem_test_stat(cp, KMS_REAP), 1);
	kmem_cache_destroy(cp);
}

/* cpu_call_all body: put a few rounds into this hart's magazines of the cache. */
static void kt_fill_magazines(void *arg)
{
	kmem_cache_t *cp = arg;
	void *b[8];

	for (unsigned i = 0; i < ARRAY_SIZE(b); i++)
		b[i] = kmem_cache_alloc(cp, KM_NOSLEEP);
	for (unsigned i = 0; i < ARRAY_SIZE(b); i++)
		if (b[i] != NULL)
			kmem_cache_free(cp, b[i]);
}

/* The sum of kmem_reap() calls, and each hart's kmem_reap_local() calls into local[]. */
static uint64_t kt_reaper_snapshot(uint64_t *local)
{
	struct kmem_reaper_stats rs;

	for (unsigned c = 0; c < ncpus; c++) {
		kmem_reaper_stats(c, &rs);
		local[c] = rs.krs_local;
	}
	return rs.krs_reaps;
}

/*
 * Nap until the reaper has called kmem_reap() and, after that, every hart
 * has run kmem_reap_local() twice (the first may have begun before it).
 */
static bool kt_wait_reaper(uint64_t max_us)
{
	static uint64_t local0[MAX_CPUS], local[MAX_CPUS];
	uint64_t end = timer_now_us() + max_us, reaps0 = kt_reaper_snapshot(local0);
	unsigned done = 0;

	while (kt_reaper_snapshot(local0) == reaps0 && timer_now_us() < end)
		timer_nap_us(5000);
	while (done < ncpus && timer_now_us() < end) {
		timer_nap_us(5000);
		kt_reaper_snapshot(local);
		done = 0;
		for (unsigned c = 0; c < ncpus; c++)
			done += local[c] >= local0[c] + 2;
	}
	return done == ncpus;
}

/*
 * The periodic reaper: with the hold released and a 40 ms interval, every
 * hart's tick runs kmem_reap_local, one hart runs kmem_reap, and every
 * hart's magazines are emptied (the flush kmem_reap asks for).
 */
static void kmem_test_periodic_reaper_runs_on_every_hart(struct ktest *t)
{
	struct kmem_reaper_stats rs;
	kmem_cache_t *cp;
	unsigned saved;
	bool ran;

	kmem_reaper_stats(0, &rs);
	saved = rs.krs_interval_ms;
	cp = kmem_cache_create("kt_reaper", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	KASSERT_NOT_NULL(t, cp);
	cpu_call_all(kt_fill_magazines, cp);
	if (kmem_test_magazines_on(cp))
		KEXPECT_GT(t, kmem_test_stat(cp, KMS_BUF_MAG), 0);
	kmem_reaper_start(40);
	kmem_reaper_release();
	ran = kt_wait_reaper(10000000);
	kmem_reaper_hold();
	kmem_reaper_start(saved);
	KEXPECT_TRUE(t, ran);
	kmem_reaper_stats(0, &rs);
	KEXPECT_EQ(t, rs.krs_reaper_cpu, ncpus - 1);
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_BUF_MAG), 0);
	KEXPECT_GE(t, kmem_test_stat(cp, KMS_REAP), 1);
	kt_check(t, cp);
	kmem_cache_destroy(cp);
}

static const struct ktest_case kmem_cases[] = {
	KTEST_CASE(kmem_test_boot_options_applied),
	KTEST_CASE(kmem_test_cmdline_words),
	KTEST_CASE(kmem_test_all_harts_counts_match_tally),
	KTEST_CASE(kmem_test_ctor_runs_once_per_buffer),
	KTEST_CASE(kmem_test_ctor_failure_loses_nothing),
	KTEST_CASE(kmem_test_cross_node_free_goes_home),
	KTEST_CASE(kmem_test_kmalloc_sizes_fit),
	KTEST_CASE(kmem_test_kmalloc_class_caches),
	KTEST_CASE(kmem_test_kmalloc_dma_inside_window),
	KTEST_CASE(kmem_test_kmalloc_dma_every_hart),
	KTEST_CASE(kmem_test_kfree_foreign_pointer_panics),
	KTEST_CASE(kmem_test_double_free_panics),
	KTEST_CASE(kmem_test_redzone_overrun_panics),
	KTEST_CASE(kmem_test_reap_returns_slabs),
	KTEST_CASE(kmem_test_periodic_reaper_runs_on_every_hart),
	KTEST_CASE(kmem_test_kmastat_matches_counters),
	KTEST_CASE(kmem_test_slabinfo_matches_counters),
	KTEST_CASE(kmem_test_magstat_matches_harts),
	KTEST_CASE(kmem_test_console_commands_run),
	KTEST_CASE(kmem_test_throughput_per_hart),
	KTEST_CASE(kmem_test_overhead_per_cache),
	KTEST_CASE(kmem_test_fragmentation_vs_pow2),
	KTEST_END,
};

KTEST_SUITE(kmem_suite, "kmem", kmem_cases);
