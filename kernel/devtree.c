/*
 * devtree.c - small device-tree lookups for drivers (see devtree.h).
 *
 * dt_init() runs the full structural check (plat_fdt_check) before anything
 * else reads the blob: the drivers' lookups come right after it in kmain, and
 * libfdt trusts offsets it has not checked.  A corrupt blob ends in a panic
 * that says why.  Cells, reg and `ranges` translation are the platform map's
 * own (kernel/plat_fdt.c), with the same checks.
 */
#include <libfdt.h>

#include "kernel/devtree.h"
#include "kernel/lib.h"
#include "kernel/plat_fdt.h"
#include "kernel/platform.h"
#include "kernel/printk.h"

const void *dt_fdt;

/* The largest blob dt_init() accepts before checking it: a sanity bound. */
#define DT_MAX_SIZE	(64u << 20)

void dt_init(uintptr_t pa)
{
	char err[128];
	uint32_t total;

	if (pa == 0 || (pa & 7))
		panic("fdt: no usable device tree pointer from the firmware (a1 = 0x%lx)", pa);
	total = plat_be32((const uint8_t *)pa + 4);	/* checked against the magic below */
	if (plat_fdt_check((const void *)pa, total < DT_MAX_SIZE ? total : DT_MAX_SIZE,
			   err, sizeof(err)) != 0)
		panic("fdt: the blob at 0x%lx is not a valid device tree: %s", pa, err);
	dt_fdt = (const void *)pa;
}

uint64_t dt_size(void)
{
	return fdt_totalsize(dt_fdt);
}

bool dt_node_enabled(int node)
{
	return plat_node_enabled(dt_fdt, node);
}

bool dt_reg(int node, int idx, uint64_t *addr, uint64_t *size)
{
	struct plat_level stack[PLAT_MAX_DEPTH];
	const uint8_t *reg;
	long long ac, sc;
	int depth, n;

	if (plat_levels(dt_fdt, node, stack, &depth) != 0 || depth == 0 ||
	    plat_reg(dt_fdt, stack, depth, &reg, &n, &ac, &sc, NULL, 0) != 0 || idx < 0 || idx >= n)
		return false;
	if (plat_reg_entry(dt_fdt, node, reg, idx, ac, sc, addr, size, NULL, 0) != 0)
		return false;
	return plat_translate(dt_fdt, stack, depth - 1, addr, NULL, 0) == 0;
}

int dt_find_compatible(const char *compat)
{
	int node = -1;

	while ((node = fdt_node_offset_by_compatible(dt_fdt, node, compat)) >= 0)
		if (dt_node_enabled(node))
			return node;
	return node;
}

int dt_stdout_node(void)
{
	int chosen = fdt_path_offset(dt_fdt, "/chosen"), len, n;
	const char *path;

	if (chosen < 0)
		return chosen;
	path = fdt_getprop(dt_fdt, chosen, "stdout-path", &len);
	if (!path || len < 2)
		return -FDT_ERR_NOTFOUND;
	n = (int)strnlen(path, (size_t)len);
	if (strchr(path, ':'))
		n = (int)(strchr(path, ':') - path);	/* drop ":115200n8" options */
	if (path[0] != '/') {
		const char *alias = fdt_get_alias_namelen(dt_fdt, path, n);

		return alias ? fdt_path_offset(dt_fdt, alias) : -FDT_ERR_NOTFOUND;
	}
	return fdt_path_offset_namelen(dt_fdt, path, n);
}

const char *dt_bootargs(void)
{
	int chosen = fdt_path_offset(dt_fdt, "/chosen"), len;
	const char *args = chosen >= 0 ? fdt_getprop(dt_fdt, chosen, "bootargs", &len) : NULL;

	return (args && len > 0 && args[len - 1] == 0) ? args : "";
}

uint64_t dt_timebase_hz(void)
{
	int cpus = fdt_path_offset(dt_fdt, "/cpus"), len;
	const void *p = cpus >= 0 ? fdt_getprop(dt_fdt, cpus, "timebase-frequency", &len) : NULL;

	if (!p || (len != 4 && len != 8))
		return 0;
	return plat_cells(p, len / 4);
}
