/*
 * debuglog.c — the runtime's debug log (Go's debuglog.go, reduced to one
 * ring per runtime and text records).
 *
 * Each record is "<ns> <text>\n" appended to a ring buffer; the oldest
 * records are overwritten. The buffer is mapped with sysAllocOS and freed
 * with sysFreeOS: debugging memory is deliberately left out of every
 * statistic so enabling the log cannot change pacing (exception 3).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem/debuglog.h"
#include "mem/runtime.h"

/* Runtimes whose log is live, so a fatal error can print them all (mthrow
 * has no runtime at hand). VMs may live on different threads, so the list
 * is guarded; each log itself belongs to its runtime's thread. */
#define maxDlogRuntimes 16
static runtime *dlogRuntimes[maxDlogRuntimes];
static pthread_mutex_t dlogRuntimesLock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t dlog_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dlogf(runtime *rt, const char *fmt, ...)
{
	if (!rt->debug.dlog)
		return;
	if (rt->dlog == NULL) {
		rt->dlog = sysAllocOS(sizeof(dlogger));
		if (rt->dlog == NULL)
			return; /* a debugging aid must never fail the runtime */
		pthread_mutex_lock(&dlogRuntimesLock);
		for (int i = 0; i < maxDlogRuntimes; i++) {
			if (dlogRuntimes[i] == NULL) {
				dlogRuntimes[i] = rt;
				break;
			}
		}
		pthread_mutex_unlock(&dlogRuntimesLock);
	}
	dlogger *l = rt->dlog;
	/* Format on the stack first: a record is copied into the ring whole,
	 * wrapping byte by byte at the end of the buffer. */
	char rec[256];
	int n = snprintf(rec, sizeof rec, "[%llu] ", (unsigned long long)dlog_nanotime());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(rec + n, sizeof rec - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* An encoding error loses the record; count it like Go's lost. */
	if (m < 0) {
		l->lost++;
		return;
	}
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof rec - 2)
		len = sizeof rec - 2; /* truncated record */
	rec[len++] = '\n';
	for (size_t i = 0; i < len; i++)
		l->buf[(l->write + i) % debugLogBytes] = rec[i];
	l->write += len;
}

void dlog_dump(runtime *rt)
{
	dlogger *l = rt->dlog;
	if (l == NULL)
		return;
	/* Only the last debugLogBytes bytes survive. */
	uint64_t start = l->write > debugLogBytes ? l->write - debugLogBytes : 0;
	/* After a wrap the first record is partial: skip to the next line. */
	if (start > 0)
		while (start < l->write && l->buf[start % debugLogBytes] != '\n')
			start++;
	if (start > 0 && start < l->write)
		start++;
	static const char hdr[] = ">> begin debug log\n";
	static const char ftr[] = ">> end debug log\n";
	if (write(2, hdr, sizeof hdr - 1) < 0)
		return;
	/* write(2) directly: this also runs on the way to abort(). */
	while (start < l->write) {
		uintptr_t pos = start % debugLogBytes;
		uintptr_t n = debugLogBytes - pos;
		if (n > l->write - start)
			n = l->write - start;
		if (write(2, l->buf + pos, n) < 0)
			return;
		start += n;
	}
	if (write(2, ftr, sizeof ftr - 1) < 0)
		return;
}

void dlog_dumpAll(void)
{
	/* Called on the way to abort: never wait for the lock. */
	bool locked = pthread_mutex_trylock(&dlogRuntimesLock) == 0;
	for (int i = 0; i < maxDlogRuntimes; i++)
		if (dlogRuntimes[i] != NULL)
			dlog_dump(dlogRuntimes[i]);
	if (locked)
		pthread_mutex_unlock(&dlogRuntimesLock);
}

void dlog_release(runtime *rt)
{
	pthread_mutex_lock(&dlogRuntimesLock);
	for (int i = 0; i < maxDlogRuntimes; i++)
		if (dlogRuntimes[i] == rt)
			dlogRuntimes[i] = NULL;
	pthread_mutex_unlock(&dlogRuntimesLock);
	if (rt->dlog != NULL)
		sysFreeOS(rt->dlog, sizeof(dlogger));
	rt->dlog = NULL;
}
