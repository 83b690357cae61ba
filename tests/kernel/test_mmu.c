/*
 * test_mmu.c - the kernel page tables: section rights on the image, the
 * identity map, single-page map/unmap in the heap range, and TLB shootdown
 * across harts.
 */
#include "arch/riscv/mmu.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/smp.h"

extern struct plat_map boot_plat_map;

#define MMU_TEST_VA	(MMU_HEAP_BASE + MMU_HEAP_SIZE - 16 * MMU_PAGE_SIZE)

static uint8_t mmu_pages[2][MMU_PAGE_SIZE] __attribute__((aligned(MMU_PAGE_SIZE)));
static const uint32_t mmu_rodata_word = 0x12345678;
static uint32_t mmu_data_word = 0x13;	/* an "addi" instruction would be here */

/* Text is R-X, rodata R--, data RW-: checked in the tables. */
static void mmu_test_image_rights(struct ktest *t)
{
	uint64_t pa;
	unsigned prot;

	KASSERT_TRUE(t, mmu_translate((uintptr_t)mmu_test_image_rights, &pa, &prot));
	KEXPECT_EQ(t, prot, MMU_PROT_R | MMU_PROT_X);
	KASSERT_TRUE(t, mmu_translate((uintptr_t)&mmu_rodata_word, &pa, &prot));
	KEXPECT_EQ(t, prot, MMU_PROT_R);
	KASSERT_TRUE(t, mmu_translate((uintptr_t)&mmu_data_word, &pa, &prot));
	KEXPECT_EQ(t, prot, MMU_PROT_R | MMU_PROT_W);
	KEXPECT_EQ(t, pa, (uintptr_t)&mmu_data_word);
}

extern char __text_end[];

/* The last word of text is alignment padding: harmless if the write landed. */
static void mmu_write_text(void)
{
	uintptr_t end = (uintptr_t)__text_end;

	*(volatile uint32_t *)(end - 4) = 0;
}

static void mmu_write_rodata(void)
{
	*(volatile uint32_t *)&mmu_rodata_word = 0;
}

static void mmu_exec_data(void)
{
	((void (*)(void))(uintptr_t)&mmu_data_word)();
}

/* Writing text or rodata, or executing data, faults with a clear panic. */
static void mmu_test_image_rights_enforced(struct ktest *t)
{
	KTEST_EXPECT_PANIC(t, mmu_write_text(), "store/AMO page fault");
	KTEST_EXPECT_PANIC(t, mmu_write_rodata(), "store/AMO page fault");
	KTEST_EXPECT_PANIC(t, mmu_exec_data(), "instruction page fault");
}

/* A mapped page reads and writes through to its physical page; double map is refused. */
static void mmu_test_map_unmap(struct ktest *t)
{
	volatile uint32_t *va = (volatile uint32_t *)MMU_TEST_VA;
	uint64_t pa;
	unsigned prot;

	KASSERT_EQ(t, mmu_map_page(MMU_TEST_VA, (uintptr_t)mmu_pages[0], MMU_PROT_R | MMU_PROT_W), 0);
	KEXPECT_EQ(t, mmu_map_page(MMU_TEST_VA, (uintptr_t)mmu_pages[1], MMU_PROT_R), -2);
	KEXPECT_TRUE(t, mmu_translate(MMU_TEST_VA + 8, &pa, &prot));
	KEXPECT_EQ(t, pa, (uintptr_t)mmu_pages[0] + 8);
	*va = 0xfeedface;
	KEXPECT_EQ(t, *(uint32_t *)mmu_pages[0], 0xfeedface);
	KEXPECT_TRUE(t, mmu_unmap_page(MMU_TEST_VA, &pa));
	mmu_tlb_shootdown(MMU_TEST_VA, MMU_PAGE_SIZE);
	KEXPECT_EQ(t, pa, (uintptr_t)mmu_pages[0]);
	KEXPECT_FALSE(t, mmu_translate(MMU_TEST_VA, &pa, &prot));
	KEXPECT_FALSE(t, mmu_unmap_page(MMU_TEST_VA, &pa));
	KTEST_EXPECT_PANIC(t, (void)*va, "load page fault");
}

struct mmu_reads {
	volatile uint32_t mr_seen[MAX_CPUS];
};

