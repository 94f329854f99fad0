/*
 * Custom-model layouts (issue #13 item 1): tensors of a safetensors file
 * in name order, float tensors federated (F16/BF16 through float32 and
 * back), other dtypes carried byte for byte; the digest; the file written
 * back with the init file's names, dtypes and shapes; and the client's
 * refusal of a plan for another layout.
 */

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

#include "privfl/file.h"
#include "privfl/layout.h"

#include "../client/src/client_int.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/privfl-m13.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write header JSON + data as a safetensors file; returns its path. */
static const char *
write_st(const char *name, const char *json, const void *data, size_t len)
{
	static char path[128];
	size_t hl = strlen(json);
	uint8_t *buf = malloc(8 + hl + len);

	assert_non_null(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
	memcpy(buf + 8, json, hl);
	memcpy(buf + 8 + hl, data, len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(pfl_file_write_atomic(path, buf, 8 + hl + len, 0644),
	                 PFL_OK);
	free(buf);
	return path;
}

/* z.w F32 [2,3] at 0..24, a.b F16 [2] at 24..28, m.c BF16 [3] at 28..34,
 * bn.num_batches_tracked I64 [] at 34..42: deliberately not in name
 * order. */
static const char *
mixed_file(const char *name, const char *zshape)
{
	static uint8_t data[42];
	char json[512];
	const float z[6] = {1, -2, 3.5f, 0.25f, -0.5f, 6};
	const uint16_t f16[2] = {0x3c00, 0xc000};          /* 1, -2 */
	const uint16_t bf16[3] = {0x3f80, 0x4040, 0xbf00}; /* 1, 3, -0.5 */
	const int64_t nbt = 1234567;

	memcpy(data, z, 24);
	memcpy(data + 24, f16, 4);
	memcpy(data + 28, bf16, 6);
	memcpy(data + 34, &nbt, 8);
	snprintf(json, sizeof(json),
	         "{\"z.w\":{\"dtype\":\"F32\",\"shape\":%s,"
	         "\"data_offsets\":[0,24]},"
	         "\"__metadata__\":{\"who\":\"torch\"},"
	         "\"a.b\":{\"dtype\":\"F16\",\"shape\":[2],"
	         "\"data_offsets\":[24,28]},"
	         "\"m.c\":{\"dtype\":\"BF16\",\"shape\":[3],"
	         "\"data_offsets\":[28,34]},"
	         "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
	         "\"data_offsets\":[34,42]}}",
	         zshape);
	return write_st(name, json, data, sizeof(data));
}

static void
test_order_and_kinds(void **state)
{
	struct pfl_layout l;
	float *p = NULL;
	const char *names[] = {"a.b", "bn.num_batches_tracked", "m.c", "z.w"};
	const float want[11] = {1,  -2,   1,     3,     -0.5f, 1,
	                        -2, 3.5f, 0.25f, -0.5f, 6};
	int64_t nbt;

	(void)state;
	assert_int_equal(
	        pfl_layout_load(mixed_file("m.st", "[2,3]"), &l, &p, NULL, 0),
	        PFL_OK);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(l.t[i].name, names[i]);
	assert_int_equal(l.num_params, 11);
	assert_int_equal(l.num_carried, 1);
	assert_true(l.t[0].federated && l.t[2].federated && l.t[3].federated);
	assert_false(l.t[1].federated);
	assert_int_equal(l.t[0].offset, 0);
	assert_int_equal(l.t[2].offset, 2);
	assert_int_equal(l.t[3].offset, 5);
	assert_int_equal(l.t[1].ndim, 0);
	assert_int_equal(l.t[1].count, 1);
	assert_int_equal(l.t[1].raw_len, 8);
	memcpy(&nbt, l.t[1].raw, 8);
	assert_int_equal(nbt, 1234567);
	for (int i = 0; i < 11; i++)
		assert_true(p[i] == want[i]);
	assert_int_equal(pfl_layout_find(&l, "m.c"), 2);
	assert_int_equal(pfl_layout_find(&l, "nope"), -1);
	free(p);
	pfl_layout_fini(&l);
}

/* Saved back: same names, dtypes, shapes; carried bytes unchanged; new
 * federated values in their own dtype; the same layout digest. */
static void
test_save_roundtrip(void **state)
{
	struct pfl_layout l, l2;
	struct pfl_st_file f;
	struct pfl_st_meta meta[1] = {{"round", "7"}};
	float *p = NULL, *p2 = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[128];

	(void)state;
	assert_int_equal(
	        pfl_layout_load(mixed_file("r.st", "[2,3]"), &l, &p, NULL, 0),
	        PFL_OK);
	for (size_t i = 0; i < l.num_params; i++)
		p[i] = p[i] * 0.5f + 0.125f;
	snprintf(path, sizeof(path), "%s/out.safetensors", dir);
	assert_int_equal(pfl_layout_save(&l, p, meta, 1, path), PFL_OK);
	assert_int_equal(pfl_file_read(path, 1 << 20, &buf, &len), PFL_OK);
	assert_int_equal(pfl_safetensors_parse(buf, len, &f), PFL_OK);
	assert_int_equal(f.ntensors, 4);
	for (size_t i = 0; i < f.ntensors; i++) {
		long k = pfl_layout_find(&l, f.tensors[i].name);
		assert_true(k >= 0);
		assert_string_equal(f.tensors[i].dtype, l.t[k].dtype);
		assert_int_equal(f.tensors[i].ndim, l.t[k].ndim);
		for (int d = 0; d < l.t[k].ndim; d++)
			assert_true(f.tensors[i].shape[d] == l.t[k].shape[d]);
		if (!l.t[k].federated)
			assert_memory_equal(f.data + f.tensors[i].begin,
			                    l.t[k].raw, 8);
	}
	assert_string_equal(pfl_st_file_meta(&f, "privfl.model"), "custom");
	assert_string_equal(pfl_st_file_meta(&f, "round"), "7");
	assert_non_null(pfl_st_file_meta(&f, "privfl.layout"));
	pfl_st_file_fini(&f);
	assert_int_equal(pfl_layout_load(path, &l2, &p2, NULL, 0), PFL_OK);
	assert_memory_equal(l.digest, l2.digest, PFL_LAYOUT_DIGEST_BYTES);
	/* all values here are exact in F16 and BF16 */
	for (size_t i = 0; i < l.num_params; i++)
		assert_true(p2[i] == p[i]);
	/* privfl.* keys are the writer's own */
	meta[0].key = "privfl.model";
	assert_int_equal(pfl_layout_save(&l, p, meta, 1, path), PFL_ERR_INVAL);
	free(buf);
	free(p);
	free(p2);
	pfl_layout_fini(&l);
	pfl_layout_fini(&l2);
}

static void
test_digest(void **state)
{
	struct pfl_layout a, b;
	char json[256];
	const float v[6] = {0};

	(void)state;
	assert_int_equal(pfl_layout_load(mixed_file("d1.st", "[2,3]"), &a, NULL,
	                                 NULL, 0),
	                 PFL_OK);
	assert_int_equal(pfl_layout_load(mixed_file("d2.st", "[3,2]"), &b, NULL,
	                                 NULL, 0),
	                 PFL_OK);
	assert_memory_not_equal(a.digest, b.digest, 32);
	pfl_layout_fini(&b);
	/* the same tensors in another file order: the same layout */
	snprintf(json, sizeof(json),
	         "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
	         "\"data_offsets\":[34,42]},"
	         "\"m.c\":{\"dtype\":\"BF16\",\"shape\":[3],"
	         "\"data_offsets\":[28,34]},"
	         "\"a.b\":{\"dtype\":\"F16\",\"shape\":[2],"
	         "\"data_offsets\":[24,28]},"
	         "\"z.w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
	         "\"data_offsets\":[0,24]}}");
	{
		uint8_t data[42] = {0};
		memcpy(data, v, sizeof(v));
		assert_int_equal(pfl_layout_load(write_st("d3.st", json, data,
		                                          sizeof(data)),
		                                 &b, NULL, NULL, 0),
		                 PFL_OK);
	}
	assert_memory_equal(a.digest, b.digest, 32);
	pfl_layout_fini(&b);
	/* F16 -> F32 for one tensor: another layout */
	snprintf(json, sizeof(json),
	         "{\"a.b\":{\"dtype\":\"F32\",\"shape\":[2],"
	         "\"data_offsets\":[0,8]}}");
	assert_int_equal(pfl_layout_load(write_st("d4.st", json, v, 8), &b,
	                                 NULL, NULL, 0),
	                 PFL_OK);
	assert_memory_not_equal(a.digest, b.digest, 32);
	pfl_layout_fini(&b);
	pfl_layout_fini(&a);
}

static void
test_refusals(void **state)
{
	struct pfl_layout l;
	char err[256] = "", json[256];
	const double d[2] = {1, 2};
	const int64_t i64[2] = {1, 2};
	char path[128];

	(void)state;
	snprintf(json, sizeof(json),
	         "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],"
	         "\"data_offsets\":[0,16]}}");
	assert_int_equal(pfl_layout_load(write_st("f64.st", json, d, 16), &l,
	                                 NULL, err, sizeof(err)),
	                 PFL_ERR_FORMAT);
	assert_non_null(strstr(err, "tensor 'w' is F64"));
	snprintf(json, sizeof(json),
	         "{\"n\":{\"dtype\":\"I64\",\"shape\":[2],"
	         "\"data_offsets\":[0,16]}}");
	assert_int_equal(pfl_layout_load(write_st("i64.st", json, i64, 16), &l,
	                                 NULL, err, sizeof(err)),
	                 PFL_ERR_FORMAT);
	assert_non_null(strstr(err, "nothing to federate"));
	snprintf(path, sizeof(path), "%s/missing.st", dir);
	assert_int_equal(pfl_layout_load(path, &l, NULL, err, sizeof(err)),
	                 PFL_ERR_NOTFOUND);
	/* truncated: the reader's words come through */
	snprintf(json, sizeof(json),
	         "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],"
	         "\"data_offsets\":[0,16]}}");
	assert_int_equal(pfl_layout_load(write_st("trunc.st", json, d, 8), &l,
	                                 NULL, err, sizeof(err)),
	                 PFL_ERR_FORMAT);
	assert_non_null(strstr(err, "truncated"));
}

static void
test_half(void **state)
{
	(void)state;
	assert_true(pfl_f16_to_f32(0x3c00) == 1.0f);
	assert_true(pfl_f16_to_f32(0xc000) == -2.0f);
	assert_true(pfl_f16_to_f32(0x7bff) == 65504.0f);
	assert_true(pfl_f16_to_f32(0x0001) == ldexpf(1, -24));
	assert_true(isinf(pfl_f16_to_f32(0x7c00)));
	assert_true(isnan(pfl_f16_to_f32(0x7e00)));
	assert_int_equal(pfl_f32_to_f16(1.0f), 0x3c00);
	assert_int_equal(pfl_f32_to_f16(65519.0f), 0x7bff);
	assert_int_equal(pfl_f32_to_f16(65520.0f), 0x7c00);
	assert_int_equal(pfl_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
	assert_int_equal(pfl_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
	assert_int_equal(pfl_f32_to_f16(ldexpf(1, -24)), 0x0001);
	assert_int_equal(pfl_f32_to_f16(ldexpf(1, -26)), 0x0000);
	assert_int_equal(pfl_f32_to_f16(-0.0f), 0x8000);
	assert_int_equal(pfl_f32_to_f16(NAN) & 0x7e00, 0x7e00);
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = pfl_f16_to_f32((uint16_t)h);
		if (!isnan(f))
			assert_int_equal(pfl_f32_to_f16(f), h);
	}
	assert_int_equal(pfl_f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(pfl_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
	assert_int_equal(pfl_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
	assert_true(isnan(pfl_bf16_to_f32(pfl_f32_to_bf16(NAN))));
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = pfl_bf16_to_f32((uint16_t)h);
		if (!isnan(f))
			assert_int_equal(pfl_f32_to_bf16(f), h);
	}
}

/* The client takes a plan only for the layout it trains. */
static void
test_client_refuses(void **state)
{
	struct pfl_msg_plan p;
	uint8_t mine[32];
	char why[160];

	(void)state;
	memset(&p, 0, sizeof(p));
	snprintf(p.model, sizeof(p.model), "mlp:200,200");
	memset(mine, 0xab, sizeof(mine));
	assert_true(pfli_layout_allows(NULL, &p, why, sizeof(why)));
	assert_false(pfli_layout_allows(mine, &p, why, sizeof(why)));
	assert_non_null(strstr(why, "built-in model mlp:200,200"));
	memcpy(p.layout_digest, mine, 32);
	assert_true(pfli_layout_allows(mine, &p, why, sizeof(why)));
	assert_false(pfli_layout_allows(NULL, &p, why, sizeof(why)));
	assert_non_null(strstr(why, "custom model (layout abababababababab)"));
	p.layout_digest[31] ^= 1;
	assert_false(pfli_layout_allows(mine, &p, why, sizeof(why)));
	assert_string_equal(why, "model layout abababababababab, this client "
	                         "trains abababababababab");
}

/* The plan names the layout ("ld"); a plan without the key (a built-in
 * model, or an older server) decodes with the digest all zero. */
static void
test_plan_ld(void **state)
{
	struct pfl_identity *id = NULL;
	struct pfl_msg m, back;
	struct pfl_buf b;
	uint8_t zero[32] = {0}, *buf = NULL;
	size_t len = 0;
	char path[512];

	(void)state;
	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	pfl_msg_init(&m, PFL_MSG_PLAN, "demo", 3, id);
	snprintf(m.u.plan.task, sizeof(m.u.plan.task), "train");
	snprintf(m.u.plan.model, sizeof(m.u.plan.model), "custom:0123");
	m.u.plan.num_params = 10;
	m.u.plan.vector_len = 11;
	for (int i = 0; i < 32; i++)
		m.u.plan.layout_digest[i] = (uint8_t)(0xa0 + i);
	pfl_buf_init(&b, 0);
	assert_int_equal(pfl_msg_encode(&m, id, &b), PFL_OK);
	assert_int_equal(pfl_msg_decode(b.data, b.len, NULL, &back), PFL_OK);
	assert_memory_equal(back.u.plan.layout_digest, m.u.plan.layout_digest,
	                    32);
	pfl_buf_fini(&b);
	pfl_identity_free(id);
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/fuzz_msg/valid-plan",
	         getenv("PFL_SOURCE_DIR") ? getenv("PFL_SOURCE_DIR") : "..");
	assert_int_equal(pfl_file_read(path, 1 << 20, &buf, &len), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf, len, NULL, &back), PFL_OK);
	assert_int_equal(back.type, PFL_MSG_PLAN);
	assert_memory_equal(back.u.plan.layout_digest, zero, 32);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order_and_kinds),
	        cmocka_unit_test(test_save_roundtrip),
	        cmocka_unit_test(test_digest),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_half),
	        cmocka_unit_test(test_client_refuses),
	        cmocka_unit_test(test_plan_ld),
	};

	return cmocka_run_group_tests_name("model13_layout", tests, setup,
	                                   teardown);
}
