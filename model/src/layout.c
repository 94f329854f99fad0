/* The tensor layout of a custom model: build, digest, save (layout.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "model_int.h"
#include "privfl/buf.h"
#include "privfl/file.h"
#include "privfl/layout.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

float
pfl_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, w;
	float f;

	if (exp == 0x1f) {
		w = sign | 0x7f800000u | man << 13;
	} else if (exp != 0) {
		w = sign | (exp + 112) << 23 | man << 13;
	} else if (man == 0) {
		w = sign;
	} else { /* subnormal: man * 2^-24 */
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	}
	memcpy(&f, &w, 4);
	return f;
}

uint16_t
pfl_f32_to_f16(float f)
{
	uint32_t w, sign, man;
	int exp;

	memcpy(&w, &f, 4);
	sign = (w >> 16) & 0x8000u;
	if (isnan(f))
		return (uint16_t)(sign | 0x7e00u);
	w &= 0x7fffffffu;
	if (w >= 0x477ff000u) /* rounds to >= 65520: infinity */
		return (uint16_t)(sign | 0x7c00u);
	exp = (int)(w >> 23) - 127;
	if (exp < -25)
		return (uint16_t)sign;
	if (exp < -14) { /* subnormal half: round man * 2^(exp) / 2^-24 */
		float a;
		long q;
		memcpy(&a, &w, 4);
		q = lrintf(ldexpf(a, 24)); /* current mode: nearest even */
		return (uint16_t)(sign | (uint32_t)q);
	}
	man = w & 0x7fffffu;
	{
		uint32_t h = (uint32_t)(exp + 15) << 10 | man >> 13;
		uint32_t rest = man & 0x1fffu;
		if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
			h++; /* may carry into the exponent: still right */
		return (uint16_t)(sign | h);
	}
}

float
pfl_bf16_to_f32(uint16_t h)
{
	uint32_t w = (uint32_t)h << 16;
	float f;

	memcpy(&f, &w, 4);
	return f;
}

uint16_t
pfl_f32_to_bf16(float f)
{
	uint32_t w;

	memcpy(&w, &f, 4);
	if (isnan(f))
		return (uint16_t)((w >> 16) | 0x40u);
	w += 0x7fffu + ((w >> 16) & 1u);
	return (uint16_t)(w >> 16);
}

static int
cmp_name(const void *x, const void *y)
{
	const struct pfl_layout_tensor *a = x, *b = y;

	return strcmp(a->name, b->name);
}

void
pfl_layout_fini(struct pfl_layout *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->t[i].name);
		free(l->t[i].raw);
	}
	free(l->t);
	memset(l, 0, sizeof(*l));
}

long
pfl_layout_find(const struct pfl_layout *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->t[i].name, name) == 0)
			return (long)i;
	return -1;
}

static void
put_le(crypto_generichash_state *st, uint64_t v, int bytes)
{
	uint8_t b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(st, b, (unsigned long long)bytes);
}

/*
 * BLAKE2b-256 of "privfl-layout-v1" NUL, then per tensor in name order:
 * u32 LE name length, the name, the dtype NUL-padded to 8 bytes, u32 LE
 * ndim, ndim x i64 LE dimensions (docs/MODEL.md).
 */
