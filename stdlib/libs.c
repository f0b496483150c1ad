/*
 * libs.c — gale_open_libs, the one call that gives a VM its standard
 * modules (like Lua's luaL_openlibs). gale_new opens only the core.
 */
#include <setjmp.h>
#include <stdio.h>

#include "stdlib/stdlib.h"
#include "stdlib/ffi.h"

void stdlib_map_set(GaleVM *vm, ObjMap *m, const char *key, Value v)
{
	vm_push_root(vm, v);
	native_map_set_cstr(vm, m, key, v);
	vm_pop_root(vm);
}

void stdlib_list_push(GaleVM *vm, ObjList *l, Value v)
{
	vm_push_root(vm, v);
	list_push(vm, l, v);
	vm_pop_root(vm);
}

/* Each module opens inside a protected region: running out of memory (a
 * tiny max_heap) leaves that module and the later ones undefined and says
 * so on the error callback, rather than ending the process. */
static bool open_protected(GaleVM *vm, void (*open)(GaleVM *), const char *name)
{
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	int temps = vm->temp_count;
	if (setjmp(j.buf) != 0) {
		vm->jmp = j.prev;
		vm->temp_count = temps;
		char msg[128];
		int n = snprintf(msg, sizeof msg, "cannot open module '%s': out of memory\n", name);
		vm_write_error(vm, msg, (size_t)n);
		return false;
	}
	open(vm);
	vm->jmp = j.prev;
	return true;
}

GALE_API void gale_open_libs(GaleVM *vm)
{
	static const struct {
		const char *name;
		void (*open)(GaleVM *);
	} libs[] = {
		{"math", stdlib_open_math},
		{"os", stdlib_open_os},
		{"io", stdlib_open_io},
		{"runtime", stdlib_open_runtime},
		{"ffi", ffi_open_module},
	};
	for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
		if (!open_protected(vm, libs[i].open, libs[i].name))
			return;
}
