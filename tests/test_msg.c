/* Message codec: round trips, signatures, and every malformed case. */
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

/* Encode, decode, verify; returns the decoded copy (pointing into buf). */
static void
roundtrip(const struct pfl_msg *m, struct pfl_buf *buf, struct pfl_msg *back)
{
	pfl_buf_init(buf, 0);
	assert_int_equal(pfl_msg_encode(m, id_a, buf), PFL_OK);
	memset(back, 0x5a, sizeof(*back));
	assert_int_equal(pfl_msg_decode(buf->data, buf->len, NULL, back),
	                 PFL_OK);
	assert_int_equal(pfl_msg_verify(back), PFL_OK);
	assert_int_equal(back->type, m->type);
	assert_int_equal(back->version, PFL_PROTO_VERSION);
	assert_string_equal(back->fed, m->fed);
	assert_true(back->round == m->round);
	assert_memory_equal(back->sender, pfl_identity_public(id_a), 32);
	assert_memory_equal(back->nonce, m->nonce, 16);
	assert_true(back->time_ms == m->time_ms);
	assert_ptr_equal(back->signed_ptr, buf->data);
	assert_true(back->signed_len < buf->len);
}

static void
test_envelope_init(void **state)
{
	struct pfl_msg a, b;
	(void)state;

	pfl_msg_init(&a, PFL_MSG_CHECKIN, "fed-1", 7, id_a);
	pfl_msg_init(&b, PFL_MSG_CHECKIN, "fed-1", 7, id_a);
	assert_string_equal(a.fed, "fed-1");
	assert_memory_not_equal(a.nonce, b.nonce, 16);
	assert_true(a.time_ms > 1600000000000ull);
	assert_memory_equal(a.sender, pfl_identity_public(id_a), 32);
	assert_string_equal(pfl_msg_type_name(PFL_MSG_PLAN), "plan");
	assert_string_equal(pfl_msg_type_name(PFL_MSG_ERROR), "error");
	assert_string_equal(pfl_msg_type_name((enum pfl_msg_type)0), "unknown");
	assert_string_equal(pfl_msg_type_name((enum pfl_msg_type)99),
	                    "unknown");
}

static void
test_rt_checkin(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_msg_init(&m, PFL_MSG_CHECKIN, "mnist.v2:eu-1", 0xfffffffffull,
	             id_a);
	m.u.checkin.capabilities = 0x80000001u;
	strcpy(m.u.checkin.software, "privfl/0.1.0 (linux; x86_64) ok");
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.checkin.capabilities, 0x80000001u);
	assert_string_equal(b.u.checkin.software, m.u.checkin.software);
	pfl_buf_fini(&buf);
}

static void
fill_plan(struct pfl_msg *m)
{
	struct pfl_msg_plan *p = &m->u.plan;

	pfl_msg_init(m, PFL_MSG_PLAN, "f", 3, id_a);
	strcpy(p->task, "train");
	strcpy(p->model, "mlp:200,200");
	p->num_params = 199210;
	for (int i = 0; i < 32; i++) {
		p->model_hash[i] = (uint8_t)i;
		p->sa_seed[i] = (uint8_t)(255 - i);
	}
	p->epochs = 2;
	p->batch = 32;
	p->lr = 0.05;
	p->momentum = 0.9;
	p->weight_decay = 1e-4;
	p->prox_mu = 0.01;
	p->clip_norm = 1.5;
	p->weight_cap = 1000;
	p->dp_mode = 2;
	p->noise_sigma = 0.123456789;
	p->quant_scale = 65536.0;
	p->adaptive_clip = true;
	p->sa_mode = 2;
	p->sa_id = 9;
	p->sa_n = 100;
	p->sa_t = 51;
	p->sa_k = 20;
	p->vector_len = 199212;
	p->deadline_ms = 60000;
}

static void
test_rt_plan(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	fill_plan(&m);
	roundtrip(&m, &buf, &b);
	assert_memory_equal(&b.u.plan, &m.u.plan, sizeof(m.u.plan));
	pfl_buf_fini(&buf);
}

