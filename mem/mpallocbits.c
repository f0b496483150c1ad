/*
 * mpallocbits.c — per-chunk page bitmaps and their summaries (mirrors Go's
 * mpallocbits.go). A chunk is 512 pages, eight 64-bit words; bit i of word
 * k is page 64k+i.
 */
#include "mem/mpagealloc.h"

/* Bit operations defined for every input (C shifts by >= 64 are undefined,
 * where Go's give 0). */
static inline unsigned ctz64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64; }
static inline unsigned clz64(uint64_t x) { return x ? (unsigned)__builtin_clzll(x) : 64; }
static inline unsigned popcnt64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }
/* The low n bits set, n in [0, 64]. */
static inline uint64_t lowMask(unsigned n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

#define NWORDS (pallocChunkPages / 64)

unsigned pageBits_get(const pageBits *b, unsigned i) { return (unsigned)((b->b[i / 64] >> (i % 64)) & 1); }

/* The whole 64-bit word containing page i. */
uint64_t pageBits_block64(const pageBits *b, unsigned i) { return b->b[i / 64]; }

void pageBits_set(pageBits *b, unsigned i) { b->b[i / 64] |= (uint64_t)1 << (i % 64); }

/* Sets bits [i, i+n); n >= 1. */
void pageBits_setRange(pageBits *b, unsigned i, unsigned n)
{
	if (n == 1) {
		pageBits_set(b, i);
		return;
	}
	unsigned j = i + n - 1;
	if (i / 64 == j / 64) {
		b->b[i / 64] |= lowMask(n) << (i % 64);
		return;
	}
	/* first partial word, whole middle words, last partial word */
	b->b[i / 64] |= ~(uint64_t)0 << (i % 64);
	for (unsigned k = i / 64 + 1; k < j / 64; k++)
		b->b[k] = ~(uint64_t)0;
	b->b[j / 64] |= lowMask(j % 64 + 1);
}

void pageBits_setAll(pageBits *b)
{
	for (unsigned k = 0; k < NWORDS; k++)
		b->b[k] = ~(uint64_t)0;
}

/* ORs v into the word containing page i. */
void pageBits_setBlock64(pageBits *b, unsigned i, uint64_t v) { b->b[i / 64] |= v; }

void pageBits_clear(pageBits *b, unsigned i) { b->b[i / 64] &= ~((uint64_t)1 << (i % 64)); }

/* Clears bits [i, i+n); n >= 1. */
void pageBits_clearRange(pageBits *b, unsigned i, unsigned n)
{
	if (n == 1) {
		pageBits_clear(b, i);
		return;
	}
	unsigned j = i + n - 1;
	if (i / 64 == j / 64) {
		b->b[i / 64] &= ~(lowMask(n) << (i % 64));
		return;
	}
	b->b[i / 64] &= ~(~(uint64_t)0 << (i % 64));
	for (unsigned k = i / 64 + 1; k < j / 64; k++)
		b->b[k] = 0;
	b->b[j / 64] &= ~lowMask(j % 64 + 1);
}

void pageBits_clearAll(pageBits *b)
{
	for (unsigned k = 0; k < NWORDS; k++)
		b->b[k] = 0;
}

/* Clears the bits of v in the word containing page i. */
void pageBits_clearBlock64(pageBits *b, unsigned i, uint64_t v) { b->b[i / 64] &= ~v; }

/* Number of set bits in [i, i+n); n >= 1. The allocator uses it on the
 * scavenged bits to report how much of an allocation must become Ready. */
unsigned pageBits_popcntRange(const pageBits *b, unsigned i, unsigned n)
{
	if (n == 1)
		return (unsigned)((b->b[i / 64] >> (i % 64)) & 1);
	unsigned j = i + n - 1;
	if (i / 64 == j / 64)
		return popcnt64((b->b[i / 64] >> (i % 64)) & lowMask(n));
	unsigned s = popcnt64(b->b[i / 64] >> (i % 64));
	for (unsigned k = i / 64 + 1; k < j / 64; k++)
		s += popcnt64(b->b[k]);
	s += popcnt64(b->b[j / 64] & lowMask(j % 64 + 1));
	return s;
}

/*
 * Summary of the free (zero) runs: start, max, end. One pass over the words
 * finds the runs that touch word boundaries; if the best so far is shorter
 * than a word can hold, a second pass looks for longer runs inside single
 * words by repeatedly widening the runs of ones (shrinking zero runs) until
 * none are left — the number of shrink steps is the longest inner run.
 */
pallocSum pallocBits_summarize(const pallocBits *b)
{
	const unsigned notSetYet = ~0u;
	unsigned start = notSetYet, max = 0, cur = 0;
	for (unsigned i = 0; i < NWORDS; i++) {
		uint64_t x = b->b[i];
		if (x == 0) {
			cur += 64;
			continue;
		}
		unsigned t = ctz64(x), l = clz64(x);
		/* the run ending at this word's lowest one */
		cur += t;
		if (start == notSetYet)
			start = cur;
		if (cur > max)
			max = cur;
		/* the run starting at this word's highest one */
		cur = l;
	}
	if (start == notSetYet) {
		const unsigned n = 64 * NWORDS;
		return packPallocSum(n, n, n);
	}
	if (cur > max)
		max = cur;
	/* Inner runs are at most 62 long; nothing inside a word can beat this. */
	if (max >= 64 - 2)
		return packPallocSum(start, max, cur);

	for (unsigned i = 0; i < NWORDS; i++) {
		uint64_t x = b->b[i];
		/* leading zeros of the word were counted above: drop the low run */
		x >>= ctz64(x) & 63;
		if ((x & (x + 1)) == 0)
			continue; /* no zero below the top run of ones */
		unsigned p = max; /* zeros per run still to remove to match max */
		unsigned k = 1;   /* every run of ones in x is at least k long */
		for (;;) {
			/* Shrink every zero run by p, doubling the stride each step. */
			bool done = false;
			while (p > 0) {
				if (p <= k) {
					x |= x >> (p & 63);
					if ((x & (x + 1)) == 0)
						done = true;
					break;
				}
				x |= x >> (k & 63);
				if ((x & (x + 1)) == 0) {
					done = true;
					break;
				}
				p -= k;
				k *= 2;
			}
			if (done)
				break;
			/* A zero run survived: it is longer than max. Measure it. */
			unsigned j = ctz64(~x);
			x >>= j & 63;
			j = ctz64(x);
			x >>= j & 63;
			max += j;
			if ((x & (x + 1)) == 0)
				break;
			p = j;
		}
	}
	return packPallocSum(start, max, cur);
}

/* One page: the first word with a zero bit. Pages below searchIdx's word
 * are known to be allocated. */
static unsigned pallocBits_find1(const pallocBits *b, unsigned searchIdx)
{
	for (unsigned i = searchIdx / 64; i < NWORDS; i++) {
		uint64_t x = b->b[i];
		if (~x == 0)
			continue; /* full */
		return i * 64 + ctz64(~x);
	}
	return ~0u;
}

/* npages in [2, 64]: a run fits inside one word or straddles two. */
static unsigned pallocBits_findSmallN(const pallocBits *b, uintptr_t npages, unsigned searchIdx,
                                      unsigned *newSearchIdx)
{
	unsigned end = 0, nsi = ~0u;
	for (unsigned i = searchIdx / 64; i < NWORDS; i++) {
		uint64_t bi = b->b[i];
		if (~bi == 0) {
			/* a full word breaks any run */
			end = 0;
			continue;
		}
		/* the first free page seen becomes the caller's new hint */
		if (nsi == ~0u)
			nsi = i * 64 + ctz64(~bi);
		/* the free run carried from the previous word plus this word's low zeros */
		unsigned start = ctz64(bi);
		if (end + start >= npages) {
			*newSearchIdx = nsi;
			return i * 64 - end;
		}
		/* a run inside this word */
		unsigned j = findBitRange64(~bi, (unsigned)npages);
		if (j < 64) {
			*newSearchIdx = nsi;
			return i * 64 + j;
		}
		/* carry this word's high zeros into the next word */
		end = clz64(bi);
	}
	*newSearchIdx = nsi;
	return ~0u;
}

/* npages > 64: the run covers at least one whole free word. */
static unsigned pallocBits_findLargeN(const pallocBits *b, uintptr_t npages, unsigned searchIdx,
                                      unsigned *newSearchIdx)
{
	unsigned start = ~0u, size = 0, nsi = ~0u;
	for (unsigned i = searchIdx / 64; i < NWORDS; i++) {
		uint64_t x = b->b[i];
		if (x == ~(uint64_t)0) {
			size = 0;
			continue;
		}
		if (nsi == ~0u)
			nsi = i * 64 + ctz64(~x);
		if (size == 0) {
			/* start a run at this word's high zeros */
			size = clz64(x);
			start = i * 64 + 64 - size;
			continue;
		}
		/* the run so far plus this word's low zeros */
		unsigned s = ctz64(x);
		if (s + size >= npages) {
			*newSearchIdx = nsi;
			return start;
		}
		if (s < 64) {
			/* the run broke inside this word: restart at its top */
			size = clz64(x);
			start = i * 64 + 64 - size;
			continue;
		}
		/* a wholly free word extends the run */
		size += 64;
	}
	*newSearchIdx = nsi;
	return size < npages ? ~0u : start;
}

/* Dispatch by size: single pages and runs that fit a word have cheaper
 * searches than the general one. */
unsigned pallocBits_find(const pallocBits *b, uintptr_t npages, unsigned searchIdx,
                         unsigned *newSearchIdx)
{
	unsigned nsi, r;
	if (npages == 1) {
		r = nsi = pallocBits_find1(b, searchIdx);
	} else if (npages <= 64) {
		r = pallocBits_findSmallN(b, npages, searchIdx, &nsi);
	} else {
		r = pallocBits_findLargeN(b, npages, searchIdx, &nsi);
	}
	if (newSearchIdx)
		*newSearchIdx = nsi;
	return r;
}

/* In a pallocBits a set bit is an allocated page. */
void pallocBits_allocRange(pallocBits *b, unsigned i, unsigned n) { pageBits_setRange(b, i, n); }
void pallocBits_allocAll(pallocBits *b) { pageBits_setAll(b); }
void pallocBits_free1(pallocBits *b, unsigned i) { pageBits_clear(b, i); }
void pallocBits_free(pallocBits *b, unsigned i, unsigned n) { pageBits_clearRange(b, i, n); }
void pallocBits_freeAll(pallocBits *b) { pageBits_clearAll(b); }
uint64_t pallocBits_pages64(const pallocBits *b, unsigned i) { return pageBits_block64(b, i); }
void pallocBits_allocPages64(pallocBits *b, unsigned i, uint64_t alloc) { pageBits_setBlock64(b, i, alloc); }

/*
 * Removes n-1 ones from the low end of every run of ones: what remains marks
 * the starts of runs of at least n. Doubling the shift each step keeps this
 * logarithmic in n.
 */
unsigned findBitRange64(uint64_t c, unsigned n)
{
	unsigned p = n - 1; /* ones still to remove from each run */
	unsigned k = 1;     /* every zero run in c is at least k wide */
	while (p > 0) {
		if (p <= k) {
			c &= c >> (p & 63);
			break;
		}
		c &= c >> (k & 63);
		if (c == 0)
			return 64;
		p -= k;
		k *= 2;
	}
	return ctz64(c);
}

/* Allocation always clears the scavenged bits: pages in use are Ready. */
void pallocData_allocRange(pallocData *m, unsigned i, unsigned n)
{
	pallocBits_allocRange(&m->pallocBits, i, n);
	pageBits_clearRange(&m->scavenged, i, n);
}

void pallocData_allocAll(pallocData *m)
{
	pallocBits_allocAll(&m->pallocBits);
	pageBits_clearAll(&m->scavenged);
}

/* ---- packed summaries ---- */

/* Each field must be at most maxPackedValue; only max == maxPackedValue
 * (which implies start == end == max) needs the special encoding. */
pallocSum packPallocSum(unsigned start, unsigned max, unsigned end)
{
	/* Only a fully free root entry reaches maxPackedValue; it has no room in
	 * 21 bits, so it gets the dedicated top bit. */
	if (max == maxPackedValue)
		return (pallocSum)1 << 63;
	return ((uint64_t)start & (maxPackedValue - 1)) |
	       (((uint64_t)max & (maxPackedValue - 1)) << logMaxPackedValue) |
	       (((uint64_t)end & (maxPackedValue - 1)) << (2 * logMaxPackedValue));
}

unsigned pallocSum_start(pallocSum p)
{
	if (p & ((uint64_t)1 << 63))
		return maxPackedValue;
	return (unsigned)(p & (maxPackedValue - 1));
}

unsigned pallocSum_max(pallocSum p)
{
	if (p & ((uint64_t)1 << 63))
		return maxPackedValue;
	return (unsigned)((p >> logMaxPackedValue) & (maxPackedValue - 1));
}

unsigned pallocSum_end(pallocSum p)
{
	if (p & ((uint64_t)1 << 63))
		return maxPackedValue;
	return (unsigned)((p >> (2 * logMaxPackedValue)) & (maxPackedValue - 1));
}

void pallocSum_unpack(pallocSum p, unsigned *start, unsigned *max, unsigned *end)
{
	*start = pallocSum_start(p);
	*max = pallocSum_max(p);
	*end = pallocSum_end(p);
}

/*
 * Combines n adjacent summaries, each covering 2^logMaxPagesPerSum pages,
 * into the summary of their union. The start grows only while every child
 * so far was entirely free; a run may span the previous end and this start.
 */
pallocSum mergeSummaries(const pallocSum *sums, int n, unsigned logMaxPagesPerSum)
{
	unsigned start, max, end;
	pallocSum_unpack(sums[0], &start, &max, &end);
	for (int i = 1; i < n; i++) {
		unsigned si, mi, ei;
		pallocSum_unpack(sums[i], &si, &mi, &ei);
		if (start == (unsigned)i << logMaxPagesPerSum)
			start += si;
		if (end + si > max)
			max = end + si;
		if (mi > max)
			max = mi;
		if (ei == 1u << logMaxPagesPerSum)
			end += 1u << logMaxPagesPerSum;
		else
			end = ei;
	}
	return packPallocSum(start, max, end);
}
