/*
 * test_smp.c - harts, per-hart data and cross-hart calls.
 */
#include "arch/riscv/csr.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/smp.h"

struct smp_probe {
	volatile unsigned sp_hits[MAX_CPUS];	/* calls seen per cpu */
	volatile unsigned long sp_hartid[MAX_CPUS];
	volatile int sp_irqs_off[MAX_CPUS];
	volatile unsigned sp_total;
};

static void smp_probe_fn(void *arg)
{
	struct smp_probe *p = arg;
	unsigned c = this_cpu();

	p->sp_hits[c]++;
	p->sp_hartid[c] = this_hart()->h_hartid;
	p->sp_irqs_off[c] = arch_irqs_disabled();
	__atomic_fetch_add(&p->sp_total, 1, __ATOMIC_SEQ_CST);
}

/* Cpu ids are dense and tp points at each hart's own struct hart. */
static void smp_test_ids_dense(struct ktest *t)
{
	KEXPECT_EQ(t, this_cpu(), 0);
	KEXPECT_GE(t, ncpus, 1);
	for (unsigned c = 0; c < ncpus; c++) {
		KEXPECT_EQ(t, harts[c].h_cpu, c);
		KEXPECT_EQ(t, harts[c].h_state, HART_ONLINE);
		for (unsigned d = 0; d < c; d++)
			KEXPECT_NE(t, harts[c].h_hartid, harts[d].h_hartid);
	}
}

/* cpu_call_all runs the function exactly once on every hart, irqs off. */
static void smp_test_call_all_runs_everywhere(struct ktest *t)
{
	static struct smp_probe p;

	for (int round = 0; round < 50; round++)
		cpu_call_all(smp_probe_fn, &p);
	KEXPECT_EQ(t, p.sp_total, 50 * ncpus);
	for (unsigned c = 0; c < ncpus; c++) {
		KEXPECT_EQ(t, p.sp_hits[c], 50);
		KEXPECT_EQ(t, p.sp_hartid[c], harts[c].h_hartid);
		KEXPECT_TRUE(t, p.sp_irqs_off[c]);
	}
}

/* cpu_call_one runs only on the target hart. */
static void smp_test_call_one_targets(struct ktest *t)
{
	static struct smp_probe p;
	unsigned target = ncpus - 1;

	cpu_call_one(target, smp_probe_fn, &p);
	KEXPECT_EQ(t, p.sp_total, 1);
	KEXPECT_EQ(t, p.sp_hits[target], 1);
	KEXPECT_EQ(t, p.sp_hartid[target], harts[target].h_hartid);
}

static const struct ktest_case smp_cases[] = {
	KTEST_CASE(smp_test_ids_dense),
	KTEST_CASE(smp_test_call_all_runs_everywhere),
	KTEST_CASE(smp_test_call_one_targets),
	KTEST_END,
};
KTEST_SUITE(smp_suite, "smp", smp_cases);
