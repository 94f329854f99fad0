/*
 * The round lifecycle, driven by the aggregator thread's tick:
 * IDLE -> SELECTING (selection.c: pace steering and the draw over
 * check-ins) -> RUNNING (plans,
 * secure-aggregation phases or plain updates, deadlines) -> FINALIZING
 * (aggregate, noise, strategy, accounting, results) -> IDLE.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/hash.h"
#include "privfl/log.h"
#include "privfl/quant.h"

#include <sodium.h>

void
pfli_round_reset(struct pfli_round *r)
{
	uint64_t number = r->number;

	pfl_sa_server_free(r->sa);
	free(r->members);
	/* the plain sum so far is one client's update while only one came */
	pfl_free_wipe(r->acc, (size_t)r->vector_len * sizeof(float));
	pfl_free_wipe(r->acc_undo, (size_t)r->vector_len * sizeof(float));
	free(r->model_reply);
	memset(r, 0, sizeof(*r));
	r->number = number;
	r->state = PFLI_R_IDLE;
}

static void
abort_round(struct pfl_aggregator *a, const char *why)
{
	struct pfli_round *r = &a->round;
	struct pfl_round_report rep;

	pfl_log(PFL_LOG_WARN, "round %llu abandoned: %s; nothing released",
	        (unsigned long long)r->number, why);
	pfli_acct_aborted(a);
	pfli_health_round_end(a, false, NULL, 0, pfl_clock_ms());
	memset(&rep, 0, sizeof(rep));
	rep.round = r->number;
	rep.accuracy = NAN;
	rep.loss = NAN;
	rep.train_loss = NAN;
	rep.epsilon = a->epsilon;
	rep.delta = a->cfg.dp_mode != PFL_DP_NONE ? a->cfg.delta : 0;
	rep.selected = r->n;
	rep.survived = r->received;
	rep.bytes_up = r->bytes_up;
	rep.bytes_down = r->bytes_down;
	rep.seconds = (double)(pfl_clock_ms() - r->opened_ms) / 1000.0;
	rep.aborted = true;
	rep.checkins = pfli_sel_round_checkins(a);
	pfli_report_round(a, &rep, NULL);
	pfli_round_reset(r);
}

void
pfli_round_wake(struct pfl_aggregator *a)
{
	pthread_cond_signal(&a->wake);
}

/* Tell the embedder's waiting clients (pfl_aggregator_set_notify). */
static void
notify(struct pfl_aggregator *a, enum pfl_agg_event ev, bool members)
{
	struct pfli_round *r = &a->round;
	uint8_t(*pks)[32] = NULL;

	if (a->notify == NULL)
		return;
	if (members && r->n > 0) {
		if ((pks = malloc((size_t)r->n * 32)) == NULL)
			return; /* they come back at their retry-after */
		for (uint32_t i = 0; i < r->n; i++)
			memcpy(pks[i], r->members[i].pk, 32);
	}
	a->notify(a->notify_arg, ev, (const uint8_t(*)[32])pks,
	          members ? r->n : 0);
	free(pks);
}

static pfl_err
encode_model_reply(struct pfl_aggregator *a)
{
	struct pfli_round *r = &a->round;
	struct pfl_buf out;
	struct pfl_msg m;
	uint8_t *le = NULL;
	pfl_err rv;

	if ((le = malloc(a->num_params * 4)) == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < a->num_params; i++) {
		uint32_t w;
		memcpy(&w, &a->global[i], 4);
		le[4 * i] = (uint8_t)w;
		le[4 * i + 1] = (uint8_t)(w >> 8);
		le[4 * i + 2] = (uint8_t)(w >> 16);
		le[4 * i + 3] = (uint8_t)(w >> 24);
	}
	pfl_msg_init(&m, PFL_MSG_MODEL, a->cfg.federation_id, r->number, a->id);
	snprintf(m.u.model.model, sizeof(m.u.model.model), "%s", a->model_name);
	m.u.model.num_params = (uint32_t)a->num_params;
	m.u.model.offset = 0;
	m.u.model.params = le;
	m.u.model.params_len = a->num_params * 4;
	pfl_buf_init(&out, 0);
	/* Plans name this exact message by its digest, so a client checks
	 * what it got with the hash its signature check computes anyway. */
	rv = pfl_msg_encode_digest(&m, a->id, &out, r->model_digest);
	free(le);
	if (rv != PFL_OK) {
		pfl_buf_fini(&out);
		return rv;
	}
	r->model_reply = out.data;
	r->model_reply_len = out.len;
	return PFL_OK;
}

