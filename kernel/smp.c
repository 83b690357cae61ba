/*
 * smp.c - bringing harts online, IPIs and cross-hart calls.
 *
 * Start-up.  The boot hart (cpu 0) starts every other enabled hart in /cpus
 * with SBI HSM hart_start, handing each a struct hart_boot with its stack.
 * A started hart announces itself (STARTING -> ARRIVED) and waits in wfi.
 * The boot hart waits for all of them until SMP_START_TIMEOUT_US pass with
 * no hart arriving (kernel/smp.h), then a while longer for harts that SBI
 * says are running; a hart that has not arrived by then is marked FAILED (a compare-and-swap, so a
 * latecomer sees FAILED and parks for good) and reported.  The arrived harts
 * then get dense cpu ids in hart-id order and are released (GO).
 *
 * IPIs.  The sender sets a reason bit in the target's h_ipi_pending and
 * raises the SBI IPI; the target clears sip.SSIP *before* taking the bits,
 * so a reason set after the exchange always comes with a fresh SSIP.
 *
 * Cross-calls.  One call is in flight at a time (xcall_lock).  The caller
 * runs the function itself, then waits in wfi for the others; the last one
 * to finish wakes it.  While waiting for xcall_lock a hart keeps serving
 * IPIs, so two harts calling at once cannot deadlock.  A cross-call function
 * must not cross-call itself (that panics: it would wait on xcall_lock held
 * by its own caller), and nobody may cross-call while holding a lock that
 * another hart may spin on with interrupts off.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi.h"
#include "arch/riscv/spinlock.h"
#include "arch/riscv/trap.h"
#include "kernel/cmdline.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"
#include "mm/bootmem.h"

enum { HB_UNUSED, HB_STARTING, HB_ARRIVED, HB_GO, HB_FAILED };

/* Handed to a starting hart as the SBI opaque argument (entry.S uses the offsets). */
struct hart_boot {
	unsigned long hb_hartid;	/* +0 */
	unsigned long hb_cpu;		/* +8: dense id, valid at GO */
	uintptr_t hb_stack_top;		/* +16: loaded into sp by entry.S */
	volatile int hb_state;		/* +24: HB_* */
	int hb_node;			/* +28: NUMA node of the hart */
	volatile int hb_progress;	/* +32: 0 not seen, 1 entry.S, 2 C, -1 trapped */
	volatile int hb_via_start;	/* +36: came in at _start (see entry.S lost_lottery) */
	unsigned long hb_scause;	/* +40: an early trap's cause ... */
	unsigned long hb_sepc;		/* +48: ... pc ... */
	unsigned long hb_stval;		/* +56: ... and address (secondary_early_trap) */
};
_Static_assert(__builtin_offsetof(struct hart_boot, hb_stack_top) == 16, "entry.S HB_STACK_TOP");
_Static_assert(__builtin_offsetof(struct hart_boot, hb_progress) == 32, "entry.S HB_PROGRESS");
_Static_assert(__builtin_offsetof(struct hart_boot, hb_via_start) == 36, "entry.S HB_VIA_START");
_Static_assert(__builtin_offsetof(struct hart_boot, hb_stval) == 56, "entry.S HB_STVAL");
_Static_assert(sizeof(struct hart_boot) == 64, "entry.S HB_SIZE");
_Static_assert(HB_STARTING == 1 && MAX_CPUS == 128, "entry.S lost_lottery constants");

struct hart harts[MAX_CPUS];
unsigned ncpus = 1;
unsigned ncpus_possible = 1;
unsigned smp_nfailed;

struct hart_boot hart_boot[MAX_CPUS];	/* global: entry.S searches it */
/* Own cache lines: every hart spins on it during drains (the profile found it
   sharing a line with segkmem_lock). */
static spinlock_t xcall_lock __attribute__((aligned(64))) = SPINLOCK_INIT("xcall", LOCK_RANK_XCALL);
SPINLOCK_REGISTER(xcall_lock);	/* lockstat sees it */
static struct {
	void (*xc_fn)(void *);		/* function to run */
	void *xc_arg;			/* its argument */
	unsigned xc_caller;		/* cpu waiting for completion */
	volatile unsigned xc_pending;	/* harts still to finish */
} xcall;

extern char secondary_entry[], park_entry[], _start[];
static unsigned smp_nparked;	/* harts beyond MAX_CPUS, parked in wfi */

void smp_send_ipi(unsigned cpu, unsigned reason)
{
	__atomic_fetch_or(&harts[cpu].h_ipi_pending, reason, __ATOMIC_SEQ_CST);
	sbi_send_ipi(1UL, harts[cpu].h_hartid);
}