static void
test_rt_small_types(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_msg_init(&m, PFL_MSG_RETRY, "f", 1, id_a);
	m.u.retry.retry_after_ms = 1234;
	strcpy(m.u.retry.reason, "cohort full");
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.retry.retry_after_ms, 1234);
	assert_string_equal(b.u.retry.reason, "cohort full");
	pfl_buf_fini(&buf);

	pfl_msg_init(&m, PFL_MSG_GET_MODEL, "f", 1, id_a);
	m.u.get_model.offset = 10;
	m.u.get_model.count = 0;
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.get_model.offset, 10);
	assert_int_equal(b.u.get_model.count, 0);
	pfl_buf_fini(&buf);

	pfl_msg_init(&m, PFL_MSG_ACK, "f", 1, id_a);
	m.u.ack.code = 17;
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.ack.code, 17);
	pfl_buf_fini(&buf);

	pfl_msg_init(&m, PFL_MSG_ERROR, "f", 1, id_a);
	m.u.error.code = PFL_ERR_AUTH;
	strcpy(m.u.error.text, "key pfl1:abc not enrolled");
	m.u.error.retry_after_ms = 0;
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.error.code, PFL_ERR_AUTH);
	assert_string_equal(b.u.error.text, m.u.error.text);
	pfl_buf_fini(&buf);
}

static void
test_rt_vectors(void **state)
{
	enum { N = 300000 };
	float *v = malloc(N * sizeof(float));
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	assert_non_null(v);
	for (int i = 0; i < N; i++)
		v[i] = (float)i * 0.5f - 7.0f;
	pfl_msg_init(&m, PFL_MSG_MODEL, "f", 4, id_a);
	strcpy(m.u.model.model, "cnn");
	m.u.model.num_params = N + 5;
	m.u.model.offset = 5;
	m.u.model.params = (const uint8_t *)v;
	m.u.model.params_len = N * sizeof(float);
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.model.num_params, N + 5);
	assert_int_equal(b.u.model.offset, 5);
	assert_int_equal(b.u.model.params_len, N * sizeof(float));
	assert_memory_equal(b.u.model.params, v, N * sizeof(float));
	/* zero-copy: the vector lies inside the received buffer */
	assert_true(b.u.model.params > buf.data &&
	            b.u.model.params < buf.data + buf.len);
	pfl_buf_fini(&buf);

	pfl_msg_init(&m, PFL_MSG_UPDATE, "f", 4, id_a);
	m.u.update.num_examples = 600;
	m.u.update.train_loss = -0.25;
	m.u.update.weight = 600;
	m.u.update.data = (const uint8_t *)v;
	m.u.update.data_len = 8;
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.update.num_examples, 600);
	assert_true(b.u.update.train_loss == -0.25);
	assert_true(b.u.update.weight == 600);
	assert_int_equal(b.u.update.data_len, 8);
	assert_memory_equal(b.u.update.data, v, 8);
	pfl_buf_fini(&buf);

	/* empty vector */
	m.u.update.data = NULL;
	m.u.update.data_len = 0;
	roundtrip(&m, &buf, &b);
	assert_int_equal(b.u.update.data_len, 0);
	pfl_buf_fini(&buf);

	for (int t = PFL_MSG_SA_SUBMIT; t <= PFL_MSG_SA_DATA; t++) {
		pfl_msg_init(&m, (enum pfl_msg_type)t, "f", 4, id_a);
		m.u.sa.phase = 3;
		m.u.sa.payload = (const uint8_t *)"abc";
		m.u.sa.payload_len = 3;
		roundtrip(&m, &buf, &b);
		assert_int_equal(b.u.sa.phase, 3);
		assert_int_equal(b.u.sa.payload_len, 3);
		assert_memory_equal(b.u.sa.payload, "abc", 3);
		pfl_buf_fini(&buf);
	}
	free(v);
}

/*
 * The digest a plan uses to name the round's MODEL message: the receiver's
 * (from the signature check) equals the sender's (from encoding), it is
 * the BLAKE2b-512 the signature covers, cut to 32 bytes, and one changed
 * parameter gives another digest.
 */
/*
 * Version 2: a reply bound to its request carries "re" and "to" under its
 * signature; it answers that request only, and half a binding is refused.
 */
