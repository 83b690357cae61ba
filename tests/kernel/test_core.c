/*
 * test_core.c - command line, console dispatch, spinlock misuse and order, symbols and
 * FDT validation of corrupted copies of the boot blob.
 */
#include <libfdt.h>

#include "arch/riscv/spinlock.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/devtree.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/panic.h"
#include "kernel/platform.h"

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
 */
static void core_test_lock_order(struct ktest *t)
{
	static spinlock_t outer = SPINLOCK_INIT("test-outer", LOCK_RANK_ZONE);
	static spinlock_t inner = SPINLOCK_INIT("test-inner", LOCK_RANK_TEST);

	spin_lock(&outer);
	spin_lock(&inner);		/* in order: fine */
	spin_unlock(&outer);		/* released out of order: fine */
	spin_unlock(&inner);
	spin_lock(&inner);
	KTEST_EXPECT_PANIC(t, spin_lock(&outer),
			   "taking 'test-outer' (rank 90) while holding 'test-inner' (rank 100)");
	KEXPECT_FALSE(t, spin_held(&outer));
	KEXPECT_TRUE(t, spin_trylock(&outer));
	spin_unlock(&outer);
	spin_unlock(&inner);
	spin_lock(&outer);		/* the held set forgot both */
	spin_unlock(&outer);
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
	KTEST_CASE(core_test_spinlock_misuse),
	KTEST_CASE(core_test_lock_order),
	KTEST_CASE(core_test_ksyms),
	KTEST_CASE(core_test_fdt_corrupt_copies),
	KTEST_END,
};
KTEST_SUITE(core_suite, "core", core_cases);
