/*
 * mm_cmds.c - the allocators' console commands, all in one place.
 *
 * 1. Why here.  mm/ is portable and knows no console: each allocator
 *    exports a dump that writes through a printk-like sink (page_buddyinfo,
 *    page_zoneinfo, page_get_stats, vmem_dump_all, vmem_dump, kmem_kmastat,
 *    kmem_slabinfo, kmem_magstat).  This file is the only place that turns
 *    those dumps into commands (pagestat's own printer, mm_pagestat_print,
 *    is exported for its test: mm_cmds.h).
 * 2. Registration.  One mechanism for every command of the kernel:
 *    CONSOLE_CMD (kernel/console.h) puts a struct console_cmd in the
 *    console_cmds linker section; `help` lists them all.  An allocator
 *    command is a function of (argc, argv) returning 0 on success, plus one
 *    CONSOLE_CMD line; nothing else is edited to add one.
 * 3. Arguments.  A command refuses what it does not understand: an unknown
 *    option or an extra word prints its usage line and returns
 *    CONSOLE_USAGE, so a typo is never taken for a name (mm_cmd_usage).
 *
 *   buddyinfo       free blocks per zone and order (/proc/buddyinfo)
 *   zoneinfo        per-zone counters and per-hart caches (/proc/zoneinfo)
 *   pagestat        page allocator failures and misuse, boot timing, bootmem
 *   vmem [-s] [A]   every arena (illumos ::vmem), or arena A in full; with
 *                   the heap's arena, the heap's lazy-purge statistics
 *   kmastat         every object cache (illumos ::kmastat), then the arenas
 *   slabinfo        every slab cache (Linux /proc/slabinfo 2.1)
 *   magstat         per cache: magazine size, rounds per hart, depots per
 *                   node, contention, resizes, cross-node frees, reaps
 */
#include "kernel/console.h"
#include "kernel/lib.h"
#include "kernel/mm_cmds.h"
#include "kernel/mm_init.h"
#include "kernel/printk.h"
#include "kernel/segkmem.h"
#include "mm/bootmem.h"
#include "mm/kmem.h"
#include "mm/page.h"
#include "mm/vmem.h"

/* Print a command's usage line; the status for the command to return. */
static int mm_cmd_usage(const char *usage)
{
	printk("usage: %s\n", usage);
	return CONSOLE_USAGE;
}

#define BUDDYINFO_USAGE	"buddyinfo"
#define ZONEINFO_USAGE	"zoneinfo"
#define PAGESTAT_USAGE	"pagestat"
#define VMEM_USAGE	"vmem [-s] [ARENA]  (-s: every segment of ARENA)"
#define KMASTAT_USAGE	"kmastat"
#define SLABINFO_USAGE	"slabinfo"
#define MAGSTAT_USAGE	"magstat [CACHE]"