static void
test_reply_binding(void **state)
{
	struct pfl_msg req, req2, rep, back, other;
	struct pfl_buf buf;
	size_t i;
	(void)state;

	pfl_msg_init(&req, PFL_MSG_CHECKIN, "fed", 0, id_b);
	pfl_msg_init(&rep, PFL_MSG_ACK, "fed", 3, id_a);
	roundtrip(&rep, &buf, &back);
	assert_false(back.bound);
	assert_false(pfl_msg_is_reply_to(&back, &req)); /* unbound */
	pfl_buf_fini(&buf);

	pfl_msg_bind_reply(&rep, &req);
	roundtrip(&rep, &buf, &back);
	assert_true(back.bound);
	assert_memory_equal(back.reply_to, req.nonce, PFL_NONCE_BYTES);
	assert_memory_equal(back.recipient, req.sender, PFL_SIGN_PK_BYTES);
	assert_true(pfl_msg_is_reply_to(&back, &req));
	pfl_msg_init(&req2, PFL_MSG_CHECKIN, "fed", 0, id_b); /* new nonce */
	assert_false(pfl_msg_is_reply_to(&back, &req2));
	other = req;
	memcpy(other.sender, pfl_identity_public(id_a), PFL_SIGN_PK_BYTES);
	assert_false(pfl_msg_is_reply_to(&back, &other)); /* another client */

	/* "to" renamed "tx" (same length): "re" alone is malformed */
	for (i = 0; i + 3 <= buf.len; i++)
		if (memcmp(buf.data + i, "\xa2to\xc4\x20", 5) == 0)
			break;
	assert_true(i + 3 <= buf.len);
	buf.data[i + 2] = 'x';
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &back),
	                 PFL_ERR_PROTO);
	pfl_buf_fini(&buf);
}

static void
test_digest_names_the_message(void **state)
{
	float v[64];
	uint8_t d_rx[PFL_MSG_DIGEST_BYTES], d_tx[PFL_MSG_DIGEST_BYTES],
	        d_other[PFL_MSG_DIGEST_BYTES], full[64];
	struct pfl_msg m, b;
	struct pfl_buf buf, buf2;
	(void)state;

	for (int i = 0; i < 64; i++)
		v[i] = (float)i / 8.0f;
	pfl_msg_init(&m, PFL_MSG_MODEL, "f", 9, id_a);
	strcpy(m.u.model.model, "logreg");
	m.u.model.num_params = 64;
	m.u.model.params = (const uint8_t *)v;
	m.u.model.params_len = sizeof(v);
	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_msg_encode_digest(&m, id_a, &buf, d_tx), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b), PFL_OK);
	memset(d_rx, 0xee, sizeof(d_rx));
	assert_int_equal(pfl_msg_verify_digest(&b, d_rx), PFL_OK);
	assert_memory_equal(d_rx, d_tx, PFL_MSG_DIGEST_BYTES);
	crypto_generichash(full, 64, b.signed_ptr, b.signed_len, NULL, 0);
	assert_memory_equal(d_rx, full, PFL_MSG_DIGEST_BYTES);

	v[17] += 1.0f; /* same envelope, one parameter changed */
	pfl_buf_init(&buf2, 0);
	assert_int_equal(pfl_msg_encode_digest(&m, id_a, &buf2, d_other),
	                 PFL_OK);
	assert_memory_not_equal(d_other, d_tx, PFL_MSG_DIGEST_BYTES);

	/* a flipped parameter bit fails the check and leaves the digest
	 * unwritten */
	assert_int_equal(pfl_msg_decode(buf2.data, buf2.len, NULL, &b), PFL_OK);
	buf2.data[(size_t)(b.u.model.params - buf2.data) + 70] ^= 0x01;
	assert_int_equal(pfl_msg_decode(buf2.data, buf2.len, NULL, &b), PFL_OK);
	memset(d_rx, 0xee, sizeof(d_rx));
	assert_int_equal(pfl_msg_verify_digest(&b, d_rx), PFL_ERR_CRYPTO);
	for (size_t i = 0; i < sizeof(d_rx); i++)
		assert_int_equal(d_rx[i], 0xee);
	pfl_buf_fini(&buf);
	pfl_buf_fini(&buf2);
}

static void
test_encode_appends(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_buf_append(&buf, "XYZ", 3), PFL_OK);
	pfl_msg_init(&m, PFL_MSG_ACK, "f", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_memory_equal(buf.data, "XYZ", 3);
	assert_int_equal(pfl_msg_decode(buf.data + 3, buf.len - 3, NULL, &b),
	                 PFL_OK);
	assert_int_equal(pfl_msg_verify(&b), PFL_OK);
	/* a bounded buffer that is too small: error, length restored */
	pfl_buf_fini(&buf);
	pfl_buf_init(&buf, 40);
	assert_int_equal(pfl_buf_append(&buf, "XYZ", 3), PFL_OK);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_TOOBIG);
	assert_int_equal(buf.len, 3);
	pfl_buf_fini(&buf);
}

