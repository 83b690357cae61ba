/*
 * test_kmem.h - what the three files of the `kmem` ktest suite share:
 * test_kmem.c (behaviour: every hart, constructed state, NUMA homes,
 * kmalloc, DMA, misuse, reaping), test_kmem_obs.c (the dumps parsed
 * against the counters) and test_kmem_bench.c (throughput, overhead and
 * fragmentation figures).  The plugin regions are suite `kmem_prof`
 * (test_kmem_prof.c).
 */
#ifndef TESTS_KERNEL_TEST_KMEM_H
#define TESTS_KERNEL_TEST_KMEM_H

#include "kernel/ktest.h"
#include "mm/kmem.h"

/* The suite's cases that live in test_kmem_obs.c. */
void kmem_test_kmastat_matches_counters(struct ktest *t);
void kmem_test_slabinfo_matches_counters(struct ktest *t);
void kmem_test_magstat_matches_harts(struct ktest *t);
void kmem_test_console_commands_run(struct ktest *t);
/* ... and in test_kmem_bench.c (figures for make bench). */
void kmem_test_throughput_per_hart(struct ktest *t);
void kmem_test_overhead_per_cache(struct ktest *t);
void kmem_test_fragmentation_vs_pow2(struct ktest *t);

/* One cache's counters, by name (kmem_cache_stats). */
static inline uint64_t kmem_test_stat(kmem_cache_t *cp, enum kmem_stat s)
{
	uint64_t st[KMS_NSTATS];

	kmem_cache_stats(cp, st);
	return st[s];
}

/* Does this boot run object caches with magazines (no kmem_nomagazine, no debug)? */
bool kmem_test_magazines_on(kmem_cache_t *cp);

#endif /* TESTS_KERNEL_TEST_KMEM_H */
