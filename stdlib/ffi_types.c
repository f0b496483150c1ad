/*
 * ffi_types.c — the VM-independent FFI core: type names, struct layout,
 * signatures and call interfaces, scalar conversions (see ffi.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "stdlib/ffi.h"

/* The signed and unsigned kinds of a C integer type, by its size. */
#define SKIND(T) (sizeof(T) == 8 ? GFFI_INT64 : sizeof(T) == 4 ? GFFI_INT32 \
                  : sizeof(T) == 2 ? GFFI_INT16 : GFFI_INT8)
#define UKIND(T) (sizeof(T) == 8 ? GFFI_UINT64 : sizeof(T) == 4 ? GFFI_UINT32 \
                  : sizeof(T) == 2 ? GFFI_UINT16 : GFFI_UINT8)

/* The spec's names first, then common C spellings. */
static const gffi_typeinfo type_table[] = {
	{"void", GFFI_VOID},
	{"int8", GFFI_INT8},
	{"uint8", GFFI_UINT8},
	{"int16", GFFI_INT16},
	{"uint16", GFFI_UINT16},
	{"int32", GFFI_INT32},
	{"uint32", GFFI_UINT32},
	{"int64", GFFI_INT64},
	{"uint64", GFFI_UINT64},
	{"int", SKIND(int)},
	{"uint", UKIND(unsigned)},
	{"long", SKIND(long)},
	{"ulong", UKIND(unsigned long)},
	{"size_t", UKIND(size_t)},
	{"float", GFFI_FLOAT},
	{"double", GFFI_DOUBLE},
	{"pointer", GFFI_POINTER},
	{"string", GFFI_STRING},
	{"char", GFFI_INT8},
	{"uchar", GFFI_UINT8},
	{"short", SKIND(short)},
	{"ushort", UKIND(unsigned short)},
	{"longlong", SKIND(long long)},
	{"ulonglong", UKIND(unsigned long long)},
	{"ssize_t", SKIND(ssize_t)},
	{"intptr_t", SKIND(intptr_t)},
	{"uintptr_t", UKIND(uintptr_t)},
};

static const char *const kind_names[GFFI_KIND_COUNT] = {
	"void", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
	"uint64", "float", "double", "pointer", "string", "struct",
};

/* snprintf into err, tolerating a NULL or empty buffer. */
static bool fail(char *err, size_t errcap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errcap, const char *fmt, ...)
{
	if (err != NULL && errcap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errcap, fmt, ap);
		va_end(ap);
	}
	return false;
}

const gffi_typeinfo *gffi_type_lookup(const char *name, size_t len)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++) {
		const char *n = type_table[i].name;
		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return &type_table[i];
	}
	return NULL;
}

const char *gffi_kind_name(gffi_kind k)
{
	return (unsigned)k < GFFI_KIND_COUNT ? kind_names[k] : "?";
}

ffi_type *gffi_kind_type(gffi_kind k)
{
	switch (k) {
	case GFFI_VOID: return &ffi_type_void;
	case GFFI_INT8: return &ffi_type_sint8;
	case GFFI_UINT8: return &ffi_type_uint8;
	case GFFI_INT16: return &ffi_type_sint16;
	case GFFI_UINT16: return &ffi_type_uint16;
	case GFFI_INT32: return &ffi_type_sint32;
	case GFFI_UINT32: return &ffi_type_uint32;
	case GFFI_INT64: return &ffi_type_sint64;
	case GFFI_UINT64: return &ffi_type_uint64;
	case GFFI_FLOAT: return &ffi_type_float;
	case GFFI_DOUBLE: return &ffi_type_double;
	case GFFI_POINTER:
	case GFFI_STRING: return &ffi_type_pointer;
	default: return NULL;
	}
}

size_t gffi_sizeof(gffi_kind k, const ffi_type *t)
{
	if (k == GFFI_STRUCT)
		return t != NULL ? t->size : 0;
	if (k == GFFI_VOID)
		return 0;
	return gffi_kind_type(k)->size;
}

size_t gffi_alignof(gffi_kind k, const ffi_type *t)
{
	if (k == GFFI_STRUCT)
		return t != NULL ? t->alignment : 1;
	if (k == GFFI_VOID)
		return 1;
	return gffi_kind_type(k)->alignment;
}

