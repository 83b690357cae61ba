/*
 * ktest.c - runs the suites registered with KTEST_SUITE and prints KTAP v1
 * the way Linux KUnit does (see ktest.h for the format).
 *
 * Cases run one after another on the boot hart with interrupts enabled.  A
 * KASSERT failure longjmps to the case's abort point; an unexpected panic
 * ends the whole run (QEMU exits non-zero and the runner reports the crash).
 */
#include <stdarg.h>

#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

extern const struct ktest_suite __ktest_suites_start[], __ktest_suites_end[];

static struct ktest *ktest_current;

void ktest_fail(struct ktest *t, bool abort, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printk("  # %s: EXPECTATION FAILED at %s:%d\n  # ", t->kt_name, file, line);
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	t->kt_failed++;
	if (abort)
		arch_longjmp(&t->kt_abort, 1);
}

void ktest_skip(struct ktest *t, const char *reason)
{
	t->kt_skipped = true;
	t->kt_skip_reason = reason;
	arch_longjmp(&t->kt_abort, 1);
}

void ktest_log(struct ktest *t, const char *fmt, ...)
{
	va_list ap;

	(void)t;
	printk("  # ");
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
}

bool ktest_msg_has(const char *msg, const char *substr)
{
	return strstr(msg, substr) != NULL;
}

/* Is `name` in the comma-separated list (NULL or "" selects everything)? */
static bool ktest_selected(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!list || !*list)
		return true;
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (end ? 1 : 0);
	}
	return false;
}

/* Run one case; returns true if it passed or was skipped. */
static bool ktest_run_case(const struct ktest_case *kc, int num)
{
	struct ktest t = { .kt_name = kc->kc_name };

	ktest_current = &t;
	if (arch_setjmp(&t.kt_abort) == 0)
		kc->kc_fn(&t);
	ktest_current = NULL;
	if (t.kt_skipped && !t.kt_failed) {
		printk("  ok %d %s # SKIP %s\n", num, kc->kc_name,
		       t.kt_skip_reason ? t.kt_skip_reason : "");
		return true;
	}
	printk("  %s %d %s\n", t.kt_failed ? "not ok" : "ok", num, kc->kc_name);
	return t.kt_failed == 0;
}

/* Run a suite as a KTAP subtest; returns its failed-case count. */
static int ktest_run_suite(const struct ktest_suite *ks, int num)
{
	int ncases = 0, failed = 0;

	while (ks->ks_cases[ncases].kc_name)
		ncases++;
	printk("  KTAP version 1\n  # Subtest: %s\n  1..%d\n", ks->ks_name, ncases);
	if (ks->ks_init && ks->ks_init() != 0) {
		for (int i = 0; i < ncases; i++)
			printk("  ok %d %s # SKIP suite init failed\n", i + 1,
			       ks->ks_cases[i].kc_name);
		printk("ok %d %s # SKIP suite init failed\n", num, ks->ks_name);
		return 0;
	}
	for (int i = 0; i < ncases; i++)
		failed += !ktest_run_case(&ks->ks_cases[i], i + 1);
	printk("%s %d %s\n", failed ? "not ok" : "ok", num, ks->ks_name);
	return failed;
}

/* Report names in the list that match no suite (a typo must not pass silently). */
static int ktest_check_names(const char *list)
{
	int bad = 0;
	char name[64];

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool found = false;

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
			found |= strcmp(ks->ks_name, name) == 0;
		if (!found) {
			printk("ktest: no suite named '%s'\n", name);
			bad++;
		}
		p += len + (end ? 1 : 0);
	}
	return bad;
}

int ktest_run(const char *names)
{
	int nsuites = 0, num = 0, failed;

	failed = ktest_check_names(names);
	for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
		nsuites += ktest_selected(names, ks->ks_name);
	printk("KTAP version 1\n1..%d\n", nsuites);
	for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
		if (ktest_selected(names, ks->ks_name))
			failed += ktest_run_suite(ks, ++num);
	printk("# ktest: %d suites, %d failures\n", nsuites, failed);
	return failed;
}
