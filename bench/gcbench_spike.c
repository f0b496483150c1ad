/*
 * (b) Memory comes back: a 500 MiB live spike falls to 10 MiB. Reports how
 * long after the first collection following the drop RSS falls to 40 MiB
 * with no explicit call (Go 1.19: 2.2 s), and RSS right after
 * freeOSMemory on a second spike.
 */
#include "gcbench.h"

static void spike(runtime *rt)
{
	for (size_t i = 0; i < 500; i++)
		bench_roots[i] = bench_alloc(rt, MiB, KIND_LEAF);
	/* Touch every page so RSS really holds the spike. */
	for (size_t i = 0; i < 500; i++)
		memset((char *)bench_roots[i] + 8, 1, MiB - 8);
}

static void drop(void)
{
	for (size_t i = 10; i < 500; i++)
		bench_roots[i] = NULL;
}

int main(void)
{
	runtime *rt = bench_runtime(100, INT64_MAX);
	spike(rt);
	printf("spike: RSS %.1f MiB with 500 MiB live\n", mb(bench_rss()));
	drop();

	/* Keep a mutator running: small garbage at a steady rate. */
	MemStats m;
	readMemStats(rt, &m);
	uint32_t gc0 = m.NumGC;
	double tFirst = 0, tDone = 0, t0 = bench_now();
	while (bench_now() - t0 < 10) {
		for (int k = 0; k < 1000; k++)
			bench_alloc(rt, 64 + bench_rand() % 1024, KIND_LEAF);
		readMemStats(rt, &m);
		if (tFirst == 0 && m.NumGC > gc0)
			tFirst = bench_now();
		if (tFirst != 0 && bench_rss() <= 40 * MiB) {
			tDone = bench_now();
			break;
		}
		struct timespec ts = {0, 1000000}; /* 1 ms of "other work" */
		nanosleep(&ts, NULL);
	}
	if (tDone != 0)
		printf("spike: RSS %.1f MiB (<= 40 MiB) %.2f s after the first cycle after the drop, %u cycles\n",
		       mb(bench_rss()), tDone - tFirst, m.NumGC - gc0);
	else
		printf("spike: RSS still %.1f MiB after 10 s (%u cycles)\n", mb(bench_rss()),
		       m.NumGC - gc0);

	spike(rt);
	drop();
	freeOSMemory(rt);
	printf("spike: RSS %.1f MiB right after freeOSMemory\n", mb(bench_rss()));
	runtimeDestroy(rt);
	return 0;
}
