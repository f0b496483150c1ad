/*
 * map.c — ordered hash maps. Entries sit in an array in insertion order; a
 * separate open-addressing index (twice the entry capacity, so the load stays
 * under one half) maps hashes to entry numbers. Deleting leaves a hole
 * (UNDEF key, the old key kept in the value field) so the rest keep their
 * order; the hole keeps its index slot, so a lookup of the deleted key ends
 * at once (like Lua's dead keys) and re-inserting it reuses the slot. Holes
 * go away when the entry array is rebuilt. Numbers hash by value so 1 and
 * 1.0 are one key.
 *
 * Keys are stored as slots (8-byte NaN-boxed words, as list items), so an
 * entry is 24 bytes and most keys (ints, names, other objects) compare as
 * one word. Rebuilding rehashes, which for strings reads the hash they
 * cache. String keys compare by content: a key made at run time
 * finds the entry set with a literal and the reverse.
 *
 * Ints hash to (nearly) themselves, so runs of keys fill neighbouring index
 * slots and lookups in key order stay in cache; the probe sequence mixes in
 * the high hash bits (Python's dict "perturb" scheme), so keys that share
 * their low bits (multiples of a power of two) still spread out.
 */
#include <math.h>
#include <string.h>

#include "vm/vm.h"

#define IDX_EMPTY (-1)

static inline uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

uint32_t value_hash(Value v)
{
	if (v.type == VAL_INT)
		return (uint32_t)((uint64_t)v.as.i ^ ((uint64_t)v.as.i >> 32));
	switch (v.type) {
	case VAL_NIL: return 0x9e3779b9u;
	case VAL_BOOL: return v.as.b ? 0x7f4a7c15u : 0x5bd1e995u;
	case VAL_INT: return (uint32_t)((uint64_t)v.as.i ^ ((uint64_t)v.as.i >> 32));
	case VAL_FLOAT: {
		double d = v.as.f;
		/* an integral float hashes like the int it equals */
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == floor(d))
			return value_hash(INT_VAL((int64_t)d));
		uint64_t bits;
		memcpy(&bits, &d, sizeof bits);
		return mix64(bits);
	}
	case VAL_OBJ:
		if (v.as.obj->kind == OBJ_STRING)
			return str_hash_of((ObjString *)v.as.obj);
		return mix64((uint64_t)(uintptr_t)v.as.obj);
	default: return 0;
	}
}

/* Map keys compare like ==, except that int keys and float keys are equal
 * only when they denote the same number. */
static inline bool key_equal(Value a, Value b)
{
	if (a.type == b.type && a.type == VAL_OBJ)
		return obj_equal(a.as.obj, b.as.obj);
	return value_equal(a, b);
}

ObjMap *map_new(GaleVM *vm)
{
	return obj_alloc(vm, sizeof(ObjMap), OBJ_MAP);
}

static int32_t *map_index(ObjMap *m) { return (int32_t *)m->index->data; }

/* Index slot holding key, or -1. A deleted entry keeps its index slot and
 * remembers its key in the value (see map_delete), so a lookup of a
 * deleted key stops at its old slot instead of probing on to an empty one;
 * *hole gets that slot (or -1) so an insert can reuse it. */
static int64_t find_slot(ObjMap *m, Value key, uint32_t h, int64_t *hole)
{
	*hole = -1;
	if (m->index == NULL)
		return -1;
	int32_t *idx = map_index(m);
	MapEntry *e = MAP_ENTRIES(m);
	uint32_t perturb = h;
	Slot ks;
	/* ints that fit a slot and objects other than strings are equal keys
	 * when their slots are: probe loops without the general equality (an
	 * int also finds the float key equal to it) */
	if ((key.type == VAL_INT || (key.type == VAL_OBJ && key.as.obj->kind != OBJ_STRING)) &&
	    slot_pack(key, &ks)) {
		for (uint32_t i = h & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
			int32_t k = idx[i];
			if (k == IDX_EMPTY)
				return -1;
			if (k < 0)
				continue;
			Slot ek = e[k].key;
			if (ek == ks)
				return i;
			if (ek == SLOT_UNDEF) {
				Slot ev = MAP_HOLE_KEY(&e[k]);
				if (ev == ks || (ev < SLOT_BASE && key_equal(slot_value(ev), key))) {
					*hole = i;
					return -1;
				}
			} else if (ek < SLOT_BASE && key.type == VAL_INT && key_equal(slot_value(ek), key)) {
				return i;
			}
		}
	}
	/* strings by content, after the identity test */
	if (key.type == VAL_OBJ && key.as.obj->kind == OBJ_STRING) {
		const ObjString *str = (const ObjString *)key.as.obj;
		ks = SLOT_OBJ | (uint64_t)(uintptr_t)str;
		for (uint32_t i = h & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
			int32_t k = idx[i];
			if (k == IDX_EMPTY)
				return -1;
			if (k < 0)
				continue;
			Slot ek = e[k].key;
			if (ek == ks || slot_key_is_str(ek, str))
				return i;
			if (ek == SLOT_UNDEF && (MAP_HOLE_KEY(&e[k]) == ks || slot_key_is_str(MAP_HOLE_KEY(&e[k]), str))) {
				*hole = i;
				return -1;
			}
		}
	}
	for (uint32_t i = h & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
		int32_t k = idx[i];
		if (k == IDX_EMPTY)
			return -1;
		if (k < 0)
			continue;
		if (e[k].key == SLOT_UNDEF) {
			if (key_equal(slot_value(MAP_HOLE_KEY(&e[k])), key)) {
				*hole = i;
				return -1;
			}
		} else if (key_equal(slot_value(e[k].key), key)) {
			return i;
		}
	}
}

