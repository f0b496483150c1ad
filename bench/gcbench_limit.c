/*
 * (a) The memory limit holds: 100 MiB live heap, heavy garbage, GOGC off,
 * a 150 MiB limit. Reports peak RSS and peak mappedReady against the limit
 * (Go 1.19 on the same shape: -2 % to +2.5 %).
 */
#include "gcbench.h"

int main(int argc, char **argv)
{
	size_t garbageMiB = argc > 1 ? (size_t)atol(argv[1]) : 4096;
	const int64_t limit = 150 * (int64_t)MiB;
	runtime *rt = bench_runtime(-1, limit);
	uint64_t rss0 = bench_rss();

	/* 100 MiB live in 64 KiB leaves, replaced slowly (churn). */
	const size_t nlive = 1600;
	for (size_t i = 0; i < nlive; i++)
		bench_roots[i] = bench_alloc(rt, 64 << 10, KIND_LEAF);

	uint64_t peakReady = 0, peakRSS = 0;
	double t0 = bench_now();
	size_t allocated = 0;
	for (uint64_t n = 0; allocated < garbageMiB * MiB; n++) {
		size_t size = 16 + bench_rand() % (32 << 10);
		bench_alloc(rt, size, KIND_LEAF);
		allocated += size;
		if (n % 64 == 0) /* one live object replaced per 64 allocations */
			bench_roots[bench_rand() % nlive] = bench_alloc(rt, 64 << 10, KIND_LEAF);
		if (n % 256 == 0) {
			MemStats m;
			readMemStats(rt, &m);
			if (m.MappedReady > peakReady)
				peakReady = m.MappedReady;
			uint64_t rss = bench_rss() - rss0;
			if (rss > peakRSS)
				peakRSS = rss;
		}
	}
	double secs = bench_now() - t0;
	MemStats m;
	readMemStats(rt, &m);
	printf("limit: live 100 MiB, limit %.0f MiB, GOGC off, %zu MiB garbage in %.2f s\n",
	       mb((uint64_t)limit), garbageMiB, secs);
	printf("  peak mappedReady %.1f MiB (%+.1f %% of limit)\n", mb(peakReady),
	       100.0 * ((double)peakReady / (double)limit - 1));
	printf("  peak RSS growth  %.1f MiB (%+.1f %% of limit)\n", mb(peakRSS),
	       100.0 * ((double)peakRSS / (double)limit - 1));
	printf("  %u cycles, GC CPU %.1f %%, pause total %.1f ms\n", m.NumGC,
	       100 * m.GCCPUFraction, (double)m.PauseTotalNs / 1e6);
	runtimeDestroy(rt);
	return 0;
}
