/* pagetest.c — see pagetest.h. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page/pagetest.h"

runtime testRuntime;

pageAlloc *NewPageAlloc(const chunkRanges *chunks, const chunkRanges *scav)
{
	pageAlloc *p = calloc(1, sizeof *p);
	cr_assert_not_null(p);
	pageAlloc_init(p, &testRuntime, testSysStat, true);
	for (const chunkRanges *c = chunks; c->ci != 0; c++) {
		uintptr_t addr = chunkBase(c->ci);
		pageAlloc_grow(p, addr, pallocChunkBytes);
		pallocData *chunk = pageAlloc_chunkOf(p, c->ci);
		/* grow marked everything scavenged: start from the table instead */
		pageBits_clearRange(&chunk->scavenged, 0, pallocChunkPages);
		if (scav != NULL) {
			for (const chunkRanges *s = scav; s->ci != 0; s++) {
				if (s->ci != c->ci)
					continue;
				for (int k = 0; k < MAXR; k++)
					if (s->r[k].N != 0)
						pageBits_setRange(&chunk->scavenged, s->r[k].I, s->r[k].N);
			}
		}
		for (int k = 0; k < MAXR; k++)
			if (c->r[k].N != 0)
				pallocData_allocRange(chunk, c->r[k].I, c->r[k].N);
		/* index the chunk if it has anything to scavenge */
		uintptr_t minPages = physPageSize / pageSize;
		if (minPages < 1)
			minPages = 1;
		unsigned npages;
		pallocData_findScavengeCandidate(chunk, pallocChunkPages - 1, minPages, minPages, &npages);
		if (npages != 0)
			scavengeIndex_mark(&p->scav.index, addr, addr + pallocChunkBytes);
		pageAlloc_update(p, addr, pallocChunkPages, false, false);
	}
	return p;
}

void FreePageAlloc(pageAlloc *p)
{
	pageAlloc_release(p);
	free(p);
}

void checkPallocBits(const pallocBits *got, const pallocBits *want, const char *what)
{
	/* Plain compares: Criterion reports every assertion, and heaps with
	 * far-apart chunks have a million chunks to compare. */
	for (unsigned i = 0; i < pallocChunkPages / 64; i++)
		if (got->b[i] != want->b[i])
			cr_assert_fail("%s: word %u: got %#lx, want %#lx", what, i, (unsigned long)got->b[i],
			               (unsigned long)want->b[i]);
}

void checkPageAlloc(const pageAlloc *want, const pageAlloc *got)
{
	cr_assert_eq(got->start, want->start, "start values not equal: got %lu, want %lu",
	             (unsigned long)got->start, (unsigned long)want->start);
	cr_assert_eq(got->end, want->end, "end values not equal");
	for (chunkIdx i = got->start; i < got->end; i++) {
		pallocData *gb = pageAlloc_tryChunkOf(got, i), *wb = pageAlloc_tryChunkOf(want, i);
		if (gb == NULL && wb == NULL)
			continue;
		if ((gb == NULL) != (wb == NULL))
			cr_assert_fail("chunk %lu nilness mismatch", (unsigned long)i);
		if (memcmp(gb, wb, sizeof *gb) == 0)
			continue;
		char what[64];
		snprintf(what, sizeof what, "chunk BaseChunkIdx%+ld (mallocBits)", (long)(i - BaseChunkIdx));
		checkPallocBits(&gb->pallocBits, &wb->pallocBits, what);
		snprintf(what, sizeof what, "chunk BaseChunkIdx%+ld (scavenged)", (long)(i - BaseChunkIdx));
		checkPallocBits(&gb->scavenged, &wb->scavenged, what);
	}
}

void makePallocBits(pallocBits *b, const BitRange *r, int n)
{
	*b = (pallocBits){0};
	for (int i = 0; i < n; i++)
		if (r[i].N != 0)
			pageBits_setRange(b, r[i].I, r[i].N);
}
