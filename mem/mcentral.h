/*
 * mcentral.h — the per-span-class lists of spans (Go's mcentral.go). The
 * struct itself lives in mheap.h because the heap embeds one per class.
 *
 * With sweeping done inside the collector's pause, the unswept lists are
 * non-empty only between the start of a sweep and its end.
 */
#ifndef GALE_MCENTRAL_H
#define GALE_MCENTRAL_H

#include "mem/mheap.h"

void mcentral_init(mcentral *c, spanClass spc);
mSpanList *mcentral_partialSwept(mcentral *c, uint32_t sweepgen);
mSpanList *mcentral_partialUnswept(mcentral *c, uint32_t sweepgen);
mSpanList *mcentral_fullSwept(mcentral *c, uint32_t sweepgen);
mSpanList *mcentral_fullUnswept(mcentral *c, uint32_t sweepgen);

/* A span with at least one free slot for the mcache, NULL on out of memory. */
mspan *mcentral_cacheSpan(runtime *rt, mcentral *c);
/* Return a span the mcache is done with. */
void mcentral_uncacheSpan(runtime *rt, mcentral *c, mspan *s);
/* A fresh span of this class from the heap. */
mspan *mcentral_grow(runtime *rt, mcentral *c);

#endif
