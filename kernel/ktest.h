/*
 * ktest.h - the in-kernel test framework (KUnit-shaped, KTAP v1 output).
 *
 * A suite is a table of cases registered with KTEST_SUITE(); the linker
 * collects every suite into the "ktest_suites" section, so there is no central
 * list to edit.  Suites run on the boot hart, in link order, when the command
 * line says `ktest` (or `ktest=SUITE,...`).  Output is KTAP v1 exactly as
 * Linux KUnit prints it:
 *
 *   KTAP version 1
 *   1..<suites>
 *       KTAP version 1
 *       # Subtest: <suite>
 *       1..<cases>
 *       ok 1 <case>
 *   ok 1 <suite>
 *
 * Checks:
 *   KEXPECT_*(t, ...)  record a failure (file:line, both values) and go on
 *   KASSERT_*(t, ...)  record a failure and abort the case (longjmp out)
 *   ktest_skip(t, why) end the case as "# SKIP why"
 *   KTEST_EXPECT_PANIC(t, stmt, substr)  stmt must panic (on this hart) with
 *                      a message containing substr; the panic is caught and
 *                      the case goes on.  Spinlocks held by the panicking code
 *                      stay held: test only paths that panic before locking.
 *
 * Case names follow <suite>_test_<behaviour>.  Each case gets a one-line
 * comment naming the property it checks.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/riscv/setjmp.h"
#include "kernel/panic.h"

struct ktest {
	const char *kt_name;		/* case name */
	int kt_failed;			/* number of failed checks */
	bool kt_skipped;		/* ktest_skip() was called */
	const char *kt_skip_reason;	/* text after "# SKIP" */
	struct jmp_buf kt_abort;	/* KASSERT_* jumps here */
};

struct ktest_case {
	const char *kc_name;			/* <suite>_test_<behaviour> */
	void (*kc_fn)(struct ktest *t);		/* the case; NULL ends a table */
};

struct ktest_suite {
	const char *ks_name;			/* what ktest=NAME selects */
	const struct ktest_case *ks_cases;	/* terminated by a {NULL, NULL} entry */
	int (*ks_init)(void);			/* optional; non-zero skips the suite */
};

#define KTEST_CASE(fn)	{ #fn, fn }
#define KTEST_END	{ 0, 0 }

#define KTEST_SUITE(var, name, cases)						\
	static const struct ktest_suite var						\
	__attribute__((used, section("ktest_suites"), aligned(8))) = { name, cases, 0 }

#define KTEST_SUITE_INIT(var, name, cases, init)					\
	static const struct ktest_suite var						\
	__attribute__((used, section("ktest_suites"), aligned(8))) = { name, cases, init }

