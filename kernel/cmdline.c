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
 * The decimal number after `keylen` characters of word w, at most max, into
 * *out.  A bad value is reported (what was expected: `what`) and leaves *out
 * alone; false then, so the word also counts as not understood.
 */
static bool cmdline_uint(const char *w, size_t len, size_t keylen, uint64_t max,
			 const char *what, uint64_t *out)
{
	char val[24], *end;
	unsigned long v;

	if (len - keylen >= sizeof(val) || w[keylen] < '0' || w[keylen] > '9')
		goto bad;
	memcpy(val, w + keylen, len - keylen);
	val[len - keylen] = 0;
	v = strtoul(val, &end, 10);
	if (*end != 0 || v > max)
		goto bad;
	*out = v;
	return true;
bad:
	printk("cmdline: '%.*s': %s 0..%llu expected; default kept\n", (int)len, w, what,
	       (unsigned long long)max);
	return false;
}

/* `kmem_reap_interval=MS`: milliseconds, at most one day (0 turns reaping off). */
static bool cmdline_reap_interval(const char *w, size_t len, struct cmdline *cl)
{
	uint64_t ms;

	if (!cmdline_uint(w, len, 19, 86400000, "milliseconds", &ms))
		return false;
	cl->cl_kmem_reap_set = true;
	cl->cl_kmem_reap_ms = (unsigned)ms;
	return true;
}

/* Does word w (len bytes) start with key? */
static bool cmdline_key(const char *w, size_t len, const char *key)
{
	size_t n = strlen(key);

	return len > n && strncmp(w, key, n) == 0;
}

/* Is the word w (len bytes) exactly s? */
static bool cmdline_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && strncmp(w, s, len) == 0;
}

/* The stress self-test hooks, exact words: 1, or -1 for any other word. */
static int cmdline_stress_hook(const char *w, size_t len, struct cmdline *cl)
{
	bool *flag = NULL;

	if (cmdline_is(w, len, "stress_leak=1"))
		flag = &cl->cl_stress_leak;
	else if (cmdline_is(w, len, "stress_corrupt=1"))
		flag = &cl->cl_stress_corrupt;
	else if (cmdline_is(w, len, "stress_hang=1"))
		flag = &cl->cl_stress_hang;
	if (flag == NULL)
		return -1;
	*flag = true;
	return 1;
}

/*
 * The stress words (DESIGN.md §4, docs/stress.md): stress=SECONDS,
 * stress_seed=N, fail_every=N, stress_remote=PERCENT, stress_kinds=LIST
 * (checked by the run, which knows the names) and the self-test hooks
 * stress_leak=1, stress_corrupt=1 and stress_hang=1.  -1: not a stress word.
 */
static int cmdline_stress_word(const char *w, size_t len, struct cmdline *cl)
{
	uint64_t v;

	if (cmdline_key(w, len, "stress=")) {
		if (!cmdline_uint(w, len, 7, 86400, "seconds", &v))
			return 0;
		if (v == 0) {
			printk("cmdline: 'stress=0': a run lasts at least 1 second; ignored\n");
			return 0;
		}
		cl->cl_stress = true;
		cl->cl_stress_seconds = (unsigned)v;
		return 1;
	}
	if (cmdline_key(w, len, "stress_seed=")) {
		if (!cmdline_uint(w, len, 12, UINT64_MAX, "a seed", &cl->cl_stress_seed))
			return 0;
		cl->cl_stress_seed_set = true;
		return 1;
	}
	if (cmdline_key(w, len, "fail_every=")) {
		if (!cmdline_uint(w, len, 11, 1000000000, "a rate", &v))
			return 0;
		cl->cl_fail_every = (unsigned)v;
		return 1;
	}
	if (cmdline_key(w, len, "stress_remote=")) {
		if (!cmdline_uint(w, len, 14, 100, "percent", &v))
			return 0;
		cl->cl_stress_remote = (unsigned)v;
		return 1;
	}
	if (cmdline_key(w, len, "stress_kinds=")) {
		cmdline_value(w, len, 13, cl->cl_stress_kinds, sizeof(cl->cl_stress_kinds));
		return 1;
	}
	return cmdline_stress_hook(w, len, cl);
}

/* Act on one word; false if it is not one we know. */
static bool cmdline_word(const char *w, size_t len, struct cmdline *cl)
{
	int stress;

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
	if (len >= 11 && strncmp(w, "page_defer=", 11) == 0)
		return cmdline_uint(w, len, 11, 1u << 20, "MiB", &cl->cl_page_defer_mib);
	if ((stress = cmdline_stress_word(w, len, cl)) >= 0)
		return stress == 1;
	return false;
}

unsigned cmdline_parse(const char *args, struct cmdline *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->cl_stress_remote = STRESS_REMOTE_DEFAULT;
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
