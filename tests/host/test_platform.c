/*
 * test_platform.c - host tests for the FDT platform map (kernel/plat*.c) and
 * the zones mm derives from it (mm/zone_layout.c), plus fdtinfo's command line.
 *
 * Each case compiles a small hand-written DTS with dtc (on PATH: Debian's
 * device-tree-compiler) and checks one rule of the contract in
 * docs/fdtinfo.md; the bad-input cases corrupt compiled blobs in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_env.h"
#include <libfdt.h>

#include "kernel/plat_zones.h"	/* mm's env first: plat_env.h defers to it */
#include "kernel/plat_fdt.h"

#define T_BUF	(64 * 1024)

static struct plat_map t_map;
static uint8_t t_blob[T_BUF] __attribute__((aligned(8)));
static size_t t_size;
static char t_err[256];
static struct page_zone_desc t_zones[PLAT_MAX_ZONES];

/* Compile `dts` (the part after "/dts-v1/;") into t_blob. */
static void t_dtc(const char *dts)
{
	char in[] = "/tmp/test_platform_XXXXXX", cmd[256], out[64];
	int fd = mkstemp(in);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "/dts-v1/;\n%s\n", dts);
	fclose(f);
	snprintf(out, sizeof(out), "%s.dtb", in);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dts -O dtb -o %s %s", out, in);
	assert_int_equal(system(cmd), 0);
	f = fopen(out, "rb");
	assert_non_null(f);
	t_size = fread(t_blob, 1, sizeof(t_blob), f);
	fclose(f);
	unlink(in);
	unlink(out);
	assert_true(t_size > 40);
}

/* Parse t_blob; must succeed. */
static void t_parse_ok(void)
{
	t_err[0] = 0;
	if (plat_parse(t_blob, t_size, &t_map, t_err, sizeof(t_err)) != 0)
		fail_msg("plat_parse failed: %s", t_err);
}

/* Parse t_blob (first `size` bytes); must fail with a reason containing `what`. */
static void t_parse_bad(size_t size, const char *what)
{
	t_err[0] = 0;
	assert_int_equal(plat_parse(t_blob, size, &t_map, t_err, sizeof(t_err)), -1);
	if (strstr(t_err, what) == NULL)
		fail_msg("reason '%s' lacks '%s'", t_err, what);
}

/* Compile then parse. */
static void t_load(const char *dts)
{
	t_dtc(dts);
	t_parse_ok();
}

#define ROOT22	"#address-cells = <2>; #size-cells = <2>;"
#define OK_DTS_FOR_STDIN "/ {" ROOT22 " model = \"stdin\";" MEM(0x80000000, 0x100000) " };"
#define MEM(b, s) "memory@" #b " { device_type = \"memory\"; reg = <0 " #b " 0 " #s ">; };"

/* Derive t_map's zones into t_zones; the number of rows. */
static int t_nzones(void)
{
	int n = plat_zones(&t_map, t_zones, PLAT_MAX_ZONES);

	assert_true(n >= 0);
	return n;
}

/* Zone row i of t_map (derived afresh). */
static const struct page_zone_desc *t_zone_at(int i)
{
	assert_true(i < t_nzones());
	return &t_zones[i];
}

/* Find the zone (node, type), or NULL. */
static const struct page_zone_desc *t_zone(int node, enum page_zone_type t)
{
	int n = t_nzones();

	for (int i = 0; i < n; i++)
		if (t_zones[i].pzd_node == node && t_zones[i].pzd_type == t)
			return &t_zones[i];
	return NULL;
}

/* ---------------------------------------------------------------- memory, cells */

/* reg is read with the root's cells: 1/1 and 2/2 give the same ranges. */
static void test_memory_uses_parent_cells(void **state)
{
	(void)state;
	t_load("/ { #address-cells = <1>; #size-cells = <1>;"
	       " memory@80000000 { device_type = \"memory\"; reg = <0x80000000 0x1000000>; }; };");
	assert_int_equal(t_map.pm_nmem, 1);
	assert_int_equal(t_map.pm_mem[0].pmr_base, 0x80000000);
	assert_int_equal(t_map.pm_mem[0].pmr_size, 0x1000000);
	assert_int_equal(t_map.pm_mem[0].pmr_node, PLAT_NO_NODE);
	t_load("/ {" ROOT22 " memory@100000000 { device_type = \"memory\";"
	       " reg = <1 0 0 0x1000000 0 0x80000000 0 0x1000>; }; };");
	assert_int_equal(t_map.pm_nmem, 2);
	assert_int_equal(t_map.pm_mem[0].pmr_base, 0x80000000);	/* sorted by base */
	assert_int_equal(t_map.pm_mem[1].pmr_base, 0x100000000ull);
}

/* Absent #address-cells/#size-cells mean 2 and 1 (devicetree spec). */
static void test_cells_default_to_2_and_1(void **state)
{
	(void)state;
	t_load("/ { memory@80000000 { device_type = \"memory\";"
	       " reg = <0x0 0x80000000 0x2000000>; }; };");
	assert_int_equal(t_map.pm_nmem, 1);
	assert_int_equal(t_map.pm_mem[0].pmr_base, 0x80000000);
	assert_int_equal(t_map.pm_mem[0].pmr_size, 0x2000000);
}

