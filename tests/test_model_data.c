/* Tests of model/ data paths: IDX files, safetensors, partitioners, CSV. */

/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "privfl/buf.h"
#include "privfl/csv.h"
#include "privfl/dataset.h"
#include "privfl/file.h"
#include "privfl/model.h"
#include "privfl/partition.h"
#include "privfl/rng.h"
#include "privfl/safetensors.h"

#include "../model/src/model_int.h"

static char tmpdir[256];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_model_XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
tmp_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

/* ---- IDX ---- */

static size_t
make_idx(uint8_t *buf, int ndim, const uint32_t *dims, uint8_t seed)
{
	size_t n = 4, total = 1;

	buf[0] = buf[1] = 0;
	buf[2] = 8;
	buf[3] = (uint8_t)ndim;
	for (int i = 0; i < ndim; i++) {
		buf[n++] = (uint8_t)(dims[i] >> 24);
		buf[n++] = (uint8_t)(dims[i] >> 16);
		buf[n++] = (uint8_t)(dims[i] >> 8);
		buf[n++] = (uint8_t)dims[i];
		total *= dims[i];
	}
	for (size_t i = 0; i < total; i++)
		buf[n++] = (uint8_t)((i * 37 + seed) % (ndim == 1 ? 3 : 256));
	return n;
}

static void
test_idx(void **state)
{
	uint8_t img[4 + 12 + 3 * 4 * 5], lab[4 + 4 + 3];
	uint32_t idims[3] = {3, 4, 5}, ldims[1] = {3};
	size_t il = make_idx(img, 3, idims, 1), ll = make_idx(lab, 1, ldims, 0);
	char pi[300], pl[300];
	struct pfl_dataset ds = {0}, ds2 = {0};
	gzFile gz;

	(void)state;
	assert_int_equal(pfli_idx_decode(img, il, lab, ll, &ds), PFL_OK);
	assert_int_equal(ds.n, 3);
	assert_int_equal(ds.dim, 20);
	assert_int_equal(ds.h, 4);
	assert_int_equal(ds.w, 5);
	assert_int_equal(ds.classes, 3);
	assert_true(fabsf(ds.x[1] - (float)((37 + 1) % 256) / 255.0f) < 1e-7f);
	assert_int_equal(ds.y[1], 37 % 3);
	/* the same through files, images gzip-compressed */
	tmp_path(pi, sizeof(pi), "img.gz");
	tmp_path(pl, sizeof(pl), "lab");
	gz = gzopen(pi, "wb");
	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, img, (unsigned)il), (int)il);
	gzclose(gz);
	assert_int_equal(pfl_file_write_atomic(pl, lab, ll, 0644), PFL_OK);
	assert_int_equal(pfl_dataset_load_idx(pi, pl, &ds2), PFL_OK);
	assert_int_equal(ds2.n, 3);
	assert_memory_equal(ds.x, ds2.x, 60 * sizeof(float));
	pfl_dataset_fini(&ds2);
	/* truncated, extended, mismatched, wrong type: rejected */
	assert_int_equal(pfli_idx_decode(img, il - 1, lab, ll, &ds2),
	                 PFL_ERR_FORMAT);
	assert_int_equal(pfli_idx_decode(img, il, lab, ll - 1, &ds2),
	                 PFL_ERR_FORMAT);
	assert_int_equal(pfli_idx_decode(img, 3, lab, ll, &ds2),
	                 PFL_ERR_FORMAT);
	assert_int_equal(pfli_idx_decode(lab, ll, lab, ll, &ds2),
	                 PFL_ERR_FORMAT);
	img[2] = 0x0d; /* float data */
	assert_int_equal(pfli_idx_decode(img, il, lab, ll, &ds2),
	                 PFL_ERR_FORMAT);
	img[2] = 8;
	lab[7] = 4; /* 4 labels, 3 images */
	assert_int_equal(pfli_idx_decode(img, il, lab, ll, &ds2),
	                 PFL_ERR_FORMAT);
	/* a corrupt gzip stream */
	{
		uint8_t bad[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3};
		assert_int_equal(
		        pfli_idx_decode(bad, sizeof(bad), lab, ll, &ds2),
		        PFL_ERR_FORMAT);
	}
	assert_int_equal(pfl_dataset_load_idx("/nonexistent/a", pl, &ds2),
	                 PFL_ERR_NOTFOUND);
	assert_null(ds2.x);
	pfl_dataset_fini(&ds);
	pfl_dataset_fini(&ds);
	pfl_dataset_fini(NULL);
}

