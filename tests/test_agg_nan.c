/*
 * A plain update with a NaN (or an infinity) is refused by a running
 * aggregator with a clear error, leaves no trace in the sum, and the same
 * member can still send a good update that completes the round. The
 * member here is hand-driven over inproc:// (check-in, plan, model,
 * updates), as a buggy or hostile client would be.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/msg.h"
#include "privfl/safetensors.h"
#include "privfl/transport.h"

#include "agg_fixture.h"

static char url[64], out[64];

/* Send m signed by id; decode and verify the reply into r (its pointers
 * point into *rep). */
static void
call(struct pfl_conn *conn, const struct pfl_identity *id,
     const struct pfl_msg *m, struct pfl_buf *rep, struct pfl_msg *r)
{
	struct pfl_buf req;

	pfl_buf_init(&req, 0);
	assert_int_equal(pfl_msg_encode(m, id, &req), PFL_OK);
	pfl_buf_clear(rep);
	assert_int_equal(pfl_conn_call(conn, req.data, req.len, rep), PFL_OK);
	pfl_buf_fini(&req);
	assert_int_equal(pfl_msg_decode(rep->data, rep->len, NULL, r), PFL_OK);
	assert_int_equal(pfl_msg_verify(r), PFL_OK);
}

static void
send_update(struct pfl_conn *conn, const struct pfl_identity *id,
            uint64_t round, const float *v, uint32_t n, struct pfl_buf *rep,
            struct pfl_msg *r)
{
	uint8_t *le = malloc((size_t)n * 4);
	struct pfl_msg m;

	assert_non_null(le);
	for (uint32_t i = 0; i < n; i++) { /* float32 little-endian */
		uint32_t w;
		memcpy(&w, &v[i], 4);
		for (int b = 0; b < 4; b++)
			le[4 * i + (uint32_t)b] = (uint8_t)(w >> (8 * b));
	}
	pfl_msg_init(&m, PFL_MSG_UPDATE, "default", round, id);
	m.u.update.num_examples = 10;
	m.u.update.train_loss = 1.0;
	m.u.update.weight = 1.0;
	m.u.update.data = le;
	m.u.update.data_len = (size_t)n * 4;
	call(conn, id, &m, rep, r);
	free(le);
}

static void
test_nan_update_refused(void **state)
{
	char err[PFL_CFG_ERRLEN], path[128];
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct pfl_identity *id;
	struct pfl_transport_opts to;
	struct pfl_conn *conn;
	struct pfl_buf rep;
	struct pfl_msg m, r;
	struct pfl_model_spec spec;
	float *v, *before, *after = NULL;
	size_t np = 0;
	uint32_t n;
	uint64_t round = 0;
	pthread_t ath;
	const float bad[3] = {NAN, INFINITY, -INFINITY};

	(void)state;
	snprintf(url, sizeof(url), "inproc://test-nan-%ld", (long)getpid());
	snprintf(out, sizeof(out), "/tmp/pfl-nan-%ld", (long)getpid());
	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", url);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	set(&cfg, "rounds", "1");
	set(&cfg, "clients_per_round", "1");
	set(&cfg, "min_clients", "1");
	set(&cfg, "overselect", "1.0");
	set(&cfg, "population", "1");
	set(&cfg, "checkin_interval_ms", "20");
	set(&cfg, "round_timeout_s", "30");
	assert_int_equal(pfl_agg_config_check(&cfg, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	assert_int_equal(pthread_create(&ath, NULL, agg_main, &at), 0);

	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	memset(&to, 0, sizeof(to));
	to.timeout_ms = 5000;
	sleep_ms(20);
	assert_int_equal(pfl_conn_open(url, &to, &conn), PFL_OK);
	pfl_buf_init(&rep, 0);

	/* Check in until the plan comes (the only client: always drawn). */
	for (int i = 0; i < 500; i++) {
		pfl_msg_init(&m, PFL_MSG_CHECKIN, "default", 0, id);
		snprintf(m.u.checkin.software, sizeof(m.u.checkin.software),
		         "nan-test");
		call(conn, id, &m, &rep, &r);
		if (r.type == PFL_MSG_PLAN)
			break;
		sleep_ms(10);
	}
	assert_int_equal(r.type, PFL_MSG_PLAN);
	round = r.round;
	n = r.u.plan.vector_len;
	np = r.u.plan.num_params;
	/* the parameters, the weight slot and the evaluation slots (zero
	 * ones are "no evaluation") */
	assert_true(n == np + 1 + (r.u.plan.eval_cap ? PFL_EVAL_SLOTS : 0));

	/* The model of the round: the starting point to compare with. */
	pfl_msg_init(&m, PFL_MSG_GET_MODEL, "default", round, id);
	call(conn, id, &m, &rep, &r);
	assert_int_equal(r.type, PFL_MSG_MODEL);
	assert_int_equal(r.u.model.params_len, np * 4);
	before = malloc(np * 4);
	v = calloc(n, sizeof(float));
	assert_non_null(before);
	assert_non_null(v);
	for (size_t i = 0; i < np; i++) { /* float32 little-endian */
		const uint8_t *b = r.u.model.params + 4 * i;
		uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		             (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(&before[i], &w, 4);
	}

	/* A NaN, +Inf or -Inf anywhere: refused, with a reason. */
	for (int k = 0; k < 3; k++) {
		size_t at_i = k == 0 ? 0 : (k == 1 ? np / 2 : np - 1);
		memset(v, 0, n * sizeof(float));
		v[np] = 1.0f;
		v[at_i] = bad[k];
		send_update(conn, id, round, v, n, &rep, &r);
		assert_int_equal(r.type, PFL_MSG_ERROR);
		assert_int_equal(r.u.error.code, PFL_ERR_PROTO);
		assert_non_null(strstr(r.u.error.text, "non-finite"));
	}
	/* A good update (+0.5 on one weight, weight 1) completes it. */
	memset(v, 0, n * sizeof(float));
	v[3] = 0.5f;
	v[np] = 1.0f;
	send_update(conn, id, round, v, n, &rep, &r);
	assert_int_equal(r.type, PFL_MSG_ACK);

	assert_int_equal(pthread_join(ath, NULL), 0);
	assert_int_equal(at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(at.a), 1);

	/* No trace of the refused updates: the released model is the
	 * starting one plus the good update, exactly (FedAvg, one result of
	 * weight 1, server learning rate 1). */
	snprintf(path, sizeof(path), "%s/model.safetensors", out);
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 28, 28, 10, &spec),
	                 PFL_OK);
	assert_non_null(after = malloc(np * sizeof(float)));
	assert_int_equal(pfl_safetensors_load(&spec, path, after), PFL_OK);
	for (size_t i = 0; i < np; i++) {
		float want = i == 3 ? before[i] + 0.5f : before[i];
		assert_true(isfinite(after[i]) && after[i] == want);
	}

	free(after);
	free(before);
	free(v);
	pfl_buf_fini(&rep);
	pfl_conn_close(conn);
	pfl_identity_free(id);
	pfl_aggregator_free(at.a);
	rm_rf(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_nan_update_refused),
	};

	pfl_log_set_level(PFL_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
