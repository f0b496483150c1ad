/*
 * object.c — allocating objects and telling the collector how to trace and
 * finalize each kind.
 */
#include <string.h>

#include "vm/native.h"
#include "vm/vm.h"

void *obj_alloc(GaleVM *vm, size_t size, ObjKind kind)
{
	/* zeroed by mallocgc, the kind byte already set */
	Obj *o = mallocgc(vm->rt, size, (uint8_t)kind, true);
	if (o == NULL)
		vm_oom(vm);
	return o;
}

void *obj_alloc_raw(GaleVM *vm, size_t size, ObjKind kind)
{
	Obj *o = mallocgc(vm->rt, size, (uint8_t)kind, false);
	if (o == NULL)
		vm_oom(vm);
	return o;
}

ObjBuf *buf_new(GaleVM *vm, size_t bytes)
{
	return obj_alloc(vm, sizeof(ObjBuf) + bytes, OBJ_BUF);
}

ObjBuf *buf_grow(GaleVM *vm, ObjBuf *old, size_t old_bytes, size_t new_bytes)
{
	/* old stays reachable through its owner while the new block is allocated */
	ObjBuf *b = buf_new(vm, new_bytes);
	if (old != NULL && old_bytes > 0 && old != &vm_empty_buf)
		memcpy(b->data, old->data, old_bytes);
	return b;
}

static inline void mark_value(runtime *rt, Value v)
{
	if (v.type == VAL_OBJ)
		gcMark(rt, v.as.obj);
}

/* An object or a box in a slot (list items, map keys). */
static inline void mark_slot(runtime *rt, Slot s)
{
	if (slot_is_ref(s))
		gcMark(rt, (void *)(uintptr_t)SLOT_PAYLOAD(s));
}

void vm_mark_value(GaleVM *vm, Value v) { mark_value(vm->rt, v); }
void vm_mark_obj(GaleVM *vm, void *o) { gcMark(vm->rt, o); }

static void mark_values(runtime *rt, const Value *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mark_value(rt, v[i]);
}

static void trace_list(runtime *rt, void *obj)
{
	ObjList *l = obj;
	if (!(l->obj.flags & OBJF_INLINE_ITEMS))
		gcMark(rt, l->items); /* ignores vm_empty_buf, which is outside the heap */
	const Slot *s = LIST_SLOTS(l);
	for (uint32_t i = 0; i < l->count; i++)
		mark_slot(rt, s[i]);
}

static void trace_map(runtime *rt, void *obj)
{
	ObjMap *m = obj;
	gcMark(rt, m->index);
	if (m->entries == NULL)
		return;
	gcMark(rt, m->entries);
	/* a hole's value holds its old key's slot, marked until the rebuild */
	MapEntry *e = MAP_ENTRIES(m);
	for (uint32_t i = 0; i < m->used; i++) {
		mark_slot(rt, e[i].key == SLOT_UNDEF ? MAP_HOLE_KEY(&e[i]) : e[i].key);
		mark_value(rt, e[i].value);
	}
}

static void trace_function(runtime *rt, void *obj)
{
	ObjFunction *f = obj;
	gcMark(rt, f->code);
	gcMark(rt, f->lines);
	gcMark(rt, f->name);
	gcMark(rt, f->module);
	if (f->consts != NULL) {
		gcMark(rt, f->consts);
		mark_values(rt, FN_CONSTS(f), f->const_len);
	}
}

static void trace_closure(runtime *rt, void *obj)
{
	ObjClosure *c = obj;
	gcMark(rt, c->fn);
	for (int32_t i = 0; i < c->count; i++)
		gcMark(rt, c->upvalues[i]);
}

static void trace_upvalue(runtime *rt, void *obj)
{
	ObjUpvalue *u = obj;
	/* an open upvalue's value lives on the stack, which is a root */
	mark_value(rt, u->closed);
}

static void trace_native(runtime *rt, void *obj)
{
	gcMark(rt, ((ObjNative *)obj)->name);
	gcMark(rt, ((ObjNative *)obj)->doc_str);
}

static void trace_class(runtime *rt, void *obj)
{
	ObjClass *c = obj;
	gcMark(rt, c->name);
	gcMark(rt, c->super);
	gcMark(rt, c->methods);
	mark_value(rt, c->init);
}

