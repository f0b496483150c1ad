/*
 * test_fault.c — out of memory at every allocation of a representative
 * embedding session in turn (GALEDEBUG-style "failalloc=N" through
 * GaleConfig.debug): the host always gets a result and an error message,
 * never a crash, and the VM stays usable afterwards.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "api_helpers.h"
#include "vm/vm.h" /* the runtime's allocation counter, to size the sweep */

static void c_concat(GaleVM *vm, int argc)
{
	(void)argc;
	size_t la, lb;
	const char *a = gale_arg_string(vm, 0, &la);
	const char *b = gale_arg_string(vm, 1, &lb);
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%.*s%.*s", (int)la, a, (int)lb, b);
	gale_return_string(vm, buf, (size_t)n);
}

static const char *script = "fn shout(s) { return c_concat(s, \"!\") }\n"
                            "let words = []\n"
                            "for w in [\"a\", \"bb\", \"ccc\"] { words.push(shout(w)) }\n"
                            "let table = {\"n\": len(words), \"first\": words[0]}\n";

typedef struct Session {
	int steps;    /* API calls made */
	int failures; /* of which reported failure */
	bool bad;     /* a failure without a message, or a wrong answer */
	int bad_step; /* the first bad one, for the report */
} Session;

static void step(Session *s, GaleVM *vm, bool ok)
{
	s->steps++;
	if (ok)
		return;
	s->failures++;
	if (gale_error_message(vm)[0] == '\0' && !s->bad) {
		s->bad = true;
		s->bad_step = s->steps;
	}
}

/* The session: register, evaluate, read globals, call, build values, keep. */
static void session(GaleVM *vm, Session *s)
{
	int top = gale_get_top(vm);
	step(s, vm, gale_register(vm, "c_concat", c_concat, 2, "c_concat(a, b)"));
	step(s, vm, eval_str(vm, script) == GALE_OK);
	if (gale_get_global(vm, "shout")) {
		bool pushed = gale_push_string(vm, "hey", 3);
		step(s, vm, pushed);
		if (pushed) {
			GaleResult r = gale_call(vm, 1);
			step(s, vm, r == GALE_OK);
			const char *got = gale_to_string(vm, -1, NULL);
			if (r == GALE_OK && (got == NULL || strcmp(got, "hey!") != 0) && !s->bad) {
				s->bad = true;
				s->bad_step = -s->steps;
			}
		}
	}
	gale_pop(vm, gale_get_top(vm) - top);
	bool made = gale_new_map(vm);
	step(s, vm, made);
	if (made) {
		step(s, vm, gale_push_string(vm, "key", 3) && gale_push_string(vm, "value", 5) && gale_map_set(vm, -3));
		GaleHandle h = gale_keep(vm, -1);
		step(s, vm, h != 0);
		gale_release(vm, h);
	}
	gale_pop(vm, gale_get_top(vm) - top);
	step(s, vm, gale_set_global(vm, "unused") || true);
}

/* After the injected failure, everything must work again. */
static void check_usable(GaleVM *vm, Capture *c, int n)
{
	capture_reset(c);
	if (!gale_get_global(vm, "c_concat"))
		cr_assert(gale_register(vm, "c_concat", c_concat, 2, NULL), "failalloc=%d: cannot register", n);
	else
		gale_pop(vm, 1);
	const char *src = "print(c_concat(\"ok\", str([1, 2][1])))";
	/* when the session made fewer than n allocations, the injected failure
	 * is still to come and may hit this first try */
	bool pending = vm->rt->mallocCount < (uint64_t)n;
	GaleResult r = eval_str(vm, src);
	if (r != GALE_OK && pending) {
		cr_assert(strstr(gale_error_message(vm), "out of memory") != NULL, "failalloc=%d: %s", n,
		          gale_error_message(vm));
		capture_reset(c);
		r = eval_str(vm, src);
	}
	cr_assert_eq(r, GALE_OK, "failalloc=%d: VM unusable after the failure: %s", n, gale_error_message(vm));
	cr_assert_str_eq(c->out, "ok2\n", "failalloc=%d", n);
	cr_assert_eq(gale_get_top(vm), 0, "failalloc=%d: stack left unbalanced", n);
}

static uint64_t allocations_of_a_clean_session(void)
{
	Capture c;
	GaleVM *vm = capture_vm(&c, NULL);
	cr_assert_not_null(vm);
	Session s = {0};
	session(vm, &s);
	cr_assert_eq(s.failures, 0, "clean session failed: %s", gale_error_message(vm));
	cr_assert(!s.bad);
	uint64_t n = vm->rt->mallocCount;
	gale_free(vm);
	return n;
}

Test(fault, every_allocation_of_a_session_fails_in_turn, .timeout = 120)
{
	uint64_t total = allocations_of_a_clean_session();
	cr_assert_gt(total, 50);
	int vm_refused = 0, host_saw_error = 0;
	for (uint64_t n = 1; n <= total + 2; n++) {
		char debug[32];
		snprintf(debug, sizeof debug, "failalloc=%llu", (unsigned long long)n);
		Capture c;
		GaleVM *vm = capture_vm(&c, debug);
		if (vm == NULL) {
			/* the failure hit gale_new itself: a clean NULL */
			vm_refused++;
			continue;
		}
		Session s = {0};
		session(vm, &s);
		cr_assert(!s.bad, "failalloc=%llu: a failure without a message or a wrong result at step %d",
		          (unsigned long long)n, s.bad_step);
		if (s.failures > 0) {
			host_saw_error++;
			cr_expect(strstr(gale_error_message(vm), "out of memory") != NULL || c.err_len > 0,
			          "failalloc=%llu: %s", (unsigned long long)n, gale_error_message(vm));
		}
		check_usable(vm, &c, (int)n);
		gale_free(vm);
	}
	cr_log_info("failalloc sweep: %llu allocations, %d refused by gale_new, %d seen by the host", (unsigned long long)total, vm_refused, host_saw_error);
	cr_expect_gt(vm_refused, 0);
	/* most allocations after gale_new belong to a step that reports them */
	cr_expect_gt(host_saw_error, (int)(total - (uint64_t)vm_refused) / 2, "saw %d of %llu", host_saw_error,
	             (unsigned long long)(total - (uint64_t)vm_refused));
}

/* gcstress and injected failures together: collections at every allocation
 * while one of them fails. */
Test(fault, failures_under_gcstress, .timeout = 120)
{
	uint64_t total = allocations_of_a_clean_session();
	for (uint64_t n = total / 2; n <= total; n += total / 10) {
		char debug[48];
		snprintf(debug, sizeof debug, "gcstress=1,failalloc=%llu", (unsigned long long)n);
		Capture c;
		GaleVM *vm = capture_vm(&c, debug);
		if (vm == NULL)
			continue;
		Session s = {0};
		session(vm, &s);
		cr_assert(!s.bad, "n=%llu", (unsigned long long)n);
		check_usable(vm, &c, (int)n);
		gale_free(vm);
	}
}
