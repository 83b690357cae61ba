/*
 * page_init.c - page descriptors, the start of the page allocator, and the
 * deferred descriptors that zones grow into later.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * page_init turns the platform's description (struct page_layout: zones per
 * node as page_zones_derive makes them, distances, DMA limit) and bootmem's
 * free ranges into running zones.
 * Physical memory is cut into *sections* of 2^PAGE_SECT_SHIFT bytes (the
 * environment's MM_PAGE_SECT_SHIFT: 128 MiB in the kernel and the host
 * tests, 4 MiB in libkmem; never less than one block of PAGE_MAX_ORDER);
 * every section that meets a zone gets a *map*: an array of one struct page
 * per 4 KiB page, allocated by bootmem on the node of the memory it
 * describes, or, when the environment defines MM_PAGE_FLAT (libkmem), its
 * part of one *flat map* for all sections that the environment provides
 * zero-filled (mm_flat_map; mm/page.h).  A *piece* is a free range from
 * bootmem cut at zone boundaries.
 * A *deferred* section is one whose free pages are not all on the buddy
 * lists yet: they count as free in their zone, and the zone *grows* into
 * them (page_grow), PAGE_GROW_BYTES at a time, the first time its buddy
 * lists cannot serve a request, as Linux's DEFERRED_STRUCT_PAGE_INIT grows
 * a zone in deferred_grow_zone.  A section map is written whole at the
 * first grow of its section (PAGE_GROW_BYTES is the section); a flat map is
 * written *lazily*, descriptor by descriptor, by buddy.c when a block is
 * given to the lists, split or handed out, and a grow step is the memory
 * one page of it describes (512 KiB).
 * What is gained is what is never written: a process using libkmem touches
 * only the descriptors of the pages it is handed (32 B per 4 KiB of the
 * heap otherwise: 2 MiB resident for a 256 MiB heap), and a large machine
 * boots without writing maps it may never need.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * Section maps: page_mem.pgm_sect[(pa - pgm_base) >> PAGE_SECT_SHIFT]
 * locates the map of the section holding pa (0 for a section with no zone,
 * or deferred); it is stored biased by the section's first pfn, so
 * page_slot is a subtraction, a shift, a bounds check, a load, a test and
 * an add: the free fast paths use it inline.  Flat map: page_mem.pgm_flat
 * is the descriptor of pgm_base and pgm_span the bytes it covers, so
 * page_slot is a subtraction, a bounds check, a shift and an add.
 * page_state.pgs_sect[s] keeps the unbiased map (psc_map), whether it is
 * deferred, how far it is given (psc_next: its free pages below it are on
 * the lists) and the one zone its free pages belong to (psc_zone,
 * PAGE_NO_ZONE when none or several).
 * pgm_base is section aligned, hence a block (at most 4 MiB, aligned) never
 * crosses a section and its descriptors are contiguous.  Every descriptor
 * of a published section map is initialised: pages of a piece are managed
 * by their zone (PG_FREE heads and PG_TAIL), all others are PG_RESERVED
 * with pg_zone PAGE_NO_ZONE.  A flat map's descriptor is written (pg_pa is
 * its page's address) iff its page heads a free block, is or was inside a
 * block handed out, or was once merged into a free block; every other one
 * is still zero, which reads as PG_RESERVED with pg_owner 0: reserved and
 * deferred pages, and the never-split inside of free blocks.  page_lookup
 * says NULL for such a descriptor, and merges never read one that page_grow
 * has not given yet (buddy.c, buddy_given), so its page of the map stays
 * unmapped.  page_init refuses a flat map that would describe address 0
 * (a zero descriptor's pg_pa would then look written).  A zone's z_managed is the number of pages of its
 * pieces, deferred ones included; z_present comes from the platform map;
 * z_spanned is its span.  The difference present - managed is what the
 * kernel, firmware and bootmem (these maps included) hold.
 * Deferral (page_layout.lay_defer = E bytes, 0: none): walking each zone's
 * sections in address order, page_init gives grow steps until the zone has
 * E bytes of free pages on its lists, and defers the rest, except a section
 * whose free pages belong to several zones (given at once, so a grow never
 * touches two zones).  Invariants, per zone, under z_lock:
 *   - a deferred section lies in [z_dnext, z_dend); its pages from psc_next
 *     on are not given: with section maps it has pgm_sect 0 (psc_next is
 *     its start), with a flat map its first free page there is unwritten;
 *     a section that is not deferred has its map published;
 *   - z_deferred is the number of free pages of its deferred sections, and
 *     z_free + z_deferred is the zone's free count (zone_free_pages), which
 *     watermarks, page_free_count, zoneinfo's "pages free" and the zone
 *     info snapshots use; the lists alone hold z_free (buddy.c);
 *   - growing moves pages from z_deferred to z_free, so "free" does not
 *     change: only a grow counter (zs_grows) and nr_deferred_pages do.
 * page_grow takes the lowest deferred section at or above z_dnext; at its
 * first step it writes the section map and stores its biased pointer with a
 * release store; it gives the pieces of the next PAGE_GROW_BYTES from
 * psc_next to the buddy lists, and moves z_dnext past the section once all
 * is given; zone_buddy_alloc (zone.c) calls it, one
 * step at a time, whenever buddy_alloc finds no block of the order asked
 * and z_deferred is not 0, i.e. before the request falls back to another
 * zone, drains the caches, calls the reclaim hook or fails.
 *
 * 3. Locking
 * ----------
 * page_init runs once on the boot hart, before any page_alloc.  The only
 * parallel part is the descriptor fill: cpu_call_all runs page_init_worker
 * on every hart; each section has one owner hart chosen beforehand (the
 * harts of the section's node in turn, the boot hart for a node without
 * harts), so no two harts write one map.  Owners give their pieces to the
 * buddy lists under the zone lock; a block's buddy is always in the same
 * section, so merges never look at a map another hart is filling.
 * After boot, z_lock guards a zone's deferred state: z_deferred, the
 * cursor [z_dnext, z_dend), psc_deferred and psc_next of its sections, and
 * the writing of their maps (page_grow asserts it); a flat map's lazy
 * writes (buddy.c) happen under the lock of the zone of the block.  Growth happens on whichever hart
 * first finds the lists short, with interrupts off, inside the allocation
 * that needed it; harts that race for it serialise on the lock, and the
 * later ones find the pages on the lists.  Readers of pgm_sect take no
 * lock: an address in a grown section reaches anyone only through an
 * allocation that took z_lock after the grow, and any other lookup (a bad
 * free, kfree's probe) sees either 0 or a map whose descriptors the release
 * store ordered before it.  A flat map has no pointer to publish: an
 * unlocked reader of it sees a zero descriptor (not a slab, not allocated)
 * or one being written, whose pg_owner word then holds a free list link,
 * even, hence "not a slab" as well.
 *
 * 4. Per-hart layer
 * -----------------
 * page_init allocates each online hart's struct page_hart (pcp.c) on the
 * hart's node.  Harts that come online later have no cache and must not
 * allocate pages: call page_init after all harts are up.  Per-hart caches
 * refill through zone_buddy_alloc, so they grow a zone like any request.
 *
 * 5. Failure semantics
 * --------------------
 * An unusable layout (overlapping zones, a DMA zone above dma_limit, too
 * many nodes, sections or pieces, no memory or address space for the maps,
 * a flat map that would describe address 0) makes page_init
 * print the reason and return -1; bootmem may then be closed, so the caller
 * panics.  The maps of deferred sections are allocated at boot like the
 * others (not zeroed, so bootmem leaves them untouched; a flat map is
 * address space the environment fills with zeros on use), hence a grow needs
 * no memory and cannot fail; a zone with nothing left to grow fails the
 * request as before.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * page_check walks every zone's lists and every cache, and checks the
 * deferral invariants of §2 (page_check_deferred).  pgs_inited counts
 * descriptors written (growth included; a flat map's one by one as buddy.c
 * writes them), pgs_unzoned the free pages that
 * fell in no zone (reported at boot: a platform map and bootmem that
 * disagree); each zone counts its grows (zoneinfo nr_deferred_grows) and
 * shows its deferred pages (nr_deferred_pages).
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"
#include "mm/bootmem.h"

struct page_mem page_mem;
struct page_state page_state;

#define PAGE_SECT_BYTES		(1ull << PAGE_SECT_SHIFT)
#define PAGE_MAX_SECTS		(1ull << 20)	/* 128 TiB of span: a sanity bound */

