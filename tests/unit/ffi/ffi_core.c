/* The VM-independent FFI core: type table, struct layout, signatures, the
 * text signature parser (also under random input), scalar conversions, and
 * real libffi calls through the call interfaces it prepares. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "stdlib/ffi.h"

static const gffi_typeinfo *lookup(const char *name) { return gffi_type_lookup(name, strlen(name)); }

static size_t size_of(const char *name)
{
	const gffi_typeinfo *ti = lookup(name);
	cr_assert_not_null(ti, "type %s", name);
	return gffi_sizeof(ti->kind, NULL);
}

Test(types, spec_names_have_c_sizes)
{
	cr_expect_eq(size_of("int8"), 1);
	cr_expect_eq(size_of("uint8"), 1);
	cr_expect_eq(size_of("int16"), 2);
	cr_expect_eq(size_of("uint16"), 2);
	cr_expect_eq(size_of("int32"), 4);
	cr_expect_eq(size_of("uint32"), 4);
	cr_expect_eq(size_of("int64"), 8);
	cr_expect_eq(size_of("uint64"), 8);
	cr_expect_eq(size_of("int"), sizeof(int));
	cr_expect_eq(size_of("uint"), sizeof(unsigned));
	cr_expect_eq(size_of("long"), sizeof(long));
	cr_expect_eq(size_of("ulong"), sizeof(unsigned long));
	cr_expect_eq(size_of("size_t"), sizeof(size_t));
	cr_expect_eq(size_of("float"), sizeof(float));
	cr_expect_eq(size_of("double"), sizeof(double));
	cr_expect_eq(size_of("pointer"), sizeof(void *));
	cr_expect_eq(size_of("string"), sizeof(char *));
	cr_expect_eq(size_of("ssize_t"), sizeof(ssize_t));
	cr_expect_eq(size_of("short"), sizeof(short));
	cr_expect_eq(size_of("void"), 0);
}

Test(types, signedness_follows_c)
{
	cr_expect_eq(lookup("int")->kind, GFFI_INT32);
	cr_expect_eq(lookup("uint")->kind, GFFI_UINT32);
	cr_expect_eq(lookup("long")->kind, GFFI_INT64);
	cr_expect_eq(lookup("ulong")->kind, GFFI_UINT64);
	cr_expect_eq(lookup("size_t")->kind, GFFI_UINT64);
	cr_expect_eq(lookup("string")->kind, GFFI_STRING);
	cr_expect_eq(gffi_kind_type(GFFI_STRING), &ffi_type_pointer);
}

Test(types, unknown_names)
{
	cr_expect_null(lookup("notatype"));
	cr_expect_null(lookup("in"));
	cr_expect_null(lookup("int32x"));
	cr_expect_null(lookup("Int"));
	cr_expect_null(lookup(""));
	cr_expect_null(lookup("..."));
	cr_expect_null(gffi_type_lookup("int\0x", 5));
	cr_expect_null(gffi_type_lookup(NULL, 3));
	cr_expect_not_null(gffi_type_lookup("int32 trailing", 5));
	cr_expect_str_eq(gffi_kind_name(GFFI_UINT16), "uint16");
	cr_expect_str_eq(gffi_kind_name((gffi_kind)200), "?");
}

/* ---- structs ---- */

struct mixed { int8_t a; double b; int16_t c; };
struct small { uint8_t a; uint16_t b; uint8_t c; };
struct point { int32_t x, y; };
struct rect { struct point lo; struct point hi; char tag; };

static void add(gffi_struct *s, gffi_kind k)
{
	char err[GFFI_ERR_MAX];
	cr_assert(gffi_struct_add(s, k, NULL, err, sizeof err), "%s", err);
}

