/* The aggregator object: setup, the main loop, teardown. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/csv.h"
#include "privfl/file.h"
#include "privfl/hash.h"
#include "privfl/log.h"
#include "privfl/safetensors.h"

/* Copy the config, duplicating every string (the caller keeps its own). */
static pfl_err
copy_config(struct pfl_agg_config *dst, const struct pfl_agg_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < pfl_agg_config_table_len; i++) {
		const struct pfl_cfg_entry *e = &pfl_agg_config_table[i];
		char **sp;
		if (e->type != PFL_CFG_STRING)
			continue;
		sp = (char **)((char *)dst + e->offset);
		if (*sp != NULL && (*sp = strdup(*sp)) == NULL)
			return PFL_ERR_NOMEM;
	}
	return PFL_OK;
}

static pfl_err
parse_shape(const char *s, int *c, int *h, int *w)
{
	if (sscanf(s, "%dx%dx%d", c, h, w) != 3 || *c <= 0 || *h <= 0 ||
	    *w <= 0 || *c > 4096 || *h > 4096 || *w > 4096)
		return PFL_ERR_CONFIG;
	return PFL_OK;
}

static pfl_err
setup_builtin(struct pfl_aggregator *a)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	int c, h, w;
	pfl_err rv;

	if ((rv = parse_shape(cfg->input_shape, &c, &h, &w)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "input_shape '%s' is not CxHxW",
		        cfg->input_shape);
		return rv;
	}
	rv = pfl_model_spec_parse(cfg->model, c, h, w, (int)cfg->classes,
	                          &a->spec);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "model '%s': %s", cfg->model,
		        pfl_strerror(rv));
		return rv;
	}
	pfl_model_spec_name(&a->spec, a->model_name, sizeof(a->model_name));
	if ((rv = pfl_model_new(&a->spec, &a->eval_model)) != PFL_OK)
		return rv;
	a->num_params = pfl_model_num_params(a->eval_model);
	if ((a->global = malloc(a->num_params * sizeof(float))) == NULL)
		return PFL_ERR_NOMEM;
	pfl_model_init(a->eval_model, (uint64_t)cfg->seed);
	memcpy(a->global, pfl_model_params(a->eval_model),
	       a->num_params * sizeof(float));
	if (cfg->init_model != NULL && *cfg->init_model != '\0') {
		rv = pfl_safetensors_load(&a->spec, cfg->init_model, a->global);
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "init_model %s: %s",
			        cfg->init_model, pfl_strerror(rv));
			return rv;
		}
	}
	return PFL_OK;
}

static pfl_err
setup_model(struct pfl_aggregator *a)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	struct pfl_strategy_params sp;
	pfl_err rv;

	if (pfli_model_is_custom(cfg))
		rv = pfli_custom_setup(a);
	else
		rv = setup_builtin(a);
	if (rv != PFL_OK)
		return rv;
	memset(&sp, 0, sizeof(sp));
	sp.kind = (enum pfl_strategy_kind)cfg->strategy;
	sp.lr = cfg->server_lr;
	sp.momentum = cfg->server_momentum;
	sp.beta1 = cfg->beta1;
	sp.beta2 = cfg->beta2;
	sp.tau = cfg->tau;
	return pfl_strategy_new(&sp, a->num_params, &a->strategy);
}

/* A CSV test set, encoded with the clients' statistics (csv_stats). */
static pfl_err
load_csv_test(struct pfl_aggregator *a)
{
	const struct pfl_model_spec *s = &a->spec;
	const char *t = a->cfg.test_data, *st = a->cfg.csv_stats;
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rv;

	if (st == NULL || *st == '\0') {
		pfl_log(PFL_LOG_ERROR,
		        "test_data %s: a CSV test set needs csv_stats, the "
		        "clients' preprocessing statistics (privfl data stats)",
		        t);
		return PFL_ERR_CONFIG;
	}
	rv = pfl_csv_load_prepared(st, NULL, t, &a->test, err, sizeof(err));
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "test_data: %s",
		        err[0] ? err : pfl_strerror(rv));
		return rv;
	}
	if ((size_t)s->in_c * (size_t)s->in_h * (size_t)s->in_w !=
	            a->test.dim ||
	    s->classes != a->test.classes) {
		pfl_log(PFL_LOG_ERROR,
		        "test_data %s: %zu features, %d classes, but the model "
		        "takes input_shape %dx%dx%d and %d classes; set "
		        "input_shape = 1x1x%zu and classes = %d",
		        t, a->test.dim, a->test.classes, s->in_c, s->in_h,
		        s->in_w, s->classes, a->test.dim, a->test.classes);
		pfl_dataset_fini(&a->test);
		return PFL_ERR_CONFIG;
	}
	return PFL_OK;
}

