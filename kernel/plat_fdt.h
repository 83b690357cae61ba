/*
 * plat_fdt.h - reading device-tree values: cells, strings, status, reg, and
 * address translation through `ranges`, shared by the platform map
 * (kernel/platform.c) and the drivers' lookups (kernel/devtree.c).
 *
 * A *level* is one node on the path from the root: its offset, its own
 * #address-cells and #size-cells (the shape of its children's reg) and
 * whether it and every ancestor below the root is enabled.  The walk in
 * platform.c keeps the path as it goes; plat_levels() builds it for any node.
 * Level 0 is the root.  Functions that can fail on malformed input return -1
 * and write a one-line reason, prefixed with the node's path, into err.
 * Portable: needs only libfdt and <plat_env.h>.
 */
#ifndef KERNEL_PLAT_FDT_H
#define KERNEL_PLAT_FDT_H

#include <plat_env.h>

#define PLAT_MAX_DEPTH	64		/* nesting limit, as Linux's FDT_MAX_DEPTH */
#define PLAT_PATH_MAX	256		/* node paths in error messages */

/* One level of the path from the root to a node. */
struct plat_level {
	int pl_off;			/* node offset */
	long long pl_ac;		/* its #address-cells (2 when absent), -1 malformed */
	long long pl_sc;		/* its #size-cells (1 when absent), -1 malformed */
	bool pl_enabled;		/* it and its ancestors below the root are enabled */
};

/* Write a reason into err (when not NULL); always returns -1. */
int plat_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with the path of node `off` in front of the reason. */
int plat_node_fail(const void *fdt, int off, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Copy a NUL-terminated string into a bounded buffer, truncating. */
void plat_strcpy(char *dst, const char *src, size_t size);

/* Big-endian 32-bit load from any alignment. */
uint32_t plat_be32(const void *p);
/* A number of n cells; more than two keep the low 64 bits (as Linux's of_read_number). */
uint64_t plat_cells(const void *p, long long n);

/* The first string of a property, or NULL when absent or not terminated. */
const char *plat_str(const void *fdt, int off, const char *name);
bool plat_node_enabled(const void *fdt, int off);	/* status absent, "okay" or "ok" */
bool plat_is_type(const void *fdt, int off, const char *type);	/* device_type */
bool plat_is_compat(const void *fdt, int off, const char *compat);	/* in compatible */
/* A #address-cells/#size-cells value: dflt when absent, -1 when malformed. */
long long plat_ncells(const void *fdt, int off, const char *name, long long dflt);

/* Fill stack[depth] for node `off` (stack[depth - 1] is its parent). */
void plat_level_set(const void *fdt, struct plat_level *stack, int depth, int off);
/* The path from the root to `node` into stack[0..*depth]; -1 when too deep or bad. */
int plat_levels(const void *fdt, int node, struct plat_level *stack, int *depth);

/* The reg of stack[depth], shaped by its parent's cells: entries and cell counts. */
int plat_reg(const void *fdt, const struct plat_level *stack, int depth, const uint8_t **regp,
	     int *nentp, long long *acp, long long *scp, char *err, size_t errlen);
/* Entry i of a reg checked by plat_reg(): base and size, refusing wrap past 2^64. */
int plat_reg_entry(const void *fdt, int off, const uint8_t *reg, int i, long long ac,
		   long long sc, uint64_t *base, uint64_t *size, char *err, size_t errlen);

/* Cells of a ranges-style property of stack[lvl]: child, parent and size counts. */
int plat_range_shape(const void *fdt, const struct plat_level *stack, int lvl, const char *prop,
		     int len, long long *ca, long long *pa, long long *sz, char *err, size_t errlen);
/*
 * Translate *addr, a bus address of level lvl (an address in the reg of one
 * of its children), up to a CPU physical address through every ancestor's
 * `ranges`: empty is identity; absent, or no entry covering the address, is
 * untranslatable.  0 translated, 1 untranslatable, -1 malformed (reason in err).
 */
int plat_translate(const void *fdt, const struct plat_level *stack, int lvl, uint64_t *addr,
		   char *err, size_t errlen);

#endif /* KERNEL_PLAT_FDT_H */
