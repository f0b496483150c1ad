/*
 * object.h — heap object layouts. Every object starts with an Obj header
 * whose first byte is its kind (the collector reads it to find the trace and
 * finalize functions registered in object.c). Variable-size arrays live in
 * ObjBuf blocks (noscan): the owner marks the block and traces its contents.
 */
#ifndef GALE_OBJECT_H
#define GALE_OBJECT_H

#include "vm/value.h"

typedef struct GaleVM GaleVM;

typedef enum ObjKind {
	OBJ_BUF = 1, /* raw array owned by another object */
	OBJ_STRING,
	OBJ_LIST,
	OBJ_MAP,
	OBJ_RANGE,
	OBJ_FUNCTION,
	OBJ_CLOSURE,
	OBJ_UPVALUE,
	OBJ_NATIVE,
	OBJ_CLASS,
	OBJ_INSTANCE,
	OBJ_BOUND,
	OBJ_MODULE,
	OBJ_ERROR,
	OBJ_FOREIGN,
	OBJ_INTBOX, /* an int too wide for a list slot (see Slot); never a Value */
	OBJ_KIND_COUNT
} ObjKind;

struct Obj {
	uint8_t kind;
	uint8_t flags; /* per-kind bits (OBJF_*) */
	uint16_t spare;
	uint32_t spare2;
};

#define OBJF_PRINTING 1 /* containers: being printed (cycle detection) */
#define OBJF_INLINE_ITEMS 2 /* lists: items stored in the object itself (see ObjList) */
#define OBJF_INTERNED 4 /* strings: in the intern table, the only one with its contents (string.c) */

typedef struct ObjBuf {
	union {
		Obj obj;
		struct {
			uint8_t header_[4];
			uint32_t cap; /* a list's buffer: its capacity in slots */
		};
	};
	uint64_t data[]; /* 8-byte aligned payload */
} ObjBuf;

/* A 16-byte header: the hash and the lookup hint share the Obj word. */
typedef struct ObjString {
	union {
		Obj obj;
		struct {
			uint8_t header_[2];
			/* entry number where it was last found as a field or method
			 * name (map_find_str); entries past STR_NO_HINT are not kept */
			uint16_t hint;
			uint32_t hash; /* str_hash of the contents (never 0); 0 until str_hash_of needs it */
		};
	};
	size_t len;
	char chars[]; /* NUL-terminated for C convenience */
} ObjString;

#define STR_NO_HINT UINT16_MAX

/* A list item, and a map key, is a Slot: a Value packed into 8 bytes by
 * NaN-boxing, half a Value. A float is its own bits. Everything else is a NaN whose top
 * 16 bits are SLOT_BASE's plus the Value's type (the sign bit set, so the
 * quiet NaNs arithmetic produces, and every non-NaN double, lie below), and
 * whose low 48 bits are the payload, sign-extended when read:
 *   nil, undef   0
 *   bool         0 or 1
 *   int          an int in [-2^47, 2^47)
 *   obj          the pointer (user-space addresses fit 47 bits)
 * SLOT_BOX tags a pointer to an ObjIntBox, for an int that does not fit. A
 * negative NaN whose payload would collide with a tag is stored as the plain
 * negative quiet NaN. Boxes are made by slot_of (list_set, map keys) and
 * read back as ints, so they never appear as Values. */
typedef uint64_t Slot;

#define SLOT_TAG(type) (((Slot)0xFFF9 + (type)) << 48)
#define SLOT_BASE SLOT_TAG(0) /* below it, floats */
#define SLOT_OBJ SLOT_TAG(VAL_OBJ)
#define SLOT_INT SLOT_TAG(VAL_INT)
#define SLOT_BOX ((Slot)0xFFFF << 48)
#define SLOT_NIL SLOT_TAG(VAL_NIL)
#define SLOT_UNDEF SLOT_TAG(VAL_UNDEF)
#define SLOT_NAN ((Slot)0xFFF8 << 48)
#define SLOT_PAYLOAD(s) ((s) & (((Slot)1 << 48) - 1))
/* The tags are consecutive from VAL_NIL; the box tag is above them all. */
_Static_assert(VAL_NIL == 0 && VAL_UNDEF == 5 && VAL_OBJ < VAL_UNDEF, "slot tags follow ValueType");

