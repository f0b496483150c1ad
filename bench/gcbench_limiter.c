/*
 * (d) A memory limit below the live heap: 64 MiB live, 32 MiB limit, GOGC
 * 100. Without the GC CPU limiter every allocation would collect; with it the
 * program finishes with GC CPU near 50 % (Go 1.19: limiter engaged).
 */
#include "gcbench.h"

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 6;
	runtime *rt = bench_runtime(100, 32 * (int64_t)MiB);
	/* Pointer-rich live heap so each pause costs real work. */
	size_t n = 64 * MiB / 64;
	for (size_t i = 0; i < n; i++) {
		bnode *x = bench_alloc(rt, 64, KIND_NODE);
		x->next = bench_roots[0];
		bench_roots[0] = x;
	}
	MemStats m;
	readMemStats(rt, &m);
	uint32_t gc0 = m.NumGC;
	uint64_t pause0 = m.PauseTotalNs;
	double t0 = bench_now();
	size_t allocated = 0;
	while (bench_now() - t0 < seconds) {
		for (int k = 0; k < 256; k++) {
			size_t size = 16 + bench_rand() % 512;
			bench_alloc(rt, size, KIND_LEAF);
			allocated += size;
		}
	}
	double secs = bench_now() - t0;
	readMemStats(rt, &m);
	double gcSecs = (double)(m.PauseTotalNs - pause0) / 1e9;
	printf("limiter: 64 MiB live, 32 MiB limit: %.2f s, %.0f MiB allocated, %u cycles\n", secs,
	       mb(allocated), m.NumGC - gc0);
	printf("limiter: GC CPU in the run %.1f %% (overall %.1f %%), heap %.1f MiB\n",
	       100 * gcSecs / secs, 100 * m.GCCPUFraction, mb(m.HeapAlloc));
	runtimeDestroy(rt);
	return 0;
}
