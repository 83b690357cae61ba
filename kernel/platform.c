/*
 * platform.c - the walk of a flattened device tree (FDT) into the platform
 * map: memory, reservations, DMA windows, harts and NUMA distances.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * The FDT is the only description of the machine the kernel gets.  This file
 * turns it into struct plat_map (kernel/platform.h): plain sorted arrays that
 * the boot code, mm (through plat_zones.c) and the host tool build/host/fdtinfo
 * read.  It is portable: it needs only libfdt and <plat_env.h>, so the same
 * file is built into the kernel, into the host tool and tests, and into a
 * libFuzzer target.  Reading values (cells, reg, `ranges`) is plat_fdt.c's
 * job, the structural check before the walk is plat_check.c's.
 *
 *   enabled     status absent, "okay" or "ok".  A node is in an enabled
 *               subtree when it and every ancestor below the root is enabled.
 *   reserved    a /memreserve/ entry or a reg entry of an enabled child of
 *               /reserved-memory; the kernel adds its image and the blob with
 *               plat_add_reserved() (pr_kernel).
 *   DMA window  every non-empty dma-ranges in an enabled subtree: each entry
 *               maps child bus addresses to the parent bus; the parent side is
 *               translated to a CPU physical address (plat_translate: entries
 *               that do not translate are ignored).  A node's window end is the
 *               highest translated end among its entries; dma_limit is the
 *               lowest window end in the tree (Linux's
 *               of_dma_get_max_cpu_address(), with an exclusive end).  The
 *               root's own dma-ranges has no parent bus and is ignored.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * struct plat_map has fixed arrays bounded by PLAT_MAX_*; a tree with more
 * entries than an array holds is rejected with a reason, never truncated.
 * After plat_parse(): harts are sorted by hartid, memory by (base, size, node),
 * reserved ranges and pools by base.  No reg entry has size 0 and none wraps
 * past 2^64.  Memory ranges may overlap as the blob says (fdtinfo shows them
 * so); plat_merge_memory() makes them disjoint for the kernel.  pm_nnodes is
 * the highest node id seen (harts, memory, distance matrix) plus one.
 * plat_parse walks the tree once, keeping the path from the root (offsets,
 * cells, enabled) on a stack of PLAT_MAX_DEPTH levels; the structure check
 * guarantees the depth.
 *
 * 3. Locking
 * ----------
 * None.  The kernel parses once on the boot hart before SMP and adds its own
 * reservations before other harts run; afterwards the map is read-only.
 *
 * 4. Failure semantics
 * --------------------
 * Input is untrusted.  plat_parse() runs plat_fdt_check() first; every
 * property this file interprets is then length-checked where it is read.
 * Each failure returns -1 with a one-line reason in the caller's buffer
 * naming the node path, and leaves an empty map; nothing is ever read
 * outside the buffer.  The fuzzer (tests/fuzz/) holds this file to that.
 *
 * 5. Debugging
 * ------------
 * plat_print() (plat_print.c) dumps the whole map; fdtinfo prints it as JSON
 * and tools/fdtcheck.py recomputes that JSON independently.
 */
#include <libfdt.h>

#include "kernel/plat_fdt.h"
#include "kernel/platform.h"

/* State of one plat_parse() call. */
struct plat_ctx {
	const void *ctx_fdt;		/* the checked blob */
	struct plat_map *ctx_pm;		/* being filled */
	char *ctx_err;			/* reason buffer */
	size_t ctx_errlen;		/* its size */
	int ctx_cpus;			/* offset of /cpus, negative when absent */
	int ctx_resv;			/* offset of /reserved-memory, negative when absent */
	bool ctx_has_dist;		/* a distance map was found */
	int ctx_maxnode;			/* highest node id seen, -1 none */
	bool ctx_dist_set[PLAT_MAX_NODES][PLAT_MAX_NODES]; /* explicit matrix entries */
	struct plat_level ctx_stack[PLAT_MAX_DEPTH]; /* root at index 0 */
};

/* Record a node id in the range of node ids seen. */
static void plat_seen_node(struct plat_ctx *c, int node)
{
	if (node > c->ctx_maxnode)
		c->ctx_maxnode = node;
}