static void
test_fmnist(void **state)
{
	struct pfl_dataset ds = {0};
	size_t counts[10];

	(void)state;
	if (pfl_dataset_load_fmnist(NULL, false, &ds) != PFL_OK)
		skip();
	assert_int_equal(ds.n, 10000);
	assert_int_equal(ds.dim, 784);
	assert_int_equal(ds.classes, 10);
	assert_int_equal(ds.y[0],
	                 9); /* the first test image is an ankle boot */
	pfl_dataset_class_counts(&ds, NULL, 0, counts);
	for (int k = 0; k < 10; k++)
		assert_int_equal(counts[k], 1000);
	for (size_t i = 0; i < ds.n * ds.dim; i++)
		assert_true(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f);
	pfl_dataset_fini(&ds);
	assert_int_equal(pfl_dataset_load_fmnist("/nonexistent", true, &ds),
	                 PFL_ERR_NOTFOUND);
}

/* ---- safetensors ---- */

static void
test_safetensors_roundtrip(void **state)
{
	struct pfl_model_spec s;
	struct pfl_st_meta meta[2] = {{"round", "7"},
	                              {"note", "a \"quoted\"\n"}};
	char path[300];
	float *p, *q;
	size_t np;
	uint8_t *buf;
	size_t len;
	struct pfl_st_file f;

	(void)state;
	assert_int_equal(pfl_model_spec_parse("cnn", 1, 28, 28, 10, &s),
	                 PFL_OK);
	np = pfl_model_spec_num_params(&s);
	p = malloc(np * sizeof(float));
	q = calloc(np, sizeof(float));
	for (size_t i = 0; i < np; i++)
		p[i] = (float)i * 0.001f - 3.0f;
	tmp_path(path, sizeof(path), "cnn.safetensors");
	assert_int_equal(pfl_safetensors_save(&s, p, meta, 2, path), PFL_OK);
	assert_int_equal(pfl_safetensors_load(&s, path, q), PFL_OK);
	assert_memory_equal(p, q, np * sizeof(float));
	assert_int_equal(pfl_file_read(path, 1u << 30, &buf, &len), PFL_OK);
	assert_int_equal(len,
	                 8 + (buf[0] | buf[1] << 8 | buf[2] << 16) + np * 4);
	assert_int_equal((buf[0] | buf[1] << 8) % 8, 0); /* aligned data */
	assert_int_equal(pfl_safetensors_parse(buf, len, &f), PFL_OK);
	assert_int_equal(f.ntensors, 8);
	assert_string_equal(pfl_st_file_meta(&f, "privfl.model"), "cnn");
	assert_string_equal(pfl_st_file_meta(&f, "note"), "a \"quoted\"\n");
	assert_string_equal(f.tensors[2].name, "conv2.weight");
	assert_int_equal(f.tensors[2].shape[1], 32);
	pfl_st_file_fini(&f);
	/* every truncation is rejected, never a crash */
	for (size_t cut = 0; cut < len; cut += (cut < 1200 ? 1 : 100003))
		assert_int_not_equal(pfl_safetensors_parse(buf, cut, &f),
		                     PFL_OK);
	/* a spec that does not match */
	{
		struct pfl_model_spec m;
		assert_int_equal(pfl_model_spec_parse("mlp", 1, 28, 28, 10, &m),
		                 PFL_OK);
		assert_int_equal(pfl_safetensors_load(&m, path, q),
		                 PFL_ERR_FORMAT);
	}
	free(buf);
	free(p);
	free(q);
}

static void
test_safetensors_reference_file(void **state)
{
	char path[1024];
	const char *src = getenv("PFL_SOURCE_DIR");
	struct pfl_model_spec s;
	float p[15];

	(void)state;
	snprintf(path, sizeof(path),
	         "%s/tests/vectors/model/ref_logreg.safetensors",
	         src ? src : ".");
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 1, 4, 3, &s),
	                 PFL_OK);
	assert_int_equal(pfl_safetensors_load(&s, path, p), PFL_OK);
	for (int i = 0; i < 12; i++)
		assert_true(p[i] == (float)(i - 6) / 8.0f);
	assert_true(p[12] == 0.5f && p[13] == -0.25f && p[14] == 2.0f);
	s.in_w = 5;
	assert_int_equal(pfl_safetensors_load(&s, path, p), PFL_ERR_FORMAT);
}

