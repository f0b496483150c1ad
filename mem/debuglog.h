/*
 * debuglog.h — a per-runtime ring buffer of short trace records (Go's
 * debuglog.go), for debugging the runtime itself. Enabled with
 * GALEDEBUG=dlog=1; records are printed to stderr by dlog_dump, which the
 * runtime's release calls, and by every fatal error (mthrow). The buffer comes from sysAllocOS: a debugging
 * aid must not move the statistics it helps to debug (exception 3).
 */
#ifndef GALE_DEBUGLOG_H
#define GALE_DEBUGLOG_H

#include <stdint.h>

#include "mem/mem.h"

#define debugLogBytes ((uintptr_t)16 << 10)

typedef struct dlogger {
	uint64_t write;  /* total bytes ever written; write % size is the position */
	uint64_t lost;   /* records dropped because they were bigger than the ring */
	char buf[debugLogBytes];
} dlogger;

/* Append one formatted record (a no-op unless dlog is enabled). */
void dlogf(runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the surviving records, oldest first, to stderr. */
void dlog_dump(runtime *rt);
/* Print every live log; called by mthrow before aborting. */
void dlog_dumpAll(void);
/* Unmap the buffer (runtime release). */
void dlog_release(runtime *rt);

#endif
