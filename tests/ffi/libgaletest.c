/*
 * libgaletest.c — a small C library the FFI script tests call: every scalar
 * type in and out, strings, pointers, structs by value, callbacks of several
 * signatures and variadic functions. Built as build/libgaletest.so.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- scalars: each type in and out ---- */

EXPORT int8_t gt_add_i8(int8_t a, int8_t b) { return (int8_t)(a + b); }
EXPORT uint8_t gt_add_u8(uint8_t a, uint8_t b) { return (uint8_t)(a + b); }
EXPORT int16_t gt_add_i16(int16_t a, int16_t b) { return (int16_t)(a + b); }
EXPORT uint16_t gt_add_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }
EXPORT int32_t gt_add_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
EXPORT uint32_t gt_add_u32(uint32_t a, uint32_t b) { return a + b; }
EXPORT int64_t gt_add_i64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
EXPORT uint64_t gt_add_u64(uint64_t a, uint64_t b) { return a + b; }
EXPORT int gt_add_int(int a, int b) { return a + b; }
EXPORT unsigned gt_add_uint(unsigned a, unsigned b) { return a + b; }
EXPORT long gt_add_long(long a, long b) { return a + b; }
EXPORT unsigned long gt_add_ulong(unsigned long a, unsigned long b) { return a + b; }
EXPORT size_t gt_add_size(size_t a, size_t b) { return a + b; }
EXPORT float gt_mul_float(float a, float b) { return a * b; }
EXPORT double gt_mul_double(double a, double b) { return a * b; }

EXPORT int8_t gt_neg_i8(int8_t a) { return (int8_t)-a; }
EXPORT uint8_t gt_u8_max(void) { return UINT8_MAX; }
EXPORT int16_t gt_i16_min(void) { return INT16_MIN; }
EXPORT uint16_t gt_u16_max(void) { return UINT16_MAX; }
EXPORT int32_t gt_i32_min(void) { return INT32_MIN; }
EXPORT uint32_t gt_u32_max(void) { return UINT32_MAX; }
EXPORT int64_t gt_i64_min(void) { return INT64_MIN; }
EXPORT uint64_t gt_u64_max(void) { return UINT64_MAX; }
EXPORT void gt_nothing(void) {}

/* Arguments of every width at once, and more than fit in registers. */
EXPORT double gt_mix(int8_t a, uint16_t b, int32_t c, int64_t d, float e, double f)
{
	return a + b + c + (double)d + e + f;
}

EXPORT int64_t gt_sum12(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f,
                        int64_t g, int64_t h, int64_t i, int64_t j, int64_t k, int64_t l)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j +
	       11 * k + 12 * l;
}

EXPORT double gt_sumd10(double a, double b, double c, double d, double e, double f,
                        double g, double h, double i, double j)
{
	return a + b + c + d + e + f + g + h + i + j;
}

/* ---- strings ---- */

EXPORT const char *gt_greet(void) { return "hello from C"; }
EXPORT const char *gt_null_string(void) { return NULL; }
EXPORT size_t gt_strlen(const char *s) { return s ? strlen(s) : (size_t)-1; }

