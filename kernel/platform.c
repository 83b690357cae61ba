/*
 * platform.c - the platform map: memory, reservations, DMA windows, harts and
 * NUMA distances read from a flattened device tree (FDT) with libfdt.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * The FDT is the only description of the machine the kernel gets.  This file
 * turns it into struct plat_map (kernel/platform.h): plain sorted arrays that
 * the boot code, the page allocator and the host tool build/host/fdtinfo read.
 * It is portable: it needs only libfdt, the string functions and vsnprintf
 * (mm/mm_platform.h), so the same file is built into the kernel, into the host
 * tool and tests, and into a libFuzzer target.
 *
 *   cells       #address-cells / #size-cells of a node's parent say how many
 *               32-bit cells an address and a size take in the node's reg.
 *               Absent means the devicetree spec defaults, 2 and 1.  A number
 *               of more than two cells keeps its low 64 bits (as Linux's
 *               of_read_number does), which only PCI-style 3-cell bus
 *               addresses on a translation path ever need.
 *   enabled     status absent, "okay" or "ok".  A node is in an enabled
 *               subtree when it and every ancestor below the root is enabled.
 *   reserved    a /memreserve/ entry or a reg entry of an enabled child of
 *               /reserved-memory; the kernel adds its image and the blob with
 *               plat_add_reserved() (pr_kernel).
 *   DMA window  every non-empty dma-ranges in an enabled subtree: each entry
 *               maps child bus addresses to the parent bus; the parent side is
 *               translated to a CPU physical address through the ancestors'
 *               `ranges` (empty = identity, absent or no matching entry =
 *               untranslatable, entry ignored).  A node's window end is the
 *               highest translated end among its entries; dma_limit is the
 *               lowest window end in the tree (Linux's
 *               of_dma_get_max_cpu_address(), with an exclusive end).  The
 *               root's own dma-ranges has no parent bus and is ignored.
 *   zones       usable memory (memory minus every reserved range, page
 *               rounded inward) split at the DMA limit (only when it is below
 *               4 GiB) and at 4 GiB into DMA, DMA32 and NORMAL, per node.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * struct plat_map has fixed arrays bounded by PLAT_MAX_*; a tree with more
 * entries than an array holds is rejected with a reason, never truncated.
 * After plat_parse(): harts are sorted by hartid, memory by (base, size, node),
 * reserved ranges and pools by base, zones by base.  No reg entry has size 0
 * and none wraps past 2^64.  Memory ranges may overlap; a byte then belongs to
 * the first range in sorted order (for its node).  pm_nnodes is the highest
 * node id seen (harts, memory, distance matrix) plus one.  plat_parse walks
 * the tree once, keeping the path from the root (offsets, cells, enabled) on a
 * stack of PLAT_MAX_DEPTH levels; the structure check guarantees the depth.
 *
 * 3. Locking
 * ----------
 * None.  The kernel parses once on the boot hart before SMP and adds its own
 * reservations before other harts run; afterwards the map is read-only.
 *
 * 4. Per-hart layer
 * -----------------
 * None; the map is global, read-mostly data.
 *
 * 5. Failure semantics
 * --------------------
 * Input is untrusted.  plat_fdt_check() validates the whole blob before any
 * libfdt call: the header, the three blocks inside totalsize (which must fit
 * the buffer), the reservation map's terminator, and every tag of the
 * structure block (names and values inside it, property name offsets inside
 * the strings block, balanced nodes, properties before subnodes, one root,
 * FDT_END).  libfdt 1.6.1 has no fdt_check_full(), so the walk is our own.
 * Every property this file interprets is then length-checked where it is
 * read.  Each failure returns -1 with a one-line reason in the caller's buffer
 * naming the node path; nothing is ever read outside the buffer.  The fuzzer
 * (tests/fuzz/) holds this file to that.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * plat_print() dumps the whole map (boot log, console `mem`); fdtinfo prints
 * it as JSON and tools/fdtcheck.py recomputes that JSON independently.
 */
#include <stdarg.h>

#include "mm/mm_platform.h"
#include <libfdt.h>

#include "kernel/platform.h"

#define PLAT_MAX_DEPTH	64		/* nesting limit, as Linux's FDT_MAX_DEPTH */
#define PLAT_HDR_SIZE	40		/* a version 17 header */
#define PLAT_VERSION	17		/* the only version we read */
#define PLAT_4G		((uint64_t)1 << 32)
#define PLAT_PATH_MAX	256		/* node paths in error messages */