struct page *page_lookup(paddr_t pa)
{
	return page_lookup_inline(pa);
}

/* Copy one zone row in; -1 on a row that cannot be used or that lies above
 * what its type may hold (page_zone_ceiling, the zone policy's one home). */
static int page_import_zone(const struct page_zone_desc *d, paddr_t dma_limit,
			    paddr_t dma32_limit)
{
	int node = d->pzd_node < 0 ? 0 : d->pzd_node;
	paddr_t base = (d->pzd_base + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
	paddr_t end = d->pzd_end & ~(MM_PAGE_SIZE - 1);
	struct page_zone *zp;

	if (node >= MM_MAX_NODES || (unsigned)d->pzd_type >= PAGE_NR_ZONE_TYPES || base >= end) {
		printk("page_init: zone node %d type %d [0x%llx-0x%llx) unusable\n", d->pzd_node,
		       (int)d->pzd_type, (unsigned long long)d->pzd_base,
		       (unsigned long long)d->pzd_end);
		return -1;
	}
	if (end > page_zone_ceiling(d->pzd_type, dma_limit, dma32_limit)) {
		printk("page_init: %s zone of node %d ends at 0x%llx, above 0x%llx\n",
		       page_zone_name(d->pzd_type), node, (unsigned long long)end,
		       (unsigned long long)page_zone_ceiling(d->pzd_type, dma_limit,
							     dma32_limit));
		return -1;
	}
	zp = &page_state.pgs_zone[page_state.pgs_nzones++];
	zp->z_node = node;
	zp->z_type = d->pzd_type;
	zp->z_base = base;
	zp->z_end = end;
	zp->z_spanned = (end - base) >> MM_PAGE_SHIFT;
	zp->z_present = d->pzd_pages ? d->pzd_pages : zp->z_spanned;
	return 0;
}

/* Sort zones by (node, type), index them, and refuse overlaps and duplicates. */
static int page_sort_zones(void)
{
	struct page_zone *z = page_state.pgs_zone;
	unsigned n = page_state.pgs_nzones;

	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && (z[j].z_node < z[j - 1].z_node ||
			(z[j].z_node == z[j - 1].z_node && z[j].z_type < z[j - 1].z_type)); j--) {
			struct page_zone t = z[j];

			z[j] = z[j - 1];
			z[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (z[i].z_base < z[j].z_end && z[j].z_base < z[i].z_end) {
				printk("page_init: zones [0x%llx-0x%llx) and [0x%llx-0x%llx) overlap\n",
				       (unsigned long long)z[i].z_base, (unsigned long long)z[i].z_end,
				       (unsigned long long)z[j].z_base, (unsigned long long)z[j].z_end);
				return -1;
			}
	for (unsigned i = 0; i < n; i++) {
		z[i].z_index = i;
		spin_init(&z[i].z_lock, "zone", LOCK_RANK_ZONE);
		page_state.pgs_node[z[i].z_node].pn_zone[z[i].z_type] = (uint8_t)i;
	}
	return 0;
}

/* Nodes, distances and the DMA limit. */
static int page_import_nodes(const struct page_layout *pl)
{
	unsigned n = pl->lay_nnodes;

	for (unsigned i = 0; i < page_state.pgs_nzones; i++)
		if ((unsigned)page_state.pgs_zone[i].z_node + 1 > n)
			n = (unsigned)page_state.pgs_zone[i].z_node + 1;
	for (unsigned c = 0; c < cpu_count(); c++)
		if (cpu_node(c) >= 0 && (unsigned)cpu_node(c) + 1 > n)
			n = (unsigned)cpu_node(c) + 1;
	if (n > MM_MAX_NODES) {
		printk("page_init: %u nodes, at most %u supported\n", n, MM_MAX_NODES);
		return -1;
	}
	page_state.pgs_nnodes = n ? n : 1;
	for (unsigned a = 0; a < MM_MAX_NODES; a++)
		for (unsigned b = 0; b < MM_MAX_NODES; b++)
			page_state.pgs_dist[a][b] = a == b ? 10 : 20;
	for (unsigned a = 0; pl->lay_dist != NULL && a < pl->lay_nnodes; a++)
		for (unsigned b = 0; b < pl->lay_nnodes; b++)
			page_state.pgs_dist[a][b] = pl->lay_dist[a * pl->lay_dist_stride + b];
	page_state.pgs_dma_limit = pl->lay_dma_limit;
	return 0;
}

/* Note whether any DMA zone exists (page_import_zone checked where each ends). */
static void page_note_dma(void)
{
	for (unsigned i = 0; i < page_state.pgs_nzones; i++)
		if (page_state.pgs_zone[i].z_type == PAGE_ZONE_DMA)
			page_state.pgs_has_dma_zone = true;
}

/* Zones from the layout. */
static int page_import(const struct page_layout *pl)
{
	paddr_t dma32_limit = page_zone_ceiling(PAGE_ZONE_DMA32, 0, pl->lay_dma32_limit);

	for (unsigned n = 0; n < MM_MAX_NODES; n++)
		memset(page_state.pgs_node[n].pn_zone, PAGE_NO_ZONE,
		       sizeof(page_state.pgs_node[n].pn_zone));
	if (pl->lay_nzones == 0 || pl->lay_nzones > PAGE_MAX_ZONES) {
		printk("page_init: %u zones (1..%u supported)\n", pl->lay_nzones, PAGE_MAX_ZONES);
		return -1;
	}
	for (unsigned i = 0; i < pl->lay_nzones; i++)
		if (page_import_zone(&pl->lay_zones[i], pl->lay_dma_limit, dma32_limit) != 0)
			return -1;
	if (page_sort_zones() != 0 || page_import_nodes(pl) != 0)
		return -1;
	page_note_dma();
	return 0;
}

/* The node whose zone starts lowest in [base, end), or -1 if none meets it. */
static int page_sect_node(paddr_t base, paddr_t end)
{
	int node = -1;
	paddr_t best = (paddr_t)-1;

	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		const struct page_zone *zp = &page_state.pgs_zone[i];
		paddr_t lo = zp->z_base > base ? zp->z_base : base;

		if (zp->z_base < end && zp->z_end > base && lo < best) {
			best = lo;
			node = zp->z_node;
		}
	}
	return node;
}

#ifdef MM_PAGE_FLAT
/* The flat map over every section (§2): the environment's zero-filled array. */
static int page_maps_alloc(void)
{
	uint64_t bytes = page_mem.pgm_nsect * PAGE_SECT_PAGES * sizeof(struct page);
	struct page *map;

	if (page_mem.pgm_base == 0) {
		printk("page_init: a flat descriptor map cannot describe address 0\n");
		return -1;
	}
	map = mm_flat_map(bytes);
	if (map == NULL) {
		printk("page_init: no address space for a flat map of %llu bytes\n",
		       (unsigned long long)bytes);
		return -1;
	}
	page_state.pgs_flat_map = map;
	page_state.pgs_flat_bytes = bytes;
	page_mem.pgm_flat = map;
	page_mem.pgm_span = page_mem.pgm_nsect << PAGE_SECT_SHIFT;
	return 0;
}

/* Give the flat map back (page_fini). */
static void page_maps_free(void)
{
	if (page_state.pgs_flat_map != NULL)
		mm_flat_unmap(page_state.pgs_flat_map, page_state.pgs_flat_bytes);
}

/* Section s's part of the flat map. */
static struct page *page_sect_map_alloc(uint64_t s, int node)
{
	(void)node;
	return page_state.pgs_flat_map + s * PAGE_SECT_PAGES;
}
#else
/* The section table, every entry 0 (a hole) until its section is published. */
static int page_maps_alloc(void)
{
	paddr_t pa;

	if (!bootmem_alloc(page_mem.pgm_nsect * sizeof(struct page *), 64, 0, false, 0, &pa)) {
		printk("page_init: no room for %llu section entries\n",
		       (unsigned long long)page_mem.pgm_nsect);
		return -1;
	}
	page_mem.pgm_sect = phys_to_virt(pa);	/* zeroed: every section a hole */
	return 0;
}

/* Section maps came from bootmem, which is never given back. */
static void page_maps_free(void)
{
}

/* A map for section s on node, from bootmem (not zeroed: page_sect_fill writes it); NULL if none. */
static struct page *page_sect_map_alloc(uint64_t s, int node)
{
	paddr_t pa;

	(void)s;
	if (!bootmem_alloc_nozero(PAGE_SECT_PAGES * sizeof(struct page), MM_PAGE_SIZE, node,
				  false, 0, &pa))
		return NULL;
	return phys_to_virt(pa);
}
#endif

/* The section table and one descriptor map per section that meets a zone. */
static int page_sect_setup(void)
{
	paddr_t lo = (paddr_t)-1, hi = 0;

	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		lo = page_state.pgs_zone[i].z_base < lo ? page_state.pgs_zone[i].z_base : lo;
		hi = page_state.pgs_zone[i].z_end > hi ? page_state.pgs_zone[i].z_end : hi;
	}
	page_mem.pgm_base = lo & ~(PAGE_SECT_BYTES - 1);
	page_mem.pgm_nsect = (hi - page_mem.pgm_base + PAGE_SECT_BYTES - 1) >> PAGE_SECT_SHIFT;
	if (page_mem.pgm_nsect > PAGE_MAX_SECTS) {
		printk("page_init: %llu sections, at most %llu\n",
		       (unsigned long long)page_mem.pgm_nsect, (unsigned long long)PAGE_MAX_SECTS);
		return -1;
	}
	if (page_maps_alloc() != 0)
		return -1;
	page_state.pgs_sect = bootmem_alloc_or_panic(page_mem.pgm_nsect * sizeof(struct page_sect),
						    64, 0, "page section table");
	for (uint64_t s = 0; s < page_mem.pgm_nsect; s++) {
		paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT);
		int node = page_sect_node(sb, sb + PAGE_SECT_BYTES);

		page_state.pgs_sect[s].psc_node = node;
		if (node < 0)
			continue;
		page_state.pgs_sect[s].psc_map = page_sect_map_alloc(s, node);
		if (page_state.pgs_sect[s].psc_map == NULL) {
			printk("page_init: no memory for the descriptors of section 0x%llx\n",
			       (unsigned long long)sb);
			return -1;
		}
	}
	return 0;
}