bool map_get(ObjMap *m, Value key, Value *out)
{
	if (key.type == VAL_INT && slot_int_fits(key.as.i)) {
		Value *v = map_find_int(m, key.as.i);
		if (v != NULL)
			*out = *v;
		return v != NULL;
	}
	int64_t hole;
	int64_t s = find_slot(m, key, value_hash(key), &hole);
	if (s < 0)
		return false;
	*out = MAP_ENTRIES(m)[map_index(m)[s]].value;
	return true;
}

/* Rebuild entries (compacted) and index with room for cap entries. */
static void map_rebuild(GaleVM *vm, ObjMap *m, uint32_t cap)
{
	if (cap > (1u << 28))
		vm_oom(vm);
	vm_push_root(vm, OBJ_VAL(m));
	ObjBuf *entries = buf_new(vm, sizeof(MapEntry) * cap);
	vm_push_root(vm, OBJ_VAL(entries));
	ObjBuf *index = buf_new(vm, sizeof(int32_t) * cap * 2);
	vm->temp_count -= 2;
	memset(index->data, 0xff, sizeof(int32_t) * cap * 2); /* all IDX_EMPTY */
	MapEntry *src = m->entries ? MAP_ENTRIES(m) : NULL;
	MapEntry *dst = (MapEntry *)entries->data;
	int32_t *idx = (int32_t *)index->data;
	uint32_t mask = cap * 2 - 1, n = 0;
	for (uint32_t i = 0; i < m->used; i++) {
		if (src[i].key == SLOT_UNDEF)
			continue;
		dst[n] = src[i];
		uint32_t perturb = value_hash(slot_value(src[i].key));
		uint32_t j = perturb & mask;
		while (idx[j] != IDX_EMPTY)
			j = map_probe_next(j, &perturb, mask);
		idx[j] = (int32_t)n++;
	}
	m->entries = entries;
	m->index = index;
	m->cap = cap;
	m->mask = mask;
	m->used = n;
	m->count = n;
}

/* A new entry for key at index slot i. A wide int key's box is made
 * without collecting (slot_of), so nothing moves meanwhile. */
static inline void add_entry(GaleVM *vm, ObjMap *m, uint32_t i, Value key, Value val)
{
	map_index(m)[i] = (int32_t)m->used;
	MapEntry *e = &MAP_ENTRIES(m)[m->used++];
	e->key = slot_of(vm, key);
	e->value = val;
	m->count++;
}

/* A new key (find_slot found hole, or -1) into a map with room for it. */
static inline void insert_new(GaleVM *vm, ObjMap *m, Value key, uint32_t h, int64_t hole, Value val)
{
	uint32_t i;
	if (hole >= 0) {
		/* the key's old slot now points at its new entry; the hole stays
		 * in the entries (order) but nothing indexes it any more */
		i = (uint32_t)hole;
	} else {
		int32_t *idx = map_index(m);
		uint32_t perturb = h;
		i = h & m->mask;
		while (idx[i] != IDX_EMPTY)
			i = map_probe_next(i, &perturb, m->mask);
	}
	add_entry(vm, m, i, key, val);
}

bool map_set(GaleVM *vm, ObjMap *m, Value key, Value val)
{
	uint32_t h = value_hash(key);
	int64_t hole;
	int64_t s = find_slot(m, key, h, &hole);
	if (s >= 0) {
		MAP_ENTRIES(m)[map_index(m)[s]].value = val;
		return false;
	}
	if (m->used == m->cap) {
		uint32_t cap = m->cap ? m->cap : 8;
		while (m->count + 1 > cap / 2 * 1 + cap / 4) /* grow when over 3/4 live */
			cap *= 2;
		vm_push_root(vm, key);
		vm_push_root(vm, val);
		map_rebuild(vm, m, cap);
		vm->temp_count -= 2;
		hole = -1; /* the rebuild dropped the holes */
	}
	insert_new(vm, m, key, h, hole, val);
	return true;
}

bool map_set_int(GaleVM *vm, ObjMap *m, int64_t key, Value val)
{
	/* With room, map_set neither rebuilds nor (for a key that fits a
	 * slot) boxes: it allocates nothing. */
	if (m->used == m->cap)
		return false;
	map_set(vm, m, INT_VAL(key), val);
	return true;
}

bool map_delete(ObjMap *m, Value key, Value *old)
{
	int64_t hole;
	int64_t s = find_slot(m, key, value_hash(key), &hole);
	if (s < 0)
		return false;
	int32_t *idx = map_index(m);
	MapEntry *e = &MAP_ENTRIES(m)[idx[s]];
	if (old != NULL)
		*old = e->value;
	/* a hole: skipped by iteration, dropped by the next rebuild; it keeps
	 * its index slot and its key, so lookups of the key end there */
	e->value = value_make(VAL_UNDEF, e->key);
	e->key = SLOT_UNDEF;
	m->count--;
	return true;
}

bool map_next(ObjMap *m, uint32_t *pos, Value *key, Value *val)
{
	MapEntry *e = m->entries ? MAP_ENTRIES(m) : NULL;
	while (*pos < m->used) {
		uint32_t i = (*pos)++;
		if (e[i].key != SLOT_UNDEF) {
			if (key)
				*key = slot_value(e[i].key);
			if (val)
				*val = e[i].value;
			return true;
		}
	}
	return false;
}
