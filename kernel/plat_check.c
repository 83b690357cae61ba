/*
 * plat_check.c - the structural check of a flattened device tree, run before
 * any libfdt lookup reads the blob.
 *
 * Input is untrusted: a firmware bug, a hand-made -dtb or a fuzzer.  libfdt
 * 1.6.1 trusts offsets it has not checked (it has no fdt_check_full()), so
 * plat_fdt_check() validates the whole blob first: the header, the three
 * blocks inside totalsize (which must fit the buffer), the reservation map's
 * terminator, and every tag of the structure block (names and values inside
 * it, property name offsets inside the strings block, balanced nodes,
 * properties before subnodes, one root, FDT_END, nesting below
 * PLAT_MAX_DEPTH).  After it passes, libfdt reads only inside the blob, and
 * the walk in platform.c may assume the depth bound.  Each failure returns -1
 * with a one-line reason.  Portable (libfdt and <plat_env.h>); the kernel runs
 * it in dt_init() before the drivers' first lookup, fdtinfo and the fuzzer
 * through plat_parse().
 */
#include <libfdt.h>

#include "kernel/plat_fdt.h"
#include "kernel/platform.h"

#define PLAT_HDR_SIZE	40		/* a version 17 header */
#define PLAT_VERSION	17		/* the only version we read */

/* Round up to the structure block's 4-byte alignment. */
static inline uint64_t plat_align4(uint64_t x) { return (x + 3) & ~(uint64_t)3; }

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
