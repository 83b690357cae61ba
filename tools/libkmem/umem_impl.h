/*
 * umem_impl.h - libkmem's private interface between its three files:
 * umem_env.c (the environment mm/ runs on), umem.c (the malloc API) and
 * umem_footprint.c (KMEM_OPTIONS=footprint).
 */
#ifndef UMEM_IMPL_H
#define UMEM_IMPL_H

#include "mm/mm_platform.h"

int umem_env_init(void);		/* environment locks and the thread-exit key */
void umem_prefork(void);		/* fork: take every allocator lock */
void umem_postfork_parent(void);	/* fork: release them */
void umem_postfork_child(void);		/* fork: re-initialise them, keep one slot */
/* Threads that took a slot of their own, threads on the shared slot, slots owned now. */
void umem_slot_stats(uint64_t *owner, uint64_t *shared, unsigned *inuse);
/* Where printk and panic write: 2, or a copy of it taken at start-up (stats). */
extern int umem_out_fd;
/* The API call a panic happened in (set on the slow paths only), for its message. */
extern __thread const char *umem_ctx_fn UMEM_TLS;
extern __thread const void *umem_ctx_ptr UMEM_TLS;
/* KMEM_OPTIONS=footprint: resident KiB by region on stderr; ranges: heap, large, aligned. */
void umem_footprint(const uintptr_t ranges[3][2]);
int umem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* stderr */

#endif /* UMEM_IMPL_H */
