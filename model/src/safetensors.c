/* safetensors writer and a hardened reader (small JSON parser). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "privfl/buf.h"
#include "privfl/file.h"
#include "privfl/safetensors.h"

enum { MAX_STR = 4096 };

pfl_err
pfli_st_json_str(struct pfl_buf *b, const char *s)
{
	pfl_err err = pfl_buf_append(b, "\"", 1);

	for (; err == PFL_OK && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			err = pfl_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			err = pfl_buf_printf(b, "\\u%04x", ch);
		else
			err = pfl_buf_append(b, s, 1);
	}
	if (err == PFL_OK)
		err = pfl_buf_append(b, "\"", 1);
	return err;
}

static pfl_err
build_header(const struct pfl_model_spec *spec, const struct pfl_st_meta *meta,
             size_t nmeta, struct pfl_buf *b)
{
	struct pfl_tensor_info ti;
	char name[PFL_MODEL_NAME_MAX], tmp[64];
	pfl_err err;

	pfl_model_spec_name(spec, name, sizeof(name));
	err = pfl_buf_printf(b, "{\"__metadata__\":{\"privfl.model\":");
	if (err == PFL_OK)
		err = pfli_st_json_str(b, name);
	snprintf(tmp, sizeof(tmp), "%d,%d,%d", spec->in_c, spec->in_h,
	         spec->in_w);
	if (err == PFL_OK)
		err = pfl_buf_printf(b,
		                     ",\"privfl.input\":\"%s\","
		                     "\"privfl.classes\":\"%d\"",
		                     tmp, spec->classes);
	for (size_t i = 0; err == PFL_OK && i < nmeta; i++) {
		if (meta[i].key == NULL || meta[i].value == NULL ||
		    strcmp(meta[i].key, "privfl.model") == 0 ||
		    strcmp(meta[i].key, "privfl.input") == 0 ||
		    strcmp(meta[i].key, "privfl.classes") == 0)
			return PFL_ERR_INVAL;
		err = pfl_buf_append(b, ",", 1);
		if (err == PFL_OK)
			err = pfli_st_json_str(b, meta[i].key);
		if (err == PFL_OK)
			err = pfl_buf_append(b, ":", 1);
		if (err == PFL_OK)
			err = pfli_st_json_str(b, meta[i].value);
	}
	if (err == PFL_OK)
		err = pfl_buf_append(b, "}", 1);
	for (size_t i = 0; err == PFL_OK && pfl_model_spec_tensor(spec, i, &ti);
	     i++) {
		err = pfl_buf_printf(
		        b, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", ti.name);
		for (int d = 0; err == PFL_OK && d < ti.ndim; d++)
			err = pfl_buf_printf(b, "%s%" PRId64, d ? "," : "",
			                     ti.shape[d]);
		if (err == PFL_OK)
			err = pfl_buf_printf(b, "],\"data_offsets\":[%zu,%zu]}",
			                     ti.offset * 4,
			                     (ti.offset + ti.count) * 4);
	}
	if (err == PFL_OK)
		err = pfl_buf_append(b, "}", 1);
	while (err == PFL_OK && b->len % 8 != 0) /* align the data */
		err = pfl_buf_append(b, " ", 1);
	return err;
}

pfl_err
pfl_safetensors_save(const struct pfl_model_spec *spec, const float *params,
                     const struct pfl_st_meta *meta, size_t nmeta,
                     const char *path)
{
	struct pfl_buf hdr;
	struct pfl_file_part parts[3];
	uint8_t len8[8];
	size_t np;
	pfl_err err;

	if (spec == NULL || params == NULL || path == NULL ||
	    (nmeta > 0 && meta == NULL) || nmeta > PFL_ST_MAX_META)
		return PFL_ERR_INVAL;
	np = pfl_model_spec_num_params(spec);
	if (np == 0)
		return PFL_ERR_INVAL;
	pfl_buf_init(&hdr, PFL_ST_MAX_HEADER);
	err = build_header(spec, meta, nmeta, &hdr);
	if (err != PFL_OK)
		goto out_free_hdr;
	for (int i = 0; i < 8; i++)
		len8[i] = (uint8_t)((uint64_t)hdr.len >> (8 * i));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "safetensors writer: add a byte swap for big-endian hosts"
#endif
	parts[0] = (struct pfl_file_part){len8, 8};
	parts[1] = (struct pfl_file_part){hdr.data, hdr.len};
	parts[2] = (struct pfl_file_part){params, np * sizeof(float)};
	err = pfl_file_write_atomic_parts(path, parts, 3, 0644);
out_free_hdr:
	pfl_buf_fini(&hdr);
	return err;
}

