/*
 * bench_kmem.c - host benchmark: object-cache alloc+free pairs per second
 * per hart with 1, 2, 4 and 8 threads (each a hart; harts alternate between
 * two nodes), magazines on and off side by side, for warm pairs (one
 * object) and for bursts of 1,000 allocations then 1,000 frees (depot
 * trades and slab refills).  Not a test: built by `make
 * build/host/bench_kmem` (-O2, no sanitizers, MM_DEBUG=0).  This host has
 * 2 cores: beyond 2 threads the figures show time-sharing, not scaling.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "page_sim.h"
#include "mm/kmem_impl.h"

#define PAIRS	2000000ul		/* warm pairs per thread */
#define BURST	1000			/* objects per burst */
#define BURSTS	400			/* bursts per thread */

static const struct sim_machine bench_machine = {
	.sm_nzones = 2,
	.sm_zones = {
		{ 0, PAGE_ZONE_NORMAL, 0, 256 * MIB },
		{ 1, PAGE_ZONE_NORMAL, 256 * MIB, 512 * MIB },
	},
	.sm_dma32_limit = 512 * MIB,
	.sm_ncpus = 8,
	.sm_cpu_node = { 0, 1, 0, 1, 0, 1, 0, 1 },
	.sm_nnodes = 2,
};

static void *meta_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void meta_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source pgsrc = { meta_alloc, meta_free };

static kmem_cache_t *bench_cache;
static bool bench_burst;
static pthread_barrier_t bench_start;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One hart's loop; returns its pairs per second through *arg. */
static void *bench_worker(void *arg)
{
	double *result = arg, t0;
	static __thread void *b[BURST];
	unsigned long pairs = 0;

	pthread_barrier_wait(&bench_start);
	t0 = now_s();
	if (!bench_burst) {
		for (unsigned long i = 0; i < PAIRS; i++)
			kmem_cache_free(bench_cache, kmem_cache_alloc(bench_cache, KM_NOSLEEP));
		pairs = PAIRS;
	} else {
		for (unsigned r = 0; r < BURSTS; r++) {
			for (unsigned i = 0; i < BURST; i++)
				b[i] = kmem_cache_alloc(bench_cache, KM_NOSLEEP);
			for (unsigned i = 0; i < BURST; i++)
				kmem_cache_free(bench_cache, b[i]);
		}
		pairs = (unsigned long)BURSTS * BURST;
	}
	*result = pairs / (now_s() - t0);
	return NULL;
}

struct bench_thread {
	unsigned bt_cpu;		/* hart to become */
	double bt_rate;			/* pairs per second */
};

/* Thread entry: become a hart, then run. */
static void *bench_entry(void *arg)
{
	struct bench_thread *t = arg;

	sim_become(&bench_machine, t->bt_cpu);
	return bench_worker(&t->bt_rate);
}

/* Mean pairs/s per hart with n threads on cache cp. */
static double bench_run(kmem_cache_t *cp, unsigned n, bool burst)
{
	struct bench_thread t[8];
	pthread_t th[8];
	double sum = 0;

	bench_cache = cp;
	bench_burst = burst;
	pthread_barrier_init(&bench_start, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		t[i].bt_cpu = i;
		pthread_create(&th[i], NULL, bench_entry, &t[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		sum += t[i].bt_rate;
	}
	pthread_barrier_destroy(&bench_start);
	kmem_drain_all();
	return sum / n;
}

int main(void)
{
	static const unsigned threads[] = { 1, 2, 4, 8 };
	kmem_cache_t *on, *off;

	if (sim_map(NULL) != 0 || sim_boot(&bench_machine) != 0)
		return 1;
	vmem_page_source_set(&pgsrc);
	if (kmem_init(NULL) != 0)
		return 1;
	on = kmem_cache_create("bench_mag", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	off = kmem_cache_create("bench_nomag", 64, 0, NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	printf("kmem host benchmark: 64-byte objects, million alloc+free pairs per second per hart\n");
	printf("(2 host cores: above 2 threads the harts time-share)\n\n");
	printf("%-8s %12s %12s %12s %12s\n", "threads", "warm mag", "warm nomag", "burst mag",
	       "burst nomag");
	for (unsigned i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		printf("%-8u %12.2f %12.2f %12.2f %12.2f\n", threads[i],
		       bench_run(on, threads[i], false) / 1e6, bench_run(off, threads[i], false) / 1e6,
		       bench_run(on, threads[i], true) / 1e6, bench_run(off, threads[i], true) / 1e6);
	kmem_cache_destroy(on);
	kmem_cache_destroy(off);
	kmem_fini();
	return 0;
}
