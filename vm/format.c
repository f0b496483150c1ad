/*
 * format.c — turning values into text: string builders, str() and print
 * formats, and Python-compatible float formatting.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/native.h"
#include "vm/vm.h"

#define MAX_PRINT_DEPTH 200 /* below VM_MAX_PRINTING */

/* ---------------------------------------------------------------- builders */

void sb_init(GaleVM *vm, StrBuf *sb)
{
	sb->vm = vm;
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->root = vm->temp_count;
	vm_push_root(vm, NIL_VAL);
}

static void sb_reserve(StrBuf *sb, size_t extra)
{
	if (sb->len + extra <= sb->cap)
		return;
	size_t cap = sb->cap < 64 ? 64 : sb->cap;
	while (cap < sb->len + extra)
		cap *= 2;
	if (cap > ((size_t)1 << 40))
		vm_oom(sb->vm);
	ObjBuf *b = buf_grow(sb->vm, sb->buf, sb->len, cap);
	sb->buf = b;
	sb->cap = cap;
	sb->vm->temps[sb->root] = OBJ_VAL(b);
}

void sb_add(StrBuf *sb, const char *s, size_t n)
{
	if (n == 0)
		return;
	sb_reserve(sb, n);
	memcpy((char *)sb->buf->data + sb->len, s, n);
	sb->len += n;
}

void sb_addc(StrBuf *sb, char c) { sb_add(sb, &c, 1); }

void sb_addf(StrBuf *sb, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sb_add(sb, small, (size_t)n);
		return;
	}
	sb_reserve(sb, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)sb->buf->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

ObjString *sb_finish(StrBuf *sb)
{
	ObjString *s = str_new(sb->vm, sb->buf ? (const char *)sb->buf->data : "", sb->len);
	sb_drop(sb);
	return s;
}

void sb_drop(StrBuf *sb) { sb->vm->temp_count = sb->root; }

/* ---------------------------------------------------------------- floats */

/* Python's repr(float): the shortest digits that read back to the same
 * double, in fixed notation when the exponent is in [-4, 16), else in
 * scientific notation with at least two exponent digits. */
void format_float(char *out, size_t n, double d)
{
	if (isnan(d)) {
		snprintf(out, n, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(out, n, d > 0 ? "inf" : "-inf");
		return;
	}
	char buf[64];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf: [-]D[.DDD]e[+-]XX */
	char digits[32];
	int nd = 0;
	const char *p = buf;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	while (*p && *p != 'e') {
		if (*p != '.')
			digits[nd++] = *p;
		p++;
	}
	int exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	char res[64];
	int r = 0;
	if (neg)
		res[r++] = '-';
	if (exp >= -4 && exp < 16) {
		if (exp >= 0) {
			for (int i = 0; i <= exp; i++)
				res[r++] = i < nd ? digits[i] : '0';
			res[r++] = '.';
			if (nd > exp + 1)
				for (int i = exp + 1; i < nd; i++)
					res[r++] = digits[i];
			else
				res[r++] = '0';
		} else {
			res[r++] = '0';
			res[r++] = '.';
			for (int i = 0; i < -exp - 1; i++)
				res[r++] = '0';
			for (int i = 0; i < nd; i++)
				res[r++] = digits[i];
		}
		res[r] = '\0';
	} else {
		res[r++] = digits[0];
		if (nd > 1) {
			res[r++] = '.';
			for (int i = 1; i < nd; i++)
				res[r++] = digits[i];
		}
		snprintf(res + r, sizeof res - (size_t)r, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	}
	snprintf(out, n, "%s", res);
}

/* ---------------------------------------------------------------- values */

const char *value_type_name(Value v)
{
	switch (v.type) {
	case VAL_NIL: return "nil";
	case VAL_BOOL: return "bool";
	case VAL_INT: return "int";
	case VAL_FLOAT: return "float";
	case VAL_OBJ: break;
	default: return "undefined";
	}
	switch (OBJ_KIND(v)) {
	case OBJ_STRING: return "string";
	case OBJ_LIST: return "list";
	case OBJ_MAP: return "map";
	case OBJ_RANGE: return "range";
	case OBJ_CLOSURE:
	case OBJ_NATIVE:
	case OBJ_BOUND:
	case OBJ_FUNCTION: return "function";
	case OBJ_CLASS: return "class";
	case OBJ_INSTANCE: return "instance";
	case OBJ_MODULE: return "module";
	case OBJ_ERROR: return "error";
	case OBJ_FOREIGN: return "foreign";
	default: return "object";
	}
}

/* Decimal digits of n into buf (at least 21 bytes, not terminated), two
 * digits per division. */
static size_t int_text(int64_t n, char *buf)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	char tmp[24];
	char *p = tmp + sizeof tmp;
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);
		u /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	if (n < 0)
		*--p = '-';
	size_t len = (size_t)(tmp + sizeof tmp - p);
	memcpy(buf, p, len);
	return len;
}