static inline uint64_t plat_min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t plat_max(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t plat_align4(uint64_t x) { return (x + 3) & ~(uint64_t)3; }

/* One level of the path from the root to the node being visited. */
struct plat_level {
	int pl_off;			/* node offset */
	long long pl_ac;		/* its #address-cells (2 when absent), -1 malformed */
	long long pl_sc;		/* its #size-cells (1 when absent), -1 malformed */
	bool pl_enabled;		/* it and its ancestors below the root are enabled */
};

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

/* State of the structure-block walk in plat_fdt_check(). */
struct plat_walk {
	const uint8_t *pw_st;		/* structure block */
	uint64_t pw_stsize;		/* its size */
	const uint8_t *pw_str;		/* strings block */
	uint64_t pw_strsize;		/* its size */
	int pw_depth;			/* nodes open */
	bool pw_root_done;		/* the root node has been closed */
	bool pw_sub[PLAT_MAX_DEPTH];	/* open node at this depth has had a subnode */
};

/* Write a reason into the caller's buffer; always returns -1. */
static int __attribute__((format(printf, 3, 4)))
plat_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Big-endian 32-bit load from any alignment. */
static uint32_t plat_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A number of `n` cells; more than two keep the low 64 bits. */
static uint64_t plat_cells(const void *p, long long n)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (long long i = 0; i < n; i++)
		v = v << 32 | plat_be32(b + 4 * i);
	return v;
}

/* Copy a NUL-terminated string into a bounded buffer, truncating. */
static void plat_strcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ------------------------------------------------------------------ check */

/* Header fields, block placement and the size of the buffer. */
static int plat_check_header(const uint8_t *b, size_t bufsize, char *err, size_t errlen)
{
	uint32_t total, off_st, off_str, off_rsv, ver, lcv, sz_str, sz_st;

	if (bufsize < PLAT_HDR_SIZE)
		return plat_fail(err, errlen, "truncated: %zu bytes, an FDT header needs %d",
				 bufsize, PLAT_HDR_SIZE);
	if ((uintptr_t)b & 7)
		return plat_fail(err, errlen, "blob at %p is not 8-byte aligned", (const void *)b);
	if (plat_be32(b) != FDT_MAGIC)
		return plat_fail(err, errlen, "bad magic 0x%08x (expected 0x%08x)",
				 plat_be32(b), (unsigned)FDT_MAGIC);
	total = plat_be32(b + 4), off_st = plat_be32(b + 8), off_str = plat_be32(b + 12);
	off_rsv = plat_be32(b + 16), ver = plat_be32(b + 20), lcv = plat_be32(b + 24);
	sz_str = plat_be32(b + 32), sz_st = plat_be32(b + 36);
	if (ver < PLAT_VERSION || lcv > PLAT_VERSION || lcv > ver)
		return plat_fail(err, errlen, "unsupported version %u (last compatible %u), need %d",
				 ver, lcv, PLAT_VERSION);
	if (total < PLAT_HDR_SIZE || total > INT32_MAX)
		return plat_fail(err, errlen, "bad totalsize %u", total);
	if (total > bufsize)
		return plat_fail(err, errlen, "truncated: totalsize %u but only %zu bytes",
				 total, bufsize);
	if (off_st < PLAT_HDR_SIZE || (uint64_t)off_st + sz_st > total || (off_st & 3))
		return plat_fail(err, errlen, "structure block at 0x%x size 0x%x is outside "
				 "totalsize 0x%x or misaligned", off_st, sz_st, total);
	if (off_str < PLAT_HDR_SIZE || (uint64_t)off_str + sz_str > total)
		return plat_fail(err, errlen, "strings block at 0x%x size 0x%x is outside "
				 "totalsize 0x%x", off_str, sz_str, total);
	if (off_rsv < PLAT_HDR_SIZE || off_rsv > total || (off_rsv & 7))
		return plat_fail(err, errlen, "memory reservation map offset 0x%x is outside "
				 "totalsize 0x%x or misaligned", off_rsv, total);
	return 0;
}

