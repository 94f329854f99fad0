/*
 * The client daemon's loop, in the library: privfl-client, the Python
 * package and embedders all run this one (pfl_client_run_config, and
 * pfl_client_run over a client and connection of one's own).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "privfl/clock.h"
#include "privfl/log.h"

/* Longest a wait between steps runs on after *stop is set. */
#define STOP_POLL_MS 50

/*
 * The step loop. max_rounds counts rounds released with this client's
 * update, as the aggregator confirms them, not updates sent into rounds
 * that may still be abandoned; 0 = no limit.
 */
static pfl_err
loop(struct pfl_client *c, struct pfl_conn *conn, const struct pfl_trainer *tr,
     volatile sig_atomic_t *stop, uint64_t max_rounds, bool verbose)
{
	while (!*stop) {
		int64_t wait = 0;
		uint64_t before = pfl_client_rounds_done(c);
		uint64_t rel = pfl_client_rounds_released(c);
		pfl_err rv = pfl_client_step(c, conn, tr, &wait);

		if (rv != PFL_OK)
			return rv;
		if (verbose && pfl_client_rounds_done(c) != before)
			pfl_log(PFL_LOG_INFO, "update delivered (%llu so far)",
			        (unsigned long long)pfl_client_rounds_done(c));
		if (verbose && pfl_client_rounds_released(c) != rel)
			pfl_log(PFL_LOG_INFO,
			        "round %llu released with this client's update "
			        "(%llu so far)",
			        (unsigned long long)c->last_released,
			        (unsigned long long)pfl_client_rounds_released(
			                c));
		if (max_rounds > 0 && !pfl_client_is_busy(c) &&
		    pfl_client_rounds_released(c) >= max_rounds)
			return PFL_OK;
		while (wait > 0 && !*stop) {
			int64_t s = wait < STOP_POLL_MS ? wait : STOP_POLL_MS;
			pfl_sleep_ms(s);
			wait -= s;
		}
	}
	return PFL_OK;
}

pfl_err
pfl_client_run(struct pfl_client *c, struct pfl_conn *conn,
               const struct pfl_trainer *tr, volatile sig_atomic_t *stop)
{
	pfl_err rv;

	/* a request waiting for an aggregator that is gone ends at *stop
	 * too, not at its timeout (issue #14: stop within 1 s) */
	pfl_conn_set_stop(conn, stop);
	rv = loop(c, conn, tr, stop, 0, false);
	pfl_conn_set_stop(conn, NULL);
	return rv;
}

/*
 * *stop is set by a signal handler or another thread; a request blocked
 * waiting for an unreachable aggregator could hold the loop for
 * request_timeout_ms. This thread closes the connection as soon as *stop
 * is set, so that the request fails at once and the loop ends.
 */
struct watcher {
	struct pfl_conn *conn;
	volatile sig_atomic_t *stop;
	atomic_int done;
};

static void *
watch_stop(void *arg)
{
	struct watcher *w = arg;

	while (!atomic_load(&w->done)) {
		if (*w->stop) {
			pfl_conn_abort(w->conn);
			break;
		}
		pfl_sleep_ms(STOP_POLL_MS);
	}
	return NULL;
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

/* Everything pfl_client_run_config holds, freed by run_fini. */
struct run {
	struct pfl_identity *id;
	struct pfli_local_data local;
	struct pfl_client_data data;
	struct pfl_client_opts o;
	struct pfl_transport_opts to;
	struct pfl_client *c;
	struct pfl_conn *conn;
	struct pfl_trainer builtin;
	uint8_t server_pk[32];
	uint8_t auth_pk[32];
};

static pfl_err
load_keys(const struct pfl_client_config *cfg, struct run *r)
{
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv;

	if ((rv = check_pinning(cfg, &r->o)) != PFL_OK)
		return rv;
	if (cfg->identity_dir[0] != '\0')
		rv = pfl_identity_load(cfg->identity_dir, &r->id);
	else
		rv = pfl_identity_generate(&r->id);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "identity %s: %s", cfg->identity_dir,
		        pfl_strerror(rv));
		return rv;
	}
	pfl_key_fingerprint(pfl_identity_public(r->id), fp);
	pfl_log(PFL_LOG_INFO, "client key %s", fp);
	if (cfg->server_key[0] != '\0') {
		if ((rv = pfl_pubkey_load(cfg->server_key, r->server_pk)) !=
		    PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "server_key %s: %s",
			        cfg->server_key, pfl_strerror(rv));
			return rv;
		}
		r->o.server_key = r->server_pk;
	}
	if (cfg->sa_authority_key[0] != '\0') {
		if ((rv = pfl_pubkey_load(cfg->sa_authority_key, r->auth_pk)) !=
		    PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "sa_authority_key %s: %s",
			        cfg->sa_authority_key, pfl_strerror(rv));
			return rv;
		}
		r->o.sa_authority_key = r->auth_pk;
	}
	return PFL_OK;
}