/* Disabled memory nodes, non-memory nodes and size-0 entries contribute nothing. */
static void test_disabled_and_zero_size_memory_skipped(void **state)
{
	(void)state;
	t_load("/ {" ROOT22
	       " memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0>,"
	       " <0 0x90000000 0 0x1000>; numa-node-id = <1>; };"
	       " memory@a0000000 { device_type = \"memory\"; status = \"disabled\";"
	       " reg = <0 0xa0000000 0 0x1000>; };"
	       " memory@b0000000 { device_type = \"memory\"; status = \"ok\";"
	       " reg = <0 0xb0000000 0 0x1000>; };"
	       " sram@c0000000 { reg = <0 0xc0000000 0 0x1000>; }; };");
	assert_int_equal(t_map.pm_nmem, 2);
	assert_int_equal(t_map.pm_mem[0].pmr_base, 0x90000000);
	assert_int_equal(t_map.pm_mem[0].pmr_node, 1);
	assert_int_equal(t_map.pm_mem[1].pmr_base, 0xb0000000);
	assert_int_equal(t_map.pm_nnodes, 2);
}

/* ---------------------------------------------------------------- harts */

/* Harts: cpu children of /cpus, sorted by hartid, with node and status. */
static void test_harts_sorted_with_node_and_status(void **state)
{
	(void)state;
	t_load("/ { cpus { #address-cells = <1>; #size-cells = <0>;"
	       " cpu@7 { device_type = \"cpu\"; reg = <7>; numa-node-id = <1>;"
	       "   mmu-type = \"riscv,sv48\"; };"
	       " cpu@2 { device_type = \"cpu\"; reg = <2>; status = \"disabled\"; };"
	       " cpu-map { cluster0 { core0 { cpu = <1>; }; }; };"
	       " cpu@0 { device_type = \"cpu\"; reg = <0>; status = \"okay\";"
	       "   mmu-type = \"riscv,sv39\"; }; }; };");
	assert_int_equal(t_map.pm_nharts, 3);
	assert_int_equal(t_map.pm_harts[0].ph_hartid, 0);
	assert_true(t_map.pm_harts[0].ph_enabled);
	assert_int_equal(t_map.pm_harts[0].ph_mmu_levels, 3);
	assert_int_equal(t_map.pm_harts[1].ph_hartid, 2);
	assert_false(t_map.pm_harts[1].ph_enabled);
	assert_int_equal(t_map.pm_harts[2].ph_hartid, 7);
	assert_int_equal(t_map.pm_harts[2].ph_node, 1);
	assert_int_equal(t_map.pm_harts[2].ph_mmu_levels, 4);
}

/* ---------------------------------------------------------------- reserved, pools */

/* /memreserve/ rows: null name, no_map false. */
static void test_memreserve_rows_have_no_name(void **state)
{
	(void)state;
	t_dtc("/memreserve/ 0x80000000 0x200000;\n/memreserve/ 0x10000 0x1000;\n/ { };");
	t_parse_ok();
	assert_int_equal(t_map.pm_nresv, 2);
	assert_int_equal(t_map.pm_resv[0].pr_base, 0x10000);
	assert_false(t_map.pm_resv[0].pr_has_name);
	assert_false(t_map.pm_resv[0].pr_no_map);
	assert_int_equal(t_map.pm_resv[1].pr_size, 0x200000);
}

/* /reserved-memory children: one row per reg entry, name as written, no-map. */
static void test_reserved_memory_children(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " reserved-memory { #address-cells = <1>; #size-cells = <1>; ranges;"
	       " mmode_resv0@80000000 { reg = <0x80000000 0x40000>, <0x80100000 0x1000>; no-map; };"
	       " off@90000000 { reg = <0x90000000 0x1000>; status = \"disabled\"; };"
	       " dyn { size = <0x1000>; };"
	       " empty@a0000000 { reg = <0xa0000000 0>; }; }; };");
	assert_int_equal(t_map.pm_nresv, 2);
	assert_string_equal(t_map.pm_resv[0].pr_name, "mmode_resv0@80000000");
	assert_true(t_map.pm_resv[0].pr_has_name);
	assert_true(t_map.pm_resv[0].pr_no_map);
	assert_int_equal(t_map.pm_resv[0].pr_size, 0x40000);
	assert_int_equal(t_map.pm_resv[1].pr_base, 0x80100000);
	assert_int_equal(t_map.pm_npools, 0);
}

/* shared-dma-pool anywhere in compatible makes a pool; reusable is reported. */
static void test_shared_dma_pool_found_in_compatible_list(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " reserved-memory { " ROOT22 " ranges;"
	       " linux,cma { compatible = \"vendor,thing\", \"shared-dma-pool\"; reusable;"
	       "   reg = <0 0xb0000000 0 0x400000>; };"
	       " pool@a0000000 { compatible = \"shared-dma-pool\"; no-map;"
	       "   reg = <0 0xa0000000 0 0x100000>; };"
	       " nopool@c0000000 { compatible = \"shared-dma-poolx\"; reg = <0 0xc0000000 0 0x1000>; };"
	       " }; };");
	assert_int_equal(t_map.pm_npools, 2);
	assert_string_equal(t_map.pm_pools[0].pp_name, "pool@a0000000");
	assert_false(t_map.pm_pools[0].pp_reusable);
	assert_string_equal(t_map.pm_pools[1].pp_name, "linux,cma");
	assert_true(t_map.pm_pools[1].pp_reusable);
	assert_int_equal(t_map.pm_pools[1].pp_size, 0x400000);
	assert_int_equal(t_map.pm_nresv, 3);	/* pools are reserved too */
}