static pfl_err
setup_test_data(struct pfl_aggregator *a)
{
	const char *t = a->cfg.test_data;
	size_t len = t != NULL ? strlen(t) : 0;
	pfl_err rv;

	if (t == NULL || *t == '\0' || strcmp(t, "none") == 0)
		return PFL_OK;
	if (a->layout != NULL) {
		pfl_log(PFL_LOG_INFO,
		        "test_data %s not used: the aggregator does not run a "
		        "custom model (set test_data = none)",
		        t);
		return PFL_OK;
	}
	if (len > 4 && strcmp(t + len - 4, ".csv") == 0) {
		if ((rv = load_csv_test(a)) != PFL_OK)
			return rv;
		a->have_test = true;
		return PFL_OK;
	}
	rv = pfl_dataset_load_fmnist(strcmp(t, "fashion-mnist") == 0 ? NULL : t,
	                             false, &a->test);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "test_data %s: %s", t, pfl_strerror(rv));
		return rv;
	}
	a->have_test = true;
	return PFL_OK;
}

static pfl_err
setup_trust(struct pfl_aggregator *a)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv;

	if (cfg->identity_dir != NULL && *cfg->identity_dir != '\0')
		rv = pfl_identity_load(cfg->identity_dir, &a->id);
	else
		rv = pfl_identity_generate(&a->id);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "identity %s: %s",
		        cfg->identity_dir ? cfg->identity_dir : "",
		        pfl_strerror(rv));
		return rv;
	}
	pfl_key_fingerprint(pfl_identity_public(a->id), fp);
	pfl_log(PFL_LOG_INFO, "aggregator key %s", fp);
	if ((rv = pfli_keys_load(cfg, &a->keys)) != PFL_OK)
		return rv;
	if (a->keys.allowed != NULL)
		pfl_log(PFL_LOG_INFO, "%zu client keys enrolled",
		        pfl_keyset_count(a->keys.allowed));
	else
		pfl_log(PFL_LOG_WARN,
		        "enrolled_keys not set: any client key "
		        "is accepted (open enrollment)%s",
		        a->keys.revoked != NULL ? " unless revoked" : "");
	rv = pfl_replay_new_skew(PFLI_REPLAY_MAX_KEYS, 10 * 60 * 1000,
	                         cfg->max_clock_skew_ms, &a->replay);
	if (rv != PFL_OK)
		return rv;
	if ((rv = pfl_csprng_new(NULL, &a->rng)) != PFL_OK)
		return rv;
	/* DP noise has a generator of its own: the transport workers draw
	 * retry jitter from a->rng at any time (docs/PRIVACY.md). */
	return pfl_csprng_new(NULL, &a->dp_rng);
}

/*
 * A fresh run (resume = false) in an out_dir that holds another run's
 * audit log and checkpoints: keep them, renamed with the time, so that
 * the new run neither continues the old chain nor resumes from it later.
 */
static void
set_aside_previous_run(const struct pfl_aggregator *a)
{
	static const char *const names[] = {"audit.log", "checkpoints"};
	char from[4096], to[4200];
	long now = (long)time(NULL);

	for (size_t i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", a->cfg.out_dir, names[i]);
		snprintf(to, sizeof(to), "%s.%ld", from, now);
		if (access(from, F_OK) != 0)
			continue;
		if (rename(from, to) == 0)
			pfl_log(PFL_LOG_INFO,
			        "fresh run: previous %s kept as %s", names[i],
			        to);
		else
			pfl_log(PFL_LOG_WARN, "cannot set %s aside", from);
	}
}

/*
 * Every connection holds a descriptor. Without room for max_connections
 * and the reserve, a flood of connections takes the descriptors that the
 * next checkpoint needs, and the round is lost with an I/O error: refuse
 * such a configuration at start instead (issue #11).
 */
