/*
 * test_values.c — C functions called from scripts, the value stack (every
 * basic type, lists, maps), globals, calling script functions from C and
 * handles.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "api_helpers.h"

static void c_add(GaleVM *vm, int argc)
{
	(void)argc;
	gale_return_int(vm, gale_arg_int(vm, 0) + gale_arg_int(vm, 1));
}

static void c_describe(GaleVM *vm, int argc)
{
	char buf[256];
	size_t n = 0;
	for (int i = 0; i < argc; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? "," : "", (int)gale_arg_type(vm, i));
	gale_return_string(vm, buf, n);
}

static void c_fail(GaleVM *vm, int argc)
{
	(void)argc;
	gale_raise(vm, "bad value %d", (int)gale_arg_int(vm, 0));
}

/* Builds [n, "n", {"n": n * 1.5}] with the stack API. */
static void c_build(GaleVM *vm, int argc)
{
	(void)argc;
	int64_t n = gale_arg_int(vm, 0);
	cr_assert(gale_new_list(vm));
	cr_assert(gale_push_int(vm, n));
	cr_assert(gale_list_push(vm, -2));
	char text[32];
	int len = snprintf(text, sizeof text, "%lld", (long long)n);
	cr_assert(gale_push_string(vm, text, (size_t)len));
	cr_assert(gale_list_push(vm, -2));
	cr_assert(gale_new_map(vm));
	cr_assert(gale_push_string(vm, "n", 1));
	cr_assert(gale_push_float(vm, (double)n * 1.5));
	cr_assert(gale_map_set(vm, -3));
	cr_assert(gale_list_push(vm, -2));
	gale_return_value(vm, -1);
}

/* Calls its first argument with the second and returns the result plus 1. */
static void c_apply(GaleVM *vm, int argc)
{
	(void)argc;
	gale_push_value(vm, 0);
	gale_push_value(vm, 1);
	if (gale_call(vm, 1) != GALE_OK)
		gale_raise(vm, "callback failed: %s", gale_error_message(vm));
	int64_t r;
	if (!gale_to_int(vm, -1, &r))
		gale_raise(vm, "callback must return an int");
	gale_return_int(vm, r + 1);
}

static void c_interrupt(GaleVM *vm, int argc)
{
	(void)argc;
	gale_interrupt(vm);
}

/* Chooses its result first, then allocates: the result must survive. */
static void c_early_return(GaleVM *vm, int argc)
{
	(void)argc;
	gale_return_string(vm, "kept result", 11);
	/* distinct strings of the same size reuse a freed result's slot */
	for (int i = 0; i < 200; i++) {
		char junk[32];
		snprintf(junk, sizeof junk, "garbage %03d", i);
		cr_assert(gale_push_string(vm, junk, 11));
		gale_pop(vm, 1);
	}
}

static const GaleReg table[] = {
	{"c_add", c_add, 2, "c_add(a, b): the sum of two ints"},
	{"c_describe", c_describe, -1, NULL},
	{"c_fail", c_fail, 1, "c_fail(n): raises"},
	{"c_build", c_build, 1, "c_build(n): [n, str(n), {n: 1.5n}]"},
	{"c_apply", c_apply, 2, NULL},
	{"c_interrupt", c_interrupt, 0, NULL},
	{"c_early_return", c_early_return, 0, NULL},
	{NULL, NULL, 0, NULL},
};

static GaleVM *table_vm(Capture *c, const char *debug)
{
	GaleVM *vm = capture_vm(c, debug);
	cr_assert_not_null(vm);
	cr_assert(gale_register_table(vm, table));
	return vm;
}

Test(natives, registered_function_called_from_script)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "print(c_add(40, 2))"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "42\n");
	capture_reset(&c);
	cr_assert_eq(eval_str(vm, "print(c_describe(nil, true, 1, 2.5, \"s\", [], {}, print, range(2)))"), GALE_OK);
	char want[64];
	snprintf(want, sizeof want, "%d,%d,%d,%d,%d,%d,%d,%d,%d\n", GALE_TNIL, GALE_TBOOL, GALE_TINT, GALE_TFLOAT,
	         GALE_TSTRING, GALE_TLIST, GALE_TMAP, GALE_TFUNCTION, GALE_TOTHER);
	cr_expect_str_eq(c.out, want);
	gale_free(vm);
}

