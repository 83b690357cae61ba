/*
 * ktest.c - runs the suites registered with KTEST_SUITE and prints KTAP v1
 * the way Linux KUnit does (see ktest.h for the format).
 *
 * Cases run one after another on the boot hart with interrupts enabled.  A
 * KASSERT failure longjmps to the case's abort point; an unexpected panic
 * ends the whole run (QEMU exits non-zero and the runner reports the crash).
 * A name in ktest=LIST that matches no suite is counted in the plan and
 * reported as a failed test line of its own ("not ok N name"), so a KTAP
 * reader and the exit status agree that the run failed.
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

/* Is there a suite called `name` (len characters)? */
static bool ktest_exists(const char *name, size_t len)
{
	for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
		if (strlen(ks->ks_name) == len && strncmp(ks->ks_name, name, len) == 0)
			return true;
	return false;
}

/*
 * Names in the list that match no suite (a typo must not pass silently).
 * With report set, each becomes a failed KTAP test line numbered from
 * num + 1, after the suites that ran; either way returns how many there are.
 */
static int ktest_missing(const char *list, bool report, int num)
{
	int bad = 0;

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		int len = end ? (int)(end - p) : (int)strlen(p);

		if (!ktest_exists(p, (size_t)len)) {
			bad++;
			if (report)
				printk("# ktest: no suite named '%.*s'\nnot ok %d %.*s\n", len, p,
				       num + bad, len, p);
		}
		p += len + (end ? 1 : 0);
	}
	return bad;
}

static char ktest_cap_text[KTEST_CAPTURE_MAX];	/* the capture (see ktest.h) */
static size_t ktest_cap_len;				/* characters in it */
static bool ktest_cap_truncated;			/* something did not fit */

void ktest_capture_reset(void)
{
	ktest_cap_len = 0;
	ktest_cap_text[0] = 0;
	ktest_cap_truncated = false;
}

int ktest_capture(const char *fmt, ...)
{
	size_t room = sizeof(ktest_cap_text) - ktest_cap_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ktest_cap_text + ktest_cap_len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return n;
	if ((size_t)n >= room) {
		ktest_cap_truncated = true;
		ktest_cap_len = sizeof(ktest_cap_text) - 1;
	} else {
		ktest_cap_len += (size_t)n;
	}
	return n;
}

const char *ktest_captured(void) { return ktest_cap_text; }
bool ktest_capture_truncated(void) { return ktest_cap_truncated; }

int ktest_run(const char *names)
{
	int nsuites = 0, num = 0, failed = 0, missing = ktest_missing(names, false, 0);

	for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
		nsuites += ktest_selected(names, ks->ks_name);
	printk("KTAP version 1\n1..%d\n", nsuites + missing);
	for (const struct ktest_suite *ks = __ktest_suites_start; ks < __ktest_suites_end; ks++)
		if (ktest_selected(names, ks->ks_name))
			failed += ktest_run_suite(ks, ++num);
	ktest_missing(names, true, num);
	printk("# ktest: %d suites, %d failures\n", nsuites + missing, failed + missing);
	return failed + missing;
}
