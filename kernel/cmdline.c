/*
 * cmdline.c - split /chosen/bootargs into words and act on the known ones.
 * Unknown words are reported and ignored (DESIGN.md §4).
 */
#include "kernel/cmdline.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

struct cmdline cmdline;

/* Copy the value after '=' into dst, reporting truncation. */
static void cmdline_value(const char *word, size_t len, size_t keylen, char *dst, size_t size)
{
	size_t n = len - keylen;

	if (n >= size) {
		printk("cmdline: value of '%.*s' too long (max %zu), truncated\n",
		       (int)keylen, word, size - 1);
		n = size - 1;
	}
	memcpy(dst, word + keylen, n);
	dst[n] = 0;
}

/*
 * `kmem_reap_interval=MS`: a decimal count of milliseconds, at most one day.
 * A bad value is reported and leaves the default in place; false then, so
 * the word also counts as not understood.
 */
static bool cmdline_reap_interval(const char *w, size_t len, struct cmdline *cl)
{
	char val[16], *end;
	unsigned long ms;

	if (len - 19 >= sizeof(val) || w[19] < '0' || w[19] > '9')
		goto bad;
	memcpy(val, w + 19, len - 19);
	val[len - 19] = 0;
	ms = strtoul(val, &end, 10);
	if (*end != 0 || ms > 86400000UL)
		goto bad;
	cl->cl_kmem_reap_set = true;
	cl->cl_kmem_reap_ms = (unsigned)ms;
	return true;
bad:
	printk("cmdline: '%.*s': milliseconds 0..86400000 expected; default kept\n", (int)len, w);
	return false;
}

/* Act on one word; false if it is not one we know. */
static bool cmdline_word(const char *w, size_t len, struct cmdline *cl)
{
	if (len == 7 && strncmp(w, "console", 7) == 0)
		return true;
	if (len == 5 && strncmp(w, "ktest", 5) == 0) {
		cl->cl_ktest = true;
		cl->cl_ktest_suites[0] = 0;
		return true;
	}
	if (len > 6 && strncmp(w, "ktest=", 6) == 0) {
		cl->cl_ktest = true;
		cmdline_value(w, len, 6, cl->cl_ktest_suites, sizeof(cl->cl_ktest_suites));
		return true;
	}
	if (len == 13 && strncmp(w, "smp_via_start", 13) == 0) {
		cl->cl_smp_via_start = true;
		return true;
	}
	if (len > 11 && strncmp(w, "kmem_debug=", 11) == 0) {
		cmdline_value(w, len, 11, cl->cl_kmem_debug, sizeof(cl->cl_kmem_debug));
		return true;
	}
	if (len == 15 && strncmp(w, "kmem_nomagazine", 15) == 0) {
		cl->cl_kmem_nomagazine = true;
		return true;
	}
	if (len >= 19 && strncmp(w, "kmem_reap_interval=", 19) == 0)
		return cmdline_reap_interval(w, len, cl);
	return false;
}

unsigned cmdline_parse(const char *args, struct cmdline *cl)
{
	memset(cl, 0, sizeof(*cl));
	for (const char *p = args; *p;) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		for (len = 0; p[len] && p[len] != ' ' && p[len] != '\t' && p[len] != '\n'; len++)
			;
		if (len && !cmdline_word(p, len, cl)) {
			printk("cmdline: unknown word '%.*s' ignored\n", (int)len, p);
			cl->cl_unknown++;
		}
		p += len;
	}
	return cl->cl_unknown;
}
