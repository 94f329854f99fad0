/* IDX (MNIST-format) readers, plain or gzip-compressed, and helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "privfl/file.h"
#include "privfl/log.h"

#include "model_int.h"

void
pfl_dataset_fini(struct pfl_dataset *ds)
{
	if (ds == NULL)
		return;
	free(ds->x);
	free(ds->y);
	memset(ds, 0, sizeof(*ds));
}

void
pfl_dataset_class_counts(const struct pfl_dataset *ds, const uint32_t *idx,
                         size_t n, size_t *counts)
{
	if (idx == NULL)
		n = ds->n;
	memset(counts, 0, (size_t)ds->classes * sizeof(*counts));
	for (size_t i = 0; i < n; i++) {
		int32_t y = ds->y[idx != NULL ? idx[i] : i];
		if (y >= 0 && y < ds->classes)
			counts[y]++;
	}
}

/* Inflate a gzip member into a malloc'd buffer of at most max bytes. */
static pfl_err
gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uint8_t *buf, *nb;
	size_t cap = len < max / 4 ? len * 4 + 4096 : max, used = 0;
	pfl_err err = PFL_OK;

	if (cap > max)
		cap = max;
	buf = malloc(cap);
	if (buf == NULL)
		return PFL_ERR_NOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return PFL_ERR_NOMEM;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	for (;;) {
		size_t in_left, room;
		int rc;
		if (used == cap) {
			if (cap >= max) {
				err = PFL_ERR_TOOBIG;
				break;
			}
			cap = cap > max / 2 ? max : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				err = PFL_ERR_NOMEM;
				break;
			}
			buf = nb;
		}
		in_left = len - (size_t)(zs.next_in - in);
		room = cap - used;
		zs.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
		zs.next_out = buf + used;
		zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
		room = zs.avail_out;
		rc = inflate(&zs, Z_NO_FLUSH);
		used += room - zs.avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_OK || (rc == Z_BUF_ERROR && used == cap))
			continue;
		err = PFL_ERR_FORMAT; /* corrupt or truncated */
		break;
	}
	inflateEnd(&zs);
	if (err != PFL_OK) {
		free(buf);
		return err;
	}
	*out = buf;
	*outlen = used;
	return PFL_OK;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Parse an IDX header of unsigned bytes: dims[0..ndim), payload offset. */
static pfl_err
idx_header(const uint8_t *p, size_t len, uint32_t *dims, int *ndim,
           size_t *payload)
{
	uint64_t total = 1;
	int nd;

	if (len < 4 || p[0] != 0 || p[1] != 0)
		return PFL_ERR_FORMAT;
	if (p[2] != 0x08) /* unsigned byte */
		return PFL_ERR_FORMAT;
	nd = p[3];
	if (nd < 1 || nd > 3 || len < 4 + 4 * (size_t)nd)
		return PFL_ERR_FORMAT;
	for (int i = 0; i < nd; i++) {
		dims[i] = be32(p + 4 + 4 * i);
		total *= dims[i];
		if (total > PFL_IDX_MAX_BYTES)
			return PFL_ERR_TOOBIG;
	}
	*ndim = nd;
	*payload = 4 + 4 * (size_t)nd;
	if (len - *payload != total)
		return PFL_ERR_FORMAT;
	return PFL_OK;
}

static pfl_err
maybe_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
             const uint8_t **data, size_t *dlen)
{
	pfl_err err;

	*out = NULL;
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		err = gunzip(in, len, PFL_IDX_MAX_BYTES, out, outlen);
		if (err != PFL_OK)
			return err;
		*data = *out;
		*dlen = *outlen;
		return PFL_OK;
	}
	*data = in;
	*dlen = len;
	return PFL_OK;
}

