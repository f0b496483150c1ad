/* List items are Slots: Values packed into 8 bytes. Every value must come
 * back as it went in, ints too wide to pack go into boxes, and a box is
 * allocated without starting a collection, so an unrooted list being
 * filled survives. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "vm/vm.h"

static Capture cap;
static GaleVM *vm;

static void setup(void) { vm = cap_vm(&cap, NULL); }
static void teardown(void) { gale_free(vm); }

TestSuite(slots, .init = setup, .fini = teardown);

static Value round_trip(Value v)
{
	Slot s = 0;
	cr_assert(slot_pack(v, &s), "packable");
	return slot_value(s);
}

static double from_bits(uint64_t b)
{
	double f;
	memcpy(&f, &b, sizeof f);
	return f;
}

Test(slots, small_values_round_trip)
{
	cr_assert(IS_NIL(round_trip(NIL_VAL)));
	cr_assert(IS_UNDEF(round_trip(UNDEF_VAL)));
	Value t = round_trip(BOOL_VAL(true)), f = round_trip(BOOL_VAL(false));
	cr_assert(IS_BOOL(t) && AS_BOOL(t));
	cr_assert(IS_BOOL(f) && !AS_BOOL(f));
	const int64_t ints[] = {0, 1, -1, 42, ((int64_t)1 << 47) - 1, -((int64_t)1 << 47)};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		Value v = round_trip(INT_VAL(ints[i]));
		cr_assert(IS_INT(v));
		cr_assert_eq(AS_INT(v), ints[i]);
	}
	const double floats[] = {0.0, -0.0, 1.5, -2.25, 1e308, -1e-308, INFINITY, -INFINITY};
	for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
		Value v = round_trip(FLOAT_VAL(floats[i]));
		cr_assert(IS_FLOAT(v));
		cr_assert_eq(value_float_bits(AS_FLOAT(v)), value_float_bits(floats[i]), "bits of %g", floats[i]);
	}
	ObjString *s = str_cstr(vm, "x");
	Value o = round_trip(OBJ_VAL(s));
	cr_assert(IS_OBJ(o));
	cr_assert_eq(AS_OBJ(o), (Obj *)s);
}

Test(slots, nans_stay_nans)
{
	/* the quiet NaNs arithmetic makes keep their bits; a negative NaN whose
	 * payload reaches the tags becomes the plain negative quiet NaN */
	const uint64_t kept[] = {0x7FF8000000000000u, 0xFFF8000000000000u, 0x7FFFFFFFFFFFFFFFu};
	for (size_t i = 0; i < 3; i++) {
		Value v = round_trip(FLOAT_VAL(from_bits(kept[i])));
		cr_assert(IS_FLOAT(v));
		cr_assert_eq(value_float_bits(AS_FLOAT(v)), kept[i]);
	}
	const uint64_t clash[] = {0xFFF9000000000000u, 0xFFFA000000000001u, 0xFFFC123456789ABCu, 0xFFFFFFFFFFFFFFFFu};
	for (size_t i = 0; i < 4; i++) {
		Value v = round_trip(FLOAT_VAL(from_bits(clash[i])));
		cr_assert(IS_FLOAT(v), "a clashing NaN is still a float");
		cr_assert(isnan(AS_FLOAT(v)));
		cr_assert_eq(value_float_bits(AS_FLOAT(v)), SLOT_NAN);
	}
}

Test(slots, wide_ints_are_boxed)
{
	const int64_t wide[] = {(int64_t)1 << 47, -((int64_t)1 << 47) - 1, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < 4; i++) {
		Slot s;
		cr_assert_not(slot_pack(INT_VAL(wide[i]), &s), "%ld needs a box", (long)wide[i]);
		s = slot_of(vm, INT_VAL(wide[i]));
		cr_assert_geq(s, SLOT_BOX);
		Value v = slot_value(s);
		cr_assert(IS_INT(v));
		cr_assert_eq(AS_INT(v), wide[i]);
	}
}

Test(slots, pairs_take_24_bytes)
{
	ObjList *l = list_new(vm, 2);
	cr_assert(l->obj.flags & OBJF_INLINE_ITEMS);
	cr_assert_eq(gcObjectSize(vm->rt, l), 24);
	cr_assert_eq(list_cap(l), 2);
}

Test(slots, boxing_never_collects_the_unrooted_list)
{
	/* gcstress=1: every allocation that may collect does */
	vm->rt->debug.gcstress = 1;
	uint32_t before = vm->rt->memstats.numgc;
	ObjList *l = list_new(vm, 3);
	cr_assert_eq(vm->rt->memstats.numgc, before + 1, "the list's own allocation collects");
	for (uint32_t i = 0; i < 3; i++)
		list_set(vm, l, i, INT_VAL(INT64_MAX - (int64_t)i));
	cr_assert_eq(vm->rt->memstats.numgc, before + 1, "the three boxes did not collect");
	l->count = 3;
	vm_push_root(vm, OBJ_VAL(l));
	gale_gc(vm);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(AS_INT(list_get(l, i)), INT64_MAX - (int64_t)i, "box %u survived", i);
	vm_pop_root(vm);
	vm->rt->debug.gcstress = 0;
}
