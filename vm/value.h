/*
 * value.h — the Gale value: a 16-byte tagged union (like Lua 5.4's TValue).
 *
 * A tag byte plus an 8-byte payload keeps every int a full 64-bit two's
 * complement number with no boxing, and makes int/float fast paths a single
 * tag compare. Heap values point at objects allocated with mallocgc; the
 * object's first byte is its kind (see object.h).
 */
#ifndef GALE_VALUE_H
#define GALE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ValueType {
	VAL_NIL,
	VAL_BOOL,
	VAL_INT,
	VAL_FLOAT,
	VAL_OBJ,
	VAL_UNDEF, /* internal: a module slot not yet bound, a deleted map entry */
} ValueType;

typedef struct Obj Obj;

/* Object equality (object.h, which includes this file). */
static inline bool obj_equal(const Obj *a, const Obj *b);

typedef struct Value {
	uint8_t type;
	union {
		bool b;
		int64_t i;
		double f;
		Obj *obj;
	} as;
} Value;

#define IS_NIL(v) ((v).type == VAL_NIL)
#define IS_BOOL(v) ((v).type == VAL_BOOL)
#define IS_INT(v) ((v).type == VAL_INT)
#define IS_FLOAT(v) ((v).type == VAL_FLOAT)
#define IS_NUMBER(v) ((v).type == VAL_INT || (v).type == VAL_FLOAT)
#define IS_OBJ(v) ((v).type == VAL_OBJ)
#define IS_UNDEF(v) ((v).type == VAL_UNDEF)

#define AS_BOOL(v) ((v).as.b)
#define AS_INT(v) ((v).as.i)
#define AS_FLOAT(v) ((v).as.f)
#define AS_OBJ(v) ((v).as.obj)
/* Either numeric kind as a double. */
#define AS_NUMBER(v) (IS_INT(v) ? (double)AS_INT(v) : AS_FLOAT(v))

/* A value made from its tag and payload as one 16-byte vector, so storing
 * it is one 16-byte write. A compound literal compiles to a byte store for
 * the tag and an 8-byte store for the payload, and the next 16-byte copy of
 * that value (a push, a store to a local, a return) cannot be forwarded from
 * two smaller stores: on x86 it waits a dozen cycles for them to retire. */
typedef uint64_t ValueWords __attribute__((vector_size(16)));

static inline Value value_make(uint8_t type, uint64_t payload)
{
	ValueWords w = {type, payload};
	Value v;
	__builtin_memcpy(&v, &w, sizeof v);
	return v;
}

static inline uint64_t value_float_bits(double f)
{
	uint64_t b;
	__builtin_memcpy(&b, &f, sizeof b);
	return b;
}

#define NIL_VAL ((Value){VAL_NIL, {.i = 0}})
#define UNDEF_VAL ((Value){VAL_UNDEF, {.i = 0}})
#define BOOL_VAL(x) value_make(VAL_BOOL, (uint64_t)(bool)(x))
#define INT_VAL(x) value_make(VAL_INT, (uint64_t)(int64_t)(x))
#define FLOAT_VAL(x) value_make(VAL_FLOAT, value_float_bits(x))
#define OBJ_VAL(o) value_make(VAL_OBJ, (uint64_t)(uintptr_t)(Obj *)(o))

/* Only nil and false are falsy. */
static inline bool value_falsy(Value v)
{
	return v.type == VAL_NIL || (v.type == VAL_BOOL && !v.as.b);
}

/* == semantics: numbers by value, strings by contents (obj_equal: the same
 * object, or else content unless both are interned), everything else by
 * identity. */
static inline bool value_equal(Value a, Value b)
{
	if (a.type == b.type) {
		switch (a.type) {
		case VAL_NIL:
		case VAL_UNDEF: return true;
		case VAL_BOOL: return a.as.b == b.as.b;
		case VAL_INT: return a.as.i == b.as.i;
		case VAL_FLOAT: return a.as.f == b.as.f;
		default: return a.as.obj == b.as.obj || obj_equal(a.as.obj, b.as.obj);
		}
	}
	if (a.type == VAL_INT && b.type == VAL_FLOAT)
		return (double)a.as.i == b.as.f;
	if (a.type == VAL_FLOAT && b.type == VAL_INT)
		return a.as.f == (double)b.as.i;
	return false;
}

#endif