Test(natives, arity_and_type_errors_are_script_errors)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_expect_eq(eval_str(vm, "c_add(1)"), GALE_RUNTIME_ERROR);
	cr_expect_eq(eval_str(vm, "c_add(1, \"x\")"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "c_add") != NULL, "%s", gale_error_message(vm));
	gale_free(vm);
}

Test(natives, error_raised_in_native_caught_in_script)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "try { c_fail(7) } catch e { print(\"caught\", e.message) }"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "caught bad value 7\n");
	cr_expect_eq(eval_str(vm, "c_fail(3)"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "bad value 3") != NULL);
	gale_free(vm);
}

static void collect_doc(const char *module, const char *name, const char *doc, void *ctx)
{
	if (module == NULL && strcmp(name, "c_add") == 0)
		*(const char **)ctx = doc;
}

Test(natives, table_docs_are_listed)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	const char *doc = NULL;
	gale_each_builtin(vm, collect_doc, &doc);
	cr_assert_not_null(doc);
	cr_expect_str_eq(doc, "c_add(a, b): the sum of two ints");
	gale_free(vm);
}

Test(natives, values_built_in_c_reach_the_script)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "print(c_build(4))"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "[4, \"4\", {\"n\": 6.0}]\n");
	gale_free(vm);
}

Test(natives, native_calls_back_into_script)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "print(c_apply(fn(x) { return x * 10 }, 4))"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "41\n");
	cr_expect_eq(eval_str(vm, "c_apply(fn(x) { throw error(\"inner\") }, 1)"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "callback failed") != NULL, "%s", gale_error_message(vm));
	cr_expect(strstr(gale_error_message(vm), "inner") != NULL, "%s", gale_error_message(vm));
	gale_free(vm);
}

