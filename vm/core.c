/*
 * core.c — the global built-in functions and the methods of strings, lists
 * and maps, plus the helpers native.h promises to built-in modules.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/native.h"
#include "vm/vm.h"

/* ---------------------------------------------------------------- helpers */

_Noreturn void native_type_error(GaleVM *vm, const char *fname, const char *expected, Value got)
{
	vm_error(vm, "%s: expected %s, got %s", fname, expected, value_type_name(got));
}

double native_number(GaleVM *vm, const Value *args, int i, const char *fname)
{
	if (IS_INT(args[i]))
		return (double)AS_INT(args[i]);
	if (IS_FLOAT(args[i]))
		return AS_FLOAT(args[i]);
	native_type_error(vm, fname, "a number", args[i]);
}

int64_t native_int(GaleVM *vm, const Value *args, int i, const char *fname)
{
	if (!IS_INT(args[i]))
		native_type_error(vm, fname, "an int", args[i]);
	return AS_INT(args[i]);
}

ObjString *native_string(GaleVM *vm, const Value *args, int i, const char *fname)
{
	if (!IS_STRING(args[i]))
		native_type_error(vm, fname, "a string", args[i]);
	return AS_STRING(args[i]);
}

ObjList *native_list(GaleVM *vm, const Value *args, int i, const char *fname)
{
	if (!IS_LIST(args[i]))
		native_type_error(vm, fname, "a list", args[i]);
	return AS_LIST(args[i]);
}

ObjMap *native_map(GaleVM *vm, const Value *args, int i, const char *fname)
{
	if (!IS_MAP(args[i]))
		native_type_error(vm, fname, "a map", args[i]);
	return AS_MAP(args[i]);
}

Value native_callable(GaleVM *vm, const Value *args, int i, const char *fname)
{
	Value v = args[i];
	if (IS_CLOSURE(v) || IS_NATIVE(v) || IS_CLASS(v) || IS_KIND(v, OBJ_BOUND) ||
	    (IS_FOREIGN(v) && AS_FOREIGN(v)->cls->call != NULL))
		return v;
	native_type_error(vm, fname, "a function", v);
}

void *native_foreign(GaleVM *vm, const Value *args, int i, const vm_foreign_class *cls, const char *fname)
{
	Value v = args[i];
	if (!IS_FOREIGN(v) || AS_FOREIGN(v)->cls != cls) {
		char want[96];
		snprintf(want, sizeof want, "a %s", cls->name);
		native_type_error(vm, fname, want, v);
	}
	return FOREIGN_DATA(AS_FOREIGN(v));
}

void native_map_set_cstr(GaleVM *vm, ObjMap *m, const char *key, Value v)
{
	vm_push_root(vm, OBJ_VAL(m));
	vm_push_root(vm, v);
	ObjString *k = str_intern_cstr(vm, key);
	vm_push_root(vm, OBJ_VAL(k));
	map_set(vm, m, OBJ_VAL(k), v);
	vm->temp_count -= 3;
}

ObjModule *vm_define_module(GaleVM *vm, const char *name, const vm_reg *funcs)
{
	ObjString *s = str_intern_cstr(vm, name);
	vm_push_root(vm, OBJ_VAL(s));
	ObjModule *m = module_new(vm, s, s);
	vm_push_root(vm, OBJ_VAL(m));
	m->natives = funcs;
	for (const vm_reg *r = funcs; r != NULL && r->name != NULL; r++) {
		char full[128];
		snprintf(full, sizeof full, "%s.%s", name, r->name);
		ObjNative *n = native_new(vm, full, r->fn, r->arity, r->doc);
		vm_push_root(vm, OBJ_VAL(n));
		ObjString *member = str_intern_cstr(vm, r->name);
		vm_push_root(vm, OBJ_VAL(member));
		module_set(vm, m, member, OBJ_VAL(n));
		vm->temp_count -= 2;
	}
	module_set(vm, vm->builtins, s, OBJ_VAL(m));
	vm->temp_count -= 2;
	return m;
}

void vm_module_set_value(GaleVM *vm, ObjModule *m, const char *name, Value v)
{
	vm_push_root(vm, OBJ_VAL(m));
	vm_push_root(vm, v);
	ObjString *s = str_intern_cstr(vm, name);
	vm_push_root(vm, OBJ_VAL(s));
	module_set(vm, m, s, v);
	vm->temp_count -= 3;
}

void vm_define_global(GaleVM *vm, const char *name, NativeFn fn, int arity, const char *doc)
{
	ObjNative *n = native_new(vm, name, fn, arity, doc);
	vm_push_root(vm, OBJ_VAL(n));
	module_set(vm, vm->builtins, n->name, OBJ_VAL(n));
	vm_pop_root(vm);
}

Value vm_script_args(GaleVM *vm)
{
	if (vm->args == NULL)
		vm->args = list_new(vm, 0);
	return OBJ_VAL(vm->args);
}

static _Noreturn void arg_count_error(GaleVM *vm, const char *fname, const char *want, int got)
{
	vm_error(vm, "%s() takes %s but %d %s given", fname, want, got, got == 1 ? "was" : "were");
}

