/*
 * panic.c - the end of the line: report, stop every hart, exit QEMU non-zero.
 *
 * Only the first hart to panic reports; a second panicking hart stops
 * quietly.  The report never takes a lock it might already hold: printk_lock
 * is broken if this hart owns it.  An armed panic catch (ktest.h) turns the
 * panic into a longjmp back into the test, with interrupts restored; the
 * catch gets the message and the backtrace, so tests can check both.
 */
#include <stdarg.h>

#include "arch/riscv/csr.h"
#include "arch/riscv/sbi.h"
#include "arch/riscv/spinlock.h"
#include "arch/riscv/trap.h"
#include "drivers/testdev.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"

extern spinlock_t printk_lock;
extern char boot_stack[], boot_stack_top[];
extern char __text_start[], __text_end[], trap_vector[];
static volatile int panicking;
static struct trap_frame *panic_frame[MAX_CPUS];

void panic_set_frame(struct trap_frame *tf)
{
	panic_frame[this_cpu()] = tf;
}

void panic_catch_arm(struct panic_catch *pc)
{
	pc->pcat_sstatus = csr_read(sstatus);
	this_hart()->h_panic_catch = pc;
}

void panic_catch_disarm(void)
{
	this_hart()->h_panic_catch = NULL;
}

void kernel_exit(int status)
{
	arch_irq_disable();
	testdev_exit(status);		/* returns only if there is no test device */
	if (status != 0)
		printk("exit: no test device; SBI shutdown cannot report status %d\n", status);
	sbi_shutdown();
}

/* Hand the message and backtrace to an armed catch frame: never returns. */
static void panic_to_catch(struct panic_catch *pc, const struct backtrace *bt, const char *fmt,
			   va_list ap)
{
	this_hart()->h_panic_catch = NULL;
	panic_frame[this_cpu()] = NULL;
	pc->pcat_bt = *bt;
	vsnprintf(pc->pcat_msg, sizeof(pc->pcat_msg), fmt, ap);
	if (pc->pcat_sstatus & SSTATUS_SIE)
		arch_irq_enable();
	arch_longjmp(&pc->pcat_jmp, 1);
}

/* Is fp a plausible frame pointer on this hart's stack? */
static int fp_on_stack(uintptr_t fp)
{
	struct hart *h = this_hart();
	uintptr_t hi = h->h_stack_top ? h->h_stack_top : (uintptr_t)boot_stack_top;
	uintptr_t lo = h->h_stack_top ? hi - HART_STACK_SIZE : (uintptr_t)boot_stack;

	return (fp & 7) == 0 && fp > lo + 16 && fp <= hi;
}

/* Is pc inside the kernel's text? */
static bool bt_in_text(uintptr_t pc)
{
	return pc >= (uintptr_t)__text_start && pc < (uintptr_t)__text_end;
}

/* Append one frame; false when the backtrace is full. */
static bool bt_push(struct backtrace *bt, uintptr_t pc, bool exact)
{
	if (bt->bt_depth >= BT_MAX_DEPTH)
		return false;
	if (exact)
		bt->bt_exact |= 1u << bt->bt_depth;
	bt->bt_pc[bt->bt_depth++] = pc;
	return true;
}

/* Start of the function holding addr, or 0 outside the symbol table. */
static uintptr_t bt_func(uintptr_t addr)
{
	uintptr_t off;

	return ksym_lookup(addr, &off) != NULL ? addr - off : 0;
}

/*
 * The caller of a trapped function.  The trap saved its ra register: if ra
 * returns into another function, the trapped one has called nothing yet
 * (a leaf, a frameless assembly routine, or a prologue or epilogue), so ra
 * is the caller, certainly.  Its fp is then at fp-16 when the trapped
 * function saved ra there, at fp-8 when it saved only fp (a GCC leaf, where
 * fp-8 holds a stack address), and otherwise s0 already was (or again is)
 * the caller's own.  Returns false when ra says nothing (it points back into
 * the trapped function), leaving the plain frame record to be read.
 */
