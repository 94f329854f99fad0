/*
 * How a cohort is chosen (docs/AGGREGATOR.md, "Selection"; the privacy
 * argument: docs/PRIVACY.md, "Sampling"). Everything here runs under
 * a->mtx: check-ins on transport workers, ticks on the round thread.
 *
 * Pace steering (Bonawitz et al., "Towards Federated Learning at Scale",
 * 2019): an idle client is told when to come back so that about
 * C = ceil(clients_per_round x overselect) clients check in for each
 * selection, whatever the population. With N clients online, each
 * check-in is eligible for the selection it arrives at with probability
 * p = min(1, C / N): a client is steered to the selection G attempts
 * ahead, G ~ Geometric(p), so that the selections it is eligible for
 * form independent Bernoulli(p) trials (the geometric law is
 * memoryless). Every check-in outside the cohort is steered afresh, so
 * a client checks in about once every 1/p selections however well it
 * keeps time. With DP, a client arriving after the selection it was
 * steered to (late, restarted, forgotten) is eligible with a fresh
 * Bernoulli(p) draw, and one arriving early is steered again without a
 * draw.
 *
 * The draw among eligible check-ins: with DP, each is taken independently
 * with probability q / p_i (p_i: the p it was steered with), so that a
 * client is in a round with probability at most p_i x q / p_i = q, the
 * rate the accountant charges (Poisson sampling). Without DP the cohort
 * is a uniform sample of fixed size C of the check-ins expected
 * (selection sampling, Knuth's Algorithm S), and the round starts as soon
 * as min_clients are drawn and no more are expected: small federations
 * run without re-drawing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/log.h"

/* The longest a client is told to stay away (pace steering). */
#define SEL_MAX_RETRY_MS (3600 * 1000LL)

uint32_t
pfli_cohort_size(const struct pfl_aggregator *a)
{
	return (uint32_t)ceil((double)a->cfg.clients_per_round *
	                      a->cfg.overselect);
}

bool
pfli_cohort_full(const struct pfl_aggregator *a)
{
	return a->cfg.dp_mode == PFL_DP_NONE &&
	       a->round.n >= pfli_cohort_size(a);
}

uint32_t
pfli_sel_min_cohort(const struct pfl_aggregator *a)
{
	uint32_t m = (uint32_t)a->cfg.min_clients;

	if (a->cfg.secure_aggregation != 0 && m < PFLI_SA_MIN_CLIENTS)
		m = PFLI_SA_MIN_CLIENTS;
	return m;
}

/* Clients not seen for this long, and past their steered time by as
 * much, are taken to be gone. */
static int64_t
gone_after_ms(const struct pfl_aggregator *a)
{
	return 3 * a->cfg.checkin_interval_ms + 2 * a->est_run_ms + 2000;
}

/* ---- pace steering ---- */

/* When the next selection should open, from now. */
static int64_t
to_next_open(const struct pfl_aggregator *a, int64_t now)
{
	const struct pfli_round *r = &a->round;
	int64_t wait = 0;

	if (r->state == PFLI_R_SELECTING)
		wait = (r->select_end_ms - now) + a->est_run_ms;
	else if (r->state == PFLI_R_RUNNING || r->state == PFLI_R_FINALIZING)
		wait = a->est_run_ms - (now - r->running_since_ms);
	/* A round running past its estimate: ask again a quarter of a
	 * round later, not every checkin_interval (pace steering). */
	if (wait < a->est_run_ms / 4)
		wait = a->est_run_ms / 4;
	if (wait < a->cfg.checkin_interval_ms)
		wait = a->cfg.checkin_interval_ms;
	return wait;
}

/* G >= 1 with P(G = g) = (1 - p)^(g - 1) p. */
static uint64_t
geometric(struct pfl_aggregator *a, double p)
{
	double u, g;

	if (p >= 1.0)
		return 1;
	u = pfl_csprng_uniform(a->rng);
	if (u <= 0)
		u = 1e-300;
	g = 1.0 + floor(log(u) / log1p(-p));
	return g < 1e9 ? (uint64_t)g : 1000000000ULL;
}

/*
 * Tell cl when to come back: for the selection G attempts after the next
 * one to open, G ~ Geometric(p), at about the time it should open, with
 * jitter within the first half of its window.
 */
