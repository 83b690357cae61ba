/*
 * plat_fdt.c - cells, strings, status, reg and `ranges` translation over
 * libfdt (see plat_fdt.h).  One copy of these rules serves the platform map
 * and the drivers, so a device's registers and a DMA window are read and
 * translated the same way, with the same checks on malformed input:
 *
 *   - #address-cells / #size-cells absent means the devicetree spec's
 *     defaults, 2 and 1; a value that is not one cell is malformed (-1);
 *   - a reg needs 1-2 address cells and 0-2 size cells, a length that is a
 *     whole number of entries, and entries that do not wrap past 2^64;
 *   - a ranges-style property needs 1-4 child and parent address cells and
 *     0-4 size cells; more than two cells keep the low 64 bits, which only
 *     PCI-style 3-cell bus addresses on a translation path ever need;
 *   - translation goes up one bus at a time: empty ranges is identity, an
 *     absent ranges or no covering entry leaves the address untranslatable.
 */
#include <libfdt.h>

#include "kernel/plat_fdt.h"

int plat_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int plat_node_fail(const void *fdt, int off, char *err, size_t errlen, const char *fmt, ...)
{
	char path[PLAT_PATH_MAX];
	size_t n;
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	if (fdt_get_path(fdt, off, path, sizeof(path)) != 0)
		plat_strcpy(path, "(node with a very long path)", sizeof(path));
	plat_strcpy(err, path, errlen);
	n = strlen(err);
	if (n + 2 < errlen) {
		memcpy(err + n, ": ", 3);
		va_start(ap, fmt);
		vsnprintf(err + n + 2, errlen - n - 2, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void plat_strcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

uint32_t plat_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t plat_cells(const void *p, long long n)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (long long i = 0; i < n; i++)
		v = v << 32 | plat_be32(b + 4 * i);
	return v;
}

const char *plat_str(const void *fdt, int off, const char *name)
{
	int len;
	const char *v = fdt_getprop(fdt, off, name, &len);

	if (v == NULL || len <= 0 || memchr(v, 0, (size_t)len) == NULL)
		return NULL;
	return v;
}

bool plat_node_enabled(const void *fdt, int off)
{
	const char *s;

	if (fdt_getprop(fdt, off, "status", NULL) == NULL)
		return true;
	s = plat_str(fdt, off, "status");
	return s != NULL && (strcmp(s, "okay") == 0 || strcmp(s, "ok") == 0);
}

bool plat_is_type(const void *fdt, int off, const char *type)
{
	const char *s = plat_str(fdt, off, "device_type");

	return s != NULL && strcmp(s, type) == 0;
}

bool plat_is_compat(const void *fdt, int off, const char *compat)
{
	int len;
	const char *v = fdt_getprop(fdt, off, "compatible", &len);

	return v != NULL && len > 0 && fdt_stringlist_contains(v, len, compat);
}

long long plat_ncells(const void *fdt, int off, const char *name, long long dflt)
{
	int len;
	const void *v = fdt_getprop(fdt, off, name, &len);

	if (v == NULL)
		return dflt;
	return len == 4 ? (long long)plat_be32(v) : -1;
}

void plat_level_set(const void *fdt, struct plat_level *stack, int depth, int off)
{
	struct plat_level *l = &stack[depth];

	l->pl_off = off;
	l->pl_ac = plat_ncells(fdt, off, "#address-cells", 2);
	l->pl_sc = plat_ncells(fdt, off, "#size-cells", 1);
	l->pl_enabled = depth == 0 || (stack[depth - 1].pl_enabled && plat_node_enabled(fdt, off));
}

int plat_levels(const void *fdt, int node, struct plat_level *stack, int *depth)
{
	int d = fdt_node_depth(fdt, node);

	if (d < 0 || d >= PLAT_MAX_DEPTH)
		return -1;
	for (int i = 0; i <= d; i++) {
		int off = fdt_supernode_atdepth_offset(fdt, node, i, NULL);

		if (off < 0)
			return -1;
		plat_level_set(fdt, stack, i, off);
	}
	*depth = d;
	return 0;
}

int plat_reg(const void *fdt, const struct plat_level *stack, int depth, const uint8_t **regp,
	     int *nentp, long long *acp, long long *scp, char *err, size_t errlen)
{
	const struct plat_level *p = &stack[depth - 1];
	int off = stack[depth].pl_off, len;
	long long ac = p->pl_ac, sc = p->pl_sc;

	*regp = fdt_getprop(fdt, off, "reg", &len);
	*nentp = 0;
	if (*regp == NULL)
		return 0;
	if (ac < 1 || ac > 2 || sc < 0 || sc > 2)
		return plat_node_fail(fdt, off, err, errlen, "parent's #address-cells %lld / "
				      "#size-cells %lld cannot describe reg (need 1-2 / 0-2; "
				      "-1 = malformed)", ac, sc);
	if (len % (int)(4 * (ac + sc)) != 0)
		return plat_node_fail(fdt, off, err, errlen, "reg length %d is not a multiple of "
				      "%lld (#address-cells %lld, #size-cells %lld)",
				      len, 4 * (ac + sc), ac, sc);
	*nentp = len / (int)(4 * (ac + sc));
	*acp = ac, *scp = sc;
	return 0;
}

int plat_reg_entry(const void *fdt, int off, const uint8_t *reg, int i, long long ac,
		   long long sc, uint64_t *base, uint64_t *size, char *err, size_t errlen)
{
	const uint8_t *e = reg + 4 * (ac + sc) * i;

	*base = plat_cells(e, ac);
	*size = plat_cells(e + 4 * ac, sc);
	if (*size > UINT64_MAX - *base)
		return plat_node_fail(fdt, off, err, errlen, "reg entry %d (base 0x%llx size "
				      "0x%llx) wraps past 2^64", i, (unsigned long long)*base,
				      (unsigned long long)*size);
	return 0;
}

int plat_range_shape(const void *fdt, const struct plat_level *stack, int lvl, const char *prop,
		     int len, long long *ca, long long *pa, long long *sz, char *err, size_t errlen)
{
	const struct plat_level *l = &stack[lvl];

	*ca = l->pl_ac, *sz = l->pl_sc, *pa = stack[lvl - 1].pl_ac;
	if (*ca < 1 || *ca > 4 || *pa < 1 || *pa > 4 || *sz < 0 || *sz > 4)
		return plat_node_fail(fdt, l->pl_off, err, errlen, "%s: cannot use #address-cells "
				      "%lld, parent #address-cells %lld, #size-cells %lld (need "
				      "1-4, 1-4, 0-4; -1 = malformed)", prop, *ca, *pa, *sz);
	if (len % (int)(4 * (*ca + *pa + *sz)) != 0)
		return plat_node_fail(fdt, l->pl_off, err, errlen, "%s length %d is not a multiple "
				      "of %lld", prop, len, 4 * (*ca + *pa + *sz));
	return 0;
}

/* Map *addr from the bus of level lvl to its parent's bus; 1 untranslatable. */
static int plat_translate_one(const void *fdt, const struct plat_level *stack, int lvl,
			      uint64_t *addr, char *err, size_t errlen)
{
	int len;
	const uint8_t *r = fdt_getprop(fdt, stack[lvl].pl_off, "ranges", &len);
	long long ca, pa, sz;

	if (r == NULL)
		return 1;	/* no ranges: not a translatable bus */
	if (len == 0)
		return 0;	/* empty ranges: identity */
	if (plat_range_shape(fdt, stack, lvl, "ranges", len, &ca, &pa, &sz, err, errlen))
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

int plat_translate(const void *fdt, const struct plat_level *stack, int lvl, uint64_t *addr,
		   char *err, size_t errlen)
{
	for (; lvl >= 1; lvl--) {
		int r = plat_translate_one(fdt, stack, lvl, addr, err, errlen);

		if (r != 0)
			return r;
	}
	return 0;
}
