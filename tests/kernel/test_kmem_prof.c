/*
 * test_kmem_prof.c - ktest suite `kmem_prof`: the plugin marker regions of
 * the object caches, whose names are a contract (issue 8 §6,
 * tests/budgets.txt, `make check-budgets`):
 *
 *   kmem_magazine_pair      warm alloc+free of one 64-byte object, one hart
 *   kmem_magazine_pair_1node  the same in a KMC_NOTNUMA cache, whose free
 *                           path skips the home-node check exactly as every
 *                           cache's does on a one-node machine
 *   kmem_nomagazine_pair    the same in a KMC_NOMAGAZINE cache
 *   kmem_depot_pair         bursts of 1,000 allocations then 1,000 frees of
 *                           a new cache, per alloc+free (depot trades, slab
 *                           creation amortised)
 *   kmem_remote_free_pair   the freeing hart's share of a pair: 1,000
 *                           buffers allocated on a node-0 hart, freed on a
 *                           hart of node 1 (cross magazine and its flushes
 *                           amortised); skipped with one node
 *   kmalloc_pair_64, kmalloc_pair_4096   kmalloc+kfree, warm, constant size
 *   kmalloc_pair_var        the same, 64 bytes through a variable size
 *   vmem_qcache_pair        vmem_alloc+vmem_free of one quantum from an
 *                           arena with quantum caches, warm
 *
 * A suite of its own so that the budget boot runs the regions without the
 * multi-hart cases of `kmem` before them: each region starts from the same
 * allocator state on every run, so its figure is exact.  Each case also
 * checks that the region did what it claims (counters against the
 * iteration count).
 */
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/prof.h"
#include "kernel/smp.h"
#include "mm/kmem.h"
#include "mm/vmem.h"

#define KT_PROF_ITERS	1024	/* operations of each warm region */
/*
 * Warm pairs per callback: the callback's own prologue, register saves and
 * epilogue (about 13 instructions beyond the empty calibration callback's)
 * are divided among them, so the figure is the pair's own cost to within
 * one instruction.  The loop is unrolled 4 times by hand; its counter and
 * branch add under one instruction per pair.
 */
#define KT_BATCH	16

/* One cache's counter. */
static uint64_t kp_stat(kmem_cache_t *cp, enum kmem_stat s)
{
	uint64_t st[KMS_NSTATS];

	kmem_cache_stats(cp, st);
	return st[s];
}

/* One warm alloc+free of cp. */
static inline void kt_pair1(kmem_cache_t *cp)
{
	kmem_cache_free(cp, kmem_cache_alloc(cp, KM_NOSLEEP));
}

/* KT_BATCH warm alloc+free pairs of the cache arg. */
static void kt_pair(void *arg, unsigned long i)
{
	kmem_cache_t *cp = arg;

	(void)i;
	for (unsigned k = 0; k < KT_BATCH; k += 4) {
		kt_pair1(cp);
		kt_pair1(cp);
		kt_pair1(cp);
		kt_pair1(cp);
	}
}

/* Run a warm pair region over a new 64-byte cache with cflags; check nothing leaked. */
static void kt_measure_pair(struct ktest *t, const char *region, unsigned cflags)
{
	kmem_cache_t *cp = kmem_cache_create(region, 64, 0, NULL, NULL, NULL, NULL, NULL, cflags);
	uint64_t a0;

	KASSERT_NOT_NULL(t, cp);
	kt_pair1(cp);					/* warm: a loaded magazine */
	a0 = kp_stat(cp, KMS_ALLOC);
	prof_region_ops(region, KT_PROF_ITERS / KT_BATCH, KT_BATCH, kt_pair, cp);
	KEXPECT_EQ(t, kp_stat(cp, KMS_ALLOC) - a0, KT_PROF_ITERS);
	KEXPECT_EQ(t, kp_stat(cp, KMS_FAIL), 0);
	KEXPECT_EQ(t, kp_stat(cp, KMS_BUF_INUSE), 0);
	if (!(cflags & KMC_NOMAGAZINE) && kp_stat(cp, KMS_MAGSIZE) != 0)
		KEXPECT_GE(t, kp_stat(cp, KMS_MAG_ALLOC), KT_PROF_ITERS);
	else
		KEXPECT_EQ(t, kp_stat(cp, KMS_MAG_ALLOC), 0);
	kmem_cache_destroy(cp);
}

/* Region kmem_magazine_pair: the magazine hit path (target <= 30 instructions, 0 atomics). */
static void kmem_prof_test_magazine_pair(struct ktest *t)
{
	kt_measure_pair(t, "kmem_magazine_pair", 0);
}

/*
 * Region kmem_magazine_pair_1node: the hit path without the NUMA free check,
 * as on a one-node machine (the target of <= 30 instructions holds here).
 */
static void kmem_prof_test_magazine_pair_1node(struct ktest *t)
{
	kt_measure_pair(t, "kmem_magazine_pair_1node", KMC_NOTNUMA);
}

