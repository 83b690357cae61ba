/*
 * console.c - a line-editing shell on the UART.
 *
 * Editing: printable characters insert at the end, Backspace/DEL erases,
 * Ctrl-U kills the line, Ctrl-C abandons it, Up/Down walk a small history.
 * The editor (con_edit_feed) takes one byte at a time and never reads the
 * UART itself, so an escape sequence cannot swallow a key: a byte after ESC
 * that does not continue a sequence is handled as ordinary input.  A line
 * longer than CON_LINE_MAX - 1 characters is refused at Enter with a
 * message, never cut short and run.  The loop polls the UART and naps in wfi
 * between polls (no UART interrupt is wired), so an idle console costs
 * almost nothing on the host.
 */
#include "drivers/uart.h"
#include "kernel/console.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/platform.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"

#define CON_HISTORY	8
#define CON_PROMPT	"kmem> "

/* ce_esc: where the editor is in an escape sequence (ESC [ params final). */
#define CON_ESC_NONE	0
#define CON_ESC_START	1	/* after ESC */
#define CON_ESC_CSI	2	/* after ESC [ */

extern const struct console_cmd __console_cmds_start[], __console_cmds_end[];
extern struct plat_map boot_plat_map;
void console_putc(char c);
void kernel_poweroff(void) __attribute__((noreturn));

static char con_history[CON_HISTORY][CON_LINE_MAX];
static unsigned con_nhistory;

/* Wait for the next input byte, napping between polls. */
static int con_getc(void)
{
	int c;

	while ((c = uart_getc()) < 0)
		timer_nap_us(5000);
	return c;
}

/* Echo to the console. */
static void con_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

void con_edit_init(struct con_edit *ed, void (*echo)(const char *s))
{
	memset(ed, 0, sizeof(*ed));
	ed->ce_echo = echo ? echo : con_puts;
}

/* Replace the visible line with `src`; nothing typed past the limit survives. */
static void con_redraw(struct con_edit *ed, const char *src)
{
	for (; ed->ce_len; ed->ce_len--)
		ed->ce_echo("\b \b");
	ed->ce_dropped = 0;
	ed->ce_len = strlcpy(ed->ce_buf, src, CON_LINE_MAX);
	ed->ce_echo(ed->ce_buf);
}

/* The final byte of a CSI sequence: Up and Down walk the history. */
static void con_csi_final(struct con_edit *ed, int c)
{
	if (c == 'A' && ed->ce_hpos < con_nhistory && ed->ce_hpos < CON_HISTORY) {
		ed->ce_hpos++;
		con_redraw(ed, con_history[(con_nhistory - ed->ce_hpos) % CON_HISTORY]);
	} else if (c == 'B' && ed->ce_hpos > 0) {
		ed->ce_hpos--;
		con_redraw(ed, ed->ce_hpos ?
			   con_history[(con_nhistory - ed->ce_hpos) % CON_HISTORY] : "");
	}
}

/* Advance the escape state; true if c was part of a sequence (consumed). */
static bool con_escape(struct con_edit *ed, int c)
{
	if (ed->ce_esc == CON_ESC_START && c == '[') {
		ed->ce_esc = CON_ESC_CSI;
		return true;
	}
	if (ed->ce_esc == CON_ESC_CSI && c >= 0x20 && c <= 0x3f)
		return true;				/* parameter/intermediate */
	if (ed->ce_esc == CON_ESC_CSI && c >= 0x40 && c <= 0x7e) {
		ed->ce_esc = CON_ESC_NONE;
		con_csi_final(ed, c);
		return true;
	}
	ed->ce_esc = CON_ESC_NONE;	/* a lone ESC: c is an ordinary key */
	return false;
}

/* Erase the last character (one typed past the limit goes first). */
static void con_backspace(struct con_edit *ed)
{
	if (ed->ce_dropped) {
		ed->ce_dropped--;
	} else if (ed->ce_len) {
		ed->ce_len--;
		ed->ce_echo("\b \b");
	}
}

/* Store and echo a printable character, or count it past the limit. */
static void con_insert(struct con_edit *ed, int c)
{
	char echo[2] = { (char)c, 0 };

	if (ed->ce_len + 1 < CON_LINE_MAX && ed->ce_dropped == 0) {
		ed->ce_buf[ed->ce_len++] = (char)c;
		ed->ce_echo(echo);
	} else {
		ed->ce_dropped++;
	}
}

enum con_feed con_edit_feed(struct con_edit *ed, int c)
{
	if (ed->ce_esc != CON_ESC_NONE && con_escape(ed, c))
		return CON_MORE;
	if (c == '\r' || c == '\n') {
		ed->ce_echo("\n");
		ed->ce_buf[ed->ce_len] = 0;
		return ed->ce_dropped ? CON_TOO_LONG : CON_LINE;
	} else if (c == 3) {			/* Ctrl-C */
		ed->ce_echo("^C\n");
		ed->ce_buf[0] = 0;
		return CON_CANCEL;
	} else if (c == 0x7f || c == '\b') {
		con_backspace(ed);
	} else if (c == 0x15) {			/* Ctrl-U */
		con_redraw(ed, "");
	} else if (c == 0x1b) {
		ed->ce_esc = CON_ESC_START;
	} else if (c >= ' ' && c < 0x7f) {
		con_insert(ed, c);
	}
	return CON_MORE;
}

/* Split a line into words in place; returns argc, or -1 past CON_ARGS_MAX words. */
static int con_split(char *line, char **argv)
{
	int argc = 0;

	for (char *p = line; *p;) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		if (argc == CON_ARGS_MAX)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	return argc;
}

/* The registered command called name, or NULL. */
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

	if (argc < 0) {
		printk("console: more than %d words; nothing was run\n", CON_ARGS_MAX);
		return -1;
	}
	if (argc == 0)
		return 0;
	cc = con_find(argv[0]);
	if (!cc) {
		printk("%s: unknown command; type 'help' for the list\n", argv[0]);
		return -1;
	}
	return cc->cc_fn(argc, argv);
}

/* Read and edit one line; the line, or NULL if it was abandoned or refused. */
static const char *con_readline(struct con_edit *ed)
{
	enum con_feed f;

	con_edit_init(ed, NULL);
	while ((f = con_edit_feed(ed, con_getc())) == CON_MORE)
		;
	if (f == CON_TOO_LONG)
		printk("console: line longer than %d characters refused; nothing was run\n",
		       CON_LINE_MAX - 1);
	return f == CON_LINE ? ed->ce_buf : NULL;
}

void console_run(void)
{
	static struct con_edit ed;
	char line[CON_LINE_MAX];

	printk("console: type 'help' for commands\n");
	for (;;) {
		con_puts(CON_PROMPT);
		if (con_readline(&ed) == NULL)
			continue;
		strlcpy(line, ed.ce_buf, sizeof(line));
		if (line[0] && strcmp(line, con_history[(con_nhistory - 1) % CON_HISTORY]))
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
	return CONSOLE_USAGE;
}
CONSOLE_CMD(con_cmd_crash, "crash", "crash fault|panic: show a panic report and exit QEMU 1",
	    cmd_crash);