static void
test_encode_rejects(void **state)
{
	struct pfl_msg m;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	pfl_msg_init(&m, PFL_MSG_ACK, "bad fed", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	pfl_msg_init(&m, PFL_MSG_ACK, "", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	pfl_msg_init(&m, PFL_MSG_ACK, "f", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_b, &buf), PFL_ERR_INVAL);
	m.type = (enum pfl_msg_type)0;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	m.type = PFL_MSG__COUNT;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	fill_plan(&m);
	m.u.plan.lr = NAN;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	fill_plan(&m);
	m.u.plan.clip_norm = -1;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	fill_plan(&m);
	m.u.plan.dp_mode = 4;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	fill_plan(&m);
	memset(m.u.plan.task, 'x', sizeof(m.u.plan.task));
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	pfl_msg_init(&m, PFL_MSG_RETRY, "f", 1, id_a);
	strcpy(m.u.retry.reason, "line\nbreak");
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	pfl_msg_init(&m, PFL_MSG_UPDATE, "f", 1, id_a);
	m.u.update.data_len = 4;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	m.u.update.data = (const uint8_t *)"abcdef";
	m.u.update.data_len = 6;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_ERR_INVAL);
	assert_int_equal(buf.len, 0);
	pfl_buf_fini(&buf);
}

/* Every single-bit flip is caught by the decoder or by the signature. */
static void
test_bitflips(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	size_t caught_decode = 0, caught_sig = 0;
	(void)state;

	pfl_buf_init(&buf, 0);
	pfl_msg_init(&m, PFL_MSG_ERROR, "f", 1, id_a);
	m.u.error.code = 3;
	strcpy(m.u.error.text, "x");
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	for (size_t i = 0; i < buf.len * 8; i++) {
		buf.data[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (pfl_msg_decode(buf.data, buf.len, NULL, &b) != PFL_OK)
			caught_decode++;
		else if (pfl_msg_verify(&b) != PFL_OK)
			caught_sig++;
		else
			fail_msg("bit %zu flipped and still accepted", i);
		buf.data[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_true(caught_decode > 0 && caught_sig > 0);
	assert_int_equal(caught_decode + caught_sig, buf.len * 8);
	pfl_buf_fini(&buf);
}

static void
test_truncated_and_trailing(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	fill_plan(&m);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	for (size_t n = 0; n < buf.len; n++)
		assert_int_equal(pfl_msg_decode(buf.data, n, NULL, &b),
		                 PFL_ERR_PROTO);
	assert_int_equal(pfl_buf_append(&buf, "\xc0", 1), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
	                 PFL_ERR_PROTO);
	/* two messages back to back */
	buf.len--;
	{
		size_t one = buf.len;
		assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
		assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
		                 PFL_ERR_PROTO);
		assert_int_equal(pfl_msg_decode(buf.data, one, NULL, &b),
		                 PFL_OK);
	}
	pfl_buf_fini(&buf);
}

static void
test_absurd_lengths(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} cases[] = {
	        {"\xdd\xff\xff\xff\xff", 5},              /* array32 4G */
	        {"\xdf\xff\xff\xff\xff", 5},              /* map32 4G */
	        {"\xde\xff\xff", 3},                      /* map16 64K */
	        {"\x81\xa1v\xdd\xff\xff\xff\xff", 8},     /* nested array32 */
	        {"\x81\xa1v\xc6\xff\xff\xff\xff", 8},     /* bin32 4G */
	        {"\x81\xa1v\xdb\x7f\xff\xff\xff", 8},     /* str32 2G */
	        {"\x81\xa1v\xc9\xff\xff\xff\xff\x01", 9}, /* ext32 */
	        {"\x81\xa1v\xc1", 4},                     /* never-used byte */
	        {"\x81\xa1v", 3},                         /* missing value */
	        {"\x92\x01\x02", 3},                      /* top level array */
	        {"\x01", 1},                              /* top level int */
	        {"", 0},
	};
	struct pfl_msg b;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(pfl_msg_decode((const uint8_t *)cases[i].bytes,
		                                cases[i].len, NULL, &b),
		                 PFL_ERR_PROTO);
	assert_int_equal(pfl_msg_decode(NULL, 0, NULL, &b), PFL_ERR_INVAL);
}

static void
test_depth_and_object_limits(void **state)
{
	uint8_t deep[64], wide[4096];
	struct pfl_msg b;
	size_t n = 0;
	(void)state;

	/* {"x": {"x": {"x": ... }}} nested 20 deep */
	for (int i = 0; i < 20; i++) {
		deep[n++] = 0x81;
		deep[n++] = 0xa1;
		deep[n++] = 'x';
	}
	deep[n++] = 0xc0;
	assert_int_equal(pfl_msg_decode(deep, n, NULL, &b), PFL_ERR_PROTO);
	/* {"x": [nil x 2000]}: more objects than allowed */
	n = 0;
	wide[n++] = 0x81;
	wide[n++] = 0xa1;
	wide[n++] = 'x';
	wide[n++] = 0xdc;
	wide[n++] = 2000 >> 8;
	wide[n++] = 2000 & 0xff;
	memset(wide + n, 0xc0, 2000);
	n += 2000;
	assert_int_equal(pfl_msg_decode(wide, n, NULL, &b), PFL_ERR_TOOBIG);
}

/* The sig entry must be the last one: a field after it is not signed. */
static void
test_sig_not_last(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	pfl_msg_init(&m, PFL_MSG_ACK, "f", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_int_equal(buf.data[0], 0x89); /* fixmap, 9 entries */
	buf.data[0] = 0x8a;
	assert_int_equal(pfl_buf_append(&buf, "\xa2zz\x01", 4), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
	                 PFL_ERR_PROTO);
	pfl_buf_fini(&buf);
}

static void
test_forged_sender(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	pfl_msg_init(&m, PFL_MSG_CHECKIN, "f", 1, id_a);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b), PFL_OK);
	memcpy(b.sender, pfl_identity_public(id_b), 32);
	assert_int_equal(pfl_msg_verify(&b), PFL_ERR_CRYPTO);
	/* patch the sender field in the bytes: the signature no longer fits */
	{
		uint8_t *p = NULL;
		for (size_t i = 0; i + 32 <= buf.len && p == NULL; i++)
			if (memcmp(buf.data + i, pfl_identity_public(id_a),
			           32) == 0)
				p = buf.data + i;
		assert_non_null(p);
		memcpy(p, pfl_identity_public(id_b), 32);
		assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
		                 PFL_OK);
		assert_int_equal(pfl_msg_verify(&b), PFL_ERR_CRYPTO);
	}
	assert_int_equal(pfl_msg_verify(NULL), PFL_ERR_INVAL);
	pfl_buf_fini(&buf);
}