static pfl_err
parse_text(const char *hdr, size_t data_len)
{
	size_t hl = strlen(hdr), len = 8 + hl + data_len;
	uint8_t *buf = calloc(1, len);
	struct pfl_st_file f;
	pfl_err rc;

	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
	memcpy(buf + 8, hdr, hl);
	rc = pfl_safetensors_parse(buf, len, &f);
	if (rc == PFL_OK)
		pfl_st_file_fini(&f);
	free(buf);
	return rc;
}

static void
test_safetensors_malformed(void **state)
{
	static const char *bad[] = {
	        "",
	        "[]",
	        "{",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
	        "}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]"
	        "}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,"
	        "16]}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]"
	        "}}",
	        "{\"a\":{\"dtype\":\"X9\",\"shape\":[2],\"data_offsets\":[0,8]}"
	        "}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,"
	        "8]}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,"
	        "4294967296],\"data_offsets\":[0,8]}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,"
	        "99999999999999999999]}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
	        "},"
	        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
	        "}",
	        "{\"__metadata__\":{\"k\":1}}",
	        "{\"__metadata__\":{\"k\":\"\\ud800\"}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
	        ","
	        "\"x\":1}}",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
	        "}} x",
	};
	uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	struct pfl_st_file f;

	(void)state;
	assert_int_equal(parse_text("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	                            "\"data_offsets\":[0,8]}}",
	                            8),
	                 PFL_OK);
	assert_int_equal(
	        parse_text("{\"__metadata__\":{\"k\":\"\\u00e9\"}}  ", 0),
	        PFL_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_text(bad[i], 8) == PFL_OK)
			fail_msg("accepted malformed header %zu: %s", i,
			         bad[i]);
	assert_int_equal(pfl_safetensors_parse(huge, sizeof(huge), &f),
	                 PFL_ERR_TOOBIG);
	memset(huge, 0, 8);
	huge[1] = 0x10; /* 4096 > the bytes that follow */
	assert_int_equal(pfl_safetensors_parse(huge, sizeof(huge), &f),
	                 PFL_ERR_FORMAT);
}

/* ---- partitions ---- */

static int32_t *
labels_sorted_blocks(size_t n, int classes)
{
	int32_t *y = malloc(n * sizeof(int32_t));

	for (size_t i = 0; i < n; i++)
		y[i] = (int32_t)((i * 7) % (size_t)classes);
	return y;
}

static void
check_exact_cover(const struct pfl_partition *p, size_t n, size_t clients)
{
	uint8_t *seen = calloc(n, 1);

	assert_int_equal(p->clients, clients);
	assert_int_equal(p->offset[0], 0);
	assert_int_equal(p->offset[clients], n);
	for (size_t i = 0; i < n; i++) {
		assert_true(p->index[i] < n);
		assert_int_equal(seen[p->index[i]], 0);
		seen[p->index[i]] = 1;
	}
	for (size_t c = 0; c < clients; c++)
		assert_true(p->offset[c] <= p->offset[c + 1]);
	free(seen);
}

/* mean over clients of the share of their most common class */
static double
mean_top_share(const struct pfl_partition *p, const int32_t *y, int classes)
{
	double s = 0.0;

	for (size_t c = 0; c < p->clients; c++) {
		size_t cnt[16] = {0}, top = 0,
		       n = p->offset[c + 1] - p->offset[c];
		for (size_t i = p->offset[c]; i < p->offset[c + 1]; i++)
			cnt[y[p->index[i]]]++;
		for (int k = 0; k < classes; k++)
			if (cnt[k] > top)
				top = cnt[k];
		s += n ? (double)top / (double)n : 0.0;
	}
	return s / (double)p->clients;
}