/*
 * Secure aggregation's (k, t) for a cohort of n (docs/SECAGG.md): the
 * configured protocol, SecAgg (every pair) when the cohort is too small
 * for SecAgg+'s guarantees, and when no threshold tolerates sa_dropout
 * either, the safe threshold for c = ceil(sa_corrupt n) colluders without
 * that tolerance (the round aborts if more than n - t drop out). The
 * threshold is never lowered below what the colluders allow: 2t > n + c
 * (else two survivor views could each collect t shares of one client and
 * unmask its update) and t >= min(min_clients, n - c) + c. Without such
 * a t the round is refused.
 */
pfl_err
pfli_round_sa_params(const struct pfl_agg_config *cfg, uint64_t round,
                     uint32_t n, int *mode, uint32_t *k, uint32_t *t)
{
	uint32_t min = (uint32_t)cfg->min_clients;
	pfl_err rv;

	*mode = cfg->secure_aggregation;
	rv = pfl_sa_choose_params_min((enum pfl_sa_mode) * mode, n,
	                              cfg->sa_dropout, cfg->sa_corrupt, min, k,
	                              t);
	if (rv == PFL_ERR_CONFIG && *mode == PFL_SA_PLUS) {
		/* Too small a cohort for a sparse graph with these
		 * guarantees: every pair shares masks instead. */
		*mode = PFL_SA_FULL;
		rv = pfl_sa_choose_params_min(PFL_SA_FULL, n, cfg->sa_dropout,
		                              cfg->sa_corrupt, min, k, t);
	}
	if (rv == PFL_ERR_CONFIG) {
		/* No threshold tolerates sa_dropout in so small a cohort:
		 * tolerate fewer dropouts, never fewer colluders. */
		uint32_t c = pfl_sa_colluders(cfg->sa_corrupt, n);
		/* The released sum is that of the n - c honest members
		 * anyway: min_clients of them cannot be asked of a cohort
		 * with fewer. */
		uint32_t min_sum = c < n && n - c < min ? n - c : min;
		*mode = PFL_SA_FULL;
		rv = pfl_sa_choose_params_min(PFL_SA_FULL, n, 0.0,
		                              cfg->sa_corrupt, min_sum, k, t);
		if (rv == PFL_OK)
			pfl_log(PFL_LOG_INFO,
			        "round %llu: secure aggregation over %u "
			        "clients "
			        "with threshold %u tolerates %u dropouts, "
			        "fewer "
			        "than sa_dropout = %g asks",
			        (unsigned long long)round, n, *t, n - *t,
			        cfg->sa_dropout);
	}
	if (rv == PFL_ERR_CONFIG)
		pfl_log(PFL_LOG_WARN,
		        "round %llu: secure aggregation refused for %u "
		        "clients: "
		        "with %u possible colluders (sa_corrupt %g) no "
		        "threshold t <= n has 2t > n + %u",
		        (unsigned long long)round, n,
		        pfl_sa_colluders(cfg->sa_corrupt, n), cfg->sa_corrupt,
		        pfl_sa_colluders(cfg->sa_corrupt, n));
	return rv;
}

