/*
 * mod_io.c — the io module: files as foreign objects, whole-file functions and
 * the three standard streams.
 *
 * Files sit on raw descriptors. Reads go through a buffer inside the object
 * (so in the collected heap, charged like every other object); writes are
 * not buffered, so nothing is lost when a script ends with os.exit or forgets
 * close(). A file the script drops is closed by its finalizer.
 *
 * io.stdout and io.stderr write through the VM's output callbacks, so they
 * interleave correctly with print() and follow an embedder's redirection.
 * io.stdin reads C's stdin, sharing its buffer with input().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stdlib/stdlib.h"

#define IO_BUFSIZE 4096

enum {
	IO_READ = 1,
	IO_WRITE = 2,
	IO_CLOSED = 4,
};

typedef enum io_kind { IO_FILE, IO_STDIN, IO_STDOUT, IO_STDERR } io_kind;

typedef struct io_file {
	Value path; /* string, for messages; nil for the standard streams */
	int fd;     /* -1 once closed (or before open succeeds) */
	uint8_t flags;
	uint8_t kind;
	uint32_t rpos, rlen; /* unread bytes are rbuf[rpos, rlen) */
	char rbuf[IO_BUFSIZE];
} io_file;

static void file_finalize(GaleVM *vm, void *payload)
{
	(void)vm;
	io_file *f = payload;
	/* Only descriptors this module opened; never 0, 1 or 2. */
	if (f->kind == IO_FILE && !(f->flags & IO_CLOSED) && f->fd >= 0)
		close(f->fd);
	f->flags |= IO_CLOSED;
	f->fd = -1;
}

static void file_trace(GaleVM *vm, void *payload)
{
	vm_mark_value(vm, ((io_file *)payload)->path);
}

static const vm_foreign_class file_class;

static const char *file_name(const io_file *f)
{
	switch (f->kind) {
	case IO_STDIN: return "<stdin>";
	case IO_STDOUT: return "<stdout>";
	case IO_STDERR: return "<stderr>";
	default: return IS_STRING(f->path) ? AS_CSTRING(f->path) : "<file>";
	}
}

/* The receiver of a file method, checked to be open for the given use. */
static io_file *self_file(GaleVM *vm, Value *args, int need, const char *fname)
{
	io_file *f = native_foreign(vm, args, -1, &file_class, fname);
	if (f->flags & IO_CLOSED)
		vm_error(vm, "%s: file '%s' is closed", fname, file_name(f));
	if ((need & IO_READ) && !(f->flags & IO_READ))
		vm_error(vm, "%s: file '%s' is not open for reading", fname, file_name(f));
	if ((need & IO_WRITE) && !(f->flags & IO_WRITE))
		vm_error(vm, "%s: file '%s' is not open for writing", fname, file_name(f));
	return f;
}

/* read(2) retrying on EINTR, except when Ctrl-C asked the VM to stop: then
 * the short read lets it reach its next safe point. -1 with errno set. */
static ssize_t read_some(GaleVM *vm, int fd, char *buf, size_t n)
{
	for (;;) {
		ssize_t got = read(fd, buf, n);
		if (got >= 0 || errno != EINTR)
			return got;
		if (vm->interrupted)
			return 0;
	}
}

/* Writes all of s or raises with the OS message. */
static void write_all(GaleVM *vm, int fd, const char *s, size_t n, const char *what)
{
	while (n > 0) {
		ssize_t put = write(fd, s, n);
		if (put < 0) {
			if (errno == EINTR && !vm->interrupted)
				continue;
			vm_error(vm, "cannot write '%s': %s", what, strerror(errno));
		}
		s += put;
		n -= (size_t)put;
	}
}

/* Refills f's buffer; false at end of file. */
static bool fill(GaleVM *vm, io_file *f)
{
	ssize_t got = read_some(vm, f->fd, f->rbuf, sizeof f->rbuf);
	if (got < 0)
		vm_error(vm, "cannot read '%s': %s", file_name(f), strerror(errno));
	f->rpos = 0;
	f->rlen = (uint32_t)got;
	return got > 0;
}

/* Closes a file this module opened, reporting what close(2) says. */
static void close_file(GaleVM *vm, io_file *f)
{
	int fd = f->fd;
	f->fd = -1;
	f->flags |= IO_CLOSED;
	if (close(fd) != 0 && errno != EINTR)
		vm_error(vm, "cannot close '%s': %s", file_name(f), strerror(errno));
}

/* ---- reading ---- */