/* The unbiased descriptor map of section s, or NULL. */
static struct page *page_sect_map(uint64_t s)
{
	return page_state.pgs_sect[s].psc_map;
}

/* Every online hart's cache area, on its own node. */
static void page_hart_setup(void)
{
	size_t size = sizeof(struct page_hart) +
		      (page_state.pgs_nzones + 1) * sizeof(struct page_pcp);

	for (unsigned c = 0; c < cpu_count() && c < MM_MAX_CPUS; c++) {
		int node = cpu_node(c);
		struct page_hart *ph;

		if (node < 0 || (unsigned)node >= page_state.pgs_nnodes)
			node = 0;
		ph = bootmem_alloc_or_panic(size, MM_CACHE_LINE, node, "per-hart page caches");
		ph->pgh_cpu = c;
		ph->pgh_node = node;
		page_mem.pgm_hart[c] = ph;
		page_set_hart_ptr(c, ph);
		page_state.pgs_node[node].pn_nharts++;
	}
}

/* Record [base, end) of zone zi as a piece (pieces arrive sorted per range). */
static void page_add_piece(paddr_t base, paddr_t end, unsigned zi)
{
	struct page_piece *pp;
	unsigned i;

	if (page_state.pgs_npieces == PAGE_MAX_PIECES) {
		page_state.pgs_unzoned += (end - base) >> MM_PAGE_SHIFT;
		return;
	}
	i = page_state.pgs_npieces++;
	while (i > 0 && page_state.pgs_piece[i - 1].pgp_base > base) {
		page_state.pgs_piece[i] = page_state.pgs_piece[i - 1];
		i--;
	}
	pp = &page_state.pgs_piece[i];
	pp->pgp_base = base;
	pp->pgp_end = end;
	pp->pgp_zone = zi;
	page_state.pgs_zone[zi].z_managed += (end - base) >> MM_PAGE_SHIFT;
}