static pfl_err
random_seed(uint64_t *seed)
{
	struct pfl_csprng *rng = NULL;
	pfl_err rv = pfl_csprng_new(NULL, &rng);

	if (rv != PFL_OK)
		return rv;
	*seed = pfl_csprng_u64(rng) >> 12;
	pfl_csprng_free(rng);
	return PFL_OK;
}

/* The client's and the connection's options from the settings. */
static pfl_err
fill_opts(const struct pfl_client_config *cfg, struct run *r)
{
	struct pfl_client_opts *o = &r->o;
	struct pfl_transport_opts *to = &r->to;

	pfl_client_config_policy(cfg, &o->policy);
	o->federation_id = cfg->federation_id;
	o->limits.max_msg_bytes = (size_t)cfg->max_message_mb << 20;
	o->limits.max_vector_bytes = o->limits.max_msg_bytes;
	o->limits.max_payload_bytes = o->limits.max_msg_bytes;
	o->backoff_min_ms = cfg->backoff_min_ms;
	o->backoff_max_ms = cfg->backoff_max_ms;
	o->faults.dropout_phase = -1;
	o->layout_digest = cfg->layout_digest;
	to->max_msg_bytes = o->limits.max_msg_bytes;
	to->timeout_ms = (int)cfg->request_timeout_ms;
	if (cfg->tls_ca_file[0] != '\0')
		to->tls_ca_file = cfg->tls_ca_file;
	if (cfg->tls_server_name[0] != '\0')
		to->tls_server_name = cfg->tls_server_name;
	o->seed = (uint64_t)cfg->seed;
	return cfg->seed ? PFL_OK : random_seed(&o->seed);
}

static void
run_fini(struct run *r)
{
	pfl_client_free(r->c);
	pfl_trainer_model_fini(&r->builtin);
	pfl_conn_close(r->conn);
	pfli_local_data_fini(&r->local);
	pfl_identity_free(r->id);
}

/* Connect and loop, with the watcher thread aborting on *stop. */
static pfl_err
serve(const struct pfl_client_config *cfg, struct run *r,
      const struct pfl_trainer *tr, volatile sig_atomic_t *stop)
{
	struct watcher w;
	pthread_t thr;
	bool watching;
	pfl_err rv;

	pfl_log(PFL_LOG_INFO, "joining %s at %s", cfg->federation_id,
	        cfg->server);
	w.conn = r->conn;
	w.stop = stop;
	atomic_init(&w.done, 0);
	watching = pthread_create(&thr, NULL, watch_stop, &w) == 0;
	rv = loop(r->c, r->conn, tr, stop,
	          cfg->max_rounds > 0 ? (uint64_t)cfg->max_rounds : 0, true);
	if (watching) {
		atomic_store(&w.done, 1);
		pthread_join(thr, NULL);
	}
	pfl_log(PFL_LOG_INFO,
	        "stopping after %llu updates (%llu rounds released with them)",
	        (unsigned long long)pfl_client_rounds_done(r->c),
	        (unsigned long long)pfl_client_rounds_released(r->c));
	return rv;
}

pfl_err
pfl_client_run_config(const struct pfl_client_config *cfg,
                      const struct pfl_trainer *tr, void *user,
                      volatile sig_atomic_t *stop)
{
	static volatile sig_atomic_t never;
	struct run r;
	pfl_err rv;

	memset(&r, 0, sizeof(r));
	if (cfg == NULL)
		return PFL_ERR_INVAL;
	if ((rv = load_keys(cfg, &r)) != PFL_OK)
		goto out;
	if (tr == NULL) {
		if ((rv = pfli_local_data_load(cfg, &r.local)) != PFL_OK)
			goto out;
		pfli_local_data_view(&r.local, &r.data);
		if ((rv = pfl_trainer_model_init(&r.builtin)) != PFL_OK)
			goto out;
		tr = &r.builtin;
	} else {
		r.data.user = user;
	}
	if ((rv = fill_opts(cfg, &r)) != PFL_OK)
		goto out;
	if ((rv = pfl_conn_open(cfg->server, &r.to, &r.conn)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot reach %s: %s", cfg->server,
		        pfl_strerror(rv));
		goto out;
	}
	if ((rv = pfl_client_new(&r.o, r.id, &r.data, &r.c)) != PFL_OK)
		goto out;
	rv = serve(cfg, &r, tr, stop != NULL ? stop : &never);
out:
	run_fini(&r);
	return rv;
}
