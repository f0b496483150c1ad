/*
 * mod_math.c — the math module.
 *
 * floor, ceil and round give ints (a float outside the int range, inf or nan
 * is an error rather than an undefined conversion); abs, min and max keep the
 * type of their argument. random uses xoshiro256** seeded by splitmix64; each
 * VM has its own state, so VMs never share or disturb one sequence.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stdlib/stdlib.h"

/* ---- conversions ---- */

/* A double that is integral and within int64 range, as an int. */
static int64_t float_to_int(GaleVM *vm, double d, const char *fname)
{
	if (isnan(d) || isinf(d))
		vm_error(vm, "%s: cannot convert %s to int", fname, isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
	/* 2^63 is exactly representable; every double below it fits. */
	if (d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		vm_error(vm, "%s: %g is out of the int range", fname, d);
	return (int64_t)d;
}

static void math_floor(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.floor");
	*ret = IS_INT(args[0]) ? args[0] : INT_VAL(float_to_int(vm, floor(AS_FLOAT(args[0])), "math.floor"));
}

static void math_ceil(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.ceil");
	*ret = IS_INT(args[0]) ? args[0] : INT_VAL(float_to_int(vm, ceil(AS_FLOAT(args[0])), "math.ceil"));
}

static void math_round(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.round");
	/* C's round() takes halves away from zero, as the language asks. */
	*ret = IS_INT(args[0]) ? args[0] : INT_VAL(float_to_int(vm, round(AS_FLOAT(args[0])), "math.round"));
}

static void math_trunc(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.trunc");
	*ret = IS_INT(args[0]) ? args[0] : INT_VAL(float_to_int(vm, trunc(AS_FLOAT(args[0])), "math.trunc"));
}

static void math_abs(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.abs");
	if (IS_INT(args[0])) {
		/* Wraps like the rest of int arithmetic: abs(minint) == minint. */
		uint64_t u = (uint64_t)AS_INT(args[0]);
		*ret = INT_VAL(AS_INT(args[0]) < 0 ? (int64_t)(0 - u) : AS_INT(args[0]));
	} else {
		*ret = FLOAT_VAL(fabs(AS_FLOAT(args[0])));
	}
}

/* ---- float functions of one or two numbers ---- */

#define MATH_FN1(cname, expr)                                               \
	static void math_##cname(GaleVM *vm, int argc, Value *args, Value *ret) \
	{                                                                       \
		(void)argc;                                                         \
		double x = native_number(vm, args, 0, "math." #cname);              \
		*ret = FLOAT_VAL(expr);                                             \
	}

MATH_FN1(sqrt, sqrt(x))
MATH_FN1(sin, sin(x))
MATH_FN1(cos, cos(x))
MATH_FN1(tan, tan(x))
MATH_FN1(asin, asin(x))
MATH_FN1(acos, acos(x))
MATH_FN1(atan, atan(x))
MATH_FN1(exp, exp(x))
MATH_FN1(log2, log2(x))
MATH_FN1(log10, log10(x))

static void math_atan2(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	double y = native_number(vm, args, 0, "math.atan2");
	double x = native_number(vm, args, 1, "math.atan2");
	*ret = FLOAT_VAL(atan2(y, x));
}

static void math_pow(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	double x = native_number(vm, args, 0, "math.pow");
	double y = native_number(vm, args, 1, "math.pow");
	*ret = FLOAT_VAL(pow(x, y));
}

static void math_hypot(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	double x = native_number(vm, args, 0, "math.hypot");
	double y = native_number(vm, args, 1, "math.hypot");
	*ret = FLOAT_VAL(hypot(x, y));
}

/* log(x) is the natural logarithm; log(x, base) divides by log(base). */
static void math_log(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc < 1 || argc > 2)
		vm_error(vm, "math.log: expected 1 or 2 arguments, got %d", argc);
	double x = native_number(vm, args, 0, "math.log");
	if (argc == 1) {
		*ret = FLOAT_VAL(log(x));
		return;
	}
	double base = native_number(vm, args, 1, "math.log");
	*ret = FLOAT_VAL(base == 2.0 ? log2(x) : base == 10.0 ? log10(x) : log(x) / log(base));
}

static void math_isnan(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.isnan");
	*ret = BOOL_VAL(IS_FLOAT(args[0]) && isnan(AS_FLOAT(args[0])));
}

static void math_isinf(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	native_number(vm, args, 0, "math.isinf");
	*ret = BOOL_VAL(IS_FLOAT(args[0]) && isinf(AS_FLOAT(args[0])));
}

/* ---- min and max ---- */

/* a < b for two numbers or two strings (bytewise), as the < operator does. */
static bool less_than(GaleVM *vm, Value a, Value b, const char *fname)
{
	if (IS_NUMBER(a) && IS_NUMBER(b)) {
		if (IS_INT(a) && IS_INT(b))
			return AS_INT(a) < AS_INT(b);
		return AS_NUMBER(a) < AS_NUMBER(b);
	}
	if (IS_STRING(a) && IS_STRING(b)) {
		ObjString *x = AS_STRING(a), *y = AS_STRING(b);
		size_t n = x->len < y->len ? x->len : y->len;
		int c = memcmp(x->chars, y->chars, n);
		return c < 0 || (c == 0 && x->len < y->len);
	}
	vm_error(vm, "%s: cannot compare %s with %s", fname, value_type_name(a), value_type_name(b));
}

/* The i-th candidate: an argument, or an item of the one list argument. */
static Value extreme_at(const Value *args, const ObjList *l, int i)
{
	return l != NULL ? list_get(l, (uint32_t)i) : args[i];
}

/* min(a, b, ...) or min(list): the values themselves, not converted. */
static Value extreme(GaleVM *vm, int argc, Value *args, bool want_max, const char *fname)
{
	const ObjList *l = NULL;
	int n = argc;
	if (argc == 1 && IS_LIST(args[0])) {
		l = AS_LIST(args[0]);
		n = (int)l->count;
	}
	if (n == 0)
		vm_error(vm, "%s: expected at least one value", fname);
	Value best = extreme_at(args, l, 0);
	if (!IS_NUMBER(best) && !IS_STRING(best))
		native_type_error(vm, fname, "a number or string", best);
	for (int i = 1; i < n; i++) {
		Value v = extreme_at(args, l, i);
		bool comparable = (IS_NUMBER(best) && IS_NUMBER(v)) || (IS_STRING(best) && IS_STRING(v));
		if (!comparable)
			vm_error(vm, "%s: cannot compare %s with %s", fname, value_type_name(best),
			         value_type_name(v));
		bool better = want_max ? less_than(vm, best, v, fname) : less_than(vm, v, best, fname);
		if (better)
			best = v;
	}
	return best;
}

static void math_min(GaleVM *vm, int argc, Value *args, Value *ret)
{
	*ret = extreme(vm, argc, args, false, "math.min");
}

static void math_max(GaleVM *vm, int argc, Value *args, Value *ret)
{
	*ret = extreme(vm, argc, args, true, "math.max");
}

/* ---- random ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(GaleVM *vm, uint64_t seed)
{
	/* splitmix64 spreads any seed, 0 included, over the whole state. */
	for (int i = 0; i < 4; i++)
		vm->rng[i] = splitmix64(&seed);
	vm->rng_seeded = true;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(GaleVM *vm)
{
	uint64_t *rng = vm->rng;
	if (!vm->rng_seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		rng_seed(vm, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40)
		             ^ (uint64_t)(uintptr_t)vm);
	}
	uint64_t result = rotl(rng[1] * 5, 7) * 9;
	uint64_t t = rng[1] << 17;
	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return result;
}

/* Uniform in [0, n) without modulo bias (Lemire's method would do too; this
 * rejection loop is simpler and runs twice at worst on average). */
static uint64_t rng_below(GaleVM *vm, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rng_next(vm);
	while (x >= limit);
	return x % n;
}

static void math_random(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc == 0) {
		/* 53 random bits: every double in [0, 1) on the 2^-53 grid. */
		*ret = FLOAT_VAL((double)(rng_next(vm) >> 11) * 0x1.0p-53);
		return;
	}
	if (argc != 2)
		vm_error(vm, "math.random: expected 0 or 2 arguments, got %d", argc);
	int64_t a = native_int(vm, args, 0, "math.random");
	int64_t b = native_int(vm, args, 1, "math.random");
	if (a > b)
		vm_error(vm, "math.random: empty interval [%lld, %lld]", (long long)a, (long long)b);
	uint64_t span = (uint64_t)b - (uint64_t)a;
	uint64_t off = span == UINT64_MAX ? rng_next(vm) : rng_below(vm, span + 1);
	*ret = INT_VAL((int64_t)((uint64_t)a + off));
}

