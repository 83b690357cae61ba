/*
 * test_ktest.c - the test framework checks itself: expected panics are
 * caught with their message, KASSERT aborts only its case, the stack and
 * interrupt state survive a caught panic.
 */
#include "arch/riscv/csr.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

static int ktest_reached;

static void ktest_panic_helper(int v)
{
	panic("deliberate panic with value %d", v);
}

/* A panic inside KTEST_EXPECT_PANIC is caught and its message kept. */
static void ktest_test_expect_panic_catches(struct ktest *t)
{
	KTEST_EXPECT_PANIC(t, ktest_panic_helper(42), "value 42");
	KEXPECT_FALSE(t, arch_irqs_disabled());
}

/* Code after a caught panic is not run; the case goes on after the macro. */
static void ktest_test_panic_skips_rest(struct ktest *t)
{
	ktest_reached = 0;
	KTEST_EXPECT_PANIC(t, (ktest_panic_helper(1), ktest_reached = 1), "deliberate");
	KEXPECT_EQ(t, ktest_reached, 0);
}

/* A failed check in a nested case object is recorded, not fatal. */
static void ktest_test_fail_is_recorded(struct ktest *t)
{
	struct ktest inner = { .kt_name = "inner" };

	if (arch_setjmp(&inner.kt_abort) == 0) {
		KEXPECT_EQ(&inner, 1, 2);	/* prints a diagnostic line */
		KASSERT_EQ(&inner, 3, 4);	/* aborts the inner "case" */
		KEXPECT_TRUE(t, false);		/* never reached */
	}
	KEXPECT_EQ(t, inner.kt_failed, 2);
}

/* ktest_skip ends a case as skipped. */
static void ktest_test_skip_marks_case(struct ktest *t)
{
	struct ktest inner = { .kt_name = "inner" };

	if (arch_setjmp(&inner.kt_abort) == 0)
		ktest_skip(&inner, "because");
	KEXPECT_TRUE(t, inner.kt_skipped);
	KEXPECT_STREQ(t, inner.kt_skip_reason, "because");
}

static const struct ktest_case ktest_cases[] = {
	KTEST_CASE(ktest_test_expect_panic_catches),
	KTEST_CASE(ktest_test_panic_skips_rest),
	KTEST_CASE(ktest_test_fail_is_recorded),
	KTEST_CASE(ktest_test_skip_marks_case),
	KTEST_END,
};
KTEST_SUITE(ktest_suite, "ktest", ktest_cases);
