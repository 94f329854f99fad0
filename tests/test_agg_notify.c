/*
 * The aggregator's notifications (pfl_aggregator_set_notify), which pace
 * the simulator: a real aggregator over inproc:// with three library
 * clients, each stepped by its own thread. For every round the embedder
 * must hear that the round is drawing (everyone concerned), then that the
 * plans are ready, naming exactly the members, which are clients of ours;
 * and a client woken at that moment must get its plan at once.
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
#include <time.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/transport.h"

#include "agg_fixture.h"

#define ROUNDS  3
#define CLIENTS 3
#define MAX_EV  64

static char url[64];

struct event {
	enum pfl_agg_event ev;
	uint32_t n;
	uint8_t pks[CLIENTS][32];
};

struct recorder {
	pthread_mutex_t mu;
	struct event ev[MAX_EV];
	size_t count;
	size_t overflow;
};

static void
on_notify(void *arg, enum pfl_agg_event ev, const uint8_t (*members)[32],
          uint32_t n)
{
	struct recorder *rec = arg;

	pthread_mutex_lock(&rec->mu);
	if (rec->count < MAX_EV && n <= CLIENTS &&
	    (members != NULL || n == 0)) {
		struct event *e = &rec->ev[rec->count++];
		e->ev = ev;
		e->n = n;
		if (n > 0)
			memcpy(e->pks, members, (size_t)n * 32);
	} else {
		rec->overflow++;
	}
	pthread_mutex_unlock(&rec->mu);
}

static bool
is_ours(const uint8_t pk[32], struct pfl_identity *const *ids)
{
	for (int i = 0; i < CLIENTS; i++)
		if (memcmp(pk, pfl_identity_public(ids[i]), 32) == 0)
			return true;
	return false;
}

static void
test_notify_selecting_then_members(void **state)
{
	char out[64], err[PFL_CFG_ERRLEN], v[16];
	struct recorder rec;
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct client_thread ct[CLIENTS];
	struct pfl_identity *ids[CLIENTS];
	struct pfl_dataset ds;
	struct pfl_client_data data[CLIENTS];
	struct pfl_client_opts co;
	pthread_t ath, cth[CLIENTS];
	size_t selecting = 0, running = 0;
	int last = -1;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.mu, NULL);
	snprintf(url, sizeof(url), "inproc://test-notify-%ld", (long)getpid());
	snprintf(out, sizeof(out), "/tmp/pfl-notify-%ld", (long)getpid());

	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", url);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	snprintf(v, sizeof(v), "%d", ROUNDS);
	set(&cfg, "rounds", v);
	set(&cfg, "clients_per_round", "3");
	set(&cfg, "min_clients", "3");
	set(&cfg, "overselect", "1.0");
	set(&cfg, "population", "3");
	/* Short retry-afters: these client threads do not act on the
	 * notifications (the simulator does); the test checks the events. */
	set(&cfg, "checkin_interval_ms", "50");
	set(&cfg, "round_timeout_s", "30");
	assert_int_equal(pfl_agg_config_check(&cfg, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	pfl_aggregator_set_notify(at.a, on_notify, &rec);

	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &ds), PFL_OK);
	memset(&co, 0, sizeof(co));
	co.federation_id = "default";
	co.server_key = pfl_aggregator_public_key(at.a);
	pfl_wire_limits_default(&co.limits, 0);
	co.backoff_min_ms = 20;
	co.backoff_max_ms = 200;
	co.faults.dropout_phase = -1;
	for (int i = 0; i < CLIENTS; i++) {
		assert_int_equal(pfl_identity_generate(&ids[i]), PFL_OK);
		memset(&data[i], 0, sizeof(data[i]));
		data[i].ds = &ds;
		data[i].n = 200;
		co.seed = (uint64_t)i + 1;
		memset(&ct[i], 0, sizeof(ct[i]));
		ct[i].url = url;
		ct[i].max_wait_ms = 20;
		ct[i].rounds = ROUNDS;
		assert_int_equal(
		        pfl_client_new(&co, ids[i], &data[i], &ct[i].c),
		        PFL_OK);
	}
	assert_int_equal(pthread_create(&ath, NULL, agg_main, &at), 0);
	sleep_ms(20);
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(
		        pthread_create(&cth[i], NULL, client_main, &ct[i]), 0);
	assert_int_equal(pthread_join(ath, NULL), 0);
	assert_int_equal(at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(at.a), ROUNDS);
	for (int i = 0; i < CLIENTS; i++) {
		ct[i].stop = 1;
		assert_int_equal(pthread_join(cth[i], NULL), 0);
	}

	/* Every round: SELECTING (everyone), then RUNNING naming exactly
	 * the three members, all of them our clients, each once. */
	assert_int_equal(rec.overflow, 0);
	for (size_t i = 0; i < rec.count; i++) {
		const struct event *e = &rec.ev[i];
		if (e->ev == PFL_AGG_EV_SELECTING) {
			assert_int_equal(e->n, 0);
			selecting++;
		} else if (e->ev == PFL_AGG_EV_RUNNING) {
			assert_int_equal(last, PFL_AGG_EV_SELECTING);
			assert_int_equal(e->n, CLIENTS);
			for (uint32_t j = 0; j < e->n; j++) {
				assert_true(is_ours(e->pks[j], ids));
				for (uint32_t k = 0; k < j; k++)
					assert_memory_not_equal(e->pks[j],
					                        e->pks[k], 32);
			}
			running++;
		} else {
			fail_msg("a phase event without secure aggregation");
		}
		last = (int)e->ev;
	}
	assert_int_equal(running, ROUNDS);
	assert_true(selecting >= ROUNDS);

	for (int i = 0; i < CLIENTS; i++) {
		pfl_client_free(ct[i].c);
		pfl_identity_free(ids[i]);
	}
	pfl_aggregator_free(at.a);
	pfl_dataset_fini(&ds);
	pthread_mutex_destroy(&rec.mu);
	rm_rf(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_notify_selecting_then_members),
	};

	pfl_log_set_level(PFL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
