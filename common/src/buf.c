#include "privfl/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void
pfl_buf_init(struct pfl_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->wipe = 0;
}

void
pfl_buf_init_wipe(struct pfl_buf *b, size_t max)
{
	pfl_buf_init(b, max);
	b->wipe = 1;
}

void
pfl_free_wipe(void *p, size_t len)
{
	if (p == NULL)
		return;
	sodium_memzero(p, len);
	free(p);
}

void
pfl_buf_fini(struct pfl_buf *b)
{
	if (b == NULL)
		return;
	if (b->wipe)
		pfl_free_wipe(b->data, b->cap);
	else
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
pfl_buf_clear(struct pfl_buf *b)
{
	b->len = 0;
}

pfl_err
pfl_buf_reserve(struct pfl_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > (size_t)-1 - b->len)
		return PFL_ERR_TOOBIG;
	need = b->len + extra;
	if (b->max != 0 && need > b->max)
		return PFL_ERR_TOOBIG;
	if (need <= b->cap)
		return PFL_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	if (b->max != 0 && cap > b->max)
		cap = b->max;
	if (b->wipe) {
		/* realloc could leave a copy of the bytes in freed memory */
		if ((p = malloc(cap)) == NULL)
			return PFL_ERR_NOMEM;
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		pfl_free_wipe(b->data, b->cap);
	} else if ((p = realloc(b->data, cap)) == NULL) {
		return PFL_ERR_NOMEM;
	}
	b->data = p;
	b->cap = cap;
	return PFL_OK;
}

pfl_err
pfl_buf_append(struct pfl_buf *b, const void *p, size_t n)
{
	pfl_err rv;

	if (n == 0)
		return PFL_OK;
	if ((rv = pfl_buf_reserve(b, n)) != PFL_OK)
		return rv;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return PFL_OK;
}

pfl_err
pfl_buf_printf(struct pfl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	pfl_err rv;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PFL_ERR_INVAL;
	if ((rv = pfl_buf_reserve(b, (size_t)n + 1)) != PFL_OK)
		return rv;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return PFL_OK;
}
