/*
 * test_kmem_bench.c - the `kmem` suite's measurements that `make bench`
 * reads from the console (tools/bench.py kmem_bench, docs/kmem.md
 * "Measurements").  Each case prints its figures on lines starting
 * "kmem_rate:", "kmem_overhead:" or "kmem_frag:" and checks what must hold
 * whatever the host: every hart made progress, the memory accounting adds
 * up, waste per slab stays within 1/8, kmalloc's classes fragment less than
 * powers of two.
 */
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"
#include "mm/kmem_impl.h"	/* slab geometry, for the overhead breakdown */
#include "test_kmem.h"

#define KT_RATE_US	50000	/* wall time of one throughput point */
#define KT_RATE_BATCH	64	/* pairs between two looks at the clock */
#define KT_RATE_WAIT_US	5000000	/* longest wait for the other harts to arrive */

/* One throughput point: harts 0..krt_nharts-1 run pairs until the deadline. */
struct kt_rate {
	kmem_cache_t *krt_cp;		/* the cache */
	unsigned krt_nharts;		/* harts taking part */
	unsigned krt_arrived;		/* harts at the start line (atomic) */
	uint64_t krt_pairs[MAX_CPUS];	/* pairs per hart */
	uint64_t krt_us[MAX_CPUS];	/* time each hart ran */
};

/*
 * cpu_call_all body (if this hart takes part): wait until every taking hart
 * has arrived, so that they run at the same time (8 vCPUs on 2 host cores
 * do not all start at once), then run pairs for KT_RATE_US.
 */
static void kt_rate_hart(void *arg)
{
	struct kt_rate *r = arg;
	unsigned c = this_cpu();
	uint64_t t0 = timer_now_us(), now, n = 0;

	if (c >= r->krt_nharts)
		return;
	__atomic_fetch_add(&r->krt_arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&r->krt_arrived, __ATOMIC_ACQUIRE) < r->krt_nharts &&
	       timer_now_us() - t0 < KT_RATE_WAIT_US)
		;
	t0 = now = timer_now_us();
	while (now - t0 < KT_RATE_US) {
		for (unsigned i = 0; i < KT_RATE_BATCH; i++)
			kmem_cache_free(r->krt_cp, kmem_cache_alloc(r->krt_cp, KM_NOSLEEP));
		n += KT_RATE_BATCH;
		now = timer_now_us();
	}
	r->krt_pairs[c] = n;
	r->krt_us[c] = now - t0;
}

/* Run one point; print it; false if a hart made no progress. */
static bool kt_rate_point(kmem_cache_t *cp, unsigned nharts, const char *mode)
{
	static struct kt_rate r;
	uint64_t sum = 0, lo = ~0ull, hi = 0;

	memset(&r, 0, sizeof(r));
	r.krt_cp = cp;
	r.krt_nharts = nharts;
	cpu_call_all(kt_rate_hart, &r);
	for (unsigned c = 0; c < nharts; c++) {
		uint64_t rate = r.krt_us[c] ? r.krt_pairs[c] * 1000000 / r.krt_us[c] : 0;

		sum += rate;
		lo = MIN(lo, rate);
		hi = MAX(hi, rate);
	}
	printk("kmem_rate: harts %u magazines %s pairs/s/hart %llu min %llu max %llu\n", nharts,
	       mode, (unsigned long long)(sum / nharts), (unsigned long long)lo,
	       (unsigned long long)hi);
	return lo > 0;
}

/*
 * Alloc+free pairs per second per hart on 1, 2, 4 and 8 harts (those this
 * boot has), magazines on and off side by side; every hart makes progress
 * and nothing stays allocated.
 */
void kmem_test_throughput_per_hart(struct ktest *t)
{
	kmem_cache_t *on = kmem_cache_create("kt_rate_mag", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *off = kmem_cache_create("kt_rate_nomag", 64, 0, NULL, NULL, NULL, NULL, NULL,
					      KMC_NOMAGAZINE);

	KASSERT_NOT_NULL(t, on);
	KASSERT_NOT_NULL(t, off);
	for (unsigned n = 1; n <= 8 && n <= ncpus; n *= 2) {
		KEXPECT_TRUE(t, kt_rate_point(on, n, kmem_test_magazines_on(on) ? "on" : "off*"));
		KEXPECT_TRUE(t, kt_rate_point(off, n, "off"));
	}
	KEXPECT_EQ(t, kmem_test_stat(on, KMS_BUF_INUSE), 0);
	KEXPECT_EQ(t, kmem_test_stat(off, KMS_BUF_INUSE), 0);
	kmem_drain_all();
	kmem_cache_destroy(on);
	kmem_cache_destroy(off);
}

#define KT_OVH_OBJS	2048	/* objects allocated per overhead measurement */

/* Bytes of the magazines cp holds now: every hart's loaded and previous, every depot's. */
static uint64_t kt_magazine_bytes(kmem_cache_t *cp)
{
	uint64_t mags = 0, full, empty, magsize = kmem_test_stat(cp, KMS_MAGSIZE);

	for (unsigned c = 0; c < ncpus; c++) {
		int loaded, prev;

		kmem_cache_cpu_rounds(cp, c, &loaded, &prev);
		mags += (loaded >= 0) + (prev >= 0);
	}
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		kmem_cache_depot_count(cp, (int)n, &full, &empty);
		mags += full + empty;
	}
	return mags * (magsize + 1) * sizeof(void *);
}

