/*
 * devtree.h - the kernel's handle on the flattened device tree: where it is,
 * and the small lookups drivers need (a node's registers, a compatible
 * device, the stdout node, bootargs).  Memory, harts and NUMA come from the
 * platform map (platform.h), not from here; cells, reg and `ranges` are read
 * by the platform map's own readers (plat_fdt.h), with the same checks.
 */
#ifndef KERNEL_DEVTREE_H
#define KERNEL_DEVTREE_H

#include <stdbool.h>
#include <stdint.h>

extern const void *dt_fdt;	/* the blob, validated by dt_init */

/* Check the blob at `pa` structurally (plat_fdt_check) before any lookup;
 * panics with the reason when it is not a valid FDT. */
void dt_init(uintptr_t pa);
uint64_t dt_size(void);

/* reg entry `idx` of `node`, translated to a CPU physical address. */
bool dt_reg(int node, int idx, uint64_t *addr, uint64_t *size);
int dt_find_compatible(const char *compat);	/* first enabled match, or < 0 */
int dt_stdout_node(void);			/* /chosen/stdout-path, or < 0 */
const char *dt_bootargs(void);			/* "" when absent */
uint64_t dt_timebase_hz(void);			/* /cpus/timebase-frequency or 0 */
bool dt_node_enabled(int node);

#endif /* KERNEL_DEVTREE_H */
