/*
 * The aggregator's HTTP side: /metrics (Prometheus text format 0.0.4),
 * /status (JSON) and / (status_page.h), served by nng's HTTP server on
 * cfg.http_listen. Handlers run on nng's threads: each takes a->mtx only
 * to copy a snapshot, then formats outside the lock.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/hash.h"
#include "privfl/log.h"
#include "status_page.h"

struct pfli_http {
	nng_http_server *srv;
	nng_url *url;
	bool started; /* by us: nng shares one server per address */
};

/* What a handler needs, copied under a->mtx. */
struct snap {
	uint64_t rounds_done;
	uint64_t aborted;
	uint64_t checkins;
	uint64_t bytes_up;
	uint64_t bytes_down;
	double epsilon;
	double clip_norm;
	double uptime;
	bool budget_spent;
	struct pfl_round_report last;
	double accuracy; /* last evaluated, NaN if never */
	double loss;
	struct pfl_round_report fed; /* last round with federated evaluation */
	enum pfli_round_state state;
	uint64_t round_number;
	uint32_t round_members;
	uint32_t round_received;
	uint64_t audit_last_round;
	uint8_t audit_prev[32];
	struct pfl_round_report *hist; /* rounds > since */
	size_t nhist;
	struct pfl_buf backoff; /* the clients' failure records (JSON) */
};

/* Under a->mtx: the last round with a federated evaluation. */
static void
snap_fed_eval(const struct pfl_aggregator *a, struct snap *s)
{
	memset(&s->fed, 0, sizeof(s->fed));
	s->fed.fed_eval_loss = s->fed.fed_eval_accuracy = NAN;
	for (size_t i = a->nhistory; i-- > 0;)
		if (!a->history[i].aborted &&
		    a->history[i].fed_eval_examples > 0) {
			s->fed = a->history[i];
			break;
		}
}

static void
snap_take(struct pfl_aggregator *a, struct snap *s, uint64_t since)
{
	size_t first;

	memset(s, 0, sizeof(*s));
	s->accuracy = NAN;
	s->loss = NAN;
	s->last.accuracy = NAN;
	s->last.loss = NAN;
	pfl_buf_init(&s->backoff, 0);
	pthread_mutex_lock(&a->mtx);
	if (pfli_health_json(a, pfl_clock_ms(), &s->backoff) != PFL_OK)
		pfl_buf_clear(&s->backoff);
	s->rounds_done = a->rounds_done;
	s->aborted = a->aborted_rounds;
	s->checkins = a->checkins;
	s->bytes_up = a->total_up;
	s->bytes_down = a->total_down;
	s->epsilon = a->epsilon;
	s->clip_norm = a->clip_norm;
	s->uptime = a->run_started > 0 ? pfl_clock_sec() - a->run_started : 0;
	s->budget_spent = a->budget_spent;
	if (a->nhistory > 0)
		s->last = a->history[a->nhistory - 1];
	for (size_t i = a->nhistory; i-- > 0;)
		if (!a->history[i].aborted && !isnan(a->history[i].accuracy)) {
			s->accuracy = a->history[i].accuracy;
			s->loss = a->history[i].loss;
			break;
		}
	snap_fed_eval(a, s);
	s->state = a->round.state;
	s->round_number = a->round.number;
	s->round_members = a->round.n;
	s->round_received = a->round.received;
	s->audit_last_round = a->audit_last_round;
	memcpy(s->audit_prev, a->audit_prev, sizeof(s->audit_prev));
	for (first = 0; first < a->nhistory; first++)
		if (a->history[first].round > since)
			break;
	if (a->nhistory > first) {
		s->hist = malloc((a->nhistory - first) * sizeof(*s->hist));
		if (s->hist != NULL) {
			s->nhist = a->nhistory - first;
			memcpy(s->hist, a->history + first,
			       s->nhist * sizeof(*s->hist));
		}
	}
	pthread_mutex_unlock(&a->mtx);
}

