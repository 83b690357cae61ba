/*
 * panic.c - the end of the line: report, stop every hart, exit QEMU non-zero.
 *
 * Only the first hart to panic reports; a second panicking hart stops
 * quietly.  The report never takes a lock it might already hold: printk_lock
 * is broken if this hart owns it.  An armed panic catch (ktest.h) turns the
 * panic into a longjmp back into the test, with interrupts restored.
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

/* Hand the message to an armed catch frame: never returns. */
static void panic_to_catch(struct panic_catch *pc, const char *fmt, va_list ap)
{
	this_hart()->h_panic_catch = NULL;
	panic_frame[this_cpu()] = NULL;
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

void backtrace_print(uintptr_t fp, uintptr_t pc)
{
	uintptr_t off;
	const char *name;

	printk(" backtrace:\n");
	for (int depth = 0; depth < 32; depth++) {
		name = ksym_lookup(pc, &off);
		printk("  [<%016lx>] %s+0x%lx\n", pc, name ? name : "?", off);
		if (!fp_on_stack(fp))
			break;
		pc = ((uintptr_t *)fp)[-1];
		fp = ((uintptr_t *)fp)[-2];
		if (pc == 0)
			break;
	}
}

void panic(const char *fmt, ...)
{
	struct hart *h = this_hart();
	struct trap_frame *tf = panic_frame[h->h_cpu];
	va_list ap;

	arch_irq_disable();
	va_start(ap, fmt);
	if (h->h_panic_catch)
		panic_to_catch(h->h_panic_catch, fmt, ap);
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
		smp_stop_self();
	smp_stop_others();
	if (spin_held(&printk_lock))
		spin_force_release(&printk_lock);
	printk("\n*** KERNEL PANIC on cpu %u (hart %lu): ", h->h_cpu, h->h_hartid);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	if (tf) {
		trap_dump_frame(tf);
		backtrace_print(tf->tf_regs[TF_REG_S0], tf->tf_regs[0]);
	} else {
		backtrace_print((uintptr_t)__builtin_frame_address(0), (uintptr_t)panic);
	}
	printk("*** end of panic report; exiting with status 1\n");
	kernel_exit(1);
}