/* ---------------------------------------------------------------- DMA limit */

/* A node's window end is its highest entry end; dma_limit the lowest window end. */
static void test_dma_limit_is_lowest_window_end(void **state)
{
	(void)state;
	t_load("/ {" ROOT22
	       " bus@1 { " ROOT22 " ranges; dma-ranges = <0 0 0 0 0 0x10000000>,"
	       "   <0 0x20000000 0 0x20000000 0 0x20000000>; };"
	       " bus@2 { " ROOT22 " ranges; dma-ranges = <0 0 0 0 1 0>; }; };");
	assert_true(t_map.pm_has_dma_limit);
	assert_int_equal(t_map.pm_dma_limit, 0x40000000);
}

/* Without dma-ranges (or with an empty one) there is no limit. */
static void test_no_dma_ranges_means_no_limit(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " bus { " ROOT22 " ranges; dma-ranges; }; };");
	assert_false(t_map.pm_has_dma_limit);
}

/* The parent-bus side is translated through the ancestors' ranges to the CPU. */
static void test_dma_ranges_translated_through_ranges(void **state)
{
	(void)state;
	/* soc maps its bus 0x0.. to CPU 0x100000000..; the device's window ends
	 * at soc-bus 0x40000000, i.e. CPU 0x140000000. */
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>;"
	       "   ranges = <0 1 0 0x80000000>;"
	       "   dev { #address-cells = <1>; #size-cells = <1>;"
	       "     dma-ranges = <0xc0000000 0x0 0x40000000>; }; }; };");
	assert_true(t_map.pm_has_dma_limit);
	assert_int_equal(t_map.pm_dma_limit, 0x140000000ull);
	/* Empty ranges on the way is the identity. */
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>; ranges;"
	       "   dev { #address-cells = <1>; #size-cells = <1>;"
	       "     dma-ranges = <0xc0000000 0x0 0x40000000>; }; }; };");
	assert_int_equal(t_map.pm_dma_limit, 0x40000000);
}

/* Entries that cannot be translated (no ranges, no matching range) are ignored. */
static void test_untranslatable_dma_entries_ignored(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>;"
	       "   dev { #address-cells = <1>; #size-cells = <1>;"
	       "     dma-ranges = <0 0 0x1000>; }; }; };");
	assert_false(t_map.pm_has_dma_limit);
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>;"
	       "   ranges = <0 0 0 0x10000000>;"
	       "   dev { #address-cells = <1>; #size-cells = <1>;"
	       "     dma-ranges = <0 0x20000000 0x1000>, <0 0x0 0x2000>; }; }; };");
	assert_true(t_map.pm_has_dma_limit);
	assert_int_equal(t_map.pm_dma_limit, 0x2000);
}

/* dma-ranges in a disabled subtree does not count. */
static void test_dma_ranges_in_disabled_subtree_ignored(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " soc { " ROOT22 " ranges; status = \"disabled\";"
	       "   dev { " ROOT22 " dma-ranges = <0 0 0 0 0 0x1000>; }; };"
	       " soc2 { " ROOT22 " ranges; dev { " ROOT22 " status = \"fail\";"
	       "   dma-ranges = <0 0 0 0 0 0x1000>; }; }; };");
	assert_false(t_map.pm_has_dma_limit);
}

/* ---------------------------------------------------------------- NUMA */

/* Missing matrix entries mirror their transpose, else 10 / 20. */
static void test_distance_matrix_mirror_and_defaults(void **state)
{
	(void)state;
	t_load("/ { distance-map { compatible = \"numa-distance-map-v1\";"
	       " distance-matrix = <0 1 30>, <2 0 40>, <1 1 11>; }; };");
	assert_int_equal(t_map.pm_nnodes, 3);
	assert_int_equal(t_map.pm_ndist, 3);
	assert_int_equal(t_map.pm_dist[0][1], 30);
	assert_int_equal(t_map.pm_dist[1][0], 30);
	assert_int_equal(t_map.pm_dist[0][2], 40);
	assert_int_equal(t_map.pm_dist[1][1], 11);
	assert_int_equal(t_map.pm_dist[2][2], 10);
	assert_int_equal(t_map.pm_dist[1][2], 20);
	assert_int_equal(plat_distance(&t_map, 2, 0), 40);
}

/* Without a distance map: pm_ndist 0, plat_distance gives 10 / 20. */
static void test_no_distance_map(void **state)
{
	(void)state;
	t_load("/ { cpus { #address-cells = <1>; #size-cells = <0>;"
	       " cpu@0 { device_type = \"cpu\"; reg = <0>; numa-node-id = <3>; }; }; };");
	assert_int_equal(t_map.pm_ndist, 0);
	assert_int_equal(t_map.pm_nnodes, 4);
	assert_int_equal(plat_distance(&t_map, 1, 1), 10);
	assert_int_equal(plat_distance(&t_map, 0, 3), 20);
}