static const char *
state_name(enum pfli_round_state st)
{
	switch (st) {
	case PFLI_R_SELECTING:
		return "selecting";
	case PFLI_R_RUNNING:
		return "running";
	case PFLI_R_FINALIZING:
		return "aggregating";
	default:
		return "idle";
	}
}

/* The name of value v of an enum setting, from the config table. */
static void
enum_name(const char *key, int v, char *out, size_t len)
{
	snprintf(out, len, "%d", v);
	for (size_t i = 0; i < pfl_agg_config_table_len; i++) {
		const struct pfl_cfg_entry *e = &pfl_agg_config_table[i];
		const char *p;
		if (strcmp(e->name, key) != 0 || e->choices == NULL)
			continue;
		p = e->choices;
		for (int k = 0; k < v && p != NULL; k++)
			if ((p = strchr(p, '|')) != NULL)
				p++;
		if (p != NULL)
			snprintf(out, len, "%.*s", (int)strcspn(p, "|"), p);
		return;
	}
}

/* ---- /metrics ---- */

static pfl_err
metric(struct pfl_buf *b, const char *name, const char *type, const char *help,
       double v)
{
	pfl_err rv = pfl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name,
	                            help, name, type);

	if (rv != PFL_OK)
		return rv;
	if (isnan(v))
		return pfl_buf_printf(b, "%s NaN\n", name);
	if (isinf(v))
		return pfl_buf_printf(b, "%s %s\n", name,
		                      v > 0 ? "+Inf" : "-Inf");
	return pfl_buf_printf(b, "%s %.17g\n", name, v);
}

static pfl_err
metrics_state(struct pfl_buf *b, const struct snap *s)
{
	static const enum pfli_round_state all[] = {
	        PFLI_R_IDLE, PFLI_R_SELECTING, PFLI_R_RUNNING,
	        PFLI_R_FINALIZING};
	pfl_err rv = pfl_buf_printf(
	        b,
	        "# HELP privfl_round_state Phase of the current round (1 for "
	        "the current phase)\n# TYPE privfl_round_state gauge\n");

	for (size_t i = 0; rv == PFL_OK && i < 4; i++)
		rv = pfl_buf_printf(b, "privfl_round_state{state=\"%s\"} %d\n",
		                    state_name(all[i]), s->state == all[i]);
	return rv;
}

