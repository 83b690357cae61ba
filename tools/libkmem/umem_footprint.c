/*
 * umem_footprint.c - where a process's resident memory goes under libkmem
 * (KMEM_OPTIONS=footprint: a table on stderr at exit).
 *
 * 1. What is measured
 * -------------------
 * A page counts when it is present in the process's page tables: bit 63 of
 * its /proc/self/pagemap entry, which a process may read for itself without
 * privileges.  That is what RSS counts; a page reserved with mmap but never
 * touched is not present.  VmRSS and VmHWM from /proc/self/status are
 * printed beside the table as the kernel's own total, a second reader.
 *
 * 2. Regions
 * ----------
 * The heap's present pages are classified through their page descriptors
 * (mm/page.h): a reserved page is boot metadata (bootmem: the page
 * descriptors, the per-slot page areas); a page whose owner word names a
 * slab belongs to that slab's cache, kmalloc's classes ("kmalloc-",
 * "dma-kmalloc-") being buffers and every other cache (magazines, slab
 * headers, bufctls, kmalloc's large-block records, node parts) kmem's own
 * structures; an allocated page without a slab is kmem metadata taken
 * from its arena by the page (the cache structures, mm/kmem.c §3); a free
 * page (buddy list or per-slot cache, head or tail of its block) is free
 * memory still resident.  The
 * large and aligned ranges are whole regions.  libkmem.so's mappings come
 * from /proc/self/maps (the file that holds this function): text,
 * read-only data, data, and the anonymous mapping right after them up to
 * the linker's _end, .bss.
 * Everything else present (the program, libc, stacks, vmem's pages from
 * mmap) is "other".
 *
 * 3. Rules
 * --------
 * No malloc and no stdio: buffers are on the stack, output goes through
 * printk.  The walk runs at exit with the allocator quiet; it reads page
 * descriptors and slab headers without locks, which is safe only then.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mm/kmem_impl.h"
#include "mm/page_impl.h"
#include "umem_impl.h"

/* A cache and its node part take one page (mm/kmem.c §3; docs/libkmem.md §10). */
_Static_assert(sizeof(struct kmem_cache) <= MM_PAGE_SIZE, "a libkmem cache outgrew its page");

/* The end of this library's .bss (the linker's symbol, bound inside the library). */
extern char _end[] __attribute__((visibility("hidden")));

#define UFP_BATCH	512		/* pagemap entries read per call */
#define UFP_PRESENT	(1ull << 63)	/* pagemap: page present */
#define UFP_MAXORDER_PAGES (1u << 12)	/* a tail page's head is at most this far back */

/* The regions of §2, in print order. */
enum ufp_region {
	UFP_HEAP_BOOT, UFP_HEAP_META, UFP_HEAP_SLAB_META, UFP_HEAP_BUF, UFP_HEAP_FREE,
	UFP_LARGE, UFP_ALIGNED, UFP_LIB_TEXT, UFP_LIB_RO, UFP_LIB_DATA, UFP_LIB_BSS,
	UFP_OTHER, UFP_NREGIONS
};

static const char *const ufp_names[UFP_NREGIONS][2] = {
	{ "heap.boot", "page descriptors and other bootmem" },
	{ "heap.meta", "cache structures (a page each) and other kmem pages" },
	{ "heap.slabmeta", "slabs of kmem's own caches (magazines, headers, ...)" },
	{ "heap.buffers", "slabs of kmalloc classes" },
	{ "heap.free", "free pages still resident" },
	{ "large", "kmalloc's large arena" },
	{ "aligned", "the aligned arena" },
	{ "lib.text", "libkmem.so code" },
	{ "lib.ro", "libkmem.so read-only data" },
	{ "lib.data", "libkmem.so data" },
	{ "lib.bss", "libkmem.so .bss" },
	{ "other", "the program, libc, stacks, vmem's mmap pages" },
};

/* One footprint walk: present pages per region. */
struct ufp_walk {
	int fw_fd;			/* /proc/self/pagemap */
	uint64_t fw_pages[UFP_NREGIONS];	/* present pages per region */
};

/* Is the kmem cache a kmalloc class (its buffers are the program's blocks)? */
static bool ufp_is_kmalloc(const kmem_cache_t *cp)
{
	return strncmp(cp->cache_name, "kmalloc-", 8) == 0 ||
	       strncmp(cp->cache_name, "dma-kmalloc-", 12) == 0;
}

/* The region of one present heap page, from its descriptor (§2). */
static enum ufp_region ufp_heap_page(uintptr_t va)
{
	struct page *pg = page_lookup(virt_to_phys((void *)va));
	unsigned back = 0;