static pfl_err
start_running(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;
	const struct pfl_agg_config *cfg = &a->cfg;
	uint32_t extra = cfg->adaptive_clip ? 2 : 1;
	pfl_err rv;

	r->vector_len = (uint32_t)a->num_params + extra;
	pfli_fedeval_plan(a, r);
	if (cfg->secure_aggregation != 0) {
		struct pfl_sa_params p;
		uint8_t(*pks)[32] = NULL;
		uint32_t k = 0, t = 0;

		if ((rv = pfli_round_sa_params(cfg, r->number, r->n,
		                               &r->sa_mode, &k, &t)) != PFL_OK)
			return rv;
		if (cfg->sa_neighbours > 0 && r->sa_mode == PFL_SA_PLUS)
			k = (uint32_t)cfg->sa_neighbours < r->n - 1
			            ? (uint32_t)cfg->sa_neighbours
			            : r->n - 1;
		if (cfg->sa_threshold > 0)
			t = (uint32_t)cfg->sa_threshold;
		if (t < (uint32_t)cfg->min_clients &&
		    (uint32_t)cfg->min_clients <= k + 1)
			t = (uint32_t)cfg->min_clients;
		r->sa_t = t;
		r->sa_k = k;
		if (t > k + 1 || t < 2)
			return PFL_ERR_CONFIG;
		memset(&p, 0, sizeof(p));
		p.mode = (enum pfl_sa_mode)r->sa_mode;
		p.n = r->n;
		p.t = t;
		p.k = k;
		p.dim = r->vector_len;
		randombytes_buf(r->sa_seed, sizeof(r->sa_seed));
		pfl_hash_round_ctx(cfg->federation_id, r->number, r->sa_seed,
		                   r->round_ctx);
		memcpy(p.round_ctx, r->round_ctx, 32);
		memcpy(p.graph_seed, r->sa_seed, 32);
		if ((pks = malloc((size_t)r->n * 32)) == NULL)
			return PFL_ERR_NOMEM;
		for (uint32_t i = 0; i < r->n; i++)
			memcpy(pks[i], r->members[i].pk, 32);
		rv = pfl_sa_server_new(&p, (const uint8_t(*)[32])pks, &r->sa);
		free(pks);
		if (rv == PFL_OK)
			rv = pfli_sa_relay_certs(a, r);
		if (rv != PFL_OK)
			return rv;
		r->sa_t = t;
		r->sa_k = k;
		r->sa_phase = PFL_SA_ADVERTISE;
		r->phase_deadline_ms =
		        now + (int64_t)(cfg->phase_timeout_s * 1000.0);
	} else {
		r->acc = calloc(r->vector_len, sizeof(float));
		r->acc_undo = calloc(r->vector_len, sizeof(float));
		if (r->acc == NULL || r->acc_undo == NULL)
			return PFL_ERR_NOMEM;
	}
	if ((rv = pfli_acct_plan(a)) != PFL_OK)
		return rv;
	if ((rv = encode_model_reply(a)) != PFL_OK)
		return rv;
	r->deadline_ms = now + (int64_t)(cfg->round_timeout_s * 1000.0);
	r->running_since_ms = now;
	r->state = PFLI_R_RUNNING;
	pfl_log(PFL_LOG_DEBUG, "round %llu: %u selected of %u draws",
	        (unsigned long long)r->number, r->n, r->draws);
	notify(a, PFL_AGG_EV_RUNNING, true);
	return PFL_OK;
}

/*
 * Results that complete a round: clients_per_round, or, when sampling
 * drew a smaller cohort than planned, the share of it that over-selection
 * plans for (n / overselect), but never fewer than min_clients.
 */
uint32_t
pfli_round_target(const struct pfl_aggregator *a)
{
	const struct pfli_round *r = &a->round;
	double share = ceil((double)r->n / a->cfg.overselect);
	uint32_t t = (uint32_t)a->cfg.clients_per_round;

	/*
	 * With DP every result of the cohort is waited for (or the deadline):
	 * closing on the first results would let one added client push
	 * another out, doubling what one client can change.
	 */
	if (a->cfg.dp_mode != PFL_DP_NONE)
		return r->n;
	if (share < (double)t)
		t = (uint32_t)share;
	if (t < (uint32_t)a->cfg.min_clients)
		t = (uint32_t)a->cfg.min_clients;
	return t;
}

/*
 * How many messages phase `phase` can still expect: those that completed
 * the phase before, less the members that withdrew before sending this
 * one (a withdrawal is a dropout at the phase the member reached).
 */
