/*
 * mb_xmalloc.c - producer/consumer after xmalloc-test (Lever & Boreham 2000,
 * "malloc() Performance in a Multithreaded Linux Environment", updated by
 * Christian Eder; mimalloc-bench runs it): purely allocating threads hand
 * every object to purely freeing threads, so every free is a free of memory
 * another thread allocated.  With -t T there are T producers and T consumers
 * (2T threads); producer i fills batches of XM_BATCH objects of random size
 * in [XM_MIN, XM_MAX], tags them, and queues them for consumer i, which
 * checks each object's tags and frees it.  A queue holds at most XM_DEPTH
 * batches (the producer waits), which bounds the memory in flight.
 *
 *   mbench-xmalloc [-t pairs] [-n objects] [-s seed] [-S]
 */
#include <stdlib.h>

#include "mbench.h"

#define XM_BATCH	64	/* objects per batch */
#define XM_DEPTH	16	/* batches a queue holds */
#define XM_MIN		16
#define XM_MAX		512

/* One batch of objects on its way to a consumer. */
struct xm_batch {
	void		*xb_obj[XM_BATCH];
	uint32_t	xb_size[XM_BATCH];
	uint64_t	xb_tag[XM_BATCH];
};

/* The queue between producer i and consumer i (a ring of batches). */
struct xm_queue {
	pthread_mutex_t	xq_lock;
	pthread_cond_t	xq_cv;		/* signalled on every put and take */
	struct xm_batch	xq_ring[XM_DEPTH];
	unsigned	xq_head;	/* next batch to take */
	unsigned	xq_count;	/* batches queued */
	long		xq_batches;	/* batches each side moves */
	uint64_t	xq_rand;
	int		xq_id;
};

/* Fill b with fresh tagged objects. */
static void xm_produce(struct xm_queue *q, struct xm_batch *b, uint64_t *seq)
{
	for (int k = 0; k < XM_BATCH; k++) {
		uint32_t size = XM_MIN + (uint32_t)(mb_rand(&q->xq_rand) % (XM_MAX - XM_MIN + 1));

		b->xb_obj[k] = mb_malloc(size);
		b->xb_size[k] = size;
		b->xb_tag[k] = ((uint64_t)q->xq_id << 48) ^ (*seq)++;
		mb_tag(b->xb_obj[k], size, b->xb_tag[k]);
	}
}

/* Producer: allocate every batch, wait for room, queue it. */
static void *xm_producer(void *arg)
{
	struct xm_queue *q = arg;
	struct xm_batch b;
	uint64_t seq = 0;

	mb_ready();
	for (long n = 0; n < q->xq_batches; n++) {
		xm_produce(q, &b, &seq);
		pthread_mutex_lock(&q->xq_lock);
		while (q->xq_count == XM_DEPTH)
			pthread_cond_wait(&q->xq_cv, &q->xq_lock);
		q->xq_ring[(q->xq_head + q->xq_count) % XM_DEPTH] = b;
		q->xq_count++;
		pthread_cond_broadcast(&q->xq_cv);
		pthread_mutex_unlock(&q->xq_lock);
	}
	return NULL;
}

/* Consumer: take every batch, check and free its objects. */
static void *xm_consumer(void *arg)
{
	struct xm_queue *q = (struct xm_queue *)arg - 1;	/* see main: odd slots */
	struct xm_batch b;

	mb_ready();
	for (long n = 0; n < q->xq_batches; n++) {
		pthread_mutex_lock(&q->xq_lock);
		while (q->xq_count == 0)
			pthread_cond_wait(&q->xq_cv, &q->xq_lock);
		b = q->xq_ring[q->xq_head];
		q->xq_head = (q->xq_head + 1) % XM_DEPTH;
		q->xq_count--;
		pthread_cond_broadcast(&q->xq_cv);
		pthread_mutex_unlock(&q->xq_lock);
		for (int k = 0; k < XM_BATCH; k++) {
			mb_check("xmalloc", b.xb_obj[k], b.xb_size[k], b.xb_tag[k]);
			free(b.xb_obj[k]);
		}
	}
	return NULL;
}

/* Even thread slots produce, odd slots consume (one body, two roles). */
static void *xm_thread(void *arg)
{
	struct xm_queue *q = arg;

	return q->xq_id > 0 ? xm_producer(q) : xm_consumer(q);
}

int main(int argc, char **argv)
{
	struct mb_opts o = { .mo_threads = 1, .mo_n = 5000000, .mo_seed = 1 };
	static struct xm_queue slots[512];
	long batches;
	double start;

	mb_parse(argc, argv, &o, "mbench-xmalloc");
	if (o.mo_threads > 128)
		mb_fail("xmalloc: -t %d: at most 128 pairs", o.mo_threads);
	mb_selfcheck(&o);
	batches = o.mo_n / o.mo_threads / XM_BATCH;
	for (int i = 0; i < o.mo_threads; i++) {
		struct xm_queue *q = &slots[2 * i];

		pthread_mutex_init(&q->xq_lock, NULL);
		pthread_cond_init(&q->xq_cv, NULL);
		q->xq_batches = batches;
		q->xq_rand = (o.mo_seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(i + 1);
		q->xq_id = i + 1;
		slots[2 * i + 1].xq_id = 0;		/* the consumer's slot */
	}
	start = mb_run_threads(2 * o.mo_threads, xm_thread, slots, sizeof(slots[0]));
	mb_report("xmalloc", &o, (double)batches * XM_BATCH * o.mo_threads, mb_now() - start);
	return 0;
}
