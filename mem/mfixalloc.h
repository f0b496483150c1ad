/*
 * mfixalloc.h — free-list allocator of fixed-size off-heap objects (Go's
 * mfixalloc.go): mspan structs, the mcache, special records, arena hints.
 */
#ifndef GALE_MFIXALLOC_H
#define GALE_MFIXALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/mem.h"

typedef struct mlink {
	struct mlink *next;
} mlink;

typedef struct fixalloc {
	uintptr_t size;
	void (*first)(void *arg, void *p); /* called the first time p is handed out */
	void *arg;
	mlink *list;      /* freed objects */
	uintptr_t chunk;  /* bump pointer into the current chunk */
	uint32_t nchunk;  /* bytes left in the chunk */
	uint32_t nalloc;  /* bytes per chunk */
	uintptr_t inuse;  /* bytes handed out and not freed */
	sysMemStat *stat; /* charged once per chunk, through persistentalloc */
	runtime *rt;
	bool zero;        /* zero reused objects (false keeps a span's sweepgen) */
} fixalloc;

void fixalloc_init(fixalloc *f, runtime *rt, uintptr_t size, void (*first)(void *arg, void *p),
                   void *arg, sysMemStat *stat);
/* NULL when a new chunk cannot be mapped. */
void *fixalloc_alloc(fixalloc *f);
void fixalloc_free(fixalloc *f, void *p);

#endif