/*
 * Memory overhead of one cache of `size`-byte objects holding KT_OVH_OBJS:
 * the slab memory splits exactly into payload, chunk padding, per-slab
 * leftover (in-slab header and colour room), buffers not handed out, and
 * external headers; the leftover is at most 1/8 of a slab.
 */
static void kt_overhead(struct ktest *t, size_t size, void **b)
{
	kmem_cache_t *cp = kmem_cache_create("kt_overhead", size, 0, NULL, NULL, NULL, NULL, NULL, 0);
	uint64_t st[KMS_NSTATS], leftover, pad, unused, ext, payload, mags;

	KASSERT_NOT_NULL(t, cp);
	for (unsigned i = 0; i < KT_OVH_OBJS; i++) {
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
		KASSERT_NOT_NULL(t, b[i]);
	}
	kmem_cache_stats(cp, st);
	payload = (uint64_t)KT_OVH_OBJS * size;
	pad = st[KMS_BUF_TOTAL] * (cp->cache_chunksize - size);
	leftover = st[KMS_SLABS] * (cp->cache_slabsize - (uint64_t)cp->cache_chunks * cp->cache_chunksize);
	unused = (st[KMS_BUF_TOTAL] - KT_OVH_OBJS) * size;
	ext = cp->cache_small ? 0 : st[KMS_SLABS] * sizeof(struct kmem_slab) +
				    st[KMS_BUF_TOTAL] * sizeof(struct kmem_bufctl);
	mags = kt_magazine_bytes(cp);
	KEXPECT_EQ(t, st[KMS_MEM_TOTAL], payload + pad + leftover + unused + ext);
	KEXPECT_LE(t, (cp->cache_slabsize - (uint64_t)cp->cache_chunks * cp->cache_chunksize) * 8,
		   cp->cache_slabsize);
	printk("kmem_overhead: size %lu chunk %lu slab %lu objs/slab %u slabs %llu "
	       "header+colour %llu pad %llu unused %llu external %llu magazines %llu "
	       "cache_struct %lu payload %llu overhead_permille %llu\n",
	       (unsigned long)size, (unsigned long)cp->cache_chunksize,
	       (unsigned long)cp->cache_slabsize, cp->cache_chunks,
	       (unsigned long long)st[KMS_SLABS], (unsigned long long)leftover,
	       (unsigned long long)pad, (unsigned long long)unused, (unsigned long long)ext,
	       (unsigned long long)mags, (unsigned long)sizeof(struct kmem_cache),
	       (unsigned long long)payload,
	       (unsigned long long)((st[KMS_MEM_TOTAL] + mags - payload) * 1000 /
				    (st[KMS_MEM_TOTAL] + mags)));
	for (unsigned i = 0; i < KT_OVH_OBJS; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cache_destroy(cp);
}

/* Memory overhead per cache for 16, 64, 192, 1000 and 4096-byte objects. */
void kmem_test_overhead_per_cache(struct ktest *t)
{
	static const size_t sizes[] = { 16, 64, 192, 1000, 4096 };
	static void *b[KT_OVH_OBJS];

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++)
		kt_overhead(t, sizes[i], b);
}

#define KT_FRAG_LIVE	6000	/* live objects of the mixed workload */
#define KT_FRAG_CHURN	12000	/* frees and reallocations after the first fill */
#define KT_FRAG_NCLASS	16	/* enough classes for 8 .. 8192 */

/* A size scheme: a set of caches and the class each request lands in. */
struct kt_scheme {
	const char *ksc_name;				/* "kmalloc" or "pow2" */
	kmem_cache_t *ksc_cache[64];			/* by class index */
	unsigned ksc_nclass;				/* classes in use */
	size_t ksc_size[64];				/* class buffer sizes, ascending */
};

/* The class of `size` in scheme s: the smallest that holds it. */
static unsigned kt_class(const struct kt_scheme *s, size_t size)
{
	unsigned i = 0;

	while (s->ksc_size[i] < size)
		i++;
	return i;
}

/* A request size of the mixed workload (xorshift state *x): mostly small, some large. */
static size_t kt_frag_size(uint64_t *x)
{
	uint64_t r;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	r = *x;
	if (r % 10 < 6)
		return 8 + (r >> 8) % 121;		/* 8..128 */
	if (r % 10 < 9)
		return 129 + (r >> 8) % 896;		/* 129..1024 */
	return 1025 + (r >> 8) % 7168;			/* 1025..8192 */
}