static uint32_t
steer(struct pfl_aggregator *a, struct pfli_client *cl, int64_t now)
{
	struct pfli_selection *s = &a->sel;
	double p = s->p > 0 ? s->p : 1.0;
	uint64_t g = geometric(a, p);
	uint64_t next = s->epoch + 1;
	int64_t wait = to_next_open(a, now);
	int64_t period = s->period_ms > 0
	                         ? s->period_ms
	                         : a->est_run_ms + a->cfg.selection_window_ms;
	double extra = (double)(g - 1) * (double)period, spread;

	if (wait + extra > (double)SEL_MAX_RETRY_MS)
		extra = (double)(SEL_MAX_RETRY_MS - wait);
	if (extra < 0)
		extra = 0;
	wait += (int64_t)extra;
	/* spread arrivals over the start of the selection: a quarter of a
	 * round at most (later would fall into the next round) */
	spread = (double)a->cfg.selection_window_ms * 0.5;
	if (spread > (double)period * 0.25)
		spread = (double)period * 0.25;
	wait += (int64_t)(pfl_csprng_uniform(a->rng) * spread);
	if (wait > SEL_MAX_RETRY_MS)
		wait = SEL_MAX_RETRY_MS;
	if (cl->due_epoch > s->epoch &&
	    cl->due_epoch - s->epoch <= PFLI_SEL_RING &&
	    s->steered[cl->due_epoch % PFLI_SEL_RING] > 0)
		s->steered[cl->due_epoch % PFLI_SEL_RING]--;
	cl->due_epoch = next + g - 1;
	cl->due_p = p;
	cl->due_ms = now + wait;
	if (g - 1 < PFLI_SEL_RING)
		s->steered[(next + g - 1) % PFLI_SEL_RING]++;
	return (uint32_t)wait;
}

uint32_t
pfli_sel_retry(struct pfl_aggregator *a, struct pfli_client *cl, int64_t now)
{
	if (cl == NULL) {
		int64_t wait = to_next_open(a, now);
		return (uint32_t)(wait +
		                  (int64_t)(pfl_csprng_uniform(a->rng) *
		                            (double)a->cfg.checkin_interval_ms *
		                            0.5));
	}
	return steer(a, cl, now);
}

/*
 * How soon a cohort member waiting for its plan or a phase should ask
 * again: quick for small cohorts, slower for large ones so that polling
 * (a signed request and reply each) stays a small part of the work.
 */
uint32_t
pfli_sel_poll_ms(struct pfl_aggregator *a)
{
	uint32_t base = 20 + a->round.n / 2;

	return base + (uint32_t)(pfl_csprng_uniform(a->rng) * base * 0.5);
}

/*
 * The clients online and the check-ins the next selection can expect:
 * a client is online when seen lately or not yet overdue at the time it
 * was steered to; it is expected at the next selection when steered to
 * it, or, not steered to a later one, with probability p.
 */
static void
scan(struct pfl_aggregator *a, int64_t now, double *online, double *expected)
{
	struct pfli_clients *t = &a->clients;
	int64_t gone = gone_after_ms(a);
	uint64_t next = a->sel.epoch + 1;
	double on = 0, due = 0, free_ = 0, p;

	for (size_t i = 0; i < t->cap; i++) {
		struct pfli_client *cl = &t->slots[i];
		if (!cl->used || cl->backoff_until_ms > now)
			continue;
		if (cl->last_seen_ms < now - gone &&
		    (cl->due_ms == 0 || cl->due_ms + gone < now))
			continue;
		on++;
		if (cl->due_epoch == next)
			due++;
		else if (cl->due_epoch < next)
			free_++;
	}
	p = on > 0 ? (double)pfli_cohort_size(a) / on : 1.0;
	if (p > 1.0)
		p = 1.0;
	a->sel.p = p;
	a->sel.online = on;
	*online = on;
	*expected = due + p * free_;
}

/* ---- opening a selection ---- */

/*
 * Open a selection when it is likely to draw a cohort: without DP when
 * min_clients (and 3 for secure aggregation) are expected to check in;
 * with DP when the expected cohort, expected x q, reaches it with room
 * (re-draws raise the rate the accountant charges), or everyone of the
 * population is expected.
 */
