/* pfl_client_run_settings: a client from settings by name (client_run.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "privfl/client_run.h"
#include "privfl/clock.h"
#include "privfl/log.h"

static const char *const unused_keys[] = {"data", "shard", "shards",
                                          "csv_stats", "csv_label"};

struct run {
	const struct pfl_client_run_opts *o;
	struct pfl_client_config cfg;
	struct pfl_identity *id;
	struct pfl_conn *conn;
	struct pfl_client *c;
	struct pfl_client_data data;
	uint8_t server_pk[32], auth_pk[32];
	volatile sig_atomic_t stop_local;
	volatile sig_atomic_t *stop;
	atomic_int done; /* the watcher ends */
};

static void
seterr(const struct pfl_client_run_opts *o, const char *msg)
{
	if (o->err != NULL && o->errlen > 0)
		snprintf(o->err, o->errlen, "%s", msg);
}

static pfl_err
apply_settings(struct run *r)
{
	const struct pfl_client_run_opts *o = r->o;
	char err[PFL_CFG_ERRLEN] = "";
	pfl_err rv;

	if ((rv = pfl_client_config_init(&r->cfg, err, sizeof(err))) != PFL_OK)
		goto out;
	for (size_t i = 0; i < o->nsettings; i++) {
		for (size_t k = 0;
		     k < sizeof(unused_keys) / sizeof(*unused_keys); k++)
			if (strcmp(o->keys[i], unused_keys[k]) == 0) {
				snprintf(err, sizeof(err),
				         "%s: not a setting here (the trainer "
				         "reads its own data)",
				         o->keys[i]);
				rv = PFL_ERR_CONFIG;
				goto out;
			}
		rv = pfl_cfg_set(pfl_client_config_table,
		                 pfl_client_config_table_len, &r->cfg,
		                 o->keys[i], o->values[i], err, sizeof(err));
		if (rv != PFL_OK)
			goto out;
	}
	rv = pfl_cfg_validate(pfl_client_config_table,
	                      pfl_client_config_table_len, &r->cfg, err,
	                      sizeof(err));
	if (rv == PFL_OK &&
	    !pfl_log_set_level_name(r->cfg.log_level, err, sizeof(err)))
		rv = PFL_ERR_CONFIG;
out:
	if (rv != PFL_OK)
		seterr(o, err);
	return rv;
}

/* As privfl-client: pinned by key, by a TLS CA, or insecure (tests). */
static pfl_err
pinning(struct run *r, struct pfl_client_opts *co)
{
	const struct pfl_client_config *cfg = &r->cfg;
	pfl_err rv;

	if (cfg->server_key[0] != '\0') {
		rv = pfl_pubkey_load(cfg->server_key, r->server_pk);
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "server_key %s: %s",
			        cfg->server_key, pfl_strerror(rv));
			return rv;
		}
		co->server_key = r->server_pk;
	} else if (strncmp(cfg->server, "tls+tcp://", 10) == 0 &&
	           cfg->tls_ca_file[0] != '\0') {
		co->insecure = true;
	} else if (cfg->insecure) {
		pfl_log(PFL_LOG_ERROR,
		        "INSECURE: no server_key and no TLS CA (tests only)");
		co->insecure = true;
	} else {
		seterr(r->o, "the aggregator is not pinned: set server_key, "
		             "or tls+tcp:// with tls_ca_file");
		return PFL_ERR_CONFIG;
	}
	if (cfg->sa_authority_key[0] != '\0') {
		rv = pfl_pubkey_load(cfg->sa_authority_key, r->auth_pk);
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "sa_authority_key %s: %s",
			        cfg->sa_authority_key, pfl_strerror(rv));
			return rv;
		}
		co->sa_authority_key = r->auth_pk;
	}
	return PFL_OK;
}

