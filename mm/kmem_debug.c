/*
 * kmem_debug.c - the object caches' debugging features (mm/kmem.c §8):
 * buffer tags, patterns, redzones, audit records, leak reports, the one
 * error reporter, and the flag names with their parser.
 */
#include "mm/kmem_impl.h"

static uint64_t kmem_alloc_seq;		/* allocation sequence (KMF_LEAK), atomic */

static const char *const kmem_err_names[] = {
	[KMERR_MODIFIED] = "buffer modified after being freed",
	[KMERR_REDZONE] = "redzone violation: write past the end of the buffer",
	[KMERR_DUPFREE] = "duplicate free",
	[KMERR_BADADDR] = "free of an address that is no buffer of this cache",
	[KMERR_WRONGCACHE] = "free to the wrong cache",
	[KMERR_INTERIOR] = "free of an address inside a buffer",
	[KMERR_BADBUFTAG] = "buffer tag corrupt",
};

/* ------------------------------------------------------------ the reporter */

/* Print a buffer's audit records, newest first. */
static void kmem_audit_print(kmem_cache_t *cp, const struct kmem_buftag *bt)
{
	uint32_t n = bt->tag_nrec < KMEM_AUDIT_N ? bt->tag_nrec : KMEM_AUDIT_N;

	if (!(cp->cache_cflags & KMF_AUDIT))
		return;
	printk("kmem_error: last %u transactions, newest first:\n", n);
	for (uint32_t i = 0; i < n; i++) {
		const struct kmem_audit *ka = &bt->tag_rec[(bt->tag_nrec - 1 - i) % KMEM_AUDIT_N];

		printk("kmem_error:   %s by hart %u at %lu us, caller 0x%lx\n",
		       ka->ka_op == KMEM_AUDIT_ALLOC ? "alloc" : "free ", (unsigned)ka->ka_cpu,
		       (unsigned long)ka->ka_time, (unsigned long)ka->ka_pc);
	}
}

/*
 * The one reporter of corruption and misuse in debug caches: names the
 * cache, the buffer, the kind and the audit records, then panics.  buf is
 * the start of the buffer concerned (NULL when there is none); no kmem lock
 * may be held.
 */
void kmem_error(enum kmem_err err, kmem_cache_t *cp, const void *buf, const char *detail)
{
	char last[96] = "";

	printk("kmem_error: %s\n", kmem_err_names[err]);
	printk("kmem_error: cache %s (buffer size %lu), buffer %p: %s\n", cp->cache_name,
	       (unsigned long)cp->cache_bufsize, buf, detail);
	if (buf != NULL && (cp->cache_cflags & KMF_AUDIT)) {
		const struct kmem_buftag *bt = kmem_buftag(cp, buf);

		kmem_audit_print(cp, bt);
		if (bt->tag_nrec > 0) {
			const struct kmem_audit *ka = &bt->tag_rec[(bt->tag_nrec - 1) % KMEM_AUDIT_N];

			snprintf(last, sizeof(last), "; last %s by hart %u, caller 0x%lx",
				 ka->ka_op == KMEM_AUDIT_ALLOC ? "alloc" : "free",
				 (unsigned)ka->ka_cpu, (unsigned long)ka->ka_pc);
		}
	}
	panic("kmem_error: %s: cache %s, buffer %p: %s%s", kmem_err_names[err], cp->cache_name,
	      buf, detail, last);
}

/* ------------------------------------------------------------- the checks */

/* Fill [p, p + len) (len a multiple of 8, p 8-aligned) with a 64-bit pattern. */
static void kmem_fill(void *p, size_t len, uint64_t pat)
{
	for (uint64_t *w = p; len >= 8; len -= 8)
		*w++ = pat;
}

/* Offset of the first word of [p, p + len) that differs from pat, or -1. */
static long kmem_verify(const void *p, size_t len, uint64_t pat)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != pat)
			return (long)(i * 8);
	return -1;
}

/* The object area a pattern covers: the object rounded down to words. */
static size_t kmem_pattern_len(const kmem_cache_t *cp)
{
	return cp->cache_bufsize & ~(size_t)7;
}

