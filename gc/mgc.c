/*
 * mgc.c — the collection cycle and the collector's API (Go's mgc.go).
 *
 * One cycle is one pause: the world is the single VM thread, which is inside
 * mallocgc (or GC) when a cycle starts, so there are no write barriers, no
 * assists and no background workers. See mgc.h for the phase order.
 *
 * Pacing: after every cycle and every GOGC/limit change, gcControllerCommit
 * stores the trigger in gcController.trigger; mallocgc calls gcHook.collect
 * once heapLive reaches it. The GC CPU limiter may defer a cycle that only
 * the memory limit asks for, so a live heap above the limit slows the
 * program down by at most about half instead of collecting back to back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "gc/mgc.h"
#include "gc/mgcpacer.h"
#include "mem/debuglog.h"
#include "mem/malloc.h"
#include "mem/mcache.h"
#include "mem/mgcscavenge.h"
#include "mem/mheap.h"
#include "mem/mstats.h"

int64_t nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t walltime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gcConfigInit(gcConfig *cfg)
{
	cfg->gcPercent = 100;
	cfg->memoryLimit = INT64_MAX;
	cfg->maxHeap = 0;
	cfg->debug = NULL;
}

/* ---- pacing ---- */

void gcControllerCommit(runtime *rt)
{
	gcControllerState *c = &rt->gcController;
	/* Sweeping finishes inside every pause, so outside one it is done. */
	gcControllerState_commit(c, true);
	uint64_t goal;
	c->trigger = gcControllerState_trigger(c, &goal);
	gcPaceScavenger(rt, c->memoryLimit, goal, c->lastHeapGoal);
}

static uint64_t hookHeapGoal(runtime *rt)
{
	return gcControllerState_heapGoal(&rt->gcController);
}

/*
 * Should this heap-triggered cycle wait? Only cycles the memory limit asks
 * for (its goal below the GOGC goal, heapLive still under the GOGC goal) are
 * deferred, and only while the limiter is full or the last pause would not
 * fit in the bucket: running now would push GC CPU past ~50 %. The trigger
 * is then raised by what the mutator should allocate while it earns that
 * room, so mallocgc does not call back at every allocation.
 */
static bool limiterDefers(runtime *rt, gcState *st, int64_t now)
{
	gcControllerState *c = &rt->gcController;
	gcCPULimiterState *l = &st->limiter;
	/* The time since the last pause was mutator time. */
	gcCPULimiter_update(l, now, rt->memstats.numgc);
	if (gcControllerState_memoryLimitHeapGoal(c) >= c->gcPercentHeapGoal)
		return false;
	if (c->heapLive >= c->gcPercentHeapGoal)
		return false;
	/* The next pause is assumed to cost what the last one did. */
	uint64_t pause = (uint64_t)(st->lastPause > 0 ? st->lastPause : 0);
	if (!gcCPULimiter_limiting(l) && l->bucket.fill + pause <= l->bucket.capacity)
		return false;

	/* Mutator time still needed before a pause fits, and the allocation
	 * rate since the last cycle, give the distance to the next check. */
	uint64_t need = l->bucket.fill + pause > l->bucket.capacity
	                        ? l->bucket.fill + pause - l->bucket.capacity
	                        : pause;
	double elapsed = (double)(now > st->lastGCEnd ? now - st->lastGCEnd : 1);
	uint64_t grown = c->heapLive > c->heapMarked ? c->heapLive - c->heapMarked : 0;
	double rate = (double)grown / elapsed;
	double step = rate * (double)need;
	const double minStep = 64 << 10;
	if (step < minStep)
		step = minStep;
	uint64_t trigger = step >= 1e18 ? c->gcPercentHeapGoal : c->heapLive + (uint64_t)step;
	if (trigger > c->gcPercentHeapGoal)
		trigger = c->gcPercentHeapGoal;
	c->trigger = trigger;
	st->limiterDeferred++;
	dlogf(rt, "gc: limiter defers cycle, trigger %" PRIu64, trigger);
	return true;
}