/* bootmem_hand_over callback: cut a free range at zone boundaries. */
static void page_take_range(paddr_t base, uint64_t size, int node, void *arg)
{
	paddr_t lo = (base + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
	paddr_t hi = (base + size) & ~(MM_PAGE_SIZE - 1);
	uint64_t covered = 0;

	(void)node;
	(void)arg;
	if (lo >= hi)
		return;
	/* Zones never overlap, so each address belongs to at most one. */
	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		const struct page_zone *zp = &page_state.pgs_zone[i];
		paddr_t a = lo > zp->z_base ? lo : zp->z_base;
		paddr_t b = hi < zp->z_end ? hi : zp->z_end;

		if (a < b) {
			page_add_piece(a, b, i);
			covered += (b - a) >> MM_PAGE_SHIFT;
		}
	}
	page_state.pgs_unzoned += ((hi - lo) >> MM_PAGE_SHIFT) - covered;
}

/* Give each mapped section an owner: the harts of its node in turn. */
static void page_assign_owners(void)
{
	unsigned next[MM_MAX_NODES] = { 0 };

	for (uint64_t s = 0; s < page_mem.pgm_nsect; s++) {
		int node = page_state.pgs_sect[s].psc_node;
		unsigned nh, pick, seen = 0;

		if (node < 0)
			continue;
		nh = page_state.pgs_node[node].pn_nharts;
		page_state.pgs_sect[s].psc_owner = cpu_id();
		if (nh == 0)
			continue;
		pick = next[node]++ % nh;
		for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
			const struct page_hart *ph = page_mem.pgm_hart[c];

			if (ph != NULL && ph->pgh_node == node && seen++ == pick) {
				page_state.pgs_sect[s].psc_owner = c;
				break;
			}
		}
	}
}

