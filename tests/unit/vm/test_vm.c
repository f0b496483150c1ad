/* The VM through the public API: results, error reports, limits, the REPL
 * entry point and C functions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static Capture cap;
static GaleVM *vm;

static void setup(void)
{
	vm = cap_vm(&cap, NULL);
	cr_assert_not_null(vm);
}

static void teardown(void) { gale_free(vm); }

TestSuite(vm, .init = setup, .fini = teardown);

Test(vm, runs_and_prints)
{
	cr_assert_eq(run(vm, "let x = 40\nprint(x + 2)"), GALE_OK);
	cr_assert_str_eq(cap.out, "42\n");
}

Test(vm, compile_errors_are_all_reported)
{
	GaleResult r = gale_eval(vm, "let = 1\nlet y = )\n", 18, "bad.gale");
	cr_assert_eq(r, GALE_COMPILE_ERROR);
	cr_assert(strstr(cap.err, "bad.gale:1:5: ") != NULL, "%s", cap.err);
	cr_assert(strstr(cap.err, "bad.gale:2:9: ") != NULL, "%s", cap.err);
	cr_assert_str_eq(gale_error_message(vm), cap.err);
	cr_assert_str_eq(cap.out, "", "nothing runs after a compile error");
}

Test(vm, runtime_error_report)
{
	const char *src = "fn inner() {\n  throw error(\"kaboom\")\n}\nfn outer() { inner() }\nouter()\n";
	cr_assert_eq(gale_eval(vm, src, strlen(src), "f.gale"), GALE_RUNTIME_ERROR);
	cr_assert(strncmp(cap.err, "f.gale:2: kaboom\n", 17) == 0, "%s", cap.err);
	cr_assert(strstr(cap.err, "inner (f.gale:2)") != NULL, "%s", cap.err);
	cr_assert(strstr(cap.err, "outer (f.gale:4)") != NULL, "%s", cap.err);
	cr_assert(strstr(cap.err, "inner") < strstr(cap.err, "outer"), "innermost frame first");
	/* the VM keeps working */
	cap_reset(&cap);
	cr_assert_eq(run(vm, "print(1)"), GALE_OK);
	cr_assert_str_eq(cap.out, "1\n");
}

Test(vm, deep_nesting_is_a_compile_error)
{
	size_t n = 100000;
	char *src = malloc(2 * n + 16);
	strcpy(src, "let x = ");
	size_t at = strlen(src);
	memset(src + at, '(', n);
	src[at + n] = '1';
	memset(src + at + n + 1, ')', n);
	src[at + 2 * n + 1] = '\0';
	cr_assert_eq(run(vm, src), GALE_COMPILE_ERROR);
	cr_assert(strstr(cap.err, "too deeply nested") != NULL, "%s", cap.err);
	/* the same with brackets and braces */
	memset(src + at, '[', n);
	memset(src + at + n + 1, ']', n);
	cap_reset(&cap);
	cr_assert_eq(run(vm, src), GALE_COMPILE_ERROR);
	cr_assert(strstr(cap.err, "too deeply nested") != NULL);
	free(src);
}

Test(vm, stack_overflow_is_catchable)
{
	const char *src = "fn f(n) { return f(n + 1) }\n"
	                  "try { f(0) } catch e { print(e.message) }\n"
	                  "fn g(n) { if n == 0 { return 0 } return g(n - 1) + 1 }\n"
	                  "print(g(10000))\n";
	cr_assert_eq(run(vm, src), GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "stack overflow\n10000\n");
}

Test(vm, max_call_depth_is_configurable)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.max_call_depth = 100;
	Capture c2;
	GaleVM *v = cap_vm(&c2, &cfg);
	cr_assert_eq(run(v, "fn g(n) { if n == 0 { return 0 } return g(n - 1) }\nprint(g(50))\ng(200)"),
	             GALE_RUNTIME_ERROR);
	cr_assert_str_eq(c2.out, "0\n");
	cr_assert(strstr(c2.err, "stack overflow") != NULL, "%s", c2.err);
	gale_free(v);
}

