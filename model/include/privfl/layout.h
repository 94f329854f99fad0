/*
 * privfl — the tensor layout of a custom model (docs/MODEL.md, "Custom
 * models"): the named tensors of a safetensors file, with their dtypes and
 * shapes, and where each federated tensor lies in the flat float32 vector
 * that clipping, noise, quantization and secure aggregation work on.
 *
 * Rules (one home for them):
 *   - Tensors are ordered by name (bytewise), whatever their order in the
 *     file: every party derives the same flat vector from the same names.
 *   - F32 tensors are federated as they are; F16 and BF16 tensors are
 *     federated as float32 and written back in their own dtype (rounded to
 *     nearest, ties to even). Tensors of any other dtype (I64 BatchNorm
 *     num_batches_tracked, ...) are carried: kept with the init file's
 *     bytes, never averaged, written back unchanged.
 *   - The digest (BLAKE2b-256 over names, dtypes and shapes, see
 *     pfl_layout_digest) names the layout in round plans; a client refuses
 *     a plan whose digest is not the one of the layout it trains.
 *
 * Thread-safety: a pfl_layout is built by one thread and afterwards only
 * read; read-only use may be shared.
 */
#ifndef PRIVFL_LAYOUT_H
#define PRIVFL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"
#include "privfl/safetensors.h"

#define PFL_LAYOUT_DIGEST_BYTES 32
/* Most federated elements: the plan's parameter count is a u32. */
#define PFL_LAYOUT_MAX_PARAMS   ((size_t)UINT32_MAX - 2)

struct pfl_layout_tensor {
	char *name;    /* owned */
	char dtype[8]; /* safetensors dtype: "F32", "F16", "BF16", "I64", ... */
	int ndim;
	int64_t shape[PFL_ST_MAX_NDIM];
	size_t count;   /* elements */
	bool federated; /* F32, F16, BF16 */
	size_t offset;  /* federated: first element in the flat vector */
	uint8_t *raw;   /* carried: the tensor's bytes (owned), else NULL */
	size_t raw_len;
};

struct pfl_layout {
	size_t n;                    /* tensors, sorted by name */
	struct pfl_layout_tensor *t; /* owned */
	size_t num_params;           /* federated elements */
	size_t num_carried;          /* tensors carried unchanged */
	uint8_t digest[PFL_LAYOUT_DIGEST_BYTES];
};

/*
 * Build the layout of a parsed safetensors file, and its federated values
 * as one float32 vector (*params, num_params floats, malloc'd; the caller
 * frees it) when params is not NULL. Carried tensors keep their bytes in
 * the layout.
 * @param err  the reason of a failure in words (may be NULL)
 * @return PFL_OK; PFL_ERR_FORMAT (no federated tensor, an empty name, a
 *         float64 tensor: refused, not narrowed); PFL_ERR_TOOBIG
 *         (more than PFL_LAYOUT_MAX_PARAMS federated elements);
 *         PFL_ERR_NOMEM. *out and *params are written only on success.
 */
pfl_err pfl_layout_from_st(const struct pfl_st_file *f, struct pfl_layout *out,
                           float **params, char *err, size_t errlen) PFL_WUR;

/*
 * pfl_layout_from_st on the file at path.
 * @return as pfl_layout_from_st, and PFL_ERR_NOTFOUND / PFL_ERR_IO when
 *         the file cannot be read; err says what is wrong
 */
pfl_err pfl_layout_load(const char *path, struct pfl_layout *out,
                        float **params, char *err, size_t errlen) PFL_WUR;

/* Free what the layout holds; accepts NULL and a zeroed struct. */
void pfl_layout_fini(struct pfl_layout *l);

/* Index of the tensor called name, or -1. */
long pfl_layout_find(const struct pfl_layout *l, const char *name);

/*
 * Write the layout's tensors to path atomically as safetensors: federated
 * tensors from params (num_params floats) in their own dtype, carried ones
 * unchanged, with the layout's names and shapes, and the metadata
 * "privfl.model" = "custom", "privfl.layout" = the hex digest, plus
 * meta[0..nmeta) (keys must not start with "privfl.").
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM or PFL_ERR_IO
 */
pfl_err pfl_layout_save(const struct pfl_layout *l, const float *params,
                        const struct pfl_st_meta *meta, size_t nmeta,
                        const char *path) PFL_WUR;

/* The first 16 hex digits of the digest (for names and logs), in out[17]. */
void pfl_layout_digest_short(const struct pfl_layout *l, char out[17]);

/* float16 / bfloat16 <-> float32 (round to nearest even; NaN stays NaN). */
float pfl_f16_to_f32(uint16_t h);
uint16_t pfl_f32_to_f16(float f);
float pfl_bf16_to_f32(uint16_t h);
uint16_t pfl_f32_to_bf16(float f);

#endif
