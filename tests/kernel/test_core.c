/*
 * test_core.c - command line, console dispatch, line editing and argument
 * checks, spinlock misuse and order, symbols and FDT validation of corrupted
 * copies of the boot blob.
 */
#include <libfdt.h>

#include "arch/riscv/csr.h"
#include "arch/riscv/setjmp.h"
#include "arch/riscv/spinlock.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/devtree.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/panic.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "kernel/smp.h"

/* Known words are taken, unknown ones counted and reported. */
static void core_test_cmdline_words(struct ktest *t)
{
	struct cmdline cl;

	KEXPECT_EQ(t, cmdline_parse("  ktest=mmu,smp   kmem_debug=redzone ", &cl), 0);
	KEXPECT_TRUE(t, cl.cl_ktest);
	KEXPECT_STREQ(t, cl.cl_ktest_suites, "mmu,smp");
	KEXPECT_STREQ(t, cl.cl_kmem_debug, "redzone");
	KEXPECT_EQ(t, cmdline_parse("console frobnicate ktest zap", &cl), 2);
	KEXPECT_TRUE(t, cl.cl_ktest);
	KEXPECT_STREQ(t, cl.cl_ktest_suites, "");
	KEXPECT_EQ(t, cmdline_parse("", &cl), 0);
	KEXPECT_FALSE(t, cl.cl_ktest);
}

/* The console runs registered commands and refuses unknown ones. */
static void core_test_console_dispatch(struct ktest *t)
{
	char unknown[] = "no-such-command arg";
	char empty[] = "   ";
	char help[] = "help";

	KEXPECT_EQ(t, console_exec(unknown), -1);
	KEXPECT_EQ(t, console_exec(empty), 0);
	KEXPECT_EQ(t, console_exec(help), 0);
}

static size_t core_echoed;	/* bytes the line editor echoed */

/* Echo sink for the editor tests: count, do not print. */
static void core_echo(const char *s)
{
	core_echoed += strlen(s);
}

/* Feed a string to the editor; the result of its last byte. */
static enum con_feed core_feed(struct con_edit *ed, const char *s)
{
	enum con_feed f = CON_MORE;

	while (*s)
		f = con_edit_feed(ed, (unsigned char)*s++);
	return f;
}

/* Feed n copies of c; each must leave the line open. */
static void core_feed_n(struct ktest *t, struct con_edit *ed, int c, unsigned n)
{
	while (n--)
		KASSERT_EQ(t, con_edit_feed(ed, c), CON_MORE);
}

/* A lone ESC does not eat the next key; a whole escape sequence is consumed. */
static void core_test_console_escape(struct ktest *t)
{
	struct con_edit ed;

	con_edit_init(&ed, core_echo);
	KEXPECT_EQ(t, core_feed(&ed, "\x1b" "help\r"), CON_LINE);
	KEXPECT_STREQ(t, ed.ce_buf, "help");
	con_edit_init(&ed, core_echo);
	/* The Delete key's sequence is consumed; in ESC ESC d both ESCs are lone: d is kept. */
	KEXPECT_EQ(t, core_feed(&ed, "ab\x1b" "[3~c\x1b\x1b" "d\n"), CON_LINE);
	KEXPECT_STREQ(t, ed.ce_buf, "abcd");
	con_edit_init(&ed, core_echo);
	/* Enter ends a broken sequence and the line. */
	KEXPECT_EQ(t, core_feed(&ed, "x\x1b[\n"), CON_LINE);
	KEXPECT_STREQ(t, ed.ce_buf, "x");
}

