/*
 * privfl — growable byte buffers.
 *
 * A pfl_buf owns its bytes (malloc). Appending may move them: pointers into
 * data are invalid after any append. pfl_buf_fini accepts a zeroed buffer.
 *
 * A buffer that may hold a plaintext update (a client's delta, its
 * quantized vector before masking, an encoded plain UPDATE) is made with
 * pfl_buf_init_wipe: its bytes are zeroed before they go back to malloc,
 * also the old block when an append moves them.
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
	int wipe;   /* nonzero: zero the bytes before freeing them */
};

void pfl_buf_init(struct pfl_buf *b, size_t max);
/* As pfl_buf_init, for a buffer whose bytes are wiped when freed or moved. */
void pfl_buf_init_wipe(struct pfl_buf *b, size_t max);
/* Frees the bytes (wiped first if the buffer was made to wipe). */
void pfl_buf_fini(struct pfl_buf *b);
/* Zero len bytes at p (not optimized away) and free p; p may be NULL. */
void pfl_free_wipe(void *p, size_t len);
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
