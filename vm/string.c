/*
 * string.c — immutable interned strings. Every string is interned, so equal
 * strings are the same object: == and map lookups compare pointers, and the
 * hash (FNV-1a) is computed once at creation. The intern table is weak: its
 * entries are not marked, and the collector's weak hook (str_table_sweep)
 * drops the strings that died. The table itself is manual memory
 * (stackalloc), so it can shrink and give its pages back as soon as most
 * strings have died, instead of lingering as heap garbage.
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

uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
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

ObjString *str_new(GaleVM *vm, const char *chars, size_t len)
{
	uint32_t h = str_hash(chars, len);
	ObjString *found = str_find(vm, chars, len, h);
	if (found != NULL)
		return found;
	if (len > ((size_t)1 << 40))
		vm_oom(vm);
	/* chars may point into a rooted heap block; allocation does not move it */
	ObjString *s = obj_alloc(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
	s->len = len;
	s->hint = 0;
	memcpy(s->chars, chars, len);
	s->chars[len] = '\0';
	str_insert(vm, s, h);
	return s;
}

/* A string object of len bytes for the caller to fill and then pass to
 * str_intern: long results (join) are built in place, not copied. Until
 * then it is not interned and must be rooted by the caller. */
ObjString *str_alloc(GaleVM *vm, size_t len)
{
	if (len > ((size_t)1 << 40))
		vm_oom(vm);
	ObjString *s = obj_alloc(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
	s->len = len;
	s->hint = 0;
	return s;
}

/* Intern a string from str_alloc: the equal string already interned, if
 * any (s is then garbage), else s itself. */
ObjString *str_intern(GaleVM *vm, ObjString *s)
{
	s->chars[s->len] = '\0';
	uint32_t h = str_hash(s->chars, s->len);
	ObjString *found = str_find(vm, s->chars, s->len, h);
	if (found != NULL)
		return found;
	str_insert(vm, s, h);
	return s;
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
}

ObjString *str_cstr(GaleVM *vm, const char *chars) { return str_new(vm, chars, strlen(chars)); }

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

/* Weak hook: forget strings the mark phase did not reach. */
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
