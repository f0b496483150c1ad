/*
 * mgcwork.h — the gray object stack in work buffers (Go's mgcwork.go).
 *
 * Gray objects (marked, children not yet traced) wait in fixed-size work
 * buffers carved from 32 KiB manually managed spans (allocManual with
 * spanAllocWorkBuf), so the mark stack is heap memory counted in inWorkBufs
 * and GCSys, and marking never recurses on the C stack.
 *
 * Like Go's gcWork, two buffers are cached (wbuf1 primary, wbuf2 secondary)
 * so a push/pop pattern at a buffer boundary does not thrash the lists.
 * When no buffer can be had (the OS refuses memory), put fails and sets
 * overflow; the marker then recovers by rescanning marked objects.
 */
#ifndef GALE_GC_MGCWORK_H
#define GALE_GC_MGCWORK_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/runtime.h"

#define workbufAlloc ((uintptr_t)32 << 10) /* bytes per allocManual request */
#define _WorkbufSize 2040                  /* 16 buffers + an 8-byte chunk link per 32 KiB */
#define workbufObjs ((_WorkbufSize - 2 * sizeof(void *)) / sizeof(void *))

typedef struct workbuf {
	struct workbuf *next; /* in the full or empty list */
	uintptr_t nobj;
	void *obj[workbufObjs];
} workbuf;

_Static_assert(sizeof(workbuf) == _WorkbufSize, "workbuf size");
_Static_assert(sizeof(void *) + 16 * _WorkbufSize <= workbufAlloc, "workbufs per chunk");

typedef struct gcWork {
	workbuf *wbuf1, *wbuf2; /* cached: pushes and pops go to wbuf1 first */
	workbuf *full;          /* buffers holding gray objects */
	workbuf *empty;         /* buffers ready for reuse */
	void *chunks;           /* 32 KiB chunks, linked through their first word */
	uintptr_t nchunks;
	uintptr_t maxChunks;    /* high-water mark, for tests and tracing */
	uintptr_t chunkLimit;   /* fault injection: refuse chunks past this many (0 = no limit) */
	bool overflow;          /* a put failed: gray objects were dropped */
} gcWork;

/* Push a gray object. False (and overflow set) when no buffer memory exists. */
bool gcWork_put(runtime *rt, gcWork *w, void *obj);
/* Pop a gray object, or NULL when the stack is empty. */
void *gcWork_tryGet(gcWork *w);
bool gcWork_isEmpty(const gcWork *w);
/* Drop every gray object and return all buffer memory to the heap. */
void gcWork_dispose(runtime *rt, gcWork *w);

#endif
