/* privfl-client: the on-device daemon (see docs/CLIENT.md). */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/client.h"
#include "privfl/clock.h"
#include "privfl/csv.h"
#include "privfl/log.h"
#include "privfl/sig.h"

static volatile sig_atomic_t stop_flag;

/*
 * SIGTERM/SIGINT only set stop_flag; a request blocked waiting for an
 * unreachable aggregator could hold the daemon for request_timeout_ms.
 * This thread closes the connection as soon as the flag is set, so that
 * the request fails at once and the loop ends.
 */
struct watcher {
	struct pfl_conn *conn;
	volatile int done;
};

static void *
watch_stop(void *arg)
{
	struct watcher *w = arg;

	while (!w->done) {
		if (stop_flag) {
			pfl_conn_abort(w->conn);
			break;
		}
		pfl_sleep_ms(50);
	}
	return NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl-client [--config FILE] [--SETTING VALUE "
	           "...]\n\nTakes part in a federation with local data that "
	           "never leaves this machine.\n\nsettings:\n");
	pfl_cfg_print_help(pfl_client_config_table, pfl_client_config_table_len,
	                   f);
	fprintf(f, "\nexit status: 0 stopped (SIGTERM/SIGINT or max_rounds), "
	           "1 error, 2 usage\n");
}

static bool
is_csv(const char *path)
{
	size_t len = strlen(path);

	return len > 4 && strcmp(path + len - 4, ".csv") == 0;
}

/* CSV data, encoded with the federation's statistics (csv_stats). */
static pfl_err
load_csv(const struct pfl_client_config *cfg, struct pfl_dataset *ds)
{
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rv;

	if (cfg->csv_stats[0] == '\0') {
		pfl_log(PFL_LOG_ERROR,
		        "data %s: CSV data needs csv_stats, the federation's "
		        "preprocessing statistics (privfl data stats), so that "
		        "every device encodes its rows alike",
		        cfg->data);
		return PFL_ERR_CONFIG;
	}
	rv = pfl_csv_load_prepared(cfg->csv_stats, cfg->csv_label, cfg->data,
	                           ds, err, sizeof(err));
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "data: %s",
		        err[0] ? err : pfl_strerror(rv));
	return rv;
}

static pfl_err
load_data(const struct pfl_client_config *cfg, struct pfl_dataset *ds,
          uint32_t **idx, size_t *n)
{
	const char *d = cfg->data;
	pfl_err rv;

	if (is_csv(d)) {
		if ((rv = load_csv(cfg, ds)) != PFL_OK)
			return rv;
	} else if ((rv = pfl_dataset_load_fmnist(
	                    strcmp(d, "fashion-mnist") == 0 ? NULL : d, true,
	                    ds)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "data %s: %s", d, pfl_strerror(rv));
		return rv;
	}
	if ((*idx = malloc(ds->n / (size_t)cfg->shards * 4 + 4)) == NULL)
		return PFL_ERR_NOMEM;
	*n = 0;
	for (size_t i = (size_t)cfg->shard; i < ds->n; i += (size_t)cfg->shards)
		(*idx)[(*n)++] = (uint32_t)i;
	if (*n == 0) {
		pfl_log(PFL_LOG_ERROR, "data %s: shard %lld of %lld is empty",
		        d, (long long)cfg->shard, (long long)cfg->shards);
		return PFL_ERR_CONFIG;
	}
	pfl_log(PFL_LOG_INFO, "local data: %zu examples (shard %lld of %lld)",
	        *n, (long long)cfg->shard, (long long)cfg->shards);
	return PFL_OK;
}

/*
 * The client talks only to a server it has pinned: by key (server_key), or
 * by a TLS certificate from a CA it names; insecure is for tests, loudly.
 */