static void
test_partitions(void **state)
{
	const size_t n = 6000, clients = 20;
	int32_t *y = labels_sorted_blocks(n, 10);
	struct pfl_partition p, q;
	enum pfl_partition_kind kind;
	double param, iid_top, dir_small, dir_big;

	(void)state;
	assert_int_equal(pfl_partition_parse("iid", &kind, &param), PFL_OK);
	assert_int_equal(kind, PFL_PART_IID);
	assert_int_equal(pfl_partition_parse("dirichlet:0.5", &kind, &param),
	                 PFL_OK);
	assert_int_equal(kind, PFL_PART_DIRICHLET);
	assert_true(param == 0.5);
	assert_int_equal(pfl_partition_parse("shards:2", &kind, &param),
	                 PFL_OK);
	assert_int_equal(pfl_partition_parse("quantity:1", &kind, &param),
	                 PFL_OK);
	assert_int_equal(pfl_partition_parse("shards:1.5", &kind, &param),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_partition_parse("dirichlet:0", &kind, &param),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_partition_parse("dirichlet:", &kind, &param),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_partition_parse("zipf:1", &kind, &param),
	                 PFL_ERR_INVAL);

	/* IID: equal sizes, near-uniform labels */
	assert_int_equal(
	        pfl_partition_make(y, n, 10, clients, PFL_PART_IID, 0, 1, &p),
	        PFL_OK);
	check_exact_cover(&p, n, clients);
	for (size_t c = 0; c < clients; c++)
		assert_int_equal(p.offset[c + 1] - p.offset[c], n / clients);
	iid_top = mean_top_share(&p, y, 10);
	assert_true(iid_top < 0.2);
	/* same seed, same split; another seed, another split */
	assert_int_equal(
	        pfl_partition_make(y, n, 10, clients, PFL_PART_IID, 0, 1, &q),
	        PFL_OK);
	assert_memory_equal(p.index, q.index, n * sizeof(uint32_t));
	pfl_partition_fini(&q);
	assert_int_equal(
	        pfl_partition_make(y, n, 10, clients, PFL_PART_IID, 0, 2, &q),
	        PFL_OK);
	assert_true(memcmp(p.index, q.index, n * sizeof(uint32_t)) != 0);
	pfl_partition_fini(&q);
	pfl_partition_fini(&p);

	/* Dirichlet: small alpha skews labels much more than large alpha */
	assert_int_equal(pfl_partition_make(y, n, 10, clients,
	                                    PFL_PART_DIRICHLET, 0.1, 3, &p),
	                 PFL_OK);
	check_exact_cover(&p, n, clients);
	for (size_t c = 0; c < clients; c++)
		assert_true(p.offset[c + 1] - p.offset[c] >= 10);
	dir_small = mean_top_share(&p, y, 10);
	assert_int_equal(pfl_partition_make(y, n, 10, clients,
	                                    PFL_PART_DIRICHLET, 0.1, 3, &q),
	                 PFL_OK);
	assert_memory_equal(p.index, q.index, n * sizeof(uint32_t));
	pfl_partition_fini(&q);
	pfl_partition_fini(&p);
	assert_int_equal(pfl_partition_make(y, n, 10, clients,
	                                    PFL_PART_DIRICHLET, 100.0, 3, &p),
	                 PFL_OK);
	check_exact_cover(&p, n, clients);
	dir_big = mean_top_share(&p, y, 10);
	pfl_partition_fini(&p);
	assert_true(dir_small > 0.5);
	assert_true(dir_big < 0.25);

	/* shards:2: at most 2 classes per client (shards align with classes) */
	assert_int_equal(pfl_partition_make(y, n, 10, clients, PFL_PART_SHARDS,
	                                    2, 4, &p),
	                 PFL_OK);
	check_exact_cover(&p, n, clients);
	for (size_t c = 0; c < clients; c++) {
		int present = 0;
		size_t cnt[10] = {0};
		assert_int_equal(p.offset[c + 1] - p.offset[c], n / clients);
		for (size_t i = p.offset[c]; i < p.offset[c + 1]; i++)
			cnt[y[p.index[i]]]++;
		for (int k = 0; k < 10; k++)
			present += cnt[k] > 0;
		assert_true(present <= 2);
	}
	pfl_partition_fini(&p);

	/* quantity skew: unequal sizes, labels still mixed */
	assert_int_equal(pfl_partition_make(y, n, 10, clients,
	                                    PFL_PART_QUANTITY, 0.5, 5, &p),
	                 PFL_OK);
	check_exact_cover(&p, n, clients);
	{
		size_t mn = n, mx = 0;
		for (size_t c = 0; c < clients; c++) {
			size_t s = p.offset[c + 1] - p.offset[c];
			mn = s < mn ? s : mn;
			mx = s > mx ? s : mx;
		}
		assert_true(mn >= 10);
		assert_true(mx > 2 * mn);
	}
	pfl_partition_fini(&p);

	/* bad arguments */
	assert_int_equal(
	        pfl_partition_make(y, 5, 10, 6, PFL_PART_IID, 0, 1, &p),
	        PFL_ERR_INVAL);
	assert_int_equal(pfl_partition_make(y, n, 10, clients, PFL_PART_SHARDS,
	                                    1000, 1, &p),
	                 PFL_ERR_INVAL);
	assert_int_equal(
	        pfl_partition_make(y, n, 5, clients, PFL_PART_IID, 0, 1, &p),
	        PFL_ERR_INVAL);
	pfl_partition_fini(&p);
	free(y);
}