typedef struct ObjIntBox {
	Obj obj;
	int64_t i;
} ObjIntBox;

/* Slots the collector follows: an object or a box, the two tags that
 * differ only in bit 1 (0xFFFD, 0xFFFF). */
_Static_assert(SLOT_OBJ >> 48 == 0xFFFD, "object and box tags differ in bit 1 only");
static inline bool slot_is_ref(Slot s)
{
	return ((s >> 48) | 2) == 0xFFFF;
}

/* An int a slot holds without a box. */
static inline bool slot_int_fits(int64_t i) { return (int64_t)((uint64_t)i << 16) >> 16 == i; }

static inline Value slot_value(Slot s)
{
	if (s < SLOT_BASE)
		return value_make(VAL_FLOAT, s);
	if (__builtin_expect(s >= SLOT_BOX, 0))
		return value_make(VAL_INT, (uint64_t)((const ObjIntBox *)(uintptr_t)SLOT_PAYLOAD(s))->i);
	return value_make((uint8_t)((s >> 48) - 0xFFF9), (uint64_t)((int64_t)(s << 16) >> 16));
}

/* The slot for v, or false for an int that needs a box (list_set). */
static inline bool slot_pack(Value v, Slot *out)
{
	if (v.type == VAL_FLOAT) {
		uint64_t bits = value_float_bits(v.as.f);
		*out = bits >= SLOT_BASE ? SLOT_NAN : bits;
		return true;
	}
	uint64_t payload;
	if (v.type == VAL_OBJ) {
		payload = (uint64_t)(uintptr_t)v.as.obj;
	} else if (v.type == VAL_INT) {
		if (!slot_int_fits(v.as.i))
			return false;
		payload = SLOT_PAYLOAD((uint64_t)v.as.i);
	} else {
		payload = v.type == VAL_BOOL ? v.as.b : 0;
	}
	*out = SLOT_TAG(v.type) | payload;
	return true;
}

/* A list is 16 bytes: the count shares the header's word, and the capacity
 * lives with the slots (in the buffer's header, or in the list's while they
 * are inline). A list made with a small known size (a literal such as
 * [a, b]) keeps its slots in the same block, starting where the items
 * pointer would be (OBJF_INLINE_ITEMS): one allocation instead of two, and
 * a pair is 24 bytes. Growing past cap moves the slots to a buffer for
 * good. */
typedef struct ObjList {
	union {
		Obj obj;
		struct {
			uint8_t header_[2];
			uint16_t inline_cap; /* the capacity while the slots are inline */
			uint32_t count;
		};
	};
	ObjBuf *items; /* Slot[items->cap]; unused when the slots are inline */
} ObjList;

#define LIST_INLINE_MAX 4 /* most items a list is created with inline */

/* A map entry is 24 bytes: the key as a slot (see Slot), so that most key
 * compares are one compare of words, and the value as a Value, read and
 * written in place by the field and index fast paths. A deleted entry is a
 * hole: its key is SLOT_UNDEF and its value holds the old key's slot
 * (MAP_HOLE_KEY, map.c). */
typedef struct MapEntry {
	Slot key;
	Value value;
} MapEntry;

_Static_assert(sizeof(MapEntry) == 24, "a map entry is a slot and a value");
#define MAP_HOLE_KEY(e) ((Slot)(e)->value.as.i)

typedef struct ObjMap {
	Obj obj;
	uint32_t count; /* live entries */
	uint32_t used;  /* entries[0..used) in insertion order, deleted included */
	uint32_t cap;   /* entries capacity */
	uint32_t mask;  /* index size - 1 (index has 2 * cap slots) */
	ObjBuf *entries; /* MapEntry[cap] */
	ObjBuf *index;   /* int32_t[mask+1]: entry number, -1 empty, -2 deleted */
} ObjMap;