/* ---- structs ---- */

void gffi_struct_init(gffi_struct *s)
{
	memset(s, 0, sizeof *s);
	s->type.type = FFI_TYPE_STRUCT;
	s->type.elements = s->elements;
}

bool gffi_struct_add(gffi_struct *s, gffi_kind kind, ffi_type *type, char *err, size_t errcap)
{
	if (kind == GFFI_VOID || (unsigned)kind >= GFFI_KIND_COUNT)
		return fail(err, errcap, "a struct field cannot be void");
	if (s->count >= GFFI_MAX_FIELDS)
		return fail(err, errcap, "a struct has at most %d fields", GFFI_MAX_FIELDS);
	if (kind != GFFI_STRUCT)
		type = gffi_kind_type(kind);
	/* a nested struct must already be laid out: its size is what we copy */
	if (type == NULL || type->size == 0)
		return fail(err, errcap, "field %u has no layout", s->count + 1);
	s->kinds[s->count] = (uint8_t)kind;
	s->elements[s->count++] = type;
	s->elements[s->count] = NULL;
	return true;
}

bool gffi_struct_finish(gffi_struct *s, char *err, size_t errcap)
{
	if (s->count == 0)
		return fail(err, errcap, "a struct needs at least one field");
	/* libffi computes the layout the C compiler would (initialize_aggregate)
	 * and fills size and alignment, which it trusts from then on */
	s->type.size = 0;
	s->type.alignment = 0;
	s->type.elements = s->elements;
	if (ffi_get_struct_offsets(FFI_DEFAULT_ABI, &s->type, s->offsets) != FFI_OK)
		return fail(err, errcap, "libffi refused the struct layout");
	return true;
}

/* ---- signatures ---- */

void gffi_sig_init(gffi_sig *sig)
{
	memset(sig, 0, sizeof *sig);
	sig->rkind = GFFI_VOID;
	sig->rtype = &ffi_type_void;
}

static ffi_type *resolve(gffi_kind kind, ffi_type *type)
{
	return kind == GFFI_STRUCT ? type : gffi_kind_type(kind);
}

bool gffi_sig_set_ret(gffi_sig *sig, gffi_kind kind, ffi_type *type, char *err, size_t errcap)
{
	if ((unsigned)kind >= GFFI_KIND_COUNT || (type = resolve(kind, type)) == NULL)
		return fail(err, errcap, "bad return type");
	sig->rkind = (uint8_t)kind;
	sig->rtype = type;
	sig->prepared = false;
	return true;
}

bool gffi_sig_add_arg(gffi_sig *sig, gffi_kind kind, ffi_type *type, char *err, size_t errcap)
{
	if (sig->variadic)
		return fail(err, errcap, "'...' must come last");
	if (kind == GFFI_VOID)
		return fail(err, errcap, "void is not an argument type");
	if ((unsigned)kind >= GFFI_KIND_COUNT || (type = resolve(kind, type)) == NULL)
		return fail(err, errcap, "bad argument type");
	if (sig->nargs >= GFFI_MAX_ARGS)
		return fail(err, errcap, "at most %d arguments", GFFI_MAX_ARGS);
	sig->kinds[sig->nargs] = (uint8_t)kind;
	sig->atypes[sig->nargs++] = type;
	sig->prepared = false;
	return true;
}

bool gffi_sig_set_variadic(gffi_sig *sig, char *err, size_t errcap)
{
	if (sig->variadic)
		return fail(err, errcap, "'...' given twice");
	sig->variadic = true;
	sig->prepared = false;
	return true;
}

bool gffi_sig_finish(gffi_sig *sig, char *err, size_t errcap)
{
	sig->prepared = false;
	if (sig->variadic)
		return true; /* prepared per call */
	if (ffi_prep_cif(&sig->cif, FFI_DEFAULT_ABI, sig->nargs, sig->rtype,
	                 sig->nargs > 0 ? sig->atypes : NULL) != FFI_OK)
		return fail(err, errcap, "libffi cannot prepare this signature");
	sig->prepared = true;
	return true;
}

