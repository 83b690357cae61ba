/*
 * platform.h - the platform map: what the flattened device tree says about
 * memory, reservations, DMA, harts and NUMA, in plain arrays.
 *
 * The map holds facts only: node-tagged memory, reserved ranges, DMA pools,
 * the DMA limit and offset, harts and distances.  Zones are mm's policy:
 * plat_zones() (kernel/plat_zones.h) hands these facts to mm's
 * page_zones_derive().  plat_parse() is portable (libfdt and <plat_env.h>),
 * so the same code builds into the kernel and into the host tool
 * build/host/fdtinfo (whose JSON output is a contract, see docs/fdtinfo.md).
 * Every list is sorted by base (harts by hartid).  Nothing here allocates:
 * the caller owns the struct (the kernel keeps one in .bss).
 *
 * The code, by job: plat_check.c (structural check of the blob),
 * plat_fdt.c (cells, reg, ranges translation; shared with devtree.c),
 * platform.c (the walk into this map), plat_zones.c (the map's facts to mm),
 * plat_print.c (the boot log's dump), plat_boot.c (the kernel's own use).
 */
#ifndef KERNEL_PLATFORM_H
#define KERNEL_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLAT_MAX_HARTS	512	/* QEMU virt accepts up to 512 */
#define PLAT_MAX_MEM	128	/* reg entries of memory nodes */
#define PLAT_MAX_RESV	128	/* memreserve + reserved-memory reg entries + kernel's own */
#define PLAT_MAX_POOLS	16	/* shared-dma-pool regions */
#define PLAT_MAX_NODES	16	/* NUMA node ids 0..15 */
#define PLAT_MAX_ZONES	(PLAT_MAX_NODES * 3)	/* zone rows: one per node and type */
#define PLAT_NAME_MAX	64	/* node names and the model, NUL included */
#define PLAT_NO_NODE	(-1)	/* no numa-node-id property */

struct plat_hart {
	uint64_t ph_hartid;		/* reg of the cpu node */
	int ph_node;			/* numa-node-id or PLAT_NO_NODE */
	bool ph_enabled;		/* status absent, "okay" or "ok" */
	uint8_t ph_mmu_levels;		/* 3 sv39, 4 sv48, 5 sv57; 0 unknown/none */
};

struct plat_mem {
	uint64_t pmr_base;		/* CPU physical start */
	uint64_t pmr_size;		/* bytes (never 0) */
	int pmr_node;			/* numa-node-id or PLAT_NO_NODE */
};

struct plat_resv {
	uint64_t pr_base;		/* CPU physical start */
	uint64_t pr_size;		/* bytes (never 0) */
	char pr_name[PLAT_NAME_MAX];	/* "" for /memreserve/ entries */
	bool pr_has_name;		/* false for /memreserve/ (JSON null) */
	bool pr_no_map;			/* "no-map" property present */
	bool pr_kernel;			/* added by the kernel (image, blob), not in the DTB */
};

struct plat_pool {
	uint64_t pp_base;		/* CPU physical start of the pool */
	uint64_t pp_size;		/* bytes */
	char pp_name[PLAT_NAME_MAX];	/* node name with unit address */
	bool pp_reusable;		/* "reusable" property present */
};

struct plat_map {
	char pm_model[PLAT_NAME_MAX * 2];	/* root "model" */
	bool pm_has_model;			/* false: JSON null */

	/* each list sorted by base (harts by hart id); counts of used entries */
	unsigned pm_nharts;
	struct plat_hart pm_harts[PLAT_MAX_HARTS];	/* /cpus children, device_type cpu */
	unsigned pm_nmem;
	struct plat_mem pm_mem[PLAT_MAX_MEM];		/* memory reg entries */
	unsigned pm_nresv;
	struct plat_resv pm_resv[PLAT_MAX_RESV];	/* memreserve, reserved-memory, kernel */
	unsigned pm_npools;
	struct plat_pool pm_pools[PLAT_MAX_POOLS];	/* shared-dma-pool children */

	bool pm_has_dma_limit;			/* some enabled node has dma-ranges */
	uint64_t pm_dma_limit;		/* lowest dma-ranges window end, CPU physical */
	uint64_t pm_dma_offset;		/* CPU minus device address in that window
					   (mod 2^64); devices see pa - offset */

	unsigned pm_ndist;		/* 0 when the tree has no distance map */
	uint8_t pm_dist[PLAT_MAX_NODES][PLAT_MAX_NODES];	/* [from][to], valid below pm_ndist */

	unsigned pm_nnodes;		/* highest node id seen + 1 (at least 1) */
};

/*
 * Check that `fdt` (a buffer of `bufsize` bytes, which may be longer than the
 * blob) is a structurally valid FDT: header, block offsets and sizes inside
 * the blob, every tag, name and property inside the structure block, string
 * offsets inside the strings block.  Returns 0, or -1 with a one-line reason.
 */
int plat_fdt_check(const void *fdt, size_t bufsize, char *err, size_t errlen);

/* Validate and parse; fills *pm.  0, or -1 with a reason. */
int plat_parse(const void *fdt, size_t bufsize, struct plat_map *pm, char *err, size_t errlen);

/* Add a range the kernel reserves itself (its image, the blob), keeping the order. */
int plat_add_reserved(struct plat_map *pm, uint64_t base, uint64_t size, const char *name);

/*
 * Merge overlapping memory ranges into disjoint ones, reporting each overlap
 * through `out`: a range keeps only its part beyond the ranges before it (a
 * byte belongs to the first range in sorted order, node included, exactly as
 * mm's page_zones_derive counts it, so the zones do not change; adjacent
 * pieces are not joined, since joining at an unaligned address would gain a
 * page the blob's zones do not have).  Returns the overlaps found.  The
 * kernel calls it so bootmem counts each byte once; fdtinfo shows the blob
 * as it is.
 */
unsigned plat_merge_memory(struct plat_map *pm, int (*out)(const char *fmt, ...));

/* NUMA distance between two nodes (10 on the diagonal, 20 elsewhere when no map). */
unsigned plat_distance(const struct plat_map *pm, int a, int b);

/* Human-readable dump, zones included (boot log, console `mem`), through `out`. */
void plat_print(const struct plat_map *pm, int (*out)(const char *fmt, ...));

#endif /* KERNEL_PLATFORM_H */