Test(structs, natural_layout_matches_the_compiler)
{
	gffi_struct s;
	char err[GFFI_ERR_MAX];
	gffi_struct_init(&s);
	add(&s, GFFI_INT8);
	add(&s, GFFI_DOUBLE);
	add(&s, GFFI_INT16);
	cr_assert(gffi_struct_finish(&s, err, sizeof err), "%s", err);
	cr_expect_eq(s.type.size, sizeof(struct mixed));
	cr_expect_eq(s.type.alignment, _Alignof(struct mixed));
	cr_expect_eq(s.offsets[0], offsetof(struct mixed, a));
	cr_expect_eq(s.offsets[1], offsetof(struct mixed, b));
	cr_expect_eq(s.offsets[2], offsetof(struct mixed, c));

	gffi_struct t;
	gffi_struct_init(&t);
	add(&t, GFFI_UINT8);
	add(&t, GFFI_UINT16);
	add(&t, GFFI_UINT8);
	cr_assert(gffi_struct_finish(&t, err, sizeof err));
	cr_expect_eq(t.type.size, sizeof(struct small));
	cr_expect_eq(t.offsets[1], offsetof(struct small, b));
	cr_expect_eq(t.offsets[2], offsetof(struct small, c));
}

Test(structs, nested)
{
	char err[GFFI_ERR_MAX];
	gffi_struct pt, r;
	gffi_struct_init(&pt);
	add(&pt, GFFI_INT32);
	add(&pt, GFFI_INT32);
	cr_assert(gffi_struct_finish(&pt, err, sizeof err));
	gffi_struct_init(&r);
	cr_assert(gffi_struct_add(&r, GFFI_STRUCT, &pt.type, err, sizeof err));
	cr_assert(gffi_struct_add(&r, GFFI_STRUCT, &pt.type, err, sizeof err));
	add(&r, GFFI_INT8);
	cr_assert(gffi_struct_finish(&r, err, sizeof err));
	cr_expect_eq(r.type.size, sizeof(struct rect));
	cr_expect_eq(r.offsets[1], offsetof(struct rect, hi));
	cr_expect_eq(r.offsets[2], offsetof(struct rect, tag));
	cr_expect_eq(gffi_struct_of(&r.type), &r);
	cr_expect_eq(gffi_sizeof(GFFI_STRUCT, &r.type), sizeof(struct rect));
	cr_expect_eq(gffi_alignof(GFFI_STRUCT, &r.type), _Alignof(struct rect));
}

Test(structs, misuse)
{
	char err[GFFI_ERR_MAX];
	gffi_struct s;
	gffi_struct_init(&s);
	cr_expect_not(gffi_struct_finish(&s, err, sizeof err));
	cr_expect(strstr(err, "at least one field") != NULL, "%s", err);
	cr_expect_not(gffi_struct_add(&s, GFFI_VOID, NULL, err, sizeof err));
	cr_expect(strstr(err, "void") != NULL, "%s", err);
	/* a struct not yet laid out cannot be a field */
	gffi_struct empty;
	gffi_struct_init(&empty);
	cr_expect_not(gffi_struct_add(&s, GFFI_STRUCT, &empty.type, err, sizeof err));
	cr_expect_not(gffi_struct_add(&s, GFFI_STRUCT, NULL, err, sizeof err));
	for (int i = 0; i < GFFI_MAX_FIELDS; i++)
		add(&s, GFFI_INT8);
	cr_expect_not(gffi_struct_add(&s, GFFI_INT8, NULL, err, sizeof err));
	cr_expect(strstr(err, "at most") != NULL, "%s", err);
	cr_assert(gffi_struct_finish(&s, err, sizeof err));
	cr_expect_eq(s.type.size, GFFI_MAX_FIELDS);
	cr_expect_eq(s.elements[GFFI_MAX_FIELDS], NULL);
}

/* ---- signatures ---- */

static bool parse(gffi_sig *sig, const char *text, char *err)
{
	return gffi_sig_parse(sig, text, strlen(text), err, GFFI_ERR_MAX);
}