static void trace_instance(runtime *rt, void *obj)
{
	ObjInstance *i = obj;
	gcMark(rt, i->klass);
	gcMark(rt, i->fields);
}

static void trace_bound(runtime *rt, void *obj)
{
	ObjBound *b = obj;
	mark_value(rt, b->receiver);
	mark_value(rt, b->method);
}

static void trace_module(runtime *rt, void *obj)
{
	ObjModule *m = obj;
	gcMark(rt, m->name);
	gcMark(rt, m->path);
	gcMark(rt, m->names);
	if (m->values != NULL) {
		gcMark(rt, m->values);
		mark_values(rt, MODULE_VALUES(m), m->count);
	}
	if (m->slot_names != NULL) {
		gcMark(rt, m->slot_names);
		mark_values(rt, (Value *)m->slot_names->data, m->count);
	}
}

static void trace_error(runtime *rt, void *obj)
{
	ObjError *e = obj;
	gcMark(rt, e->message);
	gcMark(rt, e->trace);
	gcMark(rt, e->file);
}

static void trace_foreign(runtime *rt, void *obj)
{
	(void)rt;
	ObjForeign *f = obj;
	if (f->cls != NULL && f->cls->trace != NULL)
		f->cls->trace(f->vm, f->data);
}

static void finalize_foreign(runtime *rt, void *obj)
{
	(void)rt;
	ObjForeign *f = obj;
	if (f->cls != NULL && f->cls->finalize != NULL)
		f->cls->finalize(f->vm, f->data);
}

void obj_register_kinds(GaleVM *vm)
{
	static const gcKind kinds[OBJ_KIND_COUNT] = {
		[OBJ_BUF] = {"buffer", NULL, NULL},
		[OBJ_STRING] = {"string", NULL, NULL},
		[OBJ_LIST] = {"list", trace_list, NULL},
		[OBJ_MAP] = {"map", trace_map, NULL},
		[OBJ_RANGE] = {"range", NULL, NULL},
		[OBJ_FUNCTION] = {"function", trace_function, NULL},
		[OBJ_CLOSURE] = {"closure", trace_closure, NULL},
		[OBJ_UPVALUE] = {"upvalue", trace_upvalue, NULL},
		[OBJ_NATIVE] = {"native", trace_native, NULL},
		[OBJ_CLASS] = {"class", trace_class, NULL},
		[OBJ_INSTANCE] = {"instance", trace_instance, NULL},
		[OBJ_BOUND] = {"bound method", trace_bound, NULL},
		[OBJ_MODULE] = {"module", trace_module, NULL},
		[OBJ_ERROR] = {"error", trace_error, NULL},
		[OBJ_FOREIGN] = {"foreign", trace_foreign, finalize_foreign},
		[OBJ_INTBOX] = {"int", NULL, NULL},
	};
	for (int k = 1; k < OBJ_KIND_COUNT; k++)
		gcRegisterKind(vm->rt, (uint8_t)k, &kinds[k]);
}

ObjRange *range_new(GaleVM *vm, int64_t start, int64_t end, int64_t step)
{
	ObjRange *r = obj_alloc(vm, sizeof(ObjRange), OBJ_RANGE);
	r->start = start;
	r->end = end;
	r->step = step;
	return r;
}

/* How many values the range yields. Exact for every range: the count of
 * range(-2**63, 2**63 - 1) is 2**64 - 1, which no int64 holds. */
uint64_t range_len(const ObjRange *r)
{
	if (r->step > 0)
		return r->end > r->start ? ((uint64_t)r->end - (uint64_t)r->start - 1) / (uint64_t)r->step + 1 : 0;
	return r->end < r->start ? ((uint64_t)r->start - (uint64_t)r->end - 1) / (uint64_t)(-(r->step + 1) + 1ULL) + 1 : 0;
}

/* The i-th value (i < range_len): two's-complement arithmetic, since an
 * intermediate i * step may leave the int64 range while the value does not. */
int64_t range_at(const ObjRange *r, uint64_t i)
{
	return (int64_t)((uint64_t)r->start + i * (uint64_t)r->step);
}

ObjFunction *function_new(GaleVM *vm, ObjModule *module)
{
	ObjFunction *f = obj_alloc(vm, sizeof(ObjFunction), OBJ_FUNCTION);
	f->module = module;
	return f;
}

