/*
 * kmem_sim.h - the object caches on the simulated machine of page_sim.h:
 * boot the page allocator, give vmem a host page source for its own
 * structures, make a host "large arena" for kmalloc's big requests, and
 * kmem_init; tear down and check that every page came back.
 */
#ifndef TESTS_HOST_KMEM_SIM_H
#define TESTS_HOST_KMEM_SIM_H

#include "mm/kmem_impl.h"
#include "mm/vmem.h"
#include "page_sim.h"
#include "host_env.h"

#define KSIM_LARGE	(64ull << 20)		/* host memory behind the large arena */

static vmem_t *ksim_large;
static void *ksim_large_mem;
static char ksim_why[512];

static void *ksim_meta_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void ksim_meta_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source ksim_pgsrc = { ksim_meta_alloc, ksim_meta_free };

/* Boot machine m and bring kmem up with the global switches given. */
static int ksim_boot(const struct sim_machine *m, unsigned debug, bool nomag)
{
	if (sim_boot(m) != 0)
		return -1;
	vmem_page_source_set(&ksim_pgsrc);
	if (ksim_large_mem == NULL)
		ksim_large_mem = aligned_alloc(MM_PAGE_SIZE, KSIM_LARGE);
	ksim_large = vmem_create("host_large", (uintptr_t)ksim_large_mem, KSIM_LARGE,
				 MM_PAGE_SIZE, NULL, NULL, NULL, 0, VM_NOSLEEP);
	kmem_debug = debug;
	kmem_nomagazine = nomag;
	return ksim_large != NULL && kmem_init(ksim_large) == 0 ? 0 : -1;
}

static inline int ksim_boot_two(void **state) { (void)state; return ksim_boot(&sim_two_nodes, 0, false); }

/* kmem down; every page back in the buddy lists; arenas gone. */
static int ksim_teardown(void **state)
{
	jmp_buf jb;

	(void)state;
	sim_become(&sim_two_nodes, 0);
	/* A failed test leaves buffers behind: report kmem_fini's panic, do not die of it. */
	if (setjmp(jb) != 0) {
		host_panic_jmp = NULL;
		printf("ksim_teardown: %s\n", host_panic_msg);
		return -1;
	}
	host_panic_jmp = &jb;
	kmem_fini();
	host_panic_jmp = NULL;
	vmem_destroy(ksim_large);
	ksim_large = NULL;
	page_drain_all();
	if (page_free_count() != sim_managed()) {
		printf("ksim_teardown: %lu pages free of %lu\n", (unsigned long)page_free_count(),
		       (unsigned long)sim_managed());
		return -1;
	}
	return 0;
}

/*
 * Make every magazine cache now: they are made on first use and kept
 * (mm/kmem.c §4), so a test that counts pages before and after a workload
 * makes them first, and sees only what the workload keeps.
 */
static inline void ksim_make_magazine_caches(void)
{
	if (kmem_magazine_caches_make() != 0)
		fail_msg("ksim_make_magazine_caches: a magazine cache was not made");
}

/* A cache's statistics, one by one. */
static inline uint64_t ksim_stat(kmem_cache_t *cp, enum kmem_stat s)
{
	uint64_t st[KMS_NSTATS];

	kmem_cache_stats(cp, st);
	return st[s];
}

/* Fail the test unless the cache passes kmem_cache_check. */
static inline void ksim_check(kmem_cache_t *cp)
{
	if (kmem_cache_check(cp, ksim_why, sizeof(ksim_why)) != 0)
		fail_msg("kmem_cache_check: %s", ksim_why);
}

#endif /* TESTS_HOST_KMEM_SIM_H */