Test(sig, parses_c_style_text)
{
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	cr_assert(parse(&sig, "size_t(string)", err), "%s", err);
	cr_expect_eq(sig.rkind, GFFI_UINT64);
	cr_expect_eq(sig.nargs, 1);
	cr_expect_eq(sig.kinds[0], GFFI_STRING);
	cr_expect_not(sig.variadic);
	cr_expect(sig.prepared);
	cr_expect_eq(sig.cif.nargs, 1);
	cr_expect_eq(sig.cif.arg_types, sig.atypes);

	cr_assert(parse(&sig, "  int ( pointer ,size_t,\tstring , ... ) ", err), "%s", err);
	cr_expect_eq(sig.rkind, GFFI_INT32);
	cr_expect_eq(sig.nargs, 3);
	cr_expect(sig.variadic);
	cr_expect_not(sig.prepared);

	cr_assert(parse(&sig, "double(void)", err), "%s", err);
	cr_expect_eq(sig.nargs, 0);
	cr_assert(parse(&sig, "void()", err), "%s", err);
	cr_expect_eq(sig.rkind, GFFI_VOID);
	cr_assert(parse(&sig, "int(...)", err), "%s", err);
	cr_expect(sig.variadic);
	cr_expect_eq(sig.nargs, 0);
}

Test(sig, rejects_bad_text_with_a_message)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"", "expected a type name"},
		{"int", "expected '('"},
		{"int(", "expected a type name"},
		{"int(int", "expected ',' or ')'"},
		{"int(int,)", "expected a type name"},
		{"int(int) x", "unexpected text"},
		{"notatype(int)", "unknown type 'notatype'"},
		{"int(notatype)", "unknown type 'notatype'"},
		{"int(void, int)", "void is not an argument type"},
		{"int(int, void)", "void is not an argument type"},
		{"int(..., int)", "'...' must come last"},
		{"int(..., ...)", "given twice"},
		{"int(..)", "expected a type name"},
		{"(int)", "expected a type name"},
		{"int((int))", "expected a type name"},
		{"9nt(int)", "expected a type name"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		gffi_sig sig;
		char err[GFFI_ERR_MAX] = "";
		cr_expect_not(parse(&sig, bad[i].text, err), "accepted %s", bad[i].text);
		cr_expect(strstr(err, bad[i].want) != NULL, "%s: got '%s', want '%s'", bad[i].text, err,
		          bad[i].want);
	}
}

Test(sig, argument_limit)
{
	char text[1024] = "int(";
	for (int i = 0; i < GFFI_MAX_ARGS; i++)
		strcat(text, i ? ",int" : "int");
	strcat(text, ")");
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	cr_expect(parse(&sig, text, err), "%s", err);
	cr_expect_eq(sig.nargs, GFFI_MAX_ARGS);
	text[strlen(text) - 1] = '\0';
	strcat(text, ",int)");
	cr_expect_not(parse(&sig, text, err));
	cr_expect(strstr(err, "at most") != NULL, "%s", err);
}

Test(sig, builder_rules)
{
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	gffi_sig_init(&sig);
	cr_expect_eq(sig.rkind, GFFI_VOID);
	cr_expect_not(gffi_sig_set_ret(&sig, GFFI_STRUCT, NULL, err, sizeof err));
	cr_expect_not(gffi_sig_add_arg(&sig, GFFI_VOID, NULL, err, sizeof err));
	cr_expect_not(gffi_sig_add_arg(&sig, (gffi_kind)99, NULL, err, sizeof err));
	cr_expect(gffi_sig_add_arg(&sig, GFFI_DOUBLE, NULL, err, sizeof err));
	cr_expect_eq(sig.atypes[0], &ffi_type_double);
	cr_expect(gffi_sig_set_variadic(&sig, err, sizeof err));
	cr_expect_not(gffi_sig_add_arg(&sig, GFFI_INT8, NULL, err, sizeof err));
	/* messages go nowhere when there is no buffer, without crashing */
	cr_expect_not(gffi_sig_add_arg(&sig, GFFI_INT8, NULL, NULL, 0));
	cr_expect_not(gffi_sig_parse(&sig, "x", 1, NULL, 0));
	cr_expect_not(gffi_sig_parse(&sig, NULL, 5, err, sizeof err));
}