/* numa-node-id of `off` into *node (PLAT_NO_NODE when absent). */
static int plat_numa_id(struct plat_ctx *c, int off, int *node)
{
	int len;
	const void *v = fdt_getprop(c->ctx_fdt, off, "numa-node-id", &len);

	*node = PLAT_NO_NODE;
	if (v == NULL)
		return 0;
	if (len != 4)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "numa-node-id has length %d, expected 4", len);
	if (plat_be32(v) >= PLAT_MAX_NODES)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "numa-node-id %u exceeds the limit of %d nodes",
				  plat_be32(v), PLAT_MAX_NODES);
	*node = (int)plat_be32(v);
	plat_seen_node(c, *node);
	return 0;
}

/* ------------------------------------------------------------------ parse: nodes */

/* An enabled memory node below the root: one row per non-empty reg entry. */
static int plat_memory_node(struct plat_ctx *c, int depth)
{
	struct plat_map *pm = c->ctx_pm;
	int off = c->ctx_stack[depth].pl_off, n, node;
	const uint8_t *reg;
	long long ac, sc;
	uint64_t base, size;

	if (plat_reg(c->ctx_fdt, c->ctx_stack, depth, &reg, &n, &ac, &sc, c->ctx_err, c->ctx_errlen) || plat_numa_id(c, off, &node))
		return -1;
	for (int i = 0; i < n; i++) {
		if (plat_reg_entry(c->ctx_fdt, off, reg, i, ac, sc, &base, &size, c->ctx_err,
				   c->ctx_errlen))
			return -1;
		if (size == 0)
			continue;
		if (pm->pm_nmem == PLAT_MAX_MEM)
			return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "more than %d memory ranges (PLAT_MAX_MEM)",
					  PLAT_MAX_MEM);
		pm->pm_mem[pm->pm_nmem++] = (struct plat_mem){ base, size, node };
	}
	return 0;
}

/* mmu-type as page-table levels: 3 sv39, 4 sv48, 5 sv57, 0 otherwise. */
static uint8_t plat_mmu_levels(const void *fdt, int off)
{
	const char *s = plat_str(fdt, off, "mmu-type");

	if (s == NULL)
		return 0;
	if (strcmp(s, "riscv,sv39") == 0)
		return 3;
	if (strcmp(s, "riscv,sv48") == 0)
		return 4;
	return strcmp(s, "riscv,sv57") == 0 ? 5 : 0;
}

/* A cpu node under /cpus: its hart id is the first reg address. */
static int plat_cpu_node(struct plat_ctx *c, int depth)
{
	struct plat_map *pm = c->ctx_pm;
	int off = c->ctx_stack[depth].pl_off, n, node;
	const uint8_t *reg;
	long long ac = 0, sc = 0;
	struct plat_hart *ph;

	if (plat_reg(c->ctx_fdt, c->ctx_stack, depth, &reg, &n, &ac, &sc, c->ctx_err, c->ctx_errlen) || plat_numa_id(c, off, &node))
		return -1;
	if (n == 0)
		return 0;	/* no hart id: cannot be started, as Linux skips it */
	if (pm->pm_nharts == PLAT_MAX_HARTS)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "more than %d harts (PLAT_MAX_HARTS)", PLAT_MAX_HARTS);
	ph = &pm->pm_harts[pm->pm_nharts++];
	ph->ph_hartid = plat_cells(reg, ac);
	ph->ph_node = node;
	ph->ph_enabled = plat_node_enabled(c->ctx_fdt, off);
	ph->ph_mmu_levels = plat_mmu_levels(c->ctx_fdt, off);
	return 0;
}


/* Append a reservation row (the caller checked there is room). */
static struct plat_resv *plat_resv_append(struct plat_map *pm, uint64_t base, uint64_t size,
					  const char *name)
{
	struct plat_resv *pr = &pm->pm_resv[pm->pm_nresv++];

	memset(pr, 0, sizeof(*pr));
	pr->pr_base = base;
	pr->pr_size = size;
	pr->pr_has_name = name != NULL;
	if (name != NULL)
		plat_strcpy(pr->pr_name, name, sizeof(pr->pr_name));
	return pr;
}
/* Append a reserved row. */
static int plat_resv_row(struct plat_ctx *c, int off, uint64_t base, uint64_t size,
			 const char *name, bool no_map)
{
	struct plat_map *pm = c->ctx_pm;
	struct plat_resv *pr;

	if (pm->pm_nresv == PLAT_MAX_RESV)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "more than %d reserved ranges (PLAT_MAX_RESV)",
				  PLAT_MAX_RESV);
	pr = plat_resv_append(pm, base, size, name);
	pr->pr_no_map = no_map;
	return 0;
}