/* ---- reader ---- */

struct jp {
	const char *p, *end;
};

static void
ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	                         *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool
eat(struct jp *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;

	if (j->end - j->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return true;
}

static void
put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Parse a JSON string into a malloc'd, NUL-terminated copy (if out). */
static pfl_err
jstring(struct jp *j, char **out)
{
	char buf[MAX_STR + 8];
	size_t n = 0;

	if (!eat(j, '"'))
		return PFL_ERR_FORMAT;
	for (;;) {
		unsigned char c;
		if (j->p >= j->end || n > MAX_STR)
			return PFL_ERR_FORMAT;
		c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20 || c == 0)
			return PFL_ERR_FORMAT;
		if (c != '\\') {
			buf[n++] = (char)c;
			continue;
		}
		if (j->p >= j->end)
			return PFL_ERR_FORMAT;
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			buf[n++] = (char)c;
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'u': {
			unsigned cp, lo;
			if (!hex4(j, &cp) || cp == 0)
				return PFL_ERR_FORMAT;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (j->end - j->p < 2 || j->p[0] != '\\' ||
				    j->p[1] != 'u')
					return PFL_ERR_FORMAT;
				j->p += 2;
				if (!hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return PFL_ERR_FORMAT;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return PFL_ERR_FORMAT;
			}
			put_utf8(buf, &n, cp);
			break;
		}
		default:
			return PFL_ERR_FORMAT;
		}
	}
	if (out != NULL) {
		*out = malloc(n + 1);
		if (*out == NULL)
			return PFL_ERR_NOMEM;
		memcpy(*out, buf, n);
		(*out)[n] = '\0';
	}
	return PFL_OK;
}

/* A non-negative integer that fits in int64. */
static pfl_err
juint(struct jp *j, uint64_t *out)
{
	uint64_t v = 0;
	const char *s;

	ws(j);
	s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		unsigned d = (unsigned)(*j->p - '0');
		if (v > (uint64_t)(INT64_MAX - d) / 10)
			return PFL_ERR_FORMAT;
		v = v * 10 + d;
		j->p++;
	}
	if (j->p == s || (j->p - s > 1 && *s == '0'))
		return PFL_ERR_FORMAT;
	*out = v;
	return PFL_OK;
}

static pfl_err
juint_array(struct jp *j, uint64_t *v, int max, int *n)
{
	pfl_err err;

	*n = 0;
	if (!eat(j, '['))
		return PFL_ERR_FORMAT;
	if (eat(j, ']'))
		return PFL_OK;
	do {
		if (*n >= max)
			return PFL_ERR_FORMAT;
		if ((err = juint(j, &v[*n])) != PFL_OK)
			return err;
		(*n)++;
	} while (eat(j, ','));
	return eat(j, ']') ? PFL_OK : PFL_ERR_FORMAT;
}

static pfl_err
parse_tensor(struct jp *j, struct pfl_st_tensor *t)
{
	bool have_dtype = false, have_shape = false, have_off = false;
	pfl_err err;

	if (!eat(j, '{'))
		return PFL_ERR_FORMAT;
	if (eat(j, '}'))
		return PFL_ERR_FORMAT;
	do {
		char *key = NULL;
		if ((err = jstring(j, &key)) != PFL_OK)
			return err;
		if (!eat(j, ':')) {
			free(key);
			return PFL_ERR_FORMAT;
		}
		if (strcmp(key, "dtype") == 0 && !have_dtype) {
			char *dt = NULL;
			err = jstring(j, &dt);
			if (err == PFL_OK && strlen(dt) >= sizeof(t->dtype))
				err = PFL_ERR_FORMAT;
			if (err == PFL_OK)
				strcpy(t->dtype, dt);
			free(dt);
			have_dtype = true;
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			uint64_t v[PFL_ST_MAX_NDIM];
			err = juint_array(j, v, PFL_ST_MAX_NDIM, &t->ndim);
			for (int i = 0; err == PFL_OK && i < t->ndim; i++)
				t->shape[i] = (int64_t)v[i];
			have_shape = true;
		} else if (strcmp(key, "data_offsets") == 0 && !have_off) {
			uint64_t v[2];
			int n;
			err = juint_array(j, v, 2, &n);
			if (err == PFL_OK && (n != 2 || v[0] > v[1]))
				err = PFL_ERR_FORMAT;
			t->begin = v[0];
			t->end = v[1];
			have_off = true;
		} else {
			err = PFL_ERR_FORMAT; /* unknown or repeated key */
		}
		free(key);
		if (err != PFL_OK)
			return err;
	} while (eat(j, ','));
	if (!eat(j, '}') || !have_dtype || !have_shape || !have_off)
		return PFL_ERR_FORMAT;
	return PFL_OK;
}