/* Region kmem_nomagazine_pair: the slab layer alone. */
static void kmem_prof_test_nomagazine_pair(struct ktest *t)
{
	kt_measure_pair(t, "kmem_nomagazine_pair", KMC_NOMAGAZINE);
}

#define KT_BURST	1000	/* allocations per burst in kmem_depot_pair */
#define KT_BURSTS	4

/* The depot region's state: the cache and the burst's buffers. */
struct kt_depot {
	kmem_cache_t *ktd_cp;		/* the cache */
	void *ktd_buf[KT_BURST];	/* one burst */
};

/*
 * Operations 2i and 2i+1 of the sequence "KT_BURST allocations, KT_BURST
 * frees, ...": over whole bursts, one call costs one alloc+free on average.
 */
static void kt_depot_ops(void *arg, unsigned long i)
{
	struct kt_depot *d = arg;

	for (unsigned long op = 2 * i; op < 2 * i + 2; op++) {
		unsigned long k = op % KT_BURST;

		if ((op / KT_BURST) % 2 == 0)
			d->ktd_buf[k] = kmem_cache_alloc(d->ktd_cp, KM_NOSLEEP);
		else
			kmem_cache_free(d->ktd_cp, d->ktd_buf[k]);
	}
}

/* Region kmem_depot_pair: bursts through the depot and slab layers, amortised. */
static void kmem_prof_test_depot_pair(struct ktest *t)
{
	static struct kt_depot d;

	d.ktd_cp = kmem_cache_create("kmem_depot_pair", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	KASSERT_NOT_NULL(t, d.ktd_cp);
	prof_region("kmem_depot_pair", KT_BURST * KT_BURSTS, kt_depot_ops, &d);
	KEXPECT_EQ(t, kp_stat(d.ktd_cp, KMS_ALLOC), KT_BURST * KT_BURSTS);
	KEXPECT_EQ(t, kp_stat(d.ktd_cp, KMS_FAIL), 0);
	KEXPECT_EQ(t, kp_stat(d.ktd_cp, KMS_BUF_INUSE), 0);
	if (kp_stat(d.ktd_cp, KMS_MAGSIZE) != 0)
		KEXPECT_GT(t, kp_stat(d.ktd_cp, KMS_DEPOT_ALLOC), 0);
	kmem_cache_destroy(d.ktd_cp);
}

/* The remote region's state. */
struct kt_remote_prof {
	kmem_cache_t *ktp_cp;		/* the cache */
	void *ktp_buf[KT_PROF_ITERS];	/* allocated on the first hart */
	unsigned ktp_n;			/* how many */
};

/* cpu_call_one body on the allocating hart. */
static void kt_remote_prof_alloc(void *arg)
{
	struct kt_remote_prof *r = arg;

	for (r->ktp_n = 0; r->ktp_n < KT_PROF_ITERS; r->ktp_n++)
		if ((r->ktp_buf[r->ktp_n] = kmem_cache_alloc(r->ktp_cp, KM_NOSLEEP)) == NULL)
			break;
}

/* The measured free of buffer i, on the other node's hart. */
static void kt_remote_free_one(void *arg, unsigned long i)
{
	struct kt_remote_prof *r = arg;

	kmem_cache_free(r->ktp_cp, r->ktp_buf[i]);
}

/* cpu_call_one body on the freeing hart: the region. */
static void kt_remote_prof_free(void *arg)
{
	prof_region("kmem_remote_free_pair", KT_PROF_ITERS, kt_remote_free_one, arg);
}

/* The first cpu whose hart is on node n, or -1. */
static int kt_first_cpu_of_node(int n)
{
	for (unsigned c = 0; c < ncpus; c++)
		if (harts[c].h_node == n)
			return (int)c;
	return -1;
}

/* Region kmem_remote_free_pair: frees on a node-1 hart of node-0 buffers (2 nodes). */
static void kmem_prof_test_remote_free_pair(struct ktest *t)
{
	static struct kt_remote_prof r;
	int a = kt_first_cpu_of_node(0), b = kt_first_cpu_of_node(1);

	if (a < 0 || b < 0)
		ktest_skip(t, "kmem_remote_free_pair needs harts on nodes 0 and 1");
	r.ktp_cp = kmem_cache_create("kmem_remote_free_pair", 64, 0, NULL, NULL, NULL, NULL, NULL,
				     0);
	KASSERT_NOT_NULL(t, r.ktp_cp);
	cpu_call_one((unsigned)a, kt_remote_prof_alloc, &r);
	KASSERT_EQ(t, r.ktp_n, KT_PROF_ITERS);
	cpu_call_one((unsigned)b, kt_remote_prof_free, &r);
	KEXPECT_EQ(t, kp_stat(r.ktp_cp, KMS_BUF_INUSE), 0);
	if (kp_stat(r.ktp_cp, KMS_MAGSIZE) != 0)	/* counted by the cross magazine */
		KEXPECT_GE(t, kp_stat(r.ktp_cp, KMS_CROSS_FREE), KT_PROF_ITERS);
	kmem_drain_all();
	kmem_cache_destroy(r.ktp_cp);
}

/* KT_BATCH warm kmalloc+kfree pairs of `size` bytes (a constant after inlining). */
static inline __attribute__((always_inline)) void kt_kmalloc_batch(size_t size)
{
	for (unsigned k = 0; k < KT_BATCH; k += 4) {
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
	}
}

/* Region kmalloc_pair_64's callback: a constant size, as most callers pass. */
static void kt_kmalloc_pair_64(void *arg, unsigned long i)
{
	(void)arg, (void)i;
	kt_kmalloc_batch(64);
}

/* Region kmalloc_pair_4096's callback. */
static void kt_kmalloc_pair_4096(void *arg, unsigned long i)
{
	(void)arg, (void)i;
	kt_kmalloc_batch(4096);
}

/* Region kmalloc_pair_var's callback: 64 bytes through a variable (kmalloc_var). */
static void kt_kmalloc_pair_var(void *arg, unsigned long i)
{
	size_t size = *(volatile size_t *)arg;

	(void)i;
	for (unsigned k = 0; k < KT_BATCH; k += 4) {
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
		kfree(kmalloc(size, KM_NOSLEEP));
	}
}

/*
 * Regions kmalloc_pair_64 and kmalloc_pair_4096 (constant sizes: the
 * inline kmalloc), and kmalloc_pair_var (a size the compiler cannot see).
 */
static void kmem_prof_test_kmalloc_pairs(struct ktest *t)
{
	static size_t sizes[] = { 64, 4096, 64 };
	static const char *names[] = { "kmalloc_pair_64", "kmalloc_pair_4096", "kmalloc_pair_var" };
	static void (*const fns[])(void *, unsigned long) = {
		kt_kmalloc_pair_64, kt_kmalloc_pair_4096, kt_kmalloc_pair_var,
	};

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		char cname[24];
		kmem_cache_t *cp;
		uint64_t a0;

		snprintf(cname, sizeof(cname), "kmalloc-%lu", (unsigned long)sizes[i]);
		cp = kmem_cache_find(cname);
		KASSERT_NOT_NULL(t, cp);
		kfree(kmalloc(sizes[i], KM_NOSLEEP));		/* warm */
		a0 = kp_stat(cp, KMS_ALLOC);
		prof_region_ops(names[i], KT_PROF_ITERS / KT_BATCH, KT_BATCH, fns[i], &sizes[i]);
		KEXPECT_EQ(t, kp_stat(cp, KMS_ALLOC) - a0, KT_PROF_ITERS);
	}
}

