/*
 * test_lib.c - the freestanding C library and the printk formatter.
 */
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

/* snprintf formats every conversion the kernel uses. */
static void lib_test_snprintf_formats(struct ktest *t)
{
	char b[96];

	snprintf(b, sizeof(b), "%d %u %x %lx %llx %c %s", -5, 7u, 0xabu, 0x1234UL,
		 0xfedcba9876543210ULL, 'q', "str");
	KEXPECT_STREQ(t, b, "-5 7 ab 1234 fedcba9876543210 q str");
	snprintf(b, sizeof(b), "[%5d][%-5d][%05x][%.3s][%zu]", 42, 42, 0x1f, "abcdef", (size_t)9);
	KEXPECT_STREQ(t, b, "[   42][42   ][0001f][abc][9]");
	snprintf(b, sizeof(b), "%p %s", (void *)0x80200000UL, (char *)NULL);
	KEXPECT_STREQ(t, b, "0x80200000 (null)");
}

/* snprintf never writes past the buffer and returns the full length. */
static void lib_test_snprintf_truncates(struct ktest *t)
{
	char b[8];

	memset(b, 'x', sizeof(b));
	KEXPECT_EQ(t, snprintf(b, 5, "%s", "abcdefgh"), 8);
	KEXPECT_STREQ(t, b, "abcd");
	KEXPECT_EQ(t, b[5], 'x');
}

/* String and memory functions agree with their C definitions. */
static void lib_test_strings(struct ktest *t)
{
	char b[32];
	char *end;

	KEXPECT_EQ(t, strlen("hello"), 5);
	KEXPECT_LT(t, strcmp("abc", "abd"), 0);
	KEXPECT_EQ(t, strncmp("abcx", "abcy", 3), 0);
	KEXPECT_TRUE(t, strstr("the platform map", "form") != NULL);
	KEXPECT_NULL(t, strstr("abc", "abd"));
	KEXPECT_EQ(t, strlcpy(b, "truncate me", 5), 11);
	KEXPECT_STREQ(t, b, "trun");
	memset(b, 0, sizeof(b));
	memcpy(b + 1, "abcdef", 6);
	memmove(b + 2, b + 1, 6);
	KEXPECT_STREQ(t, b + 1, "aabcdef");
	KEXPECT_EQ(t, strtoul("0x1f", &end, 0), 31);
	KEXPECT_EQ(t, strtoul("123z", &end, 10), 123);
	KEXPECT_EQ(t, *end, 'z');
}

/* memset fills across alignment boundaries without touching neighbours. */
static void lib_test_memset_unaligned(struct ktest *t)
{
	unsigned char b[40];

	memset(b, 0, sizeof(b));
	memset(b + 3, 0xa5, 29);
	KEXPECT_EQ(t, b[2], 0);
	KEXPECT_EQ(t, b[3], 0xa5);
	KEXPECT_EQ(t, b[31], 0xa5);
	KEXPECT_EQ(t, b[32], 0);
}

static const struct ktest_case lib_cases[] = {
	KTEST_CASE(lib_test_snprintf_formats),
	KTEST_CASE(lib_test_snprintf_truncates),
	KTEST_CASE(lib_test_strings),
	KTEST_CASE(lib_test_memset_unaligned),
	KTEST_END,
};
KTEST_SUITE(lib_suite, "lib", lib_cases);
