/*
 * test_lifecycle.c — configuration defaults, creating and freeing VMs,
 * evaluating strings and files, error reports, memory statistics and the
 * collector controls of the public API.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "api_helpers.h"

Test(config, defaults_are_documented_values)
{
	GaleConfig cfg;
	memset(&cfg, 0x5a, sizeof cfg);
	gale_config_init(&cfg);
	cr_expect_eq(cfg.gc_percent, 100);
	cr_expect_eq(cfg.memory_limit, INT64_MAX);
	cr_expect_eq(cfg.max_heap, 0);
	cr_expect_null(cfg.debug);
	cr_expect_eq(cfg.max_call_depth, 200000);
	cr_expect_null(cfg.write);
	cr_expect_null(cfg.error);
	cr_expect_null(cfg.load_module);
	cr_expect_null(cfg.user_data);
	cr_expect_eq(cfg.step_budget, 0);
}

Test(lifecycle, new_with_null_config_runs_code)
{
	GaleVM *vm = gale_new(NULL);
	cr_assert_not_null(vm);
	cr_expect_eq(eval_str(vm, "let x = 1 + 2"), GALE_OK);
	cr_expect_str_eq(gale_error_message(vm), "");
	gale_free(vm);
	gale_free(NULL); /* documented as harmless */
}

Test(lifecycle, output_goes_to_the_write_callback)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert_not_null(vm);
	cr_assert_eq(eval_str(vm, "print(\"hi\", 1 + 1)"), GALE_OK);
	cr_expect_str_eq(c.out, "hi 2\n");
	cr_expect_eq(c.err_len, 0);
	cr_expect_eq(gale_user_data(vm), &c);
	gale_free(vm);
}

Test(lifecycle, compile_error_is_reported_with_place)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "let = 3"), GALE_COMPILE_ERROR);
	const char *msg = gale_error_message(vm);
	cr_expect(strstr(msg, "test:1") != NULL, "message: %s", msg);
	cr_expect_str_eq(c.err, msg);
	/* still usable */
	cr_expect_eq(eval_str(vm, "print(5)"), GALE_OK);
	cr_expect_str_eq(gale_error_message(vm), "");
	gale_free(vm);
}

Test(lifecycle, runtime_error_seen_by_host_with_trace)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	const char *src = "fn inner() { throw error(\"boom\") }\n"
	                  "fn outer() { inner() }\n"
	                  "outer()\n";
	cr_assert_eq(eval_str(vm, src), GALE_RUNTIME_ERROR);
	const char *msg = gale_error_message(vm);
	cr_expect(strstr(msg, "test:1: boom") != NULL, "message: %s", msg);
	cr_expect(strstr(msg, "  at ") != NULL, "no trace in: %s", msg);
	cr_expect(strstr(msg, "outer") != NULL, "trace lacks outer: %s", msg);
	cr_expect_str_eq(c.err, msg);
	gale_free(vm);
}

Test(lifecycle, eval_file_and_missing_file)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	char path[] = "/tmp/gale_api_XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	const char *src = "print(\"from file\")\n";
	cr_assert_eq(write(fd, src, strlen(src)), (ssize_t)strlen(src));
	close(fd);
	cr_expect_eq(gale_eval_file(vm, path), GALE_OK);
	cr_expect_str_eq(c.out, "from file\n");
	unlink(path);
	cr_expect_eq(gale_eval_file(vm, path), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "cannot open file") != NULL);
	gale_free(vm);
}

static const char *modules_src = "fn twice(x) { return x * 2 }";

static const char *load_module(GaleVM *vm, const char *name, void *user)
{
	(void)vm;
	int *calls = (int *)((Capture *)user + 1);
	(*calls)++;
	return strcmp(name, "hostmod") == 0 ? modules_src : NULL;
}

Test(lifecycle, module_loader_hook_resolves_imports)
{
	struct {
		Capture c;
		int calls;
	} s = {.calls = 0};
	capture_reset(&s.c);
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = capture_write;
	cfg.error = capture_error;
	cfg.user_data = &s.c;
	cfg.load_module = load_module;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	cr_expect_eq(eval_str(vm, "import \"hostmod\" as m\nprint(m.twice(21))"), GALE_OK, "%s", s.c.err);
	cr_expect_str_eq(s.c.out, "42\n");
	cr_expect_eq(s.calls, 1);
	cr_expect_eq(eval_str(vm, "import \"nosuch\""), GALE_RUNTIME_ERROR);
	gale_free(vm);
}

