/*
 * host.c — a C program embedding Gale: it registers C functions, runs a
 * script, calls a script function back with arguments, keeps it in a
 * handle, stops a runaway script with the execution budget and prints the
 * VM's memory statistics.
 *
 *   cd examples/embed && make && ./host script.gale
 */
#include <gale.h>
#include <stdio.h>
#include <string.h>

/* host_greet(name): a string built in C. */
static void host_greet(GaleVM *vm, int argc)
{
	(void)argc;
	size_t len;
	const char *name = gale_arg_string(vm, 0, &len); /* raises unless a string */
	char buf[128];
	int n = snprintf(buf, sizeof buf, "hello, %.*s, from C", (int)len, name);
	gale_return_string(vm, buf, (size_t)n);
}

/* host_sum(list): the sum of a list of numbers, read through the stack. */
static void host_sum(GaleVM *vm, int argc)
{
	(void)argc;
	if (gale_arg_type(vm, 0) != GALE_TLIST)
		gale_raise(vm, "host_sum: expected a list");
	double total = 0;
	int64_t n = gale_len(vm, 0);
	for (int64_t i = 0; i < n; i++) {
		double x;
		if (!gale_list_get(vm, 0, i))
			gale_raise(vm, "host_sum: out of memory");
		if (!gale_to_float(vm, -1, &x))
			gale_raise(vm, "host_sum: item %lld is a %s, not a number", (long long)i,
			           gale_type_name(vm, -1));
		gale_pop(vm, 1);
		total += x;
	}
	gale_return_float(vm, total);
}

/* Error reports (compile errors, uncaught script errors) go here. */
static void report(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm;
	(void)user;
	fprintf(stderr, "host: script error: %.*s", (int)len, text);
}

static const GaleReg natives[] = {
	{"host_greet", host_greet, 1, "host_greet(name): a greeting made in C"},
	{"host_sum", host_sum, 1, "host_sum(list): the sum of the numbers in list"},
	{NULL, NULL, 0, NULL},
};

/* Calls the kept quote function with (item, qty) and prints the total. */
static void order(GaleVM *vm, GaleHandle quote, const char *item, int64_t qty)
{
	gale_push_handle(vm, quote);
	gale_push_string(vm, item, strlen(item));
	gale_push_int(vm, qty);
	if (gale_call(vm, 2) != GALE_OK) {
		/* the error value is on the stack; its report is the message */
		printf("order %s failed: %s", item, gale_error_message(vm));
		gale_pop(vm, 1);
		return;
	}
	int64_t total = 0;
	gale_push_string(vm, "total", 5);
	if (gale_map_get(vm, -2)) {
		gale_to_int(vm, -1, &total);
		gale_pop(vm, 1);
	}
	gale_pop(vm, 1); /* the map */
	printf("order %lld x %s = %lld\n", (long long)qty, item, (long long)total);
}

int main(int argc, char **argv)
{
	const char *script = argc > 1 ? argv[1] : "script.gale";

	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.max_heap = 64 << 20;      /* past 64 MiB, allocations raise "out of memory" */
	cfg.step_budget = 10 * 1000 * 1000; /* loop iterations and calls per entry */
	cfg.error = report;
	GaleVM *vm = gale_new(&cfg);
	if (vm == NULL) {
		fprintf(stderr, "host: cannot create the VM\n");
		return 1;
	}
	if (!gale_register_table(vm, natives)) {
		fprintf(stderr, "host: %s\n", gale_error_message(vm));
		gale_free(vm);
		return 1;
	}
	if (gale_eval_file(vm, script) != GALE_OK) {
		gale_free(vm);
		return 1;
	}

	/* Keep the script's function in a handle: it stays alive (and the same)
	 * whatever the script or the collector does, until released. */
	if (!gale_get_global(vm, "quote")) {
		fprintf(stderr, "host: the script defines no quote function\n");
		gale_free(vm);
		return 1;
	}
	GaleHandle quote = gale_keep(vm, -1);
	gale_pop(vm, 1);
	order(vm, quote, "apple", 4);
	order(vm, quote, "pear", 2);
	order(vm, quote, "plum", 1);
	gale_release(vm, quote);

	/* A runaway script is stopped by the budget; the VM stays usable. */
	gale_set_step_budget(vm, 100000);
	const char *spin = "while true { }";
	if (gale_eval(vm, spin, strlen(spin), "spin") != GALE_OK) {
		const char *msg = gale_error_message(vm); /* "spin:1: ...\n  at ...\n" */
		printf("stopped: %.*s\n", (int)strcspn(msg, "\n"), msg);
	}

	gale_gc(vm);
	GaleMemStats m;
	gale_memstats(vm, &m);
	printf("heap in use: %llu bytes in %llu objects after %u collections\n",
	       (unsigned long long)m.HeapAlloc, (unsigned long long)m.HeapObjects, m.NumGC);
	gale_free(vm);
	return 0;
}
