/*
 * string.c — immutable strings. Only names are interned: identifiers and
 * constants from the compiler, names registered by natives, modules and the
 * C API, and strings passed to str_intern. Everything made at run time
 * (concatenation, str(), slices, ...) is a plain object: a table lookup per
 * new string costs a cache miss and keeps a table as large as the live
 * strings, while most such strings are never compared with a name. A
 * string's hash is computed when first needed (str_hash_of); equality is by
 * content (str_equal_slow), with two shortcuts: the same object is equal,
 * and two different interned strings (OBJF_INTERNED) are not.
 *
 * The intern table is weak: its entries are not marked, and the collector's
 * weak hook (str_table_sweep) drops the strings that died. The table itself
 * is manual memory (stackalloc), so it can shrink and give its pages back as
 * soon as most strings have died, instead of lingering as heap garbage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vm/vm.h"

#define TOMBSTONE ((ObjString *)(uintptr_t)1)

/* One 8-byte slot: the string pointer in the low 48 bits (heap addresses
 * are user-space addresses, below 2^47) and the top 16 bits of its hash
 * above, so most probes reject a slot without loading the string, at half
 * the size (and cache misses) of a pointer-and-hash pair. 0 is empty, 1 a
 * tombstone. */
typedef struct StrSlot {
	uint64_t bits;
} StrSlot;

#define SLOT_PTR_MASK ((UINT64_C(1) << 48) - 1)

static inline ObjString *slot_str(StrSlot sl) { return (ObjString *)(uintptr_t)(sl.bits & SLOT_PTR_MASK); }

static inline StrSlot slot_make(ObjString *s, uint32_t h)
{
	return (StrSlot){((uint64_t)(h >> 16) << 48) | (uint64_t)(uintptr_t)s};
}

static inline bool slot_tag_matches(StrSlot sl, uint32_t h) { return (sl.bits >> 48) == (h >> 16); }

static inline uint64_t load64(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof w);
	return w;
}

static inline uint64_t load32(const char *p)
{
	uint32_t w;
	memcpy(&w, p, sizeof w);
	return w;
}

/* Eight bytes a step (short strings in one or two overlapping loads, as in
 * wyhash), then a full 64-bit finalizer (murmur3's fmix64) so the low bits
 * that index the tables depend on every byte. A byte-at-a-time hash was
 * measurable once every run-time string is hashed at creation. */
uint32_t str_hash(const char *s, size_t len)
{
	const uint64_t k1 = 0xff51afd7ed558ccdULL, k2 = 0xc4ceb9fe1a85ec53ULL;
	uint64_t h = (uint64_t)len * 0x9e3779b97f4a7c15ULL;
	if (len >= 8) {
		for (size_t i = 0; i + 8 < len; i += 8) {
			h = (h ^ load64(s + i)) * k1;
			h ^= h >> 31;
		}
		h ^= load64(s + len - 8); /* the last word, overlapping the one before */
	} else if (len >= 4) {
		h ^= load32(s) << 32 | load32(s + len - 4);
	} else if (len > 0) {
		h ^= (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[len >> 1] << 8 | (uint8_t)s[len - 1];
	}
	h ^= h >> 33;
	h *= k1;
	h ^= h >> 33;
	h *= k2;
	h ^= h >> 33;
	return (uint32_t)h != 0 ? (uint32_t)h : 1;
}

#define MIN_TABLE 1024 /* slots: one 8 KiB page */

/* A zeroed table of cap slots; out of memory raises. */
static StrSlot *table_alloc(GaleVM *vm, uint32_t cap)
{
	StrSlot *t = stackalloc(vm->rt, sizeof(StrSlot) * cap);
	if (t == NULL)
		vm_oom(vm);
	memset(t, 0, sizeof(StrSlot) * cap);
	return t;
}

void str_table_init(GaleVM *vm)
{
	vm->strings = table_alloc(vm, MIN_TABLE);
	vm->string_cap = MIN_TABLE;
	vm->string_count = vm->string_used = 0;
}

/* Rehash into a table sized for the live strings (tombstones go away). */
static void table_resize(GaleVM *vm, uint32_t cap)
{
	StrSlot *t = table_alloc(vm, cap); /* never collects */
	StrSlot *old = vm->strings;
	uint32_t old_cap = vm->string_cap;
	for (uint32_t i = 0; i < old_cap; i++) {
		ObjString *s = slot_str(old[i]);
		if (s == NULL || s == TOMBSTONE)
			continue;
		uint32_t j = s->hash & (cap - 1);
		while (t[j].bits != 0)
			j = (j + 1) & (cap - 1);
		t[j] = old[i];
	}
	vm->strings = t;
	vm->string_cap = cap;
	vm->string_used = vm->string_count;
	stackfree(vm->rt, old, sizeof(StrSlot) * old_cap);
}

/* A power of two with room for count strings at a quarter load. */
static uint32_t table_cap_for(uint32_t count)
{
	uint32_t cap = MIN_TABLE;
	while ((count + 1) * 4 > cap)
		cap *= 2;
	return cap;
}

/* The interned string equal to chars, or NULL. */
static ObjString *str_find(GaleVM *vm, const char *chars, size_t len, uint32_t h)
{
	uint32_t mask = vm->string_cap - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		StrSlot sl = vm->strings[i];
		if (sl.bits == 0)
			return NULL;
		if (slot_tag_matches(sl, h) && sl.bits != 1) {
			ObjString *s = slot_str(sl);
			if (s->hash == h && s->len == len && memcmp(s->chars, chars, len) == 0)
				return s;
		}
	}
}