static pfl_err
check_fd_limit(const struct pfl_agg_config *cfg)
{
	struct rlimit rl;
	rlim_t need;

	if (cfg->listen != NULL && strncmp(cfg->listen, "inproc://", 9) == 0)
		return PFL_OK;
	need = (rlim_t)cfg->max_connections + PFL_AGG_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return PFL_OK;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need &&
	    (rl.rlim_max == RLIM_INFINITY || rl.rlim_cur < rl.rlim_max)) {
		struct rlimit up = rl;
		up.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
		                      ? rl.rlim_max
		                      : need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		unsigned long long fit =
		        rl.rlim_cur > PFL_AGG_FD_RESERVE
		                ? (unsigned long long)rl.rlim_cur -
		                          PFL_AGG_FD_RESERVE
		                : 0;
		pfl_log(PFL_LOG_ERROR,
		        "max_connections %lld needs %llu file descriptors "
		        "(%d more for checkpoints, logs and the status "
		        "server), but the limit is %llu (hard limit %llu): "
		        "set max_connections to at most %llu, or raise the "
		        "limit (LimitNOFILE= in the systemd unit, ulimit -n)",
		        (long long)cfg->max_connections,
		        (unsigned long long)need, PFL_AGG_FD_RESERVE,
		        (unsigned long long)rl.rlim_cur,
		        (unsigned long long)rl.rlim_max, fit);
		return PFL_ERR_CONFIG;
	}
	return PFL_OK;
}

pfl_err
pfl_aggregator_new(const struct pfl_agg_config *cfg,
                   struct pfl_aggregator **out)
{
	struct pfl_aggregator *a;
	pfl_err rv;

	if ((rv = check_fd_limit(cfg)) != PFL_OK)
		return rv;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PFL_ERR_NOMEM;
	{
		/* recursive: round bookkeeping called under the lock may
		 * report (results.c takes it too) */
		pthread_mutexattr_t attr;
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&a->mtx, &attr);
		pthread_mutexattr_destroy(&attr);
		pthread_cond_init(&a->wake, NULL);
	}
	pfl_buf_init(&a->pending_audit, 0);
	if ((rv = copy_config(&a->cfg, cfg)) != PFL_OK)
		goto fail;
	a->clip_norm = cfg->clip_norm;
	if (cfg->secure_aggregation != 0 && a->clip_norm <= 0) {
		a->clip_norm = 100.0;
		pfl_log(PFL_LOG_INFO, "secure aggregation without clip_norm: "
		                      "updates are clipped at L2 norm 100");
	}
	a->limits.max_msg_bytes = (size_t)cfg->max_message_mb << 20;
	a->limits.max_vector_bytes = a->limits.max_msg_bytes;
	a->limits.max_payload_bytes = a->limits.max_msg_bytes;
	a->last_round_seconds = 1.0;
	a->est_run_ms = 1000;
	a->abort_miss = 1.0;
	if ((rv = setup_model(a)) != PFL_OK)
		goto fail;
	if ((rv = setup_test_data(a)) != PFL_OK)
		goto fail;
	if ((rv = setup_trust(a)) != PFL_OK)
		goto fail;
	rv = pfl_accountant_new((enum pfl_acct_method)cfg->accountant,
	                        &a->acct);
	if (rv != PFL_OK)
		goto fail;
	if ((rv = pfli_clients_init(&a->clients, 1024)) != PFL_OK)
		goto fail;
	if (cfg->resume) {
		rv = pfli_checkpoint_restore(a);
		if (rv != PFL_OK && rv != PFL_ERR_NOTFOUND)
			goto fail;
	} else {
		set_aside_previous_run(a);
	}
	pfl_hash_params(a->global, a->num_params, a->model_hash);
	pfli_round_reset(&a->round);
	*out = a;
	return PFL_OK;
fail:
	pfl_aggregator_free(a);
	return rv;
}

void
pfl_aggregator_set_observer(struct pfl_aggregator *a, pfl_agg_observer_fn fn,
                            void *arg)
{
	a->observer = fn;
	a->observer_arg = arg;
}

void
pfl_aggregator_set_notify(struct pfl_aggregator *a, pfl_agg_notify_fn fn,
                          void *arg)
{
	pthread_mutex_lock(&a->mtx);
	a->notify = fn;
	a->notify_arg = arg;
	pthread_mutex_unlock(&a->mtx);
}

pfl_err
pfl_aggregator_set_sampler(struct pfl_aggregator *a, pfl_agg_sample_fn fn,
                           void *arg)
{
	if (fn != NULL && a->cfg.population <= 0)
		return PFL_ERR_CONFIG;
	pthread_mutex_lock(&a->mtx);
	a->sampler = fn;
	a->sampler_arg = arg;
	pthread_mutex_unlock(&a->mtx);
	return PFL_OK;
}

