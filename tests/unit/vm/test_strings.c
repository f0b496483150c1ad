/* Strings made at run time are plain objects, not interned: equality, map
 * keys and field names must go by content, and the intern table must hold
 * names only. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"
#include "vm/vm.h"

static Capture cap;
static GaleVM *vm;

static void setup(void) { vm = cap_vm(&cap, NULL); }
static void teardown(void) { gale_free(vm); }

TestSuite(strings, .init = setup, .fini = teardown);

Test(strings, plain_and_interned_are_equal_by_content)
{
	ObjString *p = str_new(vm, "hello", 5);
	vm_push_root(vm, OBJ_VAL(p));
	ObjString *n = str_intern_cstr(vm, "hello");
	vm_push_root(vm, OBJ_VAL(n));
	cr_assert_neq(p, n, "a run-time string is its own object");
	cr_assert_not(p->obj.flags & OBJF_INTERNED);
	cr_assert_eq(p->hash, 0, "a run-time string is hashed when first needed");
	cr_assert_eq(str_hash_of(p), str_hash("hello", 5));
	cr_assert_eq(p->hash, str_hash("hello", 5), "and keeps its hash");
	cr_assert(value_equal(OBJ_VAL(p), OBJ_VAL(n)));
	cr_assert(value_equal(OBJ_VAL(n), OBJ_VAL(p)));
	ObjString *q = str_new(vm, "hello", 5);
	cr_assert(value_equal(OBJ_VAL(p), OBJ_VAL(q)), "two plain strings");
	ObjString *r = str_new(vm, "hellO", 5);
	cr_assert_not(value_equal(OBJ_VAL(p), OBJ_VAL(r)));
	cr_assert_eq(str_intern(vm, p), n, "interning finds the name");
	vm->temp_count -= 2;
}

Test(strings, long_strings_hash_by_content)
{
	char a[200], b[200];
	for (int i = 0; i < 200; i++)
		a[i] = b[i] = (char)('a' + i % 26);
	b[150] = '#';
	for (size_t n = 0; n <= 200; n++) {
		cr_assert_eq(str_hash(a, n), str_hash(a, n));
		if (n > 150)
			cr_assert_neq(str_hash(a, n), str_hash(b, n), "length %zu", n);
	}
	ObjString *x = str_new(vm, a, 200);
	vm_push_root(vm, OBJ_VAL(x));
	ObjString *y = str_intern_new(vm, a, 200);
	cr_assert_eq(str_hash_of(x), y->hash);
	cr_assert(value_equal(OBJ_VAL(x), OBJ_VAL(y)));
	vm_pop_root(vm);
}

Test(strings, computed_string_equals_literal)
{
	cr_assert_eq(run(vm, "let a = \"ab\" + \"c\"\n"
	                     "print(a == \"abc\", \"abc\" == a, a != \"abc\", a == \"abd\")\n"
	                     "print(str(12) == \"12\", \"x${1}\" == \"x1\", [\"a\", \"b\"].join(\"\") == \"ab\")\n"
	                     "print(\"abcd\"[1:3] == \"bc\", [\"bc\"].contains(\"abcd\"[1:3]), [\"x\", \"bc\"].index(\"b\" + \"c\"))\n"),
	             GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "true true false false\ntrue true true\ntrue true 1\n");
}

Test(strings, map_keys_by_content)
{
	cr_assert_eq(run(vm, "let m = {\"lit\": 1}\n"
	                     "m[\"k\" + str(1)] = 2\n"
	                     "print(m[\"li\" + \"t\"], m[\"k1\"], m.get(\"k\" + \"1\"), m.has(\"l\" + \"it\"), m.has(\"k1\"))\n"
	                     "m[\"li\" + \"t\"] = 3\n"
	                     "m[\"k1\"] = 4\n"
	                     "print(m.len(), m[\"lit\"], m[\"k\" + str(1)])\n"
	                     "print(m.delete(\"k\" + \"1\"), m.has(\"k1\"), m.delete(\"lit\"), m.has(\"l\" + \"it\"), m.len())\n"
	                     "m[\"k\" + str(1)] = 5\n"
	                     "print(m[\"k1\"], m.keys())\n"),
	             GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "1 2 2 true true\n2 3 4\n4 false 3 false 0\n5 [\"k1\"]\n");
}

Test(strings, map_internals_by_content)
{
	ObjMap *m = map_new(vm);
	vm_push_root(vm, OBJ_VAL(m));
	/* many keys, so probes pass over colliding entries */
	for (int i = 0; i < 2000; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "key%d", i);
		ObjString *k = (i & 1) ? str_new(vm, buf, (size_t)n) : str_intern_new(vm, buf, (size_t)n);
		vm_push_root(vm, OBJ_VAL(k));
		cr_assert(map_set(vm, m, OBJ_VAL(k), INT_VAL(i)));
		vm_pop_root(vm);
	}
	for (int i = 0; i < 2000; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "key%d", i);
		/* the other kind of string than the one stored */
		ObjString *k = (i & 1) ? str_intern_new(vm, buf, (size_t)n) : str_new(vm, buf, (size_t)n);
		Value v;
		cr_assert(map_get(m, OBJ_VAL(k), &v), "%s", buf);
		cr_assert_eq(AS_INT(v), i);
		Value *slot = map_find_str(m, k);
		cr_assert_not_null(slot, "%s", buf);
		cr_assert_eq(AS_INT(*slot), i);
		cr_assert_not(map_set(vm, m, OBJ_VAL(k), INT_VAL(i + 1)), "an existing key");
	}
	cr_assert_eq(m->count, 2000);
	ObjString *gone = str_new(vm, "key7", 4);
	cr_assert(map_delete(m, OBJ_VAL(gone), NULL));
	cr_assert_null(map_find_str(m, str_intern_cstr(vm, "key7")));
	cr_assert_null(map_find_str(m, str_intern_cstr(vm, "key-none")));
	vm_pop_root(vm);
}