bool gffi_sig_prepare_var(const gffi_sig *sig, ffi_cif *cif, ffi_type **all,
                          ffi_type *const *extra, unsigned nextra, char *err, size_t errcap)
{
	unsigned total = sig->nargs + nextra;
	if (total > GFFI_MAX_ARGS)
		return fail(err, errcap, "at most %d arguments", GFFI_MAX_ARGS);
	memcpy(all, sig->atypes, sig->nargs * sizeof *all);
	memcpy(all + sig->nargs, extra, nextra * sizeof *all);
	if (ffi_prep_cif_var(cif, FFI_DEFAULT_ABI, sig->nargs, total, sig->rtype,
	                     total > 0 ? all : NULL) != FFI_OK)
		return fail(err, errcap, "libffi cannot prepare this variadic call");
	return true;
}

/* ---- the text form "ret(arg, ...)" ---- */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

/* A type name at *i (advanced past it); NULL with err set otherwise. */
static const gffi_typeinfo *parse_type(const char *s, size_t len, size_t *i, char *err,
                                       size_t errcap)
{
	size_t start = *i;
	if (start >= len || !is_ident_start(s[start])) {
		fail(err, errcap, "signature: expected a type name at byte %zu", start);
		return NULL;
	}
	size_t end = start;
	while (end < len && is_ident_char(s[end]))
		end++;
	*i = end;
	const gffi_typeinfo *ti = gffi_type_lookup(s + start, end - start);
	if (ti == NULL) {
		/* an identifier is printable ASCII; cap it to keep the message short */
		int n = end - start > 40 ? 40 : (int)(end - start);
		fail(err, errcap, "signature: unknown type '%.*s'", n, s + start);
	}
	return ti;
}

bool gffi_sig_parse(gffi_sig *sig, const char *text, size_t len, char *err, size_t errcap)
{
	gffi_sig_init(sig);
	if (text == NULL)
		return fail(err, errcap, "signature: no text");
	size_t i = skip_ws(text, len, 0);
	const gffi_typeinfo *ti = parse_type(text, len, &i, err, errcap);
	if (ti == NULL)
		return false;
	if (!gffi_sig_set_ret(sig, ti->kind, NULL, err, errcap))
		return false;
	i = skip_ws(text, len, i);
	if (i >= len || text[i] != '(')
		return fail(err, errcap, "signature: expected '(' at byte %zu", i);
	i = skip_ws(text, len, i + 1);
	if (i < len && text[i] == ')') {
		i++;
	} else {
		/* a lone "void" means no parameters, as in C */
		size_t j = i;
		if (j + 4 <= len && memcmp(text + j, "void", 4) == 0) {
			j = skip_ws(text, len, j + 4);
			if (j < len && text[j] == ')') {
				i = j + 1;
				goto done;
			}
		}
		for (;;) {
			char sub[GFFI_ERR_MAX];
			if (i + 3 <= len && memcmp(text + i, "...", 3) == 0) {
				if (!gffi_sig_set_variadic(sig, sub, sizeof sub))
					return fail(err, errcap, "signature: %s", sub);
				i += 3;
			} else {
				ti = parse_type(text, len, &i, err, errcap);
				if (ti == NULL)
					return false;
				if (!gffi_sig_add_arg(sig, ti->kind, NULL, sub, sizeof sub))
					return fail(err, errcap, "signature: %s", sub);
			}
			i = skip_ws(text, len, i);
			if (i < len && text[i] == ')') {
				i++;
				break;
			}
			if (i >= len || text[i] != ',')
				return fail(err, errcap, "signature: expected ',' or ')' at byte %zu", i);
			i = skip_ws(text, len, i + 1);
		}
	}
done:
	i = skip_ws(text, len, i);
	if (i != len)
		return fail(err, errcap, "signature: unexpected text at byte %zu", i);
	return gffi_sig_finish(sig, err, errcap);
}

/* ---- scalars ---- */

bool gffi_int_fits(gffi_kind k, int64_t v)
{
	switch (k) {
	case GFFI_INT8: return v >= INT8_MIN && v <= INT8_MAX;
	case GFFI_UINT8: return v >= 0 && v <= UINT8_MAX;
	case GFFI_INT16: return v >= INT16_MIN && v <= INT16_MAX;
	case GFFI_UINT16: return v >= 0 && v <= UINT16_MAX;
	case GFFI_INT32: return v >= INT32_MIN && v <= INT32_MAX;
	case GFFI_UINT32: return v >= 0 && v <= (int64_t)UINT32_MAX;
	case GFFI_INT64: return true;
	case GFFI_UINT64: return v >= 0;
	default: return false;
	}
}