void smp_stop_self(void)
{
	arch_irq_disable();
	csr_write(sie, 0);
	this_hart()->h_state = HART_STOPPED;
	for (;;)
		arch_wfi();
}

/* Act on the reason bits of this hart's pending IPIs. */
static void smp_handle_bits(void)
{
	struct hart *h = this_hart();
	unsigned bits = __atomic_exchange_n(&h->h_ipi_pending, 0, __ATOMIC_SEQ_CST);

	h->h_nipis++;
	if (bits & IPI_STOP)
		smp_stop_self();
	if (bits & IPI_CALL) {
		h->h_in_xcall = true;
		xcall.xc_fn(xcall.xc_arg);
		h->h_in_xcall = false;
		if (__atomic_sub_fetch(&xcall.xc_pending, 1, __ATOMIC_SEQ_CST) == 0)
			smp_send_ipi(xcall.xc_caller, IPI_WAKE);
	}
}

void smp_handle_ipi(void)
{
	csr_clear(sip, SIE_SSIE);
	smp_handle_bits();
}

bool smp_poll_ipi(void)
{
	if (!(csr_read(sip) & SIE_SSIE))
		return false;
	smp_handle_ipi();
	return true;
}

/* Work cpu_start_others() hands an idle hart, run in thread context. */
static struct {
	void (*sw_fn)(void *);		/* NULL: none pending */
	void *sw_arg;
} smp_work[MAX_CPUS];

void cpu_start_others(void (*fn)(void *), void *arg)
{
	for (unsigned c = 0; c < ncpus; c++) {
		if (c == this_cpu())
			continue;
		smp_work[c].sw_arg = arg;
		__atomic_store_n(&smp_work[c].sw_fn, fn, __ATOMIC_RELEASE);
		smp_send_ipi(c, IPI_WAKE);
	}
}

/*
 * The idle loop: wfi, and run work from cpu_start_others with interrupts on.
 * The check is made with interrupts off, so an IPI_WAKE that comes after it
 * stays pending and ends the wfi (no lost wake-up).
 */
void smp_idle(void)
{
	unsigned c = this_cpu();

	for (;;) {
		void (*fn)(void *);

		arch_irq_disable();
		fn = __atomic_exchange_n(&smp_work[c].sw_fn, NULL, __ATOMIC_ACQUIRE);
		if (fn == NULL)
			arch_wfi();
		arch_irq_enable();
		if (fn != NULL)
			fn(smp_work[c].sw_arg);
	}
}

/* Take xcall_lock with interrupts off, serving IPIs while it is busy. */
static unsigned long xcall_begin(void)
{
	unsigned long flags = arch_irq_save();

	if (this_hart()->h_in_xcall)
		panic("cpu_call: nested cross-call from inside a cross-call on cpu %u "
		      "(would deadlock on xcall_lock)", this_cpu());

	while (!spin_trylock(&xcall_lock))
		smp_poll_ipi();
	return flags;
}

/* Wait in wfi until every target has run the call, then release the lock. */
static void xcall_finish(unsigned long flags)
{
	while (__atomic_load_n(&xcall.xc_pending, __ATOMIC_ACQUIRE))
		if (!smp_poll_ipi())
			arch_wfi();
	spin_unlock(&xcall_lock);
	arch_irq_restore(flags);
}

void cpu_call_all(void (*fn)(void *), void *arg)
{
	unsigned long flags = xcall_begin();
	unsigned self = this_cpu();

	xcall.xc_fn = fn;
	xcall.xc_arg = arg;
	xcall.xc_caller = self;
	__atomic_store_n(&xcall.xc_pending, ncpus - 1, __ATOMIC_SEQ_CST);
	for (unsigned c = 0; c < ncpus; c++)
		if (c != self)
			smp_send_ipi(c, IPI_CALL);
	fn(arg);
	xcall_finish(flags);
}

void cpu_call_one(unsigned cpu, void (*fn)(void *), void *arg)
{
	unsigned long flags;

	if (cpu == this_cpu()) {
		flags = arch_irq_save();
		fn(arg);
		arch_irq_restore(flags);
		return;
	}
	flags = xcall_begin();
	xcall.xc_fn = fn;
	xcall.xc_arg = arg;
	xcall.xc_caller = this_cpu();
	__atomic_store_n(&xcall.xc_pending, 1, __ATOMIC_SEQ_CST);
	smp_send_ipi(cpu, IPI_CALL);
	xcall_finish(flags);
}