/* The rest of stdin (stdio), or the rest of a descriptor after f's buffer. */
static Value read_rest(GaleVM *vm, io_file *f)
{
	StrBuf sb;
	sb_init(vm, &sb);
	char chunk[8192];
	if (f->kind == IO_STDIN) {
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
			sb_add(&sb, chunk, got);
		clearerr(stdin);
		return OBJ_VAL(sb_finish(&sb));
	}
	if (f->rpos < f->rlen)
		sb_add(&sb, f->rbuf + f->rpos, f->rlen - f->rpos);
	f->rpos = f->rlen = 0;
	for (;;) {
		ssize_t got = read_some(vm, f->fd, chunk, sizeof chunk);
		if (got < 0) {
			int err = errno;
			sb_drop(&sb);
			vm_error(vm, "cannot read '%s': %s", file_name(f), strerror(err));
		}
		if (got == 0)
			break;
		sb_add(&sb, chunk, (size_t)got);
	}
	return OBJ_VAL(sb_finish(&sb));
}

/* The next line without its '\n', or nil at end of file. */
static Value read_line(GaleVM *vm, io_file *f)
{
	StrBuf sb;
	sb_init(vm, &sb);
	bool any = false;
	if (f->kind == IO_STDIN) {
		int c;
		while ((c = getc(stdin)) != EOF) {
			any = true;
			if (c == '\n')
				break;
			sb_addc(&sb, (char)c);
		}
		clearerr(stdin);
	} else {
		for (;;) {
			if (f->rpos == f->rlen && !fill(vm, f))
				break;
			any = true;
			char *start = f->rbuf + f->rpos;
			char *nl = memchr(start, '\n', f->rlen - f->rpos);
			if (nl) {
				if (nl > start)
					sb_add(&sb, start, (size_t)(nl - start));
				f->rpos += (uint32_t)(nl - start) + 1;
				break;
			}
			sb_add(&sb, start, f->rlen - f->rpos);
			f->rpos = f->rlen;
		}
	}
	if (!any) {
		sb_drop(&sb);
		return NIL_VAL;
	}
	return OBJ_VAL(sb_finish(&sb));
}

static void file_read(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	*ret = read_rest(vm, self_file(vm, args, IO_READ, "file.read"));
}

static void file_read_line(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	*ret = read_line(vm, self_file(vm, args, IO_READ, "file.readLine"));
}

static void file_lines(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	io_file *f = self_file(vm, args, IO_READ, "file.lines");
	ObjList *l = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(l));
	for (;;) {
		Value line = read_line(vm, f);
		if (IS_NIL(line))
			break;
		stdlib_list_push(vm, l, line);
	}
	vm_pop_root(vm);
	*ret = OBJ_VAL(l);
}

/* ---- writing ---- */

static void file_write(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	io_file *f = self_file(vm, args, IO_WRITE, "file.write");
	/* Any value is written as str() shows it. */
	ObjString *s = IS_STRING(args[0]) ? AS_STRING(args[0]) : value_to_string(vm, args[0]);
	switch (f->kind) {
	case IO_STDOUT: vm_write(vm, s->chars, s->len); return;
	case IO_STDERR: vm_write_error(vm, s->chars, s->len); return;
	default: break;
	}
	if (f->rpos < f->rlen) {
		/* Read-ahead moved the descriptor past the logical position. */
		lseek(f->fd, -(off_t)(f->rlen - f->rpos), SEEK_CUR);
		f->rpos = f->rlen = 0;
	}
	write_all(vm, f->fd, s->chars, s->len, file_name(f));
}

static void file_close(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	io_file *f = native_foreign(vm, args, -1, &file_class, "file.close");
	if (f->flags & IO_CLOSED)
		return; /* closing twice is harmless */
	if (f->kind != IO_FILE) {
		f->flags |= IO_CLOSED; /* the process's streams stay open */
		return;
	}
	close_file(vm, f);
}

static const vm_reg file_methods[] = {
	{"read", file_read, 0, "file.read(): the rest of the file as a string"},
	{"readLine", file_read_line, 0, "file.readLine(): the next line without its newline, nil at the end"},
	{"lines", file_lines, 0, "file.lines(): the remaining lines as a list"},
	{"write", file_write, 1, "file.write(s): write s (any value, as str() shows it)"},
	{"close", file_close, 0, "file.close(): close the file (again is harmless)"},
	{NULL, NULL, 0, NULL},
};

static const vm_foreign_class file_class = {
	.name = "file",
	.size = sizeof(io_file),
	.finalize = file_finalize,
	.trace = file_trace,
	.methods = file_methods,
	.call = NULL,
};

/* ---- module functions ---- */

