/*
 * mgcwork.c — work buffers for the gray stack (Go's mgcwork.go, one worker).
 *
 * Invariants: every buffer is in exactly one place (wbuf1, wbuf2, the full
 * list or the empty list); buffers on the full list have nobj > 0; wbuf1 and
 * wbuf2 are either both NULL or both set. Chunks are held until
 * gcWork_dispose, which the collector calls at the end of each cycle, so
 * inWorkBufs is 0 between cycles.
 */
#include "gc/mgcwork.h"

#include "mem/mheap.h"

/* One 32 KiB chunk from the heap's manual spans, carved into 16 buffers. */
static bool getChunk(runtime *rt, gcWork *w)
{
	if (w->chunkLimit != 0 && w->nchunks >= w->chunkLimit)
		return false;
	/* A manual span: counted in inWorkBufs (GCSys), never swept. */
	mspan *s = mheap_allocManual(rt, workbufAlloc / pageSize, spanAllocWorkBuf);
	if (s == NULL)
		return false;
	uintptr_t base = s->startAddr;
	/* The chunk's first word links it into w->chunks. */
	*(void **)base = w->chunks;
	w->chunks = (void *)base;
	w->nchunks++;
	if (w->nchunks > w->maxChunks)
		w->maxChunks = w->nchunks;
	/* Buffers follow the link word back to back; all start empty. */
	for (uintptr_t p = base + sizeof(void *); p + sizeof(workbuf) <= base + workbufAlloc;
	     p += sizeof(workbuf)) {
		workbuf *b = (workbuf *)p;
		b->nobj = 0;
		b->next = w->empty;
		w->empty = b;
	}
	return true;
}

/* An empty buffer, or NULL when the heap has no memory for one. */
static workbuf *getempty(runtime *rt, gcWork *w)
{
	/* Reuse before growing: chunks are only added when every buffer holds
	 * gray objects, so the stack's memory tracks its peak depth. */
	if (w->empty == NULL && !getChunk(rt, w))
		return NULL;
	workbuf *b = w->empty;
	w->empty = b->next;
	b->next = NULL;
	b->nobj = 0;
	return b;
}

/* Buffers are linked through their own next field: lists cost nothing. */
static void putempty(gcWork *w, workbuf *b)
{
	b->nobj = 0;
	b->next = w->empty;
	w->empty = b;
}

static void putfull(gcWork *w, workbuf *b)
{
	b->next = w->full;
	w->full = b;
}

/* The first pair of buffers is fetched lazily, on the first put. */
static bool initBufs(runtime *rt, gcWork *w)
{
	workbuf *a = getempty(rt, w);
	if (a == NULL)
		return false;
	workbuf *b = getempty(rt, w);
	if (b == NULL) {
		putempty(w, a);
		return false;
	}
	w->wbuf1 = a;
	w->wbuf2 = b;
	return true;
}

bool gcWork_put(runtime *rt, gcWork *w, void *obj)
{
	if (w->wbuf1 == NULL && !initBufs(rt, w)) {
		w->overflow = true;
		return false;
	}
	workbuf *b = w->wbuf1;
	if (b->nobj == workbufObjs) {
		/* Primary full: try the secondary, else retire the primary. */
		w->wbuf1 = w->wbuf2;
		w->wbuf2 = b;
		b = w->wbuf1;
		if (b->nobj == workbufObjs) {
			workbuf *e = getempty(rt, w);
			if (e == NULL) {
				/* Undo the swap so pops stay last-in first-out. */
				w->wbuf1 = w->wbuf2;
				w->wbuf2 = b;
				w->overflow = true;
				return false;
			}
			putfull(w, b);
			w->wbuf1 = b = e;
		}
	}
	/* Here wbuf1 has room: the common case is this one store. */
	b->obj[b->nobj++] = obj;
	return true;
}

void *gcWork_tryGet(gcWork *w)
{
	workbuf *b = w->wbuf1;
	if (b == NULL)
		return NULL;
	if (b->nobj == 0) {
		/* Primary empty: try the secondary, else take a full buffer. */
		w->wbuf1 = w->wbuf2;
		w->wbuf2 = b;
		b = w->wbuf1;
		if (b->nobj == 0) {
			workbuf *f = w->full;
			if (f == NULL)
				return NULL;
			w->full = f->next;
			f->next = NULL;
			putempty(w, b);
			w->wbuf1 = b = f;
		}
	}
	/* Last in, first out: depth-first order keeps the stack short for lists
	 * and trees. */
	return b->obj[--b->nobj];
}

/* Empty means no gray object anywhere: both cached buffers and the list. */
bool gcWork_isEmpty(const gcWork *w)
{
	return w->wbuf1 == NULL ||
	       (w->wbuf1->nobj == 0 && w->wbuf2->nobj == 0 && w->full == NULL);
}

void gcWork_dispose(runtime *rt, gcWork *w)
{
	/* Buffers live inside the chunks: forgetting the lists frees them. */
	void *c = w->chunks;
	while (c != NULL) {
		void *next = *(void **)c;
		mheap_freeManual(rt, spanOf(rt, (uintptr_t)c), spanAllocWorkBuf);
		c = next;
	}
	*w = (gcWork){.maxChunks = w->maxChunks, .chunkLimit = w->chunkLimit};
}