static void hookCollect(runtime *rt, int why)
{
	gcState *st = gcstateOf(rt);
	/* mallocgc sets rt->gcRunning around this call; st->running is the
	 * collector's own guard against nested cycles. */
	if (st == NULL || st->running || !rt->memstats.enablegc)
		return;
	if (why == GC_TRIGGER_HEAP && limiterDefers(rt, st, nanotime()))
		return;
	gcStart(rt, why, false);
}

/* ---- tracing ---- */

/* Go's fmtNSAsMS: whole milliseconds from 10 ms, else two significant
 * digits with at most three decimals. */
static void fmtNSAsMS(char *buf, size_t n, uint64_t ns)
{
	if (ns >= 10000000) {
		snprintf(buf, n, "%" PRIu64, ns / 1000000);
		return;
	}
	uint64_t x = ns / 1000;
	if (x == 0) {
		snprintf(buf, n, "0");
		return;
	}
	int dec = 3;
	while (x >= 100) {
		x /= 10;
		dec--;
	}
	uint64_t p = dec == 3 ? 1000 : dec == 2 ? 100 : dec == 1 ? 10 : 1;
	if (dec == 0)
		snprintf(buf, n, "%" PRIu64, x);
	else
		snprintf(buf, n, "%" PRIu64 ".%0*" PRIu64, x / p, dec, x % p);
}

/* gc N @T s U%: a+b+c ms clock, d+e/f/g+h ms cpu, H0->H1->H2 MB, G MB goal,
 * S MB stacks, L MB globals, P P [(forced)] — digest §7.7, field for field.
 * Sweep termination (a) is the mcache flush; the mark (b) runs in the pause,
 * so its CPU is reported as background mark time (f); assists (e) and idle
 * marking (g) do not exist; mark termination (c) includes the sweep. */
static void printGCTrace(runtime *rt, gcState *st)
{
	gcControllerState *c = &rt->gcController;
	char a[32], b[32], cc[32], d[32], f[32], h[32];
	uint64_t sweepTerm = (uint64_t)(st->tMark - st->tSweepTerm);
	uint64_t mark = (uint64_t)(st->tMarkTerm - st->tMark);
	uint64_t markTerm = (uint64_t)(st->tEnd - st->tMarkTerm);
	fmtNSAsMS(a, sizeof a, sweepTerm);
	fmtNSAsMS(b, sizeof b, mark);
	fmtNSAsMS(cc, sizeof cc, markTerm);
	fmtNSAsMS(d, sizeof d, sweepTerm);
	fmtNSAsMS(f, sizeof f, mark);
	fmtNSAsMS(h, sizeof h, markTerm);
	uint64_t since = (uint64_t)(st->tSweepTerm - st->runtimeInitTime) / 1000000;
	fprintf(stderr,
	        "gc %" PRIu32 " @%" PRIu64 ".%03" PRIu64 "s %d%%: %s+%s+%s ms clock, "
	        "%s+0/%s/0+%s ms cpu, %" PRIu64 "->%" PRIu64 "->%" PRIu64 " MB, "
	        "%" PRIu64 " MB goal, %" PRIu64 " MB stacks, %" PRIu64 " MB globals, 1 P%s\n",
	        rt->memstats.numgc, since / 1000, since % 1000,
	        (int)(rt->memstats.gc_cpu_fraction * 100), a, b, cc, d, f, h, st->heap0 >> 20,
	        st->heap1 >> 20, st->heap2 >> 20, c->lastHeapGoal >> 20, c->maxStackScan >> 20,
	        c->globalsScan >> 20, st->userForced ? " (forced)" : "");
}