/* open(2) flags for a mode "r", "w", "a", each with optional "+" and "b". */
static bool parse_mode(const char *mode, int *oflags, uint8_t *flags)
{
	bool plus = false;
	char base = mode[0];
	for (const char *p = mode + 1; *p; p++) {
		if (*p == '+' && !plus)
			plus = true;
		else if (*p != 'b')
			return false;
	}
	switch (base) {
	case 'r':
		*oflags = plus ? O_RDWR : O_RDONLY;
		*flags = IO_READ | (plus ? IO_WRITE : 0);
		return true;
	case 'w':
		*oflags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
		*flags = IO_WRITE | (plus ? IO_READ : 0);
		return true;
	case 'a':
		*oflags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
		*flags = IO_WRITE | (plus ? IO_READ : 0);
		return true;
	default:
		return false;
	}
}

/* open(2) that refuses directories with the OS's own words for it. */
static int open_path(const char *path, int oflags)
{
	int fd;
	do
		fd = open(path, oflags | O_CLOEXEC, 0666);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	return fd;
}

/* A file object for args[i] opened with oflags, pushed as a temporary root
 * (the caller pops it). The object exists before the descriptor, so neither
 * a failed allocation nor a later error can leak it: its finalizer closes
 * whatever is open. */
static io_file *open_file(GaleVM *vm, Value *args, int i, int oflags, uint8_t flags,
                          const char *fname)
{
	ObjString *path = native_string(vm, args, i, fname);
	if (strlen(path->chars) != path->len)
		vm_error(vm, "%s: path contains a NUL byte", fname);
	ObjForeign *o = vm_foreign_new(vm, &file_class);
	io_file *f = FOREIGN_DATA(o);
	f->fd = -1;
	f->flags = IO_CLOSED;
	f->kind = IO_FILE;
	f->path = args[i];
	vm_push_root(vm, OBJ_VAL(o));

	int fd = open_path(path->chars, oflags);
	if (fd < 0)
		vm_error(vm, "cannot open '%s': %s", path->chars, strerror(errno));
	f->fd = fd;
	f->flags = flags;
	return f;
}

static void io_open(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc < 1 || argc > 2)
		vm_error(vm, "io.open: expected 1 or 2 arguments, got %d", argc);
	native_string(vm, args, 0, "io.open");
	const char *mode = argc == 2 ? native_string(vm, args, 1, "io.open")->chars : "r";
	int oflags;
	uint8_t flags;
	if (!parse_mode(mode, &oflags, &flags))
		vm_error(vm, "io.open: invalid mode '%s' (use r, w or a, with optional + and b)", mode);
	io_file *f = open_file(vm, args, 0, oflags, flags, "io.open");
	*ret = vm->temps[vm->temp_count - 1];
	vm_pop_root(vm);
	(void)f;
}

static void io_read_file(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	io_file *f = open_file(vm, args, 0, O_RDONLY, IO_READ, "io.readFile");
	Value s = read_rest(vm, f);
	close_file(vm, f); /* allocates only when it raises */
	vm_pop_root(vm);
	*ret = s;
}

static void io_write_file(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	native_string(vm, args, 0, "io.writeFile");
	/* Any value is written as str() shows it; args[1] keeps it rooted. */
	if (!IS_STRING(args[1]))
		args[1] = OBJ_VAL(value_to_string(vm, args[1]));
	io_file *f = open_file(vm, args, 0, O_WRONLY | O_CREAT | O_TRUNC, IO_WRITE, "io.writeFile");
	ObjString *s = AS_STRING(args[1]);
	write_all(vm, f->fd, s->chars, s->len, file_name(f));
	close_file(vm, f);
	vm_pop_root(vm);
}

static const vm_reg io_funcs[] = {
	{"open", io_open, -1, "open(path, mode?): a file; mode r (default), w, a, with + and b"},
	{"readFile", io_read_file, 1, "readFile(path): the whole file as a string"},
	{"writeFile", io_write_file, 2, "writeFile(path, s): replace the file's contents with s"},
	{NULL, NULL, 0, NULL},
};

static void define_stream(GaleVM *vm, ObjModule *m, const char *name, io_kind kind, int fd,
                          uint8_t flags)
{
	ObjForeign *o = vm_foreign_new(vm, &file_class);
	io_file *f = FOREIGN_DATA(o);
	f->path = NIL_VAL;
	f->fd = fd;
	f->flags = flags;
	f->kind = (uint8_t)kind;
	Value v = OBJ_VAL(o);
	vm_push_root(vm, v);
	vm_module_set_value(vm, m, name, v);
	vm_pop_root(vm);
}

void stdlib_open_io(GaleVM *vm)
{
	ObjModule *m = vm_define_module(vm, "io", io_funcs);
	define_stream(vm, m, "stdin", IO_STDIN, STDIN_FILENO, IO_READ);
	define_stream(vm, m, "stdout", IO_STDOUT, STDOUT_FILENO, IO_WRITE);
	define_stream(vm, m, "stderr", IO_STDERR, STDERR_FILENO, IO_WRITE);
}