uint32_t
pfli_round_expected(const struct pfli_round *r, int phase)
{
	uint32_t n = phase == PFL_SA_ADVERTISE
	                     ? r->n
	                     : pfl_sa_server_count(
	                               r->sa, (enum pfl_sa_phase)(phase - 1));

	for (uint32_t i = 0; i < r->n && r->withdrawn > 0; i++) {
		const struct pfli_member *mb = &r->members[i];
		if (mb->withdrawn && !(mb->sa_done & (1u << phase)) &&
		    (phase == PFL_SA_ADVERTISE ||
		     (mb->sa_done & (1u << (phase - 1)))) &&
		    n > 0)
			n--;
	}
	return n;
}

static void
tick_secagg(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;
	int p = r->sa_phase;
	uint32_t got = pfl_sa_server_count(r->sa, (enum pfl_sa_phase)p);
	uint32_t expect = pfli_round_expected(r, p);
	int64_t deadline =
	        p == PFL_SA_MASKED ? r->deadline_ms : r->phase_deadline_ms;
	uint32_t target = pfli_round_target(a);
	bool enough = got >= expect ||
	              (p == PFL_SA_MASKED && got >= target && got >= r->sa_t);
	pfl_err rv;

	if (!enough && now < deadline)
		return;
	rv = pfl_sa_server_close(r->sa, (enum pfl_sa_phase)p);
	if (rv != PFL_OK) {
		char why[128];
		snprintf(why, sizeof(why),
		         "secure aggregation phase %d closed with %u of %u "
		         "(threshold %u): %s",
		         p, got, expect, r->sa_t, pfl_strerror(rv));
		abort_round(a, why);
		return;
	}
	r->sa_closed[p] = true;
	if (p == PFL_SA_MASKED)
		r->results_closed_ms = now;
	if (p == PFL_SA_UNMASK) {
		r->state = PFLI_R_FINALIZING;
		return;
	}
	r->sa_phase = p + 1;
	r->phase_deadline_ms = now + (int64_t)(a->cfg.phase_timeout_s * 1000.0);
	notify(a, PFL_AGG_EV_PHASE, true);
}

static void
tick_plain(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;

	if (r->received >= pfli_round_target(a) ||
	    (r->received >= r->n && r->n > 0)) {
		r->state = PFLI_R_FINALIZING;
		r->results_closed_ms = now;
		return;
	}
	if (r->received + r->withdrawn >= r->n && r->n > 0) {
		/* every member delivered or withdrew: nothing to wait for */
		if (r->received >= (uint32_t)a->cfg.min_clients) {
			r->state = PFLI_R_FINALIZING;
			r->results_closed_ms = now;
			return;
		}
		abort_round(a, "too few results: the other members withdrew");
		return;
	}
	if (now < r->deadline_ms)
		return;
	r->results_closed_ms = now;
	if (r->received >= (uint32_t)a->cfg.min_clients) {
		pfl_log(PFL_LOG_INFO,
		        "round %llu: deadline, aggregating the %u results of "
		        "%u selected",
		        (unsigned long long)r->number, r->received, r->n);
		r->state = PFLI_R_FINALIZING;
		r->results_closed_ms = now;
		return;
	}
	abort_round(a, "too few results before the deadline");
}

void
pfli_round_tick(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;
	pfl_err rv;

	switch (r->state) {
	case PFLI_R_IDLE:
		pfli_sel_idle(a, now); /* selection.c */
		return;
	case PFLI_R_SELECTING:
		if (!pfli_sel_close(a, now))
			return;
		if ((rv = start_running(a, now)) != PFL_OK) {
			char why[128];
			snprintf(why, sizeof(why),
			         "cannot start with %u clients (secagg k %u, t "
			         "%u): %s",
			         r->n, r->sa_k, r->sa_t, pfl_strerror(rv));
			abort_round(a, why);
		}
		return;
	case PFLI_R_RUNNING:
		if (r->sa != NULL)
			tick_secagg(a, now);
		else
			tick_plain(a, now);
		return;
	case PFLI_R_FINALIZING:
		return;
	}
}