#define KT_QC_BASE	0x200000000ul	/* the quantum-cache arena: numbers, not memory */
#define KT_QC_Q		4096ul

/* One warm alloc+free of one quantum. */
static inline void kt_qcache_pair1(vmem_t *vmp)
{
	vmem_free(vmp, vmem_alloc(vmp, KT_QC_Q, VM_NOSLEEP), KT_QC_Q);
}

/* KT_BATCH warm alloc+free pairs of one quantum. */
static void kt_qcache_pair(void *arg, unsigned long i)
{
	vmem_t *vmp = arg;

	(void)i;
	for (unsigned k = 0; k < KT_BATCH; k += 4) {
		kt_qcache_pair1(vmp);
		kt_qcache_pair1(vmp);
		kt_qcache_pair1(vmp);
		kt_qcache_pair1(vmp);
	}
}

/* Region vmem_qcache_pair: an arena with quantum caches up to 8 quanta. */
static void kmem_prof_test_vmem_qcache_pair(struct ktest *t)
{
	vmem_t *vmp = vmem_create("kt_qcache", KT_QC_BASE, 4096 * KT_QC_Q, KT_QC_Q, NULL, NULL,
				  NULL, 8 * KT_QC_Q, VM_NOSLEEP);
	struct vmem_kstat vk0, vk1;

	KASSERT_NOT_NULL(t, vmp);
	kt_qcache_pair1(vmp);
	vmem_stats(vmp, &vk0);
	prof_region_ops("vmem_qcache_pair", KT_PROF_ITERS / KT_BATCH, KT_BATCH, kt_qcache_pair, vmp);
	vmem_stats(vmp, &vk1);
	KEXPECT_EQ(t, vk1.vk_qcache_alloc - vk0.vk_qcache_alloc, KT_PROF_ITERS);
	KEXPECT_EQ(t, vk1.vk_qcache_free - vk0.vk_qcache_free, KT_PROF_ITERS);
	vmem_destroy(vmp);
}

static const struct ktest_case kmem_prof_cases[] = {
	KTEST_CASE(kmem_prof_test_magazine_pair),
	KTEST_CASE(kmem_prof_test_magazine_pair_1node),
	KTEST_CASE(kmem_prof_test_nomagazine_pair),
	KTEST_CASE(kmem_prof_test_depot_pair),
	KTEST_CASE(kmem_prof_test_remote_free_pair),
	KTEST_CASE(kmem_prof_test_kmalloc_pairs),
	KTEST_CASE(kmem_prof_test_vmem_qcache_pair),
	KTEST_END,
};

KTEST_SUITE(kmem_prof_suite, "kmem_prof", kmem_prof_cases);