/* Low-level reporters: the macros below are what tests use. */
void ktest_fail(struct ktest *t, bool abort, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void ktest_skip(struct ktest *t, const char *reason) __attribute__((noreturn));
void ktest_log(struct ktest *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run every suite (names == NULL) or those listed, comma-separated; returns failures. */
int ktest_run(const char *names);

#define KT_CMP_(t, ab, a, op, b)							\
	do {										\
		long long kt_a_ = (long long)(a), kt_b_ = (long long)(b);		\
		if (!(kt_a_ op kt_b_))							\
			ktest_fail(t, ab, __FILE__, __LINE__,				\
				   "Expected %s " #op " %s, but %s == %lld (0x%llx), "	\
				   "%s == %lld (0x%llx)", #a, #b, #a, kt_a_,		\
				   (unsigned long long)kt_a_, #b, kt_b_,		\
				   (unsigned long long)kt_b_);				\
	} while (0)

#define KT_TRUE_(t, ab, c)								\
	do {										\
		if (!(c))								\
			ktest_fail(t, ab, __FILE__, __LINE__, "Expected %s to be true", #c); \
	} while (0)

#define KT_STREQ_(t, ab, a, b)								\
	do {										\
		const char *kt_sa_ = (a), *kt_sb_ = (b);				\
		if (!kt_sa_ || !kt_sb_ || strcmp(kt_sa_, kt_sb_) != 0)			\
			ktest_fail(t, ab, __FILE__, __LINE__,				\
				   "Expected %s == %s, but \"%s\" != \"%s\"", #a, #b,	\
				   kt_sa_ ? kt_sa_ : "(null)", kt_sb_ ? kt_sb_ : "(null)"); \
	} while (0)

#define KEXPECT_EQ(t, a, b)	KT_CMP_(t, false, a, ==, b)
#define KEXPECT_NE(t, a, b)	KT_CMP_(t, false, a, !=, b)
#define KEXPECT_LT(t, a, b)	KT_CMP_(t, false, a, <, b)
#define KEXPECT_LE(t, a, b)	KT_CMP_(t, false, a, <=, b)
#define KEXPECT_GT(t, a, b)	KT_CMP_(t, false, a, >, b)
#define KEXPECT_GE(t, a, b)	KT_CMP_(t, false, a, >=, b)
#define KEXPECT_TRUE(t, c)	KT_TRUE_(t, false, c)
#define KEXPECT_FALSE(t, c)	KT_TRUE_(t, false, !(c))
#define KEXPECT_NULL(t, p)	KT_CMP_(t, false, (uintptr_t)(p), ==, 0)
#define KEXPECT_NOT_NULL(t, p)	KT_CMP_(t, false, (uintptr_t)(p), !=, 0)
#define KEXPECT_STREQ(t, a, b)	KT_STREQ_(t, false, a, b)

#define KASSERT_EQ(t, a, b)	KT_CMP_(t, true, a, ==, b)
#define KASSERT_NE(t, a, b)	KT_CMP_(t, true, a, !=, b)
#define KASSERT_LT(t, a, b)	KT_CMP_(t, true, a, <, b)
#define KASSERT_LE(t, a, b)	KT_CMP_(t, true, a, <=, b)
#define KASSERT_GT(t, a, b)	KT_CMP_(t, true, a, >, b)
#define KASSERT_GE(t, a, b)	KT_CMP_(t, true, a, >=, b)
#define KASSERT_TRUE(t, c)	KT_TRUE_(t, true, c)
#define KASSERT_FALSE(t, c)	KT_TRUE_(t, true, !(c))
#define KASSERT_NULL(t, p)	KT_CMP_(t, true, (uintptr_t)(p), ==, 0)
#define KASSERT_NOT_NULL(t, p)	KT_CMP_(t, true, (uintptr_t)(p), !=, 0)
#define KASSERT_STREQ(t, a, b)	KT_STREQ_(t, true, a, b)

/*
 * Expected panics.  panic() on a hart with an armed catch frame saves its
 * message and longjmps back here instead of stopping the machine.
 */
struct panic_catch {
	struct jmp_buf pcat_jmp;		/* where panic() returns to */
	char pcat_msg[256];		/* the panic message, formatted */
	unsigned long pcat_sstatus;	/* interrupt state to restore */
	struct backtrace pcat_bt;	/* the backtrace the report would print */
};
void panic_catch_arm(struct panic_catch *pc);	/* arm on this hart */
void panic_catch_disarm(void);
bool ktest_msg_has(const char *msg, const char *substr);

/*
 * Reading a dump: tests hand ktest_capture to a printk-like dump function
 * (page_buddyinfo, kmem_kmastat, lockstat_dump, ...) and parse the text.
 * One buffer of KTEST_CAPTURE_MAX bytes, for the test that runs (tests run
 * one at a time on one hart); text past the end is dropped and noted.
 */
#define KTEST_CAPTURE_MAX	(256 * 1024)
void ktest_capture_reset(void);			/* start a new capture */
int ktest_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ktest_captured(void);		/* the text so far, NUL-terminated */
bool ktest_capture_truncated(void);		/* some text did not fit */

#define KTEST_EXPECT_PANIC(t, stmt, substr)						\
	do {										\
		static struct panic_catch kt_pc_;					\
		kt_pc_.pcat_msg[0] = 0;							\
		if (arch_setjmp(&kt_pc_.pcat_jmp) == 0) {					\
			panic_catch_arm(&kt_pc_);					\
			stmt;								\
			panic_catch_disarm();						\
			ktest_fail(t, false, __FILE__, __LINE__,			\
				   "Expected a panic from: %s", #stmt);			\
		} else if (!ktest_msg_has(kt_pc_.pcat_msg, (substr))) {			\
			ktest_fail(t, false, __FILE__, __LINE__,			\
				   "panic message \"%s\" lacks \"%s\"",		\
				   kt_pc_.pcat_msg, (substr));				\
		}									\
	} while (0)

#endif /* KERNEL_KTEST_H */