static pfl_err
connect_client(struct run *r)
{
	const struct pfl_client_config *cfg = &r->cfg;
	struct pfl_client_opts co;
	struct pfl_transport_opts to;
	pfl_err rv;

	memset(&co, 0, sizeof(co));
	memset(&to, 0, sizeof(to));
	if ((rv = pinning(r, &co)) != PFL_OK)
		return rv;
	pfl_client_config_policy(cfg, &co.policy);
	if (cfg->identity_dir[0] != '\0')
		rv = pfl_identity_load(cfg->identity_dir, &r->id);
	else
		rv = pfl_identity_generate(&r->id);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "identity %s: %s", cfg->identity_dir,
		        pfl_strerror(rv));
		return rv;
	}
	co.federation_id = cfg->federation_id;
	pfl_wire_limits_default(&co.limits, (size_t)cfg->max_message_mb << 20);
	co.seed = cfg->seed ? (uint64_t)cfg->seed : randombytes_random();
	co.backoff_min_ms = cfg->backoff_min_ms;
	co.backoff_max_ms = cfg->backoff_max_ms;
	co.faults.dropout_phase = -1;
	co.layout_digest = r->o->layout_digest;
	to.max_msg_bytes = co.limits.max_msg_bytes;
	to.timeout_ms = (int)cfg->request_timeout_ms;
	if (cfg->tls_ca_file[0] != '\0')
		to.tls_ca_file = cfg->tls_ca_file;
	if (cfg->tls_server_name[0] != '\0')
		to.tls_server_name = cfg->tls_server_name;
	if ((rv = pfl_conn_open(cfg->server, &to, &r->conn)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot reach %s: %s", cfg->server,
		        pfl_strerror(rv));
		return rv;
	}
	return pfl_client_new(&co, r->id, &r->data, &r->c);
}

/* Closes the connection once *stop is set: a blocked request ends. */
static void *
watch_stop(void *arg)
{
	struct run *r = arg;

	while (!atomic_load(&r->done)) {
		if (*r->stop) {
			pfl_conn_abort(r->conn);
			break;
		}
		pfl_sleep_ms(50);
	}
	return NULL;
}

static pfl_err
loop(struct run *r)
{
	int64_t maxr = r->cfg.max_rounds;
	pfl_err rv = PFL_OK;

	while (!*r->stop) {
		int64_t wait = 0;
		if ((rv = pfl_client_step(r->c, r->conn, r->o->trainer,
		                          &wait)) != PFL_OK)
			break;
		if (maxr > 0 && !pfl_client_is_busy(r->c) &&
		    pfl_client_rounds_released(r->c) >= (uint64_t)maxr)
			break;
		while (wait > 0 && !*r->stop) {
			int64_t s = wait < 100 ? wait : 100;
			pfl_sleep_ms(s);
			wait -= s;
		}
	}
	pfl_log(PFL_LOG_INFO,
	        "stopping after %llu updates (%llu rounds released with them)",
	        (unsigned long long)pfl_client_rounds_done(r->c),
	        (unsigned long long)pfl_client_rounds_released(r->c));
	return rv;
}

pfl_err
pfl_client_run_settings(const struct pfl_client_run_opts *o)
{
	struct run r;
	pthread_t thr;
	bool watching = false;
	pfl_err rv;

	if (o == NULL || o->trainer == NULL || o->trainer->train == NULL ||
	    (o->nsettings > 0 && (o->keys == NULL || o->values == NULL)))
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.stop = o->stop != NULL ? o->stop : &r.stop_local;
	if ((rv = apply_settings(&r)) != PFL_OK)
		goto out;
	if ((rv = connect_client(&r)) != PFL_OK)
		goto out;
	pfl_log(PFL_LOG_INFO, "joining %s at %s", r.cfg.federation_id,
	        r.cfg.server);
	watching = pthread_create(&thr, NULL, watch_stop, &r) == 0;
	rv = loop(&r);
out:
	if (watching) {
		atomic_store(&r.done, 1);
		pthread_join(thr, NULL);
	}
	pfl_client_free(r.c);
	pfl_conn_close(r.conn);
	pfl_identity_free(r.id);
	pfl_client_config_fini(&r.cfg);
	return rv;
}
