/* Shared helpers for the VM unit tests: a VM whose output is captured. */
#ifndef VM_TEST_HELPERS_H
#define VM_TEST_HELPERS_H

#include <stdlib.h>
#include <string.h>

#include "gale.h"

typedef struct Capture {
	char out[65536];
	size_t out_len;
	char err[65536];
	size_t err_len;
} Capture;

static inline void cap_append(char *buf, size_t *len, const char *s, size_t n)
{
	if (*len + n >= 65535)
		n = 65535 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static inline void cap_write(GaleVM *vm, const char *s, size_t n, void *user)
{
	(void)vm;
	Capture *c = user;
	cap_append(c->out, &c->out_len, s, n);
}

static inline void cap_error(GaleVM *vm, const char *s, size_t n, void *user)
{
	(void)vm;
	Capture *c = user;
	cap_append(c->err, &c->err_len, s, n);
}

static inline void cap_reset(Capture *c)
{
	c->out_len = c->err_len = 0;
	c->out[0] = c->err[0] = '\0';
}

/* A VM writing into c; extra settings through cfg (may be NULL). */
static inline GaleVM *cap_vm(Capture *c, const GaleConfig *base)
{
	GaleConfig cfg;
	if (base)
		cfg = *base;
	else
		gale_config_init(&cfg);
	cfg.write = cap_write;
	cfg.error = cap_error;
	cfg.user_data = c;
	cap_reset(c);
	return gale_new(&cfg);
}

static inline GaleResult run(GaleVM *vm, const char *src)
{
	return gale_eval(vm, src, strlen(src), "test");
}

#endif