static void
test_limits(void **state)
{
	struct pfl_wire_limits lim;
	uint8_t data[4096] = {0};
	struct pfl_msg m, b;
	struct pfl_buf buf;
	(void)state;

	pfl_buf_init(&buf, 0);
	pfl_msg_init(&m, PFL_MSG_UPDATE, "f", 1, id_a);
	m.u.update.data = data;
	m.u.update.data_len = sizeof(data);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	pfl_wire_limits_default(&lim, buf.len);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, &lim, &b), PFL_OK);
	lim.max_msg_bytes = buf.len - 1;
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, &lim, &b),
	                 PFL_ERR_TOOBIG);
	pfl_wire_limits_default(&lim, 0);
	lim.max_vector_bytes = sizeof(data) - 4;
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, &lim, &b),
	                 PFL_ERR_TOOBIG);
	lim.max_vector_bytes = sizeof(data);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, &lim, &b), PFL_OK);
	pfl_buf_clear(&buf);

	pfl_msg_init(&m, PFL_MSG_SA_SUBMIT, "f", 1, id_a);
	m.u.sa.payload = data;
	m.u.sa.payload_len = 100;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	pfl_wire_limits_default(&lim, 0);
	lim.max_payload_bytes = 99;
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, &lim, &b),
	                 PFL_ERR_TOOBIG);
	pfl_buf_fini(&buf);
}

static void
test_semantic_rejections(void **state)
{
	struct pfl_msg m, b;
	struct pfl_buf buf;
	float v[4] = {0};
	(void)state;

	pfl_buf_init(&buf, 0);
	/* a model slice past num_params */
	pfl_msg_init(&m, PFL_MSG_MODEL, "f", 1, id_a);
	m.u.model.num_params = 5;
	m.u.model.offset = 2;
	m.u.model.params = (const uint8_t *)v;
	m.u.model.params_len = sizeof(v);
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
	                 PFL_ERR_PROTO);
	pfl_buf_clear(&buf);
	m.u.model.num_params = 6;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b), PFL_OK);
	pfl_buf_clear(&buf);
	/* threshold above n */
	fill_plan(&m);
	m.u.plan.sa_t = 101;
	assert_int_equal(pfl_msg_encode(&m, id_a, &buf), PFL_OK);
	assert_int_equal(pfl_msg_decode(buf.data, buf.len, NULL, &b),
	                 PFL_ERR_PROTO);
	pfl_buf_fini(&buf);
}