static void
digest(struct pfl_layout *l)
{
	static const char domain[17] = "privfl-layout-v1";
	crypto_generichash_state st;

	/* BLAKE2b works before sodium_init (its reference code is the
	 * default until sodium_init picks a faster one) */
	crypto_generichash_init(&st, NULL, 0, PFL_LAYOUT_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
	for (size_t i = 0; i < l->n; i++) {
		const struct pfl_layout_tensor *t = &l->t[i];
		size_t nl = strlen(t->name);
		put_le(&st, nl, 4);
		crypto_generichash_update(&st, (const uint8_t *)t->name, nl);
		crypto_generichash_update(&st, (const uint8_t *)t->dtype, 8);
		put_le(&st, (uint64_t)t->ndim, 4);
		for (int d = 0; d < t->ndim; d++)
			put_le(&st, (uint64_t)t->shape[d], 8);
	}
	crypto_generichash_final(&st, l->digest, PFL_LAYOUT_DIGEST_BYTES);
}

void
pfl_layout_digest_short(const struct pfl_layout *l, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", l->digest[i]);
}

static bool
is_float_dtype(const char *dt)
{
	return strcmp(dt, "F32") == 0 || strcmp(dt, "F16") == 0 ||
	       strcmp(dt, "BF16") == 0;
}

/* One tensor of f into t (name and carried bytes copied). */
static pfl_err
take_tensor(const struct pfl_st_file *f, const struct pfl_st_tensor *s,
            struct pfl_layout_tensor *t, char *err, size_t errlen)
{
	size_t count = 1;

	if (s->name[0] == '\0') {
		seterr(err, errlen, "a tensor has an empty name");
		return PFL_ERR_FORMAT;
	}
	if (strcmp(s->dtype, "F64") == 0) {
		seterr(err, errlen,
		       "tensor '%.64s' is F64: save the model as float32 "
		       "(model.float()) first; privfl federates F32, F16 and "
		       "BF16 tensors",
		       s->name);
		return PFL_ERR_FORMAT;
	}
	for (int d = 0; d < s->ndim; d++) {
		if (s->shape[d] != 0 &&
		    count > PFL_LAYOUT_MAX_PARAMS / (size_t)s->shape[d]) {
			seterr(err, errlen, "tensor '%.64s' is too large",
			       s->name);
			return PFL_ERR_TOOBIG;
		}
		count *= (size_t)s->shape[d];
	}
	memset(t, 0, sizeof(*t));
	if ((t->name = strdup(s->name)) == NULL)
		return PFL_ERR_NOMEM;
	memcpy(t->dtype, s->dtype, sizeof(t->dtype));
	t->ndim = s->ndim;
	memcpy(t->shape, s->shape, sizeof(t->shape));
	t->count = count;
	t->federated = is_float_dtype(s->dtype);
	if (!t->federated) {
		t->raw_len = (size_t)(s->end - s->begin);
		t->raw = malloc(t->raw_len ? t->raw_len : 1);
		if (t->raw == NULL)
			return PFL_ERR_NOMEM;
		memcpy(t->raw, f->data + s->begin, t->raw_len);
	}
	return PFL_OK;
}

/* The federated values of tensor t (from file bytes src) into dst. */
static void
to_floats(const struct pfl_layout_tensor *t, const uint8_t *src, float *dst)
{
	if (strcmp(t->dtype, "F32") == 0) {
		memcpy(dst, src, t->count * sizeof(float));
		return;
	}
	for (size_t i = 0; i < t->count; i++) {
		uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
		dst[i] = t->dtype[0] == 'F' ? pfl_f16_to_f32(h)
		                            : pfl_bf16_to_f32(h);
	}
}

static pfl_err
assign_offsets(struct pfl_layout *l, char *err, size_t errlen)
{
	size_t off = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct pfl_layout_tensor *t = &l->t[i];
		if (i > 0 && strcmp(l->t[i - 1].name, t->name) == 0) {
			seterr(err, errlen, "duplicate tensor '%.64s'",
			       t->name);
			return PFL_ERR_FORMAT;
		}
		if (!t->federated) {
			l->num_carried++;
			continue;
		}
		if (t->count > PFL_LAYOUT_MAX_PARAMS - off) {
			seterr(err, errlen,
			       "more than %zu float elements in all",
			       PFL_LAYOUT_MAX_PARAMS);
			return PFL_ERR_TOOBIG;
		}
		t->offset = off;
		off += t->count;
	}
	l->num_params = off;
	if (off == 0) {
		seterr(err, errlen,
		       "no F32, F16 or BF16 tensor with elements: nothing to "
		       "federate");
		return PFL_ERR_FORMAT;
	}
	return PFL_OK;
}

static pfl_err
fill_params(const struct pfl_st_file *f, const struct pfl_layout *l,
            float **params)
{
	float *p = malloc(l->num_params * sizeof(float));

	if (p == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < l->n; i++) {
		const struct pfl_layout_tensor *t = &l->t[i];
		if (!t->federated)
			continue;
		for (size_t k = 0; k < f->ntensors; k++)
			if (strcmp(f->tensors[k].name, t->name) == 0)
				to_floats(t, f->data + f->tensors[k].begin,
				          p + t->offset);
	}
	*params = p;
	return PFL_OK;
}

pfl_err
pfl_layout_from_st(const struct pfl_st_file *f, struct pfl_layout *out,
                   float **params, char *err, size_t errlen)
{
	struct pfl_layout l;
	pfl_err rv = PFL_OK;

	if (f == NULL || out == NULL)
		return PFL_ERR_INVAL;
	memset(&l, 0, sizeof(l));
	if (f->ntensors == 0) {
		seterr(err, errlen, "the file holds no tensors");
		return PFL_ERR_FORMAT;
	}
	if ((l.t = calloc(f->ntensors, sizeof(*l.t))) == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; rv == PFL_OK && i < f->ntensors; i++) {
		rv = take_tensor(f, &f->tensors[i], &l.t[i], err, errlen);
		l.n = i + 1; /* owns what take_tensor copied, even half-way */
	}
	if (rv == PFL_OK) {
		qsort(l.t, l.n, sizeof(*l.t), cmp_name);
		rv = assign_offsets(&l, err, errlen);
	}
	if (rv == PFL_OK && params != NULL)
		rv = fill_params(f, &l, params);
	if (rv != PFL_OK) {
		pfl_layout_fini(&l);
		return rv;
	}
	digest(&l);
	*out = l;
	return PFL_OK;
}

pfl_err
pfl_layout_load(const char *path, struct pfl_layout *out, float **params,
                char *err, size_t errlen)
{
	struct pfl_st_file f;
	uint8_t *buf = NULL;
	size_t len = 0;
	pfl_err rv;

	if (path == NULL || out == NULL)
		return PFL_ERR_INVAL;
	rv = pfl_file_read(path, PFL_ST_MAX_FILE, &buf, &len);
	if (rv != PFL_OK) {
		seterr(err, errlen, "%s", pfl_strerror(rv));
		return rv;
	}
	rv = pfl_safetensors_parse_err(buf, len, &f, err, errlen);
	if (rv == PFL_OK) {
		rv = pfl_layout_from_st(&f, out, params, err, errlen);
		pfl_st_file_fini(&f);
	}
	free(buf);
	return rv;
}