/* The reservation map must end with a zero-size entry inside the blob. */
static int plat_check_rsvmap(const uint8_t *b, char *err, size_t errlen)
{
	uint64_t total = plat_be32(b + 4);

	for (uint64_t off = plat_be32(b + 16);; off += 16) {
		if (off + 16 > total)
			return plat_fail(err, errlen, "memory reservation map runs past totalsize "
					 "without its terminating entry");
		if (plat_cells(b + off + 8, 2) == 0)
			return 0;
	}
}

/* FDT_BEGIN_NODE at `off`: a terminated name, nesting and root rules. */
static int plat_check_begin(struct plat_walk *w, uint64_t *off, char *err, size_t errlen)
{
	const uint8_t *name = w->pw_st + *off + 4;
	const uint8_t *nul = memchr(name, 0, w->pw_stsize - *off - 4);

	if (nul == NULL)
		return plat_fail(err, errlen, "node name at structure offset 0x%llx runs past "
				 "the structure block", (unsigned long long)*off);
	if (w->pw_root_done)
		return plat_fail(err, errlen, "second root node at structure offset 0x%llx",
				 (unsigned long long)*off);
	if (w->pw_depth >= PLAT_MAX_DEPTH)
		return plat_fail(err, errlen, "nodes nested deeper than %d levels",
				 PLAT_MAX_DEPTH);
	if (w->pw_depth > 0)
		w->pw_sub[w->pw_depth - 1] = true;
	w->pw_sub[w->pw_depth++] = false;
	*off = plat_align4((uint64_t)(nul + 1 - w->pw_st));
	return 0;
}

/* FDT_PROP at `off`: header, value and name inside their blocks. */
static int plat_check_prop(struct plat_walk *w, uint64_t *off, char *err, size_t errlen)
{
	uint64_t len, nameoff, o = *off;

	if (w->pw_depth == 0 || w->pw_sub[w->pw_depth - 1])
		return plat_fail(err, errlen, "property at structure offset 0x%llx is %s",
				 (unsigned long long)o,
				 w->pw_depth ? "after a subnode" : "outside any node");
	if (o + 12 > w->pw_stsize)
		return plat_fail(err, errlen, "property header at structure offset 0x%llx runs "
				 "past the structure block", (unsigned long long)o);
	len = plat_be32(w->pw_st + o + 4), nameoff = plat_be32(w->pw_st + o + 8);
	if (o + 12 + len > w->pw_stsize)
		return plat_fail(err, errlen, "property at structure offset 0x%llx: length %llu "
				 "runs past the structure block", (unsigned long long)o,
				 (unsigned long long)len);
	if (nameoff >= w->pw_strsize ||
	    memchr(w->pw_str + nameoff, 0, w->pw_strsize - nameoff) == NULL)
		return plat_fail(err, errlen, "property at structure offset 0x%llx: name offset "
				 "%llu is outside the strings block (%llu bytes)",
				 (unsigned long long)o, (unsigned long long)nameoff,
				 (unsigned long long)w->pw_strsize);
	*off = plat_align4(o + 12 + len);
	return 0;
}

/* One tag at *off: 1 at FDT_END, 0 to go on, -1 on error. */
static int plat_check_tag(struct plat_walk *w, uint64_t *off, char *err, size_t errlen)
{
	uint32_t tag;

	if (*off + 4 > w->pw_stsize)
		return plat_fail(err, errlen, "structure block ends at 0x%llx without FDT_END",
				 (unsigned long long)w->pw_stsize);
	tag = plat_be32(w->pw_st + *off);
	switch (tag) {
	case FDT_BEGIN_NODE:
		return plat_check_begin(w, off, err, errlen);
	case FDT_PROP:
		return plat_check_prop(w, off, err, errlen);
	case FDT_NOP:
		*off += 4;
		return 0;
	case FDT_END_NODE:
		if (w->pw_depth == 0)
			return plat_fail(err, errlen, "unbalanced FDT_END_NODE at structure "
					 "offset 0x%llx", (unsigned long long)*off);
		if (--w->pw_depth == 0)
			w->pw_root_done = true;
		*off += 4;
		return 0;
	case FDT_END:
		if (!w->pw_root_done || w->pw_depth != 0)
			return plat_fail(err, errlen, "FDT_END at structure offset 0x%llx %s",
					 (unsigned long long)*off,
					 w->pw_depth ? "inside an open node" : "before any node");
		return 1;
	default:
		return plat_fail(err, errlen, "bad tag 0x%08x at structure offset 0x%llx",
				 tag, (unsigned long long)*off);
	}
}