static bool
enough_expected(const struct pfl_aggregator *a, double online, double expected,
                double q)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	double m = (double)pfli_sel_min_cohort(a);
	double want = (double)pfli_cohort_size(a);
	double need = m + 4.0 * sqrt(m);

	if (cfg->dp_mode == PFL_DP_NONE)
		return online >= m; /* the window waits for them to come */
	if (expected + 1e-9 < m)
		return false;
	if (q >= 1.0)
		return true;
	if (need > want)
		need = want;
	/* the draws are q / p of the eligible check-ins */
	return online * q >= need ||
	       (cfg->population > 0 && online >= (double)cfg->population);
}

/*
 * Say what is missing, after 10 s without a round and then every minute:
 * the clients online, those expected, and what a cohort needs.
 */
static void
log_waiting(struct pfl_aggregator *a, int64_t now, double online,
            double expected, double q)
{
	struct pfli_selection *s = &a->sel;
	const struct pfl_agg_config *cfg = &a->cfg;

	if (s->idle_since_ms == 0) {
		s->idle_since_ms = now;
		s->idle_logged_ms = now;
		return;
	}
	if (now - s->idle_since_ms < 10000 ||
	    (now - s->idle_logged_ms < 60000 &&
	     s->idle_logged_ms != s->idle_since_ms))
		return;
	s->idle_logged_ms = now;
	if (cfg->dp_mode == PFL_DP_NONE || q >= 1.0)
		pfl_log(PFL_LOG_INFO,
		        "round %llu: waiting for clients for %.0f s: %.0f "
		        "online, %.1f expected at the next selection; a round "
		        "needs %u (min_clients%s)",
		        (unsigned long long)(a->rounds_done + 1),
		        (double)(now - s->idle_since_ms) / 1000.0, online,
		        expected, pfli_sel_min_cohort(a),
		        cfg->secure_aggregation != 0 &&
		                        cfg->min_clients < PFLI_SA_MIN_CLIENTS
		                ? ", and 3 for secure aggregation"
		                : "");
	else
		pfl_log(PFL_LOG_INFO,
		        "round %llu: waiting for clients for %.0f s: %.0f "
		        "online of population %lld; with DP each is drawn with "
		        "probability q = %.4f, so the expected cohort %.1f is "
		        "too small for min_clients = %u: more clients must be "
		        "online",
		        (unsigned long long)(a->rounds_done + 1),
		        (double)(now - s->idle_since_ms) / 1000.0, online,
		        (long long)cfg->population, q, online * q,
		        pfli_sel_min_cohort(a));
}

/*
 * Tell the embedder's waiting clients that a selection is open: all when
 * p = 1; else those steered to it and, without DP, as many others drawn
 * uniformly as make up two cohorts (a cohort is then there at once; with
 * DP the others would not be eligible anyway).
 */
static void
notify_selecting(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_clients *t = &a->clients;
	uint64_t e = a->sel.epoch;
	uint32_t c = pfli_cohort_size(a), n = 0, cap, want, seen = 0;
	uint8_t(*pks)[32] = NULL;

	if (a->notify == NULL)
		return;
	if (a->sel.p >= 1.0) {
		a->notify(a->notify_arg, PFL_AGG_EV_SELECTING, NULL, 0);
		return;
	}
	want = a->cfg.dp_mode == PFL_DP_NONE ? 2 * c : 0;
	cap = a->sel.steered[e % PFLI_SEL_RING] + want;
	if (cap == 0 || (pks = malloc((size_t)cap * 32)) == NULL)
		return; /* they come back at their retry-after */
	for (size_t i = 0; i < t->cap && n < cap; i++)
		if (t->slots[i].used && t->slots[i].due_epoch == e)
			memcpy(pks[n++], t->slots[i].pk, 32);
	if (want > cap - n)
		want = cap - n;
	/* reservoir sample of `want` idle clients not steered here */
	for (size_t i = 0; i < t->cap && want > 0; i++) {
		const struct pfli_client *cl = &t->slots[i];
		uint64_t j;
		if (!cl->used || cl->due_epoch == e ||
		    cl->backoff_until_ms > now)
			continue;
		seen++;
		if (seen <= want) {
			memcpy(pks[n + seen - 1], cl->pk, 32);
			continue;
		}
		j = pfl_csprng_below(a->rng, seen);
		if (j < want)
			memcpy(pks[n + j], cl->pk, 32);
	}
	n += seen < want ? seen : want;
	a->notify(a->notify_arg, PFL_AGG_EV_SELECTING,
	          (const uint8_t(*)[32])pks, n);
	free(pks);
}