Test(vm, out_of_memory_is_catchable)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.max_heap = 32 << 20;
	Capture c2;
	GaleVM *v = cap_vm(&c2, &cfg);
	cr_assert_not_null(v);
	const char *src = "let keep = []\nlet i = 0\n"
	                  "try { while true { i += 1\n keep.push(str(i).repeat(50000)) } } catch e { print(e.message) }\n"
	                  "keep = nil\nlet after = []\nfor j in range(1000) { after.push([j]) }\nprint(len(after))\n";
	cr_assert_eq(run(v, src), GALE_OK, "%s", c2.err);
	cr_assert_str_eq(c2.out, "out of memory\n1000\n");
	gale_free(v);
}

Test(vm, repl_incomplete_and_echo)
{
	cr_assert_eq(gale_eval_repl(vm, "let f = fn(x) {"), GALE_INCOMPLETE);
	cr_assert_eq(gale_eval_repl(vm, "print(\"abc"), GALE_INCOMPLETE);
	cr_assert_eq(gale_eval_repl(vm, "[1,\n2"), GALE_INCOMPLETE);
	cr_assert_str_eq(cap.out, "", "incomplete input runs nothing");
	cr_assert_eq(gale_eval_repl(vm, "let x = 20"), GALE_OK);
	cr_assert_eq(gale_eval_repl(vm, "x + 1"), GALE_OK);
	cr_assert_eq(gale_eval_repl(vm, "\"s\""), GALE_OK);
	cr_assert_eq(gale_eval_repl(vm, "nil"), GALE_OK);
	cr_assert_eq(gale_eval_repl(vm, "print(x)"), GALE_OK);
	cr_assert_str_eq(cap.out, "21\n\"s\"\n20\n");
	/* an error leaves the session's state */
	cr_assert_eq(gale_eval_repl(vm, "x = x + nil"), GALE_RUNTIME_ERROR);
	cap_reset(&cap);
	cr_assert_eq(gale_eval_repl(vm, "x"), GALE_OK);
	cr_assert_str_eq(cap.out, "20\n");
}

static void c_add(GaleVM *v, int argc)
{
	(void)argc;
	gale_return_int(v, gale_arg_int(v, 0) + gale_arg_int(v, 1));
}

static void c_greet(GaleVM *v, int argc)
{
	if (argc == 0)
		gale_raise(v, "greet: need a name");
	size_t n;
	const char *s = gale_arg_string(v, 0, &n);
	char buf[64];
	int len = snprintf(buf, sizeof buf, "hi %.*s", (int)n, s);
	gale_return_string(v, buf, (size_t)len);
}

static void c_interrupt(GaleVM *v, int argc)
{
	(void)argc;
	gale_interrupt(v);
}

Test(vm, c_functions)
{
	cr_assert(gale_register(vm, "add", c_add, 2, "add(a, b): the sum"));
	cr_assert(gale_register(vm, "greet", c_greet, -1, NULL));
	const char *src = "print(add(2, 3), greet(\"bob\"))\n"
	                  "try { greet() } catch e { print(e.message) }\n"
	                  "try { add(1) } catch e { print(e.message) }\n"
	                  "try { add(1, \"x\") } catch e { print(e.message) }\n";
	cr_assert_eq(run(vm, src), GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "5 hi bob\ngreet: need a name\nadd() takes 2 arguments but 1 was given\n"
	                          "add: expected an int, got string\n");
}

Test(vm, interrupt_stops_a_loop)
{
	cr_assert(gale_register(vm, "stop", c_interrupt, 0, NULL));
	cr_assert_eq(run(vm, "stop()\nwhile true {}"), GALE_RUNTIME_ERROR);
	cr_assert(strstr(cap.err, "interrupted") != NULL, "%s", cap.err);
	cap_reset(&cap);
	cr_assert_eq(run(vm, "stop()\ntry { while true {} } catch e { print(e.message) }\nprint(\"ok\")"), GALE_OK);
	cr_assert_str_eq(cap.out, "interrupted\nok\n");
}

static void on_builtin(const char *module, const char *name, const char *doc, void *ctx)
{
	int *found = ctx;
	if (module == NULL && strcmp(name, "print") == 0 && strlen(doc) > 0)
		found[0]++;
	if (module == NULL && strcmp(name, "memstats") == 0)
		found[1]++;
}

Test(vm, builtins_have_docs)
{
	int found[2] = {0, 0};
	gale_each_builtin(vm, on_builtin, found);
	cr_assert_eq(found[0], 1);
	cr_assert_eq(found[1], 1);
}