/* ---------------------------------------------------------------- globals */

static void core_print(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)ret;
	StrBuf sb;
	sb_init(vm, &sb);
	/* args may move if a toString() grows the stack: index through the base */
	uint32_t base = (uint32_t)(args - vm->stack);
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			sb_addc(&sb, ' ');
		sb_value(&sb, vm->stack[base + (uint32_t)i], false);
	}
	sb_addc(&sb, '\n');
	vm_write(vm, (const char *)sb.buf->data, sb.len);
	sb_drop(&sb);
}

static void core_len(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value v = args[0];
	if (IS_STRING(v))
		*ret = INT_VAL((int64_t)AS_STRING(v)->len);
	else if (IS_LIST(v))
		*ret = INT_VAL(AS_LIST(v)->count);
	else if (IS_MAP(v))
		*ret = INT_VAL(AS_MAP(v)->count);
	else if (IS_RANGE(v)) {
		uint64_t n = range_len(AS_RANGE(v));
		if (n > (uint64_t)INT64_MAX)
			vm_error(vm, "len: the range has more than 2**63 - 1 values");
		*ret = INT_VAL((int64_t)n);
	}
	else
		native_type_error(vm, "len", "a string, list, map or range", v);
}

static void core_type(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	/* a handful of names: the interned one exists, so nothing is allocated */
	*ret = OBJ_VAL(str_intern_cstr(vm, value_type_name(args[0])));
}

static void core_str(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	*ret = OBJ_VAL(value_to_string(vm, args[0]));
}