/* The fuzzing entry point: any bytes give false with a message or true
 * with a consistent signature. A fixed seed keeps the test repeatable. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void check_any(const char *buf, size_t n)
{
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	err[0] = '\0';
	if (gffi_sig_parse(&sig, buf, n, err, sizeof err)) {
		cr_assert(sig.nargs <= GFFI_MAX_ARGS);
		cr_assert(sig.rkind < GFFI_KIND_COUNT && sig.rkind != GFFI_STRUCT);
		for (int i = 0; i < sig.nargs; i++)
			cr_assert(sig.kinds[i] != GFFI_VOID && sig.atypes[i] != NULL);
		cr_assert(sig.variadic || sig.prepared);
	} else {
		cr_assert(err[0] != '\0', "no message for a rejected input");
		cr_assert(memchr(err, '\0', sizeof err) != NULL);
	}
}

Test(sig, random_bytes_never_crash)
{
	static const char alphabet[] = "int(),. voidstrgpuled8136_42...\t\n\0\xff";
	char buf[96];
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rng() % sizeof buf;
		bool raw = iter % 4 == 0;
		for (size_t i = 0; i < n; i++)
			buf[i] = raw ? (char)rng() : alphabet[rng() % (sizeof alphabet - 1)];
		check_any(buf, n);
	}
}

Test(sig, mutated_signatures_never_crash)
{
	static const char *seeds[] = {"int(pointer, size_t, string, ...)", "void(void)",
	                              "double(double, double)", "uint64(int8,uint8,int16,uint16)"};
	char buf[64];
	for (int iter = 0; iter < 20000; iter++) {
		const char *s = seeds[iter % 4];
		size_t n = strlen(s);
		memcpy(buf, s, n);
		int edits = 1 + (int)(rng() % 3);
		for (int e = 0; e < edits; e++) {
			size_t at = rng() % n;
			switch (rng() % 3) {
			case 0: buf[at] = (char)rng(); break;                    /* replace */
			case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break; /* delete */
			default: n = at; break;                                  /* truncate */
			}
			if (n == 0)
				break;
		}
		check_any(buf, n);
	}
}

/* ---- scalars ---- */

Test(scalars, range_checks_at_the_edges)
{
	cr_expect(gffi_int_fits(GFFI_INT8, -128));
	cr_expect(gffi_int_fits(GFFI_INT8, 127));
	cr_expect_not(gffi_int_fits(GFFI_INT8, 128));
	cr_expect_not(gffi_int_fits(GFFI_INT8, -129));
	cr_expect(gffi_int_fits(GFFI_UINT8, 255));
	cr_expect_not(gffi_int_fits(GFFI_UINT8, 256));
	cr_expect_not(gffi_int_fits(GFFI_UINT8, -1));
	cr_expect(gffi_int_fits(GFFI_INT16, -32768));
	cr_expect_not(gffi_int_fits(GFFI_INT16, 32768));
	cr_expect(gffi_int_fits(GFFI_UINT16, 65535));
	cr_expect_not(gffi_int_fits(GFFI_UINT16, 65536));
	cr_expect(gffi_int_fits(GFFI_INT32, INT32_MIN));
	cr_expect_not(gffi_int_fits(GFFI_INT32, (int64_t)INT32_MAX + 1));
	cr_expect(gffi_int_fits(GFFI_UINT32, UINT32_MAX));
	cr_expect_not(gffi_int_fits(GFFI_UINT32, (int64_t)UINT32_MAX + 1));
	cr_expect_not(gffi_int_fits(GFFI_UINT32, -1));
	cr_expect(gffi_int_fits(GFFI_INT64, INT64_MIN));
	cr_expect(gffi_int_fits(GFFI_UINT64, INT64_MAX));
	cr_expect_not(gffi_int_fits(GFFI_UINT64, -1));
	cr_expect_not(gffi_int_fits(GFFI_DOUBLE, 0));
}

