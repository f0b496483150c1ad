/*
 * mksizeclasses.c — computes the allocator's size classes and prints them as
 * a C header (a port of Go's runtime/mksizeclasses.go algorithm).
 *
 * Classes are chosen so that the tail wasted at the end of a span is at most
 * 1/8 of the span, and neighbouring sizes that would give the same span size
 * and object count are merged into the larger one. Each class also gets a
 * 32-bit "magic" multiplier so that an offset inside a span can be divided by
 * the object size with a multiply and a shift; every offset in the span is
 * checked exhaustively here, so the runtime never has to.
 *
 * Output: the constants as macros and the tables as arrays, defined only
 * where SIZECLASSES_DEFINE is set (mem/msize.c) and declared extern elsewhere.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	maxSmallSize = 32 << 10,
	smallSizeDiv = 8,
	smallSizeMax = 1024,
	largeSizeDiv = 128,
	pageShift = 13,
	pageSize = 1 << pageShift,
	maxClasses = 128,
};

typedef struct sizeClass {
	int size;   /* largest object size in the class */
	int npages; /* pages per span */
} sizeClass;

static sizeClass classes[maxClasses];
static int nclasses;

static int powerOfTwo(int x) { return x != 0 && (x & (x - 1)) == 0; }

static void fail(const char *msg)
{
	fprintf(stderr, "mksizeclasses: %s\n", msg);
	exit(1);
}

static void makeClasses(void)
{
	nclasses = 1; /* class 0 stands for "large": no size, no pages */
	int align = 8;
	for (int size = align; size <= maxSmallSize; size += align) {
		/* Alignment grows with size so the number of classes stays small. */
		if (powerOfTwo(size)) {
			if (size >= 2048)
				align = 256;
			else if (size >= 128)
				align = size / 8;
			else if (size >= 32)
				align = 16;
		}
		if (!powerOfTwo(align))
			fail("incorrect alignment");

		/* Grow the span until the unusable tail is at most 1/8 of it. */
		int allocsize = pageSize;
		while (allocsize % size > allocsize / 8)
			allocsize += pageSize;
		int npages = allocsize / pageSize;

		/* Same span size and object count as the previous class: the
		 * larger size costs nothing, so widen the previous class. */
		sizeClass *prev = &classes[nclasses - 1];
		if (nclasses > 1 && npages == prev->npages && allocsize / size == allocsize / prev->size) {
			prev->size = size;
			continue;
		}
		if (nclasses == maxClasses)
			fail("too many classes");
		classes[nclasses++] = (sizeClass){size, npages};
	}

	/* Use the whole span: raise each size as far as the object count allows,
	 * keeping it a multiple of largeSizeDiv so size_to_class128 still works. */
	for (int i = 1; i < nclasses; i++) {
		sizeClass *c = &classes[i];
		int psize = c->npages * pageSize;
		int newSize = (psize / (psize / c->size)) & ~(largeSizeDiv - 1);
		if (newSize > c->size)
			c->size = newSize;
	}

	if (nclasses != 68)
		fail("number of size classes has changed");
}

static int bitLen(unsigned x)
{
	int n = 0;
	while (x) {
		n++;
		x >>= 1;
	}
	return n;
}

/* Checks that n*m>>32 == n/size for every offset n in a span (the runtime's
 * objIndex relies on it), after checking the precision bound F <= 32. */
static uint32_t computeDivMagic(const sizeClass *c)
{
	int d = c->size;
	if (d == 0)
		return 0;
	int max = c->npages * pageSize;
	int N = bitLen((unsigned)max);
	int F = 0;
	if (powerOfTwo(d)) {
		while ((1 << F) < d)
			F++;
	} else {
		for (int L = 0;; L++) {
			if ((int64_t)d <= (((int64_t)1 << (N + L)) % d) + ((int64_t)1 << L)) {
				F = N + L;
				break;
			}
		}
	}
	if (F > 32)
		fail("size class requires more than 32 bits of precision");
	uint32_t m = UINT32_MAX / (uint32_t)d + 1;
	for (int n = 0; n <= max; n++)
		if ((uint32_t)(((uint64_t)n * m) >> 32) != (uint32_t)(n / d))
			fail("bad 32-bit multiply magic");
	return m;
}

