/*
 * privfl — model files in the safetensors format: an 8-byte little-endian
 * header length, a JSON header naming each tensor's dtype, shape and byte
 * range, then the raw little-endian data. Tensor names and layouts are
 * PyTorch state_dict ones (docs/MODEL.md), so torch's load_state_dict
 * takes privfl files and privfl reads PyTorch-initialized weights.
 *
 * Reading is hardened against hostile files: every length, offset and
 * count is checked, and anything malformed is PFL_ERR_FORMAT.
 * Thread-safety: functions are reentrant; a pfl_st_file is owned by one
 * thread at a time (read-only use may be shared).
 */
#ifndef PRIVFL_SAFETENSORS_H
#define PRIVFL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"
#include "privfl/model.h"

/* One __metadata__ entry (both strings borrowed from the caller). */
struct pfl_st_meta {
	const char *key;
	const char *value;
};

#define PFL_ST_MAX_HEADER  (100u << 20) /* as the reference implementation */
#define PFL_ST_MAX_TENSORS 4096
#define PFL_ST_MAX_META    256
#define PFL_ST_MAX_NDIM    8
#define PFL_ST_MAX_FILE    ((size_t)8 << 30)

/*
 * Write spec's tensors from params (num_params floats) with nmeta metadata
 * entries (meta may be NULL when nmeta is 0) to path atomically (a crash
 * leaves the old file or the new one). privfl adds "privfl.model",
 * "privfl.input" and "privfl.classes" entries for the spec.
 * Returns PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM or PFL_ERR_IO.
 */
pfl_err pfl_safetensors_save(const struct pfl_model_spec *spec,
                             const float *params,
                             const struct pfl_st_meta *meta, size_t nmeta,
                             const char *path) PFL_WUR;

/*
 * Read path into params (num_params floats for spec). The file must hold
 * exactly spec's tensors, by name, as F32 with the spec's shapes.
 * Returns PFL_OK, PFL_ERR_NOTFOUND / PFL_ERR_IO (cannot read),
 * PFL_ERR_FORMAT (malformed file, or tensors that do not match the spec),
 * PFL_ERR_TOOBIG or PFL_ERR_NOMEM. params is written only on success.
 */
pfl_err pfl_safetensors_load(const struct pfl_model_spec *spec,
                             const char *path, float *params) PFL_WUR;

/* A parsed file, for inspection (privfl model info) and fuzzing. */
struct pfl_st_tensor {
	char *name;
	char dtype[8];
	int ndim;
	int64_t shape[PFL_ST_MAX_NDIM];
	uint64_t begin, end; /* byte range inside data */
};
struct pfl_st_file {
	size_t ntensors;
	struct pfl_st_tensor *tensors;
	size_t nmeta;
	char **meta_keys, **meta_values;
	const uint8_t *data; /* the data section (borrowed from buf) */
	size_t data_len;
};

/*
 * Parse a whole file image buf[0..len) into *out. Names and metadata are
 * copied (free with pfl_st_file_fini); out->data points into buf, which
 * must outlive its use. Returns PFL_OK, PFL_ERR_FORMAT, PFL_ERR_TOOBIG or
 * PFL_ERR_NOMEM; *out is written only on success.
 */
pfl_err pfl_safetensors_parse(const uint8_t *buf, size_t len,
                              struct pfl_st_file *out) PFL_WUR;
/*
 * The same, with the reason of a failure in err[0..errlen) (may be NULL):
 * "truncated: ..." for a file cut short, else what is malformed.
 */
pfl_err pfl_safetensors_parse_err(const uint8_t *buf, size_t len,
                                  struct pfl_st_file *out, char *err,
                                  size_t errlen) PFL_WUR;
/* Free what parse allocated; accepts a zeroed struct. */
void pfl_st_file_fini(struct pfl_st_file *f);
/* Metadata value for key, or NULL (borrowed from f). */
const char *pfl_st_file_meta(const struct pfl_st_file *f, const char *key);
/*
 * Copy the tensors of a parsed file that match spec into params (same
 * rules as pfl_safetensors_load).
 */
pfl_err pfl_st_file_to_params(const struct pfl_st_file *f,
                              const struct pfl_model_spec *spec,
                              float *params) PFL_WUR;
/*
 * The same, with the reason of a mismatch in err (may be NULL): "does not
 * match architecture mlp:200,200 on input 1x28x28, 10 classes (expected
 * tensor fc1.weight of shape [200, 784], F32)".
 */
pfl_err pfl_st_file_to_params_err(const struct pfl_st_file *f,
                                  const struct pfl_model_spec *spec,
                                  float *params, char *err,
                                  size_t errlen) PFL_WUR;

#endif