Test(scalars, store_and_load_round_trip_unaligned)
{
	uint8_t mem[32] = {0};
	static const gffi_kind ints[] = {GFFI_INT8, GFFI_UINT8, GFFI_INT16, GFFI_UINT16,
	                                 GFFI_INT32, GFFI_UINT32, GFFI_INT64, GFFI_UINT64};
	static const int64_t vals[] = {-100, 200, -30000, 60000, -2000000000, 4000000000,
	                               INT64_MIN, INT64_MAX};
	for (int i = 0; i < 8; i++) {
		gffi_store_int(ints[i], mem + 3, vals[i]);
		cr_expect_eq(gffi_load_int(ints[i], mem + 3), vals[i], "kind %d", ints[i]);
	}
	/* the neighbouring bytes are untouched by a narrow store */
	memset(mem, 0xAA, sizeof mem);
	gffi_store_int(GFFI_INT16, mem + 5, 0x1234);
	cr_expect_eq(mem[4], 0xAA);
	cr_expect_eq(mem[7], 0xAA);
	/* a uint64 above INT64_MAX keeps its bits */
	memset(mem, 0xFF, 8);
	cr_expect_eq(gffi_load_int(GFFI_UINT64, mem), -1);
	gffi_store_float(GFFI_FLOAT, mem + 1, 1.5);
	cr_expect_eq(gffi_load_float(GFFI_FLOAT, mem + 1), 1.5);
	gffi_store_float(GFFI_DOUBLE, mem + 9, -2.25);
	cr_expect_eq(gffi_load_float(GFFI_DOUBLE, mem + 9), -2.25);
}

Test(scalars, return_slots_are_widened)
{
	ffi_arg slot;
	gffi_store_ret_int(GFFI_INT8, &slot, -1);
	cr_expect_eq((ffi_sarg)slot, -1, "int8 sign-extended to the full slot");
	gffi_store_ret_int(GFFI_UINT8, &slot, 255);
	cr_expect_eq(slot, 255u);
	gffi_store_ret_int(GFFI_INT32, &slot, -5);
	cr_expect_eq((ffi_sarg)slot, -5);
	cr_expect_eq(gffi_load_ret_int(GFFI_INT32, &slot), -5);
	/* garbage in the upper bytes is ignored when loading a narrow result */
	slot = 0xDEADBEEF000000FFull;
	cr_expect_eq(gffi_load_ret_int(GFFI_INT8, &slot), -1);
	cr_expect_eq(gffi_load_ret_int(GFFI_UINT8, &slot), 255);
	cr_expect_eq(gffi_load_ret_int(GFFI_UINT16, &slot), 255);
	cr_expect_eq(gffi_ret_size(GFFI_INT8, NULL), sizeof(ffi_arg));
	cr_expect_eq(gffi_ret_size(GFFI_VOID, NULL), sizeof(ffi_arg));
}

/* ---- real calls through the prepared interfaces ---- */

static int16_t add16(int16_t a, int8_t b) { return (int16_t)(a + b); }
static double mix(float a, double b, int64_t c) { return a + b + (double)c; }
static struct mixed make_mixed(int8_t a, double b) { return (struct mixed){a, b, (int16_t)(a * 2)}; }
static double sum_mixed(struct mixed m) { return m.a + m.b + m.c; }

Test(call, fixed_signatures)
{
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	cr_assert(parse(&sig, "int16(int16, int8)", err), "%s", err);
	int16_t a = -300;
	int8_t b = -7;
	void *args[] = {&a, &b};
	ffi_arg r;
	ffi_call(&sig.cif, FFI_FN(add16), &r, args);
	cr_expect_eq(gffi_load_ret_int(GFFI_INT16, &r), -307);

	cr_assert(parse(&sig, "double(float, double, int64)", err), "%s", err);
	float f = 0.5f;
	double d = 0.25;
	int64_t c = 1LL << 40;
	void *args2[] = {&f, &d, &c};
	double dr;
	ffi_call(&sig.cif, FFI_FN(mix), &dr, args2);
	cr_expect_eq(dr, 0.75 + (double)(1LL << 40));
}

