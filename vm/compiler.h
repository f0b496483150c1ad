/*
 * compiler.h — single-pass Pratt compiler from source to bytecode.
 */
#ifndef GALE_COMPILER_H
#define GALE_COMPILER_H

#include "vm/vm.h"

/* Compile source as the top-level code of module. On error returns NULL and
 * appends one "file:line:col: message\n" line per error to *errors (a string
 * made in the VM). repl: expression statements echo their value.
 * incomplete (may be NULL) is set when the input ended inside an open
 * bracket, brace or string. */
ObjFunction *compile(GaleVM *vm, ObjModule *module, const char *source, size_t len,
                     const char *file, bool repl, ObjString **errors, bool *incomplete);

/* Mark the functions under construction (called from the VM's root scan). */
void compiler_mark_roots(GaleVM *vm);

#endif