/* ---------------------------------------------------------------- zones */

/* DMA below dma_limit (< 4 GiB), DMA32 to 4 GiB, NORMAL above, per node. */
static void test_zones_split_per_node(void **state)
{
	const struct page_zone_desc *z;

	(void)state;
	t_load("/ {" ROOT22
	       " memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x80000000>;"
	       "   numa-node-id = <0>; };"
	       " memory@100000000 { device_type = \"memory\"; reg = <1 0 1 0>; numa-node-id = <1>; };"
	       " soc { " ROOT22 " ranges; dma-ranges = <0 0 0 0 0 0xc0000000>; }; };");
	assert_int_equal(t_nzones(), 3);
	z = t_zone(0, PAGE_ZONE_DMA);
	assert_non_null(z);
	assert_int_equal(z->pzd_base, 0x80000000);
	assert_int_equal(z->pzd_end, 0xc0000000);
	assert_int_equal(z->pzd_pages, 0x40000);
	z = t_zone(0, PAGE_ZONE_DMA32);
	assert_non_null(z);
	assert_int_equal(z->pzd_base, 0xc0000000);
	assert_int_equal(z->pzd_end, 0x100000000ull);
	z = t_zone(1, PAGE_ZONE_NORMAL);
	assert_non_null(z);
	assert_int_equal(z->pzd_pages, 0x100000);
	assert_null(t_zone(1, PAGE_ZONE_DMA32));
}

/* No DMA zone when the limit is at or above 4 GiB; null node counts as 0. */
static void test_no_dma_zone_when_limit_above_4g(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 MEM(0x80000000, 0x80000000)
	       " soc { " ROOT22 " ranges; dma-ranges = <0 0 0 0 1 0>; }; };");
	assert_int_equal(t_map.pm_dma_limit, 0x100000000ull);
	assert_int_equal(t_nzones(), 1);
	assert_int_equal(t_zone_at(0)->pzd_type, PAGE_ZONE_DMA32);
	assert_int_equal(t_zone_at(0)->pzd_node, 0);
}

/* Usable = memory minus reserved, rounded inward to pages; base/end/pages. */
static void test_zones_exclude_reserved_page_rounded(void **state)
{
	const struct page_zone_desc *z;

	(void)state;
	t_dtc("/memreserve/ 0x80000800 0x1000;\n"
	      "/ {" ROOT22 " memory@80000000 { device_type = \"memory\";"
	      " reg = <0 0x80000000 0 0x10000>; };"
	      " reserved-memory { " ROOT22 " ranges;"
	      "   tail@8000f000 { reg = <0 0x8000f000 0 0x2000>; no-map; }; }; };");
	t_parse_ok();
	z = t_zone(0, PAGE_ZONE_DMA32);
	assert_non_null(z);
	/* [0x80000000,0x80000800) and [0x80001800,0x8000f000): 0 + 13 whole pages. */
	assert_int_equal(z->pzd_base, 0x80002000);
	assert_int_equal(z->pzd_end, 0x8000f000);
	assert_int_equal(z->pzd_pages, 13);
}

/* plat_add_reserved adds a kernel row, kept in order; the zones lose it. */
static void test_add_reserved_recomputes_zones(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 MEM(0x80000000, 0x100000) " };");
	assert_int_equal(t_zone_at(0)->pzd_pages, 256);
	assert_int_equal(plat_add_reserved(&t_map, 0x80000000, 0x20000, "kernel"), 0);
	assert_int_equal(plat_add_reserved(&t_map, 0x800ff800, 0x10, "fdt"), 0);
	assert_int_equal(t_map.pm_nresv, 2);
	assert_true(t_map.pm_resv[0].pr_kernel);
	assert_string_equal(t_map.pm_resv[1].pr_name, "fdt");
	assert_int_equal(t_zone_at(0)->pzd_base, 0x80020000);
	assert_int_equal(t_zone_at(0)->pzd_end, 0x800ff000);
	assert_int_equal(t_zone_at(0)->pzd_pages, 256 - 32 - 1);
	assert_int_equal(plat_add_reserved(&t_map, ~0ull - 10, 100, "wrap"), -1);
}

/* A buffer longer than totalsize (QEMU pads dumps) parses the same. */
static void test_buffer_longer_than_totalsize(void **state)
{
	(void)state;
	t_dtc("/ {" ROOT22 MEM(0x80000000, 0x100000) " };");
	memset(t_blob + t_size, 0xa5, 4096);
	t_size += 4096;
	t_parse_ok();
	assert_int_equal(t_map.pm_nmem, 1);
}

/* plat_print shows model, harts, memory, reserved, dma, numa and zones. */
static void test_print_shows_every_section(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 " model = \"test board\";" MEM(0x80000000, 0x100000)
	       " cpus { #address-cells = <1>; #size-cells = <0>;"
	       "   cpu@0 { device_type = \"cpu\"; reg = <0>; }; }; };");
	host_capture_reset();
	plat_print(&t_map, host_capture);
	assert_non_null(strstr(host_captured(), "test board"));
	assert_non_null(strstr(host_captured(), "harts: 1 listed, 1 enabled"));
	assert_non_null(strstr(host_captured(), "0x0000000080000000"));
	assert_non_null(strstr(host_captured(), "dma limit: none"));
	assert_non_null(strstr(host_captured(), "DMA32"));
}