ObjClosure *closure_new(GaleVM *vm, ObjFunction *fn)
{
	ObjClosure *c = obj_alloc(vm, sizeof(ObjClosure) + sizeof(ObjUpvalue *) * (size_t)fn->upvalue_count,
	                          OBJ_CLOSURE);
	c->fn = fn;
	c->count = fn->upvalue_count;
	return c;
}

ObjUpvalue *upvalue_new(GaleVM *vm, Value *slot)
{
	ObjUpvalue *u = obj_alloc(vm, sizeof(ObjUpvalue), OBJ_UPVALUE);
	u->location = slot;
	u->closed = NIL_VAL;
	return u;
}

ObjNative *native_new(GaleVM *vm, const char *name, NativeFn fn, int arity, const char *doc)
{
	ObjString *s = str_intern_cstr(vm, name);
	vm_push_root(vm, OBJ_VAL(s));
	ObjNative *n = obj_alloc(vm, sizeof(ObjNative), OBJ_NATIVE);
	vm_pop_root(vm);
	n->name = s;
	n->fn = fn;
	n->arity = (int16_t)arity;
	n->doc = doc;
	return n;
}

ObjClass *class_new(GaleVM *vm, ObjString *name)
{
	ObjMap *methods = map_new(vm);
	vm_push_root(vm, OBJ_VAL(methods));
	ObjClass *c = obj_alloc(vm, sizeof(ObjClass), OBJ_CLASS);
	vm_pop_root(vm);
	c->name = name;
	c->methods = methods;
	c->init = NIL_VAL;
	return c;
}

ObjInstance *instance_new(GaleVM *vm, ObjClass *klass)
{
	ObjMap *fields = map_new(vm);
	vm_push_root(vm, OBJ_VAL(fields));
	ObjInstance *i = obj_alloc(vm, sizeof(ObjInstance), OBJ_INSTANCE);
	vm_pop_root(vm);
	i->klass = klass;
	i->fields = fields;
	return i;
}

ObjBound *bound_new(GaleVM *vm, Value receiver, Value method)
{
	ObjBound *b = obj_alloc(vm, sizeof(ObjBound), OBJ_BOUND);
	b->receiver = receiver;
	b->method = method;
	return b;
}

ObjModule *module_new(GaleVM *vm, ObjString *name, ObjString *path)
{
	ObjMap *names = map_new(vm);
	vm_push_root(vm, OBJ_VAL(names));
	ObjModule *m = obj_alloc(vm, sizeof(ObjModule), OBJ_MODULE);
	vm_pop_root(vm);
	m->name = name;
	m->path = path;
	m->names = names;
	return m;
}

int module_slot(GaleVM *vm, ObjModule *m, ObjString *name)
{
	Value v;
	if (map_get(m->names, OBJ_VAL(name), &v))
		return (int)AS_INT(v);
	vm_push_root(vm, OBJ_VAL(m));
	/* a variable's name is interned (usually already), so member lookups
	 * by a compiled name hit by pointer */
	vm_push_root(vm, OBJ_VAL(name));
	name = str_intern(vm, name);
	vm->temps[vm->temp_count - 1] = OBJ_VAL(name);
	if (m->count == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 16;
		ObjBuf *vals = buf_grow(vm, m->values, sizeof(Value) * m->count, sizeof(Value) * cap);
		vm_push_root(vm, OBJ_VAL(vals));
		ObjBuf *names = buf_grow(vm, m->slot_names, sizeof(Value) * m->count, sizeof(Value) * cap);
		vm_pop_root(vm);
		m->values = vals;
		m->value_data = (Value *)vals->data;
		m->slot_names = names;
		m->cap = cap;
	}
	int slot = (int)m->count;
	MODULE_VALUES(m)[slot] = UNDEF_VAL;
	((Value *)m->slot_names->data)[slot] = OBJ_VAL(name);
	m->count++;
	map_set(vm, m->names, OBJ_VAL(name), INT_VAL(slot));
	vm->temp_count -= 2;
	return slot;
}

void module_set(GaleVM *vm, ObjModule *m, ObjString *name, Value v)
{
	vm_push_root(vm, v);
	int slot = module_slot(vm, m, name);
	vm_pop_root(vm);
	MODULE_VALUES(m)[slot] = v;
}