	if (pg == NULL || pg->pg_state == PG_RESERVED)
		return UFP_HEAP_BOOT;
	while (pg->pg_state == PG_TAIL && back++ < UFP_MAXORDER_PAGES)
		pg--;			/* the head carries the block's state */
	if (pg->pg_state == PG_FREE || pg->pg_state == PG_CACHED)
		return UFP_HEAP_FREE;
	pg = page_lookup(virt_to_phys((void *)va));	/* owner words are per page */
	if (pg->pg_owner & 1)		/* a slab page: the slab's address | 1 (mm/kmem.c §3) */
		return ufp_is_kmalloc(((struct kmem_slab *)(pg->pg_owner & ~(uintptr_t)1))->slab_cache)
		       ? UFP_HEAP_BUF : UFP_HEAP_SLAB_META;
	return UFP_HEAP_META;
}

/* Count the present pages of [lo, hi) into region r (r < 0: the heap's own classes). */
static void ufp_count(struct ufp_walk *w, uintptr_t lo, uintptr_t hi, int r)
{
	uint64_t ent[UFP_BATCH];

	for (uintptr_t a = lo; a < hi; ) {
		size_t n = (hi - a) / MM_PAGE_SIZE < UFP_BATCH ? (hi - a) / MM_PAGE_SIZE : UFP_BATCH;
		ssize_t got = pread(w->fw_fd, ent, n * sizeof(ent[0]),
				    (off_t)(a / MM_PAGE_SIZE * sizeof(ent[0])));

		if (got <= 0)
			return;
		for (size_t i = 0; i < (size_t)got / sizeof(ent[0]); i++)
			if (ent[i] & UFP_PRESENT)
				w->fw_pages[r >= 0 ? r : (int)ufp_heap_page(a + i * MM_PAGE_SIZE)]++;
		a += (size_t)got / sizeof(ent[0]) * MM_PAGE_SIZE;
	}
}

/* One line of /proc/self/maps: its range, permissions and path (or ""). */
struct ufp_map {
	uintptr_t um_lo, um_hi;		/* the mapping's range */
	char um_perm[5];		/* "r-xp" and its NUL */
	const char *um_path;		/* the file, "" for anonymous (points into the line) */
};

