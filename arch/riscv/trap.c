/*
 * trap.c - trap dispatch.
 *
 * Interrupts: supervisor software interrupts are IPIs (kernel/smp.c), timer
 * interrupts wake waiters (kernel/timer.c).  Every exception is fatal: the
 * kernel has no user mode and no demand paging, so a fault means a bug.  A
 * registered fault hook may explain the address first (the mapped heap names
 * the allocation behind a guard page), then panic() prints the frame, the
 * backtrace, stops the other harts and exits QEMU with a failure status.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/trap.h"
#include "kernel/hart.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"
#include "kernel/panic.h"

extern char trap_vector[];
static trap_fault_hook_t trap_fault_hooks[TRAP_MAX_FAULT_HOOKS];

static const char *const exc_names[] = {
	"instruction address misaligned", "instruction access fault",
	"illegal instruction", "breakpoint", "load address misaligned",
	"load access fault", "store/AMO address misaligned", "store/AMO access fault",
	"environment call from U-mode", "environment call from S-mode", "reserved",
	"environment call from M-mode", "instruction page fault", "load page fault",
	"reserved", "store/AMO page fault",
};

void trap_init_hart(void)
{
	csr_write(stvec, (unsigned long)trap_vector);
	csr_write(sie, SIE_SSIE | SIE_STIE);
}

void trap_add_fault_hook(trap_fault_hook_t fn)
{
	for (unsigned i = 0; i < TRAP_MAX_FAULT_HOOKS; i++) {
		if (trap_fault_hooks[i] == fn)
			return;
		if (trap_fault_hooks[i] == NULL) {
			trap_fault_hooks[i] = fn;
			return;
		}
	}
	panic("trap_add_fault_hook(%p): all %d slots taken", (void *)fn, TRAP_MAX_FAULT_HOOKS);
}

/* Ask the hooks in turn to explain a fault at addr; true if one did. */
static bool trap_explain(uintptr_t addr, char *buf, size_t len)
{
	for (unsigned i = 0; i < TRAP_MAX_FAULT_HOOKS && trap_fault_hooks[i]; i++)
		if (trap_fault_hooks[i](addr, buf, len))
			return true;
	buf[0] = 0;
	return false;
}

const char *trap_cause_name(unsigned long scause)
{
	if (scause & SCAUSE_INTR) {
		switch (scause & ~SCAUSE_INTR) {
		case IRQ_S_SOFT: return "supervisor software interrupt";
		case IRQ_S_TIMER: return "supervisor timer interrupt";
		case IRQ_S_EXT: return "supervisor external interrupt";
		default: return "unknown interrupt";
		}
	}
	return scause < 16 ? exc_names[scause] : "unknown exception";
}

void trap_dump_frame(const struct trap_frame *tf)
{
	static const char *const names[32] = {
		"pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0",
		"a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5",
		"s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
	};

	printk(" scause 0x%lx (%s) sepc 0x%lx stval 0x%lx sstatus 0x%lx\n",
	       tf->tf_scause, trap_cause_name(tf->tf_scause), tf->tf_regs[0],
	       tf->tf_stval, tf->tf_sstatus);
	for (int i = 0; i < 32; i += 4)
		printk(" %-3s 0x%016lx  %-3s 0x%016lx  %-3s 0x%016lx  %-3s 0x%016lx\n",
		       names[i], tf->tf_regs[i], names[i + 1], tf->tf_regs[i + 1],
		       names[i + 2], tf->tf_regs[i + 2], names[i + 3], tf->tf_regs[i + 3]);
}

/* An exception: let the owner of the address explain it, then panic. */
static void trap_exception(struct trap_frame *tf)
{
	unsigned long cause = tf->tf_scause;
	bool is_fault = cause == 5 || cause == 7 || cause == 12 || cause == 13 || cause == 15;
	char why[192] = "";

	panic_set_frame(tf);
	if (is_fault)
		trap_explain(tf->tf_stval, why, sizeof(why));
	panic("unexpected trap on cpu %u (hart %lu): %s at pc 0x%lx, address 0x%lx%s%s",
	      this_cpu(), this_hart()->h_hartid, trap_cause_name(cause),
	      tf->tf_regs[0], tf->tf_stval, why[0] ? ": " : "", why);
}

void trap_handler(struct trap_frame *tf)
{
	struct hart *h = this_hart();
	bool was_in_irq = h->h_in_irq;

	h->h_ntraps++;
	if (!(tf->tf_scause & SCAUSE_INTR)) {
		trap_exception(tf);
		return;
	}
	h->h_in_irq = true;		/* for the locks' interrupt-safety check */
	switch (tf->tf_scause & ~SCAUSE_INTR) {
	case IRQ_S_SOFT:
		smp_handle_ipi();
		break;
	case IRQ_S_TIMER:
		timer_interrupt();
		break;
	default:
		panic_set_frame(tf);
		panic("unexpected interrupt 0x%lx on cpu %u", tf->tf_scause, this_cpu());
	}
	h->h_in_irq = was_in_irq;
}