ObjError *error_new(GaleVM *vm, ObjString *message)
{
	vm_push_root(vm, OBJ_VAL(message));
	ObjError *e = obj_alloc(vm, sizeof(ObjError), OBJ_ERROR);
	vm_pop_root(vm);
	e->message = message;
	return e;
}

ObjForeign *vm_foreign_new(GaleVM *vm, const vm_foreign_class *cls)
{
	ObjForeign *f = obj_alloc(vm, sizeof(ObjForeign) + cls->size, OBJ_FOREIGN);
	f->cls = cls;
	f->vm = vm;
	if (cls->finalize != NULL && !gcSetFinalizer(vm->rt, f))
		vm_oom(vm);
	return f;
}

/* ---- lists ---- */

ObjBuf vm_empty_buf;

/* A buffer for cap slots, which records its capacity. */
static ObjBuf *list_buf_new(GaleVM *vm, uint32_t cap)
{
	ObjBuf *b = buf_new(vm, sizeof(Slot) * cap);
	b->cap = cap;
	return b;
}

ObjList *list_new(GaleVM *vm, uint32_t cap)
{
	if (cap > 0 && cap <= LIST_INLINE_MAX) {
		ObjList *l = obj_alloc(vm, offsetof(ObjList, items) + sizeof(Slot) * cap, OBJ_LIST);
		l->obj.flags |= OBJF_INLINE_ITEMS;
		l->inline_cap = (uint16_t)cap;
		return l;
	}
	ObjList *l = obj_alloc(vm, sizeof(ObjList), OBJ_LIST);
	l->items = &vm_empty_buf;
	if (cap > 0) {
		vm_push_root(vm, OBJ_VAL(l));
		l->items = list_buf_new(vm, cap);
		vm_pop_root(vm);
	}
	return l;
}

Slot slot_box(GaleVM *vm, int64_t i)
{
	vm->rt->locks++;
	ObjIntBox *b = mallocgc(vm->rt, sizeof(ObjIntBox), OBJ_INTBOX, true);
	vm->rt->locks--;
	if (b == NULL)
		vm_oom(vm);
	b->i = i;
	return SLOT_BOX | (uint64_t)(uintptr_t)b;
}

static void list_reserve(GaleVM *vm, ObjList *l, uint32_t need)
{
	uint32_t have = list_cap(l);
	if (need <= have)
		return;
	if (need > UINT32_MAX / 2 / sizeof(Slot))
		vm_oom(vm);
	uint32_t cap = have < 8 ? 8 : have * 2;
	while (cap < need)
		cap *= 2;
	ObjBuf *b = list_buf_new(vm, cap);
	if (l->count > 0)
		memcpy(b->data, LIST_SLOTS(l), sizeof(Slot) * l->count);
	/* inline slots are copied out first: the pointer overlays them */
	l->obj.flags &= (uint8_t)~OBJF_INLINE_ITEMS;
	l->items = b;
}

/* Out of line, so that list_push's common case saves no registers. */
static __attribute__((noinline)) void list_grow_one(GaleVM *vm, ObjList *l, Value v)
{
	vm_push_root(vm, OBJ_VAL(l));
	vm_push_root(vm, v);
	list_reserve(vm, l, l->count + 1);
	vm->temp_count -= 2;
}

void list_push(GaleVM *vm, ObjList *l, Value v)
{
	if (__builtin_expect(l->count == list_cap(l), 0))
		list_grow_one(vm, l, v);
	list_set(vm, l, l->count, v);
	l->count++;
}

void list_insert(GaleVM *vm, ObjList *l, uint32_t at, Value v)
{
	list_push(vm, l, v);
	Slot *it = LIST_SLOTS(l);
	Slot s = it[l->count - 1];
	memmove(it + at + 1, it + at, sizeof(Slot) * (l->count - 1 - at));
	it[at] = s;
}

Value list_remove(ObjList *l, uint32_t at)
{
	Slot *it = LIST_SLOTS(l);
	Value v = slot_value(it[at]);
	memmove(it + at, it + at + 1, sizeof(Slot) * (l->count - at - 1));
	l->count--;
	return v;
}