static pfl_err
parse_meta(struct jp *j, struct pfl_st_file *f)
{
	pfl_err err;

	if (f->meta_keys != NULL || !eat(j, '{'))
		return PFL_ERR_FORMAT; /* repeated __metadata__ */
	f->meta_keys = calloc(PFL_ST_MAX_META, sizeof(char *));
	f->meta_values = calloc(PFL_ST_MAX_META, sizeof(char *));
	if (f->meta_keys == NULL || f->meta_values == NULL)
		return PFL_ERR_NOMEM;
	if (eat(j, '}'))
		return PFL_OK;
	do {
		if (f->nmeta >= PFL_ST_MAX_META)
			return PFL_ERR_TOOBIG;
		if ((err = jstring(j, &f->meta_keys[f->nmeta])) != PFL_OK)
			return err;
		f->nmeta++; /* owns the key from here on */
		if (!eat(j, ':'))
			return PFL_ERR_FORMAT;
		err = jstring(j, &f->meta_values[f->nmeta - 1]);
		if (err != PFL_OK)
			return err;
	} while (eat(j, ','));
	return eat(j, '}') ? PFL_OK : PFL_ERR_FORMAT;
}

void
pfl_st_file_fini(struct pfl_st_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->ntensors; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	for (size_t i = 0; i < f->nmeta; i++) {
		free(f->meta_keys[i]);
		if (f->meta_values != NULL)
			free(f->meta_values[i]);
	}
	free(f->meta_keys);
	free(f->meta_values);
	memset(f, 0, sizeof(*f));
}

static size_t
dtype_size(const char *dt)
{
	static const struct {
		const char *name;
		size_t size;
	} tab[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
	           {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U64", 8},  {"U32", 4},
	           {"U16", 2}, {"U8", 1},  {"BOOL", 1}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(dt, tab[i].name) == 0)
			return tab[i].size;
	return 0;
}

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

/* "[200, 784]" */
static void
shape_str(const int64_t *shape, int ndim, char *out, size_t cap)
{
	size_t n = 0;

	n += (size_t)snprintf(out, cap, "[");
	for (int d = 0; d < ndim && n < cap; d++)
		n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64,
		                      d ? ", " : "", shape[d]);
	if (n < cap)
		snprintf(out + n, cap - n, "]");
}

/* Each tensor's byte size must match dtype x shape and lie inside data. */
static pfl_err
check_tensors(const struct pfl_st_file *f, char *err, size_t errlen)
{
	for (size_t i = 0; i < f->ntensors; i++) {
		const struct pfl_st_tensor *t = &f->tensors[i];
		uint64_t n = dtype_size(t->dtype);
		if (n == 0) {
			seterr(err, errlen,
			       "tensor '%.64s': unknown dtype '%s'", t->name,
			       t->dtype);
			return PFL_ERR_FORMAT;
		}
		for (int d = 0; d < t->ndim; d++) {
			uint64_t s = (uint64_t)t->shape[d];
			if (s != 0 && n > UINT64_MAX / s)
				return PFL_ERR_FORMAT;
			n *= s;
		}
		if (t->end > f->data_len) {
			seterr(err, errlen,
			       "truncated: tensor '%.64s' ends at data byte "
			       "%" PRIu64 ", the file holds %zu",
			       t->name, t->end, f->data_len);
			return PFL_ERR_FORMAT;
		}
		if (t->end - t->begin != n) {
			seterr(err, errlen,
			       "tensor '%.64s': %" PRIu64 " bytes for dtype "
			       "x shape %" PRIu64,
			       t->name, t->end - t->begin, n);
			return PFL_ERR_FORMAT;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(f->tensors[k].name, t->name) == 0) {
				seterr(err, errlen, "duplicate tensor '%.64s'",
				       t->name);
				return PFL_ERR_FORMAT;
			}
	}
	return PFL_OK;
}

