/*
 * stdlib.h — the built-in modules. Each *_open defines one module as a
 * predefined global and importable name (vm_define_module); gale_open_libs
 * (libs.c) calls them all.
 */
#ifndef GALE_STDLIB_H
#define GALE_STDLIB_H

#include "vm/native.h"

void stdlib_open_math(GaleVM *vm);
void stdlib_open_os(GaleVM *vm);
void stdlib_open_io(GaleVM *vm);
void stdlib_open_runtime(GaleVM *vm);

/* Sets m[key] = v keeping v rooted while the key is interned. */
void stdlib_map_set(GaleVM *vm, ObjMap *m, const char *key, Value v);
/* Appends v to l keeping v rooted while the list grows. */
void stdlib_list_push(GaleVM *vm, ObjList *l, Value v);

#endif
