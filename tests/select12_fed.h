/*
 * A federation for the selection tests (issue #12): a real aggregator on
 * its own thread listening on a Unix socket (ipc://), and up to
 * SEL_MAX_CLIENTS library clients, each on a thread of its own with its
 * own connection, training logreg on Fashion-MNIST. Log lines are
 * captured so that tests can assert on what the aggregator said. Include
 * after cmocka.h and agg_fixture.h.
 */
#ifndef PRIVFL_TEST_SELECT12_FED_H
#define PRIVFL_TEST_SELECT12_FED_H

#include <unistd.h>

#include "privfl/dataset.h"
#include "privfl/log.h"

#define SEL_MAX_CLIENTS 8

struct sel_fed {
	char url[96];
	char out[64];
	int nclients;
	struct agg_thread at;
	struct client_thread ct[SEL_MAX_CLIENTS];
	struct pfl_identity *ids[SEL_MAX_CLIENTS];
	struct pfl_client_data data[SEL_MAX_CLIENTS];
	struct pfl_dataset ds;
	pthread_t ath;
	pthread_t cth[SEL_MAX_CLIENTS];
};

static char sel_logged[1 << 16];
/* Set before sel_fed_start to watch the round's events. */
static pfl_agg_notify_fn sel_notify;
static void *sel_notify_arg;
/* The running aggregator (its lock is held in a notify callback). */
static struct pfl_aggregator *sel_agg;
static pthread_mutex_t sel_log_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void
sel_log_capture(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&sel_log_mu);
	if (strlen(sel_logged) + strlen(line) + 2 < sizeof(sel_logged)) {
		strcat(sel_logged, line);
		strcat(sel_logged, "\n");
	}
	pthread_mutex_unlock(&sel_log_mu);
}

/* How many captured lines contain needle. */
static inline int
sel_log_count(const char *needle)
{
	int n = 0;
	const char *p;

	pthread_mutex_lock(&sel_log_mu);
	for (p = sel_logged; (p = strstr(p, needle)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&sel_log_mu);
	return n;
}

/*
 * An aggregator with kv on top of a small-federation base (logreg, no
 * test data, checkin_interval 50 ms), running; nclients clients ready
 * (started by sel_fed_clients). Captures the log at info level.
 */
static inline void
sel_fed_start(struct sel_fed *f, const char *tag, int nclients,
              const char *const *kv)
{
	static int serial;
	char err[PFL_CFG_ERRLEN];
	struct pfl_agg_config cfg;
	struct pfl_client_opts co;

	memset(f, 0, sizeof(*f));
	assert_true(nclients <= SEL_MAX_CLIENTS);
	f->nclients = nclients;
	serial++;
	snprintf(f->url, sizeof(f->url), "ipc:///tmp/pfl-%s-%ld-%d.ipc", tag,
	         (long)getpid(), serial);
	snprintf(f->out, sizeof(f->out), "/tmp/pfl-%s-%ld-%d", tag,
	         (long)getpid(), serial);
	rm_rf(f->out);
	sel_logged[0] = '\0';
	/* SEL12_LOG=debug: everything to stderr instead (debugging) */
	if (getenv("SEL12_LOG") == NULL) {
		pfl_log_set_sink(sel_log_capture, NULL);
		pfl_log_set_level(PFL_LOG_INFO);
	} else {
		pfl_log_set_level(PFL_LOG_DEBUG);
	}
	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", f->url);
	set(&cfg, "out_dir", f->out);
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	set(&cfg, "checkin_interval_ms", "50");
	set(&cfg, "round_timeout_s", "60");
	set(&cfg, "phase_timeout_s", "60");
	for (int i = 0; kv[i] != NULL; i += 2)
		set(&cfg, kv[i], kv[i + 1]);
	if (pfl_agg_config_check(&cfg, err, sizeof(err)) != PFL_OK)
		fail_msg("config: %s", err);
	assert_int_equal(pfl_aggregator_new(&cfg, &f->at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &f->ds), PFL_OK);
	memset(&co, 0, sizeof(co));
	co.federation_id = "default";
	co.server_key = pfl_aggregator_public_key(f->at.a);
	pfl_wire_limits_default(&co.limits, 0);
	co.backoff_min_ms = 20;
	co.backoff_max_ms = 200;
	co.faults.dropout_phase = -1;
	for (int i = 0; i < nclients; i++) {
		assert_int_equal(pfl_identity_generate(&f->ids[i]), PFL_OK);
		f->data[i].ds = &f->ds;
		f->data[i].n = 200;
		co.seed = (uint64_t)i + 1;
		f->ct[i].url = f->url;
		f->ct[i].max_wait_ms = 5000;
		f->ct[i].rounds = 1000;
		assert_int_equal(pfl_client_new(&co, f->ids[i], &f->data[i],
		                                &f->ct[i].c),
		                 PFL_OK);
	}
	sel_agg = f->at.a;
	if (sel_notify != NULL)
		pfl_aggregator_set_notify(f->at.a, sel_notify, sel_notify_arg);
	assert_int_equal(pthread_create(&f->ath, NULL, agg_main, &f->at), 0);
}

static inline void
sel_fed_clients(struct sel_fed *f)
{
	for (int i = 0; i < f->nclients; i++)
		assert_int_equal(pthread_create(&f->cth[i], NULL, client_main,
		                                &f->ct[i]),
		                 0);
}

/* Wait for the aggregator to end (its `rounds`); stop the clients. */
static inline void
sel_fed_join(struct sel_fed *f)
{
	assert_int_equal(pthread_join(f->ath, NULL), 0);
	for (int i = 0; i < f->nclients; i++) {
		f->ct[i].stop = 1;
		assert_int_equal(pthread_join(f->cth[i], NULL), 0);
	}
	pfl_log_set_sink(NULL, NULL);
}

static inline void
sel_fed_free(struct sel_fed *f)
{
	for (int i = 0; i < f->nclients; i++) {
		pfl_client_free(f->ct[i].c);
		pfl_identity_free(f->ids[i]);
	}
	pfl_aggregator_free(f->at.a);
	pfl_dataset_fini(&f->ds);
	rm_rf(f->out);
}

#endif