static pfl_err
metrics_text(const struct pfl_aggregator *a, const struct snap *s,
             struct pfl_buf *b)
{
	const struct {
		const char *name, *type, *help;
		double v;
	} m[] = {
	        {"privfl_rounds_completed_total", "counter",
	         "Rounds completed (model released)", (double)s->rounds_done},
	        {"privfl_rounds_aborted_total", "counter",
	         "Rounds abandoned since start (nothing released)",
	         (double)s->aborted},
	        {"privfl_rounds_configured", "gauge", "Rounds to run",
	         (double)a->cfg.rounds},
	        {"privfl_round_current", "gauge", "Number of the current round",
	         (double)s->round_number},
	        {"privfl_round_current_selected_clients", "gauge",
	         "Clients in the current round's cohort",
	         (double)s->round_members},
	        {"privfl_checkins_total", "counter",
	         "Client check-in requests served since start",
	         (double)s->checkins},
	        {"privfl_last_round_checkins", "gauge",
	         "Client check-ins served during the last finished round",
	         (double)s->last.checkins},
	        {"privfl_last_round_selected_clients", "gauge",
	         "Clients selected in the last finished round",
	         (double)s->last.selected},
	        {"privfl_last_round_survived_clients", "gauge",
	         "Clients whose update entered the last finished round",
	         (double)s->last.survived},
	        {"privfl_received_bytes_total", "counter",
	         "Request bytes received from clients since start",
	         (double)s->bytes_up},
	        {"privfl_sent_bytes_total", "counter",
	         "Reply bytes sent to clients since start",
	         (double)s->bytes_down},
	        {"privfl_last_round_duration_seconds", "gauge",
	         "Wall time of the last finished round", s->last.seconds},
	        {"privfl_epsilon", "gauge",
	         "Cumulative privacy loss epsilon spent (0 without DP)",
	         s->epsilon},
	        {"privfl_epsilon_budget", "gauge",
	         "Configured epsilon budget (0: none)", a->cfg.epsilon_budget},
	        {"privfl_delta", "gauge",
	         "Delta of the (epsilon, delta) guarantee",
	         a->cfg.dp_mode != PFL_DP_NONE ? a->cfg.delta : 0},
	        {"privfl_clip_norm", "gauge", "Current L2 clipping norm",
	         s->clip_norm},
	        {"privfl_accuracy", "gauge",
	         "Test accuracy at the last evaluation (NaN: none yet)",
	         s->accuracy},
	        {"privfl_loss", "gauge",
	         "Test loss at the last evaluation (NaN: none yet)", s->loss},
	        {"privfl_fed_eval_accuracy", "gauge",
	         "Federated evaluation: accuracy on the clients' held-out "
	         "data, "
	         "weighted by examples, at the last round that had one (NaN: "
	         "none yet)",
	         s->fed.fed_eval_accuracy},
	        {"privfl_fed_eval_loss", "gauge",
	         "Federated evaluation: loss, weighted likewise (NaN: none "
	         "yet)",
	         s->fed.fed_eval_loss},
	        {"privfl_fed_eval_examples", "gauge",
	         "Federated evaluation: held-out examples it counted",
	         (double)s->fed.fed_eval_examples},
	        {"privfl_fed_eval_round", "gauge",
	         "Round whose clients made that evaluation (of the model it "
	         "started from; 0: none yet)",
	         (double)s->fed.round},
	        {"privfl_audit_last_round", "gauge",
	         "Round of the last line in audit.log",
	         (double)s->audit_last_round},
	        {"privfl_uptime_seconds", "gauge",
	         "Seconds since the aggregator started serving", s->uptime},
	};
	pfl_err rv = PFL_OK;

	for (size_t i = 0; rv == PFL_OK && i < sizeof(m) / sizeof(m[0]); i++)
		rv = metric(b, m[i].name, m[i].type, m[i].help, m[i].v);
	if (rv == PFL_OK)
		rv = metrics_state(b, s);
	return rv;
}

/* ---- /status ---- */

static pfl_err
jnum(struct pfl_buf *b, const char *key, double v)
{
	if (!isfinite(v))
		return pfl_buf_printf(b, "\"%s\":null", key);
	return pfl_buf_printf(b, "\"%s\":%.10g", key, v);
}

static pfl_err
jstr(struct pfl_buf *b, const char *key, const char *s)
{
	pfl_err rv = pfl_buf_printf(b, "\"%s\":\"", key);

	for (; rv == PFL_OK && s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			rv = pfl_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rv = pfl_buf_printf(b, "\\u%04x", c);
		else if (c == '<')
			rv = pfl_buf_printf(b, "\\u003c");
		else
			rv = pfl_buf_append(b, s, 1);
	}
	return rv == PFL_OK ? pfl_buf_append(b, "\"", 1) : rv;
}

/* ,"fed_eval_loss":..,"fed_eval_accuracy":..,"fed_eval_examples":.. */
static pfl_err
status_fed_eval(struct pfl_buf *b, const struct pfl_round_report *r)
{
	bool none = r->aborted || r->fed_eval_examples == 0;
	pfl_err rv = pfl_buf_append(b, ",", 1);

	if (rv == PFL_OK)
		rv = jnum(b, "fed_eval_loss", none ? NAN : r->fed_eval_loss);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "fed_eval_accuracy",
		          none ? NAN : r->fed_eval_accuracy);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(
		        b, ",\"fed_eval_examples\":%llu",
		        none ? 0ULL : (unsigned long long)r->fed_eval_examples);
	return rv;
}