static pfl_err
open_selection(struct pfl_aggregator *a, int64_t now, double online,
               double expected, double q)
{
	struct pfli_round *r = &a->round;
	struct pfli_selection *s = &a->sel;
	const struct pfl_agg_config *cfg = &a->cfg;
	double want = (double)pfli_cohort_size(a);
	pfl_err rv;

	pfli_round_reset(r);
	r->number = a->rounds_done + 1;
	r->epoch = ++s->epoch;
	r->q = q;
	if ((rv = pfli_acct_check_open(a, (size_t)online)) != PFL_OK)
		return rv;
	r->cap = (uint32_t)(want * 3 + 16);
	if (cfg->dp_mode == PFL_DP_NONE && r->cap > (uint32_t)want)
		r->cap = (uint32_t)want;
	r->members = calloc(r->cap, sizeof(*r->members));
	if (r->members == NULL)
		return PFL_ERR_NOMEM;
	r->state = PFLI_R_SELECTING;
	r->expected_draws = (uint32_t)ceil(expected - 1e-9);
	/* Without DP and not everyone expected: wait for a cohort (or the
	 * window's end), not for the few steered here by chance. */
	if (cfg->dp_mode == PFL_DP_NONE && s->p < 1.0 &&
	    r->expected_draws < (uint32_t)want)
		r->expected_draws = (uint32_t)want;
	r->opened_ms = now;
	if (s->last_open_ms > 0 && r->number > s->last_open_round) {
		int64_t gap = now - s->last_open_ms;
		/* the mean of the gaps so far, then of about the last 20:
		 * steering spreads check-ins by it, and a check-in per round
		 * follows its ratio to the round's length */
		uint32_t k = ++s->gaps < 20 ? s->gaps : 20;
		s->period_ms += (int64_t)((double)(gap - s->period_ms) / k);
	}
	if (r->number > s->last_open_round) {
		s->last_open_ms = now;
		s->last_open_round = r->number;
	}
	/* Long enough for every client steered here to arrive; it closes
	 * early once all have drawn or the cohort is full. */
	r->select_end_ms = now + cfg->selection_window_ms;
	if (r->select_end_ms <
	    now + 2 * a->est_run_ms + cfg->checkin_interval_ms)
		r->select_end_ms =
		        now + 2 * a->est_run_ms + cfg->checkin_interval_ms;
	pfl_log(PFL_LOG_DEBUG,
	        "round %llu: selecting, %.0f clients online, %.1f expected, "
	        "p=%.4f q=%.4f",
	        (unsigned long long)r->number, online, expected, s->p, r->q);
	if (a->sampler != NULL) {
		/* an embedder's sampler draws the cohort from its whole
		 * population (presample.c); it wakes the drawn ones itself */
		if ((rv = pfli_presample(a, now)) != PFL_OK)
			return rv;
		if (a->notify != NULL)
			a->notify(a->notify_arg, PFL_AGG_EV_SELECTING, NULL, 0);
		s->steered[s->epoch % PFLI_SEL_RING] = 0;
		return PFL_OK;
	}
	notify_selecting(a, now);
	s->steered[s->epoch % PFLI_SEL_RING] = 0;
	return PFL_OK;
}

/*
 * DP: fewer than a cohort are steered to the next selection although
 * enough are online (each online client is eligible for a selection with
 * probability p): once a selection would have opened, count it as one
 * that drew too few (as a re-draw would) and steer to the following one.
 * Those steered to it are eligible afresh later (with probability p).
 */
static void
skip_epoch(struct pfl_aggregator *a, int64_t now, double online, double q)
{
	struct pfli_selection *s = &a->sel;
	int64_t period = s->period_ms > 0
	                         ? s->period_ms
	                         : a->est_run_ms + a->cfg.selection_window_ms;

	if (a->cfg.dp_mode == PFL_DP_NONE ||
	    !enough_expected(a, online, online * s->p, q) ||
	    now - (s->skipped_ms > s->last_open_ms ? s->skipped_ms
	                                           : s->last_open_ms) <
	            period)
		return;
	s->epoch++;
	s->steered[s->epoch % PFLI_SEL_RING] = 0;
	s->skipped_ms = now;
	s->resamples++;
	pfl_log(PFL_LOG_DEBUG,
	        "round %llu: too few clients steered to selection %llu; on "
	        "to the next",
	        (unsigned long long)(a->rounds_done + 1),
	        (unsigned long long)s->epoch);
}