/* A line longer than CON_LINE_MAX - 1 is refused at Enter, not cut and run. */
static void core_test_console_long_line_refused(struct ktest *t)
{
	struct con_edit ed;

	con_edit_init(&ed, core_echo);
	core_echoed = 0;
	core_feed_n(t, &ed, 'x', 5000);
	KEXPECT_EQ(t, core_echoed, 127);		/* echo stops at the limit */
	KEXPECT_EQ(t, con_edit_feed(&ed, '\n'), CON_TOO_LONG);
	con_edit_init(&ed, core_echo);
	core_feed_n(t, &ed, 'y', 127);
	KEXPECT_EQ(t, con_edit_feed(&ed, '\n'), CON_LINE);	/* exactly the limit: taken */
	KEXPECT_EQ(t, strlen(ed.ce_buf), 127);
	con_edit_init(&ed, core_echo);
	core_feed_n(t, &ed, 'z', 128);
	KEXPECT_EQ(t, con_edit_feed(&ed, 0x7f), CON_MORE);	/* erase the extra one */
	KEXPECT_EQ(t, con_edit_feed(&ed, '\n'), CON_LINE);
	KEXPECT_EQ(t, strlen(ed.ce_buf), 127);
	con_edit_init(&ed, core_echo);
	core_feed_n(t, &ed, 'w', 300);
	KEXPECT_EQ(t, core_feed(&ed, "\x15ok\n"), CON_LINE);	/* Ctrl-U starts afresh */
	KEXPECT_STREQ(t, ed.ce_buf, "ok");
}

/* Commands refuse arguments they do not take with their usage, not a guess. */
static void core_test_console_usage(struct ktest *t)
{
	char opt[] = "vmem -x", twice[] = "vmem -s -s", two[] = "vmem a b";
	char noarena[] = "vmem no_such_arena", extra[] = "buddyinfo now";
	char crash[] = "crash gently";
	char many[] = "help 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";

	KEXPECT_EQ(t, console_exec(opt), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(twice), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(two), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(noarena), 1);
	KEXPECT_EQ(t, console_exec(extra), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(crash), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(many), -1);		/* 17 words: nothing runs */
}

/* Taking a held lock or releasing a free one panics, naming the lock. */
static void core_test_spinlock_misuse(struct ktest *t)
{
	static spinlock_t l = SPINLOCK_INIT("test-lock", LOCK_RANK_TEST);

	KTEST_EXPECT_PANIC(t, spin_unlock(&l), "test-lock");
	spin_lock(&l);
	KEXPECT_TRUE(t, spin_held(&l));
	KTEST_EXPECT_PANIC(t, spin_lock(&l), "already held");
	spin_unlock(&l);
	KEXPECT_FALSE(t, spin_held(&l));
}

/*
 * Locks are taken in rising rank (mm/lock_order.h): the reverse order panics
 * naming both locks, before the second lock is taken; trylock is exempt.
 * Interrupts stay off throughout: zone-rank locks are taken in interrupt
 * context, so taking one with interrupts on would trip the irq-safety check.
 */
static void core_test_lock_order(struct ktest *t)
{
	static spinlock_t outer = SPINLOCK_INIT("test-outer", LOCK_RANK_ZONE);
	static spinlock_t inner = SPINLOCK_INIT("test-inner", LOCK_RANK_TEST);
	unsigned long flags = arch_irq_save();
	char want[96];

	snprintf(want, sizeof(want),
		 "taking 'test-outer' (rank %d) while holding 'test-inner' (rank %d)",
		 LOCK_RANK_ZONE, LOCK_RANK_TEST);
	spin_lock(&outer);
	spin_lock(&inner);		/* in order: fine */
	spin_unlock(&outer);		/* released out of order: fine */
	spin_unlock(&inner);
	spin_lock(&inner);
	KTEST_EXPECT_PANIC(t, spin_lock(&outer), want);
	KEXPECT_FALSE(t, spin_held(&outer));
	KEXPECT_TRUE(t, spin_trylock(&outer));
	spin_unlock(&outer);
	spin_unlock(&inner);
	spin_lock(&outer);		/* the held set forgot both */
	spin_unlock(&outer);
	arch_irq_restore(flags);
}

static spinlock_t core_irq_lock = SPINLOCK_INIT("test-irq", LOCK_RANK_TEST_IRQ);

/* cpu_call_one body: take and drop core_irq_lock in interrupt context. */
static void core_irq_take(void *arg)
{
	(void)arg;
	spin_lock(&core_irq_lock);
	spin_unlock(&core_irq_lock);
}

