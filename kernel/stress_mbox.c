/*
 * stress_mbox.c - the mailboxes through which one hart frees what another
 * allocated (kernel/stress.c §4 says why and how the run uses them).
 *
 * A mailbox is a bounded multi-producer, single-consumer queue of
 * STRESS_MBOX_CAP entries (Dmitry Vyukov's bounded queue, reduced to one
 * consumer).  Each cell carries a sequence number:
 *   mc_seq == pos          the cell is free for the producer that claims pos;
 *   mc_seq == pos + 1      it holds the entry put at pos, for the consumer;
 * the consumer, having read it, sets mc_seq = pos + CAP: free for the
 * producer one lap later.  A producer claims a position by compare-and-swap
 * on mb_put; a full queue (the cell of mb_put still holds last lap's entry)
 * makes stress_mbox_put return false at once, so a sender never waits for
 * the receiver.  The consumer alone moves mb_take (no atomic needed there);
 * the release store of mc_seq publishes the entry, the acquire load reads it.
 * No lock: the run's lockstat rows are the allocators' own.
 */
#include "kernel/stress_impl.h"
#include "kernel/lib.h"

_Static_assert((STRESS_MBOX_CAP & (STRESS_MBOX_CAP - 1)) == 0, "a power of two");

void stress_mbox_init(struct stress_mbox *mb)
{
	mb->mb_put = 0;
	mb->mb_take = 0;
	for (uint64_t i = 0; i < STRESS_MBOX_CAP; i++)
		mb->mb_cell[i].mc_seq = i;
}

bool stress_mbox_put(struct stress_mbox *mb, const struct stress_obj *o)
{
	uint64_t pos = __atomic_load_n(&mb->mb_put, __ATOMIC_RELAXED);
	struct stress_mcell *c;

	for (;;) {
		int64_t dif;

		c = &mb->mb_cell[pos & (STRESS_MBOX_CAP - 1)];
		dif = (int64_t)(__atomic_load_n(&c->mc_seq, __ATOMIC_ACQUIRE) - pos);
		if (dif < 0)
			return false;		/* full: last lap's entry is still there */
		if (dif == 0 && __atomic_compare_exchange_n(&mb->mb_put, &pos, pos + 1, true,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
		if (dif > 0)			/* another producer took pos: look again */
			pos = __atomic_load_n(&mb->mb_put, __ATOMIC_RELAXED);
	}
	c->mc_obj = *o;
	__atomic_store_n(&c->mc_seq, pos + 1, __ATOMIC_RELEASE);
	return true;
}

/* Take the next entry into *o (the owner only); false if none is ready. */
static bool stress_mbox_take(struct stress_mbox *mb, struct stress_obj *o)
{
	uint64_t pos = mb->mb_take;
	struct stress_mcell *c = &mb->mb_cell[pos & (STRESS_MBOX_CAP - 1)];

	if (__atomic_load_n(&c->mc_seq, __ATOMIC_ACQUIRE) != pos + 1)
		return false;
	*o = c->mc_obj;
	__atomic_store_n(&c->mc_seq, pos + STRESS_MBOX_CAP, __ATOMIC_RELEASE);
	mb->mb_take = pos + 1;
	return true;
}

unsigned stress_mbox_drain(struct stress_hart *sh)
{
	struct stress_obj o;
	unsigned n = 0;

	while (stress_mbox_take(sh->sh_mbox, &o)) {
		stress_obj_release(sh, &o);
		sh->sh_remote_done++;
		n++;
	}
	return n;
}