static pfl_err
parse_header(struct jp *j, struct pfl_st_file *f)
{
	size_t cap = 0;
	pfl_err err;

	if (!eat(j, '{'))
		return PFL_ERR_FORMAT;
	if (eat(j, '}'))
		return PFL_OK;
	do {
		char *key = NULL;
		if ((err = jstring(j, &key)) != PFL_OK)
			return err;
		if (!eat(j, ':')) {
			free(key);
			return PFL_ERR_FORMAT;
		}
		if (strcmp(key, "__metadata__") == 0) {
			free(key);
			if ((err = parse_meta(j, f)) != PFL_OK)
				return err;
			continue;
		}
		if (f->ntensors == cap) {
			struct pfl_st_tensor *nt;
			if (cap >= PFL_ST_MAX_TENSORS) {
				free(key);
				return PFL_ERR_TOOBIG;
			}
			cap = cap ? cap * 2 : 16;
			nt = realloc(f->tensors, cap * sizeof(*nt));
			if (nt == NULL) {
				free(key);
				return PFL_ERR_NOMEM;
			}
			f->tensors = nt;
		}
		memset(&f->tensors[f->ntensors], 0, sizeof(*f->tensors));
		f->tensors[f->ntensors].name = key;
		f->ntensors++;
		err = parse_tensor(j, &f->tensors[f->ntensors - 1]);
		if (err != PFL_OK)
			return err;
	} while (eat(j, ','));
	if (!eat(j, '}'))
		return PFL_ERR_FORMAT;
	ws(j);
	return j->p == j->end ? PFL_OK : PFL_ERR_FORMAT;
}

pfl_err
pfl_safetensors_parse_err(const uint8_t *buf, size_t len,
                          struct pfl_st_file *out, char *errbuf, size_t errlen)
{
	struct pfl_st_file f;
	struct jp j;
	uint64_t hlen = 0;
	pfl_err err;