/* ---------------------------------------------------------------- impossible trees */

static int t_warnings;		/* lines plat_merge_memory reported */

/* plat_merge_memory's sink: count the warnings. */
static int t_count(const char *fmt, ...)
{
	(void)fmt;
	t_warnings++;
	return 0;
}

/* Overlapping memory: each range keeps only its part beyond the earlier ones
 * (node included); each overlap is reported, and the zones stay what mm
 * counted, even at an unaligned overlap (found by the fuzzer). */
static void test_overlapping_memory_merged_with_warning(void **state)
{
	static struct page_zone_desc before[PLAT_MAX_ZONES];
	int n;

	(void)state;
	t_load("/ {" ROOT22
	       " memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x20000000>; };"
	       " memory@90000000 { device_type = \"memory\"; reg = <0 0x90000000 0 0x20000000>; };"
	       " memory@a0000000 { device_type = \"memory\"; reg = <0 0xa0000000 0 0x20000000>;"
	       "   numa-node-id = <1>; };"
	       " memory@88000000 { device_type = \"memory\"; reg = <0 0x88000000 0 0x1000>; }; };");
	n = t_nzones();
	memcpy(before, t_zones, sizeof(before));
	t_warnings = 0;
	assert_int_equal(plat_merge_memory(&t_map, t_count), 3);
	assert_int_equal(t_warnings, 3);
	assert_int_equal(t_map.pm_nmem, 3);
	assert_int_equal(t_map.pm_mem[0].pmr_base, 0x80000000);
	assert_int_equal(t_map.pm_mem[0].pmr_size, 0x20000000);
	assert_int_equal(t_map.pm_mem[1].pmr_base, 0xa0000000);	/* node 0's part beyond */
	assert_int_equal(t_map.pm_mem[1].pmr_size, 0x10000000);
	assert_int_equal(t_map.pm_mem[1].pmr_node, PLAT_NO_NODE);
	assert_int_equal(t_map.pm_mem[2].pmr_base, 0xb0000000);	/* node 1's part beyond */
	assert_int_equal(t_map.pm_mem[2].pmr_size, 0x10000000);
	assert_int_equal(t_map.pm_mem[2].pmr_node, 1);
	assert_int_equal(t_nzones(), n);
	assert_memory_equal(t_zones, before, sizeof(t_zones[0]) * (size_t)n);
	/* 768 MiB of ranges over 512 MiB + 256 MiB: the zones count 1 GiB once */
	assert_int_equal(t_zone(0, PAGE_ZONE_DMA32)->pzd_pages + t_zone(1, PAGE_ZONE_DMA32)->pzd_pages,
			 0x40000000 >> 12);
	assert_int_equal(plat_merge_memory(&t_map, t_count), 0);	/* disjoint now */
	/* overlap by one byte at an unaligned end: still the same zones */
	t_load("/ {" ROOT22
	       " memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x400001>; };"
	       " memory@80400000 { device_type = \"memory\"; reg = <0 0x80400000 0 0x200000>; }; };");
	n = t_nzones();
	memcpy(before, t_zones, sizeof(before));
	assert_int_equal(plat_merge_memory(&t_map, t_count), 1);
	assert_int_equal(t_nzones(), n);
	assert_memory_equal(t_zones, before, sizeof(t_zones[0]) * (size_t)n);
}

/* dma-ranges that end below all memory: a limit below RAM, and no DMA zone. */
static void test_dma_window_below_all_memory(void **state)
{
	(void)state;
	t_load("/ {" ROOT22 MEM(0x80000000, 0x10000000)
	       " soc { " ROOT22 " ranges; dma-ranges = <0 0 0 0 0 0x10000000>; }; };");
	assert_int_equal(t_map.pm_dma_limit, 0x10000000);
	assert_int_equal(t_nzones(), 1);
	assert_int_equal(t_zone_at(0)->pzd_type, PAGE_ZONE_DMA32);
	assert_null(t_zone(0, PAGE_ZONE_DMA));
}

/* ---------------------------------------------------------------- shared readers, mm */

