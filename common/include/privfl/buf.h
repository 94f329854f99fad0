/*
 * privfl — growable byte buffers.
 *
 * A pfl_buf owns its bytes (malloc). Appending may move them: pointers into
 * data are invalid after any append. pfl_buf_fini accepts a zeroed buffer.
 */
#ifndef PRIVFL_BUF_H
#define PRIVFL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

struct pfl_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = no limit; appends past it give PFL_ERR_TOOBIG */
};

void pfl_buf_init(struct pfl_buf *b, size_t max);
void pfl_buf_fini(struct pfl_buf *b);
pfl_err pfl_buf_reserve(struct pfl_buf *b, size_t extra) PFL_WUR;
pfl_err pfl_buf_append(struct pfl_buf *b, const void *p, size_t n) PFL_WUR;
/* Printf-style append (text). */
pfl_err pfl_buf_printf(struct pfl_buf *b, const char *fmt, ...) PFL_WUR
        __attribute__((format(printf, 2, 3)));
void pfl_buf_clear(struct pfl_buf *b);

/* Overflow-checked n * size; returns 0 (and sets *ok = 0) on overflow. */
static inline size_t
pfl_mul_size(size_t n, size_t size, int *ok)
{
	if (size != 0 && n > (size_t)-1 / size) {
		*ok = 0;
		return 0;
	}
	return n * size;
}

#endif
