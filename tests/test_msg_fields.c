/*
 * Message codec: each envelope field missing, mistyped, negative, huge,
 * duplicated or out of range, in a hand-built envelope (test_msg.c has
 * round trips, bit flips and size limits).
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

#include <msgpack.h>
#include <sodium.h>

#include "privfl/msg.h"

#include "msg_fixture.h"

/* ---- a hand-made envelope, to put any wrong value in any field ---- */

enum mut { M_NONE, M_OMIT, M_TYPE, M_NEG, M_HUGE, M_DUP, M_UNKNOWN, M_VAL };

struct spec {
	const char *target;
	enum mut mut;
	void (*val)(msgpack_packer *pk); /* M_VAL: replacement value */
};

static const char *const env_keys[] = {"v", "t",  "fed", "r",  "from",
                                       "n", "ts", "b",   "sig"};
static const char *const body_keys[] = {"caps", "sw"};

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_good(msgpack_packer *pk, const char *k)
{
	static const uint8_t zeros[16];
	if (strcmp(k, "v") == 0)
		msgpack_pack_uint32(pk, PFL_PROTO_VERSION);
	else if (strcmp(k, "t") == 0)
		msgpack_pack_uint32(pk, PFL_MSG_CHECKIN);
	else if (strcmp(k, "fed") == 0)
		pack_str(pk, "fed");
	else if (strcmp(k, "r") == 0 || strcmp(k, "ts") == 0 ||
	         strcmp(k, "caps") == 0)
		msgpack_pack_uint64(pk, 5);
	else if (strcmp(k, "from") == 0)
		msgpack_pack_bin_with_body(pk, pfl_identity_public(id_a), 32);
	else if (strcmp(k, "n") == 0)
		msgpack_pack_bin_with_body(pk, zeros, 16);
	else if (strcmp(k, "sw") == 0)
		pack_str(pk, "sw");
}

static void
pack_mutated(msgpack_packer *pk, const char *k, const struct spec *s)
{
	switch (s->mut) {
	case M_TYPE:
		if (strcmp(k, "fed") == 0 || strcmp(k, "sw") == 0)
			msgpack_pack_uint32(pk, 1);
		else if (strcmp(k, "from") == 0 || strcmp(k, "n") == 0)
			pack_str(pk, "0123456789abcdef0123456789abcdef");
		else
			pack_str(pk, "1");
		break;
	case M_NEG:
		msgpack_pack_int64(pk, -1);
		break;
	case M_HUGE:
		msgpack_pack_uint64(pk, UINT64_MAX);
		break;
	case M_VAL:
		s->val(pk);
		break;
	default:
		pack_good(pk, k);
	}
}

static int
nkeys(const char *const *keys, size_t n, const struct spec *s)
{
	int c = (int)n;
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], s->target) == 0)
			c += s->mut == M_OMIT                           ? -1
			     : (s->mut == M_DUP || s->mut == M_UNKNOWN) ? 1
			                                                : 0;
	return c;
}

static int
write_cb(void *data, const char *p, size_t len)
{
	return pfl_buf_append(data, p, len) == PFL_OK ? 0 : -1;
}

static void
pack_unknown(msgpack_packer *pk)
{
	pack_str(pk, "zz-future");
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 1);
	pack_str(pk, "q");
	msgpack_pack_double(pk, 1.5);
	msgpack_pack_bin_with_body(pk, "xyz", 3);
}

static void
pack_entry(msgpack_packer *pk, const char *k, const struct spec *s)
{
	bool hit = strcmp(k, s->target) == 0;

	if (hit && s->mut == M_OMIT)
		return;
	if (hit && s->mut == M_UNKNOWN)
		pack_unknown(pk);
	for (int rep = 0; rep < (hit && s->mut == M_DUP ? 2 : 1); rep++) {
		pack_str(pk, k);
		if (hit)
			pack_mutated(pk, k, s);
		else
			pack_good(pk, k);
	}
}

static void
build(const struct spec *s, struct pfl_buf *out)
{
	msgpack_packer pk;
	uint8_t tbs[PFL_MSG_TBS_BYTES], sig[64];
	size_t nb = sizeof(body_keys) / sizeof(body_keys[0]);

	pfl_buf_init(out, 0);
	msgpack_packer_init(&pk, out, write_cb);
	msgpack_pack_map(&pk, (size_t)nkeys(env_keys, 9, s));
	for (int i = 0; i < 8; i++) {
		const char *k = env_keys[i];
		if (strcmp(k, "b") != 0) {
			pack_entry(&pk, k, s);
			continue;
		}
		if (strcmp(s->target, "b") == 0 && s->mut != M_NONE &&
		    s->mut != M_UNKNOWN) {
			pack_entry(&pk, k, s);
			continue;
		}
		if (strcmp(s->target, "b") == 0 && s->mut == M_UNKNOWN)
			pack_unknown(&pk);
		pack_str(&pk, "b");
		msgpack_pack_map(&pk, (size_t)nkeys(body_keys, nb, s));
		for (size_t j = 0; j < nb; j++)
			pack_entry(&pk, body_keys[j], s);
	}
	if (strcmp(s->target, "sig") == 0 && s->mut == M_UNKNOWN)
		pack_unknown(&pk);
	pfl_msg_tbs(out->data, out->len, tbs);
	assert_int_equal(pfl_identity_sign(id_a, tbs, sizeof(tbs), sig),
	                 PFL_OK);
	if (strcmp(s->target, "sig") != 0 || s->mut == M_NONE ||
	    s->mut == M_UNKNOWN) {
		pack_str(&pk, "sig");
		msgpack_pack_bin_with_body(&pk, sig, 64);
		return;
	}
	for (int rep = 0; rep < (s->mut == M_DUP ? 2 : 1); rep++) {
		if (s->mut == M_OMIT)
			break;
		pack_str(&pk, "sig");
		if (s->mut == M_DUP)
			msgpack_pack_bin_with_body(&pk, sig, 64);
		else
			pack_mutated(&pk, "sig", s);
	}
}