typedef struct ObjRange {
	Obj obj;
	int64_t start, end, step;
} ObjRange;

typedef struct ObjModule ObjModule;

typedef struct ObjFunction {
	Obj obj;
	int16_t arity;
	bool variadic;
	uint8_t spare;
	int32_t upvalue_count;
	int32_t max_slots;
	int32_t call_arity; /* arity, or -1 when variadic: the call fast path's one check */
	uint32_t code_len, code_cap;
	uint32_t const_len, const_cap;
	ObjBuf *code;   /* uint8_t[code_cap] */
	ObjBuf *lines;  /* int32_t[code_cap], source line of each byte */
	ObjBuf *consts; /* Value[const_cap] */
	ObjString *name; /* NULL: anonymous */
	ObjModule *module;
	/* code->data and consts->data, kept beside the buffers (which never
	 * move once made) so a call loads them in one step */
	uint8_t *code_data;
	Value *const_data;
} ObjFunction;

#define FN_CODE(f) ((f)->code_data)
#define FN_LINES(f) ((int32_t *)(f)->lines->data)
#define FN_CONSTS(f) ((f)->const_data)

typedef struct ObjUpvalue {
	Obj obj;
	Value *location; /* into the stack while open, else &closed */
	Value closed;
	struct ObjUpvalue *next; /* open list, sorted by stack address, descending */
} ObjUpvalue;

typedef struct ObjClosure {
	Obj obj;
	ObjFunction *fn;
	int32_t count;
	ObjUpvalue *upvalues[];
} ObjClosure;

/* A native function: args[0..argc) are the arguments, args[-1] is the callee
 * slot (the receiver for methods). It stores its result in *ret and returns;
 * errors do not return (vm_error longjmps). */
typedef void (*NativeFn)(GaleVM *vm, int argc, Value *args, Value *ret);

typedef struct ObjNative {
	Obj obj;
	int16_t arity; /* -1: variadic */
	NativeFn fn;
	ObjString *name;
	const char *doc;  /* static, or the chars of doc_str, or NULL */
	ObjString *doc_str; /* owned copy of a registered function's doc */
	void *cfn;        /* public C function for gale_register, else NULL */
} ObjNative;

typedef struct ObjClass {
	Obj obj;
	ObjString *name;
	struct ObjClass *super;
	ObjMap *methods; /* name -> closure, inherited ones copied in */
	Value init;      /* cached "init" method or nil */
} ObjClass;

typedef struct ObjInstance {
	Obj obj;
	ObjClass *klass;
	ObjMap *fields;
} ObjInstance;

typedef struct ObjBound {
	Obj obj;
	Value receiver;
	Value method;
} ObjBound;

/* Module variables are slots: the compiler resolves a name to its slot, so a
 * global access is an array index; UNDEF marks a slot not yet bound. */
struct ObjModule {
	Obj obj;
	ObjString *name;
	ObjString *path; /* file name for messages and relative imports */
	ObjMap *names;   /* name -> int slot */
	uint32_t count, cap;
	ObjBuf *values;     /* Value[cap] */
	Value *value_data;  /* values->data (NULL before the first slot) */
	ObjBuf *slot_names; /* Value[cap]: the name of each slot */
	const struct vm_reg *natives; /* the static table it was made from, if any */
};

#define MODULE_VALUES(m) ((m)->value_data)

typedef struct ObjError {
	Obj obj;
	ObjString *message;
	ObjList *trace; /* NULL until thrown */
	int line;       /* where it was first thrown, 0 if not yet */
	ObjString *file;
} ObjError;

struct vm_foreign_class;
typedef struct ObjForeign {
	Obj obj;
	const struct vm_foreign_class *cls;
	GaleVM *vm;
	uint64_t data[]; /* cls->size bytes of payload */
} ObjForeign;

