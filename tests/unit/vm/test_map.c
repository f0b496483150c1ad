/* Ordered maps and the intern table through the internal API. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"
#include "vm/vm.h"

static Capture cap;
static GaleVM *vm;

static void setup(void) { vm = cap_vm(&cap, NULL); }
static void teardown(void) { gale_free(vm); }

TestSuite(map, .init = setup, .fini = teardown);

Test(map, insertion_order_survives_deletes_and_growth)
{
	ObjMap *m = map_new(vm);
	vm_push_root(vm, OBJ_VAL(m));
	for (int i = 0; i < 1000; i++)
		cr_assert(map_set(vm, m, INT_VAL(i), INT_VAL(i * 2)));
	for (int i = 0; i < 1000; i += 3)
		cr_assert(map_delete(m, INT_VAL(i), NULL));
	cr_assert_not(map_delete(m, INT_VAL(0), NULL), "already gone");
	for (int i = 1000; i < 3000; i++)
		map_set(vm, m, INT_VAL(i), INT_VAL(i * 2));
	uint32_t pos = 0;
	Value k, v;
	int64_t last = -1;
	uint32_t n = 0;
	while (map_next(m, &pos, &k, &v)) {
		cr_assert(AS_INT(k) > last, "keys come in insertion order");
		cr_assert(AS_INT(k) % 3 != 0 || AS_INT(k) >= 1000);
		cr_assert_eq(AS_INT(v), AS_INT(k) * 2);
		last = AS_INT(k);
		n++;
	}
	cr_assert_eq(n, m->count);
	cr_assert_eq(n, 1000 - 334 + 2000);
	vm_pop_root(vm);
}

Test(map, int_and_float_keys_are_one)
{
	ObjMap *m = map_new(vm);
	vm_push_root(vm, OBJ_VAL(m));
	map_set(vm, m, INT_VAL(1), INT_VAL(10));
	cr_assert_not(map_set(vm, m, FLOAT_VAL(1.0), INT_VAL(20)), "1.0 is the existing key 1");
	Value v;
	cr_assert(map_get(m, INT_VAL(1), &v));
	cr_assert_eq(AS_INT(v), 20);
	cr_assert_not(map_get(m, FLOAT_VAL(1.5), &v));
	cr_assert_eq(m->count, 1);
	vm_pop_root(vm);
}

Test(map, names_are_interned)
{
	ObjString *a = str_intern_new(vm, "hello", 5);
	vm_push_root(vm, OBJ_VAL(a));
	ObjString *b = str_intern_cstr(vm, "hello");
	cr_assert_eq(a, b);
	cr_assert(a->obj.flags & OBJF_INTERNED);
	cr_assert_eq(a->hash, str_hash("hello", 5));
	ObjString *c = str_intern_new(vm, "hellO", 5);
	cr_assert_neq(a, c);
	vm_pop_root(vm);
}

Test(map, dead_strings_leave_the_intern_table)
{
	uint32_t before = vm->string_count;
	for (int i = 0; i < 5000; i++) {
		char buf[32];
		snprintf(buf, sizeof buf, "transient-%d", i);
		str_intern_cstr(vm, buf);
	}
	cr_assert_geq(vm->string_count, before);
	gale_gc(vm);
	cr_assert_lt(vm->string_count, before + 100, "count %u before %u", vm->string_count, before);
	/* a rooted string survives */
	ObjString *keep = str_intern_cstr(vm, "kept-string");
	vm_push_root(vm, OBJ_VAL(keep));
	gale_gc(vm);
	cr_assert_eq(str_intern_cstr(vm, "kept-string"), keep);
	vm_pop_root(vm);
}