static bool bt_trapped_caller(uintptr_t *fp, uintptr_t pc, uintptr_t ra, uintptr_t *next)
{
	uintptr_t slot = ((uintptr_t *)*fp)[-1];

	if (!bt_in_text(ra) || bt_func(ra - 1) == bt_func(pc))
		return false;
	*next = ra;
	if (slot == ra)
		*fp = ((uintptr_t *)*fp)[-2];
	else if (!bt_in_text(slot) && fp_on_stack(slot))
		*fp = slot;
	return true;
}

/*
 * Walk from pc (exact or a return address) whose frame pointer is fp.  GCC's
 * frame record keeps the return address at fp-8 and the caller's fp at
 * fp-16.  A trapped pc (ra: its ra register, else 0) may not have a record
 * yet: bt_trapped_caller.  A return address into trap_vector means fp is a
 * trap frame (trapvec.S): the pc it interrupted comes next, exact.
 */
static void bt_walk(struct backtrace *bt, uintptr_t fp, uintptr_t pc, bool exact, uintptr_t ra)
{
	while (pc != 0 && bt_push(bt, pc, exact) && fp_on_stack(fp)) {
		const struct trap_frame *tf;
		uintptr_t next;

		if (ra == 0 || !bt_trapped_caller(&fp, pc, ra, &next)) {
			next = ((uintptr_t *)fp)[-1];
			fp = ((uintptr_t *)fp)[-2];
		}
		pc = next;
		ra = 0;
		exact = false;
		if (bt_func(pc - 1) == (uintptr_t)trap_vector && fp_on_stack(fp + sizeof(*tf))) {
			tf = (const struct trap_frame *)fp;
			if (!bt_push(bt, pc, false))
				return;
			pc = tf->tf_regs[0];
			ra = tf->tf_regs[1];
			fp = tf->tf_regs[TF_REG_S0];
			exact = true;
		}
	}
}

void backtrace_here(struct backtrace *bt)
{
	uintptr_t *fp = __builtin_frame_address(0);

	bt->bt_depth = 0;
	bt->bt_exact = 0;
	bt_walk(bt, fp[-2], fp[-1], false, 0);		/* from the caller's frame */
}

void backtrace_from_trap(struct backtrace *bt, const struct trap_frame *tf)
{
	bt->bt_depth = 0;
	bt->bt_exact = 0;
	bt_walk(bt, tf->tf_regs[TF_REG_S0], tf->tf_regs[0], true, tf->tf_regs[1]);
}

const char *backtrace_name(const struct backtrace *bt, unsigned i, uintptr_t *offset)
{
	bool exact = bt->bt_exact & (1u << i);
	const char *name = ksym_lookup(bt->bt_pc[i] - !exact, offset);

	*offset += !exact;
	return name;
}

void backtrace_print(const struct backtrace *bt)
{
	uintptr_t off;

	printk(" backtrace:\n");
	for (unsigned i = 0; i < bt->bt_depth; i++) {
		const char *name = backtrace_name(bt, i, &off);

		printk("  [<%016lx>] %s+0x%lx\n", bt->bt_pc[i], name ? name : "?", off);
	}
}

void panic(const char *fmt, ...)
{
	struct hart *h = this_hart();
	struct trap_frame *tf = panic_frame[h->h_cpu];
	struct backtrace bt;
	va_list ap;

	arch_irq_disable();
	if (tf)
		backtrace_from_trap(&bt, tf);
	else
		backtrace_here(&bt);
	va_start(ap, fmt);
	if (h->h_panic_catch)
		panic_to_catch(h->h_panic_catch, &bt, fmt, ap);
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
		smp_stop_self();
	smp_stop_others();
	if (spin_held(&printk_lock))
		spin_force_release(&printk_lock);
	printk("\n*** KERNEL PANIC on cpu %u (hart %lu): ", h->h_cpu, h->h_hartid);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	if (tf)
		trap_dump_frame(tf);
	backtrace_print(&bt);
	printk("*** end of panic report; exiting with status 1\n");
	kernel_exit(1);
}