void
pfli_sel_idle(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_selection *s = &a->sel;
	double online = 0, expected = 0, q;
	pfl_err rv;

	if (a->sampler != NULL) /* the embedder draws from everyone */
		online = expected = (double)a->cfg.population;
	else
		scan(a, now, &online, &expected);
	q = a->cfg.dp_mode == PFL_DP_NONE
	            ? 1.0
	            : pfli_acct_draw_rate(&a->cfg, (size_t)online);
	if (!enough_expected(a, online, expected, q)) {
		skip_epoch(a, now, online, q);
		log_waiting(a, now, online, expected, q);
		return;
	}
	s->idle_since_ms = 0;
	if ((rv = open_selection(a, now, online, expected, q)) != PFL_OK) {
		if (rv == PFL_ERR_BUDGET) {
			a->budget_spent = true;
			a->stop = 1;
		} else
			pfl_log(PFL_LOG_ERROR, "cannot open a round: %s",
			        pfl_strerror(rv));
		pfli_round_reset(&a->round);
	}
}

/* ---- the draw ---- */

/*
 * Without DP, when fewer clients checked in than were expected, the
 * selection sampling may close short of the cohort: take the rest
 * uniformly from those that checked in and were not taken. They were
 * told to come back later; the plan waits for them.
 */
static void
top_up(struct pfl_aggregator *a)
{
	struct pfli_round *r = &a->round;
	struct pfli_clients *t = &a->clients;
	uint32_t want = pfli_cohort_size(a);
	uint64_t cand = 0;

	if (a->cfg.dp_mode != PFL_DP_NONE || r->n >= want)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used && t->slots[i].rolled_round == r->epoch &&
		    t->slots[i].member < 0)
			cand++;
	while (r->n < want && r->n < r->cap && cand > 0) {
		uint64_t pick = pfl_csprng_below(a->rng, cand);
		for (size_t i = 0; i < t->cap; i++) {
			struct pfli_client *cl = &t->slots[i];
			if (!cl->used || cl->rolled_round != r->epoch ||
			    cl->member >= 0)
				continue;
			if (pick > 0) {
				pick--;
				continue;
			}
			memset(&r->members[r->n], 0, sizeof(r->members[0]));
			memcpy(r->members[r->n].pk, cl->pk, 32);
			cl->member = (int32_t)r->n++;
			break;
		}
		cand--;
	}
}

/* Whether an eligible check-in (just counted in r->draws) is drawn. */
static bool
drawn(struct pfl_aggregator *a, double p_i)
{
	const struct pfli_round *r = &a->round;
	double need, left;

	if (a->cfg.dp_mode != PFL_DP_NONE) {
		double qi = p_i > 0 ? r->q / p_i : r->q;
		return pfl_csprng_uniform(a->rng) < qi;
	}
	need = (double)pfli_cohort_size(a) - (double)r->n;
	left = (double)r->expected_draws - (double)(r->draws - 1);
	if (need <= 0)
		return false;
	if (left <= need)
		return true;
	return pfl_csprng_uniform(a->rng) * left < need;
}

/*
 * Whether cl may draw in the open selection, and with which p it was
 * steered: the one it was steered to, or, steered to none that is still
 * ahead, a fresh Bernoulli(p) (memoryless: the same law).
 */
static bool
eligible(struct pfl_aggregator *a, struct pfli_client *cl, double *p_i)
{
	const struct pfli_round *r = &a->round;
	double p = a->sel.p > 0 ? a->sel.p : 1.0;

	if (a->cfg.dp_mode == PFL_DP_NONE) {
		/* no sampling to keep honest: whoever comes may be drawn */
		*p_i = 1.0;
		return true;
	}
	if (cl->due_epoch == r->epoch) {
		*p_i = cl->due_p > 0 ? cl->due_p : p;
		return true;
	}
	if (cl->due_epoch > r->epoch)
		return false;
	*p_i = p;
	return p >= 1.0 || pfl_csprng_uniform(a->rng) < p;
}