static pfl_err
decode_spec(const struct spec *s)
{
	struct pfl_buf buf;
	struct pfl_msg m;
	pfl_err rv;

	build(s, &buf);
	rv = pfl_msg_decode(buf.data, buf.len, NULL, &m);
	if (rv == PFL_OK)
		rv = pfl_msg_verify(&m);
	pfl_buf_fini(&buf);
	return rv;
}

static void
v_ver1(msgpack_packer *pk)
{
	msgpack_pack_uint32(pk, 1); /* replies were not bound before 2 */
}
static void
v_ver2(msgpack_packer *pk)
{
	msgpack_pack_uint32(pk, 2); /* no evaluation slots before 3 */
}
static void
v_ver4(msgpack_packer *pk)
{
	msgpack_pack_uint32(pk, 4);
}
static void
v_type0(msgpack_packer *pk)
{
	msgpack_pack_uint32(pk, 0);
}
static void
v_type12(msgpack_packer *pk)
{
	msgpack_pack_uint32(pk, 12);
}
static void
v_fed_space(msgpack_packer *pk)
{
	pack_str(pk, "a b");
}
static void
v_fed_empty(msgpack_packer *pk)
{
	pack_str(pk, "");
}
static void
v_fed_long(msgpack_packer *pk)
{
	pack_str(pk, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	             "aaaaaaaa");
}
static void
v_str_nul(msgpack_packer *pk)
{
	msgpack_pack_str_with_body(pk, "a\0b", 3);
}
static void
v_str_long(msgpack_packer *pk)
{
	pack_str(pk, "0123456789012345678901234567890123");
}
static void
v_bin31(msgpack_packer *pk)
{
	msgpack_pack_bin_with_body(pk, "0123456789012345678901234567890", 31);
}
static void
v_u32max1(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, 0x100000000ull);
}
static void
v_float(msgpack_packer *pk)
{
	msgpack_pack_double(pk, 1.0);
}
static void
v_nil(msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}
static void
v_sig63(msgpack_packer *pk)
{
	msgpack_pack_bin_with_body(pk,
	                           "0123456789012345678901234567890123456789012"
	                           "345678901234567890123",
	                           63);
}

static void
test_field_rejections(void **state)
{
	static const char *const all[] = {"v",  "t", "fed", "r",    "from", "n",
	                                  "ts", "b", "sig", "caps", "sw"};
	(void)state;

	assert_int_equal(decode_spec(&(struct spec){"", M_NONE, NULL}), PFL_OK);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *k = all[i];
		assert_int_equal(decode_spec(&(struct spec){k, M_OMIT, NULL}),
		                 PFL_ERR_PROTO);
		assert_int_equal(decode_spec(&(struct spec){k, M_TYPE, NULL}),
		                 PFL_ERR_PROTO);
		assert_int_equal(decode_spec(&(struct spec){k, M_DUP, NULL}),
		                 PFL_ERR_PROTO);
		/* forward compatibility: unknown keys are ignored (and signed)
		 */
		assert_int_equal(
		        decode_spec(&(struct spec){k, M_UNKNOWN, NULL}),
		        PFL_OK);
		if (strcmp(k, "r") != 0 && strcmp(k, "ts") != 0) {
			assert_int_equal(
			        decode_spec(&(struct spec){k, M_NEG, NULL}),
			        PFL_ERR_PROTO);
			assert_int_equal(
			        decode_spec(&(struct spec){k, M_HUGE, NULL}),
			        PFL_ERR_PROTO);
		}
		assert_int_equal(decode_spec(&(struct spec){k, M_VAL, v_nil}),
		                 PFL_ERR_PROTO);
	}
	/* u64 fields take the full range */
	assert_int_equal(decode_spec(&(struct spec){"r", M_HUGE, NULL}),
	                 PFL_OK);
	assert_int_equal(decode_spec(&(struct spec){"r", M_NEG, NULL}),
	                 PFL_ERR_PROTO);
	{
		static const struct spec bad[] = {
		        {"v", M_VAL, v_ver1},
		        {"v", M_VAL, v_ver2},
		        {"v", M_VAL, v_ver4},
		        {"t", M_VAL, v_type0},
		        {"t", M_VAL, v_type12},
		        {"fed", M_VAL, v_fed_space},
		        {"fed", M_VAL, v_fed_empty},
		        {"fed", M_VAL, v_fed_long},
		        {"sw", M_VAL, v_str_nul},
		        {"sw", M_VAL, v_str_long},
		        {"from", M_VAL, v_bin31},
		        {"n", M_VAL, v_bin31},
		        {"caps", M_VAL, v_u32max1},
		        {"caps", M_VAL, v_float},
		        {"sig", M_VAL, v_sig63},
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(decode_spec(&bad[i]), PFL_ERR_PROTO);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_field_rejections),
	};
	return cmocka_run_group_tests_name("msg_fields", tests, group_setup,
	                                   group_teardown);
}
