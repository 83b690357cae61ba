/*
 * console.c - a line-editing shell on the UART.
 *
 * Editing: printable characters insert at the end, Backspace/DEL erases,
 * Ctrl-U kills the line, Ctrl-C abandons it, Up/Down walk a small history.
 * The loop polls the UART and naps in wfi between polls (no UART interrupt
 * is wired), so an idle console costs almost nothing on the host.
 */
#include "drivers/uart.h"
#include "kernel/console.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"

#define CON_LINE_MAX	128
#define CON_ARGS_MAX	16
#define CON_HISTORY	8
#define CON_PROMPT	"kmem> "

extern const struct console_cmd __console_cmds_start[], __console_cmds_end[];
extern struct plat_map boot_plat_map;
void console_putc(char c);
void kernel_poweroff(void) __attribute__((noreturn));

static char con_history[CON_HISTORY][CON_LINE_MAX];
static unsigned con_nhistory;

static int con_getc(void)
{
	int c;

	while ((c = uart_getc()) < 0)
		timer_nap_us(5000);
	return c;
}

static void con_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

/* Replace the visible line with `src`. */
static void con_redraw(char *buf, size_t *len, const char *src)
{
	while (*len) {
		con_puts("\b \b");
		(*len)--;
	}
	*len = strlcpy(buf, src, CON_LINE_MAX);
	con_puts(buf);
}

/* Handle an escape sequence (arrow keys walk the history). */
static void con_escape(char *buf, size_t *len, unsigned *hpos)
{
	int c1 = con_getc(), c2 = c1 == '[' ? con_getc() : 0;

	if (c2 == 'A' && *hpos < con_nhistory && *hpos < CON_HISTORY) {
		(*hpos)++;
		con_redraw(buf, len, con_history[(con_nhistory - *hpos) % CON_HISTORY]);
	} else if (c2 == 'B' && *hpos > 0) {
		(*hpos)--;
		con_redraw(buf, len, *hpos ? con_history[(con_nhistory - *hpos) % CON_HISTORY] : "");
	}
}

/* Read one edited line into buf (NUL-terminated). */
static void con_readline(char *buf)
{
	size_t len = 0;
	unsigned hpos = 0;

	for (;;) {
		int c = con_getc();

		if (c == '\r' || c == '\n') {
			con_puts("\n");
			buf[len] = 0;
			return;
		} else if (c == 3) {			/* Ctrl-C */
			con_puts("^C\n");
			buf[0] = 0;
			return;
		} else if (c == 0x7f || c == '\b') {
			if (len) {
				len--;
				con_puts("\b \b");
			}
		} else if (c == 0x15) {			/* Ctrl-U */
			con_redraw(buf, &len, "");
		} else if (c == 0x1b) {
			con_escape(buf, &len, &hpos);
		} else if (c >= ' ' && c < 0x7f && len + 1 < CON_LINE_MAX) {
			buf[len++] = (char)c;
			console_putc((char)c);
		}
	}
}

/* Split a line into words in place; returns argc. */
static int con_split(char *line, char **argv)
{
	int argc = 0;

	for (char *p = line; *p && argc < CON_ARGS_MAX;) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	return argc;
}

static const struct console_cmd *con_find(const char *name)
{
	for (const struct console_cmd *cc = __console_cmds_start; cc < __console_cmds_end; cc++)
		if (strcmp(cc->cc_name, name) == 0)
			return cc;
	return NULL;
}

int console_exec(char *line)
{
	char *argv[CON_ARGS_MAX];
	int argc = con_split(line, argv);
	const struct console_cmd *cc;

	if (argc == 0)
		return 0;
	cc = con_find(argv[0]);
	if (!cc) {
		printk("%s: unknown command; type 'help' for the list\n", argv[0]);
		return -1;
	}
	return cc->cc_fn(argc, argv);
}

void console_run(void)
{
	char line[CON_LINE_MAX];

	printk("console: type 'help' for commands\n");
	for (;;) {
		con_puts(CON_PROMPT);
		con_readline(line);
		if (line[0] && strcmp(line, con_history[(con_nhistory + CON_HISTORY - 1) % CON_HISTORY]))
			strlcpy(con_history[con_nhistory++ % CON_HISTORY], line, CON_LINE_MAX);
		console_exec(line);
	}
}

static int cmd_help(int argc, char **argv)
{
	const struct console_cmd *cc, *prev = NULL;

	(void)argc, (void)argv;
	for (;;) {	/* print in name order without sorting the read-only table */
		const struct console_cmd *next = NULL;

		for (cc = __console_cmds_start; cc < __console_cmds_end; cc++)
			if ((!prev || strcmp(cc->cc_name, prev->cc_name) > 0) &&
			    (!next || strcmp(cc->cc_name, next->cc_name) < 0))
				next = cc;
		if (!next)
			return 0;
		printk("  %-12s %s\n", next->cc_name, next->cc_help);
		prev = next;
	}
}
CONSOLE_CMD(con_cmd_help, "help", "list the commands", cmd_help);

static int cmd_harts(int argc, char **argv)
{
	(void)argc, (void)argv;
	smp_print_harts();
	return 0;
}
CONSOLE_CMD(con_cmd_harts, "harts", "harts online: cpu id, hart id, node, traps, IPIs", cmd_harts);

static int cmd_mem(int argc, char **argv)
{
	(void)argc, (void)argv;
	plat_print(&boot_plat_map, printk);
	return 0;
}
CONSOLE_CMD(con_cmd_mem, "mem", "the platform map: memory, reserved, DMA, NUMA, zones", cmd_mem);

static int cmd_poweroff(int argc, char **argv)
{
	(void)argc, (void)argv;
	kernel_poweroff();
}
CONSOLE_CMD(con_cmd_poweroff, "poweroff", "stop every hart and exit QEMU (status 0)", cmd_poweroff);

/* An address no mapping covers: below all RAM and devices on virt. */
static volatile uintptr_t con_bad_address = 0x8;

static int cmd_crash(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "fault") == 0)
		return *(volatile int *)con_bad_address;	/* load page fault */
	if (argc > 1 && strcmp(argv[1], "panic") == 0)
		panic("console: crash requested by the user");
	printk("usage: crash fault|panic  (shows the panic report; ends the session)\n");
	return -1;
}
CONSOLE_CMD(con_cmd_crash, "crash", "crash fault|panic: show a panic report and exit QEMU 1",
	    cmd_crash);