Test(memory, memstats_track_allocation_and_collections)
{
	GaleVM *vm = gale_new(NULL);
	GaleMemStats before, after;
	gale_memstats(vm, &before);
	cr_expect_eq(before.GCPercent, 100);
	cr_expect_eq(before.MemoryLimit, INT64_MAX);
	cr_assert_eq(eval_str(vm, "let xs = []\nfor i in range(0, 10000) { xs.push(\"s${i}\") }"), GALE_OK);
	gale_gc(vm);
	gale_memstats(vm, &after);
	cr_expect_gt(after.TotalAlloc, before.TotalAlloc);
	cr_expect_gt(after.Mallocs, before.Mallocs + 10000);
	cr_expect_gt(after.NumGC, before.NumGC);
	cr_expect_gt(after.NumForcedGC, before.NumForcedGC);
	cr_expect_geq(after.HeapSys, after.HeapInuse);
	cr_expect_gt(after.HeapAlloc, 10000 * 16);
	gale_free(vm);
}

Test(memory, gc_percent_and_memory_limit_round_trip)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.gc_percent = 50;
	cfg.memory_limit = 64 << 20;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	GaleMemStats m;
	gale_memstats(vm, &m);
	cr_expect_eq(m.GCPercent, 50);
	cr_expect_eq(m.MemoryLimit, 64 << 20);
	cr_expect_eq(gale_set_gc_percent(vm, 300), 50);
	cr_expect_eq(gale_set_gc_percent(vm, -5), 300);
	gale_memstats(vm, &m);
	cr_expect_eq(m.GCPercent, -1);
	cr_expect_eq(gale_set_memory_limit(vm, 32 << 20), 64 << 20);
	cr_expect_eq(gale_set_memory_limit(vm, -1), 32 << 20); /* read only */
	gale_memstats(vm, &m);
	cr_expect_eq(m.MemoryLimit, 32 << 20);
	gale_free(vm);
}

Test(memory, max_heap_raises_out_of_memory_and_vm_recovers)
{
	Capture c;
	capture_reset(&c);
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.max_heap = 4 << 20;
	cfg.write = capture_write;
	cfg.error = capture_error;
	cfg.user_data = &c;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	cr_expect_eq(eval_str(vm, "let xs = []\nwhile true { xs.push([1, 2, 3, 4]) }"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "out of memory") != NULL, "%s", gale_error_message(vm));
	cr_expect_eq(eval_str(vm, "xs = nil"), GALE_OK, "%s", gale_error_message(vm));
	capture_reset(&c);
	cr_expect_eq(eval_str(vm, "print(\"fine\")"), GALE_OK);
	cr_expect_str_eq(c.out, "fine\n");
	gale_free(vm);
}

/* A heap cap below what the VM itself needs: gale_new either fails cleanly
 * or gives a VM whose allocations fail with "out of memory". */
Test(memory, tiny_max_heap_never_crashes)
{
	int64_t caps[] = {1, 4096, 64 << 10, 128 << 10, 256 << 10};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		Capture c;
		capture_reset(&c);
		GaleConfig cfg;
		gale_config_init(&cfg);
		cfg.max_heap = caps[i];
		cfg.write = capture_write;
		cfg.error = capture_error;
		cfg.user_data = &c;
		GaleVM *vm = gale_new(&cfg);
		if (vm == NULL)
			continue;
		GaleResult r = eval_str(vm, "print(1)");
		if (r != GALE_OK)
			cr_expect(strstr(gale_error_message(vm), "out of memory") != NULL, "%s", gale_error_message(vm));
		gale_free(vm);
	}
}

Test(memory, free_os_memory_releases_pages)
{
	GaleVM *vm = gale_new(NULL);
	cr_assert_eq(eval_str(vm, "let xs = []\nfor i in range(0, 50000) { xs.push([i]) }\nxs = nil"), GALE_OK);
	gale_free_os_memory(vm);
	GaleMemStats m;
	gale_memstats(vm, &m);
	cr_expect_gt(m.HeapReleased, 0);
	gale_free(vm);
}

Test(lifecycle, same_name_continues_the_module)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	const char *define = "let count = 1\nfn bump() { count += 1\n return count }";
	const char *use = "bump()\nprint(bump())";
	cr_assert_eq(gale_eval(vm, define, strlen(define), "app"), GALE_OK, "%s", c.err);
	cr_assert_eq(gale_eval(vm, use, strlen(use), "app"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "3\n");
	/* another name is another module: count is not defined there */
	cr_expect_eq(gale_eval(vm, "print(count)", 12, "other"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "undefined variable 'count'") != NULL, "%s", gale_error_message(vm));
	gale_free(vm);
}

Test(lifecycle, set_args_reach_os_args)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	gale_open_libs(vm);
	const char *args[] = {"script.gale", "one", "two"};
	cr_assert(gale_set_args(vm, 3, args));
	cr_assert_eq(eval_str(vm, "print(os.args)"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "[\"script.gale\", \"one\", \"two\"]\n");
	/* and again, after the os module exists */
	capture_reset(&c);
	cr_assert(gale_set_args(vm, 1, args + 2));
	cr_assert_eq(eval_str(vm, "print(os.args)"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "[\"two\"]\n");
	gale_free(vm);
}