Test(natives, result_survives_later_allocation_under_gcstress)
{
	Capture c;
	GaleVM *vm = table_vm(&c, "gcstress=1");
	cr_assert_eq(eval_str(vm, "let r = c_early_return()\nlet junk = [1, 2, 3]\nprint(r)"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "kept result\n");
	gale_free(vm);
}

Test(natives, interrupt_from_native_stops_the_loop)
{
	Capture c;
	GaleVM *vm = table_vm(&c, NULL);
	cr_expect_eq(eval_str(vm, "let n = 0\nwhile true { n += 1\n if n == 100 { c_interrupt() } }"), GALE_RUNTIME_ERROR);
	cr_expect(strstr(gale_error_message(vm), "interrupted") != NULL, "%s", gale_error_message(vm));
	capture_reset(&c);
	cr_expect_eq(eval_str(vm, "print(n)"), GALE_OK);
	cr_expect_str_eq(c.out, "100\n");
	gale_free(vm);
}

Test(stack, push_and_read_every_basic_type)
{
	GaleVM *vm = gale_new(NULL);
	cr_assert_eq(gale_get_top(vm), 0);
	cr_assert(gale_push_nil(vm));
	cr_assert(gale_push_bool(vm, true));
	cr_assert(gale_push_int(vm, -7));
	cr_assert(gale_push_float(vm, 2.5));
	cr_assert(gale_push_string(vm, "a\0b", 3));
	cr_expect_eq(gale_get_top(vm), 5);
	cr_expect_eq(gale_type(vm, 0), GALE_TNIL);
	cr_expect_eq(gale_type(vm, 1), GALE_TBOOL);
	cr_expect_eq(gale_type(vm, -3), GALE_TINT);
	cr_expect_eq(gale_type(vm, -2), GALE_TFLOAT);
	cr_expect_eq(gale_type(vm, -1), GALE_TSTRING);
	cr_expect_str_eq(gale_type_name(vm, -1), "string");
	cr_expect_str_eq(gale_type_name(vm, 9), "none");
	cr_expect_not(gale_to_bool(vm, 0));
	cr_expect(gale_to_bool(vm, 1));
	int64_t i = 0;
	cr_expect(gale_to_int(vm, 2, &i));
	cr_expect_eq(i, -7);
	cr_expect_not(gale_to_int(vm, 3, &i)); /* no float -> int conversion */
	double d = 0;
	cr_expect(gale_to_float(vm, 3, &d));
	cr_expect_float_eq(d, 2.5, 1e-12);
	cr_expect(gale_to_float(vm, 2, &d));
	cr_expect_float_eq(d, -7.0, 1e-12);
	size_t len = 0;
	const char *s = gale_to_string(vm, 4, &len);
	cr_assert_not_null(s);
	cr_expect_eq(len, 3);
	cr_expect_eq(memcmp(s, "a\0b", 3), 0);
	cr_expect_null(gale_to_string(vm, 2, NULL));
	/* invalid indices answer without touching anything */
	cr_expect_eq(gale_type(vm, 5), GALE_TNIL);
	cr_expect_eq(gale_type(vm, -6), GALE_TNIL);
	cr_expect_not(gale_to_int(vm, 99, &i));
	cr_expect_not(gale_push_value(vm, 42));
	cr_assert(gale_push_value(vm, 2));
	cr_expect(gale_to_int(vm, -1, &i));
	cr_expect_eq(i, -7);
	gale_pop(vm, 2);
	cr_expect_eq(gale_get_top(vm), 4);
	gale_pop(vm, 100);
	cr_expect_eq(gale_get_top(vm), 0);
	gale_free(vm);
}

Test(stack, many_pushes_grow_the_stack)
{
	GaleVM *vm = gale_new(NULL);
	for (int i = 0; i < 100000; i++)
		cr_assert(gale_push_int(vm, i));
	int64_t v;
	cr_expect(gale_to_int(vm, 54321, &v));
	cr_expect_eq(v, 54321);
	cr_expect_eq(gale_get_top(vm), 100000);
	gale_pop(vm, 100000);
	gale_free(vm);
}

Test(stack, lists_and_maps)
{
	GaleVM *vm = gale_new(NULL);
	cr_assert(gale_new_list(vm));
	for (int i = 0; i < 5; i++) {
		cr_assert(gale_push_int(vm, i * i));
		cr_assert(gale_list_push(vm, 0));
	}
	cr_expect_eq(gale_len(vm, 0), 5);
	int64_t v;
	cr_assert(gale_list_get(vm, 0, 3));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 9);
	gale_pop(vm, 1);
	cr_assert(gale_list_get(vm, 0, -1));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 16);
	gale_pop(vm, 1);
	cr_expect_not(gale_list_get(vm, 0, 5));
	cr_expect_eq(gale_get_top(vm), 1);

	cr_assert(gale_new_map(vm));
	const char *keys[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++) {
		cr_assert(gale_push_string(vm, keys[i], strlen(keys[i])));
		cr_assert(gale_push_int(vm, i + 1));
		cr_assert(gale_map_set(vm, 1));
	}
	cr_assert(gale_push_nil(vm));
	cr_assert(gale_push_int(vm, 0));
	cr_expect_not(gale_map_set(vm, 1)); /* nil key refused, both popped */
	cr_expect_eq(gale_get_top(vm), 2);
	cr_expect_eq(gale_len(vm, 1), 3);
	cr_assert(gale_push_string(vm, "two", 3));
	cr_assert(gale_map_get(vm, 1));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 2);
	gale_pop(vm, 1);
	cr_assert(gale_push_string(vm, "four", 4));
	cr_expect_not(gale_map_get(vm, 1));
	cr_expect_eq(gale_get_top(vm), 2);
	uint32_t pos = 0;
	int seen = 0;
	while (gale_map_next(vm, 1, &pos)) {
		const char *k = gale_to_string(vm, -2, NULL);
		cr_assert(gale_to_int(vm, -1, &v));
		cr_expect_str_eq(k, keys[seen]); /* insertion order */
		cr_expect_eq(v, seen + 1);
		gale_pop(vm, 2);
		seen++;
	}
	cr_expect_eq(seen, 3);
	cr_expect_eq(gale_len(vm, 0), 5);
	cr_expect_eq(gale_len(vm, 1), 3);
	cr_expect_eq(gale_len(vm, 99), -1);
	gale_free(vm);
}