/* ---- CSV ---- */

static const char train_csv[] = "age,color,income,label\n"
                                "30,red,100,yes\n"
                                "40,blue,,no\n"
                                "\"50\",\"green\",300,yes\r\n"
                                "NA,red,200,no\n"
                                "60,red,400,yes\n"
                                "35,blue,150,no\n";

static struct pfl_csv_prep *
fit(const char *text, enum pfl_csv_missing miss, enum pfl_csv_scale scale,
    pfl_err want, const char *want_err)
{
	struct pfl_csv_opts o = {
	        .label = "label", .missing = miss, .scale = scale};
	struct pfl_csv_prep *p = NULL;
	char err[PFL_CSV_ERRLEN] = "";

	if (pfl_csv_fit_buf("t.csv", text, strlen(text), &o, &p, err,
	                    sizeof(err)) != want)
		fail_msg("fit: unexpected result (%s)", err);
	if (want_err != NULL && strstr(err, want_err) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want_err);
	return p;
}

static void
apply(struct pfl_csv_prep *p, const char *text, struct pfl_dataset *ds,
      pfl_err want, const char *want_err)
{
	char err[PFL_CSV_ERRLEN] = "";

	assert_int_equal(pfl_csv_apply_buf(p, "u.csv", text, strlen(text), ds,
	                                   err, sizeof(err)),
	                 want);
	if (want_err != NULL && strstr(err, want_err) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want_err);
}

