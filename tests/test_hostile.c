/*
 * End-to-end hostile input (issue #6): a real aggregator (allow-list and
 * revocation list from directories of .pub files) runs a few rounds over
 * inproc:// with one honest client training logistic regression on a slice
 * of Fashion-MNIST, while an attacker on a separate connection sends forged,
 * unknown, revoked, replayed, stale, foreign, truncated, oversized,
 * absurdly sized and mistyped messages. Each must be answered with a signed
 * ERROR from the aggregator (the oversized one with no answer at all), and
 * the honest client must still complete every round.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/msg.h"
#include "privfl/transport.h"

#include "agg_fixture.h"

#define ROUNDS     3
#define FED        "hostile-fed"
#define MAX_MSG_MB 1
#define N_SAMPLES  600

static char tmp[64], url[64];

static void
write_pub(const char *dir, const char *name, const struct pfl_identity *id)
{
	char path[160], line[PFL_PUBKEY_LINE_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	pfl_pubkey_format_line(pfl_identity_public(id), line);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(line, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A signed message of the given type from id (checkin body filled). */
static void
encode(const struct pfl_identity *id, enum pfl_msg_type type, const char *fed,
       uint64_t round, struct pfl_buf *out)
{
	struct pfl_msg m;

	pfl_msg_init(&m, type, fed, round, id);
	if (type == PFL_MSG_CHECKIN) {
		m.u.checkin.capabilities = 0;
		snprintf(m.u.checkin.software, sizeof(m.u.checkin.software),
		         "hostile-test");
	} else if (type == PFL_MSG_GET_MODEL) {
		m.u.get_model.offset = 0;
		m.u.get_model.count = 0;
	}
	pfl_buf_init(out, 0);
	assert_int_equal(pfl_msg_encode(&m, id, out), PFL_OK);
}

/*
 * Send bytes on conn; the reply must be a well-formed ERROR signed by the
 * aggregator. Returns its code; *round_out gets the reply's round.
 */
static uint32_t
expect_error(struct pfl_conn *conn, const uint8_t *agg_pk, const uint8_t *req,
             size_t len, const char *what, uint64_t *round_out)
{
	struct pfl_buf reply;
	struct pfl_msg m;
	pfl_err rv;

	pfl_buf_init(&reply, (size_t)MAX_MSG_MB << 20);
	rv = pfl_conn_call(conn, req, len, &reply);
	if (rv != PFL_OK)
		fail_msg("%s: no reply (%s)", what, pfl_strerror(rv));
	if (pfl_msg_decode(reply.data, reply.len, NULL, &m) != PFL_OK)
		fail_msg("%s: undecodable reply", what);
	assert_int_equal(pfl_msg_verify(&m), PFL_OK);
	assert_true(pfl_pubkey_equal(m.sender, agg_pk));
	if (m.type != PFL_MSG_ERROR)
		fail_msg("%s: got %s instead of an error", what,
		         pfl_msg_type_name(m.type));
	assert_string_equal(m.fed, FED);
	if (round_out != NULL)
		*round_out = m.round;
	pfl_buf_fini(&reply);
	return m.u.error.code;
}

/*
 * A reply that is not an ERROR (the legitimate first copy of a replay),
 * bound to the request it answers (its nonce and sender).
 */
static void
expect_accepted(struct pfl_conn *conn, const uint8_t *req, size_t len,
                uint64_t *round_out)
{
	struct pfl_buf reply;
	struct pfl_msg m, q;

	pfl_buf_init(&reply, (size_t)MAX_MSG_MB << 20);
	assert_int_equal(pfl_conn_call(conn, req, len, &reply), PFL_OK);
	assert_int_equal(pfl_msg_decode(reply.data, reply.len, NULL, &m),
	                 PFL_OK);
	assert_int_equal(pfl_msg_verify(&m), PFL_OK);
	assert_true(m.type == PFL_MSG_RETRY || m.type == PFL_MSG_PLAN);
	assert_int_equal(pfl_msg_decode(req, len, NULL, &q), PFL_OK);
	assert_true(pfl_msg_is_reply_to(&m, &q));
	*round_out = m.round;
	pfl_buf_fini(&reply);
}