/* The drivers' path (devtree.c dt_reg): levels, reg and ranges translation. */
static void test_reg_translated_for_drivers(void **state)
{
	struct plat_level st[PLAT_MAX_DEPTH];
	const uint8_t *reg;
	long long ac, sc;
	uint64_t base, size;
	int depth, n, node;

	(void)state;
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>;"
	       "   ranges = <0x0 0x0 0x10000000 0x1000>;"
	       "   uart@100 { reg = <0x100 0x10>; }; bad@0 { reg = <0x2000 0x10>; }; }; };");
	node = fdt_path_offset(t_blob, "/soc/uart@100");
	assert_int_equal(plat_levels(t_blob, node, st, &depth), 0);
	assert_int_equal(depth, 2);
	assert_int_equal(plat_reg(t_blob, st, depth, &reg, &n, &ac, &sc, t_err, sizeof(t_err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(plat_reg_entry(t_blob, node, reg, 0, ac, sc, &base, &size, NULL, 0), 0);
	assert_int_equal(plat_translate(t_blob, st, depth - 1, &base, NULL, 0), 0);
	assert_int_equal(base, 0x10000100);
	assert_int_equal(size, 0x10);
	/* outside every ranges entry: untranslatable, not a made-up address */
	node = fdt_path_offset(t_blob, "/soc/bad@0");
	assert_int_equal(plat_levels(t_blob, node, st, &depth), 0);
	assert_int_equal(plat_reg(t_blob, st, depth, &reg, &n, &ac, &sc, NULL, 0), 0);
	assert_int_equal(plat_reg_entry(t_blob, node, reg, 0, ac, sc, &base, &size, NULL, 0), 0);
	assert_int_equal(plat_translate(t_blob, st, depth - 1, &base, NULL, 0), 1);
	/* a malformed ranges (not whole entries) is refused with a reason */
	t_load("/ {" ROOT22 " soc { #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0>;"
	       "   uart@100 { reg = <0x100 0x10>; }; }; };");
	node = fdt_path_offset(t_blob, "/soc/uart@100");
	assert_int_equal(plat_levels(t_blob, node, st, &depth), 0);
	base = 0x100;
	assert_int_equal(plat_translate(t_blob, st, depth - 1, &base, t_err, sizeof(t_err)), -1);
	assert_non_null(strstr(t_err, "/soc: ranges length 12"));
}

/* page_zones_derive refuses unsorted input and rows that do not fit. */
static void test_zone_derive_refuses_bad_input(void **state)
{
	struct page_range mem[2] = { { 0x200000, 0x100000, 0 }, { 0x100000, 0x100000, 1 } };
	struct page_memmap mm = { .pmm_mem = mem, .pmm_nmem = 2 };
	struct page_zone_desc zd[2];

	(void)state;
	assert_int_equal(page_zones_derive(&mm, zd, 2), -1);	/* unsorted */
	mem[0].prg_base = 0, mem[1].prg_base = 0x100000000ull;
	assert_int_equal(page_zones_derive(&mm, zd, 2), 2);	/* DMA32 node 0, NORMAL node 1 */
	assert_int_equal(zd[0].pzd_type, PAGE_ZONE_DMA32);
	assert_int_equal(zd[1].pzd_type, PAGE_ZONE_NORMAL);
	assert_int_equal(page_zones_derive(&mm, zd, 1), -1);	/* two rows, room for one */
	mm.pmm_dma_limit = 0x80000;				/* half the first range */
	assert_int_equal(page_zones_derive(&mm, zd, 2), -1);	/* now DMA + DMA32 + NORMAL */
}

/* ---------------------------------------------------------------- fdtinfo */

#define T_FDTINFO	"build/host/fdtinfo"

/* Run a shell command; its exit status, its stdout in out. */
static int t_sh(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fdtinfo --help prints a usage line and exits 0; "-" reads standard input
 * and prints exactly what the file name gives; an unknown option exits 2. */
static void test_fdtinfo_help_and_stdin(void **state)
{
	static char a[65536], b[65536];
	char path[] = "/tmp/test_platform_fdtinfo_XXXXXX", cmd[256];
	int fd;

	(void)state;
	if (access(T_FDTINFO, X_OK) != 0)
		fail_msg("%s not built (run from the top directory after make)", T_FDTINFO);
	assert_int_equal(t_sh(T_FDTINFO " --help", a, sizeof(a)), 0);
	assert_non_null(strstr(a, "usage: fdtinfo FILE.dtb"));
	assert_int_equal(t_sh(T_FDTINFO " --bogus 2>/dev/null", a, sizeof(a)), 2);
	t_dtc(OK_DTS_FOR_STDIN);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t_blob, t_size), (ssize_t)t_size);
	close(fd);
	snprintf(cmd, sizeof(cmd), T_FDTINFO " %s", path);
	assert_int_equal(t_sh(cmd, a, sizeof(a)), 0);
	snprintf(cmd, sizeof(cmd), T_FDTINFO " - < %s", path);
	assert_int_equal(t_sh(cmd, b, sizeof(b)), 0);
	assert_non_null(strstr(a, "\"zones\""));
	assert_string_equal(a, b);
	snprintf(cmd, sizeof(cmd), "head -c 20 %s | " T_FDTINFO " - 2>&1", path);
	assert_int_equal(t_sh(cmd, a, sizeof(a)), 1);
	assert_non_null(strstr(a, "fdtinfo: -: truncated"));
	unlink(path);
}

/* ---------------------------------------------------------------- bad input */

#define OK_DTS	"/ {" ROOT22 " model = \"m\";" MEM(0x80000000, 0x100000) " };"

/* Store a big-endian word. */
static void t_put32(size_t off, uint32_t v)
{
	t_blob[off] = (uint8_t)(v >> 24);
	t_blob[off + 1] = (uint8_t)(v >> 16);
	t_blob[off + 2] = (uint8_t)(v >> 8);
	t_blob[off + 3] = (uint8_t)v;
}

/* Bad magic, version and header offsets each give a clear reason. */
static void test_bad_header_rejected(void **state)
{
	(void)state;
	t_dtc(OK_DTS);
	t_put32(0, 0xdeadbeef);
	t_parse_bad(t_size, "bad magic 0xdeadbeef");
	t_dtc(OK_DTS);
	t_put32(20, 16);
	t_parse_bad(t_size, "unsupported version");
	t_dtc(OK_DTS);
	t_put32(8, 0x10000);
	t_parse_bad(t_size, "structure block");
	t_dtc(OK_DTS);
	t_put32(36, 0x10000);
	t_parse_bad(t_size, "structure block");
	t_dtc(OK_DTS);
	t_put32(32, 0x10000);
	t_parse_bad(t_size, "strings block");
	t_dtc(OK_DTS);
	t_put32(16, 0x7);
	t_parse_bad(t_size, "memory reservation map");
	t_parse_bad(10, "truncated");
	t_parse_bad(0, "truncated");
}

/* Every proper prefix of a blob is rejected with a reason, never read past. */
static void test_every_truncation_rejected(void **state)
{
	size_t total;

	(void)state;
	t_dtc(OK_DTS);
	total = t_size;
	for (size_t n = 0; n < total; n++) {
		uint8_t *copy = malloc(n ? n : 1);	/* exact size: ASan catches overreads */

		memcpy(copy, t_blob, n);
		t_err[0] = 0;
		assert_int_equal(plat_parse(copy, n, &t_map, t_err, sizeof(t_err)), -1);
		assert_true(strlen(t_err) > 0);
		free(copy);
	}
}

/* Offset of the first occurrence of a 4-byte big-endian word in the struct block. */
static size_t t_find_tag(uint32_t tag, size_t from)
{
	size_t st = ((size_t)t_blob[8] << 24 | t_blob[9] << 16 | t_blob[10] << 8 | t_blob[11]);

	for (size_t o = st + from; o + 4 <= t_size; o += 4)
		if (t_blob[o] == (uint8_t)(tag >> 24) && t_blob[o + 1] == (uint8_t)(tag >> 16) &&
		    t_blob[o + 2] == (uint8_t)(tag >> 8) && t_blob[o + 3] == (uint8_t)tag)
			return o;
	fail_msg("tag 0x%x not found", tag);
	return 0;
}

/* Property length past the block, name offset past the strings, bad tags. */
static void test_bad_structure_rejected(void **state)
{
	size_t p;

	(void)state;
	t_dtc(OK_DTS);
	p = t_find_tag(FDT_PROP, 0);
	t_put32(p + 4, 0x100000);
	t_parse_bad(t_size, "runs past the structure block");
	t_dtc(OK_DTS);
	p = t_find_tag(FDT_PROP, 0);
	t_put32(p + 8, 0x100000);
	t_parse_bad(t_size, "outside the strings block");
	t_dtc(OK_DTS);
	p = t_find_tag(FDT_PROP, 0);
	t_put32(p, 0x77);
	t_parse_bad(t_size, "bad tag 0x00000077");
	/* The structure block ends with the root's FDT_END_NODE and FDT_END. */
	t_dtc(OK_DTS);
	p = fdt_off_dt_struct(t_blob) + fdt_size_dt_struct(t_blob);
	t_put32(p - 8, FDT_NOP);
	t_parse_bad(t_size, "FDT_END at structure offset");
	t_dtc(OK_DTS);
	t_put32(p - 4, FDT_END_NODE);
	t_parse_bad(t_size, "unbalanced FDT_END_NODE");
}

/* A property after a subnode, which libfdt would silently not see. */
static void test_property_after_subnode_rejected(void **state)
{
	void *fdt = t_blob;

	(void)state;
	assert_int_equal(fdt_create(fdt, sizeof(t_blob)), 0);
	assert_int_equal(fdt_finish_reservemap(fdt), 0);
	assert_int_equal(fdt_begin_node(fdt, ""), 0);
	assert_int_equal(fdt_begin_node(fdt, "child"), 0);
	assert_int_equal(fdt_end_node(fdt), 0);
	assert_int_equal(fdt_property_string(fdt, "model", "late"), 0);
	assert_int_equal(fdt_end_node(fdt), 0);
	assert_int_equal(fdt_finish(fdt), 0);
	t_size = fdt_totalsize(fdt);
	t_parse_bad(t_size, "after a subnode");
}

/* reg with a wrong cell count, bad numa-node-id, bad cells, wrap-around. */
static void test_bad_properties_rejected(void **state)
{
	(void)state;
	t_dtc("/ {" ROOT22 " memory@0 { device_type = \"memory\"; reg = <0 0 0>; }; };");
	t_parse_bad(t_size, "/memory@0: reg length 12 is not a multiple of 16");
	t_dtc("/ {" ROOT22 MEM(0, 0x1000) " memory@1 { device_type = \"memory\";"
	      " reg = <0 1 0 1>; numa-node-id = /bits/ 16 <1>; }; };");
	t_parse_bad(t_size, "numa-node-id has length 2");
	t_dtc("/ {" ROOT22 " cpus { #address-cells = <1>; #size-cells = <0>;"
	      " cpu@0 { device_type = \"cpu\"; reg = <0>; numa-node-id = <99>; }; }; };");
	t_parse_bad(t_size, "numa-node-id 99 exceeds");
	t_dtc("/ { #address-cells = <3>; #size-cells = <1>;"
	      " memory@0 { device_type = \"memory\"; reg = <0 0 0 1>; }; };");
	t_parse_bad(t_size, "cannot describe reg");
	t_dtc("/ { #address-cells = /bits/ 8 <2>;"
	      " memory@0 { device_type = \"memory\"; reg = <0 0 1>; }; };");
	t_parse_bad(t_size, "-1 = malformed");
	t_dtc("/ {" ROOT22 " memory@0 { device_type = \"memory\";"
	      " reg = <0xffffffff 0xfffff000 0 0x2000>; }; };");
	t_parse_bad(t_size, "wraps past 2^64");
	t_dtc("/ { model = [41 42]; };");
	t_parse_bad(t_size, "model is not a NUL-terminated string");
	t_dtc("/ { distance-map { compatible = \"numa-distance-map-v1\";"
	      " distance-matrix = <0 1 300>; }; };");
	t_parse_bad(t_size, "distance 300 exceeds 255");
	t_dtc("/ {" ROOT22 " soc { " ROOT22 " ranges; dma-ranges = <0 0 0 0 0>; }; };");
	t_parse_bad(t_size, "/soc: dma-ranges length 20 is not a multiple of 24");
}

/* More entries than a PLAT_MAX_* array holds: rejected, not truncated. */
static void test_limits_rejected_not_truncated(void **state)
{
	char *dts = malloc(64 * 1024);
	size_t n;

	(void)state;
	n = (size_t)sprintf(dts, "/ { #address-cells = <1>; #size-cells = <1>;"
			    " memory@0 { device_type = \"memory\"; reg = ");
	for (int i = 0; i <= PLAT_MAX_MEM; i++)
		n += (size_t)sprintf(dts + n, "%s<0x%x 0x1000>", i ? ", " : "", i * 0x2000);
	strcpy(dts + n, "; }; };");
	t_dtc(dts);
	t_parse_bad(t_size, "more than 128 memory ranges");
	n = (size_t)sprintf(dts, "/ { reserved-memory { #address-cells = <1>; #size-cells = <1>;"
			    " toolongname_0123456789012345678901234567890123456789012345678901234@0"
			    " { reg = <0 1>; }; }; };");
	t_dtc(dts);
	t_parse_bad(t_size, "node name longer than 63");
	free(dts);
}

/* The structure check alone: NULL and a good blob. */
static void test_fdt_check_accepts_good_rejects_null(void **state)
{
	(void)state;
	t_dtc(OK_DTS);
	assert_int_equal(plat_fdt_check(t_blob, t_size, t_err, sizeof(t_err)), 0);
	assert_int_equal(plat_fdt_check(NULL, 100, t_err, sizeof(t_err)), -1);
	assert_int_equal(plat_fdt_check(t_blob + 4, t_size - 4, t_err, sizeof(t_err)), -1);
	assert_non_null(strstr(t_err, "aligned"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_uses_parent_cells),
		cmocka_unit_test(test_cells_default_to_2_and_1),
		cmocka_unit_test(test_disabled_and_zero_size_memory_skipped),
		cmocka_unit_test(test_harts_sorted_with_node_and_status),
		cmocka_unit_test(test_memreserve_rows_have_no_name),
		cmocka_unit_test(test_reserved_memory_children),
		cmocka_unit_test(test_shared_dma_pool_found_in_compatible_list),
		cmocka_unit_test(test_dma_limit_is_lowest_window_end),
		cmocka_unit_test(test_no_dma_ranges_means_no_limit),
		cmocka_unit_test(test_dma_ranges_translated_through_ranges),
		cmocka_unit_test(test_untranslatable_dma_entries_ignored),
		cmocka_unit_test(test_dma_ranges_in_disabled_subtree_ignored),
		cmocka_unit_test(test_distance_matrix_mirror_and_defaults),
		cmocka_unit_test(test_no_distance_map),
		cmocka_unit_test(test_zones_split_per_node),
		cmocka_unit_test(test_no_dma_zone_when_limit_above_4g),
		cmocka_unit_test(test_zones_exclude_reserved_page_rounded),
		cmocka_unit_test(test_add_reserved_recomputes_zones),
		cmocka_unit_test(test_buffer_longer_than_totalsize),
		cmocka_unit_test(test_print_shows_every_section),
		cmocka_unit_test(test_overlapping_memory_merged_with_warning),
		cmocka_unit_test(test_dma_window_below_all_memory),
		cmocka_unit_test(test_reg_translated_for_drivers),
		cmocka_unit_test(test_zone_derive_refuses_bad_input),
		cmocka_unit_test(test_fdtinfo_help_and_stdin),
		cmocka_unit_test(test_bad_header_rejected),
		cmocka_unit_test(test_every_truncation_rejected),
		cmocka_unit_test(test_bad_structure_rejected),
		cmocka_unit_test(test_property_after_subnode_rejected),
		cmocka_unit_test(test_bad_properties_rejected),
		cmocka_unit_test(test_limits_rejected_not_truncated),
		cmocka_unit_test(test_fdt_check_accepts_good_rejects_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