/* ---- known answers: the exact bytes of version 3 (tests/vectors/proto) ----
 */

static size_t
read_hex_vector(const char *name, uint8_t *out, size_t cap)
{
	char path[512], hex[8192];
	const char *dir = getenv("PFL_SOURCE_DIR");
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/vectors/proto/%s",
	         dir ? dir : ".", name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(hex, sizeof(hex), f));
	fclose(f);
	hex[strcspn(hex, "\r\n")] = '\0';
	assert_int_equal(
	        sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

static void
kat_check(const char *name, const struct pfl_msg *m,
          const struct pfl_identity *id)
{
	uint8_t want[4096], tbs[14 + 64];
	size_t n = read_hex_vector(name, want, sizeof(want)), sig_off;
	struct pfl_buf buf;
	struct pfl_msg b;

	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_msg_encode(m, id, &buf), PFL_OK);
	assert_int_equal(buf.len, n);
	assert_memory_equal(buf.data, want, n);
	assert_int_equal(pfl_msg_decode(want, n, NULL, &b), PFL_OK);
	assert_int_equal(pfl_msg_verify(&b), PFL_OK);
	/* the signature construction, recomputed from its specification */
	sig_off = n - 4 - 2 - 64;
	assert_memory_equal(want + sig_off, "\xa3sig\xc4\x40", 6);
	assert_int_equal(b.signed_len, sig_off);
	memcpy(tbs, "privfl-msg-v1", 14);
	crypto_generichash(tbs + 14, 64, want, sig_off, NULL, 0);
	assert_int_equal(crypto_sign_verify_detached(want + n - 64, tbs,
	                                             sizeof(tbs),
	                                             pfl_identity_public(id)),
	                 0);
	pfl_buf_fini(&buf);
}

static void
test_known_answers(void **state)
{
	uint8_t seed[32];
	float v[3] = {1.0f, -2.5f, 0.125f};
	struct pfl_identity *id = NULL;
	struct pfl_msg m;
	(void)state;

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(100 + i);
	assert_int_equal(pfl_identity_from_seed(seed, &id), PFL_OK);
	pfl_msg_init(&m, PFL_MSG_ACK, "demo", 7, id);
	for (int i = 0; i < 16; i++)
		m.nonce[i] = (uint8_t)i;
	m.time_ms = 1700000000000ull;
	m.bound = true; /* a reply: to nonce 10 11 .. 1f of key 20 21 .. 3f */
	for (int i = 0; i < 16; i++)
		m.reply_to[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 32; i++)
		m.recipient[i] = (uint8_t)(0x20 + i);
	kat_check("ack-v3.hex", &m, id);

	pfl_msg_init(&m, PFL_MSG_UPDATE, "demo", 7, id);
	for (int i = 0; i < 16; i++)
		m.nonce[i] = (uint8_t)i;
	m.time_ms = 1700000000000ull;
	m.u.update.num_examples = 600;
	m.u.update.train_loss = 0.5;
	m.u.update.weight = 600;
	m.u.update.data = (const uint8_t *)v;
	m.u.update.data_len = sizeof(v);
	kat_check("update-v3.hex", &m, id);
	pfl_identity_free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_envelope_init),
	        cmocka_unit_test(test_rt_checkin),
	        cmocka_unit_test(test_digest_names_the_message),
	        cmocka_unit_test(test_reply_binding),
	        cmocka_unit_test(test_rt_plan),
	        cmocka_unit_test(test_rt_small_types),
	        cmocka_unit_test(test_rt_vectors),
	        cmocka_unit_test(test_encode_appends),
	        cmocka_unit_test(test_encode_rejects),
	        cmocka_unit_test(test_bitflips),
	        cmocka_unit_test(test_truncated_and_trailing),
	        cmocka_unit_test(test_absurd_lengths),
	        cmocka_unit_test(test_depth_and_object_limits),
	        cmocka_unit_test(test_sig_not_last),
	        cmocka_unit_test(test_forged_sender),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_semantic_rejections),
	        cmocka_unit_test(test_known_answers),
	};
	return cmocka_run_group_tests_name("msg", tests, group_setup,
	                                   group_teardown);
}