Test(call, copied_sig_is_finished_again)
{
	gffi_sig a, b;
	char err[GFFI_ERR_MAX];
	cr_assert(parse(&a, "int16(int16, int8)", err));
	memcpy(&b, &a, sizeof b);
	memset(&a, 0, sizeof a); /* the original's arrays are gone */
	cr_assert(gffi_sig_finish(&b, err, sizeof err));
	cr_expect_eq(b.cif.arg_types, b.atypes);
	int16_t x = 1000;
	int8_t y = 24;
	void *args[] = {&x, &y};
	ffi_arg r;
	ffi_call(&b.cif, FFI_FN(add16), &r, args);
	cr_expect_eq(gffi_load_ret_int(GFFI_INT16, &r), 1024);
}

Test(call, structs_by_value)
{
	char err[GFFI_ERR_MAX];
	gffi_struct st;
	gffi_struct_init(&st);
	add(&st, GFFI_INT8);
	add(&st, GFFI_DOUBLE);
	add(&st, GFFI_INT16);
	cr_assert(gffi_struct_finish(&st, err, sizeof err));

	gffi_sig sig;
	gffi_sig_init(&sig);
	cr_assert(gffi_sig_set_ret(&sig, GFFI_STRUCT, &st.type, err, sizeof err));
	cr_assert(gffi_sig_add_arg(&sig, GFFI_INT8, NULL, err, sizeof err));
	cr_assert(gffi_sig_add_arg(&sig, GFFI_DOUBLE, NULL, err, sizeof err));
	cr_assert(gffi_sig_finish(&sig, err, sizeof err), "%s", err);
	int8_t a = 5;
	double b = 1.5;
	void *args[] = {&a, &b};
	uint8_t out[64];
	ffi_call(&sig.cif, FFI_FN(make_mixed), out, args);
	cr_expect_eq(gffi_load_int(GFFI_INT8, out + st.offsets[0]), 5);
	cr_expect_eq(gffi_load_float(GFFI_DOUBLE, out + st.offsets[1]), 1.5);
	cr_expect_eq(gffi_load_int(GFFI_INT16, out + st.offsets[2]), 10);

	gffi_sig s2;
	gffi_sig_init(&s2);
	cr_assert(gffi_sig_set_ret(&s2, GFFI_DOUBLE, NULL, err, sizeof err));
	cr_assert(gffi_sig_add_arg(&s2, GFFI_STRUCT, &st.type, err, sizeof err));
	cr_assert(gffi_sig_finish(&s2, err, sizeof err));
	void *args2[] = {out};
	double r;
	ffi_call(&s2.cif, FFI_FN(sum_mixed), &r, args2);
	cr_expect_eq(r, 16.5);
}

Test(call, variadic_per_call_cif)
{
	gffi_sig sig;
	char err[GFFI_ERR_MAX];
	cr_assert(parse(&sig, "int(pointer, size_t, string, ...)", err), "%s", err);
	ffi_cif cif;
	ffi_type *all[GFFI_MAX_ARGS];
	ffi_type *extra[] = {&ffi_type_sint64, &ffi_type_double, &ffi_type_pointer};
	cr_assert(gffi_sig_prepare_var(&sig, &cif, all, extra, 3, err, sizeof err), "%s", err);
	char buf[64];
	char *bp = buf;
	size_t n = sizeof buf;
	const char *fmt = "%ld|%.2f|%s";
	int64_t i = -42;
	double d = 2.5;
	const char *s = "ok";
	void *args[] = {&bp, &n, &fmt, &i, &d, &s};
	ffi_arg r;
	ffi_call(&cif, FFI_FN(snprintf), &r, args);
	cr_expect_str_eq(buf, "-42|2.50|ok");
	cr_expect_eq(gffi_load_ret_int(GFFI_INT32, &r), 11);

	ffi_type *many[GFFI_MAX_ARGS];
	for (int k = 0; k < GFFI_MAX_ARGS; k++)
		many[k] = &ffi_type_sint64;
	cr_expect_not(gffi_sig_prepare_var(&sig, &cif, all, many, GFFI_MAX_ARGS - 2, err, sizeof err));
	cr_expect(strstr(err, "at most") != NULL, "%s", err);
}