/* Write n descriptors from pg on: addresses from pa, one state and zone. */
static void page_fill(struct page *pg, paddr_t pa, uint64_t n, uint8_t state, uint8_t zone)
{
	for (uint64_t i = 0; i < n; i++, pg++, pa += MM_PAGE_SIZE)
		page_desc_init(pg, pa, state, zone);
}

/* Index of the first piece that ends after `base` (binary search). */
static unsigned page_first_piece(paddr_t base)
{
	unsigned lo = 0, hi = page_state.pgs_npieces;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (page_state.pgs_piece[mid].pgp_end <= base)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Clip piece i to section [sb, se) in *a, *b; false once the pieces lie beyond se. */
static bool page_piece_in(unsigned i, paddr_t sb, paddr_t se, paddr_t *a, paddr_t *b)
{
	const struct page_piece *pp = &page_state.pgs_piece[i];

	if (i >= page_state.pgs_npieces || pp->pgp_base >= se)
		return false;
	*a = pp->pgp_base > sb ? pp->pgp_base : sb;
	*b = pp->pgp_end < se ? pp->pgp_end : se;
	return true;
}

#ifdef MM_PAGE_FLAT
/* Flat map: nothing to publish, every lookup already reaches the map. */
static void page_sect_publish(uint64_t s)
{
	(void)s;
}

/*
 * Is all of section s given to its zones?  Not while its first free page
 * at or above psc_next is still unwritten (buddy.c writes a block's head
 * when it is given).
 */
static bool page_sect_published(uint64_t s)
{
	paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT), lo = page_state.pgs_sect[s].psc_next;
	paddr_t a, b;

	return !page_piece_in(page_first_piece(lo), lo, sb + PAGE_SECT_BYTES, &a, &b) ||
	       page_sect_map(s)[(a - sb) >> MM_PAGE_SHIFT].pg_pa == a;
}
#else
/* Make section s's map visible to page_lookup (release: its descriptors first). */
static void page_sect_publish(uint64_t s)
{
	paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT);
	uintptr_t biased = (uintptr_t)page_sect_map(s) -
			   (uintptr_t)(sb >> MM_PAGE_SHIFT) * sizeof(struct page);

	__atomic_store_n(&page_mem.pgm_sect[s], biased, __ATOMIC_RELEASE);
}