/* Parse "lo-hi perm off dev inode   path" in place; false if malformed. */
static bool ufp_parse(char *line, struct ufp_map *m)
{
	char *s = line;
	int field = 0;

	m->um_lo = strtoull(s, &s, 16);
	if (*s++ != '-')
		return false;
	m->um_hi = strtoull(s, &s, 16);
	if (*s++ != ' ')
		return false;
	memcpy(m->um_perm, s, 4);
	m->um_perm[4] = '\0';
	while (*s != '\0' && field < 4) {	/* skip perm, offset, dev and inode */
		while (*s != '\0' && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
		field++;
	}
	m->um_path = s;
	return true;
}

/* The maps walk: the excluded ranges, our library's path, where its last mapping ended. */
struct ufp_maps {
	const uintptr_t (*mw_excl)[2];	/* counted on their own (heap, large, aligned) */
	unsigned mw_nexcl;		/* entries in mw_excl */
	bool mw_counting;		/* second pass: the path is known */
	char mw_path[256];		/* libkmem.so's file */
	uintptr_t mw_end;		/* end of its last mapping so far (0: none) */
};

/* Count [lo, hi) into region r, minus the excluded ranges. */
static void ufp_count_clipped(struct ufp_walk *w, const struct ufp_maps *mw, uintptr_t lo,
			      uintptr_t hi, int r)
{
	while (lo < hi) {
		uintptr_t end = hi;
		bool inside = false;

		for (unsigned i = 0; i < mw->mw_nexcl && !inside; i++) {
			inside = lo >= mw->mw_excl[i][0] && lo < mw->mw_excl[i][1];
			if (inside)
				end = mw->mw_excl[i][1];	/* skip the excluded range */
			else if (mw->mw_excl[i][0] > lo && mw->mw_excl[i][0] < end)
				end = mw->mw_excl[i][0];	/* count up to it */
		}
		if (!inside)
			ufp_count(w, lo, end, r);
		lo = end;
	}
}

/* One mapping: pass 1 finds our library's path, pass 2 counts it into its region. */
static void ufp_map(struct ufp_walk *w, struct ufp_maps *mw, const struct ufp_map *m)
{
	uintptr_t self = (uintptr_t)&ufp_map;
	int r = UFP_OTHER;

	if (!mw->mw_counting) {
		if (self >= m->um_lo && self < m->um_hi)
			snprintf(mw->mw_path, sizeof(mw->mw_path), "%s", m->um_path);
		return;
	}
	if (mw->mw_path[0] != '\0' && strcmp(m->um_path, mw->mw_path) == 0) {
		r = m->um_perm[2] == 'x' ? UFP_LIB_TEXT : m->um_perm[1] == 'w' ? UFP_LIB_DATA
										 : UFP_LIB_RO;
		mw->mw_end = m->um_hi;
	} else if (mw->mw_end == m->um_lo && m->um_path[0] == '\0') {
		/* anonymous, right after the library's data: .bss up to _end, then other */
		uintptr_t end = ((uintptr_t)_end + MM_PAGE_SIZE - 1) & ~(uintptr_t)(MM_PAGE_SIZE - 1);

		if (end > m->um_lo && end < m->um_hi) {
			ufp_count_clipped(w, mw, m->um_lo, end, UFP_LIB_BSS);
			ufp_count_clipped(w, mw, end, m->um_hi, UFP_OTHER);
			return;
		}
		r = UFP_LIB_BSS;
	}
	ufp_count_clipped(w, mw, m->um_lo, m->um_hi, r);
}

/* Read /proc/self/maps line by line into ufp_map; false if it cannot be opened. */
static bool ufp_maps_pass(struct ufp_walk *w, struct ufp_maps *mw)
{
	char buf[4096];
	size_t have = 0;
	ssize_t r = 1;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	while (r > 0 && (r = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *nl, *line = buf;
		struct ufp_map m;

		have += (size_t)r;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (ufp_parse(line, &m))
				ufp_map(w, mw, &m);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line longer than the buffer: drop it */
	}
	close(fd);
	return true;
}

/* Every mapping except the excluded ranges: two passes (the library's first lines precede ufp_map's). */
static void ufp_maps(struct ufp_walk *w, const uintptr_t excl[][2], unsigned nexcl)
{
	struct ufp_maps mw = { .mw_excl = excl, .mw_nexcl = nexcl };

	if (ufp_maps_pass(w, &mw)) {
		mw.mw_counting = true;
		ufp_maps_pass(w, &mw);
	}
}

/* VmRSS and VmHWM from /proc/self/status, in KiB (0 if unreadable). */
static void ufp_status(uint64_t *rss, uint64_t *hwm)
{
	char buf[4096];
	ssize_t n = 0, r;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	char *p;

	*rss = *hwm = 0;
	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = '\0';
	if ((p = strstr(buf, "VmRSS:")) != NULL)
		*rss = strtoull(p + 6, NULL, 10);
	if ((p = strstr(buf, "VmHWM:")) != NULL)
		*hwm = strtoull(p + 6, NULL, 10);
}

void umem_footprint(const uintptr_t ranges[3][2])
{
	struct ufp_walk w = { .fw_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC) };
	uint64_t rss, hwm, sum = 0, lib = 0;

	if (w.fw_fd < 0) {
		printk("libkmem: footprint: cannot open /proc/self/pagemap\n");
		return;
	}
	ufp_count(&w, ranges[0][0], ranges[0][1], -1);
	ufp_count(&w, ranges[1][0], ranges[1][1], UFP_LARGE);
	ufp_count(&w, ranges[2][0], ranges[2][1], UFP_ALIGNED);
	ufp_maps(&w, ranges, 3);
	close(w.fw_fd);
	ufp_status(&rss, &hwm);
	printk("libkmem: footprint: resident KiB by region (VmRSS %llu, VmHWM %llu)\n",
	       (unsigned long long)rss, (unsigned long long)hwm);
	for (int r = 0; r < UFP_NREGIONS; r++) {
		uint64_t kib = w.fw_pages[r] * (MM_PAGE_SIZE / 1024);

		sum += kib;
		lib += r != UFP_OTHER && r != UFP_HEAP_BUF && r != UFP_LARGE && r != UFP_ALIGNED ? kib : 0;
		printk("libkmem: footprint: %-14s %8llu  %s\n", ufp_names[r][0],
		       (unsigned long long)kib, ufp_names[r][1]);
	}
	printk("libkmem: footprint: %-14s %8llu  every region above except buffers, large, "
	       "aligned and other\n", "allocator", (unsigned long long)lib);
	printk("libkmem: footprint: %-14s %8llu  every region\n", "total", (unsigned long long)sum);
}