/* Redzone intact: slack bytes after the object and the redzone word. */
static bool kmem_redzone_ok(const kmem_cache_t *cp, const void *buf)
{
	const uint8_t *b = buf;

	for (size_t i = cp->cache_bufsize; i < cp->cache_buftag; i++)
		if (b[i] != KMEM_REDZONE_BYTE)
			return false;
	return kmem_buftag(cp, buf)->tag_redzone == KMEM_REDZONE_PATTERN;
}

/* Append a transaction to the buffer's audit ring. */
static void kmem_audit(struct kmem_buftag *bt, uint8_t op, uintptr_t pc)
{
	struct kmem_audit *ka = &bt->tag_rec[bt->tag_nrec++ % KMEM_AUDIT_N];

	ka->ka_pc = pc;
	ka->ka_time = mm_time_us();
	ka->ka_cpu = (uint16_t)cpu_id();
	ka->ka_op = op;
}

/* Tags and patterns of every buffer of a new slab (before any constructor). */
void kmem_debug_slab_init(kmem_cache_t *cp, struct kmem_slab *sp)
{
	for (unsigned i = 0; i < sp->slab_chunks; i++) {
		uint8_t *buf = (uint8_t *)(sp->slab_first + i * cp->cache_chunksize);
		struct kmem_buftag *bt = kmem_buftag(cp, buf);

		memset(buf + cp->cache_bufsize, KMEM_REDZONE_BYTE, cp->cache_buftag - cp->cache_bufsize);
		bt->tag_redzone = KMEM_REDZONE_PATTERN;
		bt->tag_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
		bt->tag_seq = 0;
		bt->tag_nrec = 0;
		if (cp->cache_cflags & KMF_DEADBEEF)
			kmem_fill(buf, kmem_pattern_len(cp), KMEM_FREE_PATTERN);
		else if ((cp->cache_cflags & KMF_BADDCAFE) && cp->cache_ctor == NULL)
			kmem_fill(buf, kmem_pattern_len(cp), KMEM_UNINIT_PATTERN);
	}
}

/*
 * A buffer leaving the slab layer for a client: it must be free and, with
 * KMF_DEADBEEF, untouched since its free; then 0xbaddcafe or the
 * constructor (KMF_DEADBEEF caches construct here).  0, or -1 when the
 * constructor failed (the buffer is back in its free state).
 */
int kmem_debug_alloc(kmem_cache_t *cp, void *buf, int kmflag, uintptr_t pc)
{
	struct kmem_buftag *bt = kmem_buftag(cp, buf);
	char why[96];
	long off;

	if (bt->tag_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_FREE))
		kmem_error(KMERR_BADBUFTAG, cp, buf, "allocating a buffer whose tag is not 'free'");
	if ((cp->cache_cflags & KMF_DEADBEEF) &&
	    (off = kmem_verify(buf, kmem_pattern_len(cp), KMEM_FREE_PATTERN)) >= 0) {
		snprintf(why, sizeof(why), "0xdeadbeef overwritten at offset %ld", off);
		kmem_error(KMERR_MODIFIED, cp, buf, why);
	}
	if ((cp->cache_cflags & KMF_REDZONE) && !kmem_redzone_ok(cp, buf))
		kmem_error(KMERR_REDZONE, cp, buf, "redzone written while the buffer was free");
	if ((cp->cache_cflags & KMF_DEADBEEF) && cp->cache_ctor != NULL) {
		if (cp->cache_ctor(buf, cp->cache_private, kmflag) != 0) {
			kmem_fill(buf, kmem_pattern_len(cp), KMEM_FREE_PATTERN);
			kmem_stat_add(&cp->cache_ctor_fail, 1);
			return -1;
		}
	} else if ((cp->cache_cflags & KMF_DEADBEEF) && (cp->cache_cflags & KMF_BADDCAFE)) {
		kmem_fill(buf, kmem_pattern_len(cp), KMEM_UNINIT_PATTERN);
	}
	bt->tag_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_ALLOC;
	bt->tag_seq = __atomic_add_fetch(&kmem_alloc_seq, 1, __ATOMIC_RELAXED);
	if (cp->cache_cflags & KMF_AUDIT)
		kmem_audit(bt, KMEM_AUDIT_ALLOC, pc);
	return 0;
}

/* The slab holding addr in a page-backed cache (any cache's), or NULL. */
static struct kmem_slab *kmem_debug_slab(const void *addr)
{
	struct page *pg = page_lookup(virt_to_phys(addr));