/* Is section s's map visible to page_lookup? */
static bool page_sect_published(uint64_t s)
{
	return __atomic_load_n(&page_mem.pgm_sect[s], __ATOMIC_ACQUIRE) != 0;
}
#endif

/*
 * Write every descriptor of section s: its pieces PG_TAIL of their zone, the
 * rest reserved.  A flat map writes nothing here: its zero default already
 * reads as reserved, and buddy.c writes each descriptor the first time a
 * block needs it (§2).
 */
static void page_sect_fill(uint64_t s)
{
	paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT), se = sb + PAGE_SECT_BYTES;
	struct page *map = page_sect_map(s);
	paddr_t pa = sb, a, b;

	if (PAGE_FLAT)
		return;

	for (unsigned i = page_first_piece(sb); page_piece_in(i, sb, se, &a, &b); i++) {
		page_fill(&map[(pa - sb) >> MM_PAGE_SHIFT], pa, (a - pa) >> MM_PAGE_SHIFT,
			  PG_RESERVED, PAGE_NO_ZONE);
		page_fill(&map[(a - sb) >> MM_PAGE_SHIFT], a, (b - a) >> MM_PAGE_SHIFT,
			  PG_TAIL, (uint8_t)page_state.pgs_piece[i].pgp_zone);
		pa = b;
	}
	page_fill(&map[(pa - sb) >> MM_PAGE_SHIFT], pa, (se - pa) >> MM_PAGE_SHIFT,
		  PG_RESERVED, PAGE_NO_ZONE);
	__atomic_fetch_add(&page_state.pgs_inited, PAGE_SECT_PAGES, __ATOMIC_RELAXED);
}

/*
 * Give the pieces of section s that lie in [lo, hi) (descriptors written,
 * or left to buddy.c with a flat map) to their zones' buddy lists; `held`
 * is the zone whose lock the caller holds (page_grow), or NULL to take each
 * piece's zone lock here (boot).  Returns the pages given.
 */
static uint64_t page_sect_give(uint64_t s, paddr_t lo, paddr_t hi, struct page_zone *held)
{
	paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT), a, b;
	struct page *map = page_sect_map(s);
	uint64_t pages = 0;
	irqflags_t zf = 0;

	for (unsigned i = page_first_piece(lo); page_piece_in(i, lo, hi, &a, &b); i++) {
		struct page_zone *zp = &page_state.pgs_zone[page_state.pgs_piece[i].pgp_zone];

		ASSERT(held == NULL || zp == held);
		if (held == NULL)
			zf = zone_lock(zp);
		buddy_add_range(zp, &map[(a - sb) >> MM_PAGE_SHIFT], a, b);
		if (held == NULL)
			zone_unlock(zp, zf);
		pages += (b - a) >> MM_PAGE_SHIFT;
	}
	return pages;
}