static pfl_err
status_round(struct pfl_buf *b, const struct pfl_round_report *r)
{
	pfl_err rv = pfl_buf_printf(b, "{\"round\":%llu,",
	                            (unsigned long long)r->round);

	if (rv == PFL_OK)
		rv = jnum(b, "accuracy", r->accuracy);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "loss", r->loss);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "train_loss", r->train_loss);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "epsilon", r->epsilon);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "seconds", r->seconds);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "clip_norm", r->clip_norm);
	if (rv == PFL_OK)
		rv = status_fed_eval(b, r);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(
		        b,
		        ",\"selected\":%u,\"survived\":%u,\"bytes_up\":%llu,"
		        "\"bytes_down\":%llu,\"aborted\":%s}",
		        r->selected, r->survived,
		        (unsigned long long)r->bytes_up,
		        (unsigned long long)r->bytes_down,
		        r->aborted ? "true" : "false");
	return rv;
}

static pfl_err
status_config(const struct pfl_aggregator *a, struct pfl_buf *b)
{
	const struct pfl_agg_config *c = &a->cfg;
	char strat[32], sa[32], dp[32];
	/* without DP, no noise is added and no delta holds: null, not the
	 * unused settings' defaults */
	bool dp_off = c->dp_mode == PFL_DP_NONE;
	pfl_err rv;

	enum_name("strategy", c->strategy, strat, sizeof(strat));
	enum_name("secure_aggregation", c->secure_aggregation, sa, sizeof(sa));
	enum_name("dp_mode", c->dp_mode, dp, sizeof(dp));
	rv = pfl_buf_printf(
	        b,
	        "\"config\":{\"rounds\":%lld,\"clients_per_round\":%lld,"
	        "\"min_clients\":%lld,\"local_epochs\":%lld,\"batch\":%lld,",
	        (long long)c->rounds, (long long)c->clients_per_round,
	        (long long)c->min_clients, (long long)c->local_epochs,
	        (long long)c->batch);
	if (rv == PFL_OK)
		rv = jstr(b, "strategy", strat);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jstr(b, "secure_aggregation", sa);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jstr(b, "dp_mode", dp);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "noise_multiplier",
		          dp_off ? NAN : c->noise_multiplier);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "delta", dp_off ? NAN : c->delta);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "epsilon_budget", c->epsilon_budget);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, "},", 2);
	return rv;
}

static pfl_err
status_head(const struct pfl_aggregator *a, const struct snap *s,
            struct pfl_buf *b)
{
	char hex[2 * PFL_HASH_BYTES + 1];
	pfl_err rv;

	pfl_hash_hex(s->audit_prev, PFL_HASH_BYTES, hex);
	rv = pfl_buf_append(b, "{", 1);
	if (rv == PFL_OK)
		rv = jstr(b, "federation", a->cfg.federation_id);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jstr(b, "model", a->model_name);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(b, ",\"num_params\":%zu,", a->num_params);
	if (rv == PFL_OK)
		rv = status_config(a, b);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(
		        b,
		        "\"rounds_done\":%llu,\"rounds_aborted\":%llu,"
		        "\"checkins\":%llu,\"bytes_up\":%llu,\"bytes_down\":"
		        "%llu,\"budget_spent\":%s,\"audit\":{\"last_round\":"
		        "%llu,\"head\":\"%s\"},",
		        (unsigned long long)s->rounds_done,
		        (unsigned long long)s->aborted,
		        (unsigned long long)s->checkins,
		        (unsigned long long)s->bytes_up,
		        (unsigned long long)s->bytes_down,
		        s->budget_spent ? "true" : "false",
		        (unsigned long long)s->audit_last_round, hex);
	if (rv == PFL_OK)
		rv = jnum(b, "epsilon", s->epsilon);
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, ",", 1);
	if (rv == PFL_OK)
		rv = jnum(b, "uptime_seconds", s->uptime);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(
		        b,
		        ",\"round\":{\"number\":%llu,\"state\":\"%s\","
		        "\"selected\":%u,\"received\":%u},",
		        (unsigned long long)s->round_number,
		        state_name(s->state), s->round_members,
		        s->round_received);
	if (rv == PFL_OK && s->backoff.len > 0)
		rv = pfl_buf_printf(b, "\"backoff\":%.*s,", (int)s->backoff.len,
		                    (const char *)s->backoff.data);
	return rv;
}