/* Record a shared-dma-pool child at its first non-empty reg entry. */
static int plat_pool(struct plat_ctx *c, int off, const char *name, uint64_t base,
		     uint64_t size)
{
	struct plat_map *pm = c->ctx_pm;
	struct plat_pool *pp;

	if (pm->pm_npools == PLAT_MAX_POOLS)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "more than %d shared-dma-pool regions (PLAT_MAX_POOLS)",
				  PLAT_MAX_POOLS);
	pp = &pm->pm_pools[pm->pm_npools++];
	pp->pp_base = base;
	pp->pp_size = size;
	plat_strcpy(pp->pp_name, name, sizeof(pp->pp_name));
	pp->pp_reusable = fdt_getprop(c->ctx_fdt, off, "reusable", NULL) != NULL;
	return 0;
}

/* An enabled child of /reserved-memory: rows per reg entry, maybe a pool. */
static int plat_resv_node(struct plat_ctx *c, int depth)
{
	int off = c->ctx_stack[depth].pl_off, n, namelen;
	const char *name = fdt_get_name(c->ctx_fdt, off, &namelen);
	bool no_map = fdt_getprop(c->ctx_fdt, off, "no-map", NULL) != NULL;
	bool pool = plat_is_compat(c->ctx_fdt, off, "shared-dma-pool");
	const uint8_t *reg;
	long long ac, sc;
	uint64_t base, size;

	if (name == NULL || namelen >= PLAT_NAME_MAX)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "node name longer than %d characters",
				  PLAT_NAME_MAX - 1);
	if (plat_reg(c->ctx_fdt, c->ctx_stack, depth, &reg, &n, &ac, &sc, c->ctx_err, c->ctx_errlen))
		return -1;
	for (int i = 0; i < n; i++) {
		if (plat_reg_entry(c->ctx_fdt, off, reg, i, ac, sc, &base, &size, c->ctx_err,
				   c->ctx_errlen))
			return -1;
		if (size == 0)
			continue;
		if (plat_resv_row(c, off, base, size, name, no_map))
			return -1;
		if (pool && plat_pool(c, off, name, base, size))
			return -1;
		pool = false;
	}
	return 0;
}

/* ------------------------------------------------------------------ parse: DMA */

/* A node with dma-ranges in an enabled subtree: lower dma_limit to its window end. */
static int plat_dma_node(struct plat_ctx *c, int depth)
{
	struct plat_map *pm = c->ctx_pm;
	int off = c->ctx_stack[depth].pl_off, len, r;
	const uint8_t *d = fdt_getprop(c->ctx_fdt, off, "dma-ranges", &len);
	long long ca, pa, sz;
	uint64_t end = 0, base, size, offset = 0;
	bool any = false;

	if (d == NULL || len == 0)
		return 0;
	if (plat_range_shape(c->ctx_fdt, c->ctx_stack, depth, "dma-ranges", len, &ca, &pa, &sz,
			     c->ctx_err, c->ctx_errlen))
		return -1;
	for (int i = 0; i < len / (int)(4 * (ca + pa + sz)); i++) {
		const uint8_t *e = d + 4 * (ca + pa + sz) * i;

		base = plat_cells(e + 4 * ca, pa);
		size = plat_cells(e + 4 * (ca + pa), sz);
		if (size == 0)
			continue;
		if ((r = plat_translate(c->ctx_fdt, c->ctx_stack, depth - 1, &base, c->ctx_err,
					 c->ctx_errlen)) < 0)
			return -1;
		if (r > 0 || size > UINT64_MAX - base)
			continue;	/* untranslatable: ignored */
		if (!any || base + size > end) {
			end = base + size;
			offset = base - plat_cells(e, ca);	/* CPU minus device address */
		}
		any = true;
	}
	if (any && (!pm->pm_has_dma_limit || end < pm->pm_dma_limit)) {
		pm->pm_has_dma_limit = true;
		pm->pm_dma_limit = end;
		pm->pm_dma_offset = offset;
	}
	return 0;
}