/* memcpy keeps unaligned addresses (offsets into raw memory) defined */
#define STORE(T, p, v) do { T x_ = (T)(v); memcpy((p), &x_, sizeof x_); } while (0)
#define LOAD(T, p) ({ T x_; memcpy(&x_, (p), sizeof x_); x_; })

void gffi_store_int(gffi_kind k, void *p, int64_t v)
{
	switch (k) {
	case GFFI_INT8: STORE(int8_t, p, v); break;
	case GFFI_UINT8: STORE(uint8_t, p, v); break;
	case GFFI_INT16: STORE(int16_t, p, v); break;
	case GFFI_UINT16: STORE(uint16_t, p, v); break;
	case GFFI_INT32: STORE(int32_t, p, v); break;
	case GFFI_UINT32: STORE(uint32_t, p, v); break;
	case GFFI_INT64: STORE(int64_t, p, v); break;
	case GFFI_UINT64: STORE(uint64_t, p, v); break;
	default: break;
	}
}

int64_t gffi_load_int(gffi_kind k, const void *p)
{
	switch (k) {
	case GFFI_INT8: return LOAD(int8_t, p);
	case GFFI_UINT8: return LOAD(uint8_t, p);
	case GFFI_INT16: return LOAD(int16_t, p);
	case GFFI_UINT16: return LOAD(uint16_t, p);
	case GFFI_INT32: return LOAD(int32_t, p);
	case GFFI_UINT32: return LOAD(uint32_t, p);
	case GFFI_INT64: return LOAD(int64_t, p);
	/* a uint64 past INT64_MAX keeps its bits (reads as negative) */
	case GFFI_UINT64: return (int64_t)LOAD(uint64_t, p);
	default: return 0;
	}
}

void gffi_store_float(gffi_kind k, void *p, double v)
{
	if (k == GFFI_FLOAT)
		STORE(float, p, v);
	else if (k == GFFI_DOUBLE)
		STORE(double, p, v);
}

double gffi_load_float(gffi_kind k, const void *p)
{
	if (k == GFFI_FLOAT)
		return LOAD(float, p);
	if (k == GFFI_DOUBLE)
		return LOAD(double, p);
	return 0;
}

int64_t gffi_load_ret_int(gffi_kind k, const void *rvalue)
{
	/* the callee's value sits in the low bytes of a full ffi_arg; truncating
	 * to the kind is right whether libffi sign- or zero-extended it */
	ffi_arg r = LOAD(ffi_arg, rvalue);
	switch (k) {
	case GFFI_INT8: return (int8_t)r;
	case GFFI_UINT8: return (uint8_t)r;
	case GFFI_INT16: return (int16_t)r;
	case GFFI_UINT16: return (uint16_t)r;
	case GFFI_INT32: return (int32_t)r;
	case GFFI_UINT32: return (uint32_t)r;
	case GFFI_INT64:
	case GFFI_UINT64: return (int64_t)r;
	default: return 0;
	}
}

void gffi_store_ret_int(gffi_kind k, void *rvalue, int64_t v)
{
	/* a closure must fill the whole ffi_arg, extended as the C type says */
	switch (k) {
	case GFFI_INT8: STORE(ffi_sarg, rvalue, (int8_t)v); break;
	case GFFI_UINT8: STORE(ffi_arg, rvalue, (uint8_t)v); break;
	case GFFI_INT16: STORE(ffi_sarg, rvalue, (int16_t)v); break;
	case GFFI_UINT16: STORE(ffi_arg, rvalue, (uint16_t)v); break;
	case GFFI_INT32: STORE(ffi_sarg, rvalue, (int32_t)v); break;
	case GFFI_UINT32: STORE(ffi_arg, rvalue, (uint32_t)v); break;
	case GFFI_INT64:
	case GFFI_UINT64: STORE(int64_t, rvalue, v); break;
	default: break;
	}
}

size_t gffi_ret_size(gffi_kind k, const ffi_type *t)
{
	size_t n = gffi_sizeof(k, t);
	return n < sizeof(ffi_arg) ? sizeof(ffi_arg) : n;
}