static void mmu_read_fn(void *arg)
{
	struct mmu_reads *r = arg;

	r->mr_seen[this_cpu()] = *(volatile uint32_t *)MMU_TEST_VA;
}

/* After unmap + shootdown + remap elsewhere, no hart reads through a stale TLB entry. */
static void mmu_test_shootdown_all_harts(struct ktest *t)
{
	static struct mmu_reads r;
	uint64_t pa;

	*(uint32_t *)mmu_pages[0] = 0xaaaa;
	*(uint32_t *)mmu_pages[1] = 0xbbbb;
	KASSERT_EQ(t, mmu_map_page(MMU_TEST_VA, (uintptr_t)mmu_pages[0], MMU_PROT_R), 0);
	cpu_call_all(mmu_read_fn, &r);		/* every hart caches the translation */
	for (unsigned c = 0; c < ncpus; c++)
		KEXPECT_EQ(t, r.mr_seen[c], 0xaaaa);
	KASSERT_TRUE(t, mmu_unmap_page(MMU_TEST_VA, &pa));
	mmu_tlb_shootdown(MMU_TEST_VA, MMU_PAGE_SIZE);
	KASSERT_EQ(t, mmu_map_page(MMU_TEST_VA, (uintptr_t)mmu_pages[1], MMU_PROT_R), 0);
	cpu_call_all(mmu_read_fn, &r);
	for (unsigned c = 0; c < ncpus; c++)
		KEXPECT_EQ(t, r.mr_seen[c], 0xbbbb);
	KASSERT_TRUE(t, mmu_unmap_page(MMU_TEST_VA, &pa));
	mmu_tlb_shootdown(MMU_TEST_VA, MMU_PAGE_SIZE);
}

/* Is [base, base+size) inside a shared-dma-pool (which its driver maps)? */
static bool mmu_is_pool(uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < boot_plat_map.pm_npools; i++) {
		const struct plat_pool *pp = &boot_plat_map.pm_pools[i];

		if (base >= pp->pp_base && base + size <= pp->pp_base + pp->pp_size)
			return true;
	}
	return false;
}

/* Does [base, base+size) overlap a range the kernel occupies (image, blob)?
 * Those stay mapped whatever the device tree says (plat_boot warns). */
static bool mmu_is_kernels(uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < boot_plat_map.pm_nresv; i++) {
		const struct plat_resv *pr = &boot_plat_map.pm_resv[i];

		if (pr->pr_kernel && base < pr->pr_base + pr->pr_size && pr->pr_base < base + size)
			return true;
	}
	return false;
}

/* One no-map range: not in the tables, and touching it faults. */
static void mmu_check_unmapped(struct ktest *t, const struct plat_resv *pr)
{
	uint64_t pa;
	unsigned prot;

	KEXPECT_FALSE(t, mmu_translate(pr->pr_base, &pa, &prot));
	KEXPECT_FALSE(t, mmu_translate(pr->pr_base + pr->pr_size - 1, &pa, &prot));
	KTEST_EXPECT_PANIC(t, (void)*(volatile uint8_t *)(uintptr_t)pr->pr_base, "load page fault");
}

/* No-map reservations (other than DMA pools and any over the kernel's own
 * ranges) are absent from the direct map. */
static void mmu_test_no_map_unmapped(struct ktest *t)
{
	unsigned checked = 0;

	for (unsigned i = 0; i < boot_plat_map.pm_nresv; i++) {
		const struct plat_resv *pr = &boot_plat_map.pm_resv[i];

		if (!pr->pr_no_map || mmu_is_pool(pr->pr_base, pr->pr_size) ||
		    mmu_is_kernels(pr->pr_base, pr->pr_size))
			continue;
		mmu_check_unmapped(t, pr);
		checked++;
	}
	if (!checked)
		ktest_skip(t, "no no-map reservation outside a DMA pool and the kernel on this board");
}

static const struct ktest_case mmu_cases[] = {
	KTEST_CASE(mmu_test_image_rights),
	KTEST_CASE(mmu_test_image_rights_enforced),
	KTEST_CASE(mmu_test_map_unmap),
	KTEST_CASE(mmu_test_shootdown_all_harts),
	KTEST_CASE(mmu_test_no_map_unmapped),
	KTEST_END,
};
KTEST_SUITE(mmu_suite, "mmu", mmu_cases);
