/*
 * fuzz_vm.c — any bytes compiled and run by a fresh VM with a small heap
 * cap (max_heap), a step budget (loop back-edges and calls) and a time
 * budget: a watchdog thread interrupts a script that runs longer than
 * 200 ms with gale_interrupt, which raises the catchable "interrupted" at
 * the next backward jump or call; an uncaught error simply ends the run. Only the core built-ins and the math and
 * runtime modules are opened: os, io and ffi reach the file system, the
 * process and raw memory, which a fuzzer must not drive.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gale.h"
#include "stdlib/stdlib.h"

#define BUDGET_NS (200 * 1000 * 1000L) /* per input, then interrupt */

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static GaleVM *watch_vm;      /* the VM running now, or NULL */
static struct timespec watch_start;

static int64_t elapsed_ns(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

/* Interrupts (repeatedly, in case a script catches "interrupted") whatever
 * VM has run past the budget. Holding the mutex keeps the VM from being
 * freed under the call. */
static void *watchdog(void *arg)
{
	(void)arg;
	struct timespec tick = {0, 10 * 1000 * 1000};
	for (;;) {
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&watch_mu);
		if (watch_vm != NULL && elapsed_ns(&watch_start) > BUDGET_NS)
			gale_interrupt(watch_vm);
		pthread_mutex_unlock(&watch_mu);
	}
	return NULL;
}

static void discard(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm, (void)text, (void)len, (void)user;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	pthread_t t;
	pthread_create(&t, NULL, watchdog, NULL);
	pthread_detach(t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = discard;
	cfg.error = discard;
	cfg.max_heap = 16 << 20;
	cfg.max_call_depth = 20000;
	/* the step budget makes most runs end deterministically; the watchdog
	 * stays for time spent inside natives (a sort, a big string) */
	cfg.step_budget = 200000;
	GaleVM *vm = gale_new(&cfg);
	if (vm == NULL)
		return 0;
	stdlib_open_math(vm);
	stdlib_open_runtime(vm);

	pthread_mutex_lock(&watch_mu);
	clock_gettime(CLOCK_MONOTONIC, &watch_start);
	watch_vm = vm;
	pthread_mutex_unlock(&watch_mu);

	gale_eval(vm, (const char *)data, size, "fuzz.gale");

	pthread_mutex_lock(&watch_mu);
	watch_vm = NULL;
	pthread_mutex_unlock(&watch_mu);
	gale_free(vm);
	return 0;
}