Test(calls, call_script_function_with_arguments)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "fn greet(name, n) { return \"hi ${name} x${n}\" }\nlet answer = 42"), GALE_OK);
	cr_assert(gale_get_global(vm, "greet"));
	cr_expect_eq(gale_type(vm, -1), GALE_TFUNCTION);
	cr_assert(gale_push_string(vm, "ada", 3));
	cr_assert(gale_push_int(vm, 3));
	cr_assert_eq(gale_call(vm, 2), GALE_OK, "%s", gale_error_message(vm));
	cr_expect_eq(gale_get_top(vm), 1);
	cr_expect_str_eq(gale_to_string(vm, -1, NULL), "hi ada x3");
	gale_pop(vm, 1);
	int64_t v;
	cr_assert(gale_get_global(vm, "answer"));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 42);
	gale_pop(vm, 1);
	cr_expect_not(gale_get_global(vm, "no_such_name"));
	cr_expect_eq(gale_get_top(vm), 0);
	/* builtins are globals too */
	cr_assert(gale_get_global(vm, "len"));
	cr_assert(gale_push_string(vm, "abcd", 4));
	cr_assert_eq(gale_call(vm, 1), GALE_OK);
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 4);
	gale_free(vm);
}

Test(calls, call_error_gives_error_value_and_message)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert_eq(eval_str(vm, "fn bad(x) { throw error(\"no ${x}\") }"), GALE_OK);
	cr_assert(gale_get_global(vm, "bad"));
	cr_assert(gale_push_int(vm, 5));
	cr_expect_eq(gale_call(vm, 1), GALE_RUNTIME_ERROR);
	cr_expect_eq(gale_get_top(vm), 1);
	cr_expect_str_eq(gale_type_name(vm, -1), "error");
	cr_expect(strstr(gale_error_message(vm), "no 5") != NULL, "%s", gale_error_message(vm));
	cr_expect_eq(c.err_len, 0); /* not written to the error callback */
	gale_pop(vm, 1);
	/* calling a non-function, and a call with too few values */
	cr_assert(gale_push_int(vm, 1));
	cr_expect_eq(gale_call(vm, 0), GALE_RUNTIME_ERROR);
	gale_pop(vm, 1);
	cr_expect_eq(gale_call(vm, 3), GALE_RUNTIME_ERROR);
	cr_expect_eq(gale_get_top(vm), 0);
	/* arity mismatch */
	cr_assert(gale_get_global(vm, "bad"));
	cr_expect_eq(gale_call(vm, 0), GALE_RUNTIME_ERROR);
	gale_pop(vm, 1);
	gale_free(vm);
}

Test(calls, set_global_visible_to_later_scripts)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert(gale_new_list(vm));
	cr_assert(gale_push_string(vm, "x", 1));
	cr_assert(gale_list_push(vm, -2));
	cr_assert(gale_set_global(vm, "host_list"));
	cr_expect_eq(gale_get_top(vm), 0);
	cr_assert_eq(eval_str(vm, "host_list.push(\"y\")\nprint(host_list)"), GALE_OK, "%s", c.err);
	cr_expect_str_eq(c.out, "[\"x\", \"y\"]\n");
	gale_free(vm);
}