static void add_quoted(StrBuf *sb, ObjString *s)
{
	sb_addc(sb, '"');
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->chars[i];
		switch (c) {
		case '"': sb_add(sb, "\\\"", 2); break;
		case '\\': sb_add(sb, "\\\\", 2); break;
		case '\n': sb_add(sb, "\\n", 2); break;
		case '\t': sb_add(sb, "\\t", 2); break;
		case '\r': sb_add(sb, "\\r", 2); break;
		case '\0': sb_add(sb, "\\0", 2); break;
		default:
			if (c < 0x20 || c == 0x7f)
				sb_addf(sb, "\\x%02x", c);
			else
				sb_addc(sb, (char)c);
		}
	}
	sb_addc(sb, '"');
}

static void fn_text(StrBuf *sb, Value v)
{
	ObjString *name = NULL;
	if (IS_CLOSURE(v))
		name = AS_CLOSURE(v)->fn->name;
	else if (IS_NATIVE(v))
		name = AS_NATIVE(v)->name;
	else if (IS_KIND(v, OBJ_FUNCTION))
		name = AS_FUNCTION(v)->name;
	else if (IS_KIND(v, OBJ_BOUND)) {
		fn_text(sb, AS_BOUND(v)->method);
		return;
	}
	if (name != NULL)
		sb_addf(sb, "<fn %s>", name->chars);
	else
		sb_add(sb, "<fn>", 4);
}

static void sb_value_depth(StrBuf *sb, Value v, bool quoted, int depth);

static void add_instance(StrBuf *sb, Value v)
{
	GaleVM *vm = sb->vm;
	bool found;
	Value m = vm_get_method(vm, v, vm->s_toString, &found);
	if (!found) {
		sb_addf(sb, "<%s instance>", AS_INSTANCE(v)->klass->name->chars);
		return;
	}
	Value out;
	Value bound = OBJ_VAL(bound_new(vm, v, m));
	vm_push_root(vm, bound);
	vm_call(vm, bound, 0, NULL, &out);
	vm_pop_root(vm);
	if (!IS_STRING(out))
		vm_error(vm, "toString() must return a string, not %s", value_type_name(out));
	/* the result is not rooted by vm_call: keep it while the buffer grows */
	vm_push_root(vm, out);
	sb_add(sb, AS_CSTRING(out), AS_STRING(out)->len);
	vm_pop_root(vm);
}