static int trailingZeros(unsigned x)
{
	int n = 0;
	while (x && !(x & 1)) {
		n++;
		x >>= 1;
	}
	return n;
}

static void printComment(void)
{
	printf("/* %-5s  %-9s  %-10s  %-7s  %-10s  %-9s  %-9s\n", "class", "bytes/obj", "bytes/span",
	       "objects", "tail waste", "max waste", "min align");
	int prevSize = 0;
	for (int i = 1; i < nclasses; i++) {
		const sizeClass *c = &classes[i];
		int spanSize = c->npages * pageSize;
		int objects = spanSize / c->size;
		int tailWaste = spanSize - c->size * objects;
		double maxWaste = (double)((c->size - prevSize - 1) * objects + tailWaste) / spanSize;
		int alignBits = trailingZeros((unsigned)c->size);
		if (alignBits > pageShift)
			alignBits = pageShift;
		prevSize = c->size;
		printf(" * %5d  %9d  %10d  %7d  %10d  %8.2f%%  %9d\n", i, c->size, spanSize, objects,
		       tailWaste, 100 * maxWaste, 1 << alignBits);
	}
	printf(" */\n\n");
}

static int classFor(int size)
{
	for (int j = 0; j < nclasses; j++)
		if (classes[j].size >= size)
			return j;
	fail("no class for size");
	return 0;
}

static void printClasses(void)
{
	printf("#define _MaxSmallSize %d\n", maxSmallSize);
	printf("#define smallSizeDiv %d\n", smallSizeDiv);
	printf("#define smallSizeMax %d\n", smallSizeMax);
	printf("#define largeSizeDiv %d\n", largeSizeDiv);
	printf("#define _NumSizeClasses %d\n", nclasses);
	printf("#define _PageShift %d\n\n", pageShift);

	printf("extern const uint16_t class_to_size[_NumSizeClasses];\n");
	printf("extern const uint8_t class_to_allocnpages[_NumSizeClasses];\n");
	printf("extern const uint32_t class_to_divmagic[_NumSizeClasses];\n");
	printf("extern const uint8_t size_to_class8[smallSizeMax / smallSizeDiv + 1];\n");
	printf("extern const uint8_t size_to_class128[(_MaxSmallSize - smallSizeMax) / largeSizeDiv + 1];\n\n");

	printf("#ifdef SIZECLASSES_DEFINE\n");
	printf("const uint16_t class_to_size[_NumSizeClasses] = {");
	for (int i = 0; i < nclasses; i++)
		printf("%s%d", i ? ", " : "", classes[i].size);
	printf("};\n");
	printf("const uint8_t class_to_allocnpages[_NumSizeClasses] = {");
	for (int i = 0; i < nclasses; i++)
		printf("%s%d", i ? ", " : "", classes[i].npages);
	printf("};\n");
	printf("const uint32_t class_to_divmagic[_NumSizeClasses] = {");
	for (int i = 0; i < nclasses; i++)
		printf("%s%uu", i ? ", " : "", computeDivMagic(&classes[i]));
	printf("};\n");

	/* Lookup by size: sizes up to smallSizeMax-8 in steps of 8, the rest in
	 * steps of 128; each entry is the smallest class that fits. */
	printf("const uint8_t size_to_class8[smallSizeMax / smallSizeDiv + 1] = {");
	for (int i = 0; i <= smallSizeMax / smallSizeDiv; i++)
		printf("%s%d", i ? ", " : "", classFor(i * smallSizeDiv));
	printf("};\n");
	printf("const uint8_t size_to_class128[(_MaxSmallSize - smallSizeMax) / largeSizeDiv + 1] = {");
	for (int i = 0; i <= (maxSmallSize - smallSizeMax) / largeSizeDiv; i++)
		printf("%s%d", i ? ", " : "", classFor(smallSizeMax + i * largeSizeDiv));
	printf("};\n");
	printf("#endif\n");
}

int main(void)
{
	makeClasses();
	printf("/* Generated by tools/mksizeclasses.c; do not edit. */\n");
	printf("#ifndef GALE_SIZECLASSES_H\n#define GALE_SIZECLASSES_H\n\n#include <stdint.h>\n\n");
	printComment();
	printClasses();
	printf("\n#endif\n");
	return 0;
}