static pfl_err
status_json(const struct pfl_aggregator *a, const struct snap *s,
            struct pfl_buf *b)
{
	pfl_err rv = status_head(a, s, b);

	if (rv == PFL_OK)
		rv = pfl_buf_append(b, "\"history\":[", 11);
	for (size_t i = 0; rv == PFL_OK && i < s->nhist; i++) {
		if (i > 0)
			rv = pfl_buf_append(b, ",", 1);
		if (rv == PFL_OK)
			rv = status_round(b, &s->hist[i]);
	}
	if (rv == PFL_OK)
		rv = pfl_buf_append(b, "]}\n", 3);
	return rv;
}

/* ---- nng glue ---- */

static void
reply(nng_aio *aio, uint16_t status, const char *type,
      const struct pfl_buf *body)
{
	nng_http_res *res = NULL;
	int rv;

	if (status != NNG_HTTP_STATUS_OK || body == NULL) {
		rv = nng_http_res_alloc_error(&res, status);
	} else {
		rv = nng_http_res_alloc(&res);
		if (rv == 0)
			rv = nng_http_res_set_header(res, "Content-Type", type);
		if (rv == 0)
			rv = nng_http_res_set_header(res, "Cache-Control",
			                             "no-store");
		if (rv == 0)
			rv = nng_http_res_copy_data(res, body->data, body->len);
	}
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static struct pfl_aggregator *
handler_agg(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);

	return nng_http_handler_get_data(h);
}

/* "since=N" from the request's query string, else 0. */
static uint64_t
query_since(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	const char *uri = nng_http_req_get_uri(req);
	const char *q = uri != NULL ? strchr(uri, '?') : NULL;
	unsigned long long v = 0;

	if (q != NULL && (q = strstr(q, "since=")) != NULL &&
	    sscanf(q + 6, "%llu", &v) != 1)
		v = 0;
	return (uint64_t)v;
}

static void
on_metrics(nng_aio *aio)
{
	struct pfl_aggregator *a = handler_agg(aio);
	struct pfl_buf b;
	struct snap s;

	snap_take(a, &s, UINT64_MAX);
	pfl_buf_init(&b, 0);
	if (metrics_text(a, &s, &b) == PFL_OK)
		reply(aio, NNG_HTTP_STATUS_OK,
		      "text/plain; version=0.0.4; charset=utf-8", &b);
	else
		reply(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL);
	pfl_buf_fini(&b);
	pfl_buf_fini(&s.backoff);
	free(s.hist);
}

static void
on_status(nng_aio *aio)
{
	struct pfl_aggregator *a = handler_agg(aio);
	struct pfl_buf b;
	struct snap s;

	snap_take(a, &s, query_since(aio));
	pfl_buf_init(&b, 0);
	if (status_json(a, &s, &b) == PFL_OK)
		reply(aio, NNG_HTTP_STATUS_OK, "application/json", &b);
	else
		reply(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL);
	pfl_buf_fini(&b);
	pfl_buf_fini(&s.backoff);
	free(s.hist);
}