#define OBJ_KIND(v) (AS_OBJ(v)->kind)
#define IS_KIND(v, k) (IS_OBJ(v) && OBJ_KIND(v) == (k))
#define IS_STRING(v) IS_KIND(v, OBJ_STRING)
#define IS_LIST(v) IS_KIND(v, OBJ_LIST)
#define IS_MAP(v) IS_KIND(v, OBJ_MAP)
#define IS_RANGE(v) IS_KIND(v, OBJ_RANGE)
#define IS_CLOSURE(v) IS_KIND(v, OBJ_CLOSURE)
#define IS_NATIVE(v) IS_KIND(v, OBJ_NATIVE)
#define IS_CLASS(v) IS_KIND(v, OBJ_CLASS)
#define IS_INSTANCE(v) IS_KIND(v, OBJ_INSTANCE)
#define IS_MODULE(v) IS_KIND(v, OBJ_MODULE)
#define IS_ERROR(v) IS_KIND(v, OBJ_ERROR)
#define IS_FOREIGN(v) IS_KIND(v, OBJ_FOREIGN)

#define AS_STRING(v) ((ObjString *)AS_OBJ(v))
#define AS_CSTRING(v) (((ObjString *)AS_OBJ(v))->chars)
#define AS_LIST(v) ((ObjList *)AS_OBJ(v))
#define AS_MAP(v) ((ObjMap *)AS_OBJ(v))
#define AS_RANGE(v) ((ObjRange *)AS_OBJ(v))
#define AS_FUNCTION(v) ((ObjFunction *)AS_OBJ(v))
#define AS_CLOSURE(v) ((ObjClosure *)AS_OBJ(v))
#define AS_NATIVE(v) ((ObjNative *)AS_OBJ(v))
#define AS_CLASS(v) ((ObjClass *)AS_OBJ(v))
#define AS_INSTANCE(v) ((ObjInstance *)AS_OBJ(v))
#define AS_BOUND(v) ((ObjBound *)AS_OBJ(v))
#define AS_MODULE(v) ((ObjModule *)AS_OBJ(v))
#define AS_ERROR(v) ((ObjError *)AS_OBJ(v))
#define AS_FOREIGN(v) ((ObjForeign *)AS_OBJ(v))

/* An empty list's items is the static vm_empty_buf (outside the heap, so
 * gcMark ignores it); a map's entries are NULL until the first insert. */
#define LIST_SLOTS(l)                                                                  \
	(((l)->obj.flags & OBJF_INLINE_ITEMS) ? (Slot *)(void *)((char *)(l) + offsetof(ObjList, items)) \
	                                      : (Slot *)(l)->items->data)
static inline uint32_t list_cap(const ObjList *l)
{
	return (l->obj.flags & OBJF_INLINE_ITEMS) ? l->inline_cap : l->items->cap;
}
#define MAP_ENTRIES(m) ((m)->entries ? (MapEntry *)(m)->entries->data : (MapEntry *)NULL)

extern ObjBuf vm_empty_buf;

/* ---- allocation (object.c). All may collect; all longjmp "out of memory"
 * through the VM on failure, so they never return NULL. ---- */
void *obj_alloc(GaleVM *vm, size_t size, ObjKind kind);
/* Not zeroed: the caller writes every byte after the kind (Go's
 * mallocgc with needzero false, as for strings). */
void *obj_alloc_raw(GaleVM *vm, size_t size, ObjKind kind);
ObjBuf *buf_new(GaleVM *vm, size_t bytes);
/* A new buffer of new_bytes holding the first old_bytes of old. */
ObjBuf *buf_grow(GaleVM *vm, ObjBuf *old, size_t old_bytes, size_t new_bytes);
void obj_register_kinds(GaleVM *vm);
void vm_mark_value(GaleVM *vm, Value v);
void vm_mark_obj(GaleVM *vm, void *o);

/* strings (string.c). str_intern_* make the interned string, for names
 * (identifiers, constants, registered names): equal names are then one
 * object and compare by pointer. Everything else is a plain string:
 * str_new, str_cstr, str_format, str_alloc + str_finish, sb_finish. */