void smp_stop_others(void)
{
	uint64_t deadline = arch_rdtime() + timer_hz() / 20;	/* 50 ms */

	for (unsigned c = 0; c < ncpus; c++)
		if (c != this_cpu() && harts[c].h_state == HART_ONLINE)
			smp_send_ipi(c, IPI_STOP);
	for (unsigned c = 0; c < ncpus; c++)
		while (c != this_cpu() && harts[c].h_state == HART_ONLINE &&
		       arch_rdtime() < deadline)
			arch_cpu_relax();
}

/* First code a secondary hart runs in C (entry.S), MMU already on. */
void smp_secondary_main(unsigned long hartid, struct hart_boot *hb)
{
	int expected = HB_STARTING;

	(void)hartid;
	hb->hb_progress = 2;
	if (!__atomic_compare_exchange_n(&hb->hb_state, &expected, HB_ARRIVED, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		for (;;)	/* too late: the boot hart gave up on us */
			arch_wfi();
	csr_write(sie, SIE_SSIE);
	while (__atomic_load_n(&hb->hb_state, __ATOMIC_ACQUIRE) != HB_GO) {
		arch_wfi();
		csr_clear(sip, SIE_SSIE);
	}
	__asm__ volatile("mv tp, %0" :: "r"(&harts[hb->hb_cpu]));
	trap_init_hart();
	__atomic_store_n(&this_hart()->h_state, HART_ONLINE, __ATOMIC_RELEASE);
	smp_idle();
}

/* Give a hart a node-local stack and ask SBI to start it; false on failure. */
static bool smp_start_one(struct hart_boot *hb, const struct plat_hart *ph)
{
	void *stack = bootmem_alloc_or_panic(HART_STACK_SIZE, 16,
					     ph->ph_node < 0 ? 0 : ph->ph_node, "hart stack");
	struct sbiret r;

	hb->hb_hartid = ph->ph_hartid;
	hb->hb_node = ph->ph_node < 0 ? 0 : ph->ph_node;
	hb->hb_stack_top = (uintptr_t)stack + HART_STACK_SIZE;
	__atomic_store_n(&hb->hb_state, HB_STARTING, __ATOMIC_SEQ_CST);
	r = sbi_hart_start(ph->ph_hartid,
			   (uintptr_t)(cmdline.cl_smp_via_start ? _start : secondary_entry),
			   (uintptr_t)hb);
	if (r.error == 0)
		return true;
	printk("smp: hart %lu: SBI hart_start failed (error %ld, HSM state %s)\n",
	       ph->ph_hartid, r.error, sbi_hsm_state_name(sbi_hart_status(ph->ph_hartid).value));
	hb->hb_state = HB_FAILED;
	return false;
}

/* A hart beyond MAX_CPUS: start it in a wfi loop so it does not spin in SBI. */
static void smp_park_one(const struct plat_hart *ph)
{
	struct sbiret r = sbi_hart_start(ph->ph_hartid, (uintptr_t)park_entry, 0);

	printk("smp: hart %lu parked in wfi, unused: MAX_CPUS is %d%s\n",
	       (unsigned long)ph->ph_hartid, MAX_CPUS, r.error ? " (hart_start failed)" : "");
	smp_nparked++;
}

/* Nap until no slot in [0, n) is STARTING, SMP_START_TIMEOUT_US pass without
 * one more arriving, or the hard deadline passes. */
static void smp_wait_arrivals(unsigned n, uint64_t hard_deadline_us)
{
	uint64_t progress_us = timer_now_us();
	unsigned last = n + 1;

	for (;;) {
		uint64_t now = timer_now_us();
		unsigned waiting = 0;

		for (unsigned i = 0; i < n; i++)
			waiting += __atomic_load_n(&hart_boot[i].hb_state, __ATOMIC_ACQUIRE) ==
				   HB_STARTING;
		if (waiting < last) {
			last = waiting;
			progress_us = now;
		}
		if (!waiting || now - progress_us >= SMP_START_TIMEOUT_US ||
		    now >= hard_deadline_us)
			return;
		timer_nap_us(1000);
	}
}

/* Is a hart that has not arrived yet at least running, per SBI HSM? */
static bool smp_hart_running(const struct hart_boot *hb)
{
	return sbi_hart_status(hb->hb_hartid).value == SBI_HSM_STARTED;
}

/* Nap until every hart still STARTING but running (per HSM) arrives, or the
 * slow deadline passes. */
static void smp_wait_slow(unsigned n, uint64_t deadline_us)
{
	for (;;) {
		unsigned slow = 0;

		for (unsigned i = 0; i < n; i++)
			slow += hart_boot[i].hb_state == HB_STARTING &&
				smp_hart_running(&hart_boot[i]);
		if (!slow || timer_now_us() >= deadline_us)
			return;
		timer_nap_us(1000);
	}
}

/* How far a hart that never arrived got (entry.S and secondary_early_trap). */
static void smp_report_progress(const struct hart_boot *hb)
{
	if (hb->hb_progress < 0)
		printk("smp: hart %lu trapped while starting: scause 0x%lx (%s) sepc 0x%lx "
		       "stval 0x%lx\n", hb->hb_hartid, hb->hb_scause,
		       trap_cause_name(hb->hb_scause), hb->hb_sepc, hb->hb_stval);
	else
		printk("smp: hart %lu got to %s\n", hb->hb_hartid,
		       hb->hb_progress == 0 ? "nothing of ours (never entered the kernel)" :
		       hb->hb_progress == 1 ? "secondary_entry" : "smp_secondary_main");
}

/* Give up on harts that never arrived (a latecomer then sees FAILED). */
static void smp_reap_missing(unsigned n, uint64_t waited_us)
{
	for (unsigned i = 0; i < n; i++) {
		struct hart_boot *hb = &hart_boot[i];
		int expected = HB_STARTING;

		if (__atomic_compare_exchange_n(&hb->hb_state, &expected, HB_FAILED, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			printk("smp: hart %lu did not come online within %lu ms (HSM state: %s); "
			       "continuing without it\n", hb->hb_hartid,
			       (unsigned long)(waited_us / 1000),
			       sbi_hsm_state_name(sbi_hart_status(hb->hb_hartid).value));
			smp_report_progress(hb);
		}
		if (hb->hb_state == HB_FAILED)
			smp_nfailed++;
	}
}

/* Number the arrived harts densely in hart-id order and let them go. */
static void smp_release(unsigned n)
{
	unsigned cpu = 1;

	for (unsigned i = 0; i < n; i++) {
		struct hart_boot *hb = &hart_boot[i];
		struct hart *h;

		if (hb->hb_state != HB_ARRIVED)
			continue;
		if (hb->hb_via_start)
			printk("smp: hart %lu was sent to _start instead of secondary_entry "
			       "(OpenSBI 1.1 hart_start race); recovered\n", hb->hb_hartid);
		h = &harts[cpu];
		h->h_cpu = cpu;
		h->h_hartid = hb->hb_hartid;
		h->h_node = hb->hb_node;
		h->h_stack_top = hb->hb_stack_top;
		h->h_state = HART_STARTING;
		hb->hb_cpu = cpu++;
		__atomic_store_n(&hb->hb_state, HB_GO, __ATOMIC_RELEASE);
		sbi_send_ipi(1UL, hb->hb_hartid);
	}
	for (unsigned c = 1; c < cpu; c++) {
		uint64_t deadline = timer_now_us() + SMP_START_SLOW_US;

		while (__atomic_load_n(&harts[c].h_state, __ATOMIC_ACQUIRE) != HART_ONLINE &&
		       timer_now_us() < deadline)
			timer_nap_us(1000);
		if (harts[c].h_state != HART_ONLINE)
			panic("smp: cpu %u (hart %lu) arrived but never came online", c,
			      harts[c].h_hartid);
	}
	ncpus = cpu;
}

void smp_boot_secondaries(const struct plat_map *pm)
{
	unsigned long self = this_hart()->h_hartid;
	uint64_t start = timer_now_us();
	unsigned n = 0;

	for (unsigned i = 0; i < pm->pm_nharts; i++) {
		const struct plat_hart *ph = &pm->pm_harts[i];

		if (!ph->ph_enabled || ph->ph_hartid == self)
			continue;
		ncpus_possible++;
		if (n + 1 >= MAX_CPUS) {
			smp_park_one(ph);
			continue;
		}
		smp_start_one(&hart_boot[n++], ph);
	}
	smp_wait_arrivals(n, start + SMP_START_SLOW_US);
	smp_wait_slow(n, start + SMP_START_SLOW_US);
	smp_reap_missing(n, timer_now_us() - start);
	smp_release(n);
}

void smp_print_harts(void)
{
	printk("%u of %u harts online", ncpus, ncpus_possible);
	if (smp_nfailed)
		printk(" (%u never arrived)", smp_nfailed);
	if (smp_nparked)
		printk(" (%u parked beyond MAX_CPUS)", smp_nparked);
	printk("\n cpu  hart  node  state    traps      ipis\n");
	for (unsigned c = 0; c < ncpus; c++)
		printk(" %3u %5lu %5d  %-7s %6lu %9lu\n", c, harts[c].h_hartid, harts[c].h_node,
		       harts[c].h_state == HART_ONLINE ? "online" : "other",
		       (unsigned long)harts[c].h_ntraps, (unsigned long)harts[c].h_nipis);
}