/* Slab memory and live bytes of scheme s after the workload, with its caches drained. */
static void kt_frag_run(struct ktest *t, struct kt_scheme *s, uint64_t *mem, uint64_t *live)
{
	static void *obj[KT_FRAG_LIVE];
	static size_t sz[KT_FRAG_LIVE];
	uint64_t x = 88172645463325252ull;

	*mem = *live = 0;
	for (unsigned i = 0; i < KT_FRAG_LIVE + KT_FRAG_CHURN; i++) {
		unsigned k = i < KT_FRAG_LIVE ? i : (unsigned)((x >> 16) % KT_FRAG_LIVE);

		if (i >= KT_FRAG_LIVE)
			kmem_cache_free(s->ksc_cache[kt_class(s, sz[k])], obj[k]);
		sz[k] = kt_frag_size(&x);
		obj[k] = kmem_cache_alloc(s->ksc_cache[kt_class(s, sz[k])], KM_SLEEP);
		KASSERT_NOT_NULL(t, obj[k]);
	}
	for (unsigned c = 0; c < s->ksc_nclass; c++) {
		kmem_cache_drain(s->ksc_cache[c]);
		*mem += kmem_test_stat(s->ksc_cache[c], KMS_MEM_TOTAL);
	}
	for (unsigned k = 0; k < KT_FRAG_LIVE; k++) {
		*live += sz[k];
		kmem_cache_free(s->ksc_cache[kt_class(s, sz[k])], obj[k]);
	}
}

/* Make scheme s's caches, sizes given; false if out of memory. */
static bool kt_scheme_make(struct kt_scheme *s, const size_t *sizes, unsigned n)
{
	char name[KMEM_NAMELEN];

	s->ksc_nclass = n;
	for (unsigned c = 0; c < n; c++) {
		snprintf(name, sizeof(name), "kt_%s_%lu", s->ksc_name, (unsigned long)sizes[c]);
		s->ksc_size[c] = sizes[c];
		s->ksc_cache[c] = kmem_cache_create(name, sizes[c], 0, NULL, NULL, NULL, NULL, NULL, 0);
		if (s->ksc_cache[c] == NULL)
			return false;
	}
	return true;
}

/* kmalloc's class sizes from 8 to 8192, as ksize reports them. */
static unsigned kt_kmalloc_classes(size_t *sizes)
{
	unsigned n = 0;

	for (size_t s = 1; s <= KMALLOC_MAX_CLASS; ) {
		void *b = kmalloc(s, KM_SLEEP);
		size_t u = b != NULL ? ksize(b) : 0;

		kfree(b);
		if (u < s)
			return 0;
		sizes[n++] = u;
		s = u + 1;
	}
	return n;
}

/*
 * Total fragmentation (1 - live bytes / slab memory) after a mixed-size
 * workload with churn, caches drained, in the manner of the 1994 paper's
 * table: kmalloc's classes (<= 12.5% internal waste) against power-of-two
 * classes over the same slab layer.  kmalloc's classes fragment less.
 */
void kmem_test_fragmentation_vs_pow2(struct ktest *t)
{
	static struct kt_scheme km = { .ksc_name = "km" }, p2 = { .ksc_name = "pow2" };
	static size_t sizes[64];
	uint64_t km_mem, km_live, p2_mem, p2_live;
	unsigned n = kt_kmalloc_classes(sizes);

	KASSERT_GT(t, n, 0);
	KASSERT_TRUE(t, kt_scheme_make(&km, sizes, n));
	for (unsigned c = 0; c < 11; c++)
		sizes[c] = (size_t)8 << c;		/* 8 .. 8192 */
	KASSERT_TRUE(t, kt_scheme_make(&p2, sizes, 11));
	kt_frag_run(t, &km, &km_mem, &km_live);
	kt_frag_run(t, &p2, &p2_mem, &p2_live);
	KEXPECT_EQ(t, km_live, p2_live);		/* the same workload */
	printk("kmem_frag: scheme kmalloc classes %u live %llu memory %llu fragmentation_permille %llu\n",
	       km.ksc_nclass, (unsigned long long)km_live, (unsigned long long)km_mem,
	       (unsigned long long)((km_mem - km_live) * 1000 / km_mem));
	printk("kmem_frag: scheme pow2 classes %u live %llu memory %llu fragmentation_permille %llu\n",
	       p2.ksc_nclass, (unsigned long long)p2_live, (unsigned long long)p2_mem,
	       (unsigned long long)((p2_mem - p2_live) * 1000 / p2_mem));
	KEXPECT_LT(t, km_mem, p2_mem);
	for (unsigned c = 0; c < km.ksc_nclass; c++)
		kmem_cache_destroy(km.ksc_cache[c]);
	for (unsigned c = 0; c < p2.ksc_nclass; c++)
		kmem_cache_destroy(p2.ksc_cache[c]);
}