	if (buf == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if (len < 8) {
		seterr(errbuf, errlen,
		       "truncated: %zu bytes, shorter than the 8-byte header "
		       "length",
		       len);
		return PFL_ERR_FORMAT;
	}
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | buf[i];
	if (hlen > PFL_ST_MAX_HEADER) {
		seterr(errbuf, errlen,
		       "header length %" PRIu64 " over the %u-byte limit", hlen,
		       PFL_ST_MAX_HEADER);
		return PFL_ERR_TOOBIG;
	}
	if (hlen > len - 8) {
		seterr(errbuf, errlen,
		       "truncated: the header is %" PRIu64 " bytes, the file "
		       "has %zu after the length",
		       hlen, len - 8);
		return PFL_ERR_FORMAT;
	}
	if (hlen < 2) {
		seterr(errbuf, errlen,
		       "not a safetensors file (header length "
		       "%" PRIu64 ")",
		       hlen);
		return PFL_ERR_FORMAT;
	}
	memset(&f, 0, sizeof(f));
	j.p = (const char *)buf + 8;
	j.end = j.p + hlen;
	err = parse_header(&j, &f);
	if (err == PFL_ERR_TOOBIG)
		seterr(errbuf, errlen,
		       "more than %d tensors or %d metadata "
		       "entries",
		       PFL_ST_MAX_TENSORS, PFL_ST_MAX_META);
	else if (err != PFL_OK)
		seterr(errbuf, errlen, "malformed JSON header near byte %zu",
		       (size_t)(j.p - (const char *)buf));
	if (err == PFL_OK) {
		f.data = buf + 8 + hlen;
		f.data_len = len - 8 - (size_t)hlen;
		err = check_tensors(&f, errbuf, errlen);
	}
	if (err != PFL_OK) {
		pfl_st_file_fini(&f);
		return err;
	}
	*out = f;
	return PFL_OK;
}

pfl_err
pfl_safetensors_parse(const uint8_t *buf, size_t len, struct pfl_st_file *out)
{
	return pfl_safetensors_parse_err(buf, len, out, NULL, 0);
}

const char *
pfl_st_file_meta(const struct pfl_st_file *f, const char *key)
{
	for (size_t i = 0; i < f->nmeta; i++)
		if (f->meta_values[i] != NULL &&
		    strcmp(f->meta_keys[i], key) == 0)
			return f->meta_values[i];
	return NULL;
}

/* Why f does not hold exactly spec's tensors ("does not match ..."). */
static pfl_err
mismatch(const struct pfl_model_spec *spec, const struct pfl_tensor_info *ti,
         const char *extra, char *err, size_t errlen)
{
	char name[64], shape[96];

	pfl_model_spec_name(spec, name, sizeof(name));
	if (ti != NULL) {
		shape_str(ti->shape, ti->ndim, shape, sizeof(shape));
		seterr(err, errlen,
		       "does not match architecture %s on input %dx%dx%d, %d "
		       "classes (expected tensor %s of shape %s, F32)",
		       name, spec->in_c, spec->in_h, spec->in_w, spec->classes,
		       ti->name, shape);
	} else {
		seterr(err, errlen,
		       "does not match architecture %s (unexpected tensor "
		       "'%.64s')",
		       name, extra);
	}
	return PFL_ERR_FORMAT;
}

pfl_err
pfl_st_file_to_params_err(const struct pfl_st_file *f,
                          const struct pfl_model_spec *spec, float *params,
                          char *err, size_t errlen)
{
	struct pfl_tensor_info ti;
	size_t i, nt = 0;

	if (f == NULL || spec == NULL || params == NULL ||
	    pfl_model_spec_num_params(spec) == 0)
		return PFL_ERR_INVAL;
	/* check everything before writing anything */
	for (i = 0; pfl_model_spec_tensor(spec, i, &ti); i++) {
		const struct pfl_st_tensor *t = NULL;
		for (size_t k = 0; k < f->ntensors; k++)
			if (strcmp(f->tensors[k].name, ti.name) == 0)
				t = &f->tensors[k];
		if (t == NULL || strcmp(t->dtype, "F32") != 0 ||
		    t->ndim != ti.ndim)
			return mismatch(spec, &ti, NULL, err, errlen);
		for (int d = 0; d < ti.ndim; d++)
			if (t->shape[d] != ti.shape[d])
				return mismatch(spec, &ti, NULL, err, errlen);
		nt++;
	}
	if (nt != f->ntensors) {
		for (size_t k = 0; k < f->ntensors; k++) {
			bool known = false;
			for (i = 0; pfl_model_spec_tensor(spec, i, &ti); i++)
				known = known || strcmp(f->tensors[k].name,
				                        ti.name) == 0;
			if (!known)
				return mismatch(spec, NULL, f->tensors[k].name,
				                err, errlen);
		}
		return PFL_ERR_FORMAT;
	}
	for (i = 0; pfl_model_spec_tensor(spec, i, &ti); i++)
		for (size_t k = 0; k < f->ntensors; k++)
			if (strcmp(f->tensors[k].name, ti.name) == 0)
				memcpy(params + ti.offset,
				       f->data + f->tensors[k].begin,
				       ti.count * sizeof(float));
	return PFL_OK;
}

pfl_err
pfl_st_file_to_params(const struct pfl_st_file *f,
                      const struct pfl_model_spec *spec, float *params)
{
	return pfl_st_file_to_params_err(f, spec, params, NULL, 0);
}

pfl_err
pfl_safetensors_load(const struct pfl_model_spec *spec, const char *path,
                     float *params)
{
	struct pfl_st_file f;
	uint8_t *buf = NULL;
	size_t len = 0;
	pfl_err err;

	if (spec == NULL || path == NULL || params == NULL)
		return PFL_ERR_INVAL;
	err = pfl_file_read(path, PFL_ST_MAX_FILE, &buf, &len);
	if (err != PFL_OK)
		return err;
	err = pfl_safetensors_parse(buf, len, &f);
	if (err == PFL_OK) {
		err = pfl_st_file_to_params(&f, spec, params);
		pfl_st_file_fini(&f);
	}
	free(buf);
	return err;
}
