/* The compiler's output, checked through the disassembler, and its error
 * recovery. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

static Capture cap;
static GaleVM *vm;

static void setup(void) { vm = cap_vm(&cap, NULL); }
static void teardown(void) { gale_free(vm); }

TestSuite(compiler, .init = setup, .fini = teardown);

static const char *disasm(const char *src)
{
	cap_reset(&cap);
	cr_assert_eq(gale_disassemble(vm, src, strlen(src), "c"), GALE_OK, "%s", cap.err);
	return cap.out;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

Test(compiler, method_calls_use_invoke)
{
	const char *out = disasm("let l = []\nl.push(1)\n");
	cr_assert(strstr(out, "INVOKE") != NULL, "%s", out);
	cr_assert(strstr(out, "GET_FIELD") == NULL, "no bound method is made for a call");
}

Test(compiler, for_loops_iterate_without_calls)
{
	const char *out = disasm("for i in range(10) { print(i) }\n");
	cr_assert_eq(count(out, "FOR_ITER"), 1, "%s", out);
	cr_assert_eq(count(out, "LOOP"), 1);
}

Test(compiler, captured_loop_variables_are_closed_each_iteration)
{
	const char *out = disasm("let fs = []\nfor i in range(3) { fs.push(fn() { return i }) }\n");
	cr_assert(strstr(out, "CLOSE_UPVAL") != NULL, "%s", out);
	out = disasm("for i in range(3) { print(i) }\n");
	cr_assert(strstr(out, "CLOSE_UPVAL") == NULL, "uncaptured locals are just popped");
}

Test(compiler, locals_use_slots_and_module_names_use_module_slots)
{
	const char *out = disasm("let g = 1\nfn f(a) { let b = a + g\n return b }\n");
	cr_assert(strstr(out, "GET_LOCAL") != NULL, "%s", out);
	cr_assert(strstr(out, "GET_GLOBAL") != NULL);
	cr_assert(strstr(out, "== f (arity 1") != NULL);
}

Test(compiler, long_literals_are_chunked)
{
	char src[8192] = "let l = [";
	for (int i = 0; i < 300; i++)
		strcat(src, "1, ");
	strcat(src, "]\nprint(len(l))\n");
	const char *out = disasm(src);
	cr_assert_gt(count(out, "LIST_APPEND"), 2, "%s", out);
	cap_reset(&cap);
	cr_assert_eq(run(vm, src), GALE_OK);
	cr_assert_str_eq(cap.out, "300\n");
}

Test(compiler, errors_recover_per_statement)
{
	const char *src = "let a = \nprint(1)\nlet b = ]\nfn f( {\nlet ok = 1\nlet c = *\n";
	cr_assert_eq(gale_eval(vm, src, strlen(src), "e"), GALE_COMPILE_ERROR);
	cr_assert_geq(count(cap.err, "e:"), 3, "%s", cap.err);
	cr_assert(strstr(cap.err, "e:3:9:") != NULL, "%s", cap.err);
	cr_assert_str_eq(cap.out, "");
}

Test(compiler, invalid_assignment_targets)
{
	cr_assert_eq(run(vm, "1 + 2 = 3"), GALE_COMPILE_ERROR);
	cr_assert(strstr(cap.err, "invalid assignment target") != NULL, "%s", cap.err);
	cap_reset(&cap);
	cr_assert_eq(run(vm, "f() = 1"), GALE_COMPILE_ERROR);
}

Test(compiler, misplaced_keywords)
{
	const char *cases[] = {"return 1", "break", "continue", "print(self)", "fn f() { super.x() }",
	                       "class A { init() { return 1 } }", "let x = .5", "class A < A {}"};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cap_reset(&cap);
		cr_assert_eq(run(vm, cases[i]), GALE_COMPILE_ERROR, "%s", cases[i]);
	}
}

Test(compiler, keywords_are_property_names_after_a_dot)
{
	cr_assert_eq(run(vm, "class K { fn() { return 1 } }\nlet k = K()\nk.in = 2\nprint(k.fn(), k.in)"), GALE_OK,
	             "%s", cap.err);
	cr_assert_str_eq(cap.out, "1 2\n");
}