bool
pfli_sel_checkin(struct pfl_aggregator *a, struct pfli_client *cl, int64_t now,
                 uint32_t *retry_ms, const char **why)
{
	struct pfli_round *r = &a->round;
	double p_i = 1.0;

	/* The check-ins pace steering paces: not the polls of members
	 * waiting for their plan. */
	if (!(cl->rolled_round == r->epoch && cl->member >= 0 &&
	      r->state != PFLI_R_IDLE))
		a->sel.checkins_round++;
	if (r->state == PFLI_R_SELECTING && cl->rolled_round != r->epoch &&
	    pfli_health_is_backed_off(a, cl, now)) {
		/* Not drawn, and not counted as a draw. */
		int64_t left = cl->backoff_until_ms - now;
		*retry_ms = (uint32_t)(left < 60000 ? left : 60000);
		*why = "backed off after failed rounds";
		return false;
	}
	if (r->state == PFLI_R_SELECTING && cl->rolled_round != r->epoch) {
		if (cl->due_epoch > r->epoch && a->cfg.dp_mode != PFL_DP_NONE) {
			/* early: steered afresh (memoryless: its chance at
			 * every later selection stays p) */
			*retry_ms = steer(a, cl, now);
			*why = "not selected";
			return false;
		}
		cl->rolled_round = r->epoch;
		cl->member = -1;
		if (eligible(a, cl, &p_i)) {
			r->draws++;
			r->draw_mass += (r->q < p_i ? 1.0 : p_i / r->q) / p_i;
			if (r->n < r->cap && drawn(a, p_i)) {
				struct pfli_member *mb = &r->members[r->n];
				memset(mb, 0, sizeof(*mb));
				memcpy(mb->pk, cl->pk, 32);
				cl->member = (int32_t)r->n++;
			}
		}
		cl->due_epoch = 0;
		if ((r->expected_draws > 0 && r->draws >= r->expected_draws) ||
		    pfli_cohort_full(a))
			pfli_round_wake(a);
	}
	if (r->state == PFLI_R_SELECTING) {
		if (cl->rolled_round == r->epoch && cl->member >= 0) {
			/* Poll: the window may close early. */
			int64_t left = r->select_end_ms - now;
			int64_t poll = pfli_sel_poll_ms(a);
			if (left < poll)
				poll = left > 0 ? left : 1;
			*retry_ms = (uint32_t)poll;
			*why = "selected; the plan follows at round start";
		} else {
			*retry_ms = pfli_sel_retry(a, cl, now);
			*why = "not selected";
		}
		return false;
	}
	if (r->state == PFLI_R_RUNNING && cl->rolled_round == r->epoch &&
	    cl->member >= 0)
		return true;
	*retry_ms = pfli_sel_retry(a, cl, now);
	*why = r->state == PFLI_R_IDLE ? "no round open" : "round in progress";
	return false;
}

/* ---- closing a selection ---- */

bool
pfli_sel_close(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;
	struct pfli_selection *s = &a->sel;
	const struct pfl_agg_config *cfg = &a->cfg;
	uint32_t m = pfli_sel_min_cohort(a);

	/* Close early once every client expected has had its draw. */
	if (now < r->select_end_ms &&
	    (r->draws < r->expected_draws || r->draws == 0) &&
	    !pfli_cohort_full(a))
		return false;
	top_up(a);
	if (r->n >= m)
		return true;
	if (cfg->dp_mode == PFL_DP_NONE) {
		/* Nothing to re-draw without DP: the ones drawn stay, and
		 * the window waits for the cohort to be there. */
		if (now - s->short_logged_ms >= 10000) {
			s->short_logged_ms = now;
			pfl_log(PFL_LOG_INFO,
			        "round %llu: %u of %u needed drawn from %u "
			        "check-ins (%.0f clients online); waiting for "
			        "more check-ins",
			        (unsigned long long)r->number, r->n, m,
			        r->draws, s->online);
		}
		r->expected_draws = r->draws + 1;
		return false;
	}
	s->resamples++;
	pfl_log(s->resamples % 20 == 1 ? PFL_LOG_INFO : PFL_LOG_DEBUG,
	        "round %llu: only %u of %u clients checked in were selected "
	        "(need %u); sampling again",
	        (unsigned long long)r->number, r->n, r->draws, m);
	pfli_round_reset(r);
	return false;
}

uint32_t
pfli_sel_round_checkins(struct pfl_aggregator *a)
{
	uint32_t n = a->sel.checkins_round;

	a->sel.checkins_round = 0;
	return n;
}