static int64_t float_to_int(GaleVM *vm, double d, const char *fname)
{
	if (isnan(d) || isinf(d))
		vm_error(vm, "%s: cannot convert %s to an int", fname, isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
	if (d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		vm_error(vm, "%s: %g is out of the int range", fname, d);
	return (int64_t)d;
}

static void core_int(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value v = args[0];
	if (IS_INT(v)) {
		*ret = v;
	} else if (IS_FLOAT(v)) {
		*ret = INT_VAL(float_to_int(vm, trunc(AS_FLOAT(v)), "int"));
	} else if (IS_BOOL(v)) {
		*ret = INT_VAL(AS_BOOL(v) ? 1 : 0);
	} else if (IS_STRING(v)) {
		const char *s = AS_CSTRING(v);
		char *end;
		while (isspace((unsigned char)*s))
			s++;
		int base = 10;
		const char *digits = s;
		bool neg = false;
		if (*digits == '-' || *digits == '+') {
			neg = *digits == '-';
			digits++;
		}
		if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
			base = 16, digits += 2;
		else if (digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B'))
			base = 2, digits += 2;
		errno = 0;
		unsigned long long u = isalnum((unsigned char)*digits) ? strtoull(digits, &end, base) : 0;
		if (!isalnum((unsigned char)*digits))
			end = (char *)digits;
		while (isspace((unsigned char)*end))
			end++;
		if (end == digits || *end != '\0' || AS_STRING(v)->len != strlen(AS_CSTRING(v)))
			vm_error(vm, "int: cannot parse \"%s\" as an int", AS_CSTRING(v));
		if (errno == ERANGE || u > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX))
			vm_error(vm, "int: \"%s\" is out of the int range", AS_CSTRING(v));
		*ret = INT_VAL(neg ? (int64_t)(0 - u) : (int64_t)u);
	} else {
		native_type_error(vm, "int", "a number, string or bool", v);
	}
}

static void core_float(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value v = args[0];
	if (IS_INT(v)) {
		*ret = FLOAT_VAL((double)AS_INT(v));
	} else if (IS_FLOAT(v)) {
		*ret = v;
	} else if (IS_STRING(v)) {
		const char *s = AS_CSTRING(v);
		char *end;
		double d = strtod(s, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (end == s || *end != '\0')
			vm_error(vm, "float: cannot parse \"%s\" as a float", s);
		*ret = FLOAT_VAL(d);
	} else if (IS_BOOL(v)) {
		*ret = FLOAT_VAL(AS_BOOL(v) ? 1.0 : 0.0);
	} else {
		native_type_error(vm, "float", "a number or string", v);
	}
}

static void core_bool(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = BOOL_VAL(!value_falsy(args[0]));
}

static void core_list(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc == 0) {
		*ret = OBJ_VAL(list_new(vm, 0));
		return;
	}
	if (argc != 1)
		arg_count_error(vm, "list", "0 or 1 arguments", argc);
	Value v = args[0];
	if (IS_LIST(v)) {
		ObjList *src = AS_LIST(v);
		ObjList *l = list_new(vm, src->count);
		if (src->count)
			memcpy(LIST_SLOTS(l), LIST_SLOTS(src), sizeof(Slot) * src->count);
		l->count = src->count;
		*ret = OBJ_VAL(l);
	} else if (IS_RANGE(v)) {
		ObjRange *r = AS_RANGE(v);
		uint64_t n = range_len(r);
		if (n > (1 << 27))
			vm_oom(vm);
		ObjList *l = list_new(vm, (uint32_t)n);
		for (uint64_t i = 0; i < n; i++)
			list_set(vm, l, (uint32_t)i, INT_VAL(range_at(r, i)));
		l->count = (uint32_t)n;
		*ret = OBJ_VAL(l);
	} else if (IS_STRING(v)) {
		ObjString *s = AS_STRING(v);
		ObjList *l = list_new(vm, (uint32_t)s->len);
		vm_push_root(vm, OBJ_VAL(l));
		for (size_t i = 0; i < s->len; i++) {
			ObjString *c = str_new(vm, s->chars + i, 1);
			list_set(vm, l, (uint32_t)i, OBJ_VAL(c));
			l->count++;
		}
		vm_pop_root(vm);
		*ret = OBJ_VAL(l);
	} else if (IS_MAP(v)) {
		ObjMap *m = AS_MAP(v);
		ObjList *l = list_new(vm, m->count);
		uint32_t pos = 0;
		Value k;
		while (map_next(m, &pos, &k, NULL))
			list_set(vm, l, l->count++, k);
		*ret = OBJ_VAL(l);
	} else {
		native_type_error(vm, "list", "a list, range, string or map", v);
	}
}

static void core_range(GaleVM *vm, int argc, Value *args, Value *ret)
{
	int64_t a = 0, b, step = 1;
	if (argc == 1) {
		b = native_int(vm, args, 0, "range");
	} else if (argc == 2 || argc == 3) {
		a = native_int(vm, args, 0, "range");
		b = native_int(vm, args, 1, "range");
		if (argc == 3)
			step = native_int(vm, args, 2, "range");
	} else {
		arg_count_error(vm, "range", "1 to 3 arguments", argc);
	}
	if (step == 0)
		vm_error(vm, "range() step cannot be zero");
	*ret = OBJ_VAL(range_new(vm, a, b, step));
}

static void core_assert(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)ret;
	if (argc < 1 || argc > 2)
		arg_count_error(vm, "assert", "1 or 2 arguments", argc);
	if (!value_falsy(args[0]))
		return;
	if (argc == 2) {
		ObjString *msg = value_to_string(vm, args[1]);
		vm_push_root(vm, OBJ_VAL(msg));
		ObjError *e = error_new(vm, msg);
		vm_pop_root(vm);
		vm_throw(vm, OBJ_VAL(e));
	}
	vm_error(vm, "assertion failed");
}

static void core_error(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *msg = value_to_string(vm, args[0]);
	vm_push_root(vm, OBJ_VAL(msg));
	*ret = OBJ_VAL(error_new(vm, msg));
	vm_pop_root(vm);
}

static void core_chr(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	int64_t n = native_int(vm, args, 0, "chr");
	if (n < 0 || n > 255)
		vm_error(vm, "chr: %lld is not a byte (0 to 255)", (long long)n);
	char c = (char)n;
	*ret = OBJ_VAL(str_new(vm, &c, 1));
}

static void core_ord(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = native_string(vm, args, 0, "ord");
	if (s->len != 1)
		vm_error(vm, "ord: expected a one-byte string, got %zu bytes", s->len);
	*ret = INT_VAL((unsigned char)s->chars[0]);
}

static void core_input(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc > 1)
		arg_count_error(vm, "input", "0 or 1 arguments", argc);
	if (argc == 1) {
		ObjString *p = value_to_string(vm, args[0]);
		vm_write(vm, p->chars, p->len);
	}
	/* About to wait for a line: the scavenger's turn. */
	gcIdlePoll(vm->rt);
	fflush(stdout);
	StrBuf sb;
	sb_init(vm, &sb);
	int c;
	bool any = false;
	while ((c = getchar()) != EOF) {
		any = true;
		if (c == '\n')
			break;
		sb_addc(&sb, (char)c);
	}
	if (!any) {
		sb_drop(&sb);
		*ret = NIL_VAL;
		return;
	}
	if (sb.len > 0 && ((char *)sb.buf->data)[sb.len - 1] == '\r')
		sb.len--;
	*ret = OBJ_VAL(sb_finish(&sb));
}

/* The unsigned MemStats fields, by Go name (spec section 9 and Go's extras). */
#define MEMSTATS_FIELDS(X)                                                  \
	X(Alloc) X(TotalAlloc) X(Sys) X(Lookups) X(Mallocs) X(Frees)            \
	X(HeapAlloc) X(HeapSys) X(HeapIdle) X(HeapInuse) X(HeapReleased)        \
	X(HeapObjects) X(StackInuse) X(StackSys) X(MSpanInuse) X(MSpanSys)      \
	X(MCacheInuse) X(MCacheSys) X(BuckHashSys) X(GCSys) X(OtherSys)         \
	X(NextGC) X(LastGC) X(PauseTotalNs) X(NumGC) X(NumForcedGC)             \
	X(MappedReady)

