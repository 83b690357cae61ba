/*
 * host_env.h - helpers for host unit tests on top of tests/host/mm_env.h.
 *
 * HOST_EXPECT_PANIC(stmt, substr): run stmt, which must panic with a message
 * containing substr; the panic is caught and the test continues.  Code that
 * panics while holding a spinlock leaves it held, exactly as in the kernel.
 */
#ifndef HOST_ENV_H
#define HOST_ENV_H

#include <setjmp.h>
#include <string.h>

extern __thread jmp_buf *host_panic_jmp;
extern __thread char host_panic_msg[512];

#define HOST_EXPECT_PANIC(stmt, substr)					\
	do {								\
		jmp_buf hep_jb;						\
		int hep_caught = 0;					\
		host_panic_msg[0] = 0;					\
		if (setjmp(hep_jb) == 0) {				\
			host_panic_jmp = &hep_jb;			\
			stmt;						\
			host_panic_jmp = NULL;				\
		} else {						\
			hep_caught = 1;					\
		}							\
		if (!hep_caught)					\
			fail_msg("expected a panic from: %s", #stmt);	\
		if (!strstr(host_panic_msg, (substr)))			\
			fail_msg("panic message '%s' lacks '%s'",	\
				 host_panic_msg, (substr));		\
	} while (0)

/*
 * Reading a dump: tests hand host_capture to a printk-like dump function
 * (page_buddyinfo, vmem_dump, kmem_kmastat, plat_print, ...) and parse the
 * text.  One buffer per thread of HOST_CAPTURE_MAX bytes; text past the end
 * is dropped and noted.  The text is writable (strtok may split it).
 */
#define HOST_CAPTURE_MAX	(256 * 1024)
void host_capture_reset(void);			/* start a new capture */
int host_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *host_captured(void);			/* the text so far, NUL-terminated */
int host_capture_truncated(void);		/* some text did not fit */

#endif /* HOST_ENV_H */