/*
 * A rank taken in interrupt context and, anywhere, with interrupts on panics
 * naming the lock, whichever came first and although the two never met;
 * with interrupts off in thread context it is fine.  Each panic comes before
 * the lock is taken.
 */
static void core_test_lock_irq_safety(struct ktest *t)
{
	unsigned long flags = arch_irq_save();

	spin_irq_forget(LOCK_RANK_TEST_IRQ);
	spin_lock(&core_irq_lock);		/* thread context, interrupts off: fine */
	spin_unlock(&core_irq_lock);
	if (ncpus > 1) {
		cpu_call_one(1, core_irq_take, NULL);	/* in cpu 1's IPI handler */
	} else {
		this_hart()->h_in_irq = true;	/* one hart: play the handler */
		core_irq_take(NULL);
		this_hart()->h_in_irq = false;
	}
	arch_irq_enable();
	KTEST_EXPECT_PANIC(t, spin_lock(&core_irq_lock), "'test-irq' (rank");
	arch_irq_disable();
	KEXPECT_FALSE(t, spin_held(&core_irq_lock));
	/* the other order: with interrupts on first, then in interrupt context */
	spin_irq_forget(LOCK_RANK_TEST_IRQ);
	arch_irq_enable();
	spin_lock(&core_irq_lock);
	spin_unlock(&core_irq_lock);
	arch_irq_disable();
	this_hart()->h_in_irq = true;
	KTEST_EXPECT_PANIC(t, spin_lock(&core_irq_lock), "taken in interrupt context");
	this_hart()->h_in_irq = false;
	KEXPECT_FALSE(t, spin_held(&core_irq_lock));
	spin_irq_forget(LOCK_RANK_TEST_IRQ);
	arch_irq_restore(flags);
}

void kmain(unsigned long hartid, uintptr_t fdt_pa);	/* kernel/main.c */

/* The generated symbol table names kernel functions. */
static void core_test_ksyms(struct ktest *t)
{
	uintptr_t off;
	const char *name = ksym_lookup((uintptr_t)core_test_ksyms + 4, &off);

	KEXPECT_STREQ(t, name, "core_test_ksyms");
	KEXPECT_EQ(t, off, 4);
	KEXPECT_EQ(t, ksym_address("kmain"), (uintptr_t)kmain);
	KEXPECT_NE(t, ksym_address("panic"), 0);
	KEXPECT_EQ(t, ksym_address("no_such_symbol_anywhere"), 0);
}

static volatile uintptr_t core_bt_bad = 0x8;	/* unmapped: below RAM and devices */
static struct panic_catch core_bt_catch;

/* Panics: a noreturn call as the last instruction of its function. */
static __attribute__((noinline, noreturn)) void core_bt_die(void)
{
	panic("core backtrace test");
}

/* Ends in a call to core_bt_die, so its return address is the next function. */
static __attribute__((noinline)) void core_bt_inner(void)
{
	core_bt_die();
}

/* One more frame, so the chain is known three deep. */
static __attribute__((noinline)) void core_bt_outer(void)
{
	core_bt_inner();
}

/* A leaf: loads through a bad pointer, having saved no return address. */
static __attribute__((noinline)) int core_bt_leaf_load(void)
{
	return *(volatile int *)core_bt_bad;
}

/* Calls the leaf and uses the result (not a tail call). */
static __attribute__((noinline)) void core_bt_leaf_caller(void)
{
	core_bt_bad += (uintptr_t)core_bt_leaf_load();
}

/*
 * The frame GCC gives a leaf, held while the load faults: only the caller's
 * fp is saved, at fp-8, where a non-leaf keeps its return address.  (GCC's
 * own leaves restore s0 before their last load, so this one is written out.)
 */
long core_bt_leaf_framed(uintptr_t addr);
__asm__(".text\n"
	".balign 2\n"
	".type core_bt_leaf_framed, @function\n"
	"core_bt_leaf_framed:\n"
	"	addi	sp, sp, -16\n"
	"	sd	s0, 8(sp)\n"
	"	addi	s0, sp, 16\n"
	"	ld	a0, 0(a0)\n"
	"	ld	s0, 8(sp)\n"
	"	addi	sp, sp, 16\n"
	"	ret\n"
	".size core_bt_leaf_framed, .-core_bt_leaf_framed\n");