	if (pg == NULL || !(pg->pg_owner & 1))
		return NULL;
	return (struct kmem_slab *)(pg->pg_owner & ~(uintptr_t)1);
}

/* Is addr the start of a buffer of cp?  Reports wrong cache, interior, foreign. */
static void kmem_debug_classify(kmem_cache_t *cp, const void *addr)
{
	struct kmem_slab *sp;
	uintptr_t a = (uintptr_t)addr, off;
	char why[128];

	if (!cp->cache_pagemode)
		return;		/* foreign arena: the hash lookup in the slab layer decides */
	if ((sp = kmem_debug_slab(addr)) == NULL)
		kmem_error(KMERR_BADADDR, cp, NULL, "the address is in no slab at all");
	if (sp->slab_cache != cp) {
		snprintf(why, sizeof(why), "%p belongs to cache %s", addr, sp->slab_cache->cache_name);
		kmem_error(KMERR_WRONGCACHE, cp, NULL, why);
	}
	off = a - sp->slab_first;
	if (a < sp->slab_first || off / cp->cache_chunksize >= sp->slab_chunks) {
		snprintf(why, sizeof(why), "%p is in a slab of the cache but in no buffer", addr);
		kmem_error(KMERR_BADADDR, cp, NULL, why);
	}
	if (off % cp->cache_chunksize != 0) {
		const void *start = (const void *)(a - off % cp->cache_chunksize);

		snprintf(why, sizeof(why), "%p is %lu bytes into the buffer", addr,
			 (unsigned long)(off % cp->cache_chunksize));
		kmem_error(KMERR_INTERIOR, cp, start, why);
	}
}

/*
 * A buffer coming back from a client: it must be a buffer of this cache,
 * allocated, with its redzone intact; then it is audited, destructed if
 * constructed at allocation (KMF_DEADBEEF), and filled with 0xdeadbeef.
 */
void kmem_debug_free(kmem_cache_t *cp, void *buf, uintptr_t pc)
{
	struct kmem_buftag *bt;

	kmem_debug_classify(cp, buf);
	bt = kmem_buftag(cp, buf);
	if (bt->tag_bxstat == ((uintptr_t)buf ^ KMEM_BUFTAG_FREE))
		kmem_error(KMERR_DUPFREE, cp, buf, "freed twice");
	if (bt->tag_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC))
		kmem_error(KMERR_BADBUFTAG, cp, buf, "tag neither 'allocated' nor 'free'");
	if ((cp->cache_cflags & KMF_REDZONE) && !kmem_redzone_ok(cp, buf))
		kmem_error(KMERR_REDZONE, cp, buf, "bytes after the buffer were written");
	if (cp->cache_cflags & KMF_AUDIT)
		kmem_audit(bt, KMEM_AUDIT_FREE, pc);
	bt->tag_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	if (cp->cache_cflags & KMF_DEADBEEF) {
		if (cp->cache_dtor != NULL)
			cp->cache_dtor(buf, cp->cache_private);
		kmem_fill(buf, kmem_pattern_len(cp), KMEM_FREE_PATTERN);
	}
}

/* ------------------------------------------------------------ leak reports */

uint64_t kmem_leak_mark(void)
{
	return __atomic_load_n(&kmem_alloc_seq, __ATOMIC_RELAXED);
}

/* Report the leaked buffers of one slab; returns how many.  kn_slab_lock held. */
static unsigned kmem_leak_slab(kmem_cache_t *cp, struct kmem_slab *sp, uint64_t mark,
			       int (*out)(const char *fmt, ...))
{
	unsigned n = 0;

	for (unsigned i = 0; i < sp->slab_chunks; i++) {
		uint8_t *buf = (uint8_t *)(sp->slab_first + i * cp->cache_chunksize);
		const struct kmem_buftag *bt = kmem_buftag(cp, buf);
		const struct kmem_audit *ka;

		if (bt->tag_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC) || bt->tag_seq <= mark)
			continue;
		n++;
		out("kmem leak: cache %s buffer %p (allocation #%lu)", cp->cache_name, (void *)buf,
		    (unsigned long)bt->tag_seq);
		if ((cp->cache_cflags & KMF_AUDIT) && bt->tag_nrec > 0) {
			ka = &bt->tag_rec[(bt->tag_nrec - 1) % KMEM_AUDIT_N];
			out(" by hart %u at %lu us, caller 0x%lx", (unsigned)ka->ka_cpu,
			    (unsigned long)ka->ka_time, (unsigned long)ka->ka_pc);
		}
		out("\n");
	}
	return n;
}