/* ------------------------------------------------------------------ parse: NUMA */

/* The first numa-distance-map-v1 node: record its explicit entries. */
static int plat_distance_node(struct plat_ctx *c, int off)
{
	struct plat_map *pm = c->ctx_pm;
	int len;
	const uint8_t *m = fdt_getprop(c->ctx_fdt, off, "distance-matrix", &len);

	c->ctx_has_dist = true;
	if (m == NULL)
		return 0;
	if (len % 12 != 0)
		return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "distance-matrix length %d is not a multiple of 12",
				  len);
	for (int i = 0; i < len / 12; i++) {
		uint32_t a = plat_be32(m + 12 * i), b = plat_be32(m + 12 * i + 4);
		uint32_t d = plat_be32(m + 12 * i + 8);

		if (a >= PLAT_MAX_NODES || b >= PLAT_MAX_NODES)
			return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "distance-matrix entry %d names node %u, limit "
					  "is %d nodes", i, a > b ? a : b, PLAT_MAX_NODES);
		if (d > 255)
			return plat_node_fail(c->ctx_fdt, off, c->ctx_err, c->ctx_errlen, "distance-matrix entry %d: distance %u exceeds "
					  "255", i, d);
		pm->pm_dist[a][b] = (uint8_t)d;
		c->ctx_dist_set[a][b] = true;
		plat_seen_node(c, (int)(a > b ? a : b));
	}
	return 0;
}

/* Fill the matrix's missing entries (transpose, else 10/20) once N is known. */
static void plat_distance_finish(struct plat_ctx *c)
{
	struct plat_map *pm = c->ctx_pm;
	unsigned n = pm->pm_nnodes;

	if (!c->ctx_has_dist)
		return;
	pm->pm_ndist = n;
	for (unsigned a = 0; a < n; a++)
		for (unsigned b = 0; b < n; b++) {
			if (c->ctx_dist_set[a][b])
				continue;
			if (c->ctx_dist_set[b][a])
				pm->pm_dist[a][b] = pm->pm_dist[b][a];
			else
				pm->pm_dist[a][b] = a == b ? 10 : 20;
		}
}

/* ------------------------------------------------------------------ parse: walk */

/* Everything one node can contribute to the map. */
static int plat_visit(struct plat_ctx *c, int depth)
{
	const void *fdt = c->ctx_fdt;
	int off = c->ctx_stack[depth].pl_off, parent;

	if (!c->ctx_has_dist && plat_is_compat(fdt, off, "numa-distance-map-v1") &&
	    plat_distance_node(c, off))
		return -1;
	if (depth == 0)
		return 0;
	parent = c->ctx_stack[depth - 1].pl_off;
	if (depth == 1 && plat_is_type(fdt, off, "memory") && plat_node_enabled(fdt, off) &&
	    plat_memory_node(c, depth))
		return -1;
	if (parent == c->ctx_cpus && plat_is_type(fdt, off, "cpu") && plat_cpu_node(c, depth))
		return -1;
	if (parent == c->ctx_resv && plat_node_enabled(fdt, off) && plat_resv_node(c, depth))
		return -1;
	if (c->ctx_stack[depth].pl_enabled && plat_dma_node(c, depth))
		return -1;
	return 0;
}

/* Visit every node in document order, keeping the path on the stack. */
static int plat_walk(struct plat_ctx *c)
{
	int off = 0, depth = 0;

	for (; off >= 0 && depth >= 0; off = fdt_next_node(c->ctx_fdt, off, &depth)) {
		if (depth >= PLAT_MAX_DEPTH)
			return plat_fail(c->ctx_err, c->ctx_errlen, "nodes nested too deep");
		plat_level_set(c->ctx_fdt, c->ctx_stack, depth, off);
		if (plat_visit(c, depth))
			return -1;
	}
	if (off < 0 && off != -FDT_ERR_NOTFOUND)
		return plat_fail(c->ctx_err, c->ctx_errlen, "libfdt: %s", fdt_strerror(off));
	return 0;
}

