/*
 * console.h - the interactive shell on the UART.
 *
 * Commands register themselves with CONSOLE_CMD(); the linker gathers them in
 * the "console_cmds" section and `help` lists them sorted by name.  A command
 * gets argc/argv (argv[0] is its name) and returns 0 on success.  Output goes
 * through printk().
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

struct console_cmd {
	const char *cc_name;		/* what the user types */
	const char *cc_help;		/* one line for `help` */
	int (*cc_fn)(int argc, char **argv);
};

#define CONSOLE_CMD(var, name, help, fn)						\
	static const struct console_cmd var						\
	__attribute__((used, section("console_cmds"), aligned(8))) = { name, help, fn }

void console_run(void) __attribute__((noreturn));	/* the shell loop */
int console_exec(char *line);				/* run one line; used by tests */

#endif /* KERNEL_CONSOLE_H */