/* Calls the framed leaf and uses the result. */
static __attribute__((noinline)) void core_bt_framed_caller(void)
{
	core_bt_bad += (uintptr_t)core_bt_leaf_framed(core_bt_bad);
}

/* Run fn with the panic catch armed; true if it panicked. */
static __attribute__((noinline)) bool core_bt_catch_run(void (*fn)(void))
{
	if (arch_setjmp(&core_bt_catch.pcat_jmp) != 0)
		return true;
	panic_catch_arm(&core_bt_catch);
	fn();
	panic_catch_disarm();
	return false;
}

/* The backtrace names want[0..n-1] at frames first, first + 1, ... */
static void core_bt_expect(struct ktest *t, const struct backtrace *bt, unsigned first,
			   const char *const *want, unsigned n)
{
	uintptr_t off;

	for (unsigned i = 0; i < n; i++) {
		const char *name = first + i < bt->bt_depth ?
				   backtrace_name(bt, first + i, &off) : NULL;

		KEXPECT_STREQ(t, name, want[i]);
	}
}

/*
 * A panic's backtrace names every function of a known call chain, including
 * those whose last instruction calls a noreturn function, and ends in
 * kmain called from _start.
 */
static void core_test_backtrace_names_call_chain(struct ktest *t)
{
	static const char *const chain[] = {
		"panic", "core_bt_die", "core_bt_inner", "core_bt_outer", "core_bt_catch_run",
		"core_test_backtrace_names_call_chain",
	};
	static const char *const root[] = { "kmain", "_start" };
	const struct backtrace *bt = &core_bt_catch.pcat_bt;

	KASSERT_TRUE(t, core_bt_catch_run(core_bt_outer));
	KEXPECT_TRUE(t, ktest_msg_has(core_bt_catch.pcat_msg, "core backtrace test"));
	core_bt_expect(t, bt, 0, chain, 6);
	KASSERT_GE(t, bt->bt_depth, 8);
	core_bt_expect(t, bt, bt->bt_depth - 2, root, 2);
}

/*
 * A fault in a leaf function names the leaf (exact pc) and then its caller,
 * whether s0 is still the caller's or the leaf's own frame.
 */
static void core_test_backtrace_leaf_fault(struct ktest *t)
{
	static const char *const chain[] = {
		"core_bt_leaf_load", "core_bt_leaf_caller", "core_bt_catch_run",
		"core_test_backtrace_leaf_fault",
	};

	static const char *const framed[] = {
		"core_bt_leaf_framed", "core_bt_framed_caller", "core_bt_catch_run",
		"core_test_backtrace_leaf_fault",
	};
	const struct backtrace *bt = &core_bt_catch.pcat_bt;

	KASSERT_TRUE(t, core_bt_catch_run(core_bt_leaf_caller));
	KEXPECT_TRUE(t, ktest_msg_has(core_bt_catch.pcat_msg, "load page fault"));
	KEXPECT_TRUE(t, bt->bt_exact & 1);
	core_bt_expect(t, bt, 0, chain, 4);
	KASSERT_GE(t, bt->bt_depth, 6);
	KEXPECT_STREQ(t, backtrace_name(bt, bt->bt_depth - 1, &(uintptr_t){ 0 }), "_start");
	KASSERT_TRUE(t, core_bt_catch_run(core_bt_framed_caller));
	KEXPECT_TRUE(t, ktest_msg_has(core_bt_catch.pcat_msg, "load page fault"));
	core_bt_expect(t, bt, 0, framed, 4);
}

static struct backtrace core_bt_remote;	/* taken on another hart */

/* Run on another hart by IPI: record how it got here. */
static void core_bt_record(void *arg)
{
	(void)arg;
	backtrace_here(&core_bt_remote);
}

/*
 * A backtrace taken in an interrupt handler goes on through trap_vector into
 * the interrupted code, whose pc is exact, and on to the hart's entry point.
 */