static void
test_csv_preprocessing(void **state)
{
	struct pfl_csv_prep *p;
	struct pfl_dataset ds = {0};

	(void)state;
	/* drop rows with missing values; no scaling */
	p = fit(train_csv, PFL_CSV_MISSING_DROP, PFL_CSV_SCALE_NONE, PFL_OK,
	        NULL);
	assert_int_equal(pfl_csv_prep_dim(p), 1 + 3 + 1);
	assert_int_equal(pfl_csv_prep_classes(p), 2);
	apply(p, train_csv, &ds, PFL_OK, NULL);
	assert_int_equal(ds.n, 4);
	/* row "30,red,100,yes": age, blue green red one-hot, income */
	assert_true(ds.x[0] == 30.0f && ds.x[1] == 0.0f && ds.x[2] == 0.0f &&
	            ds.x[3] == 1.0f && ds.x[4] == 100.0f);
	assert_int_equal(ds.y[0], 1);     /* labels sorted: no=0, yes=1 */
	assert_true(ds.x[5 + 2] == 1.0f); /* green */
	pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);

	/* mean imputation + standardization, fitted on training rows */
	p = fit(train_csv, PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_STANDARD, PFL_OK,
	        NULL);
	apply(p, train_csv, &ds, PFL_OK, NULL);
	assert_int_equal(ds.n, 6);
	{
		double mean = 0.0, var = 0.0;
		for (int i = 0; i < 6; i++)
			mean += ds.x[i * 5 + 0];
		mean /= 6;
		for (int i = 0; i < 6; i++)
			var += (ds.x[i * 5] - mean) * (ds.x[i * 5] - mean);
		assert_true(fabs(mean) < 1e-6);
		assert_true(fabs(var / 6 - 1.0) < 1e-5);
		/* the imputed age (row 4) is the mean, i.e. 0 */
		assert_true(fabs(ds.x[3 * 5]) < 1e-6);
	}
	pfl_dataset_fini(&ds);
	/* a test file: unseen category -> zeros, imputed missing value */
	apply(p, "age,color,income,label\n45,purple,,no\n", &ds, PFL_OK, NULL);
	assert_int_equal(ds.n, 1);
	assert_true(ds.x[1] == 0.0f && ds.x[2] == 0.0f && ds.x[3] == 0.0f);
	assert_true(fabs(ds.x[4]) < 1e-6); /* income mean -> standardized 0 */
	pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);

	/* median imputation + min-max */
	p = fit(train_csv, PFL_CSV_MISSING_MEDIAN, PFL_CSV_SCALE_MINMAX, PFL_OK,
	        NULL);
	apply(p, train_csv, &ds, PFL_OK, NULL);
	/* income: 100,300,200,400,150, median 200 -> (200-100)/300 */
	assert_true(fabs(ds.x[1 * 5 + 4] - 1.0f / 3.0f) < 1e-6);
	assert_true(ds.x[0 * 5 + 4] == 0.0f && ds.x[4 * 5 + 4] == 1.0f);
	pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);

	/* mode imputation: 7 is the most frequent value */
	p = fit("a,label\n7,0\n7,1\n3,0\n,1\n", PFL_CSV_MISSING_MODE,
	        PFL_CSV_SCALE_NONE, PFL_OK, NULL);
	apply(p, "a,label\n,1\n", &ds, PFL_OK, NULL);
	assert_true(ds.x[0] == 7.0f);
	pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);

	/* forced categorical numeric column; numeric labels sort numerically */
	{
		struct pfl_csv_opts o = {.label = "y",
		                         .categorical = "zip",
		                         .scale = PFL_CSV_SCALE_NONE};
		char err[PFL_CSV_ERRLEN];
		const char *t = "zip,y\n100,10\n200,9\n100,2\n";
		assert_int_equal(pfl_csv_fit_buf("z.csv", t, strlen(t), &o, &p,
		                                 err, sizeof(err)),
		                 PFL_OK);
		assert_int_equal(pfl_csv_prep_dim(p), 2);
		assert_int_equal(pfl_csv_prep_classes(p), 3);
		apply(p, t, &ds, PFL_OK, NULL);
		assert_int_equal(ds.y[0], 2); /* 2 < 9 < 10 */
		assert_int_equal(ds.y[1], 1);
		assert_int_equal(ds.y[2], 0);
		pfl_dataset_fini(&ds);
		pfl_csv_prep_free(p);
	}
}