/* `buddyinfo`: free blocks per order, /proc/buddyinfo format. */
static int mm_cmd_buddyinfo(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return mm_cmd_usage(BUDDYINFO_USAGE);
	page_buddyinfo(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_buddyinfo_reg, "buddyinfo", "free page blocks per zone and order",
	    mm_cmd_buddyinfo);

/* `zoneinfo`: per-zone counters and per-hart caches, /proc/zoneinfo format. */
static int mm_cmd_zoneinfo(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return mm_cmd_usage(ZONEINFO_USAGE);
	page_zoneinfo(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_zoneinfo_reg, "zoneinfo", "zones: free, watermarks, sizes, per-hart caches",
	    mm_cmd_zoneinfo);

void mm_pagestat_print(int (*out)(const char *fmt, ...))
{
	struct bootmem_stats bs;
	struct page_stats st;

	page_get_stats(&st);
	out("free %llu cached %llu pages\n", (unsigned long long)page_free_count(),
	    (unsigned long long)page_cached_count());
	out("alloc_fail %llu bad_order %llu misaligned %llu not_alloc %llu "
	    "double_free %llu wrong_order %llu drain_all %llu reclaim %llu\n",
	    (unsigned long long)st.pst_alloc_fail, (unsigned long long)st.pst_bad_order,
	    (unsigned long long)st.pst_misaligned, (unsigned long long)st.pst_not_alloc,
	    (unsigned long long)st.pst_double_free, (unsigned long long)st.pst_wrong_order,
	    (unsigned long long)st.pst_drain_all, (unsigned long long)st.pst_reclaim);
	out("descriptor init: %llu pages, %u harts, %llu us\n",
	    (unsigned long long)mm_boot_info.mbi_pages, mm_boot_info.mbi_harts,
	    (unsigned long long)mm_boot_info.mbi_init_us);
	bootmem_get_stats(&bs);
	out("bootmem: added %llu reserved %llu allocated %llu bytes in %llu allocations\n",
	    (unsigned long long)bs.bs_added, (unsigned long long)bs.bs_reserved,
	    (unsigned long long)bs.bs_allocated, (unsigned long long)bs.bs_nallocs);
}

/* `pagestat`: allocator-wide failures and misuse counters, boot timing, bootmem. */
static int mm_cmd_pagestat(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return mm_cmd_usage(PAGESTAT_USAGE);
	mm_pagestat_print(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_pagestat_reg, "pagestat", "page allocator failures and misuse counters",
	    mm_cmd_pagestat);

/* `vmem [-s] [ARENA]`: every arena, or one in full; -s also lists its segments. */
static int mm_cmd_vmem(int argc, char **argv)
{
	bool segs = false;
	const char *name = NULL;
	vmem_t *vmp;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && !segs && name == NULL)
			segs = true;
		else if (argv[i][0] != '-' && name == NULL)
			name = argv[i];
		else
			return mm_cmd_usage(VMEM_USAGE);
	}
	segkmem_init();
	if (name == NULL) {
		vmem_dump_all(printk);
		segkmem_dump(printk);
		return 0;
	}
	vmp = vmem_find(name);
	if (vmp == NULL) {
		printk("vmem: no arena named %s\n", name);
		return 1;
	}
	vmem_dump(vmp, segs, printk);
	if (vmp == segkmem_arena())
		segkmem_dump(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_vmem_reg, "vmem", "vmem [-s] [ARENA]: resource arenas (-s: every segment)",
	    mm_cmd_vmem);

/* `kmastat`: every object cache (illumos ::kmastat columns), then the vmem arenas. */
static int mm_cmd_kmastat(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return mm_cmd_usage(KMASTAT_USAGE);
	kmem_kmastat(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_kmastat_reg, "kmastat", "object caches (illumos ::kmastat) and vmem arenas",
	    mm_cmd_kmastat);

/* `slabinfo`: every slab cache, Linux /proc/slabinfo 2.1 format. */
static int mm_cmd_slabinfo(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return mm_cmd_usage(SLABINFO_USAGE);
	kmem_slabinfo(printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_slabinfo_reg, "slabinfo", "slab caches, Linux /proc/slabinfo 2.1 format",
	    mm_cmd_slabinfo);

/*
 * `magstat [CACHE]`: per cache (or one), magazine size, rounds per hart,
 * depots per node, contention.
 */
static int mm_cmd_magstat(int argc, char **argv)
{
	kmem_cache_t *cp;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return mm_cmd_usage(MAGSTAT_USAGE);
	if (argc == 1) {
		kmem_magstat(printk);
		return 0;
	}
	cp = kmem_cache_find(argv[1]);
	if (cp == NULL) {
		printk("magstat: no cache named '%s'\n", argv[1]);
		return -1;
	}
	kmem_cache_magstat(cp, printk);
	return 0;
}
CONSOLE_CMD(mm_cmd_magstat_reg, "magstat", "per-cache magazines: size, rounds per hart, depots",
	    mm_cmd_magstat);