static void sb_value_depth(StrBuf *sb, Value v, bool quoted, int depth)
{
	char num[64];
	switch (v.type) {
	case VAL_NIL: sb_add(sb, "nil", 3); return;
	case VAL_BOOL: AS_BOOL(v) ? sb_add(sb, "true", 4) : sb_add(sb, "false", 5); return;
	case VAL_INT: sb_add(sb, num, int_text(AS_INT(v), num)); return;
	case VAL_FLOAT:
		format_float(num, sizeof num, AS_FLOAT(v));
		sb_add(sb, num, strlen(num));
		return;
	case VAL_OBJ: break;
	default: sb_add(sb, "<undefined>", 11); return;
	}
	if (depth > MAX_PRINT_DEPTH || sb->vm->print_count >= VM_MAX_PRINTING) {
		sb_add(sb, "...", 3);
		return;
	}
	Obj *o = AS_OBJ(v);
	switch (o->kind) {
	case OBJ_STRING:
		if (quoted)
			add_quoted(sb, AS_STRING(v));
		else
			sb_add(sb, AS_CSTRING(v), AS_STRING(v)->len);
		return;
	case OBJ_LIST: {
		if (o->flags & OBJF_PRINTING) {
			sb_add(sb, "[...]", 5);
			return;
		}
		o->flags |= OBJF_PRINTING;
		sb->vm->printing[sb->vm->print_count++] = o;
		ObjList *l = AS_LIST(v);
		sb_addc(sb, '[');
		for (uint32_t i = 0; i < l->count; i++) {
			if (i > 0)
				sb_add(sb, ", ", 2);
			sb_value_depth(sb, list_get(l, i), true, depth + 1);
		}
		sb_addc(sb, ']');
		o->flags &= (uint8_t)~OBJF_PRINTING;
		sb->vm->print_count--;
		return;
	}
	case OBJ_MAP: {
		if (o->flags & OBJF_PRINTING) {
			sb_add(sb, "{...}", 5);
			return;
		}
		o->flags |= OBJF_PRINTING;
		sb->vm->printing[sb->vm->print_count++] = o;
		ObjMap *m = AS_MAP(v);
		sb_addc(sb, '{');
		uint32_t pos = 0;
		Value k, val;
		bool first = true;
		while (map_next(m, &pos, &k, &val)) {
			if (!first)
				sb_add(sb, ", ", 2);
			first = false;
			sb_value_depth(sb, k, true, depth + 1);
			sb_add(sb, ": ", 2);
			sb_value_depth(sb, val, true, depth + 1);
		}
		sb_addc(sb, '}');
		o->flags &= (uint8_t)~OBJF_PRINTING;
		sb->vm->print_count--;
		return;
	}
	case OBJ_RANGE: {
		ObjRange *r = AS_RANGE(v);
		sb_addf(sb, "range(%lld, %lld, %lld)", (long long)r->start, (long long)r->end, (long long)r->step);
		return;
	}
	case OBJ_FUNCTION:
	case OBJ_CLOSURE:
	case OBJ_NATIVE:
	case OBJ_BOUND: fn_text(sb, v); return;
	case OBJ_CLASS: sb_addf(sb, "<class %s>", ((ObjClass *)o)->name->chars); return;
	case OBJ_INSTANCE: add_instance(sb, v); return;
	case OBJ_MODULE: sb_addf(sb, "<module %s>", ((ObjModule *)o)->name->chars); return;
	case OBJ_ERROR:
		sb_add(sb, "<error: ", 8);
		sb_add(sb, ((ObjError *)o)->message->chars, ((ObjError *)o)->message->len);
		sb_addc(sb, '>');
		return;
	case OBJ_FOREIGN: {
		const vm_foreign_class *cls = ((ObjForeign *)o)->cls;
		sb_addf(sb, "<%s>", cls && cls->name ? cls->name : "foreign");
		return;
	}
	default: sb_add(sb, "<object>", 8); return;
	}
}

void sb_value(StrBuf *sb, Value v, bool quoted) { sb_value_depth(sb, v, quoted, 0); }

ObjString *value_to_string(GaleVM *vm, Value v)
{
	if (IS_STRING(v))
		return AS_STRING(v);
	if (IS_INT(v)) {
		char num[24];
		return str_new(vm, num, int_text(AS_INT(v), num));
	}
	StrBuf sb;
	sb_init(vm, &sb);
	sb_value(&sb, v, false);
	return sb_finish(&sb);
}
