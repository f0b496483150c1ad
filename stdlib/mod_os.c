/*
 * mod_os.c — the os module: script arguments, environment, exit, clocks and
 * the two file-system operations scripts need to clean up after themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/gc.h"
#include "stdlib/stdlib.h"

static double clock_seconds(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void os_env(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *name = native_string(vm, args, 0, "os.env");
	const char *v = getenv(name->chars);
	*ret = v ? native_cstr(vm, v) : NIL_VAL;
}

/* exit(code?): code is an int (0 by default) or a bool (true = 0). Standard
 * output is flushed; the process ends without unwinding the script. */
static void os_exit(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)ret;
	int code = 0;
	if (argc > 1)
		vm_error(vm, "os.exit: expected 0 or 1 arguments, got %d", argc);
	if (argc == 1) {
		if (IS_BOOL(args[0]))
			code = AS_BOOL(args[0]) ? 0 : 1;
		else
			code = (int)(native_int(vm, args, 0, "os.exit") & 0xff);
	}
	fflush(NULL);
	exit(code);
}

static void os_clock(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	/* Scripts that poll the clock are often waiting: a scavenger turn. */
	gcIdlePoll(vm->rt);
	*ret = FLOAT_VAL(clock_seconds(CLOCK_PROCESS_CPUTIME_ID));
}

static void os_time(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)args;
	/* Scripts that poll the clock are often waiting: a scavenger turn. */
	gcIdlePoll(vm->rt);
	*ret = FLOAT_VAL(clock_seconds(CLOCK_REALTIME));
}

static void os_remove(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	ObjString *path = native_string(vm, args, 0, "os.remove");
	if (remove(path->chars) != 0)
		vm_error(vm, "cannot remove '%s': %s", path->chars, strerror(errno));
}

static void os_rename(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	ObjString *from = native_string(vm, args, 0, "os.rename");
	ObjString *to = native_string(vm, args, 1, "os.rename");
	if (rename(from->chars, to->chars) != 0)
		vm_error(vm, "cannot rename '%s' to '%s': %s", from->chars, to->chars, strerror(errno));
}

static const vm_reg os_funcs[] = {
	{"env", os_env, 1, "env(name): the environment variable's value, or nil"},
	{"exit", os_exit, -1, "exit(code?): end the process with status code (default 0)"},
	{"clock", os_clock, 0, "clock(): CPU seconds used by the process, a float"},
	{"time", os_time, 0, "time(): seconds since the Unix epoch, a float"},
	{"remove", os_remove, 1, "remove(path): delete a file or empty directory"},
	{"rename", os_rename, 2, "rename(from, to): rename or move a file"},
	{NULL, NULL, 0, NULL},
};

void stdlib_open_os(GaleVM *vm)
{
	ObjModule *m = vm_define_module(vm, "os", os_funcs);
	Value args = vm_script_args(vm);
	vm_push_root(vm, args);
	vm_module_set_value(vm, m, "args", args);
	vm_pop_root(vm);
}