/* cpu_call_all callback: initialise the sections this hart owns, and give
 * their eager part (all but what page_plan_defer deferred). */
static void page_init_worker(void *arg)
{
	unsigned me = cpu_id();

	(void)arg;
	for (uint64_t s = 0; s < page_mem.pgm_nsect; s++) {
		const struct page_sect *ps = &page_state.pgs_sect[s];

		paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT);

		if (ps->psc_map == NULL || ps->psc_next == sb || ps->psc_owner != me)
			continue;
		page_sect_fill(s);
		page_sect_publish(s);
		/* Only now may merges look at any descriptor of the section. */
		page_sect_give(s, sb, ps->psc_next, NULL);
	}
}

/* Free pages of the pieces in [lo, hi). */
static uint64_t page_range_pages(paddr_t lo, paddr_t hi)
{
	uint64_t pages = 0;
	paddr_t a, b;

	for (unsigned i = page_first_piece(lo); page_piece_in(i, lo, hi, &a, &b); i++)
		pages += (b - a) >> MM_PAGE_SHIFT;
	return pages;
}

/* The one zone all free pages of section s belong to (PAGE_NO_ZONE: none, or several). */
static uint8_t page_sect_zone(uint64_t s)
{
	paddr_t sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT), se = sb + PAGE_SECT_BYTES, a, b;
	unsigned zone = PAGE_NO_ZONE;

	for (unsigned i = page_first_piece(sb); page_piece_in(i, sb, se, &a, &b); i++) {
		if (zone != PAGE_NO_ZONE && zone != page_state.pgs_piece[i].pgp_zone)
			return PAGE_NO_ZONE;
		zone = page_state.pgs_piece[i].pgp_zone;
	}
	return (uint8_t)zone;
}

/*
 * Where the eager part of one-zone section s ends: whole grow steps from
 * its start while the zone has fewer than `eager` bytes (*done) of free
 * pages; adds what it keeps to *done.
 */
static paddr_t page_eager_end(uint64_t s, uint64_t eager, uint64_t *done)
{
	paddr_t at = page_mem.pgm_base + (s << PAGE_SECT_SHIFT), se = at + PAGE_SECT_BYTES;

	while (at < se && *done < eager) {
		*done += page_range_pages(at, at + PAGE_GROW_BYTES) << MM_PAGE_SHIFT;
		at += PAGE_GROW_BYTES;
	}
	return at;
}

/*
 * Keep the first `eager` bytes of free memory of each zone, in address
 * order, and defer the rest of every one-zone section (§2); eager 0 defers
 * nothing.  Sets every section's psc_next: where its eager part ends.
 */
static void page_plan_defer(uint64_t eager)
{
	uint64_t done[PAGE_MAX_ZONES] = { 0 };

	for (uint64_t s = 0; s < page_mem.pgm_nsect; s++) {
		struct page_sect *ps = &page_state.pgs_sect[s];
		paddr_t se = page_mem.pgm_base + ((s + 1) << PAGE_SECT_SHIFT);
		struct page_zone *zp;

		ps->psc_zone = page_sect_zone(s);
		ps->psc_next = se;
		if (eager == 0 || ps->psc_map == NULL || ps->psc_zone == PAGE_NO_ZONE)
			continue;
		ps->psc_next = page_eager_end(s, eager, &done[ps->psc_zone]);
		if (ps->psc_next == se)
			continue;
		zp = &page_state.pgs_zone[ps->psc_zone];
		ps->psc_deferred = true;
		if (zp->z_deferred == 0)
			zp->z_dnext = s;
		zp->z_dend = s + 1;
		zp->z_deferred += page_range_pages(ps->psc_next, se);
	}
}

bool page_grow(struct page_zone *zp)
{
	uint64_t s = zp->z_dnext, pages;
	struct page_sect *ps;
	paddr_t sb, lo, hi;

	ASSERT(spin_held(&zp->z_lock));
	while (s < zp->z_dend && !(page_state.pgs_sect[s].psc_deferred &&
				   page_state.pgs_sect[s].psc_zone == zp->z_index))
		s++;
	zp->z_dnext = s;
	if (s == zp->z_dend) {
		ASSERT(zp->z_deferred == 0);
		return false;
	}
	ps = &page_state.pgs_sect[s];
	sb = page_mem.pgm_base + (s << PAGE_SECT_SHIFT);
	if (ps->psc_next == sb) {
		page_sect_fill(s);
		page_sect_publish(s);
	}
	lo = ps->psc_next;
	hi = lo + PAGE_GROW_BYTES;
	ps->psc_next = hi;	/* first: merges may now read [lo, hi) (buddy.c) */
	pages = page_sect_give(s, lo, hi, zp);
	if (hi == sb + PAGE_SECT_BYTES) {
		ps->psc_deferred = false;
		zp->z_dnext = s + 1;
	}
	ASSERT(pages <= zp->z_deferred);
	zp->z_deferred -= pages;
	zp->z_stats.zs_grows++;
	return true;
}