ObjString *str_new(GaleVM *vm, const char *chars, size_t len);
ObjString *str_cstr(GaleVM *vm, const char *chars);
ObjString *str_intern_new(GaleVM *vm, const char *chars, size_t len);
ObjString *str_intern_cstr(GaleVM *vm, const char *chars);
/* The interned string equal to s (possibly s itself, now interned). */
ObjString *str_intern(GaleVM *vm, ObjString *s);
ObjString *str_alloc(GaleVM *vm, size_t len);
/* Seal a string from str_alloc once filled (NUL-terminates it), returns it. */
ObjString *str_finish(GaleVM *vm, ObjString *s);
ObjString *str_format(GaleVM *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Never 0, so that a zero ObjString.hash means "not computed yet". */
uint32_t str_hash(const char *s, size_t len);

/* s's hash, computed on first use: most strings made at run time are never
 * a map key or compared with one, so they are never hashed. Names
 * (interned) have theirs from the start. */
static inline uint32_t str_hash_of(ObjString *s)
{
	if (__builtin_expect(s->hash == 0, 0))
		s->hash = str_hash(s->chars, s->len);
	return s->hash;
}
/* Same length and bytes, and the same hash where both have one (the
 * callers have tried the shortcuts). */
bool str_equal_slow(const ObjString *a, const ObjString *b);
void str_table_init(GaleVM *vm);
void str_table_sweep(GaleVM *vm);

/* lists (list.c) */
ObjList *list_new(GaleVM *vm, uint32_t cap);
void list_push(GaleVM *vm, ObjList *l, Value v);
void list_insert(GaleVM *vm, ObjList *l, uint32_t at, Value v);
Value list_remove(ObjList *l, uint32_t at);
/* The slot for an int too wide to pack: a new box, allocated without
 * starting a collection, so l in list_set need not be rooted. */
Slot slot_box(GaleVM *vm, int64_t i);

static inline Value list_get(const ObjList *l, uint32_t i)
{
	return slot_value(LIST_SLOTS(l)[i]);
}

static inline Slot slot_of(GaleVM *vm, Value v)
{
	Slot s;
	if (__builtin_expect(!slot_pack(v, &s), 0))
		s = slot_box(vm, v.as.i);
	return s;
}

static inline void list_set(GaleVM *vm, ObjList *l, uint32_t i, Value v)
{
	LIST_SLOTS(l)[i] = slot_of(vm, v);
}

/* maps (map.c) */
ObjMap *map_new(GaleVM *vm);
bool map_get(ObjMap *m, Value key, Value *out);
/* Returns true when the key was new. key must be valid (not nil/NaN). */
bool map_set(GaleVM *vm, ObjMap *m, Value key, Value val);
/* m[key] = val for an int key that fits a slot, when the map has room:
 * allocates nothing, so the VM's fast path can call it. False when the
 * map must grow first (then call map_set). */
bool map_set_int(GaleVM *vm, ObjMap *m, int64_t key, Value val);
bool map_delete(ObjMap *m, Value key, Value *old);
/* Next live entry at or after *pos; false at the end. */
bool map_next(ObjMap *m, uint32_t *pos, Value *key, Value *val);
uint32_t value_hash(Value v);

/* The index probe sequence (see map.c): every slot is reached once perturb
 * has shifted down to zero. */
static inline uint32_t map_probe_next(uint32_t i, uint32_t *perturb, uint32_t mask)
{
	*perturb >>= 5;
	return (i * 5 + 1 + *perturb) & mask;
}

/* Strings equal by content: the same object, or (unless both are
 * interned, hence distinct) the same length and bytes. */
static inline bool str_equal(const ObjString *a, const ObjString *b)
{
	if (a == b)
		return true;
	if (a->obj.flags & b->obj.flags & OBJF_INTERNED)
		return false;
	return str_equal_slow(a, b);
}

/* == on two objects (value_equal): identity, or equal contents for two
 * strings. */
static inline bool obj_equal(const Obj *a, const Obj *b)
{
	if (a == b)
		return true;
	if (a->kind != OBJ_STRING || b->kind != OBJ_STRING)
		return false;
	return str_equal((const ObjString *)a, (const ObjString *)b);
}

/* Entry key slot ek equals string key (other than by identity)? */
static inline bool slot_key_is_str(Slot ek, const ObjString *key)
{
	if ((ek >> 48) != (SLOT_OBJ >> 48))
		return false;
	const Obj *o = (const Obj *)(uintptr_t)SLOT_PAYLOAD(ek);
	return o->kind == OBJ_STRING && !(o->flags & key->obj.flags & OBJF_INTERNED) &&
	       str_equal_slow((const ObjString *)o, key);
}

/* Where the value of a string key lives, or NULL: the field-lookup fast
 * path (names are interned, so a hit is normally one compare of slots).
 * Instances of a class get their fields in the same order, so the entry
 * number where a name was last found is tried first (an inline cache kept
 * in the name); a live key is in one entry only, so a hit is the entry the
 * probe finds. */
static inline Value *map_find_str(ObjMap *m, ObjString *key)
{
	if (m->count == 0)
		return NULL;
	MapEntry *e = (MapEntry *)m->entries->data;
	Slot ks = SLOT_OBJ | (uint64_t)(uintptr_t)key;
	uint32_t hint = key->hint; /* stale or capped, it costs one compare: a hit is a hit */
	if (hint < m->used && e[hint].key == ks)
		return &e[hint].value;
	const int32_t *idx = (const int32_t *)m->index->data;
	uint32_t perturb = str_hash_of(key);
	for (uint32_t i = perturb & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
		int32_t k = idx[i];
		if (k == -1)
			return NULL;
		if (k >= 0 && (e[k].key == ks || slot_key_is_str(e[k].key, key))) {
			key->hint = k < STR_NO_HINT ? (uint16_t)k : STR_NO_HINT;
			return &e[k].value;
		}
	}
}

/* Where the value of an int key lives, or NULL: the indexing fast path,
 * for keys that fit a slot (slot_int_fits). A float key equal to the int is
 * the same key, as in map.c. */
static inline Value *map_find_int(ObjMap *m, int64_t key)
{
	if (m->count == 0)
		return NULL;
	const int32_t *idx = (const int32_t *)m->index->data;
	MapEntry *e = (MapEntry *)m->entries->data;
	Slot ks = SLOT_INT | SLOT_PAYLOAD((uint64_t)key);
	uint32_t perturb = (uint32_t)((uint64_t)key ^ ((uint64_t)key >> 32)); /* value_hash of an int */
	for (uint32_t i = perturb & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
		int32_t k = idx[i];
		if (k == -1)
			return NULL;
		if (k >= 0) {
			Slot ek = e[k].key;
			if (ek == ks || (ek < SLOT_BASE && slot_value(ek).as.f == (double)key))
				return &e[k].value;
			if (ek == SLOT_UNDEF && MAP_HOLE_KEY(&e[k]) == ks)
				return NULL; /* the key was deleted here (map.c) */
		}
	}
}

/* the rest */
ObjRange *range_new(GaleVM *vm, int64_t start, int64_t end, int64_t step);
ObjFunction *function_new(GaleVM *vm, ObjModule *module);
ObjClosure *closure_new(GaleVM *vm, ObjFunction *fn);
ObjUpvalue *upvalue_new(GaleVM *vm, Value *slot);
ObjNative *native_new(GaleVM *vm, const char *name, NativeFn fn, int arity, const char *doc);
ObjClass *class_new(GaleVM *vm, ObjString *name);
ObjInstance *instance_new(GaleVM *vm, ObjClass *klass);
ObjBound *bound_new(GaleVM *vm, Value receiver, Value method);
ObjModule *module_new(GaleVM *vm, ObjString *name, ObjString *path);
/* Slot of name in module, creating an unbound one if needed. */
int module_slot(GaleVM *vm, ObjModule *m, ObjString *name);
/* Bind name to value (creating the slot). */
void module_set(GaleVM *vm, ObjModule *m, ObjString *name, Value v);
ObjError *error_new(GaleVM *vm, ObjString *message);

uint64_t range_len(const ObjRange *r);
int64_t range_at(const ObjRange *r, uint64_t i);

#endif