static void on_candidate(const char *cand, void *ctx)
{
	char *out = ctx;
	strcat(out, cand);
	strcat(out, " ");
}

Test(vm, completion)
{
	char out[4096] = "";
	cr_assert_eq(gale_eval_repl(vm, "let mylist = [1]"), GALE_OK);
	gale_complete(vm, "myl", on_candidate, out);
	cr_assert_str_eq(out, "mylist ");
	out[0] = '\0';
	gale_complete(vm, "mylist.pu", on_candidate, out);
	cr_assert_str_eq(out, "mylist.push ");
	out[0] = '\0';
	gale_complete(vm, "pri", on_candidate, out);
	cr_assert_str_eq(out, "print ");
}

Test(vm, separate_vms_are_independent)
{
	Capture c2;
	GaleVM *other = cap_vm(&c2, NULL);
	cr_assert_eq(run(vm, "let shared = 1"), GALE_OK);
	cr_assert_eq(gale_eval_repl(other, "shared"), GALE_RUNTIME_ERROR);
	cr_assert(strstr(c2.err, "undefined variable 'shared'") != NULL, "%s", c2.err);
	GaleMemStats a, b;
	gale_memstats(vm, &a);
	gale_memstats(other, &b);
	cr_assert_gt(a.HeapAlloc, 0);
	cr_assert_gt(b.HeapAlloc, 0);
	gale_free(other);
}

Test(vm, memstats_and_settings)
{
	GaleMemStats m;
	gale_memstats(vm, &m);
	cr_assert_eq(m.GCPercent, 100);
	cr_assert_eq(m.MemoryLimit, INT64_MAX);
	cr_assert_eq(gale_set_gc_percent(vm, 50), 100);
	cr_assert_eq(gale_set_gc_percent(vm, 100), 50);
	cr_assert_eq(run(vm, "let m = memstats()\nprint(m[\"GCPercent\"], m[\"HeapAlloc\"] > 0)"), GALE_OK);
	cr_assert_str_eq(cap.out, "100 true\n");
	uint32_t before = m.NumGC;
	gale_gc(vm);
	gale_memstats(vm, &m);
	cr_assert_gt(m.NumGC, before);
}

Test(vm, parse_size)
{
	int64_t v;
	cr_assert(gale_parse_size("4096", &v));
	cr_assert_eq(v, 4096);
	cr_assert(gale_parse_size("64MiB", &v));
	cr_assert_eq(v, 64LL << 20);
	cr_assert(gale_parse_size("1.5GiB", &v));
	cr_assert_eq(v, 3LL << 29);
	cr_assert(gale_parse_size("100B", &v));
	cr_assert_eq(v, 100);
	cr_assert_not(gale_parse_size("12XB", &v));
	cr_assert_not(gale_parse_size("", &v));
	cr_assert_not(gale_parse_size("-1", &v));
}

Test(vm, disassemble)
{
	const char *src = "let x = 1\nprint(x + 2)";
	cr_assert_eq(gale_disassemble(vm, src, strlen(src), "d"), GALE_OK);
	cr_assert(strstr(cap.out, "DEFINE_GLOBAL") != NULL, "%s", cap.out);
	cr_assert(strstr(cap.out, "ADD") != NULL);
	cr_assert(strstr(cap.out, "CALL") != NULL);
}

Test(vm, gcstress_keeps_everything_rooted)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.debug = "gcstress=1";
	Capture c2;
	GaleVM *v = cap_vm(&c2, &cfg);
	cr_assert_not_null(v);
	const char *src = "class P { init(a) { self.a = a } toString() { return \"P${self.a}\" } }\n"
	                  "let l = []\nfor i in range(30) { l.push(P(\"x\" + str(i))) }\n"
	                  "l.sort(fn(a, b) { return a.a > b.a })\n"
	                  "let m = {}\nfor p in l { m[str(p)] = [p, fn() { return p }] }\n"
	                  "print(l[0], len(m), m[\"Px5\"][1]())\n";
	cr_assert_eq(run(v, src), GALE_OK, "%s", c2.err);
	cr_assert_str_eq(c2.out, "Px9 30 Px5\n");
	gale_free(v);
}