/* Leaks of one cache, over every node's partial and full slabs. */
static unsigned kmem_leak_cache(kmem_cache_t *cp, uint64_t mark, int (*out)(const char *fmt, ...))
{
	unsigned n = 0;

	if (!(cp->cache_cflags & KMF_LEAK) || !cp->cache_slablayer)
		return 0;
	for (unsigned nd = 0; nd < cp->cache_nnodes; nd++) {
		struct kmem_cnode *cn = cp->cache_node[nd];
		irqflags_t fl = kmem_lock(&cn->kn_slab_lock);

		for (struct kmem_slab *sp = cn->kn_fullslabs; sp != NULL; sp = sp->slab_next)
			n += kmem_leak_slab(cp, sp, mark, out);
		for (int i = 0; i < KMEM_FULLNESS; i++)
			for (struct kmem_slab *sp = cn->kn_partial[i]; sp != NULL; sp = sp->slab_next)
				n += kmem_leak_slab(cp, sp, mark, out);
		kmem_unlock(&cn->kn_slab_lock, fl);
	}
	return n;
}

/* kmem_cache_walk argument of kmem_leak_report. */
struct kmem_leak_arg {
	uint64_t kla_mark;			/* report allocations after this */
	int (*kla_out)(const char *fmt, ...);	/* printk-like */
	unsigned kla_count;			/* found so far */
};

/* kmem_cache_walk body: one cache's leaks. */
static void kmem_leak_walk(kmem_cache_t *cp, void *arg)
{
	struct kmem_leak_arg *kla = arg;

	kla->kla_count += kmem_leak_cache(cp, kla->kla_mark, kla->kla_out);
}

unsigned kmem_leak_report(kmem_cache_t *cp, uint64_t mark, int (*out)(const char *fmt, ...))
{
	struct kmem_leak_arg kla = { mark, out, 0 };

	if (cp != NULL)
		return kmem_leak_cache(cp, mark, out);
	kmem_cache_walk(kmem_leak_walk, &kla);
	return kla.kla_count;
}

/* Every debug flag by name, for kmem_debug_parse. */
static const struct {
	const char *kdn_name;		/* as written in kmem_debug= */
	unsigned kdn_flags;		/* KMF_ bits */
} kmem_debug_names[] = {
	{ "redzone", KMF_REDZONE },
	{ "deadbeef", KMF_DEADBEEF },
	{ "poison", KMF_DEADBEEF },
	{ "baddcafe", KMF_BADDCAFE },
	{ "uninit", KMF_BADDCAFE },
	{ "freecheck", KMF_FREECHECK },
	{ "audit", KMF_AUDIT },
	{ "leak", KMF_LEAK },
	{ "all", KMF_DEBUG_ALL },
	{ "none", 0 },
};

/* The flags of the word [s, s + len), or -1 if it names none. */
static long kmem_debug_word(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(kmem_debug_names) / sizeof(kmem_debug_names[0]); i++)
		if (strlen(kmem_debug_names[i].kdn_name) == len &&
		    memcmp(kmem_debug_names[i].kdn_name, s, len) == 0)
			return (long)kmem_debug_names[i].kdn_flags;
	return -1;
}

int kmem_debug_parse(const char *s, unsigned *flagsp)
{
	unsigned flags = 0;

	while (*s != '\0') {
		size_t len = 0;
		long f;

		while (s[len] != '\0' && s[len] != ',')
			len++;
		f = kmem_debug_word(s, len);
		if (f < 0) {
			printk("kmem_debug: unknown flag '%.*s' (redzone, deadbeef/poison, "
			       "baddcafe/uninit, freecheck, audit, leak, all, none)\n", (int)len, s);
			return -1;
		}
		flags |= (unsigned)f;
		s += len;
		if (*s == ',')
			s++;
	}
	*flagsp = flags;
	return 0;
}