Test(handles, keep_survives_gcstress_until_released)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, "gcstress=1");
	cr_assert_not_null(vm);
	cr_assert_eq(eval_str(vm, "fn make(n) { let xs = []\n for i in range(0, n) { xs.push(\"item ${i}\") }\n return xs }"),
	             GALE_OK);
	GaleHandle hs[20];
	for (int i = 0; i < 20; i++) {
		cr_assert(gale_get_global(vm, "make"));
		cr_assert(gale_push_int(vm, i + 1));
		cr_assert_eq(gale_call(vm, 1), GALE_OK, "%s", gale_error_message(vm));
		hs[i] = gale_keep(vm, -1);
		cr_assert_neq(hs[i], 0);
		gale_pop(vm, 1);
	}
	cr_expect_eq(gale_get_top(vm), 0);
	/* lots of garbage and collections in between */
	cr_assert_eq(eval_str(vm, "let junk = []\nfor i in range(0, 300) { junk.push([i, \"${i}\"]) }\njunk = nil"), GALE_OK);
	gale_gc(vm);
	for (int i = 0; i < 20; i++) {
		cr_assert(gale_push_handle(vm, hs[i]));
		cr_expect_eq(gale_len(vm, -1), i + 1);
		cr_assert(gale_list_get(vm, -1, i));
		char want[32];
		snprintf(want, sizeof want, "item %d", i);
		cr_expect_str_eq(gale_to_string(vm, -1, NULL), want);
		gale_pop(vm, 2);
	}
	/* releasing frees the slot for reuse and the handle stops working */
	gale_release(vm, hs[3]);
	cr_expect_not(gale_push_handle(vm, hs[3]));
	gale_release(vm, hs[3]); /* twice: nothing happens */
	gale_release(vm, 0);
	cr_assert(gale_push_int(vm, 77));
	GaleHandle again = gale_keep(vm, -1);
	cr_expect_eq(again, hs[3]);
	gale_pop(vm, 1);
	int64_t v;
	cr_assert(gale_push_handle(vm, again));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 77);
	gale_pop(vm, 1);
	cr_expect_eq(gale_keep(vm, 5), 0); /* invalid index */
	cr_expect_not(gale_push_handle(vm, 123456));
	gale_free(vm);
}

/* A released value is really let go: its finalization-free memory is
 * reclaimed, which shows as a falling HeapAlloc after collection. */
Test(handles, release_lets_value_be_collected)
{
	GaleVM *vm = gale_new(NULL);
	cr_assert_eq(eval_str(vm, "fn big() { let xs = []\n for i in range(0, 20000) { xs.push([i]) }\n return xs }"), GALE_OK);
	cr_assert(gale_get_global(vm, "big"));
	cr_assert_eq(gale_call(vm, 0), GALE_OK);
	GaleHandle h = gale_keep(vm, -1);
	gale_pop(vm, 1);
	gale_gc(vm);
	GaleMemStats kept, released;
	gale_memstats(vm, &kept);
	gale_release(vm, h);
	gale_gc(vm);
	gale_memstats(vm, &released);
	cr_expect_lt(released.HeapAlloc + 20000 * 16, kept.HeapAlloc, "kept %llu released %llu",
	             (unsigned long long)kept.HeapAlloc, (unsigned long long)released.HeapAlloc);
	gale_free(vm);
}

Test(calls, repl_globals_and_host_values_below_an_evaluation)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	/* values the host leaves on the stack stay put across evaluations */
	cr_assert(gale_push_string(vm, "below", 5));
	cr_assert_eq(gale_eval_repl(vm, "let from_repl = 5 * 5"), GALE_OK, "%s", c.err);
	cr_assert_eq(eval_str(vm, "throw error(\"x\")"), GALE_RUNTIME_ERROR);
	cr_expect_eq(gale_get_top(vm), 1);
	cr_expect_str_eq(gale_to_string(vm, 0, NULL), "below");
	int64_t v;
	cr_assert(gale_get_global(vm, "from_repl"));
	cr_expect(gale_to_int(vm, -1, &v));
	cr_expect_eq(v, 25);
	gale_pop(vm, 2);
	gale_free(vm);
}