static size_t
elem_size(const struct pfl_layout_tensor *t)
{
	if (strcmp(t->dtype, "F32") == 0)
		return 4;
	return 2; /* F16, BF16 */
}

static pfl_err
build_header(const struct pfl_layout *l, const struct pfl_st_meta *meta,
             size_t nmeta, struct pfl_buf *b)
{
	char hex[2 * PFL_LAYOUT_DIGEST_BYTES + 1];
	size_t off = 0;
	pfl_err rv;

	for (int i = 0; i < PFL_LAYOUT_DIGEST_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", l->digest[i]);
	rv = pfl_buf_printf(b,
	                    "{\"__metadata__\":{\"privfl.model\":\"custom\","
	                    "\"privfl.layout\":\"%s\"",
	                    hex);
	for (size_t i = 0; rv == PFL_OK && i < nmeta; i++) {
		if (meta[i].key == NULL || meta[i].value == NULL ||
		    strncmp(meta[i].key, "privfl.", 7) == 0)
			return PFL_ERR_INVAL;
		rv = pfl_buf_append(b, ",", 1);
		if (rv == PFL_OK)
			rv = pfli_st_json_str(b, meta[i].key);
		if (rv == PFL_OK)
			rv = pfl_buf_append(b, ":", 1);
		if (rv == PFL_OK)
			rv = pfli_st_json_str(b, meta[i].value);
	}
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, "}", 1);
	for (size_t i = 0; rv == PFL_OK && i < l->n; i++) {
		const struct pfl_layout_tensor *t = &l->t[i];
		size_t bytes =
		        t->federated ? t->count * elem_size(t) : t->raw_len;
		rv = pfl_buf_append(b, ",", 1);
		if (rv == PFL_OK)
			rv = pfli_st_json_str(b, t->name);
		if (rv == PFL_OK)
			rv = pfl_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[",
			                    t->dtype);
		for (int d = 0; rv == PFL_OK && d < t->ndim; d++)
			rv = pfl_buf_printf(b, "%s%" PRId64, d ? "," : "",
			                    t->shape[d]);
		if (rv == PFL_OK)
			rv = pfl_buf_printf(b, "],\"data_offsets\":[%zu,%zu]}",
			                    off, off + bytes);
		off += bytes;
	}
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, "}", 1);
	while (rv == PFL_OK && b->len % 8 != 0)
		rv = pfl_buf_append(b, " ", 1);
	return rv;
}

/* The data section: every tensor's bytes in layout order. */
static pfl_err
build_data(const struct pfl_layout *l, const float *params, struct pfl_buf *b)
{
	pfl_err rv = PFL_OK;

	for (size_t i = 0; rv == PFL_OK && i < l->n; i++) {
		const struct pfl_layout_tensor *t = &l->t[i];
		const float *v = params + t->offset;
		if (!t->federated) {
			rv = pfl_buf_append(b, t->raw, t->raw_len);
			continue;
		}
		if (strcmp(t->dtype, "F32") == 0) {
			rv = pfl_buf_append(b, v, t->count * sizeof(float));
			continue;
		}
		for (size_t k = 0; rv == PFL_OK && k < t->count; k++) {
			uint16_t h = t->dtype[0] == 'F' ? pfl_f32_to_f16(v[k])
			                                : pfl_f32_to_bf16(v[k]);
			uint8_t le[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
			rv = pfl_buf_append(b, le, 2);
		}
	}
	return rv;
}

pfl_err
pfl_layout_save(const struct pfl_layout *l, const float *params,
                const struct pfl_st_meta *meta, size_t nmeta, const char *path)
{
	struct pfl_buf hdr, data;
	struct pfl_file_part parts[3];
	uint8_t len8[8];
	pfl_err rv;

	if (l == NULL || l->n == 0 || params == NULL || path == NULL ||
	    (nmeta > 0 && meta == NULL) || nmeta > PFL_ST_MAX_META)
		return PFL_ERR_INVAL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "layout writer: add a byte swap for big-endian hosts"
#endif
	pfl_buf_init(&hdr, PFL_ST_MAX_HEADER);
	pfl_buf_init(&data, 0);
	rv = build_header(l, meta, nmeta, &hdr);
	if (rv == PFL_OK)
		rv = build_data(l, params, &data);
	if (rv == PFL_OK) {
		for (int i = 0; i < 8; i++)
			len8[i] = (uint8_t)((uint64_t)hdr.len >> (8 * i));
		parts[0] = (struct pfl_file_part){len8, 8};
		parts[1] = (struct pfl_file_part){hdr.data, hdr.len};
		parts[2] = (struct pfl_file_part){data.data, data.len};
		rv = pfl_file_write_atomic_parts(path, parts, 3, 0644);
	}
	pfl_buf_fini(&hdr);
	pfl_buf_fini(&data);
	return rv;
}
