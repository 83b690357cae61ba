/*
 * fuzz_platform.c - libFuzzer target for the platform map (kernel/plat*.c).
 *
 * Feeds arbitrary bytes to plat_parse() (which checks the blob structurally
 * and then reads it with libfdt, compiled here from the upstream sources with
 * the same sanitizers), and on success exercises plat_add_reserved(),
 * plat_merge_memory() (which must not change the zones) and plat_print(),
 * and checks the map's and the derived zones' invariants.  Any crash, sanitizer report
 * or broken invariant (abort) is a finding.  Built and run by tests/fuzz/fuzz.mk.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/plat_zones.h"

static struct plat_map fz_map;
static struct page_zone_desc fz_zones[PLAT_MAX_ZONES], fz_zones2[PLAT_MAX_ZONES];

/* plat_print's sink: format into a buffer so every argument is read. */
static int fz_out(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return n;
}

/* Abort when `cond` is false: libFuzzer reports it as a crash. */
static void fz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_platform: invariant broken: %s\n", what);
		abort();
	}
}

/* The invariants plat_parse() promises (kernel/platform.c section 2). */
static void fz_invariants(const struct plat_map *pm)
{
	uint64_t mem_pages = 0, zone_pages = 0;
	int nz;

	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		fz_check(pm->pm_mem[i].pmr_size != 0, "memory size 0");
		fz_check(i == 0 || pm->pm_mem[i - 1].pmr_base <= pm->pm_mem[i].pmr_base, "memory order");
		mem_pages += pm->pm_mem[i].pmr_size >> 12;
	}
	for (unsigned i = 1; i < pm->pm_nharts; i++)
		fz_check(pm->pm_harts[i - 1].ph_hartid <= pm->pm_harts[i].ph_hartid, "hart order");
	for (unsigned i = 1; i < pm->pm_nresv; i++)
		fz_check(pm->pm_resv[i - 1].pr_base <= pm->pm_resv[i].pr_base, "reserved order");
	nz = plat_zones(pm, fz_zones, PLAT_MAX_ZONES);
	fz_check(nz >= 0, "zones fit PLAT_MAX_ZONES");
	for (int i = 0; i < nz; i++) {
		const struct page_zone_desc *z = &fz_zones[i];

		fz_check(z->pzd_pages > 0 && z->pzd_base < z->pzd_end, "empty zone");
		fz_check(((z->pzd_base | z->pzd_end) & 4095) == 0, "zone alignment");
		fz_check(z->pzd_pages <= (z->pzd_end - z->pzd_base) >> 12, "zone pages");
		fz_check(z->pzd_node >= 0 && z->pzd_node < PLAT_MAX_NODES, "zone node");
		fz_check(i == 0 || fz_zones[i - 1].pzd_base < z->pzd_base, "zone order");
		zone_pages += z->pzd_pages;
	}
	fz_check(zone_pages <= mem_pages + pm->pm_nmem, "more usable pages than memory");
	fz_check(pm->pm_nnodes >= 1 && pm->pm_nnodes <= PLAT_MAX_NODES, "node count");
	fz_check(pm->pm_ndist == 0 || pm->pm_ndist == pm->pm_nnodes, "distance size");
}

/* Merging overlapping memory leaves disjoint ranges and the very same zones. */
static void fz_merge_keeps_zones(struct plat_map *pm)
{
	int n1 = plat_zones(pm, fz_zones, PLAT_MAX_ZONES), n2;

	plat_merge_memory(pm, fz_out);
	n2 = plat_zones(pm, fz_zones2, PLAT_MAX_ZONES);
	for (unsigned i = 1; i < pm->pm_nmem; i++)
		fz_check(pm->pm_mem[i - 1].pmr_base + pm->pm_mem[i - 1].pmr_size <=
			 pm->pm_mem[i].pmr_base, "merged memory overlaps");
	fz_check(n1 == n2 && (n1 < 0 || memcmp(fz_zones, fz_zones2, sizeof(fz_zones[0]) *
					      (size_t)n1) == 0), "merge changed the zones");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	/* An exact-size heap copy: aligned like a real blob, and ASan sees overreads. */
	uint8_t *blob = malloc(size ? size : 1);

	memcpy(blob, data, size);
	if (plat_parse(blob, size, &fz_map, err, sizeof(err)) == 0) {
		fz_invariants(&fz_map);
		plat_print(&fz_map, fz_out);
		plat_add_reserved(&fz_map, size > 48 ? (uint64_t)data[40] << 28 : 0x80000000,
				  0x200000, "kernel");
		plat_add_reserved(&fz_map, (uint64_t)(uintptr_t)blob & ~4095ull, size, "fdt");
		fz_invariants(&fz_map);
		(void)plat_distance(&fz_map, -1, 15);
		fz_merge_keeps_zones(&fz_map);
	} else {
		fz_check(strlen(err) > 0 && strchr(err, '\n') == NULL, "one-line reason");
	}
	free(blob);
	return 0;
}