static pfl_err
check_pinning(const struct pfl_client_config *cfg, struct pfl_client_opts *o)
{
	if (cfg->server_key[0] != '\0')
		return PFL_OK;
	if (strncmp(cfg->server, "tls+tcp://", 10) == 0 &&
	    cfg->tls_ca_file[0] != '\0') {
		pfl_log(PFL_LOG_INFO,
		        "no server_key: the aggregator is "
		        "authenticated by its TLS certificate only");
		o->insecure = true;
		return PFL_OK;
	}
	if (cfg->insecure) {
		pfl_log(PFL_LOG_ERROR,
		        "INSECURE: no server_key and no TLS CA; anyone on the "
		        "network can impersonate the aggregator and receive "
		        "this client's updates (insecure = true, tests only)");
		o->insecure = true;
		return PFL_OK;
	}
	pfl_log(PFL_LOG_ERROR,
	        "refusing to start: the aggregator is not pinned; set "
	        "server_key, or use tls+tcp:// with tls_ca_file "
	        "(insecure = true only for tests)");
	return PFL_ERR_CONFIG;
}

static pfl_err
run(const struct pfl_client_config *cfg)
{
	struct pfl_identity *id = NULL;
	struct pfl_dataset ds;
	struct pfl_client_data data;
	struct pfl_client_opts o;
	struct pfl_transport_opts to;
	struct pfl_client *c = NULL;
	struct pfl_conn *conn = NULL;
	struct pfl_trainer tr = {0};
	struct watcher watcher = {NULL, 0};
	pthread_t wthr;
	bool watching = false;
	uint8_t server_pk[32], auth_pk[32];
	uint32_t *idx = NULL;
	size_t n = 0;
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv;

	memset(&ds, 0, sizeof(ds));
	memset(&o, 0, sizeof(o));
	memset(&to, 0, sizeof(to));
	if ((rv = check_pinning(cfg, &o)) != PFL_OK)
		goto out;
	pfl_client_config_policy(cfg, &o.policy);
	if (cfg->identity_dir[0] != '\0')
		rv = pfl_identity_load(cfg->identity_dir, &id);
	else
		rv = pfl_identity_generate(&id);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "identity %s: %s", cfg->identity_dir,
		        pfl_strerror(rv));
		goto out;
	}
	pfl_key_fingerprint(pfl_identity_public(id), fp);
	pfl_log(PFL_LOG_INFO, "client key %s", fp);
	if (cfg->server_key[0] != '\0') {
		if ((rv = pfl_pubkey_load(cfg->server_key, server_pk)) !=
		    PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "server_key %s: %s",
			        cfg->server_key, pfl_strerror(rv));
			goto out;
		}
		o.server_key = server_pk;
	}
	if (cfg->sa_authority_key[0] != '\0') {
		if ((rv = pfl_pubkey_load(cfg->sa_authority_key, auth_pk)) !=
		    PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "sa_authority_key %s: %s",
			        cfg->sa_authority_key, pfl_strerror(rv));
			goto out;
		}
		o.sa_authority_key = auth_pk;
	}
	if (cfg->shard >= cfg->shards) {
		pfl_log(PFL_LOG_ERROR, "shard must be below shards");
		rv = PFL_ERR_CONFIG;
		goto out;
	}
	if ((rv = load_data(cfg, &ds, &idx, &n)) != PFL_OK)
		goto out;
	data.ds = &ds;
	data.idx = idx;
	data.n = n;
	data.user = NULL;
	o.federation_id = cfg->federation_id;
	o.limits.max_msg_bytes = (size_t)cfg->max_message_mb << 20;
	o.limits.max_vector_bytes = o.limits.max_msg_bytes;
	o.limits.max_payload_bytes = o.limits.max_msg_bytes;
	o.seed = cfg->seed ? (uint64_t)cfg->seed : randombytes_random();
	o.backoff_min_ms = cfg->backoff_min_ms;
	o.backoff_max_ms = cfg->backoff_max_ms;
	o.faults.dropout_phase = -1;
	to.max_msg_bytes = o.limits.max_msg_bytes;
	to.timeout_ms = (int)cfg->request_timeout_ms;
	if (cfg->tls_ca_file[0] != '\0')
		to.tls_ca_file = cfg->tls_ca_file;
	if (cfg->tls_server_name[0] != '\0')
		to.tls_server_name = cfg->tls_server_name;
	if ((rv = pfl_conn_open(cfg->server, &to, &conn)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot reach %s: %s", cfg->server,
		        pfl_strerror(rv));
		goto out;
	}
	if ((rv = pfl_client_new(&o, id, &data, &c)) != PFL_OK)
		goto out;
	if ((rv = pfl_trainer_model_init(&tr)) != PFL_OK)
		goto out;
	pfl_log(PFL_LOG_INFO, "joining %s at %s", cfg->federation_id,
	        cfg->server);
	watcher.conn = conn;
	watching = pthread_create(&wthr, NULL, watch_stop, &watcher) == 0;
	while (!stop_flag) {
		int64_t wait = 0;
		uint64_t before = pfl_client_rounds_done(c);
		if ((rv = pfl_client_step(c, conn, &tr, &wait)) != PFL_OK)
			break;
		if (pfl_client_rounds_done(c) != before)
			pfl_log(PFL_LOG_INFO, "update delivered (%llu so far)",
			        (unsigned long long)pfl_client_rounds_done(c));
		/* max_rounds counts rounds released with our update, as the
		 * aggregator confirms them, not updates sent into rounds that
		 * may still be abandoned. */
		if (cfg->max_rounds > 0 && !pfl_client_is_busy(c) &&
		    pfl_client_rounds_released(c) >= (uint64_t)cfg->max_rounds)
			break;
		while (wait > 0 && !stop_flag) {
			int64_t s = wait < 200 ? wait : 200;
			pfl_sleep_ms(s);
			wait -= s;
		}
	}
	pfl_log(PFL_LOG_INFO,
	        "stopping after %llu updates (%llu rounds released with them)",
	        (unsigned long long)(c ? pfl_client_rounds_done(c) : 0),
	        (unsigned long long)(c ? pfl_client_rounds_released(c) : 0));