/* The root's model, which must be a terminated string that fits. */
static int plat_model(struct plat_ctx *c)
{
	struct plat_map *pm = c->ctx_pm;
	int len;
	const char *v = fdt_getprop(c->ctx_fdt, 0, "model", &len);

	if (v == NULL)
		return 0;
	if (len <= 0 || v[len - 1] != '\0')
		return plat_fail(c->ctx_err, c->ctx_errlen, "/: model is not a NUL-terminated string");
	if (strlen(v) >= sizeof(pm->pm_model))
		return plat_fail(c->ctx_err, c->ctx_errlen, "/: model longer than %zu characters",
				 sizeof(pm->pm_model) - 1);
	plat_strcpy(pm->pm_model, v, sizeof(pm->pm_model));
	pm->pm_has_model = true;
	return 0;
}

/* /memreserve/ entries up to the first of size 0, as libfdt counts them. */
static int plat_memreserve(struct plat_ctx *c)
{
	const uint8_t *b = c->ctx_fdt;
	uint64_t base, size;

	for (const uint8_t *e = b + plat_be32(b + 16);; e += 16) {
		base = plat_cells(e, 2), size = plat_cells(e + 8, 2);
		if (size == 0)
			return 0;
		if (size > UINT64_MAX - base)
			return plat_fail(c->ctx_err, c->ctx_errlen, "/memreserve/ 0x%llx size 0x%llx "
					 "wraps past 2^64", (unsigned long long)base,
					 (unsigned long long)size);
		if (plat_resv_row(c, 0, base, size, NULL, false))
			return -1;
	}
}

/* ------------------------------------------------------------------ sorting */

typedef int (*plat_cmp_t)(const void *, const void *);

/* Stable insertion sort of n elements of `sz` bytes (arrays are small). */
static void plat_sort(void *base, unsigned n, size_t sz, plat_cmp_t cmp)
{
	uint8_t *a = base;
	union {
		struct plat_hart h;
		struct plat_mem m;
		struct plat_resv r;
		struct plat_pool p;
	} tmp;

	ASSERT(sz <= sizeof(tmp));
	for (unsigned i = 1; i < n; i++) {
		unsigned j = i;

		memcpy(&tmp, a + i * sz, sz);
		while (j > 0 && cmp(a + (j - 1) * sz, &tmp) > 0) {
			memcpy(a + j * sz, a + (j - 1) * sz, sz);
			j--;
		}
		memcpy(a + j * sz, &tmp, sz);
	}
}

/* Three-way compare of two unsigned 64-bit keys. */
static int plat_cmp64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Harts by hartid. */
static int plat_cmp_hart(const void *a, const void *b)
{
	return plat_cmp64(((const struct plat_hart *)a)->ph_hartid,
			  ((const struct plat_hart *)b)->ph_hartid);
}

/* Memory by base, then size, then node. */
static int plat_cmp_mem(const void *a, const void *b)
{
	const struct plat_mem *x = a, *y = b;

	if (x->pmr_base != y->pmr_base)
		return plat_cmp64(x->pmr_base, y->pmr_base);
	if (x->pmr_size != y->pmr_size)
		return plat_cmp64(x->pmr_size, y->pmr_size);
	return (x->pmr_node > y->pmr_node) - (x->pmr_node < y->pmr_node);
}

/* Reserved ranges by base. */
static int plat_cmp_resv(const void *a, const void *b)
{
	return plat_cmp64(((const struct plat_resv *)a)->pr_base,
			  ((const struct plat_resv *)b)->pr_base);
}

/* Pools by base. */
static int plat_cmp_pool(const void *a, const void *b)
{
	return plat_cmp64(((const struct plat_pool *)a)->pp_base,
			  ((const struct plat_pool *)b)->pp_base);
}

/* ------------------------------------------------------------------ public API */

