/*
 * api_helpers.h — shared pieces of the embedding API tests: a VM whose
 * output and error text are captured in buffers instead of printed.
 */
#ifndef API_HELPERS_H
#define API_HELPERS_H

#include <gale.h>
#include <string.h>

typedef struct Capture {
	char out[8192];
	size_t out_len;
	char err[8192];
	size_t err_len;
} Capture;

static inline void capture_append(char *buf, size_t *len, size_t cap, const char *text, size_t n)
{
	if (*len + n >= cap)
		n = cap - 1 - *len;
	memcpy(buf + *len, text, n);
	*len += n;
	buf[*len] = '\0';
}

static inline void capture_write(GaleVM *vm, const char *text, size_t n, void *user)
{
	(void)vm;
	Capture *c = user;
	capture_append(c->out, &c->out_len, sizeof c->out, text, n);
}

static inline void capture_error(GaleVM *vm, const char *text, size_t n, void *user)
{
	(void)vm;
	Capture *c = user;
	capture_append(c->err, &c->err_len, sizeof c->err, text, n);
}

static inline void capture_reset(Capture *c)
{
	c->out_len = c->err_len = 0;
	c->out[0] = c->err[0] = '\0';
}

/* A VM writing into c; debug may be NULL. */
static inline GaleVM *capture_vm(Capture *c, const char *debug)
{
	capture_reset(c);
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = capture_write;
	cfg.error = capture_error;
	cfg.user_data = c;
	cfg.debug = debug;
	return gale_new(&cfg);
}

static inline GaleResult eval_str(GaleVM *vm, const char *src)
{
	return gale_eval(vm, src, strlen(src), "test");
}

#endif
