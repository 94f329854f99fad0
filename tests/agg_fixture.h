/*
 * Shared by the tests that run a real aggregator in-process over inproc://
 * (test_hostile, test_agg_notify, test_agg_nan): the aggregator's thread,
 * library clients stepped by threads of their own, config setting, sleeps
 * and clean-up. Include after cmocka.h.
 */
#ifndef PRIVFL_TEST_AGG_FIXTURE_H
#define PRIVFL_TEST_AGG_FIXTURE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/transport.h"

struct agg_thread {
	struct pfl_aggregator *a;
	pfl_err rv;
};

/* A client stepped until it delivered `rounds` updates or `stop`. */
struct client_thread {
	struct pfl_client *c;
	const char *url;
	size_t max_msg_bytes; /* 0: the transport's default */
	int64_t max_wait_ms;  /* cap on each retry-after slept */
	uint64_t rounds;
	atomic_int stop; /* set by the test's thread, read by the client's */
	pfl_err rv;
};

static inline void
sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static inline void *
agg_main(void *arg)
{
	struct agg_thread *t = arg;

	t->rv = pfl_aggregator_run(t->a);
	return NULL;
}

static inline void *
client_main(void *arg)
{
	struct client_thread *t = arg;
	struct pfl_transport_opts to;
	struct pfl_trainer tr;
	struct pfl_conn *conn = NULL;

	memset(&to, 0, sizeof(to));
	to.max_msg_bytes = t->max_msg_bytes;
	to.timeout_ms = 5000;
	if ((t->rv = pfl_conn_open(t->url, &to, &conn)) != PFL_OK)
		return NULL;
	if ((t->rv = pfl_trainer_model_init(&tr)) != PFL_OK) {
		pfl_conn_close(conn);
		return NULL;
	}
	while (!t->stop && pfl_client_rounds_done(t->c) < t->rounds) {
		int64_t wait = 0;
		if ((t->rv = pfl_client_step(t->c, conn, &tr, &wait)) != PFL_OK)
			break;
		if (wait > t->max_wait_ms)
			wait = t->max_wait_ms;
		if (wait > 0)
			sleep_ms(wait);
	}
	pfl_trainer_model_fini(&tr);
	pfl_conn_close(conn);
	return NULL;
}

/* Set an aggregator setting; fails the test on a refused value. */
static inline void
set(struct pfl_agg_config *c, const char *k, const char *v)
{
	char err[PFL_CFG_ERRLEN];

	if (pfl_cfg_set(pfl_agg_config_table, pfl_agg_config_table_len, c, k, v,
	                err, sizeof(err)) != PFL_OK)
		fail_msg("setting %s=%s: %s", k, v, err);
}

static inline void
rm_rf(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

#endif
