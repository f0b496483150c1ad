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
 * Each entry keeps its key's hash beside the key tag (MapEntry.key_hash):
 * rebuilding never rehashes, and a probe passes over a colliding string key
 * without loading the string. String keys compare by content: a key made
 * at run time finds the entry set with a literal and the reverse.
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
 * remembers its key in the value field (see map_delete), so a lookup of a
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
	/* ints compare by value, objects other than strings by identity: probe
	 * loops without the general equality for these */
	if (key.type == VAL_INT || (key.type == VAL_OBJ && key.as.obj->kind != OBJ_STRING)) {
		uint8_t t = key.type;
		for (uint32_t i = h & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
			int32_t k = idx[i];
			if (k == IDX_EMPTY)
				return -1;
			if (k < 0)
				continue;
			Value ek = e[k].key;
			if (ek.type == t && ek.as.i == key.as.i)
				return i;
			if (ek.type == VAL_UNDEF) {
				Value ev = e[k].value;
				if (e[k].key_hash == h && (ev.type == t ? ev.as.i == key.as.i : key_equal(ev, key))) {
					*hole = i;
					return -1;
				}
			} else if (t == VAL_INT && ek.type == VAL_FLOAT && key_equal(ek, key)) {
				return i;
			}
		}
	}
	/* strings by content, checking the stored hash before loading a key */
	if (key.type == VAL_OBJ) {
		const ObjString *ks = (const ObjString *)key.as.obj;
		for (uint32_t i = h & m->mask;; i = map_probe_next(i, &perturb, m->mask)) {
			int32_t k = idx[i];
			if (k == IDX_EMPTY)
				return -1;
			if (k < 0)
				continue;
			Value ek = e[k].key;
			if (ek.type == VAL_OBJ) {
				if (map_key_is_str(ek, e[k].key_hash, ks))
					return i;
			} else if (ek.type == VAL_UNDEF && map_key_is_str(e[k].value, e[k].key_hash, ks)) {
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
		if (IS_UNDEF(e[k].key)) {
			if (key_equal(e[k].value, key)) {
				*hole = i;
				return -1;
			}
		} else if (key_equal(e[k].key, key)) {
			return i;
		}
	}
}

bool map_get(ObjMap *m, Value key, Value *out)
{
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
		if (IS_UNDEF(src[i].key))
			continue;
		dst[n] = src[i];
		uint32_t perturb = src[i].key_hash;
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

bool map_set(GaleVM *vm, ObjMap *m, Value key, Value val)
{
	uint32_t h = value_hash(key);
	int64_t hole;
	int64_t s = find_slot(m, key, h, &hole);
	if (s >= 0) {
		MAP_ENTRIES(m)[map_index(m)[s]].value = val;
		return false;
	}
	if (hole >= 0 && m->used < m->cap) {
		/* the key's old slot now points at its new entry; the hole stays
		 * in the entries (order) but nothing indexes it any more */
		map_index(m)[hole] = (int32_t)m->used;
		MapEntry *e = &MAP_ENTRIES(m)[m->used++];
		e->key = key;
		e->key_hash = h; /* after the key: storing a Value may clobber its padding */
		e->value = val;
		m->count++;
		return true;
	}
	if (m->used == m->cap) {
		uint32_t cap = m->cap ? m->cap : 8;
		while (m->count + 1 > cap / 2 * 1 + cap / 4) /* grow when over 3/4 live */
			cap *= 2;
		vm_push_root(vm, key);
		vm_push_root(vm, val);
		map_rebuild(vm, m, cap);
		vm->temp_count -= 2;
	}
	int32_t *idx = map_index(m);
	uint32_t perturb = h;
	uint32_t i = h & m->mask;
	while (idx[i] != IDX_EMPTY)
		i = map_probe_next(i, &perturb, m->mask);
	idx[i] = (int32_t)m->used;
	MapEntry *e = &MAP_ENTRIES(m)[m->used++];
	e->key = key;
	e->key_hash = h;
	e->value = val;
	m->count++;
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
	uint32_t kh = e->key_hash;
	e->value = e->key;
	e->key = UNDEF_VAL;
	e->key_hash = kh;
	m->count--;
	return true;
}

bool map_next(ObjMap *m, uint32_t *pos, Value *key, Value *val)
{
	MapEntry *e = m->entries ? MAP_ENTRIES(m) : NULL;
	while (*pos < m->used) {
		uint32_t i = (*pos)++;
		if (!IS_UNDEF(e[i].key)) {
			if (key)
				*key = e[i].key;
			if (val)
				*val = e[i].value;
			return true;
		}
	}
	return false;
}