static void
on_page(nng_aio *aio)
{
	struct pfl_buf b;
	pfl_err rv = PFL_OK;

	pfl_buf_init(&b, 0);
	for (size_t i = 0; rv == PFL_OK && pfli_status_page[i] != NULL; i++)
		rv = pfl_buf_append(&b, pfli_status_page[i],
		                    strlen(pfli_status_page[i]));
	if (rv == PFL_OK)
		reply(aio, NNG_HTTP_STATUS_OK, "text/html; charset=utf-8", &b);
	else
		reply(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL);
	pfl_buf_fini(&b);
}

static int
add_handler(struct pfl_aggregator *a, nng_http_server *srv, const char *path,
            void (*cb)(nng_aio *))
{
	nng_http_handler *h;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(h, "GET")) != 0 ||
	    (rv = nng_http_handler_set_data(h, a, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(srv, h)) != 0)
		nng_http_handler_free(h);
	return rv;
}

static pfl_err
err_from_nng(int rv)
{
	switch (rv) {
	case NNG_ENOMEM:
		return PFL_ERR_NOMEM;
	case NNG_EADDRINUSE:
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
	case NNG_ENOTSUP:
		return PFL_ERR_CONFIG;
	default:
		return PFL_ERR_IO;
	}
}

static void
log_address(const struct pfl_aggregator *a, nng_http_server *srv)
{
	nng_sockaddr sa;
	char host[64];

	if (nng_http_server_get_addr(srv, &sa) != 0 ||
	    (sa.s_family != NNG_AF_INET && sa.s_family != NNG_AF_INET6)) {
		pfl_log(PFL_LOG_INFO, "status page on %s", a->cfg.http_listen);
		return;
	}
	if (sa.s_family == NNG_AF_INET) {
		uint32_t ip = sa.s_in.sa_addr; /* network order */
		const uint8_t *o = (const uint8_t *)&ip;
		snprintf(host, sizeof(host), "%u.%u.%u.%u", o[0], o[1], o[2],
		         o[3]);
		pfl_log(PFL_LOG_INFO, "status page on http://%s:%u/", host,
		        (unsigned)((sa.s_in.sa_port & 0xff) << 8 |
		                   sa.s_in.sa_port >> 8));
	} else {
		pfl_log(PFL_LOG_INFO, "status page on http://[::]:%u/",
		        (unsigned)((sa.s_in6.sa_port & 0xff) << 8 |
		                   sa.s_in6.sa_port >> 8));
	}
}

pfl_err
pfli_http_open(struct pfl_aggregator *a)
{
	struct pfli_http *st;
	int rv;

	if (a->http != NULL || a->cfg.http_listen == NULL ||
	    a->cfg.http_listen[0] == '\0')
		return PFL_OK;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return PFL_ERR_NOMEM;
	rv = nng_url_parse(&st->url, a->cfg.http_listen);
	if (rv == 0 && strcmp(st->url->u_scheme, "http") != 0)
		rv = NNG_ENOTSUP;
	if (rv == 0)
		rv = nng_http_server_hold(&st->srv, st->url);
	if (rv == 0)
		rv = add_handler(a, st->srv, "/metrics", on_metrics);
	if (rv == 0)
		rv = add_handler(a, st->srv, "/status", on_status);
	if (rv == 0)
		rv = add_handler(a, st->srv, "/", on_page);
	if (rv == 0 && (rv = nng_http_server_start(st->srv)) == 0)
		st->started = true;
	a->http = st;
	if (rv != 0) {
		pfl_log(PFL_LOG_ERROR, "http server on %s: %s",
		        a->cfg.http_listen, nng_strerror(rv));
		pfli_http_close(a);
		return err_from_nng(rv);
	}
	log_address(a, st->srv);
	return PFL_OK;
}

void
pfli_http_close(struct pfl_aggregator *a)
{
	struct pfli_http *st;

	if (a == NULL || a->http == NULL)
		return;
	st = a->http;
	if (st->srv != NULL) {
		if (st->started)
			nng_http_server_stop(st->srv);
		nng_http_server_release(st->srv);
	}
	nng_url_free(st->url);
	free(st);
	a->http = NULL;
}