/* Point each hart's fast path at the first zone of its node's zonelists. */
static void page_hart_first_zones(void)
{
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		struct page_hart *ph = page_mem.pgm_hart[c];
		const struct page_node *pn;

		if (ph == NULL)
			continue;
		pn = &page_state.pgs_node[ph->pgh_node];
		for (unsigned cls = 0; cls < PAGE_NR_CLASSES; cls++)
			ph->pgh_first[cls] = &ph->pgh_pcp[pn->pn_nzl[cls] ? pn->pn_zl[cls][0] :
							page_state.pgs_nzones];
		ph->pgh_first[PAGE_ZONE_MASK] = &ph->pgh_pcp[page_state.pgs_nzones];
	}
}

int page_init(const struct page_layout *pl)
{
	VERIFY(!page_state.pgs_ready);
	if (page_import(pl) != 0 || page_sect_setup() != 0)
		return -1;
	page_hart_setup();
	bootmem_hand_over(page_take_range, NULL);
	if (page_state.pgs_unzoned != 0)
		printk("page_init: %llu free pages outside every zone are not used\n",
		       (unsigned long long)page_state.pgs_unzoned);
	page_plan_defer(pl->lay_defer);
	page_assign_owners();
	cpu_call_all(page_init_worker, NULL);
	zone_setup();
	pcp_setup();
	page_hart_first_zones();
	page_state.pgs_ready = true;
	return 0;
}

void page_fini(void)
{
	page_maps_free();
	for (unsigned c = 0; c < MM_MAX_CPUS; c++)
		if (page_mem.pgm_hart[c] != NULL)
			page_set_hart_ptr(c, NULL);
	memset(&page_state, 0, sizeof(page_state));
	memset(&page_mem, 0, sizeof(page_mem));
}

uint64_t page_free_count(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < page_state.pgs_nzones; i++)
		n += __atomic_load_n(&page_state.pgs_zone[i].z_free, __ATOMIC_RELAXED) +
		     __atomic_load_n(&page_state.pgs_zone[i].z_deferred, __ATOMIC_RELAXED);
	return n;
}

int page_check(char *why, size_t whylen)
{
	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		struct page_zone *zp = &page_state.pgs_zone[i];
		int rc;
		irqflags_t zf;

		zf = zone_lock(zp);
		rc = buddy_check_zone(zp, why, whylen);
		if (rc == 0)
			rc = page_check_deferred(zp, why, whylen);
		zone_unlock(zp, zf);
		if (rc != 0)
			return rc;
	}
	return pcp_check(why, whylen);
}

int page_check_deferred(struct page_zone *zp, char *why, size_t whylen)
{
	uint64_t pages = 0;

	ASSERT(spin_held(&zp->z_lock));
	for (uint64_t s = 0; s < page_mem.pgm_nsect; s++) {
		const struct page_sect *ps = &page_state.pgs_sect[s];
		bool mapped;

		if (ps->psc_zone != zp->z_index || ps->psc_map == NULL)
			continue;
		mapped = page_sect_published(s);
		if (ps->psc_deferred == mapped ||
		    (ps->psc_deferred && (s < zp->z_dnext || s >= zp->z_dend))) {
			snprintf(why, whylen, "zone %u section %llu: deferred %d, published %d, "
				 "cursor [%llu, %llu)", zp->z_index, (unsigned long long)s,
				 ps->psc_deferred, mapped, (unsigned long long)zp->z_dnext,
				 (unsigned long long)zp->z_dend);
			return -1;
		}
		if (ps->psc_deferred && page_sect_zone(s) == zp->z_index)
			pages += page_range_pages(ps->psc_next,
						  page_mem.pgm_base + ((s + 1) << PAGE_SECT_SHIFT));
	}
	if (pages != zp->z_deferred) {
		snprintf(why, whylen, "zone %u: deferred sections hold %llu pages, z_deferred says %llu",
			 zp->z_index, (unsigned long long)pages, (unsigned long long)zp->z_deferred);
		return -1;
	}
	return 0;
}
