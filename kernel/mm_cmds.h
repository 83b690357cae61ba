/*
 * mm_cmds.h - the allocator console commands' printers that tests read
 * (kernel/mm_cmds.c).  Each writes its command's text through a printk-like
 * sink, so a test can capture it and compare its numbers with the counters.
 */
#ifndef KERNEL_MM_CMDS_H
#define KERNEL_MM_CMDS_H

/* What `pagestat` prints: free and cached pages, failure and misuse counters,
 * boot timing, bootmem. */
void mm_pagestat_print(int (*out)(const char *fmt, ...));

#endif /* KERNEL_MM_CMDS_H */
