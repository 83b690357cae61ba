/*
 * kmem_debug.c - the object caches' debugging features (mm/kmem.c §8): the
 * flag names and their parser.
 */
#include "mm/kmem_impl.h"

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