static void printPacerTrace(runtime *rt, gcState *st)
{
	gcControllerState *c = &rt->gcController;
	uint64_t limitGoal = gcControllerState_memoryLimitHeapGoal(c);
	fprintf(stderr,
	        "pacer: gc %" PRIu32 " gcPercentHeapGoal=%" PRIu64 " memoryLimitHeapGoal=%" PRIu64
	        " heapGoal=%" PRIu64 " trigger=%" PRIu64 " heapMarked=%" PRIu64 " heapLive=%" PRIu64
	        " mappedReady=%" PRIu64 " memoryLimit=%" PRId64 " GOGC=%" PRId64
	        " limiter=%s deferred=%" PRIu64 "\n",
	        rt->memstats.numgc, c->gcPercentHeapGoal, limitGoal,
	        gcControllerState_heapGoal(c), c->trigger, c->heapMarked, c->heapLive,
	        c->mappedReady, c->memoryLimit, c->gcPercent,
	        gcCPULimiter_limiting(&st->limiter) ? "on" : "off", st->limiterDeferred);
}

/* ---- the cycle ---- */

void gcStart(runtime *rt, int why, bool forced)
{
	gcState *st = gcstateOf(rt);
	gcControllerState *c = &rt->gcController;
	if (st == NULL || st->running)
		return;
	/* rt->gcRunning keeps mallocgc (e.g. from a finalizer) from collecting. */
	st->running = true;
	bool wasRunning = rt->gcRunning;
	rt->gcRunning = true;
	dlogf(rt, "gc: start %" PRIu32 " why=%d", rt->memstats.numgc + 1, why);

	/* Go's finishsweep_m wakes the scavenger; here it gets its turn before
	 * the pause (it paces itself: at most its share of wall time). */
	scavengerPoll(rt);

	/* Sweep termination: the world stops; the limiter charges what ran
	 * before as mutator time. */
	int64_t t0 = nanotime();
	st->tSweepTerm = t0;
	st->userForced = forced;
	gcCPULimiter_startGCTransition(&st->limiter, true, t0, rt->memstats.numgc);
	/* Cached spans go back to mcentral: allocCount is exact, every in-use
	 * span is on a list the sweeper will walk, and heapLive drops the
	 * unused part of each cached span. */
	mcache_releaseAll(rt, rt->mcache0);
	st->heap0 = c->heapLive;
	gcControllerState_startCycle(c);
	st->bytesMarked = 0;
	st->heapScanWork = 0;

	/* Mark: roots, then everything reachable; then what finalizers need. */
	st->tMark = nanotime();
	st->phase = _GCmark;
	gcMarkRoots(rt);
	gcDrain(rt);
	gcMarkFinalizerReferents(rt);
	gcDrain(rt);

	/* Mark termination. */
	st->phase = _GCmarktermination;
	st->tMarkTerm = nanotime();
	st->heap1 = c->heapLive;
	st->heap2 = st->bytesMarked;
	/* Weak tables drop what died, while gcIsMarked still answers. */
	if (st->weakFn != NULL)
		st->weakFn(rt, st->weakCtx);
	gcControllerState_endCycle(c);
	/* A hook that broke the rule and allocated left a cached span: put it
	 * back so the sweep sees every in-use span. */
	mcache_releaseAll(rt, rt->mcache0);
	gcSweep(rt);
	gcWork_dispose(rt, &st->wbuf);
	/* The VM's stacks are scanned as roots: they count as stack scan work. */
	uint64_t stackScan = (uint64_t)rt->memstats.heapStats.inStacks;
	c->maxStackScan = stackScan;
	gcControllerState_resetLive(c, st->bytesMarked, st->heapScanWork, stackScan);
	rt->memstats.lastHeapInUse = sysMemStat_load(&c->heapInUse);
	gcControllerCommit(rt);
	st->phase = _GCoff;

	/* The world restarts: pause bookkeeping (Go's gcMarkTermination). */
	int64_t t1 = nanotime();
	st->tEnd = t1;
	/* pause_ns is a ring indexed by the cycle number before the increment. */
	int64_t pause = t1 - t0;
	uint64_t unixNow = walltime();
	mstats *ms = &rt->memstats;
	ms->pause_ns[ms->numgc % 256] = (uint64_t)pause;
	ms->pause_end[ms->numgc % 256] = unixNow;
	ms->pause_total_ns += (uint64_t)pause;
	ms->last_gc_unix = unixNow;
	ms->last_gc_nanotime = (uint64_t)t1;
	st->totalGCTime += pause;
	st->lastPause = pause;
	st->lastGCEnd = t1;
	if (t1 > st->runtimeInitTime)
		ms->gc_cpu_fraction = (double)st->totalGCTime / (double)(t1 - st->runtimeInitTime);
	/* The whole pause was GC time on the one proc; then the GC is off. */
	gcCPULimiter_finishGCTransition(&st->limiter, t1, ms->numgc);
	gcCPULimiter_startGCTransition(&st->limiter, false, t1, ms->numgc);
	gcCPULimiter_finishGCTransition(&st->limiter, t1, ms->numgc);
	ms->numgc++;
	if (forced)
		ms->numforcedgc++;

	/* Stress mode also checks the MemStats invariants after every cycle
	 * (the mcache is empty here, so this costs a few hundred adds). */
	if (rt->debug.gcstress > 0)
		readmemstats_check(rt);
	if (rt->debug.gctrace > 0)
		printGCTrace(rt, st);
	if (rt->debug.gcpacertrace > 0)
		printPacerTrace(rt, st);
	dlogf(rt, "gc: end %" PRIu32 " marked=%" PRIu64 " pause=%" PRId64 "ns", ms->numgc,
	      st->bytesMarked, pause);

	/* Sweep completion: Go's scavenger.ready. gcControllerCommit paced the
	 * scavenger; if a goal is unmet it starts now and allocation slow paths
	 * keep polling it between cycles. */
	scavengerReady(rt);
	scavengerPoll(rt);

	/* Finalizers run after the pause, still without nested cycles. */
	runFinalizers(rt);
	rt->gcRunning = wasRunning;
	st->running = false;
}

