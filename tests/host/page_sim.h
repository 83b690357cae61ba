/*
 * page_sim.h - simulated physical memory for the page allocator's host tests.
 *
 * One large mmap (MAP_NORESERVE, so untouched pages cost nothing), aligned to
 * the allocator's 128 MiB section size (a test may define SIM_SPAN, the
 * span, before including this).  Its host addresses are the "physical"
 * addresses (tests/host/mm_env.h).  A test describes a machine as zones
 * relative to the region's base; the DMA limit and the end of DMA32
 * ("4 GiB") are moved into the region too (page_layout.lay_dma_limit and
 * lay_dma32_limit), so zone boundaries come from the description exactly as
 * the kernel's come from the platform map.
 */
#ifndef TESTS_HOST_PAGE_SIM_H
#define TESTS_HOST_PAGE_SIM_H

#include <sys/mman.h>

#include "mm/mm_platform.h"
#include "mm/bootmem.h"
#include "mm/page.h"

#ifndef SIM_SPAN
#define SIM_SPAN	(512ull << 20)		/* simulated physical address space */
#endif
#define SIM_ALIGN	(128ull << 20)		/* section size */
#define MIB		(1ull << 20)
#define PG		MM_PAGE_SIZE

static paddr_t sim_base;			/* "physical" address of the region */

/* A machine: zones (offsets from sim_base), hart nodes, extra reservations. */
struct sim_machine {
	unsigned sm_nzones;
	struct { int node; enum page_zone_type type; uint64_t base, end; } sm_zones[8];
	uint64_t sm_dma_limit;			/* offset; 0 = none */
	uint64_t sm_dma32_limit;		/* offset of "4 GiB" */
	unsigned sm_ncpus;			/* harts online */
	int sm_cpu_node[MM_MAX_CPUS];		/* node of each hart */
	unsigned sm_nresv;
	struct { uint64_t base, size; } sm_resv[4];	/* offsets */
	const uint8_t *sm_dist;			/* nnodes x nnodes, or NULL */
	unsigned sm_nnodes;
	uint64_t sm_defer;			/* page_layout.lay_defer: 0 = none */
};

/* Map the region once per test program. */
static int sim_map(void **state)
{
	uint8_t *p = mmap(NULL, SIM_SPAN + SIM_ALIGN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)state;
	if (p == MAP_FAILED)
		return -1;
	sim_base = ((paddr_t)(uintptr_t)p + SIM_ALIGN - 1) & ~(SIM_ALIGN - 1);
	return 0;
}

/* Boot the allocator on machine m: bootmem from the zones, then page_init. */
static int sim_boot(const struct sim_machine *m)
{
	struct page_zone_desc zd[8];
	struct page_layout pl = { 0 };

	page_fini();
	bootmem_reset();
	host_cpus_online(m->sm_ncpus);
	for (unsigned c = 0; c < m->sm_ncpus; c++)
		host_cpu_set_node(c, m->sm_cpu_node[c]);
	host_cpu_register(0, m->sm_cpu_node[0]);
	for (unsigned i = 0; i < m->sm_nzones; i++) {
		zd[i].pzd_node = m->sm_zones[i].node;
		zd[i].pzd_type = m->sm_zones[i].type;
		zd[i].pzd_base = sim_base + m->sm_zones[i].base;
		zd[i].pzd_end = sim_base + m->sm_zones[i].end;
		zd[i].pzd_pages = 0;
		if (bootmem_add(zd[i].pzd_base, zd[i].pzd_end - zd[i].pzd_base, zd[i].pzd_node) != 0)
			return -1;
	}
	for (unsigned i = 0; i < m->sm_nresv; i++)
		if (bootmem_reserve(sim_base + m->sm_resv[i].base, m->sm_resv[i].size) != 0)
			return -1;
	pl.lay_nzones = m->sm_nzones;
	pl.lay_zones = zd;
	pl.lay_nnodes = m->sm_nnodes;
	pl.lay_dist = m->sm_dist;
	pl.lay_dist_stride = m->sm_nnodes;
	pl.lay_dma_limit = m->sm_dma_limit ? sim_base + m->sm_dma_limit : 0;
	pl.lay_dma32_limit = sim_base + m->sm_dma32_limit;
	pl.lay_defer = m->sm_defer;
	return page_init(&pl);
}

/*
 * The standard two-node machine: node 0 has DMA [0, 16M), DMA32 [16M, 64M)
 * and NORMAL [64M, 128M); node 1 has NORMAL [128M, 256M).  dma_limit = 16M,
 * "4 GiB" = 64M.  A 64 KiB "kernel image" is reserved at 1 MiB.  Four harts,
 * two per node.
 */
static const struct sim_machine sim_two_nodes = {
	.sm_nzones = 4,
	.sm_zones = {
		{ 0, PAGE_ZONE_DMA, 0, 16 * MIB },
		{ 0, PAGE_ZONE_DMA32, 16 * MIB, 64 * MIB },
		{ 0, PAGE_ZONE_NORMAL, 64 * MIB, 128 * MIB },
		{ 1, PAGE_ZONE_NORMAL, 128 * MIB, 256 * MIB },
	},
	.sm_dma_limit = 16 * MIB,
	.sm_dma32_limit = 64 * MIB,
	.sm_ncpus = 4,
	.sm_cpu_node = { 0, 0, 1, 1 },
	.sm_nresv = 1,
	.sm_resv = { { 1 * MIB, 64 * 1024 } },
	.sm_nnodes = 2,
};

/* Make the calling thread hart `cpu` (on its node in machine m). */
static inline void sim_become(const struct sim_machine *m, unsigned cpu)
{
	host_cpu_register(cpu, m->sm_cpu_node[cpu]);
}

/* Total of every zone's managed pages. */
static inline uint64_t sim_managed(void)
{
	struct page_zone_info zi;
	uint64_t n = 0;

	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
		n += zi.pzi_managed;
	return n;
}

/* Does [pa, pa + size) lie inside zone type t of node `node` (-1: any node)? */
static inline bool sim_in_zone(paddr_t pa, uint64_t size, int node, int t)
{
	struct page_zone_info zi;

	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++)
		if ((node < 0 || zi.pzi_node == node) && (t < 0 || (int)zi.pzi_type == t) &&
		    pa >= zi.pzi_base && pa + size <= zi.pzi_end)
			return true;
	return false;
}

#endif /* TESTS_HOST_PAGE_SIM_H */