static void core_test_backtrace_through_trap(struct ktest *t)
{
	const struct backtrace *bt = &core_bt_remote;
	uintptr_t off;
	unsigned k = 0;

	if (ncpus < 2)
		ktest_skip(t, "needs a second hart");
	memset(&core_bt_remote, 0, sizeof(core_bt_remote));
	cpu_call_one(1, core_bt_record, NULL);
	KASSERT_GE(t, bt->bt_depth, 4);
	KEXPECT_STREQ(t, backtrace_name(bt, 0, &off), "core_bt_record");
	while (k < bt->bt_depth && strcmp(backtrace_name(bt, k, &off) ?: "?", "trap_vector"))
		k++;
	KASSERT_LT(t, k + 1, bt->bt_depth);
	KEXPECT_TRUE(t, bt->bt_exact & (1u << (k + 1)));
	KEXPECT_STREQ(t, backtrace_name(bt, k + 1, &off), "smp_idle");
	KEXPECT_STREQ(t, backtrace_name(bt, bt->bt_depth - 1, &off), "secondary_entry");
}

#define CORE_FDT_MAX	(64 * 1024)
static uint8_t core_fdt[CORE_FDT_MAX] __attribute__((aligned(8)));
static struct plat_map core_map;

/* Copy the boot blob; false if it does not fit the buffer. */
static bool core_copy_fdt(void)
{
	if (dt_size() > CORE_FDT_MAX)
		return false;
	memcpy(core_fdt, dt_fdt, dt_size());
	return true;
}

/* plat_parse must refuse the copy with a reason. */
static void core_expect_bad(struct ktest *t, size_t size, const char *what)
{
	char err[128] = "";

	if (plat_parse(core_fdt, size, &core_map, err, sizeof(err)) == 0)
		ktest_fail(t, false, __FILE__, __LINE__, "corrupt blob (%s) accepted", what);
	else
		ktest_log(t, "%s: %s", what, err);
	KEXPECT_NE(t, err[0], 0);
}

/* Corrupted copies of the boot FDT are rejected, each with a reason. */
static void core_test_fdt_corrupt_copies(struct ktest *t)
{
	uint32_t size = (uint32_t)dt_size();
	char err[128];

	if (!core_copy_fdt())
		ktest_skip(t, "boot FDT larger than the test buffer");
	KASSERT_EQ(t, plat_parse(core_fdt, size, &core_map, err, sizeof(err)), 0);
	core_fdt[0] ^= 0xff;				/* bad magic */
	core_expect_bad(t, size, "bad magic");
	core_copy_fdt();
	core_expect_bad(t, size / 2, "truncated");
	fdt_set_off_dt_struct(core_fdt, size + 64);	/* structure block outside */
	core_expect_bad(t, size, "struct offset out of range");
	core_copy_fdt();
	fdt_set_size_dt_strings(core_fdt, size);	/* strings block overruns */
	core_expect_bad(t, size, "strings size out of range");
	core_copy_fdt();
	memset(core_fdt + fdt_off_dt_struct(core_fdt) + 8, 0xee, 16);	/* garbage tags */
	core_expect_bad(t, size, "garbage in the structure block");
}

static const struct ktest_case core_cases[] = {
	KTEST_CASE(core_test_cmdline_words),
	KTEST_CASE(core_test_console_dispatch),
	KTEST_CASE(core_test_console_escape),
	KTEST_CASE(core_test_console_long_line_refused),
	KTEST_CASE(core_test_console_usage),
	KTEST_CASE(core_test_spinlock_misuse),
	KTEST_CASE(core_test_lock_order),
	KTEST_CASE(core_test_lock_irq_safety),
	KTEST_CASE(core_test_ksyms),
	KTEST_CASE(core_test_backtrace_names_call_chain),
	KTEST_CASE(core_test_backtrace_leaf_fault),
	KTEST_CASE(core_test_backtrace_through_trap),
	KTEST_CASE(core_test_fdt_corrupt_copies),
	KTEST_END,
};
KTEST_SUITE(core_suite, "core", core_cases);