/* An unsigned statistic as an int: none comes near 2^63 in a real heap. */
static Value stat_value(uint64_t v)
{
	return INT_VAL(v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* memstats() and runtime.memstats(): one map, built in one place. */
void vm_memstats_map(GaleVM *vm, Value *ret)
{
	/* Read first: building the map allocates and so changes the heap. */
	MemStats ms;
	readMemStats(vm->rt, &ms);
	ObjMap *m = map_new(vm);
	vm_push_root(vm, OBJ_VAL(m));
#define F(name) native_map_set_cstr(vm, m, #name, stat_value(ms.name));
	MEMSTATS_FIELDS(F)
#undef F
	/* The two signed settings: -1 (GC off) must stay -1. */
	native_map_set_cstr(vm, m, "MemoryLimit", INT_VAL(ms.MemoryLimit));
	native_map_set_cstr(vm, m, "GCPercent", INT_VAL(ms.GCPercent));
	native_map_set_cstr(vm, m, "GCCPUFraction", FLOAT_VAL(ms.GCCPUFraction));
	native_map_set_cstr(vm, m, "EnableGC", BOOL_VAL(ms.EnableGC));
	native_map_set_cstr(vm, m, "DebugGC", BOOL_VAL(ms.DebugGC));
	vm_pop_root(vm);
	*ret = OBJ_VAL(m);
}

static void core_memstats(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc, (void)args;
	vm_memstats_map(vm, ret);
}

static const vm_reg core_funcs[] = {
	{"print", core_print, -1, "print(a, b, ...): write the values separated by spaces and a newline"},
	{"len", core_len, 1, "len(x): length of a string (bytes), list, map or range"},
	{"type", core_type, 1, "type(x): the type name of x as a string"},
	{"str", core_str, 1, "str(x): x converted to a string"},
	{"int", core_int, 1, "int(x): x as an int (truncates floats, parses strings)"},
	{"float", core_float, 1, "float(x): x as a float"},
	{"bool", core_bool, 1, "bool(x): false for nil and false, else true"},
	{"list", core_list, -1, "list(x?): a new list from a list, range, string or map keys"},
	{"range", core_range, -1, "range(n) / range(a, b) / range(a, b, step): an int range"},
	{"assert", core_assert, -1, "assert(cond, msg?): raise \"assertion failed\" or msg when cond is falsy"},
	{"error", core_error, 1, "error(msg): a new error value (not thrown)"},
	{"chr", core_chr, 1, "chr(n): the one-byte string with byte n"},
	{"ord", core_ord, 1, "ord(s): the byte of a one-byte string"},
	{"input", core_input, -1, "input(prompt?): a line from standard input, nil at end of input"},
	{"memstats", core_memstats, 0, "memstats(): the memory statistics map"},
	{NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- strings */

#define SELF_STR AS_STRING(args[-1])

static void s_len(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = INT_VAL((int64_t)SELF_STR->len);
}

static void s_case(GaleVM *vm, Value *args, Value *ret, bool upper)
{
	ObjString *s = SELF_STR;
	ObjBuf *b = buf_new(vm, s->len + 1);
	s = SELF_STR;
	char *d = (char *)b->data;
	for (size_t i = 0; i < s->len; i++)
		d[i] = (char)(upper ? toupper((unsigned char)s->chars[i]) : tolower((unsigned char)s->chars[i]));
	vm_push_root(vm, OBJ_VAL(b));
	*ret = OBJ_VAL(str_new(vm, d, s->len));
	vm_pop_root(vm);
}

static void s_upper(GaleVM *vm, int argc, Value *args, Value *ret) { (void)argc; s_case(vm, args, ret, true); }
static void s_lower(GaleVM *vm, int argc, Value *args, Value *ret) { (void)argc; s_case(vm, args, ret, false); }

static void s_trim(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR;
	size_t a = 0, b = s->len;
	while (a < b && isspace((unsigned char)s->chars[a]))
		a++;
	while (b > a && isspace((unsigned char)s->chars[b - 1]))
		b--;
	*ret = OBJ_VAL(str_new(vm, s->chars + a, b - a));
}

static const char *find_sub(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return h;
	return memmem(h, hn, n, nn);
}

static void s_split(GaleVM *vm, int argc, Value *args, Value *ret)
{
	ObjString *s = SELF_STR;
	ObjList *l = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(l));
	if (argc == 0) {
		/* on runs of whitespace, like Python's split() */
		size_t i = 0;
		for (;;) {
			while (i < s->len && isspace((unsigned char)s->chars[i]))
				i++;
			if (i >= s->len)
				break;
			size_t j = i;
			while (j < s->len && !isspace((unsigned char)s->chars[j]))
				j++;
			ObjString *part = str_new(vm, s->chars + i, j - i);
			list_push(vm, l, OBJ_VAL(part));
			i = j;
		}
	} else if (argc == 1) {
		ObjString *sep = native_string(vm, args, 0, "split");
		if (sep->len == 0)
			vm_error(vm, "split: the separator is empty");
		size_t i = 0;
		for (;;) {
			const char *at = find_sub(s->chars + i, s->len - i, sep->chars, sep->len);
			size_t j = at ? (size_t)(at - s->chars) : s->len;
			ObjString *part = str_new(vm, s->chars + i, j - i);
			list_push(vm, l, OBJ_VAL(part));
			if (at == NULL)
				break;
			i = j + sep->len;
		}
	} else {
		arg_count_error(vm, "split", "0 or 1 arguments", argc);
	}
	vm_pop_root(vm);
	*ret = OBJ_VAL(l);
}

static void s_find(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR, *sub = native_string(vm, args, 0, "find");
	const char *at = find_sub(s->chars, s->len, sub->chars, sub->len);
	*ret = INT_VAL(at ? (int64_t)(at - s->chars) : -1);
}

static void s_replace(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *old = native_string(vm, args, 0, "replace");
	native_string(vm, args, 1, "replace");
	if (old->len == 0)
		vm_error(vm, "replace: the string to replace is empty");
	StrBuf sb;
	sb_init(vm, &sb);
	size_t i = 0;
	for (;;) {
		ObjString *s = SELF_STR, *nw = AS_STRING(args[1]);
		old = AS_STRING(args[0]);
		const char *at = find_sub(s->chars + i, s->len - i, old->chars, old->len);
		if (at == NULL) {
			sb_add(&sb, s->chars + i, s->len - i);
			break;
		}
		size_t j = (size_t)(at - s->chars);
		sb_add(&sb, s->chars + i, j - i);
		s = SELF_STR, nw = AS_STRING(args[1]);
		sb_add(&sb, nw->chars, nw->len);
		i = j + old->len;
	}
	*ret = OBJ_VAL(sb_finish(&sb));
}

static void s_starts(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR, *p = native_string(vm, args, 0, "startsWith");
	*ret = BOOL_VAL(p->len <= s->len && memcmp(s->chars, p->chars, p->len) == 0);
}

static void s_ends(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR, *p = native_string(vm, args, 0, "endsWith");
	*ret = BOOL_VAL(p->len <= s->len && memcmp(s->chars + s->len - p->len, p->chars, p->len) == 0);
}

static void s_contains(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR, *p = native_string(vm, args, 0, "contains");
	*ret = BOOL_VAL(find_sub(s->chars, s->len, p->chars, p->len) != NULL);
}

static void s_repeat(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	int64_t n = native_int(vm, args, 0, "repeat");
	ObjString *s = SELF_STR;
	if (n <= 0 || s->len == 0) {
		*ret = OBJ_VAL(str_new(vm, "", 0));
		return;
	}
	if ((uint64_t)n > ((uint64_t)1 << 40) / s->len)
		vm_oom(vm);
	size_t total = s->len * (size_t)n;
	ObjBuf *b = buf_new(vm, total);
	s = SELF_STR;
	for (int64_t i = 0; i < n; i++)
		memcpy((char *)b->data + (size_t)i * s->len, s->chars, s->len);
	vm_push_root(vm, OBJ_VAL(b));
	*ret = OBJ_VAL(str_new(vm, (char *)b->data, total));
	vm_pop_root(vm);
}

static void s_byte(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *s = SELF_STR;
	int64_t i = native_int(vm, args, 0, "byte");
	if (i < 0)
		i += (int64_t)s->len;
	if (i < 0 || i >= (int64_t)s->len)
		vm_error(vm, "index out of range");
	*ret = INT_VAL((unsigned char)s->chars[i]);
}

static const vm_reg string_methods[] = {
	{"len", s_len, 0, "s.len(): length in bytes"},
	{"upper", s_upper, 0, "s.upper(): ASCII upper case"},
	{"lower", s_lower, 0, "s.lower(): ASCII lower case"},
	{"trim", s_trim, 0, "s.trim(): without leading and trailing whitespace"},
	{"split", s_split, -1, "s.split(sep?): the parts between separators (whitespace runs without sep)"},
	{"find", s_find, 1, "s.find(sub): index of the first sub, or -1"},
	{"replace", s_replace, 2, "s.replace(old, new): every old replaced by new"},
	{"startsWith", s_starts, 1, "s.startsWith(p): whether s begins with p"},
	{"endsWith", s_ends, 1, "s.endsWith(p): whether s ends with p"},
	{"contains", s_contains, 1, "s.contains(sub): whether sub occurs in s"},
	{"repeat", s_repeat, 1, "s.repeat(n): s repeated n times"},
	{"byte", s_byte, 1, "s.byte(i): the byte at index i as an int"},
	{NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- lists */

#define SELF_LIST AS_LIST(args[-1])

static void l_len(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = INT_VAL(SELF_LIST->count);
}

static void l_push(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	list_push(vm, SELF_LIST, args[0]);
}

static void l_pop(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjList *l = SELF_LIST;
	if (l->count == 0)
		vm_error(vm, "pop from an empty list");
	*ret = list_get(l, --l->count);
}

static uint32_t list_pos(GaleVM *vm, ObjList *l, Value *args, int i, const char *fname, bool allow_end)
{
	int64_t at = native_int(vm, args, i, fname);
	int64_t n = (int64_t)l->count + (allow_end ? 1 : 0);
	if (at < 0)
		at += l->count;
	if (at < 0 || at >= n)
		vm_error(vm, "index out of range");
	return (uint32_t)at;
}

static void l_insert(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc, (void)ret;
	ObjList *l = SELF_LIST;
	uint32_t at = list_pos(vm, l, args, 0, "insert", true);
	list_insert(vm, l, at, args[1]);
}

static void l_remove(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjList *l = SELF_LIST;
	uint32_t at = list_pos(vm, l, args, 0, "remove", false);
	*ret = list_remove(l, at);
}

static int64_t list_find(ObjList *l, Value v)
{
	for (uint32_t i = 0; i < l->count; i++)
		if (value_equal(list_get(l, i), v))
			return i;
	return -1;
}

static void l_contains(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = BOOL_VAL(list_find(SELF_LIST, args[0]) >= 0);
}

static void l_index(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = INT_VAL(list_find(SELF_LIST, args[0]));
}

static void l_reverse(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc, (void)ret;
	ObjList *l = SELF_LIST;
	Slot *it = LIST_SLOTS(l);
	for (uint32_t i = 0, j = l->count; i + 1 < j; i++, j--) {
		Slot t = it[i];
		it[i] = it[j - 1];
		it[j - 1] = t;
	}
}

static void l_copy(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjList *src = SELF_LIST;
	ObjList *l = list_new(vm, src->count);
	src = SELF_LIST;
	if (src->count)
		memcpy(LIST_SLOTS(l), LIST_SLOTS(src), sizeof(Slot) * src->count);
	l->count = src->count;
	*ret = OBJ_VAL(l);
}

static void l_join(GaleVM *vm, int argc, Value *args, Value *ret)
{
	Value self = args[-1];
	Value sep = NIL_VAL;
	if (argc > 1)
		arg_count_error(vm, "join", "0 or 1 arguments", argc);
	if (argc == 1)
		sep = OBJ_VAL(native_string(vm, args, 0, "join"));
	/* all strings (the common case): one allocation of the exact size */
	ObjList *l = AS_LIST(self);
	size_t seplen = IS_STRING(sep) ? AS_STRING(sep)->len : 0, total = 0;
	uint32_t i = 0;
	for (Value v; i < l->count && IS_STRING(v = list_get(l, i)); i++)
		total += AS_STRING(v)->len + (i > 0 ? seplen : 0);
	if (i == l->count && l->count > 0) {
		ObjString *s = str_alloc(vm, total);
		char *d = s->chars;
		l = AS_LIST(self);
		for (uint32_t k = 0; k < l->count; k++) {
			if (k > 0 && seplen > 0) {
				memcpy(d, AS_CSTRING(sep), seplen);
				d += seplen;
			}
			ObjString *e = AS_STRING(list_get(l, k));
			memcpy(d, e->chars, e->len);
			d += e->len;
		}
		*ret = OBJ_VAL(str_finish(vm, s));
		return;
	}
	StrBuf sb;
	sb_init(vm, &sb);
	for (uint32_t i = 0; i < AS_LIST(self)->count; i++) {
		if (i > 0 && IS_STRING(sep))
			sb_add(&sb, AS_CSTRING(sep), AS_STRING(sep)->len);
		sb_value(&sb, list_get(AS_LIST(self), i), false);
	}
	*ret = OBJ_VAL(sb_finish(&sb));
}

static void l_map(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value self = args[-1], f = native_callable(vm, args, 0, "map");
	ObjList *out = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(out));
	for (uint32_t i = 0; i < AS_LIST(self)->count; i++) {
		Value v = list_get(AS_LIST(self), i), r;
		vm_call(vm, f, 1, &v, &r);
		list_push(vm, out, r);
	}
	vm_pop_root(vm);
	*ret = OBJ_VAL(out);
}

static void l_filter(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value self = args[-1], f = native_callable(vm, args, 0, "filter");
	ObjList *out = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(out));
	for (uint32_t i = 0; i < AS_LIST(self)->count; i++) {
		Value v = list_get(AS_LIST(self), i), r;
		vm_push_root(vm, v);
		vm_call(vm, f, 1, &v, &r);
		if (!value_falsy(r))
			list_push(vm, out, v);
		vm_pop_root(vm);
	}
	vm_pop_root(vm);
	*ret = OBJ_VAL(out);
}

static void l_reduce(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	Value self = args[-1], f = native_callable(vm, args, 0, "reduce");
	Value acc = args[1];
	int slot = vm->temp_count;
	vm_push_root(vm, acc);
	for (uint32_t i = 0; i < AS_LIST(self)->count; i++) {
		Value pair[2] = {acc, list_get(AS_LIST(self), i)};
		vm_call(vm, f, 2, pair, &acc);
		vm->temps[slot] = acc;
	}
	vm_pop_root(vm);
	*ret = acc;
}

/* Stable merge sort of items (n values) using tmp; less is a Gale
 * function or nil for the natural order of numbers and strings. */
static bool sort_less(GaleVM *vm, Value less, Value a, Value b)
{
	if (IS_NIL(less)) {
		if (IS_NUMBER(a) && IS_NUMBER(b)) {
			if (IS_INT(a) && IS_INT(b))
				return AS_INT(a) < AS_INT(b);
			return AS_NUMBER(a) < AS_NUMBER(b);
		}
		if (IS_STRING(a) && IS_STRING(b)) {
			ObjString *s = AS_STRING(a), *t = AS_STRING(b);
			size_t n = s->len < t->len ? s->len : t->len;
			int c = memcmp(s->chars, t->chars, n);
			return c < 0 || (c == 0 && s->len < t->len);
		}
		vm_error(vm, "sort: cannot compare %s and %s (pass a less function)", value_type_name(a),
		         value_type_name(b));
	}
	Value pair[2] = {a, b}, r;
	vm_call(vm, less, 2, pair, &r);
	return !value_falsy(r);
}

static void merge_sort(GaleVM *vm, Value less, ObjList *work, ObjList *tmp, uint32_t lo, uint32_t hi)
{
	/* The slots move as they are; values are unpacked only to compare. */
	Slot *w = LIST_SLOTS(work), *t = LIST_SLOTS(tmp);
	if (hi - lo < 2)
		return;
	if (hi - lo <= 8) {
		/* insertion sort for short runs (stable) */
		for (uint32_t i = lo + 1; i < hi; i++) {
			Slot v = w[i];
			uint32_t j = i;
			while (j > lo && sort_less(vm, less, slot_value(v), slot_value(w[j - 1]))) {
				w[j] = w[j - 1];
				j--;
			}
			w[j] = v;
		}
		return;
	}
	uint32_t mid = lo + (hi - lo) / 2;
	merge_sort(vm, less, work, tmp, lo, mid);
	merge_sort(vm, less, work, tmp, mid, hi);
	if (!sort_less(vm, less, slot_value(w[mid]), slot_value(w[mid - 1])))
		return; /* already in order */
	memcpy(t + lo, w + lo, sizeof(Slot) * (hi - lo));
	uint32_t i = lo, j = mid, k = lo;
	while (i < mid && j < hi) {
		/* take from the right only when strictly less: stability */
		if (sort_less(vm, less, slot_value(t[j]), slot_value(t[i])))
			w[k++] = t[j++];
		else
			w[k++] = t[i++];
	}
	while (i < mid)
		w[k++] = t[i++];
	while (j < hi)
		w[k++] = t[j++];
}

/* Sort n ints in a using tmp (n more): insertion sort on short runs, then
 * bottom-up merges. Equal ints cannot be told apart, so any order of them is
 * the stable one. */
static void sort_ints(int64_t *a, int64_t *tmp, uint32_t n)
{
	const uint32_t run = 16;
	for (uint32_t lo = 0; lo < n; lo += run) {
		uint32_t hi = lo + run < n ? lo + run : n;
		for (uint32_t i = lo + 1; i < hi; i++) {
			int64_t v = a[i];
			uint32_t j = i;
			for (; j > lo && v < a[j - 1]; j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
	}
	int64_t *src = a, *dst = tmp;
	for (uint32_t w = run; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		int64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, sizeof(int64_t) * n);
}

/* sort() without a comparator on a list of ints only: sorted as raw ints,
 * no comparisons through values. Returns false when the list is not all ints. */
static bool sort_int_list(GaleVM *vm, ObjList *l)
{
	uint32_t n = l->count;
	for (uint32_t i = 0; i < n; i++)
		if (!IS_INT(list_get(l, i)))
			return false;
	ObjBuf *b = buf_new(vm, sizeof(int64_t) * 2 * (size_t)n); /* noscan: holds no references */
	int64_t *a = (int64_t *)b->data;
	for (uint32_t i = 0; i < n; i++)
		a[i] = AS_INT(list_get(l, i));
	sort_ints(a, a + n, n);
	for (uint32_t i = 0; i < n; i++)
		list_set(vm, l, i, INT_VAL(a[i])); /* no collection: b stays valid */
	return true;
}

static void l_sort(GaleVM *vm, int argc, Value *args, Value *ret)
{
	Value self = args[-1], less = NIL_VAL;
	if (argc > 1)
		arg_count_error(vm, "sort", "0 or 1 arguments", argc);
	if (argc == 1 && !IS_NIL(args[0]))
		less = native_callable(vm, args, 0, "sort");
	ObjList *l = AS_LIST(self);
	uint32_t n = l->count;
	if (IS_NIL(less) && n > 1 && sort_int_list(vm, l)) {
		*ret = self;
		return;
	}
	/* sort a copy: a comparator that changes the list cannot break the sort */
	ObjList *work = list_new(vm, n);
	vm_push_root(vm, OBJ_VAL(work));
	ObjList *tmp = list_new(vm, n);
	vm_push_root(vm, OBJ_VAL(tmp));
	l = AS_LIST(self);
	if (n)
		memcpy(LIST_SLOTS(work), LIST_SLOTS(l), sizeof(Slot) * n);
	work->count = n;
	tmp->count = 0; /* filled as the merge goes; traced up to count */
	for (uint32_t i = 0; i < n; i++)
		LIST_SLOTS(tmp)[i] = SLOT_NIL;
	tmp->count = n;
	merge_sort(vm, less, work, tmp, 0, n);
	l = AS_LIST(self);
	uint32_t m = l->count < n ? l->count : n;
	if (m)
		memcpy(LIST_SLOTS(l), LIST_SLOTS(work), sizeof(Slot) * m);
	vm->temp_count -= 2;
	*ret = self;
}

static const vm_reg list_methods[] = {
	{"len", l_len, 0, "l.len(): number of elements"},
	{"push", l_push, 1, "l.push(x): append x"},
	{"pop", l_pop, 0, "l.pop(): remove and return the last element"},
	{"insert", l_insert, 2, "l.insert(i, x): insert x before index i"},
	{"remove", l_remove, 1, "l.remove(i): remove and return the element at i"},
	{"contains", l_contains, 1, "l.contains(x): whether an element == x"},
	{"index", l_index, 1, "l.index(x): index of the first element == x, or -1"},
	{"sort", l_sort, -1, "l.sort(less?): stable in-place sort"},
	{"reverse", l_reverse, 0, "l.reverse(): reverse in place"},
	{"join", l_join, -1, "l.join(sep): the elements as strings joined by sep"},
	{"map", l_map, 1, "l.map(f): a new list of f(x) for each element"},
	{"filter", l_filter, 1, "l.filter(f): a new list of the elements where f(x) is truthy"},
	{"reduce", l_reduce, 2, "l.reduce(f, init): fold the elements with f(acc, x)"},
	{"copy", l_copy, 0, "l.copy(): a shallow copy"},
	{NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- maps */

#define SELF_MAP AS_MAP(args[-1])

static void m_len(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	*ret = INT_VAL(SELF_MAP->count);
}

static void m_get(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc < 1 || argc > 2)
		arg_count_error(vm, "get", "1 or 2 arguments", argc);
	if (!map_get(SELF_MAP, args[0], ret))
		*ret = argc == 2 ? args[1] : NIL_VAL;
}

static void m_has(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	Value v;
	*ret = BOOL_VAL(map_get(SELF_MAP, args[0], &v));
}

static void m_delete(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm, (void)argc;
	if (!map_delete(SELF_MAP, args[0], ret))
		*ret = NIL_VAL;
}

static void m_collect(GaleVM *vm, Value *args, Value *ret, int what)
{
	ObjMap *m = SELF_MAP;
	ObjList *l = list_new(vm, m->count);
	vm_push_root(vm, OBJ_VAL(l));
	uint32_t pos = 0;
	Value k, v;
	while (map_next(SELF_MAP, &pos, &k, &v)) {
		if (what == 0) {
			list_push(vm, l, k);
		} else if (what == 1) {
			list_push(vm, l, v);
		} else {
			ObjList *pair = list_new(vm, 2);
			list_set(vm, pair, 0, k);
			list_set(vm, pair, 1, v);
			pair->count = 2;
			list_push(vm, l, OBJ_VAL(pair));
		}
	}
	vm_pop_root(vm);
	*ret = OBJ_VAL(l);
}

static void m_keys(GaleVM *vm, int argc, Value *args, Value *ret) { (void)argc; m_collect(vm, args, ret, 0); }
static void m_values(GaleVM *vm, int argc, Value *args, Value *ret) { (void)argc; m_collect(vm, args, ret, 1); }
static void m_items(GaleVM *vm, int argc, Value *args, Value *ret) { (void)argc; m_collect(vm, args, ret, 2); }

static const vm_reg map_methods[] = {
	{"len", m_len, 0, "m.len(): number of entries"},
	{"get", m_get, -1, "m.get(k, default?): m[k], or default (nil) when absent"},
	{"has", m_has, 1, "m.has(k): whether k is a key"},
	{"delete", m_delete, 1, "m.delete(k): remove k and return its value (nil if absent)"},
	{"keys", m_keys, 0, "m.keys(): the keys in insertion order"},
	{"values", m_values, 0, "m.values(): the values in insertion order"},
	{"items", m_items, 0, "m.items(): [key, value] pairs in insertion order"},
	{NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- setup */

static void define_methods(GaleVM *vm, ObjKind kind, const vm_reg *regs)
{
	ObjMap *m = map_new(vm);
	vm->type_methods[kind] = m;
	for (const vm_reg *r = regs; r->name != NULL; r++) {
		ObjNative *n = native_new(vm, r->name, r->fn, r->arity, r->doc);
		vm_push_root(vm, OBJ_VAL(n));
		map_set(vm, m, OBJ_VAL(n->name), OBJ_VAL(n));
		vm_pop_root(vm);
	}
}

void core_open(GaleVM *vm)
{
	for (const vm_reg *r = core_funcs; r->name != NULL; r++)
		vm_define_global(vm, r->name, r->fn, r->arity, r->doc);
	define_methods(vm, OBJ_STRING, string_methods);
	define_methods(vm, OBJ_LIST, list_methods);
	define_methods(vm, OBJ_MAP, map_methods);
}

const vm_reg *core_table(int which);
const vm_reg *core_table(int which)
{
	switch (which) {
	case 0: return core_funcs;
	case 1: return string_methods;
	case 2: return list_methods;
	case 3: return map_methods;
	default: return NULL;
	}
}