const uint8_t *
pfl_aggregator_public_key(const struct pfl_aggregator *a)
{
	return pfl_identity_public(a->id);
}

uint64_t
pfl_aggregator_rounds_done(const struct pfl_aggregator *a)
{
	return a->rounds_done;
}

void
pfl_aggregator_reload_keys(struct pfl_aggregator *a)
{
	a->reload_keys = 1;
}

/* Re-read the key lists; on error keep the old ones (and say so). */
static void
reload_keys(struct pfl_aggregator *a)
{
	struct pfli_keys ks, old;

	a->reload_keys = 0;
	if (pfli_keys_load(&a->cfg, &ks) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "reloading the key lists failed; the "
		                       "previous ones stay in force");
		return;
	}
	pthread_mutex_lock(&a->mtx);
	old = a->keys;
	a->keys = ks;
	pthread_mutex_unlock(&a->mtx);
	pfli_keys_fini(&old);
	if (ks.allowed != NULL)
		pfl_log(PFL_LOG_INFO, "allow-list reloaded: %zu keys enrolled",
		        pfl_keyset_count(ks.allowed));
	else
		pfl_log(PFL_LOG_INFO, "key lists reloaded (open enrollment)");
}

void
pfl_aggregator_stop(struct pfl_aggregator *a)
{
	a->stop = 1;
}

static bool
json_number(const char *line, const char *key, double *out)
{
	const char *p = strstr(line, key);
	char *end;

	if (p == NULL)
		return false;
	*out = strtod(p + strlen(key), &end);
	return end != p + strlen(key) && isfinite(*out);
}

/*
 * After falling back to an older checkpoint (the newest was corrupt), the
 * audit log holds rounds that were released after it. Their models went
 * out, so their privacy cost stays: charge them again from the log (its
 * chain was verified when it was opened). They are then run again, and
 * those new releases are charged too.
 */
