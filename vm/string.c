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

typedef struct StrSlot {
	ObjString *s;
	uint64_t hash;
} StrSlot;

uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

#define MIN_TABLE 512 /* slots: one 8 KiB page */

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
		ObjString *s = old[i].s;
		if (s == NULL || s == TOMBSTONE)
			continue;
		uint32_t j = s->hash & (cap - 1);
		while (t[j].s != NULL)
			j = (j + 1) & (cap - 1);
		t[j].s = s;
		t[j].hash = s->hash;
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

ObjString *str_new(GaleVM *vm, const char *chars, size_t len)
{
	uint32_t h = str_hash(chars, len);
	uint32_t mask = vm->string_cap - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		StrSlot *slot = &vm->strings[i];
		if (slot->s == NULL)
			break;
		if (slot->hash == h && slot->s != TOMBSTONE && slot->s->len == len && memcmp(slot->s->chars, chars, len) == 0)
			return slot->s;
	}
	if (len > ((size_t)1 << 40))
		vm_oom(vm);
	/* chars may point into a rooted heap block; allocation does not move it */
	ObjString *s = obj_alloc(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
	s->hash = h;
	s->len = len;
	memcpy(s->chars, chars, len);
	s->chars[len] = '\0';
	/* keep the table at most half full, tombstones included (short probes),
	 * and shrink it once most of its strings have died */
	if ((vm->string_used + 1) * 2 > vm->string_cap ||
	    (vm->string_cap > MIN_TABLE && vm->string_count * 16 < vm->string_cap)) {
		vm_push_root(vm, OBJ_VAL(s));
		table_resize(vm, table_cap_for(vm->string_count));
		vm_pop_root(vm);
	}
	/* the allocation may have swept entries: probe again for a free place */
	mask = vm->string_cap - 1;
	uint32_t i = h & mask;
	while (vm->strings[i].s != NULL && vm->strings[i].s != TOMBSTONE)
		i = (i + 1) & mask;
	if (vm->strings[i].s == NULL)
		vm->string_used++;
	vm->strings[i].s = s;
	vm->strings[i].hash = h;
	vm->string_count++;
	return s;
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
		ObjString *s = vm->strings[i].s;
		if (s != NULL && s != TOMBSTONE && !gcIsMarked(vm->rt, s)) {
			vm->strings[i].s = TOMBSTONE;
			vm->string_count--;
		}
	}
}