/* ---- API ---- */

runtime *runtimeCreate(const gcConfig *cfg)
{
	gcConfig def;
	if (cfg == NULL) {
		gcConfigInit(&def);
		cfg = &def;
	}
	/* The heap, its statistics and GALEDEBUG parsing come from mem/. */
	runtime *rt = mallocinit(cfg->debug);
	if (rt == NULL)
		return NULL;
	/* Collector state is permanent metadata of this runtime (GCSys). */
	gcState *st = persistentalloc(rt, sizeof(gcState), 0, &rt->memstats.gcMiscSys);
	if (st == NULL) {
		runtimeRelease(rt);
		return NULL;
	}
	int64_t now = nanotime();
	st->runtimeInitTime = now;
	st->lastGCEnd = now;
	gcCPULimiter_init(&st->limiter, now, 1);
	rt->gcstate = st;

	/* Pacer inputs; a negative limit in the config means none. */
	rt->maxHeap = cfg->maxHeap > 0 ? cfg->maxHeap : 0;
	gcControllerState_init(&rt->gcController, cfg->gcPercent,
	                       cfg->memoryLimit >= 0 ? cfg->memoryLimit : INT64_MAX);
	/* From here on mallocgc may start cycles. */
	rt->gcHook.collect = hookCollect;
	rt->gcHook.heapGoal = hookHeapGoal;
	rt->memstats.enablegc = 1;
	gcControllerCommit(rt);
	return rt;
}

/* Runs the finalizer of every object that still has one (in any order). */
static void finalizeAll(runtime *rt, gcState *st)
{
	mheap *h = &rt->mheap_;
	for (uintptr_t i = 0; i < h->allspansLen; i++) {
		mspan *s = h->allspans[i];
		while (s->state == mSpanInUse && s->specials != NULL) {
			special *sp = s->specials;
			uintptr_t idx = sp->offset / s->elemsize;
			void *obj = (void *)(s->startAddr + idx * s->elemsize);
			special *got = removespecial(rt, obj, sp->kind);
			if (got == NULL)
				break; /* inconsistent list: do not loop forever */
			freeSpecial(rt, got);
			if (sp->kind != _KindSpecialFinalizer)
				continue;
			uint8_t kind = gcObjectKind(obj);
			if (kind < GC_MAX_KINDS && st->kinds[kind].finalize != NULL)
				st->kinds[kind].finalize(rt, obj);
		}
	}
}