static pfl_err
recharge_from_audit(struct pfl_aggregator *a)
{
	char path[4200];
	uint8_t *data = NULL;
	size_t len = 0, charged = 0;
	char *line, *save = NULL;
	double order;
	pfl_err rv;

	if (a->cfg.dp_mode == PFL_DP_NONE ||
	    a->audit_last_round <= a->rounds_done)
		return PFL_OK;
	snprintf(path, sizeof(path), "%s/audit.log", a->cfg.out_dir);
	if ((rv = pfl_file_read(path, (size_t)1 << 32, &data, &len)) != PFL_OK)
		return rv;
	for (line = strtok_r((char *)data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		double round, z, q;
		if (!json_number(line, "{\"round\":", &round) ||
		    round <= (double)a->rounds_done ||
		    strstr(line, "\"status\":\"ok\"") == NULL ||
		    !json_number(line, "\"noise_multiplier\":", &z) ||
		    !json_number(line, "\"sample_rate\":", &q))
			continue;
		if ((rv = pfl_accountant_charge(a->acct, q, z, 1)) != PFL_OK)
			break;
		charged++;
	}
	free(data);
	if (rv == PFL_OK)
		rv = pfl_accountant_epsilon(a->acct, a->cfg.delta, &a->epsilon,
		                            &order);
	if (rv == PFL_OK && charged > 0)
		pfl_log(PFL_LOG_WARN,
		        "%zu released rounds after the checkpoint were charged "
		        "again from the audit log: epsilon %.4f",
		        charged, a->epsilon);
	return rv;
}

static pfl_err
serve_open(struct pfl_aggregator *a)
{
	struct pfl_transport_opts o;

	memset(&o, 0, sizeof(o));
	o.max_msg_bytes = a->limits.max_msg_bytes;
	o.timeout_ms = (int)a->cfg.request_timeout_ms;
	o.workers = (int)a->cfg.workers;
	o.max_conns = (int)a->cfg.max_connections;
	if (a->cfg.tls_cert_key_file && *a->cfg.tls_cert_key_file)
		o.tls_cert_key_file = a->cfg.tls_cert_key_file;
	return pfl_server_open(a->cfg.listen, &o, pfli_serve, a, &a->server);
}

/*
 * Under a->mtx (held once): sleep until pfli_round_wake or ms pass.
 * Deadlines and idle check-ins are found by the next tick; results and
 * draws that may end a phase wake the loop at once.
 */
static void
wait_tick(struct pfl_aggregator *a, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	(void)pthread_cond_timedwait(&a->wake, &a->mtx, &ts);
}

pfl_err
pfl_aggregator_run(struct pfl_aggregator *a)
{
	pfl_err rv;

	a->run_started = pfl_clock_sec();
	if ((rv = pfli_results_open(a)) != PFL_OK)
		return rv;
	if ((rv = pfli_audit_open(a)) != PFL_OK)
		return rv;
	/* A crash between checkpoint and audit append: repair the log. */
	if (a->rounds_done > a->audit_last_round && a->pending_audit.len > 0) {
		pfl_log(PFL_LOG_WARN,
		        "audit log ends at round %llu, checkpoint "
		        "at %llu: appending the saved line",
		        (unsigned long long)a->audit_last_round,
		        (unsigned long long)a->rounds_done);
		rv = pfli_audit_append(a, (const char *)a->pending_audit.data,
		                       a->pending_audit.len);
		if (rv != PFL_OK)
			return rv;
	}
	if ((rv = recharge_from_audit(a)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "re-charging from the audit log: %s",
		        pfl_strerror(rv));
		return rv;
	}
	if ((rv = pfli_report_start(a)) != PFL_OK)
		return rv;
	if ((rv = pfli_http_open(a)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "http_listen %s: %s", a->cfg.http_listen,
		        pfl_strerror(rv));
		return rv;
	}
	if ((rv = serve_open(a)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot listen on %s: %s", a->cfg.listen,
		        pfl_strerror(rv));
		return rv;
	}
	pfl_log(PFL_LOG_INFO,
	        "listening on %s; %lld rounds of %lld clients, "
	        "model %s (%zu parameters)",
	        a->cfg.listen, (long long)a->cfg.rounds,
	        (long long)a->cfg.clients_per_round, a->model_name,
	        a->num_params);
	while (!a->stop && a->rounds_done < (uint64_t)a->cfg.rounds) {
		enum pfli_round_state st;
		if (a->reload_keys)
			reload_keys(a);
		pthread_mutex_lock(&a->mtx);
		pfli_round_tick(a, pfl_clock_ms());
		st = a->round.state;
		if (st != PFLI_R_FINALIZING)
			wait_tick(a, st == PFLI_R_IDLE ? 20 : 5);
		pthread_mutex_unlock(&a->mtx);
		if (st == PFLI_R_FINALIZING)
			(void)pfli_round_finish(a);
	}
	if (!a->stop && a->fatal == PFL_OK)
		pfli_health_linger(a);
	pfli_report_drain(a);
	rv = pfli_results_save_model(a, "model.safetensors");
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "saving the model failed: %s",
		        pfl_strerror(rv));
	/* The server keeps answering (retry) until pfl_aggregator_free, so
	 * that clients in the middle of a request are not left hanging. */
	if (a->fatal != PFL_OK)
		return a->fatal;
	if (a->budget_spent)
		pfl_log(PFL_LOG_INFO,
		        "stopped at the privacy budget after %llu "
		        "rounds: epsilon %.4f (delta %g)",
		        (unsigned long long)a->rounds_done, a->epsilon,
		        a->cfg.delta);
	else if (a->stop && a->rounds_done < (uint64_t)a->cfg.rounds)
		return PFL_ERR_CLOSED;
	return rv;
}

void
pfl_aggregator_free(struct pfl_aggregator *a)
{
	if (a == NULL)
		return;
	/* First every thread that reads the state: the transport's workers,
	 * the HTTP server's handlers, the reporter. */
	pfl_server_close(a->server);
	pfli_http_close(a);
	pfli_report_stop(a);
	pfli_round_reset(&a->round);
	pfli_clients_fini(&a->clients);
	if (a->csv != NULL)
		fclose(a->csv);
	pfl_accountant_free(a->acct);
	pfl_strategy_free(a->strategy);
	pfl_model_free(a->eval_model);
	pfli_custom_free(a);
	pfl_dataset_fini(&a->test);
	free(a->global);
	pfl_replay_free(a->replay);
	pfli_keys_fini(&a->keys);
	pfl_identity_free(a->id);
	pfl_csprng_free(a->rng);
	pfl_csprng_free(a->dp_rng);
	pfli_http_close(a);
	pfli_audit_close(a);
	free(a->history);
	free(a->recovered);
	pfl_buf_fini(&a->pending_audit);
	pfl_agg_config_fini(&a->cfg);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}
