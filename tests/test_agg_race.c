/*
 * Issue #11, item 14: the aggregator's threads under ThreadSanitizer.
 *
 * A real aggregator over inproc:// with central differential privacy: it
 * adds the noise to each round's sum while finishing the round, as many
 * clients as rounds allow are idle and check in every few milliseconds,
 * and every idle reply carries a jittered retry-after. Before the fix the
 * finishing thread drew the noise from the generator that the transport
 * workers drew the jitter from, outside the lock: a data race on the
 * ChaCha20 state, reported by the TSan build (make test-tsan). In the
 * other builds the test checks that such a run completes.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/transport.h"

#include "agg_fixture.h"

#define ROUNDS  6
#define CLIENTS 8

static void
test_central_noise_while_idle_clients_check_in(void **state)
{
	char url[64], out[64], err[PFL_CFG_ERRLEN], v[16];
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct client_thread ct[CLIENTS];
	struct pfl_identity *ids[CLIENTS];
	struct pfl_dataset ds;
	struct pfl_client_data data[CLIENTS];
	struct pfl_client_opts co;
	pthread_t ath, cth[CLIENTS];

	(void)state;
	snprintf(url, sizeof(url), "inproc://test-agg-race-%ld",
	         (long)getpid());
	snprintf(out, sizeof(out), "/tmp/pfl-agg-race-%ld", (long)getpid());

	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", url);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	snprintf(v, sizeof(v), "%d", ROUNDS);
	set(&cfg, "rounds", v);
	/* Two of eight drawn a round: the other six are idle. */
	set(&cfg, "clients_per_round", "2");
	set(&cfg, "min_clients", "1");
	snprintf(v, sizeof(v), "%d", CLIENTS);
	set(&cfg, "population", v);
	set(&cfg, "dp_mode", "central");
	set(&cfg, "noise_multiplier", "1.0");
	set(&cfg, "clip_norm", "1.0");
	set(&cfg, "epsilon_budget", "0");
	set(&cfg, "checkin_interval_ms", "5");
	set(&cfg, "client_rate", "100000"); /* no rate-limit refusals */
	set(&cfg, "round_timeout_s", "30");
	assert_int_equal(pfl_agg_config_check(&cfg, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);

	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &ds), PFL_OK);
	memset(&co, 0, sizeof(co));
	co.federation_id = "default";
	co.server_key = pfl_aggregator_public_key(at.a);
	pfl_wire_limits_default(&co.limits, 0);
	co.backoff_min_ms = 5;
	co.backoff_max_ms = 50;
	co.faults.dropout_phase = -1;
	for (int i = 0; i < CLIENTS; i++) {
		assert_int_equal(pfl_identity_generate(&ids[i]), PFL_OK);
		memset(&data[i], 0, sizeof(data[i]));
		data[i].ds = &ds;
		data[i].n = 100;
		co.seed = (uint64_t)i + 1;
		memset(&ct[i], 0, sizeof(ct[i]));
		ct[i].url = url;
		ct[i].max_wait_ms = 5; /* idle clients come back at once */
		ct[i].rounds = UINT64_MAX;
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
	for (int i = 0; i < CLIENTS; i++) {
		atomic_store(&ct[i].stop, 1);
		assert_int_equal(pthread_join(cth[i], NULL), 0);
	}
	assert_int_equal(at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(at.a), ROUNDS);

	for (int i = 0; i < CLIENTS; i++) {
		pfl_client_free(ct[i].c);
		pfl_identity_free(ids[i]);
	}
	pfl_aggregator_free(at.a);
	pfl_dataset_fini(&ds);
	rm_rf(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(
	                test_central_noise_while_idle_clients_check_in),
	};

	pfl_log_set_level(PFL_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
