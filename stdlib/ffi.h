/*
 * ffi.h — the FFI core that does not depend on the VM: the C type table,
 * natural struct layout, signatures and their libffi call interfaces, and
 * scalar loads and stores with range checks. stdlib/ffi.c builds the `ffi`
 * module on top of it.
 *
 * Every function here reports misuse through a message in a caller-supplied
 * buffer and a false return; none of them can crash on any input, which is
 * what lets gffi_sig_parse serve as a fuzzing entry point.
 */
#ifndef GALE_STDLIB_FFI_H
#define GALE_STDLIB_FFI_H

#include <ffi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct GaleVM GaleVM;

/* Most arguments a foreign function or callback takes (variadic ones
 * included), and most fields of one struct. */
#define GFFI_MAX_ARGS 32
#define GFFI_MAX_FIELDS 32
/* Room callers give the error buffer; longer messages are cut. */
#define GFFI_ERR_MAX 160

/* The C representations a value can take. The C names of the spec (int,
 * long, size_t, ...) are aliases of the fixed-width kinds, chosen by sizeof. */
typedef enum gffi_kind {
	GFFI_VOID,
	GFFI_INT8,
	GFFI_UINT8,
	GFFI_INT16,
	GFFI_UINT16,
	GFFI_INT32,
	GFFI_UINT32,
	GFFI_INT64,
	GFFI_UINT64,
	GFFI_FLOAT,
	GFFI_DOUBLE,
	GFFI_POINTER,
	GFFI_STRING, /* char *: NUL-terminated copy in, copied out */
	GFFI_STRUCT, /* by value; the ffi_type is the first member of a gffi_struct */
	GFFI_KIND_COUNT
} gffi_kind;

/* One entry of the type-name table. */
typedef struct gffi_typeinfo {
	const char *name;
	gffi_kind kind;
} gffi_typeinfo;

/* The entry for a type name of len bytes, or NULL if it names no type.
 * "..." is not a type (signatures handle it). */
const gffi_typeinfo *gffi_type_lookup(const char *name, size_t len);
/* The name of a kind, for messages ("int32", "struct", ...). */
const char *gffi_kind_name(gffi_kind k);
/* The libffi type of a scalar kind (NULL for GFFI_STRUCT). */
ffi_type *gffi_kind_type(gffi_kind k);
static inline bool gffi_kind_is_int(gffi_kind k) { return k >= GFFI_INT8 && k <= GFFI_UINT64; }

/* A struct laid out as a C compiler lays it out on this ABI (offsets padded
 * to each field's alignment, size padded to the largest one). The ffi_type
 * comes first so a struct field or argument, known only by its ffi_type *,
 * leads back to its gffi_struct. */
typedef struct gffi_struct {
	ffi_type type;
	uint32_t count;
	uint8_t kinds[GFFI_MAX_FIELDS];
	ffi_type *elements[GFFI_MAX_FIELDS + 1]; /* NULL-terminated, as libffi wants */
	size_t offsets[GFFI_MAX_FIELDS];
} gffi_struct;

static inline gffi_struct *gffi_struct_of(ffi_type *t) { return (gffi_struct *)t; }

void gffi_struct_init(gffi_struct *s);
/* Append a field; type is the field's ffi_type (for a nested struct, its
 * gffi_struct's type). void is refused. */
bool gffi_struct_add(gffi_struct *s, gffi_kind kind, ffi_type *type, char *err, size_t errcap);
/* Compute offsets, size and alignment once all fields are in. */
bool gffi_struct_finish(gffi_struct *s, char *err, size_t errcap);

/* Size and alignment in C of a scalar kind or of t (for structs). */
size_t gffi_sizeof(gffi_kind k, const ffi_type *t);
size_t gffi_alignof(gffi_kind k, const ffi_type *t);

/*
 * A foreign signature: the return type, the fixed parameters and whether
 * "..." follows them. For a fixed signature cif is prepared once by
 * gffi_sig_finish; a variadic one prepares a call-local cif each call
 * (gffi_sig_prepare_var), since the types past "..." come from the values.
 */
typedef struct gffi_sig {
	ffi_cif cif;
	ffi_type *rtype;
	uint8_t rkind;
	uint8_t nargs; /* fixed parameters */
	bool variadic;
	bool prepared;
	uint8_t kinds[GFFI_MAX_ARGS];
	ffi_type *atypes[GFFI_MAX_ARGS];
} gffi_sig;

void gffi_sig_init(gffi_sig *sig);
bool gffi_sig_set_ret(gffi_sig *sig, gffi_kind kind, ffi_type *type, char *err, size_t errcap);
bool gffi_sig_add_arg(gffi_sig *sig, gffi_kind kind, ffi_type *type, char *err, size_t errcap);
bool gffi_sig_set_variadic(gffi_sig *sig, char *err, size_t errcap);
/* Validate and, for a fixed signature, prepare cif. cif points into sig, so
 * a sig copied elsewhere must be finished again at its new place. */
bool gffi_sig_finish(gffi_sig *sig, char *err, size_t errcap);
/* cif for one variadic call: the fixed types followed by the nextra types in
 * extra. all must hold GFFI_MAX_ARGS entries and outlive the call. */
bool gffi_sig_prepare_var(const gffi_sig *sig, ffi_cif *cif, ffi_type **all,
                          ffi_type *const *extra, unsigned nextra, char *err, size_t errcap);

/*
 * Parse a whole signature written the C way, e.g. "int(string, ...)",
 * "void(pointer, size_t)", "double(void)". Names are those of the type table;
 * structs cannot be written in text. Any bytes in: false with a message in
 * err, or true with sig finished (cif prepared for a fixed signature).
 */
bool gffi_sig_parse(gffi_sig *sig, const char *text, size_t len, char *err, size_t errcap);

/* Does v fit the integer kind k? (uint64 takes 0 .. INT64_MAX: a Gale int
 * is signed.) */
bool gffi_int_fits(gffi_kind k, int64_t v);
/* Store or load an integer or float of kind k at p (p need not be aligned). */
void gffi_store_int(gffi_kind k, void *p, int64_t v);
int64_t gffi_load_int(gffi_kind k, const void *p);
void gffi_store_float(gffi_kind k, void *p, double v);
double gffi_load_float(gffi_kind k, const void *p);
/* libffi widens integer results narrower than a register to ffi_arg: read a
 * return slot of kind k, and write one for a closure. */
int64_t gffi_load_ret_int(gffi_kind k, const void *rvalue);
void gffi_store_ret_int(gffi_kind k, void *rvalue, int64_t v);
/* Bytes a return slot needs (at least sizeof(ffi_arg)). */
size_t gffi_ret_size(gffi_kind k, const ffi_type *t);

/* The module opener, called by gale_open_libs. */
void ffi_open_module(GaleVM *vm);

#endif