static void str_insert(GaleVM *vm, ObjString *s, uint32_t h);

/* A string object of len bytes, hash not yet set. */
static ObjString *str_make(GaleVM *vm, size_t len)
{
	if (len > ((size_t)1 << 40))
		vm_oom(vm);
	/* every byte is written here or by the caller (str_alloc) */
	ObjString *s = obj_alloc_raw(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
	s->obj.flags = 0;
	s->hint = 0;
	s->hash = 0;
	s->len = len;
	return s;
}

ObjString *str_new(GaleVM *vm, const char *chars, size_t len)
{
	/* chars may point into a rooted heap block; allocation does not move it */
	ObjString *s = str_make(vm, len);
	memcpy(s->chars, chars, len);
	s->chars[len] = '\0';
	return s;
}

ObjString *str_intern_new(GaleVM *vm, const char *chars, size_t len)
{
	uint32_t h = str_hash(chars, len);
	ObjString *found = str_find(vm, chars, len, h);
	if (found != NULL)
		return found;
	ObjString *s = str_make(vm, len);
	memcpy(s->chars, chars, len);
	s->chars[len] = '\0';
	str_insert(vm, s, h);
	return s;
}

/* A string object of len bytes for the caller to fill and then pass to
 * str_finish: long results (join) are built in place, not copied. Until
 * then it must be rooted by the caller. */
ObjString *str_alloc(GaleVM *vm, size_t len) { return str_make(vm, len); }

ObjString *str_finish(GaleVM *vm, ObjString *s)
{
	(void)vm;
	s->chars[s->len] = '\0';
	return s;
}

/* The interned string equal to s: s itself if it is interned or becomes
 * so (strings are immutable, so a plain one can join the table in place),
 * else the one already there. */
ObjString *str_intern(GaleVM *vm, ObjString *s)
{
	if (s->obj.flags & OBJF_INTERNED)
		return s;
	uint32_t h = str_hash_of(s);
	ObjString *found = str_find(vm, s->chars, s->len, h);
	if (found != NULL)
		return found;
	str_insert(vm, s, h);
	return s;
}

bool str_equal_slow(const ObjString *a, const ObjString *b)
{
	if (a->hash != b->hash && a->hash != 0 && b->hash != 0)
		return false;
	return a->len == b->len && memcmp(a->chars, b->chars, a->len) == 0;
}

static void str_insert(GaleVM *vm, ObjString *s, uint32_t h)
{
	s->hash = h;
	if ((uint64_t)(uintptr_t)s & ~SLOT_PTR_MASK)
		vm_oom(vm); /* not a user-space heap address: cannot be packed (never on x86-64 or arm64 Linux) */
	/* keep the table at most half full, tombstones included (short probes),
	 * and shrink it once most of its strings have died */
	if ((vm->string_used + 1) * 2 > vm->string_cap ||
	    (vm->string_cap > MIN_TABLE && vm->string_count * 16 < vm->string_cap)) {
		vm_push_root(vm, OBJ_VAL(s));
		table_resize(vm, table_cap_for(vm->string_count));
		vm_pop_root(vm);
	}
	/* the allocation may have swept entries: probe again for a free place */
	uint32_t mask = vm->string_cap - 1;
	uint32_t i = h & mask;
	while (vm->strings[i].bits > 1) /* neither empty nor a tombstone */
		i = (i + 1) & mask;
	if (vm->strings[i].bits == 0)
		vm->string_used++;
	vm->strings[i] = slot_make(s, h);
	vm->string_count++;
	s->obj.flags |= OBJF_INTERNED; /* only once it is in the table */
}

ObjString *str_cstr(GaleVM *vm, const char *chars) { return str_new(vm, chars, strlen(chars)); }

ObjString *str_intern_cstr(GaleVM *vm, const char *chars) { return str_intern_new(vm, chars, strlen(chars)); }

ObjString *str_format(GaleVM *vm, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof small)
		return str_new(vm, small, (size_t)n);
	ObjBuf *b = buf_new(vm, (size_t)n + 1);
	vm_push_root(vm, OBJ_VAL(b));
	va_start(ap, fmt);
	vsnprintf((char *)b->data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ObjString *s = str_new(vm, (char *)b->data, (size_t)n);
	vm_pop_root(vm);
	return s;
}

/* Weak hook: forget strings the mark phase did not reach. Only interned
 * strings are in the table, so this costs nothing per plain string. */
void str_table_sweep(GaleVM *vm)
{
	if (vm->strings == NULL)
		return;
	for (uint32_t i = 0; i < vm->string_cap; i++) {
		ObjString *s = slot_str(vm->strings[i]);
		if (s != NULL && s != TOMBSTONE && !gcIsMarked(vm->rt, s)) {
			vm->strings[i].bits = 1;
			vm->string_count--;
		}
	}
}
