/*
 * test_lock.c - the host spinlocks keep the lock order of mm/lock_order.h:
 * the same check the kernel makes, so mm/ code that breaks the order fails
 * here under the host tests too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mm/mm_platform.h"
#include "host_env.h"

/* Rising rank is allowed; the reverse panics naming both locks, before taking the second. */
static void test_lock_order_violation_panics(void **state)
{
	spinlock_t zone, arena;
	char want[96];

	(void)state;
	snprintf(want, sizeof(want), "taking t-arena (rank %d) while holding t-zone (rank %d)",
		 LOCK_RANK_VMEM_ARENA, LOCK_RANK_ZONE);
	spin_init(&zone, "t-zone", LOCK_RANK_ZONE);
	spin_init(&arena, "t-arena", LOCK_RANK_VMEM_ARENA);
	spin_lock(&arena);
	spin_lock(&zone);
	spin_unlock(&arena);
	spin_unlock(&zone);
	spin_lock(&zone);
	HOST_EXPECT_PANIC(spin_lock(&arena), want);
	assert_false(spin_held(&arena));
	spin_unlock(&zone);
}

/* Two locks of one rank never nest: that is how "never two zones at once" is enforced. */
static void test_lock_same_rank_panics(void **state)
{
	spinlock_t a, b;

	(void)state;
	spin_init(&a, "t-zone-a", LOCK_RANK_ZONE);
	spin_init(&b, "t-zone-b", LOCK_RANK_ZONE);
	spin_lock(&a);
	HOST_EXPECT_PANIC(spin_lock(&b), "lock order violation");
	spin_unlock(&a);
}

/* trylock cannot deadlock, so it is exempt, but what it takes counts afterwards. */
static void test_lock_trylock_exempt_but_counted(void **state)
{
	spinlock_t zone, arena, printk_like;

	(void)state;
	spin_init(&zone, "t-zone", LOCK_RANK_ZONE);
	spin_init(&arena, "t-arena", LOCK_RANK_VMEM_ARENA);
	spin_init(&printk_like, "t-printk", LOCK_RANK_PRINTK);
	spin_lock(&zone);
	assert_true(spin_trylock(&arena));
	spin_unlock(&arena);
	spin_unlock(&zone);
	assert_true(spin_trylock(&printk_like));
	HOST_EXPECT_PANIC(spin_lock(&zone), "while holding t-printk");
	spin_unlock(&printk_like);
	spin_lock(&zone);			/* the held set is empty again */
	spin_unlock(&zone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_order_violation_panics),
		cmocka_unit_test(test_lock_same_rank_panics),
		cmocka_unit_test(test_lock_trylock_exempt_but_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