void runtimeDestroy(runtime *rt)
{
	if (rt == NULL)
		return;
	gcState *st = gcstateOf(rt);
	if (st != NULL) {
		/* No cycle may start while objects are being finalized for good. */
		st->running = true;
		rt->gcRunning = true;
		runFinalizers(rt);
		finalizeAll(rt, st);
	}
	runtimeRelease(rt);
}

void GC(runtime *rt)
{
	gcStart(rt, 0, true);
}

void gcIdlePoll(runtime *rt)
{
	scavengerPoll(rt);
}

void freeOSMemory(runtime *rt)
{
	GC(rt);
	scavengeAll(rt);
}

int64_t setGCPercent(runtime *rt, int64_t percent)
{
	/* The new goal applies at once: the trigger moves with it. */
	int64_t out = gcControllerState_setGCPercent(&rt->gcController, percent);
	gcControllerCommit(rt);
	return out;
}

int64_t setMemoryLimit(runtime *rt, int64_t limit)
{
	/* Re-committing also re-paces the scavenger for the new limit. */
	int64_t out = gcControllerState_setMemoryLimit(&rt->gcController, limit);
	gcControllerCommit(rt);
	return out;
}

void gcRegisterKind(runtime *rt, uint8_t kind, const gcKind *k)
{
	gcState *st = gcstateOf(rt);
	if (kind >= GC_MAX_KINDS || k == NULL)
		return;
	st->kinds[kind] = *k;
	st->kindRegistered[kind] = true;
	/* No trace function: the kind's objects go to noscan spans. */
	rt->kindNoscan[kind] = k->trace == NULL;
}

bool gcAddRoots(runtime *rt, gcRootFn fn, void *ctx)
{
	gcState *st = gcstateOf(rt);
	if (fn == NULL)
		return false;
	/* Records are permanent metadata, recycled through freeRoots. */
	gcRoot *r = st->freeRoots;
	if (r != NULL) {
		st->freeRoots = r->next;
	} else {
		r = persistentalloc(rt, sizeof(gcRoot), 0, &rt->memstats.gcMiscSys);
		if (r == NULL)
			return false;
	}
	*r = (gcRoot){.next = NULL, .fn = fn, .ctx = ctx};
	/* Append: roots are scanned in registration order. */
	gcRoot **pp = &st->roots;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = r;
	return true;
}

void gcRemoveRoots(runtime *rt, gcRootFn fn, void *ctx)
{
	gcState *st = gcstateOf(rt);
	for (gcRoot **pp = &st->roots; *pp != NULL; pp = &(*pp)->next) {
		gcRoot *r = *pp;
		if (r->fn == fn && r->ctx == ctx) {
			*pp = r->next;
			r->next = st->freeRoots;
			st->freeRoots = r;
			return;
		}
	}
}

void gcSetWeakHook(runtime *rt, gcRootFn fn, void *ctx)
{
	gcState *st = gcstateOf(rt);
	st->weakFn = fn;
	st->weakCtx = ctx;
}

bool gcSetFinalizer(runtime *rt, void *obj)
{
	if (obj == NULL)
		return false;
	/* Only the base of an allocated heap object can carry a finalizer. */
	uintptr_t p = (uintptr_t)obj;
	mspan *s = spanOfHeap(rt, p);
	if (s == NULL)
		return false;
	uintptr_t idx = mspan_objIndex(s, p);
	if (idx >= s->nelems || s->startAddr + idx * s->elemsize != p || mspan_isFree(s, idx))
		return false;
	/* Setting it twice keeps one record: the finalizer still runs once. */
	uint16_t off = (uint16_t)(p - s->startAddr);
	for (special *sp = s->specials; sp != NULL; sp = sp->next)
		if (sp->offset == off && sp->kind == _KindSpecialFinalizer)
			return true;
	return addfinalizer(rt, obj);
}

const debugVars *gcDebugFlags(runtime *rt)
{
	return &rt->debug;
}