Test(strings, field_set_by_computed_name)
{
	/* no script path indexes an instance by a string; C can fill its field
	 * map with a run-time string, and obj.field must still find it */
	cr_assert_eq(run(vm, "class P { init() { self.a = 1 } }\nlet p = P()\n"), GALE_OK, "%s", cap.err);
	cr_assert(gale_get_global(vm, "p"));
	Value p = vm->sp[-1];
	cr_assert(IS_INSTANCE(p));
	char name[8] = "dy";
	strcat(name, "n");
	ObjString *k = str_new(vm, name, strlen(name));
	cr_assert_not(k->obj.flags & OBJF_INTERNED);
	vm_push_root(vm, OBJ_VAL(k));
	map_set(vm, AS_INSTANCE(p)->fields, OBJ_VAL(k), INT_VAL(7));
	vm_pop_root(vm);
	gale_pop(vm, 1);
	cr_assert_eq(run(vm, "print(p.dyn, p.a)\np.dyn = 8\nprint(p.dyn)\n"), GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "7 1\n8\n");
}

Test(strings, survive_collections_under_gcstress)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.debug = "gcstress=1";
	Capture c2;
	GaleVM *v = cap_vm(&c2, &cfg);
	cr_assert_not_null(v);
	const char *src = "let m = {}\nlet l = []\n"
	                  "for i in range(300) { m[\"k\" + str(i)] = \"v\" + str(i)\n l.push(\"s${i}\") }\n"
	                  "let ok = 0\n"
	                  "for i in range(300) { if m[\"k\" + str(i)] == \"v\" + str(i) and l[i] == \"s\" + str(i) { ok = ok + 1 } }\n"
	                  "print(ok, m[\"k299\"], m.has(\"k\" + \"300\"), l.join(\"\").len())\n";
	cr_assert_eq(run(v, src), GALE_OK, "%s", c2.err);
	cr_assert_str_eq(c2.out, "300 v299 false 1090\n");
	gale_free(v);
}

Test(strings, intern_table_holds_names_only)
{
	cr_assert_eq(run(vm, "let keep = []\n"), GALE_OK, "%s", cap.err);
	uint32_t count = vm->string_count, cap_before = vm->string_cap;
	/* 100k distinct live strings, made in every way a script can */
	cr_assert_eq(run(vm, "for i in range(25000) {\n"
	                     "  keep.push(\"a\" + str(i))\n"
	                     "  keep.push(\"b${i}\")\n"
	                     "  keep.push([\"c\", str(i)].join(\"\"))\n"
	                     "  keep.push((\"dd\" + str(i))[1:])\n"
	                     "}\nprint(keep.len())\n"),
	             GALE_OK, "%s", cap.err);
	cr_assert_str_eq(cap.out, "100000\n");
	cr_assert_lt(vm->string_count, count + 100, "count %u, was %u", vm->string_count, count);
	cr_assert_eq(vm->string_cap, cap_before);
}
