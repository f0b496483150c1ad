/*
 * test_budget_threads.c — the execution budget stopping runaway scripts,
 * and several VMs side by side, in one thread and in two.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

#include "api_helpers.h"

static GaleVM *budget_vm(Capture *c, uint64_t steps)
{
	capture_reset(c);
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = capture_write;
	cfg.error = capture_error;
	cfg.user_data = c;
	cfg.step_budget = steps;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	return vm;
}

static void expect_budget_error(GaleVM *vm)
{
	cr_expect(strstr(gale_error_message(vm), "execution budget exceeded") != NULL, "%s", gale_error_message(vm));
}

Test(budget, stops_an_infinite_loop_and_vm_stays_usable)
{
	Capture c;
	GaleVM *vm = budget_vm(&c, 100000);
	cr_expect_eq(eval_str(vm, "let n = 0\nwhile true { n += 1 }"), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	/* each entry from the host gets a fresh budget */
	capture_reset(&c);
	cr_expect_eq(eval_str(vm, "print(n > 90000 and n <= 100001)"), GALE_OK, "%s", gale_error_message(vm));
	cr_expect_str_eq(c.out, "true\n");
	capture_reset(&c);
	cr_expect_eq(eval_str(vm, "let s = 0\nfor i in range(0, 1000) { s += i }\nprint(s)"), GALE_OK);
	cr_expect_str_eq(c.out, "499500\n");
	gale_free(vm);
}