out:
	if (watching) {
		watcher.done = 1;
		pthread_join(wthr, NULL);
	}
	pfl_client_free(c);
	pfl_trainer_model_fini(&tr);
	pfl_conn_close(conn);
	pfl_dataset_fini(&ds);
	free(idx);
	pfl_identity_free(id);
	return rv;
}

int
main(int argc, char **argv)
{
	struct pfl_client_config cfg;
	char err[PFL_CFG_ERRLEN] = "";
	pfl_err rv;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--config-markdown")) {
		pfl_cfg_print_markdown(pfl_client_config_table,
		                       pfl_client_config_table_len,
		                       "privfl-client", stdout);
		return 0;
	}
	if (sodium_init() < 0)
		return 1;
	if (pfl_client_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_cfg_load_cli(pfl_client_config_table,
	                     pfl_client_config_table_len, &cfg, argc, argv, err,
	                     sizeof(err)) != PFL_OK ||
	    pfl_cfg_validate(pfl_client_config_table,
	                     pfl_client_config_table_len, &cfg, err,
	                     sizeof(err)) != PFL_OK)
		goto out_usage;
	if (!pfl_log_set_level_name(cfg.log_level, err, sizeof(err)))
		goto out_usage;
	pfl_signal_install(SIGINT, on_signal);
	pfl_signal_install(SIGTERM, on_signal);
	pfl_signal_install(SIGPIPE, NULL);
	rv = run(&cfg);
	pfl_client_config_fini(&cfg);
	return rv == PFL_OK ? 0 : 1;
out_usage:
	fprintf(stderr, "privfl-client: %s\n(try --help)\n", err);
	pfl_client_config_fini(&cfg);
	return 2;
}