static void math_seed(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	if (IS_FLOAT(args[0])) {
		double d = AS_FLOAT(args[0]);
		uint64_t bits;
		memcpy(&bits, &d, sizeof bits);
		rng_seed(vm, bits);
		return;
	}
	rng_seed(vm, (uint64_t)native_int(vm, args, 0, "math.seed"));
}

static const vm_reg math_funcs[] = {
	{"sqrt", math_sqrt, 1, "sqrt(x): square root, a float"},
	{"abs", math_abs, 1, "abs(x): absolute value, same type as x"},
	{"floor", math_floor, 1, "floor(x): largest int <= x"},
	{"ceil", math_ceil, 1, "ceil(x): smallest int >= x"},
	{"round", math_round, 1, "round(x): nearest int, halves away from zero"},
	{"trunc", math_trunc, 1, "trunc(x): x without its fraction, an int"},
	{"sin", math_sin, 1, "sin(x): sine of x radians"},
	{"cos", math_cos, 1, "cos(x): cosine of x radians"},
	{"tan", math_tan, 1, "tan(x): tangent of x radians"},
	{"asin", math_asin, 1, "asin(x): arc sine in radians"},
	{"acos", math_acos, 1, "acos(x): arc cosine in radians"},
	{"atan", math_atan, 1, "atan(x): arc tangent in radians"},
	{"atan2", math_atan2, 2, "atan2(y, x): angle of the point (x, y) in radians"},
	{"exp", math_exp, 1, "exp(x): e to the power x"},
	{"log", math_log, -1, "log(x, base?): natural logarithm, or to the given base"},
	{"log2", math_log2, 1, "log2(x): base-2 logarithm"},
	{"log10", math_log10, 1, "log10(x): base-10 logarithm"},
	{"pow", math_pow, 2, "pow(x, y): x to the power y, a float"},
	{"hypot", math_hypot, 2, "hypot(x, y): sqrt(x*x + y*y) without overflow"},
	{"min", math_min, -1, "min(a, b, ...) or min(list): smallest value"},
	{"max", math_max, -1, "max(a, b, ...) or max(list): largest value"},
	{"random", math_random, -1, "random() float in [0,1); random(a, b) int in [a, b]"},
	{"seed", math_seed, 1, "seed(n): restart random() from seed n"},
	{"isnan", math_isnan, 1, "isnan(x): true when x is nan"},
	{"isinf", math_isinf, 1, "isinf(x): true when x is inf or -inf"},
	{NULL, NULL, 0, NULL},
};

void stdlib_open_math(GaleVM *vm)
{
	ObjModule *m = vm_define_module(vm, "math", math_funcs);
	vm_module_set_value(vm, m, "pi", FLOAT_VAL(M_PI));
	vm_module_set_value(vm, m, "e", FLOAT_VAL(M_E));
	vm_module_set_value(vm, m, "inf", FLOAT_VAL(INFINITY));
	vm_module_set_value(vm, m, "nan", FLOAT_VAL(NAN));
	vm_module_set_value(vm, m, "maxint", INT_VAL(INT64_MAX));
	vm_module_set_value(vm, m, "minint", INT_VAL(INT64_MIN));
}