/* Writes into the string it gets: the caller must have passed a copy. */
EXPORT char *gt_upper(char *s)
{
	for (char *p = s; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

/* ---- pointers ---- */

EXPORT void gt_fill_i32(int32_t *p, int n, int32_t v)
{
	for (int i = 0; i < n; i++)
		p[i] = v + i;
}

EXPORT int64_t gt_sum_i32(const int32_t *p, int n)
{
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		s += p[i];
	return s;
}

EXPORT void *gt_null_ptr(void) { return NULL; }
EXPORT void *gt_identity(void *p) { return p; }
EXPORT int gt_is_null(void *p) { return p == NULL; }

static int32_t gt_static_array[4] = {10, 20, 30, 40};
EXPORT int32_t *gt_array(void) { return gt_static_array; }

EXPORT int32_t gt_counter = 42;

/* ---- structs ---- */

typedef struct gt_point { int32_t x, y; } gt_point;
typedef struct gt_mixed { int8_t a; double b; int16_t c; } gt_mixed;
typedef struct gt_rect { gt_point lo, hi; } gt_rect;
typedef struct gt_big { int64_t v[5]; } gt_big;
typedef struct gt_vec2 { float x, y; } gt_vec2;
typedef struct gt_named { const char *name; int32_t id; } gt_named;

EXPORT gt_point gt_make_point(int32_t x, int32_t y) { return (gt_point){x, y}; }
EXPORT int32_t gt_point_sum(gt_point p) { return p.x + p.y; }
EXPORT gt_point gt_point_scale(gt_point p, int32_t k) { return (gt_point){p.x * k, p.y * k}; }

EXPORT gt_mixed gt_mixed_make(int8_t a, double b, int16_t c) { return (gt_mixed){a, b, c}; }
EXPORT double gt_mixed_sum(gt_mixed m) { return m.a + m.b + m.c; }
EXPORT size_t gt_mixed_size(void) { return sizeof(gt_mixed); }
EXPORT size_t gt_mixed_offset_c(void) { return offsetof(gt_mixed, c); }

EXPORT int32_t gt_rect_area(gt_rect r) { return (r.hi.x - r.lo.x) * (r.hi.y - r.lo.y); }
EXPORT gt_rect gt_rect_make(int32_t x0, int32_t y0, int32_t x1, int32_t y1)
{
	return (gt_rect){{x0, y0}, {x1, y1}};
}

EXPORT gt_big gt_big_make(int64_t base)
{
	gt_big b;
	for (int i = 0; i < 5; i++)
		b.v[i] = base + i;
	return b;
}

EXPORT int64_t gt_big_sum(gt_big b)
{
	int64_t s = 0;
	for (int i = 0; i < 5; i++)
		s += b.v[i] * (i + 1);
	return s;
}

EXPORT gt_vec2 gt_vec2_add(gt_vec2 a, gt_vec2 b) { return (gt_vec2){a.x + b.x, a.y + b.y}; }

EXPORT gt_named gt_named_make(int32_t id) { return (gt_named){"widget", id}; }

EXPORT void gt_point_store(gt_point *out, int32_t x, int32_t y)
{
	out->x = x;
	out->y = y;
}

/* ---- callbacks ---- */

EXPORT int gt_apply_int(int (*f)(int), int x) { return f(x); }
EXPORT double gt_apply_double(double (*f)(double, double), double a, double b) { return f(a, b); }
EXPORT float gt_apply_float(float (*f)(float), float x) { return f(x); }
EXPORT int8_t gt_apply_i8(int8_t (*f)(int8_t), int8_t x) { return f(x); }
EXPORT uint16_t gt_apply_u16(uint16_t (*f)(uint16_t), uint16_t x) { return f(x); }
EXPORT uint64_t gt_apply_u64(uint64_t (*f)(uint64_t), uint64_t x) { return f(x); }

EXPORT int64_t gt_fold(int64_t (*f)(int64_t, int64_t), int64_t init, int n)
{
	int64_t acc = init;
	for (int i = 1; i <= n; i++)
		acc = f(acc, i);
	return acc;
}

/* Calls f with each word and returns how many calls returned non-zero. */
EXPORT int gt_each_word(int (*f)(const char *, int), const char *const *unused)
{
	(void)unused;
	static const char *const words[] = {"alpha", "beta", "gamma"};
	int n = 0;
	for (int i = 0; i < 3; i++)
		n += f(words[i], i) != 0;
	return n;
}

EXPORT const char *gt_apply_string(const char *(*f)(const char *), const char *s) { return f(s); }
EXPORT void gt_apply_void(void (*f)(void)) { f(); }
EXPORT void *gt_apply_ptr(void *(*f)(void *), void *p) { return f(p); }

EXPORT gt_point gt_apply_point(gt_point (*f)(gt_point, int32_t), gt_point p, int32_t k)
{
	return f(p, k);
}

EXPORT int64_t gt_apply_mixed(int64_t (*f)(int8_t, uint32_t, float, double, const char *,
                                           void *),
                              void *p)
{
	return f(-5, 4000000000u, 1.5f, 2.25, "cb", p);
}

static int (*gt_stored)(int);
EXPORT void gt_store_cb(int (*f)(int)) { gt_stored = f; }
EXPORT int gt_call_stored(int x) { return gt_stored ? gt_stored(x) : -1; }

/* Calls f(x) on a new thread and returns its result (-2 if no thread). */
struct gt_thread_arg {
	int (*f)(int);
	int x, r;
};

static void *gt_thread_main(void *p)
{
	struct gt_thread_arg *a = p;
	a->r = a->f(a->x);
	return NULL;
}

EXPORT int gt_call_in_thread(int (*f)(int), int x)
{
	struct gt_thread_arg a = {f, x, -1};
	pthread_t t;
	if (pthread_create(&t, NULL, gt_thread_main, &a) != 0)
		return -2;
	pthread_join(t, NULL);
	return a.r;
}

/* ---- variadic ---- */

EXPORT int64_t gt_vsum(int n, ...)
{
	va_list ap;
	va_start(ap, n);
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		s += va_arg(ap, int64_t);
	va_end(ap);
	return s;
}

EXPORT double gt_vsumd(int n, ...)
{
	va_list ap;
	va_start(ap, n);
	double s = 0;
	for (int i = 0; i < n; i++)
		s += va_arg(ap, double);
	va_end(ap);
	return s;
}

/* types says what follows: i int64_t, d double, s char * (adds its length),
 * p pointer (adds 1 when NULL). */
EXPORT double gt_vmix(const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	double s = 0;
	for (const char *t = types; *t; t++) {
		switch (*t) {
		case 'i': s += (double)va_arg(ap, int64_t); break;
		case 'd': s += va_arg(ap, double); break;
		case 's': s += (double)strlen(va_arg(ap, const char *)); break;
		case 'p': s += va_arg(ap, void *) == NULL; break;
		}
	}
	va_end(ap);
	return s;
}

EXPORT int gt_vformat(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}
