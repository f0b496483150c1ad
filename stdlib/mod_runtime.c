/*
 * mod_runtime.c — the runtime module: Go's runtime.ReadMemStats,
 * runtime/metrics, runtime.GC, debug.FreeOSMemory, debug.SetGCPercent and
 * debug.SetMemoryLimit, over the VM's own heap.
 */
#include "gc/gc.h"
#include "stdlib/stdlib.h"

/* uint64 statistics as ints: none comes near 2^63 in a real heap. */
static Value stat_int(uint64_t v)
{
	return INT_VAL(v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void rt_memstats(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	vm_memstats_map(vm, ret);
}

/* Go's runtime/metrics names; the table has well under this many. */
#define MAX_METRICS 64

static void rt_metrics(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	gcMetric samples[MAX_METRICS];
	int n = readMetrics(vm->rt, samples, MAX_METRICS);
	if (n > MAX_METRICS)
		n = MAX_METRICS;
	ObjMap *m = map_new(vm);
	vm_push_root(vm, OBJ_VAL(m));
	for (int i = 0; i < n; i++)
		stdlib_map_set(vm, m, samples[i].name, stat_int(samples[i].value));
	vm_pop_root(vm);
	*ret = OBJ_VAL(m);
}

static void rt_gc(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	(void)ret;
	gale_gc(vm);
}

static void rt_free_os_memory(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	(void)ret;
	gale_free_os_memory(vm);
}

static void rt_set_gc_percent(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	int64_t percent = native_int(vm, args, 0, "runtime.setGCPercent");
	/* Any negative value means off, as debug.SetGCPercent treats it. */
	*ret = INT_VAL(gale_set_gc_percent(vm, percent < 0 ? -1 : percent));
}

/* setMemoryLimit(bytes) or setMemoryLimit("512MiB"); a negative limit only
 * reads the current one. */
static void rt_set_memory_limit(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	int64_t limit;
	if (IS_STRING(args[0])) {
		if (!gale_parse_size(AS_CSTRING(args[0]), &limit))
			vm_error(vm, "runtime.setMemoryLimit: malformed size '%s' (e.g. 512MiB, 1.5GiB)",
			         AS_CSTRING(args[0]));
	} else {
		limit = native_int(vm, args, 0, "runtime.setMemoryLimit");
	}
	*ret = INT_VAL(gale_set_memory_limit(vm, limit));
}

static const vm_reg runtime_funcs[] = {
	{"memstats", rt_memstats, 0, "memstats(): Go's MemStats fields as a map"},
	{"metrics", rt_metrics, 0, "metrics(): Go's runtime/metrics samples by name"},
	{"gc", rt_gc, 0, "gc(): run a full collection now"},
	{"freeOSMemory", rt_free_os_memory, 0, "freeOSMemory(): collect, then return free pages to the OS"},
	{"setGCPercent", rt_set_gc_percent, 1, "setGCPercent(n): set GOGC (-1 = off); returns the old value"},
	{"setMemoryLimit", rt_set_memory_limit, 1,
	 "setMemoryLimit(bytes): soft limit (-1 only reads); returns the old value"},
	{NULL, NULL, 0, NULL},
};

void stdlib_open_runtime(GaleVM *vm)
{
	vm_define_module(vm, "runtime", runtime_funcs);
}