static pfl_err
idx_build(const uint8_t *img, size_t img_len, const uint8_t *lab,
          size_t lab_len, struct pfl_dataset *out)
{
	uint32_t idims[3] = {0}, ldims[3] = {0};
	int ind, lnd, maxlab = 0;
	size_t ioff, loff, n, dim;
	struct pfl_dataset ds;
	pfl_err err;

	if ((err = idx_header(img, img_len, idims, &ind, &ioff)) != PFL_OK ||
	    (err = idx_header(lab, lab_len, ldims, &lnd, &loff)) != PFL_OK)
		return err;
	if (ind < 2 || lnd != 1 || idims[0] != ldims[0] || idims[0] == 0)
		return PFL_ERR_FORMAT;
	n = idims[0];
	dim = ind == 3 ? (size_t)idims[1] * idims[2] : idims[1];
	if (n > PFL_IDX_MAX_SAMPLES || dim > PFL_IDX_MAX_DIM)
		return PFL_ERR_TOOBIG;
	if (dim == 0 || (ind == 3 && (idims[1] > 65535 || idims[2] > 65535)))
		return PFL_ERR_FORMAT;
	memset(&ds, 0, sizeof(ds));
	ds.n = n;
	ds.dim = dim;
	ds.c = 1;
	ds.h = ind == 3 ? (int)idims[1] : 1;
	ds.w = ind == 3 ? (int)idims[2] : (int)dim;
	ds.x = malloc(n * dim * sizeof(float));
	ds.y = malloc(n * sizeof(int32_t));
	if (ds.x == NULL || ds.y == NULL) {
		pfl_dataset_fini(&ds);
		return PFL_ERR_NOMEM;
	}
	for (size_t i = 0; i < n * dim; i++)
		ds.x[i] = (float)img[ioff + i] * (1.0f / 255.0f);
	for (size_t i = 0; i < n; i++) {
		ds.y[i] = lab[loff + i];
		if (ds.y[i] > maxlab)
			maxlab = ds.y[i];
	}
	ds.classes = maxlab + 1;
	*out = ds;
	return PFL_OK;
}

pfl_err
pfli_idx_decode(const uint8_t *img, size_t img_len, const uint8_t *lab,
                size_t lab_len, struct pfl_dataset *out)
{
	uint8_t *ib = NULL, *lb = NULL;
	const uint8_t *ip, *lp;
	size_t ibl, lbl, il, ll;
	pfl_err err;

	if (img == NULL || lab == NULL || out == NULL)
		return PFL_ERR_INVAL;
	err = maybe_gunzip(img, img_len, &ib, &ibl, &ip, &il);
	if (err == PFL_OK)
		err = maybe_gunzip(lab, lab_len, &lb, &lbl, &lp, &ll);
	if (err == PFL_OK)
		err = idx_build(ip, il, lp, ll, out);
	free(ib);
	free(lb);
	return err;
}

pfl_err
pfl_dataset_load_idx(const char *images_path, const char *labels_path,
                     struct pfl_dataset *out)
{
	uint8_t *img = NULL, *lab = NULL;
	size_t il = 0, ll = 0;
	pfl_err err;

	if (images_path == NULL || labels_path == NULL || out == NULL)
		return PFL_ERR_INVAL;
	err = pfl_file_read(images_path, PFL_IDX_MAX_BYTES, &img, &il);
	if (err == PFL_OK)
		err = pfl_file_read(labels_path, PFL_IDX_MAX_BYTES, &lab, &ll);
	if (err == PFL_OK)
		err = pfli_idx_decode(img, il, lab, ll, out);
	else
		pfl_log(PFL_LOG_WARN, "idx: cannot read %s or %s: %s",
		        images_path, labels_path, pfl_strerror(err));
	free(img);
	free(lab);
	return err;
}

static bool
file_exists(const char *p)
{
	FILE *f = fopen(p, "rb");

	if (f == NULL)
		return false;
	fclose(f);
	return true;
}

pfl_err
pfl_dataset_load_fmnist(const char *dir, bool train, struct pfl_dataset *out)
{
	const char *pre = train ? "train" : "t10k";
	char img[1024], lab[1024];
	struct pfl_dataset ds;
	pfl_err err;

	if (out == NULL)
		return PFL_ERR_INVAL;
	if (dir == NULL)
		dir = PFL_FMNIST_DIR;
	snprintf(img, sizeof(img), "%s/%s-images-idx3-ubyte.gz", dir, pre);
	snprintf(lab, sizeof(lab), "%s/%s-labels-idx1-ubyte.gz", dir, pre);
	if (!file_exists(img)) {
		snprintf(img, sizeof(img), "%s/%s-images-idx3-ubyte", dir, pre);
		snprintf(lab, sizeof(lab), "%s/%s-labels-idx1-ubyte", dir, pre);
	}
	if (!file_exists(img) || !file_exists(lab))
		return PFL_ERR_NOTFOUND;
	if ((err = pfl_dataset_load_idx(img, lab, &ds)) != PFL_OK)
		return err;
	if (ds.h != 28 || ds.w != 28 || ds.classes > 10) {
		pfl_dataset_fini(&ds);
		return PFL_ERR_FORMAT;
	}
	ds.classes = 10;
	*out = ds;
	return PFL_OK;
}
