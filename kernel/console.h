/*
 * console.h - the interactive shell on the UART.
 *
 * Commands register themselves with CONSOLE_CMD(); the linker gathers them in
 * the "console_cmds" section and `help` lists them sorted by name.  A command
 * gets argc/argv (argv[0] is its name) and returns 0 on success, 1 when it
 * failed, or CONSOLE_USAGE after printing its usage line because the
 * arguments were wrong.  Output goes through printk().  The allocators'
 * commands live together in kernel/mm_cmds.c.
 *
 * The line editor is a byte-at-a-time state machine (struct con_edit) so
 * that tests can drive it without a UART: con_edit_feed() takes one input
 * byte and says whether a line is complete, abandoned or refused as too long.
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct console_cmd {
	const char *cc_name;		/* what the user types */
	const char *cc_help;		/* one line for `help` */
	int (*cc_fn)(int argc, char **argv);
};

#define CONSOLE_CMD(var, name, help, fn)						\
	static const struct console_cmd var						\
	__attribute__((used, section("console_cmds"), aligned(8))) = { name, help, fn }

#define CONSOLE_USAGE	2	/* a command's status for "bad arguments, usage shown" */
#define CON_LINE_MAX	128	/* longest line, NUL included: 127 characters */
#define CON_ARGS_MAX	16	/* most words in one line */

/* What one input byte did to the line being edited. */
enum con_feed {
	CON_MORE,		/* keep feeding */
	CON_LINE,		/* Enter: ce_buf holds the line */
	CON_CANCEL,		/* Ctrl-C: the line was abandoned */
	CON_TOO_LONG,		/* Enter on a line longer than CON_LINE_MAX - 1: refused */
};

/* One line being edited. */
struct con_edit {
	char ce_buf[CON_LINE_MAX];	/* the line, NUL-terminated after CON_LINE */
	size_t ce_len;			/* characters stored in ce_buf */
	size_t ce_dropped;		/* characters typed past the limit (not stored) */
	unsigned ce_hpos;		/* history entry shown; 0 = the new line */
	int ce_esc;			/* escape-sequence state (console.c CON_ESC_*) */
	void (*ce_echo)(const char *s);	/* where the echo goes */
};

void console_run(void) __attribute__((noreturn));	/* the shell loop */
int console_exec(char *line);				/* run one line; used by tests */

/* Start a line; echo == NULL echoes to the console. */
void con_edit_init(struct con_edit *ed, void (*echo)(const char *s));
enum con_feed con_edit_feed(struct con_edit *ed, int c);

#endif /* KERNEL_CONSOLE_H */
