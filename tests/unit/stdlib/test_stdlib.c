/*
 * The standard modules through the embedding API: what gale_open_libs adds,
 * where io's standard streams write, os.args from gale_set_args, the
 * registration tables behind :help and completion, and files closed by
 * their finalizers when the VM goes away.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gale.h"

typedef struct capture {
	char out[4096];
	size_t out_len;
	char err[4096];
	size_t err_len;
} capture;

static void cap_write(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm;
	capture *c = user;
	size_t room = sizeof c->out - 1 - c->out_len;
	if (len > room)
		len = room;
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
	c->out[c->out_len] = '\0';
}

static void cap_error(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm;
	capture *c = user;
	size_t room = sizeof c->err - 1 - c->err_len;
	if (len > room)
		len = room;
	memcpy(c->err + c->err_len, text, len);
	c->err_len += len;
	c->err[c->err_len] = '\0';
}

static GaleVM *new_vm(capture *c, bool libs)
{
	memset(c, 0, sizeof *c);
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = cap_write;
	cfg.error = cap_error;
	cfg.user_data = c;
	GaleVM *vm = gale_new(&cfg);
	cr_assert_not_null(vm);
	if (libs)
		gale_open_libs(vm);
	return vm;
}

static GaleResult eval(GaleVM *vm, const char *src)
{
	return gale_eval(vm, src, strlen(src), "test");
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(stdlib, modules_exist_only_after_open_libs)
{
	capture c;
	GaleVM *vm = new_vm(&c, false);
	cr_assert_eq(eval(vm, "print(math.sqrt(16))"), GALE_RUNTIME_ERROR);
	cr_assert(strstr(c.err, "math") != NULL, "error was: %s", c.err);
	gale_free(vm);

	vm = new_vm(&c, true);
	cr_assert_eq(eval(vm, "print(math.sqrt(16), type(os), type(io), type(runtime))"), GALE_OK,
	             "%s", c.err);
	cr_assert_str_eq(c.out, "4.0 module module module\n");
	gale_free(vm);
}

Test(stdlib, standard_streams_use_the_output_callbacks)
{
	capture c;
	GaleVM *vm = new_vm(&c, true);
	cr_assert_eq(eval(vm, "print(\"a\"); io.stdout.write(\"b\"); io.stdout.write(7); print(\"c\")"),
	             GALE_OK, "%s", c.err);
	cr_assert_str_eq(c.out, "a\nb7c\n");
	cr_assert_eq(eval(vm, "io.stderr.write(\"to the error callback\")"), GALE_OK);
	cr_assert_str_eq(c.err, "to the error callback");
	gale_free(vm);
}

Test(stdlib, os_args_come_from_set_args)
{
	capture c;
	GaleVM *vm = new_vm(&c, false);
	const char *argv[] = {"one", "two words"};
	gale_set_args(vm, 2, argv);
	gale_open_libs(vm);
	cr_assert_eq(eval(vm, "print(os.args, len(os.args))"), GALE_OK, "%s", c.err);
	cr_assert_str_eq(c.out, "[\"one\", \"two words\"] 2\n");
	gale_free(vm);
}

typedef struct doc_count {
	int math, os, io, runtime, undocumented;
	bool sqrt_seen;
} doc_count;

static void count_doc(const char *module, const char *name, const char *doc, void *ctx)
{
	doc_count *d = ctx;
	if (!module)
		return;
	if (!doc || !*doc)
		d->undocumented++;
	if (strcmp(module, "math") == 0) {
		d->math++;
		if (strcmp(name, "sqrt") == 0 && strstr(doc, "square root"))
			d->sqrt_seen = true;
	}
	d->os += strcmp(module, "os") == 0;
	d->io += strcmp(module, "io") == 0;
	d->runtime += strcmp(module, "runtime") == 0;
}

Test(stdlib, every_module_function_has_a_doc_line)
{
	capture c;
	GaleVM *vm = new_vm(&c, true);
	doc_count d = {0};
	gale_each_builtin(vm, count_doc, &d);
	cr_assert(d.sqrt_seen);
	cr_assert_geq(d.math, 21, "math has %d", d.math);
	cr_assert_geq(d.os, 4, "os has %d", d.os);
	cr_assert_geq(d.io, 3, "io has %d", d.io);
	cr_assert_eq(d.runtime, 6, "runtime has %d", d.runtime);
	cr_assert_eq(d.undocumented, 0);
	gale_free(vm);
}

typedef struct found {
	bool sqrt, sin, other;
} found;

static void on_candidate(const char *cand, void *ctx)
{
	found *f = ctx;
	const char *member = strncmp(cand, "math.", 5) == 0 ? cand + 5 : cand;
	if (strcmp(member, "sqrt") == 0)
		f->sqrt = true;
	else if (strcmp(member, "sin") == 0)
		f->sin = true;
	else if (strcmp(member, "print") == 0)
		f->other = true;
}

Test(stdlib, completion_offers_module_members)
{
	capture c;
	GaleVM *vm = new_vm(&c, true);
	found f = {0};
	gale_complete(vm, "math.", on_candidate, &f);
	cr_assert(f.sqrt && f.sin);
	cr_assert(!f.other, "globals are not members of math");
	gale_free(vm);
}

Test(stdlib, open_files_are_closed_when_the_vm_is_freed)
{
	char path[] = "/tmp/gale_unit_io_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);

	capture c;
	GaleVM *vm = new_vm(&c, true);
	int before = count_fds();
	char src[256];
	snprintf(src, sizeof src,
	         "let f = io.open(\"%s\", \"w\")\nlet g = io.open(\"%s\", \"r\")\nf.write(\"kept\")",
	         path, path);
	cr_assert_eq(eval(vm, src), GALE_OK, "%s", c.err);
	cr_assert_eq(count_fds(), before + 2);
	gale_free(vm);
	cr_assert_eq(count_fds(), before);

	FILE *f = fopen(path, "r");
	char buf[16] = {0};
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, sizeof buf - 1, f), 4);
	fclose(f);
	cr_assert_str_eq(buf, "kept");
	unlink(path);
}

Test(stdlib, io_errors_are_catchable_and_the_vm_goes_on)
{
	capture c;
	GaleVM *vm = new_vm(&c, true);
	cr_assert_eq(eval(vm, "io.readFile(\"/nonexistent/x\")"), GALE_RUNTIME_ERROR);
	cr_assert(strstr(gale_error_message(vm), "cannot open '/nonexistent/x': No such file or directory"),
	          "%s", gale_error_message(vm));
	cr_assert_eq(eval(vm, "print(math.floor(2.5))"), GALE_OK);
	cr_assert_str_eq(c.out, "2\n");
	gale_free(vm);
}

Test(stdlib, runtime_settings_are_per_vm)
{
	capture a, b;
	GaleVM *va = new_vm(&a, true);
	GaleVM *vb = new_vm(&b, true);
	cr_assert_eq(eval(va, "runtime.setGCPercent(30); runtime.setMemoryLimit(\"64MiB\")"), GALE_OK,
	             "%s", a.err);
	GaleMemStats ma, mb;
	gale_memstats(va, &ma);
	gale_memstats(vb, &mb);
	cr_assert_eq(ma.GCPercent, 30);
	cr_assert_eq(ma.MemoryLimit, 64 << 20);
	cr_assert_eq(mb.GCPercent, 100);
	cr_assert_eq(mb.MemoryLimit, INT64_MAX);
	cr_assert_eq(eval(vb, "print(runtime.memstats()[\"GCPercent\"])"), GALE_OK);
	cr_assert_str_eq(b.out, "100\n");
	gale_free(va);
	gale_free(vb);
}
