/*
 * devtree.c - small device-tree lookups for drivers (see devtree.h).
 *
 * dt_init() checks the header before anything else reads the blob, and the
 * boot sequence then runs the full structural check (plat_fdt_check) before
 * parsing the platform map: a corrupt blob ends in a panic that says why.
 */
#include <libfdt.h>

#include "kernel/devtree.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

const void *dt_fdt;

void dt_init(uintptr_t pa)
{
	int err;

	if (pa == 0 || (pa & 7))
		panic("fdt: no usable device tree pointer from the firmware (a1 = 0x%lx)", pa);
	err = fdt_check_header((const void *)pa);
	if (err)
		panic("fdt: the blob at 0x%lx is not a valid device tree: %s",
		      pa, fdt_strerror(err));
	dt_fdt = (const void *)pa;
}

uint64_t dt_size(void)
{
	return fdt_totalsize(dt_fdt);
}

bool dt_node_enabled(int node)
{
	int len;
	const char *st = fdt_getprop(dt_fdt, node, "status", &len);

	return !st || (len >= 2 && (strcmp(st, "okay") == 0 || strcmp(st, "ok") == 0));
}

/* Read `cells` big-endian 32-bit cells as one number. */
static uint64_t dt_read_cells(const fdt32_t *p, int cells)
{
	uint64_t v = 0;

	while (cells-- > 0)
		v = (v << 32) | fdt32_to_cpu(*p++);
	return v;
}

/* Translate a child bus address through `bus`'s ranges; false if it does not map. */
static bool dt_translate_one(int bus, uint64_t *addr)
{
	int parent = fdt_parent_offset(dt_fdt, bus), len;
	const fdt32_t *r = fdt_getprop(dt_fdt, bus, "ranges", &len);
	int ca = fdt_address_cells(dt_fdt, bus), pa, cs = fdt_size_cells(dt_fdt, bus);

	if (!r)
		return false;
	if (len == 0 || parent < 0)
		return true;	/* empty ranges: identity */
	pa = fdt_address_cells(dt_fdt, parent);
	if (ca < 0 || pa < 0 || cs < 0)
		return false;
	for (int e = ca + pa + cs; len >= e * 4; len -= e * 4, r += e) {
		uint64_t child = dt_read_cells(r, ca), base = dt_read_cells(r + ca, pa);
		uint64_t size = dt_read_cells(r + ca + pa, cs);

		if (*addr >= child && *addr - child < size) {
			*addr = *addr - child + base;
			return true;
		}
	}
	return false;
}

bool dt_reg(int node, int idx, uint64_t *addr, uint64_t *size)
{
	int parent = fdt_parent_offset(dt_fdt, node), len, ac, sc;
	const fdt32_t *reg = fdt_getprop(dt_fdt, node, "reg", &len);

	if (!reg || parent < 0)
		return false;
	ac = fdt_address_cells(dt_fdt, parent);
	sc = fdt_size_cells(dt_fdt, parent);
	if (ac < 1 || sc < 0 || (idx + 1) * (ac + sc) * 4 > len)
		return false;
	reg += idx * (ac + sc);
	*addr = dt_read_cells(reg, ac);
	*size = dt_read_cells(reg + ac, sc);
	for (int bus = parent; bus > 0; bus = fdt_parent_offset(dt_fdt, bus))
		if (!dt_translate_one(bus, addr))
			return false;
	return true;
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
	const fdt32_t *p = cpus >= 0 ? fdt_getprop(dt_fdt, cpus, "timebase-frequency", &len) : NULL;

	if (!p || (len != 4 && len != 8))
		return 0;
	return dt_read_cells(p, len / 4);
}