static void
test_csv_errors(void **state)
{
	struct pfl_csv_prep *p;
	struct pfl_dataset ds = {0};

	(void)state;
	fit(train_csv, PFL_CSV_MISSING_ERROR, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "t.csv:3: missing value in column 'income'");
	fit("a,b,label\n1,2,x\n3,4\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "t.csv:3: expected 3 fields, got 2");
	fit("a,b,label\n1,2,x\n3,4,y,5\n", PFL_CSV_MISSING_MEAN,
	    PFL_CSV_SCALE_NONE, PFL_ERR_FORMAT, "t.csv:3:");
	fit("a,b,lab\n1,2,x\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_INVAL, "no label column 'label'");
	fit("a,a,label\n1,2,x\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "duplicate column 'a'");
	fit("a,label\n1,\"x\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "t.csv:2: unterminated");
	fit("a,label\n1,\"x\"y\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "t.csv:2: text after a quoted field");
	fit("a,label\n1,x\n2,x\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "fewer than 2 classes");
	fit("", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE, PFL_ERR_FORMAT,
	    "no header");
	fit("a,label\n1,x\n,\n", PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_NONE,
	    PFL_ERR_FORMAT, "t.csv:3: missing value in column 'label'");

	p = fit(train_csv, PFL_CSV_MISSING_MEAN, PFL_CSV_SCALE_STANDARD, PFL_OK,
	        NULL);
	apply(p, "age,color,income,label\n1,red,2,yes\n1,red,2,maybe\n", &ds,
	      PFL_ERR_FORMAT, "u.csv:3: unknown label 'maybe'");
	apply(p, "age,color,income,label\n1,red,abc,yes\n", &ds, PFL_ERR_FORMAT,
	      "u.csv:2: column 'income': 'abc' is not a number");
	apply(p, "age,colour,income,label\n", &ds, PFL_ERR_FORMAT,
	      "u.csv:1: column 2 is 'colour'");
	apply(p, "age,color,label\n", &ds, PFL_ERR_FORMAT, "u.csv:1:");
	apply(p, "age,color,income,label\n1,red,2\n", &ds, PFL_ERR_FORMAT,
	      "u.csv:2: expected 4 fields, got 3");
	apply(p, "age,color,income,label\n", &ds, PFL_ERR_FORMAT,
	      "no usable rows");
	assert_null(ds.x);
	pfl_csv_prep_free(p);
	pfl_csv_prep_free(NULL);
}

static void
test_csv_files_train(void **state)
{
	char tr[300], te[300];
	struct pfl_csv_opts o = {.label = "label",
	                         .missing = PFL_CSV_MISSING_MEAN,
	                         .scale = PFL_CSV_SCALE_STANDARD};
	struct pfl_dataset a = {0}, b = {0};
	struct pfl_model_spec s;
	struct pfl_model *m;
	struct pfl_train_opts to = {
	        .epochs = 30, .batch = 8, .lr = 0.1f, .seed = 1};
	struct pfl_buf buf;
	char err[PFL_CSV_ERRLEN];
	struct pfl_rng r;
	double acc;

	(void)state;
	/* label = (x1 + noise > 0) xor (kind == "b") */
	pfl_rng_seed(&r, 5);
	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_buf_printf(&buf, "x1,kind,x2,label\n"), PFL_OK);
	for (int i = 0; i < 400; i++) {
		double x1 = pfl_rng_normal(&r);
		int kind = (int)pfl_rng_below(&r, 2);
		int lab = (x1 > 0) ^ kind;
		assert_int_equal(pfl_buf_printf(&buf, "%.4f,%s,%.3f,%s\n",
		                                x1 * 10 + 50, kind ? "b" : "a",
		                                pfl_rng_normal(&r),
		                                lab ? "pos" : "neg"),
		                 PFL_OK);
	}
	tmp_path(tr, sizeof(tr), "train.csv");
	tmp_path(te, sizeof(te), "test.csv");
	assert_int_equal(pfl_file_write_atomic(tr, buf.data, buf.len, 0644),
	                 PFL_OK);
	assert_int_equal(pfl_file_write_atomic(te, buf.data, buf.len, 0644),
	                 PFL_OK);
	pfl_buf_fini(&buf);
	assert_int_equal(pfl_csv_load(tr, te, &o, &a, &b, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(a.n, 400);
	assert_int_equal(a.dim, 4);
	assert_int_equal(pfl_model_spec_parse("mlp:16,16", 1, 1, 4, 2, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&s, &m), PFL_OK);
	pfl_model_init(m, 2);
	assert_int_equal(pfl_model_train(m, &a, NULL, 0, &to, NULL), PFL_OK);
	assert_int_equal(pfl_model_evaluate(m, &b, NULL, 0, &acc, NULL),
	                 PFL_OK);
	assert_true(acc > 0.9);
	pfl_model_free(m);
	pfl_dataset_fini(&a);
	pfl_dataset_fini(&b);
	assert_int_equal(pfl_csv_load("/nonexistent.csv", te, &o, &a, &b, err,
	                              sizeof(err)),
	                 PFL_ERR_NOTFOUND);
	assert_non_null(strstr(err, "/nonexistent.csv"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_idx),
	        cmocka_unit_test(test_fmnist),
	        cmocka_unit_test(test_safetensors_roundtrip),
	        cmocka_unit_test(test_safetensors_reference_file),
	        cmocka_unit_test(test_safetensors_malformed),
	        cmocka_unit_test(test_partitions),
	        cmocka_unit_test(test_csv_preprocessing),
	        cmocka_unit_test(test_csv_errors),
	        cmocka_unit_test(test_csv_files_train),
	};

	return cmocka_run_group_tests_name("model_data", tests, setup_dir,
	                                   teardown_dir);
}