int plat_parse(const void *fdt, size_t bufsize, struct plat_map *pm, char *err, size_t errlen)
{
	struct plat_ctx ctx;		/* about 2 KiB */
	struct plat_ctx *c = &ctx;

	VERIFY(pm != NULL);
	memset(pm, 0, sizeof(*pm));
	pm->pm_nnodes = 1;
	if (plat_fdt_check(fdt, bufsize, err, errlen))
		return -1;
	memset(c, 0, sizeof(*c));
	c->ctx_fdt = fdt, c->ctx_pm = pm, c->ctx_err = err, c->ctx_errlen = errlen;
	c->ctx_cpus = fdt_path_offset(fdt, "/cpus");
	c->ctx_resv = fdt_path_offset(fdt, "/reserved-memory");
	c->ctx_maxnode = -1;
	if (plat_model(c) || plat_memreserve(c) || plat_walk(c)) {
		memset(pm, 0, sizeof(*pm));
		pm->pm_nnodes = 1;
		return -1;
	}
	for (unsigned i = 0; i < pm->pm_nharts; i++)
		plat_seen_node(c, pm->pm_harts[i].ph_node);
	pm->pm_nnodes = (unsigned)(c->ctx_maxnode + 1 > 0 ? c->ctx_maxnode + 1 : 1);
	plat_distance_finish(c);
	plat_sort(pm->pm_harts, pm->pm_nharts, sizeof(pm->pm_harts[0]), plat_cmp_hart);
	plat_sort(pm->pm_pools, pm->pm_npools, sizeof(pm->pm_pools[0]), plat_cmp_pool);
	plat_sort(pm->pm_mem, pm->pm_nmem, sizeof(pm->pm_mem[0]), plat_cmp_mem);
	plat_sort(pm->pm_resv, pm->pm_nresv, sizeof(pm->pm_resv[0]), plat_cmp_resv);
	return 0;
}

int plat_add_reserved(struct plat_map *pm, uint64_t base, uint64_t size, const char *name)
{
	struct plat_resv *pr;

	VERIFY(pm != NULL);
	if (size == 0)
		return 0;
	if (size > UINT64_MAX - base || pm->pm_nresv >= PLAT_MAX_RESV)
		return -1;
	pr = plat_resv_append(pm, base, size, name);
	pr->pr_kernel = true;
	plat_sort(pm->pm_resv, pm->pm_nresv, sizeof(pm->pm_resv[0]), plat_cmp_resv);
	return 0;
}

/* Report one overlap of memory ranges b (later) and a (earlier). */
static void plat_report_overlap(const struct plat_mem *a, const struct plat_mem *b,
				int (*out)(const char *fmt, ...))
{
	out("fdt: warning: memory [0x%llx-0x%llx] node %d overlaps [0x%llx-0x%llx] node %d: "
	    "merged, the overlap counts once, for the first\n",
	    (unsigned long long)b->pmr_base, (unsigned long long)(b->pmr_base + b->pmr_size - 1),
	    b->pmr_node, (unsigned long long)a->pmr_base,
	    (unsigned long long)(a->pmr_base + a->pmr_size - 1), a->pmr_node);
}

unsigned plat_merge_memory(struct plat_map *pm, int (*out)(const char *fmt, ...))
{
	unsigned k = 0, found = 0;

	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		struct plat_mem m = pm->pm_mem[i], *prev = k ? &pm->pm_mem[k - 1] : NULL;
		uint64_t pend = prev ? prev->pmr_base + prev->pmr_size : 0, end = m.pmr_base + m.pmr_size;

		if (prev != NULL && m.pmr_base < pend) {
			found++;
			plat_report_overlap(prev, &m, out);
			if (end <= pend)
				continue;	/* wholly inside: nothing new */
			m.pmr_base = pend;	/* keep only the part beyond */
			m.pmr_size = end - pend;
		}
		pm->pm_mem[k++] = m;		/* still sorted: pend is the highest end so far */
	}
	pm->pm_nmem = k;
	return found;
}

unsigned plat_distance(const struct plat_map *pm, int a, int b)
{
	if (a < 0)
		a = 0;
	if (b < 0)
		b = 0;
	if ((unsigned)a < pm->pm_ndist && (unsigned)b < pm->pm_ndist)
		return pm->pm_dist[a][b];
	return a == b ? 10 : 20;
}