int plat_fdt_check(const void *fdt, size_t bufsize, char *err, size_t errlen)
{
	const uint8_t *b = fdt;
	struct plat_walk w;
	uint64_t off = 0;
	int r;

	if (fdt == NULL)
		return plat_fail(err, errlen, "no blob");
	if (plat_check_header(b, bufsize, err, errlen) || plat_check_rsvmap(b, err, errlen))
		return -1;
	memset(&w, 0, sizeof(w));
	w.pw_st = b + plat_be32(b + 8);
	w.pw_stsize = plat_be32(b + 36);
	w.pw_str = b + plat_be32(b + 12);
	w.pw_strsize = plat_be32(b + 32);
	while ((r = plat_check_tag(&w, &off, err, errlen)) == 0)
		;
	if (r < 0)
		return -1;
	/* Belt and braces: libfdt's own header check must now agree. */
	if ((r = fdt_check_header(fdt)) != 0)
		return plat_fail(err, errlen, "libfdt: %s", fdt_strerror(r));
	return 0;
}

/* ------------------------------------------------------------------ parse helpers */

/* Fail with the path of node `off` in front of the reason. */
static int __attribute__((format(printf, 3, 4)))
plat_nfail(struct plat_ctx *c, int off, const char *fmt, ...)
{
	char path[PLAT_PATH_MAX];
	size_t n;
	va_list ap;

	if (c->ctx_err == NULL || c->ctx_errlen == 0)
		return -1;
	if (fdt_get_path(c->ctx_fdt, off, path, sizeof(path)) != 0)
		plat_strcpy(path, "(node with a very long path)", sizeof(path));
	plat_strcpy(c->ctx_err, path, c->ctx_errlen);
	n = strlen(c->ctx_err);
	if (n + 2 < c->ctx_errlen) {
		memcpy(c->ctx_err + n, ": ", 3);
		va_start(ap, fmt);
		vsnprintf(c->ctx_err + n + 2, c->ctx_errlen - n - 2, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The first string of a property, or NULL when absent or not terminated. */
static const char *plat_str(const void *fdt, int off, const char *name)
{
	int len;
	const char *v = fdt_getprop(fdt, off, name, &len);

	if (v == NULL || len <= 0 || memchr(v, 0, (size_t)len) == NULL)
		return NULL;
	return v;
}

/* Status absent, "okay" or "ok". */
static bool plat_node_enabled(const void *fdt, int off)
{
	const char *s;

	if (fdt_getprop(fdt, off, "status", NULL) == NULL)
		return true;
	s = plat_str(fdt, off, "status");
	return s != NULL && (strcmp(s, "okay") == 0 || strcmp(s, "ok") == 0);
}

/* device_type's first string equals `type`. */
static bool plat_is_type(const void *fdt, int off, const char *type)
{
	const char *s = plat_str(fdt, off, "device_type");

	return s != NULL && strcmp(s, type) == 0;
}

/* compatible lists `compat`. */
static bool plat_is_compat(const void *fdt, int off, const char *compat)
{
	int len;
	const char *v = fdt_getprop(fdt, off, "compatible", &len);

	return v != NULL && len > 0 && fdt_stringlist_contains(v, len, compat);
}

/* A #address-cells/#size-cells value: `dflt` when absent, -1 when malformed. */
static long long plat_ncells(const void *fdt, int off, const char *name, long long dflt)
{
	int len;
	const void *v = fdt_getprop(fdt, off, name, &len);

	if (v == NULL)
		return dflt;
	return len == 4 ? (long long)plat_be32(v) : -1;
}

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
		return plat_nfail(c, off, "numa-node-id has length %d, expected 4", len);
	if (plat_be32(v) >= PLAT_MAX_NODES)
		return plat_nfail(c, off, "numa-node-id %u exceeds the limit of %d nodes",
				  plat_be32(v), PLAT_MAX_NODES);
	*node = (int)plat_be32(v);
	plat_seen_node(c, *node);
	return 0;
}

/* A node's reg, shaped by its parent's cells (depth-1): entries and cell counts. */
static int plat_reg(struct plat_ctx *c, int depth, const uint8_t **regp, int *nentp,
		    long long *acp, long long *scp)
{
	const struct plat_level *p = &c->ctx_stack[depth - 1];
	int off = c->ctx_stack[depth].pl_off, len;
	long long ac = p->pl_ac, sc = p->pl_sc;

	*regp = fdt_getprop(c->ctx_fdt, off, "reg", &len);
	*nentp = 0;
	if (*regp == NULL)
		return 0;
	if (ac < 1 || ac > 2 || sc < 0 || sc > 2)
		return plat_nfail(c, off, "parent's #address-cells %lld / #size-cells %lld "
				  "cannot describe reg (need 1-2 / 0-2; -1 = malformed)", ac, sc);
	if (len % (int)(4 * (ac + sc)) != 0)
		return plat_nfail(c, off, "reg length %d is not a multiple of %lld "
				  "(#address-cells %lld, #size-cells %lld)",
				  len, 4 * (ac + sc), ac, sc);
	*nentp = len / (int)(4 * (ac + sc));
	*acp = ac, *scp = sc;
	return 0;
}

/* Entry i of a reg checked by plat_reg(): base and size, rejecting wrap-around. */
static int plat_reg_entry(struct plat_ctx *c, int off, const uint8_t *reg, int i,
			  long long ac, long long sc, uint64_t *base, uint64_t *size)
{
	const uint8_t *e = reg + 4 * (ac + sc) * i;

	*base = plat_cells(e, ac);
	*size = plat_cells(e + 4 * ac, sc);
	if (*size > UINT64_MAX - *base)
		return plat_nfail(c, off, "reg entry %d (base 0x%llx size 0x%llx) wraps past 2^64",
				  i, (unsigned long long)*base, (unsigned long long)*size);
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

	if (plat_reg(c, depth, &reg, &n, &ac, &sc) || plat_numa_id(c, off, &node))
		return -1;
	for (int i = 0; i < n; i++) {
		if (plat_reg_entry(c, off, reg, i, ac, sc, &base, &size))
			return -1;
		if (size == 0)
			continue;
		if (pm->pm_nmem == PLAT_MAX_MEM)
			return plat_nfail(c, off, "more than %d memory ranges (PLAT_MAX_MEM)",
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

	if (plat_reg(c, depth, &reg, &n, &ac, &sc) || plat_numa_id(c, off, &node))
		return -1;
	if (n == 0)
		return 0;	/* no hart id: cannot be started, as Linux skips it */
	if (pm->pm_nharts == PLAT_MAX_HARTS)
		return plat_nfail(c, off, "more than %d harts (PLAT_MAX_HARTS)", PLAT_MAX_HARTS);
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
		return plat_nfail(c, off, "more than %d reserved ranges (PLAT_MAX_RESV)",
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
		return plat_nfail(c, off, "more than %d shared-dma-pool regions (PLAT_MAX_POOLS)",
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
		return plat_nfail(c, off, "node name longer than %d characters",
				  PLAT_NAME_MAX - 1);
	if (plat_reg(c, depth, &reg, &n, &ac, &sc))
		return -1;
	for (int i = 0; i < n; i++) {
		if (plat_reg_entry(c, off, reg, i, ac, sc, &base, &size))
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

/* Cells of a ranges-style property on level `lvl`: child, parent and size counts. */
static int plat_range_shape(struct plat_ctx *c, int lvl, const char *prop, int len,
			    long long *ca, long long *pa, long long *sz)
{
	const struct plat_level *l = &c->ctx_stack[lvl];

	*ca = l->pl_ac, *sz = l->pl_sc, *pa = c->ctx_stack[lvl - 1].pl_ac;
	if (*ca < 1 || *ca > 4 || *pa < 1 || *pa > 4 || *sz < 0 || *sz > 4)
		return plat_nfail(c, l->pl_off, "%s: cannot use #address-cells %lld, parent "
				  "#address-cells %lld, #size-cells %lld (need 1-4, 1-4, 0-4; "
				  "-1 = malformed)", prop, *ca, *pa, *sz);
	if (len % (int)(4 * (*ca + *pa + *sz)) != 0)
		return plat_nfail(c, l->pl_off, "%s length %d is not a multiple of %lld", prop,
				  len, 4 * (*ca + *pa + *sz));
	return 0;
}

/* Map *addr from the bus of level `lvl` to its parent's bus; 1 untranslatable. */
static int plat_translate_one(struct plat_ctx *c, int lvl, uint64_t *addr)
{
	int len;
	const uint8_t *r = fdt_getprop(c->ctx_fdt, c->ctx_stack[lvl].pl_off, "ranges", &len);
	long long ca, pa, sz;

	if (r == NULL)
		return 1;	/* no ranges: not a translatable bus */
	if (len == 0)
		return 0;	/* empty ranges: identity */
	if (plat_range_shape(c, lvl, "ranges", len, &ca, &pa, &sz))
		return -1;
	for (int i = 0; i < len / (int)(4 * (ca + pa + sz)); i++) {
		const uint8_t *e = r + 4 * (ca + pa + sz) * i;
		uint64_t cb = plat_cells(e, ca), pb = plat_cells(e + 4 * ca, pa);
		uint64_t size = plat_cells(e + 4 * (ca + pa), sz);

		if (*addr < cb || *addr - cb >= size)
			continue;
		if (*addr - cb > UINT64_MAX - pb)
			return 1;
		*addr = pb + (*addr - cb);
		return 0;
	}
	return 1;
}

/* Translate a bus address of level `lvl` up to the CPU; 1 untranslatable. */
static int plat_translate(struct plat_ctx *c, int lvl, uint64_t *addr)
{
	for (; lvl >= 1; lvl--) {
		int r = plat_translate_one(c, lvl, addr);

		if (r != 0)
			return r;
	}
	return 0;
}

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
	if (plat_range_shape(c, depth, "dma-ranges", len, &ca, &pa, &sz))
		return -1;
	for (int i = 0; i < len / (int)(4 * (ca + pa + sz)); i++) {
		const uint8_t *e = d + 4 * (ca + pa + sz) * i;

		base = plat_cells(e + 4 * ca, pa);
		size = plat_cells(e + 4 * (ca + pa), sz);
		if (size == 0)
			continue;
		if ((r = plat_translate(c, depth - 1, &base)) < 0)
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
		return plat_nfail(c, off, "distance-matrix length %d is not a multiple of 12",
				  len);
	for (int i = 0; i < len / 12; i++) {
		uint32_t a = plat_be32(m + 12 * i), b = plat_be32(m + 12 * i + 4);
		uint32_t d = plat_be32(m + 12 * i + 8);

		if (a >= PLAT_MAX_NODES || b >= PLAT_MAX_NODES)
			return plat_nfail(c, off, "distance-matrix entry %d names node %u, limit "
					  "is %d nodes", i, a > b ? a : b, PLAT_MAX_NODES);
		if (d > 255)
			return plat_nfail(c, off, "distance-matrix entry %d: distance %u exceeds "
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

/* Push the level for node `off` at `depth`. */
static void plat_push(struct plat_ctx *c, int off, int depth)
{
	struct plat_level *l = &c->ctx_stack[depth];

	l->pl_off = off;
	l->pl_ac = plat_ncells(c->ctx_fdt, off, "#address-cells", 2);
	l->pl_sc = plat_ncells(c->ctx_fdt, off, "#size-cells", 1);
	l->pl_enabled = depth == 0 ||
		(c->ctx_stack[depth - 1].pl_enabled && plat_node_enabled(c->ctx_fdt, off));
}

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
		plat_push(c, off, depth);
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
		struct plat_zone z;
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

/* Zones by base. */
static int plat_cmp_zone(const void *a, const void *b)
{
	return plat_cmp64(((const struct plat_zone *)a)->pz_base,
			  ((const struct plat_zone *)b)->pz_base);
}

/* ------------------------------------------------------------------ zones */

/* Account the page-aligned range [a, b) of one zone type on `node`. */
static void plat_zone_piece(struct plat_map *pm, int node, enum plat_zone_type t,
			    uint64_t a, uint64_t b)
{
	struct plat_zone *pz = NULL;

	if (a >= b)
		return;
	for (unsigned i = 0; i < pm->pm_nzones && pz == NULL; i++)
		if (pm->pm_zones[i].pz_node == node && pm->pm_zones[i].pz_type == t)
			pz = &pm->pm_zones[i];
	if (pz == NULL) {
		VERIFY(pm->pm_nzones < PLAT_MAX_ZONES);
		pz = &pm->pm_zones[pm->pm_nzones++];
		*pz = (struct plat_zone){ node, t, a, b, 0 };
	}
	pz->pz_base = plat_min(pz->pz_base, a);
	pz->pz_end = plat_max(pz->pz_end, b);
	pz->pz_pages += (b - a) >> MM_PAGE_SHIFT;
}

/* Usable bytes [a, b) on `node`: round inward to pages, split into zones. */
static void plat_zone_usable(struct plat_map *pm, int node, uint64_t a, uint64_t b)
{
	uint64_t dma = 0;

	if (a > UINT64_MAX - (MM_PAGE_SIZE - 1))
		return;
	a = (a + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
	b &= ~(MM_PAGE_SIZE - 1);
	if (a >= b)
		return;
	if (node < 0)
		node = 0;
	if (pm->pm_has_dma_limit && pm->pm_dma_limit < PLAT_4G)
		dma = pm->pm_dma_limit & ~(MM_PAGE_SIZE - 1);
	plat_zone_piece(pm, node, PLAT_ZONE_DMA, a, plat_min(b, dma));
	plat_zone_piece(pm, node, PLAT_ZONE_DMA32, plat_max(a, dma), plat_min(b, PLAT_4G));
	plat_zone_piece(pm, node, PLAT_ZONE_NORMAL, plat_max(a, PLAT_4G), b);
}

/* Memory [a, b) on `node` minus every reserved range (sorted by base). */
static void plat_zone_subtract(struct plat_map *pm, int node, uint64_t a, uint64_t b)
{
	uint64_t cur = a;

	for (unsigned i = 0; i < pm->pm_nresv && cur < b; i++) {
		const struct plat_resv *pr = &pm->pm_resv[i];
		uint64_t rend = pr->pr_base + pr->pr_size;

		if (pr->pr_base >= b)
			break;
		if (rend <= cur)
			continue;
		if (pr->pr_base > cur)
			plat_zone_usable(pm, node, cur, pr->pr_base);
		cur = rend;
	}
	if (cur < b)
		plat_zone_usable(pm, node, cur, b);
}

void plat_compute_zones(struct plat_map *pm)
{
	uint64_t covered = 0;

	plat_sort(pm->pm_mem, pm->pm_nmem, sizeof(pm->pm_mem[0]), plat_cmp_mem);
	plat_sort(pm->pm_resv, pm->pm_nresv, sizeof(pm->pm_resv[0]), plat_cmp_resv);
	pm->pm_nzones = 0;
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		const struct plat_mem *m = &pm->pm_mem[i];
		uint64_t a = plat_max(m->pmr_base, covered), b = m->pmr_base + m->pmr_size;

		/* Sorted by base, so earlier ranges cover exactly [.., covered) above a. */
		if (a < b)
			plat_zone_subtract(pm, m->pmr_node, a, b);
		covered = plat_max(covered, b);
	}
	plat_sort(pm->pm_zones, pm->pm_nzones, sizeof(pm->pm_zones[0]), plat_cmp_zone);
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
	plat_compute_zones(pm);
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
	plat_compute_zones(pm);
	return 0;
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

const char *plat_zone_name(enum plat_zone_type t)
{
	switch (t) {
	case PLAT_ZONE_DMA:
		return "DMA";
	case PLAT_ZONE_DMA32:
		return "DMA32";
	case PLAT_ZONE_NORMAL:
		return "NORMAL";
	default:
		return "?";
	}
}

/* ------------------------------------------------------------------ printing */

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

void plat_print(const struct plat_map *pm, int (*out)(const char *fmt, ...))
{
	out("platform: %s\n", pm->pm_has_model ? pm->pm_model : "(no model)");
	plat_print_harts(pm, out);
	plat_print_ranges(pm, out);
	plat_print_dma_numa(pm, out);
	out("  zones: %u\n", pm->pm_nzones);
	for (unsigned i = 0; i < pm->pm_nzones; i++) {
		const struct plat_zone *pz = &pm->pm_zones[i];

		out("    node %d %-6s [0x%016llx-0x%016llx) %llu pages (%llu MiB)\n",
		    pz->pz_node, plat_zone_name(pz->pz_type), (unsigned long long)pz->pz_base,
		    (unsigned long long)pz->pz_end, (unsigned long long)pz->pz_pages,
		    (unsigned long long)(pz->pz_pages >> (20 - MM_PAGE_SHIFT)));
	}
}
