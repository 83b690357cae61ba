/*
 * uart.c - polled driver for the ns16550a on QEMU virt.
 *
 * Registers are bytes `1 << reg-shift` apart (QEMU: shift 0).  Transmit
 * waits for THR empty (LSR bit 5); receive checks data ready (LSR bit 0).
 * No interrupts: the console polls, napping in wfi between polls.
 */
#include <libfdt.h>

#include "arch/riscv/mmu.h"
#include "drivers/uart.h"
#include "kernel/devtree.h"
#include "kernel/lib.h"

#define UART_RBR	0	/* receive buffer (read) */
#define UART_THR	0	/* transmit holding (write) */
#define UART_LSR	5	/* line status */
#define LSR_DR		0x01	/* data ready */
#define LSR_THRE	0x20	/* transmit holding register empty */

static volatile uint8_t *uart_regs;
static unsigned uart_shift;

static inline uint8_t uart_read(unsigned reg)
{
	return uart_regs[reg << uart_shift];
}

static inline void uart_write(unsigned reg, uint8_t v)
{
	uart_regs[reg << uart_shift] = v;
}

bool uart_init(void)
{
	int node = dt_stdout_node(), len;
	uint64_t addr, size;
	const fdt32_t *shift;

	if (node < 0 || (fdt_node_check_compatible(dt_fdt, node, "ns16550a") != 0 &&
			 fdt_node_check_compatible(dt_fdt, node, "ns16550") != 0))
		return false;
	if (!dt_reg(node, 0, &addr, &size))
		return false;
	shift = fdt_getprop(dt_fdt, node, "reg-shift", &len);
	uart_shift = (shift && len == 4) ? fdt32_to_cpu(*shift) : 0;
	mmu_early_mmio(addr, size ? size : 0x100);
	uart_regs = (volatile uint8_t *)(uintptr_t)addr;
	return true;
}

bool uart_present(void)
{
	return uart_regs != NULL;
}

uint64_t uart_base(void)
{
	return (uintptr_t)uart_regs;
}

void uart_putc(char c)
{
	while (!(uart_read(UART_LSR) & LSR_THRE))
		;
	uart_write(UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
	if (!(uart_read(UART_LSR) & LSR_DR))
		return -1;
	return uart_read(UART_RBR);
}
