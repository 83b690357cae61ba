/*
 * plat_print.c - the platform map as text: the boot log and the console's
 * `mem` command.  The zone lines are what mm derives from the map
 * (plat_zones), in the format tools/testrun.py reads back from the boot log.
 */
#include "kernel/plat_zones.h"

typedef int (*plat_out_t)(const char *fmt, ...);

/* Harts, eight to a line: hartid, node, mmu and state. */
static void plat_print_harts(const struct plat_map *pm, plat_out_t out)
{
	unsigned en = 0;

	for (unsigned i = 0; i < pm->pm_nharts; i++)
		en += pm->pm_harts[i].ph_enabled;
	out("  harts: %u listed, %u enabled (hartid/node)\n", pm->pm_nharts, en);
	for (unsigned i = 0; i < pm->pm_nharts; i++) {
		const struct plat_hart *ph = &pm->pm_harts[i];

		out("%s%llu/%d%s", i % 8 ? " " : "    ", (unsigned long long)ph->ph_hartid,
		    ph->ph_node < 0 ? 0 : ph->ph_node, ph->ph_enabled ? "" : "(disabled)");
		if (i % 8 == 7 || i + 1 == pm->pm_nharts)
			out("\n");
	}
}

/* Memory ranges and reserved ranges, one per line, inclusive ends. */
static void plat_print_ranges(const struct plat_map *pm, plat_out_t out)
{
	out("  memory: %u range%s\n", pm->pm_nmem, pm->pm_nmem == 1 ? "" : "s");
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		const struct plat_mem *m = &pm->pm_mem[i];

		out("    [0x%016llx-0x%016llx] %6llu MiB node %d%s\n",
		    (unsigned long long)m->pmr_base,
		    (unsigned long long)(m->pmr_base + m->pmr_size - 1),
		    (unsigned long long)(m->pmr_size >> 20), m->pmr_node < 0 ? 0 : m->pmr_node,
		    m->pmr_node < 0 ? " (none given)" : "");
	}
	out("  reserved: %u range%s\n", pm->pm_nresv, pm->pm_nresv == 1 ? "" : "s");
	for (unsigned i = 0; i < pm->pm_nresv; i++) {
		const struct plat_resv *pr = &pm->pm_resv[i];

		out("    [0x%016llx-0x%016llx] %s%s%s\n", (unsigned long long)pr->pr_base,
		    (unsigned long long)(pr->pr_base + pr->pr_size - 1),
		    pr->pr_has_name ? pr->pr_name : "/memreserve/",
		    pr->pr_no_map ? " no-map" : "", pr->pr_kernel ? " (kernel)" : "");
	}
}

/* DMA pools, limit and the NUMA distance matrix. */
static void plat_print_dma_numa(const struct plat_map *pm, plat_out_t out)
{
	for (unsigned i = 0; i < pm->pm_npools; i++)
		out("  dma pool: [0x%016llx-0x%016llx] %s%s\n",
		    (unsigned long long)pm->pm_pools[i].pp_base,
		    (unsigned long long)(pm->pm_pools[i].pp_base + pm->pm_pools[i].pp_size - 1),
		    pm->pm_pools[i].pp_name, pm->pm_pools[i].pp_reusable ? " reusable" : "");
	if (pm->pm_has_dma_limit)
		out("  dma limit: 0x%llx (device address = CPU address - 0x%llx)\n",
		    (unsigned long long)pm->pm_dma_limit, (unsigned long long)pm->pm_dma_offset);
	else
		out("  dma limit: none\n");
	out("  numa: %u node%s%s\n", pm->pm_nnodes, pm->pm_nnodes == 1 ? "" : "s",
	    pm->pm_ndist ? ", distances:" : "");
	for (unsigned a = 0; a < pm->pm_ndist; a++) {
		out("    %2u:", a);
		for (unsigned b = 0; b < pm->pm_ndist; b++)
			out(" %3u", pm->pm_dist[a][b]);
		out("\n");
	}
}

/* The zones mm derives from the map (plat_zones): what the allocator gets. */
static void plat_print_zones(const struct plat_map *pm, plat_out_t out)
{
	static struct page_zone_desc zd[PLAT_MAX_ZONES];
	int n = plat_zones(pm, zd, PLAT_MAX_ZONES);

	if (n < 0) {
		out("  zones: none (more than %d rows)\n", PLAT_MAX_ZONES);
		return;
	}
	out("  zones: %d\n", n);
	for (int i = 0; i < n; i++)
		out("    node %d %-6s [0x%016llx-0x%016llx) %llu pages (%llu MiB)\n",
		    zd[i].pzd_node, plat_zone_name(zd[i].pzd_type),
		    (unsigned long long)zd[i].pzd_base, (unsigned long long)zd[i].pzd_end,
		    (unsigned long long)zd[i].pzd_pages,
		    (unsigned long long)(zd[i].pzd_pages >> (20 - MM_PAGE_SHIFT)));
}

void plat_print(const struct plat_map *pm, int (*out)(const char *fmt, ...))
{
	out("platform: %s\n", pm->pm_has_model ? pm->pm_model : "(no model)");
	plat_print_harts(pm, out);
	plat_print_ranges(pm, out);
	plat_print_dma_numa(pm, out);
	plat_print_zones(pm, out);
}