/* Offset of the value of top-level key k (a fixstr) in an encoded message. */
static size_t
value_at(const struct pfl_buf *b, const char *k)
{
	size_t kl = strlen(k);

	for (size_t i = 0; i + 1 + kl < b->len; i++)
		if (b->data[i] == (uint8_t)(0xa0 | kl) &&
		    memcmp(b->data + i + 1, k, kl) == 0)
			return i + 1 + kl;
	fail_msg("key %s not found", k);
	return 0;
}

static void
test_hostile_inputs(void **state)
{
	char enrolled[96], revoked[96], out[96], v[32];
	struct pfl_identity *honest, *bad_rev, *unknown;
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct client_thread ct;
	struct pfl_dataset ds;
	struct pfl_client_data data;
	struct pfl_client_opts co;
	struct pfl_transport_opts to;
	struct pfl_conn *conn;
	struct pfl_buf b;
	pthread_t ath, cth;
	const uint8_t *agg_pk;
	uint64_t round = 0;
	uint32_t code;
	char err[PFL_CFG_ERRLEN];
	pfl_err rv;

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/pfl-hostile-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(enrolled, sizeof(enrolled), "%s/enrolled", tmp);
	snprintf(revoked, sizeof(revoked), "%s/revoked", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	assert_int_equal(mkdir(enrolled, 0700), 0);
	assert_int_equal(mkdir(revoked, 0700), 0);
	snprintf(url, sizeof(url), "inproc://test-hostile-%ld", (long)getpid());

	assert_int_equal(pfl_identity_generate(&honest), PFL_OK);
	assert_int_equal(pfl_identity_generate(&bad_rev), PFL_OK);
	assert_int_equal(pfl_identity_generate(&unknown), PFL_OK);
	write_pub(enrolled, "honest", honest);
	write_pub(enrolled, "revoked", bad_rev); /* enrolled, then revoked */
	write_pub(revoked, "revoked", bad_rev);

	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", url);
	set(&cfg, "federation_id", FED);
	set(&cfg, "enrolled_keys", enrolled);
	set(&cfg, "revoked_keys", revoked);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	snprintf(v, sizeof(v), "%d", ROUNDS);
	set(&cfg, "rounds", v);
	set(&cfg, "clients_per_round", "1");
	set(&cfg, "min_clients", "1");
	set(&cfg, "selection_window_ms", "200");
	set(&cfg, "checkin_interval_ms", "50");
	set(&cfg, "round_timeout_s", "20");
	snprintf(v, sizeof(v), "%d", MAX_MSG_MB);
	set(&cfg, "max_message_mb", v);
	assert_int_equal(pfl_agg_config_check(&cfg, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	agg_pk = pfl_aggregator_public_key(at.a);

	/* The honest client: 600 test-set images. */
	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &ds), PFL_OK);
	memset(&data, 0, sizeof(data));
	data.ds = &ds;
	data.n = N_SAMPLES;
	memset(&co, 0, sizeof(co));
	co.federation_id = FED;
	co.server_key = agg_pk;
	pfl_wire_limits_default(&co.limits, (size_t)MAX_MSG_MB << 20);
	co.seed = 1;
	co.backoff_min_ms = 20;
	co.backoff_max_ms = 200;
	co.faults.dropout_phase = -1;
	memset(&ct, 0, sizeof(ct));
	ct.url = url;
	ct.max_msg_bytes = (size_t)MAX_MSG_MB << 20;
	ct.max_wait_ms = 200;
	ct.rounds = ROUNDS;
	assert_int_equal(pfl_client_new(&co, honest, &data, &ct.c), PFL_OK);

	assert_int_equal(pthread_create(&ath, NULL, agg_main, &at), 0);
	assert_int_equal(pthread_create(&cth, NULL, client_main, &ct), 0);

	/* The attacker: larger messages allowed on its side, short timeout. */
	memset(&to, 0, sizeof(to));
	to.max_msg_bytes = (size_t)4 << 20;
	to.timeout_ms = 1500;
	assert_int_equal(pfl_conn_open(url, &to, &conn), PFL_OK);

	/* Replay: the first copy of an honest-key checkin is accepted... */
	encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
	for (int tries = 0;; tries++) {
		/* the listener may not be up yet */
		struct pfl_buf r;
		pfl_buf_init(&r, 1 << 20);
		rv = pfl_conn_call(conn, b.data, b.len, &r);
		pfl_buf_fini(&r);
		if (rv == PFL_OK || tries > 50)
			break;
		sleep_ms(100);
	}
	/* ...(that was it, or a timeout before the listener existed) */
	assert_int_equal(rv, PFL_OK);
	/* ...and the identical bytes again are refused. */
	code = expect_error(conn, agg_pk, b.data, b.len, "replay", &round);
	assert_int_equal(code, PFL_ERR_AUTH);
	pfl_buf_fini(&b);

	/* A fresh honest checkin is accepted (the key itself is fine). */
	encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
	expect_accepted(conn, b.data, b.len, &round);
	pfl_buf_fini(&b);

	/* Forged: a flipped signature bit; a modified signed byte. */
	encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
	b.data[b.len - 1] ^= 0x01;
	code = expect_error(conn, agg_pk, b.data, b.len, "forged sig", NULL);
	assert_int_equal(code, PFL_ERR_CRYPTO);
	pfl_buf_fini(&b);
	encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
	b.data[value_at(&b, "sw") + 1] ^= 0x02; /* "hostile" -> "jostile" */
	code = expect_error(conn, agg_pk, b.data, b.len, "forged body", NULL);
	assert_int_equal(code, PFL_ERR_CRYPTO);
	pfl_buf_fini(&b);

	/* Unknown key (validly signed, never enrolled). */
	encode(unknown, PFL_MSG_CHECKIN, FED, 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len, "unknown", NULL);
	assert_int_equal(code, PFL_ERR_AUTH);
	pfl_buf_fini(&b);

	/* Revoked key (in the allow-list and in the revocation list). */
	encode(bad_rev, PFL_MSG_CHECKIN, FED, 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len, "revoked", NULL);
	assert_int_equal(code, PFL_ERR_AUTH);
	pfl_buf_fini(&b);

	/* Wrong federation id. */
	encode(honest, PFL_MSG_CHECKIN, "other-fed", 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len, "wrong fed", NULL);
	assert_int_equal(code, PFL_ERR_AUTH);
	pfl_buf_fini(&b);

	/* A request for an earlier round than the one running. */
	encode(honest, PFL_MSG_GET_MODEL, FED, round > 0 ? round - 1 : 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len, "old round", NULL);
	assert_int_equal(code, PFL_ERR_STATE);
	pfl_buf_fini(&b);

	/* Truncated: half a valid message, and every short prefix. */
	encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len / 2, "truncated", NULL);
	assert_int_equal(code, PFL_ERR_PROTO);
	for (size_t n = 0; n < 24; n++) {
		code = expect_error(conn, agg_pk, b.data, n, "prefix", NULL);
		assert_true(code == PFL_ERR_PROTO || code == PFL_ERR_TOOBIG);
	}
	pfl_buf_fini(&b);

	/* Wrong types in fields (same length, so only the type is wrong). */
	{
		static const struct {
			const char *key;
			uint8_t byte;
		} muts[] = {
		        {"v", 0xc3},    /* true instead of 1 */
		        {"t", 0xc0},    /* nil instead of 1 */
		        {"r", 0xc2},    /* false instead of 0 */
		        {"from", 0xd9}, /* str8 instead of bin8 */
		        {"n", 0xd9},    /* str8 instead of bin8 */
		        {"sig", 0xd9},  /* str8 instead of bin8 */
		        {"caps", 0xc0}, /* nil instead of 0 */
		        {"sw", 0xc4},   /* bin8 header instead of a fixstr */
		};
		for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
			encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
			b.data[value_at(&b, muts[i].key)] = muts[i].byte;
			code = expect_error(conn, agg_pk, b.data, b.len,
			                    muts[i].key, NULL);
			if (code != PFL_ERR_PROTO)
				fail_msg("mistyped %s: code %u", muts[i].key,
				         code);
			pfl_buf_fini(&b);
		}
	}

	/* msgpack with absurd declared lengths. */
	{
		static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff,
		                                0xff, 0xa1, 'v',  0x01};
		static const uint8_t arr32[] = {0xdd, 0x7f, 0xff,
		                                0xff, 0xff, 0x00};
		static const uint8_t bin32[] = {0x81, 0xa1, 'v',  0xc6, 0xff,
		                                0xff, 0xff, 0xf0, 0x00, 0x00};
		static const uint8_t str32[] = {0x81, 0xdb, 0xff, 0xff,
		                                0xff, 0xff, 'a'};
		static const uint8_t ext32[] = {0x81, 0xa1, 'v',  0xc9, 0x80,
		                                0x00, 0x00, 0x00, 0x01, 0x00};
		const struct {
			const uint8_t *p;
			size_t n;
		} bad[] = {{map32, sizeof(map32)},
		           {arr32, sizeof(arr32)},
		           {bin32, sizeof(bin32)},
		           {str32, sizeof(str32)},
		           {ext32, sizeof(ext32)}};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			code = expect_error(conn, agg_pk, bad[i].p, bad[i].n,
			                    "absurd length", NULL);
			assert_true(code == PFL_ERR_PROTO ||
			            code == PFL_ERR_TOOBIG);
		}
		/* a valid envelope whose sw string claims 4 GiB */
		encode(honest, PFL_MSG_CHECKIN, FED, 0, &b);
		{
			size_t at_sw = value_at(&b, "sw");
			uint8_t big[512];
			assert_true(b.len + 4 < sizeof(big));
			memcpy(big, b.data, at_sw);
			big[at_sw] = 0xdb; /* str32 0xffffffff */
			memset(big + at_sw + 1, 0xff, 4);
			memcpy(big + at_sw + 5, b.data + at_sw + 1,
			       b.len - at_sw - 1);
			code = expect_error(conn, agg_pk, big, b.len + 4,
			                    "str32 in envelope", NULL);
			assert_true(code == PFL_ERR_PROTO ||
			            code == PFL_ERR_TOOBIG);
		}
		pfl_buf_fini(&b);
	}

	/* Oversized (2 MiB > max_message_mb): dropped, never answered. */
	{
		size_t n = (size_t)2 << 20;
		uint8_t *big = calloc(1, n);
		struct pfl_buf r;
		assert_non_null(big);
		pfl_buf_init(&r, 1 << 20);
		rv = pfl_conn_call(conn, big, n, &r);
		assert_int_not_equal(rv, PFL_OK);
		assert_int_equal(r.len, 0);
		pfl_buf_fini(&r);
		free(big);
	}
	/* The server still answers on a new connection afterwards. */
	pfl_conn_close(conn);
	assert_int_equal(pfl_conn_open(url, &to, &conn), PFL_OK);
	encode(unknown, PFL_MSG_CHECKIN, FED, 0, &b);
	code = expect_error(conn, agg_pk, b.data, b.len, "after oversized",
	                    NULL);
	assert_int_equal(code, PFL_ERR_AUTH);
	pfl_buf_fini(&b);
	pfl_conn_close(conn);

	/* The federation finishes every round with the honest client. */
	assert_int_equal(pthread_join(ath, NULL), 0);
	assert_int_equal(at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(at.a), ROUNDS);
	ct.stop = 1;
	assert_int_equal(pthread_join(cth, NULL), 0);
	assert_int_equal(ct.rv, PFL_OK);
	assert_int_equal(pfl_client_rounds_done(ct.c), ROUNDS);

	pfl_client_free(ct.c);
	pfl_aggregator_free(at.a);
	pfl_dataset_fini(&ds);
	pfl_identity_free(honest);
	pfl_identity_free(bad_rev);
	pfl_identity_free(unknown);
	rm_rf(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hostile_inputs),
	};

	pfl_log_set_level(PFL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
