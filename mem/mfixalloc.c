/*
 * mfixalloc.c — fixed-size object allocator (Go's mfixalloc.go).
 *
 * Objects come from chunks obtained with persistentalloc on f->stat, so the
 * stat is charged once per chunk, not per object. Freed objects go on a free
 * list threaded through their first word and are handed out again first.
 */
#include <string.h>

#include "mem/malloc.h"
#include "mem/mfixalloc.h"

void fixalloc_init(fixalloc *f, runtime *rt, uintptr_t size, void (*first)(void *arg, void *p),
                   void *arg, sysMemStat *stat)
{
	if (size > _FixAllocChunk)
		mthrow("runtime: fixalloc size too large");
	/* Free objects hold the list link, and every object stays aligned. */
	if (size < sizeof(mlink))
		size = sizeof(mlink);
	size = alignUp(size, sizeof(void *));
	*f = (fixalloc){
		.size = size,
		.first = first,
		.arg = arg,
		.nalloc = (uint32_t)(_FixAllocChunk / size * size),
		.stat = stat,
		.rt = rt,
		.zero = true,
	};
}

void *fixalloc_alloc(fixalloc *f)
{
	if (f->size == 0)
		mthrow("runtime: use of fixalloc before fixalloc_init");
	/* Reuse first: a freed object costs no new memory. */
	if (f->list != NULL) {
		void *v = f->list;
		f->list = f->list->next;
		f->inuse += f->size;
		/* Chunks arrive zeroed, so only recycled objects need clearing. */
		if (f->zero)
			memset(v, 0, f->size);
		return v;
	}
	if (f->nchunk < f->size) {
		/* The rest of the old chunk (less than one object) is abandoned. */
		void *c = persistentalloc(f->rt, f->nalloc, 0, f->stat);
		if (c == NULL)
			return NULL;
		f->chunk = (uintptr_t)c;
		f->nchunk = f->nalloc;
	}
	/* A never-used object: tell the owner (spanalloc records it). */
	void *v = (void *)f->chunk;
	if (f->first != NULL)
		f->first(f->arg, v);
	f->chunk += f->size;
	f->nchunk -= (uint32_t)f->size;
	f->inuse += f->size;
	return v;
}

void fixalloc_free(fixalloc *f, void *p)
{
	/* inuse is what MSpanInuse/MCacheInuse report: keep it exact. */
	if (f->inuse < f->size)
		mthrow("runtime: fixalloc free of more than was allocated");
	f->inuse -= f->size;
	mlink *v = p;
	v->next = f->list;
	f->list = v;
}