Test(budget, catching_the_error_does_not_keep_a_script_running)
{
	Capture c;
	GaleVM *vm = budget_vm(&c, 10000);
	const char *src = "let caught = 0\n"
	                  "while true { try { while true { } } catch e { caught += 1 } }";
	cr_expect_eq(eval_str(vm, src), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	gale_free(vm);
}

Test(budget, stops_unbounded_recursion_and_calls_from_c)
{
	Capture c;
	GaleVM *vm = budget_vm(&c, 5000);
	cr_expect_eq(eval_str(vm, "fn spin() { while true { } }\nfn deep(n) { return deep(n + 1) + 1 }"), GALE_OK);
	cr_expect_eq(eval_str(vm, "deep(0)"), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	cr_assert(gale_get_global(vm, "spin"));
	cr_expect_eq(gale_call(vm, 0), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	gale_pop(vm, 1);
	gale_free(vm);
}

Test(budget, set_step_budget_changes_and_lifts_it)
{
	Capture c;
	GaleVM *vm = budget_vm(&c, 0);
	cr_expect_eq(eval_str(vm, "let s = 0\nfor i in range(0, 200000) { s += 1 }"), GALE_OK);
	cr_expect_eq(gale_set_step_budget(vm, 1000), 0);
	cr_expect_eq(eval_str(vm, "s = 0\nfor i in range(0, 200000) { s += 1 }"), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	cr_expect_eq(eval_str(vm, "for i in range(0, 100) { s += 1 }"), GALE_OK); /* fits */
	cr_expect_eq(gale_set_step_budget(vm, 0), 1000);
	cr_expect_eq(eval_str(vm, "s = 0\nfor i in range(0, 200000) { s += 1 }"), GALE_OK);
	gale_free(vm);
}

typedef struct HookState {
	Capture c;
	int calls, grant;
} HookState;

static bool step_hook(GaleVM *vm, void *user)
{
	(void)vm;
	HookState *h = user;
	h->calls++;
	return h->calls <= h->grant;
}

static GaleVM *hook_vm(HookState *h, uint64_t steps, int grant)
{
	capture_reset(&h->c);
	h->calls = 0;
	h->grant = grant;
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = capture_write;
	cfg.error = capture_error;
	cfg.user_data = h; /* the Capture is its first member */
	cfg.step_budget = steps;
	cfg.step_hook = step_hook;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	return vm;
}

Test(budget, step_hook_grants_more_steps_then_stops)
{
	HookState h;
	GaleVM *vm = hook_vm(&h, 1000, 3);
	cr_expect_eq(eval_str(vm, "let n = 0\nwhile true { n += 1 }"), GALE_RUNTIME_ERROR);
	expect_budget_error(vm);
	cr_expect_eq(h.calls, 4, "three grants and one refusal, then no more asking");
	capture_reset(&h.c);
	cr_assert_eq(eval_str(vm, "print(n)"), GALE_OK);
	cr_expect_str_eq(h.c.out, "4001\n");
	gale_free(vm);
}

Test(budget, step_hook_that_always_grants_lets_work_finish)
{
	HookState h;
	GaleVM *vm = hook_vm(&h, 100, 1 << 30);
	cr_assert_eq(eval_str(vm, "let s = 0\nfor i in range(0, 10000) { s += i }\nprint(s)"), GALE_OK, "%s",
	             gale_error_message(vm));
	cr_expect_str_eq(h.c.out, "49995000\n");
	cr_expect_geq(h.calls, 99);
	gale_free(vm);
}

Test(vms, two_vms_side_by_side_are_independent)
{
	Capture ca, cb;
	GaleVM *a = capture_vm(&ca, NULL);
	GaleVM *b = capture_vm(&cb, NULL);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(eval_str(a, "let who = \"a\"\nlet keep = []\nfor i in range(0, 20000) { keep.push([i]) }"), GALE_OK);
	cr_assert_eq(eval_str(b, "let who = \"b\""), GALE_OK);
	cr_assert_eq(eval_str(a, "print(who)"), GALE_OK);
	cr_assert_eq(eval_str(b, "print(who)"), GALE_OK);
	cr_expect_str_eq(ca.out, "a\n");
	cr_expect_str_eq(cb.out, "b\n");
	GaleMemStats ma, mb, mb2;
	gale_memstats(b, &mb);
	gale_gc(a);
	gale_gc(a);
	gale_memstats(a, &ma);
	gale_memstats(b, &mb2);
	cr_expect_eq(mb2.NumGC, mb.NumGC, "a collection in a counted in b");
	cr_expect_gt(ma.HeapAlloc, mb2.HeapAlloc + 20000 * 16);
	cr_expect_eq(gale_set_gc_percent(a, 10), 100);
	cr_expect_eq(gale_set_gc_percent(b, 100), 100);
	gale_free(a);
	/* b survives a's end */
	capture_reset(&cb);
	cr_assert_eq(eval_str(b, "print(who + \"!\")"), GALE_OK);
	cr_expect_str_eq(cb.out, "b!\n");
	gale_free(b);
}

typedef struct Worker {
	int seed;
	Capture c;
	int ok;
	uint32_t collections;
} Worker;

static void *worker(void *arg)
{
	Worker *w = arg;
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = capture_write;
	cfg.user_data = &w->c;
	cfg.gc_percent = 20; /* collect often while the other thread runs */
	capture_reset(&w->c);
	GaleVM *vm = gale_new(&cfg);
	if (vm == NULL)
		return NULL;
	char src[512];
	snprintf(src, sizeof src,
	         "let total = 0\n"
	         "for round in range(0, 20) {\n"
	         "  let m = {}\n"
	         "  for i in range(0, 2000) { m[\"k${i}\"] = [i * %d] }\n"
	         "  for i in range(0, 2000) { total += m[\"k${i}\"][0] }\n"
	         "}\n"
	         "print(total)\n",
	         w->seed);
	w->ok = eval_str(vm, src) == GALE_OK;
	GaleMemStats m;
	gale_memstats(vm, &m);
	w->collections = m.NumGC;
	gale_free(vm);
	return NULL;
}

Test(vms, two_threads_each_with_its_own_vm)
{
	Worker w[2] = {{.seed = 3}, {.seed = 7}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_expect(w[i].ok);
		/* 20 rounds of sum(0..1999) * seed */
		char want[64];
		snprintf(want, sizeof want, "%lld\n", 20LL * 1999 * 2000 / 2 * w[i].seed);
		cr_expect_str_eq(w[i].c.out, want);
		cr_expect_gt(w[i].collections, 0);
	}
}

Test(vms, each_vm_has_its_own_random_sequence)
{
	/* The same seed gives the same draws in a VM whether or not another VM
	 * on the same thread draws in between. */
	const char *draw = "print(math.random(1, 1000000), math.random(1, 1000000))";
	Capture ca, cb, cc;
	GaleVM *a = capture_vm(&ca, NULL);
	GaleVM *b = capture_vm(&cb, NULL);
	GaleVM *c = capture_vm(&cc, NULL);
	cr_assert(a && b && c);
	gale_open_libs(a);
	gale_open_libs(b);
	gale_open_libs(c);
	cr_assert_eq(eval_str(a, "math.seed(7)"), GALE_OK);
	cr_assert_eq(eval_str(c, "math.seed(7)"), GALE_OK);
	cr_assert_eq(eval_str(a, draw), GALE_OK);
	cr_assert_eq(eval_str(b, "math.seed(99)\nfor i in range(100) { math.random() }"), GALE_OK);
	cr_assert_eq(eval_str(a, draw), GALE_OK);
	cr_assert_eq(eval_str(c, draw), GALE_OK);
	cr_assert_eq(eval_str(c, draw), GALE_OK);
	cr_expect_str_eq(ca.out, cc.out);
	gale_free(a);
	gale_free(b);
	gale_free(c);
}
