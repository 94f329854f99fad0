/*
 * Finishing a round: the unmasked (or plain) sum becomes the next global
 * model. Order matters for privacy: the accountant is charged, and the
 * checkpoint holding that charge is on disk, before the model is released.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/clip.h"
#include "privfl/clock.h"
#include "privfl/hash.h"
#include "privfl/log.h"
#include "privfl/quant.h"

/*
 * The summed vector of the round's survivors, as floats; their keys go to
 * surv (room for r->n keys).
 */
static pfl_err
round_sum(struct pfl_aggregator *a, float *sum, uint32_t *survivors,
          uint8_t (*surv)[32])
{
	struct pfli_round *r = &a->round;
	uint32_t *isum = NULL, *ids = NULL;
	pfl_err rv;

	if (r->sa == NULL) {
		uint32_t k = 0;
		memcpy(sum, r->acc, (size_t)r->vector_len * sizeof(float));
		for (uint32_t i = 0; i < r->n; i++)
			if (r->members[i].sent_update)
				memcpy(surv[k++], r->members[i].pk, 32);
		*survivors = k;
		return PFL_OK;
	}
	isum = malloc((size_t)r->vector_len * sizeof(uint32_t));
	ids = malloc((size_t)r->n * sizeof(uint32_t));
	if (isum == NULL || ids == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out;
	}
	rv = pfl_sa_server_result(r->sa, isum, ids, survivors);
	if (rv == PFL_OK) {
		pfl_quant_decode(isum, r->vector_len, r->quant_scale, sum);
		for (uint32_t i = 0; i < *survivors; i++)
			if (ids[i] >= 1 && ids[i] <= r->n)
				memcpy(surv[i], r->members[ids[i] - 1].pk, 32);
	}
out:
	free(isum);
	free(ids);
	return rv;
}

/*
 * L2 sensitivity of one client's contribution to the released sum, in the
 * units the noise is expressed in, including the worst case of stochastic
 * rounding (at most one quantum per coordinate).
 */
static double
sensitivity(const struct pfli_round *r, size_t p)
{
	if (r->sa == NULL || r->quant_scale <= 0)
		return r->clip_norm;
	return r->clip_norm + sqrt((double)p) / r->quant_scale;
}

/*
 * The sampling rate to charge. Each draw selected with probability r->q,
 * but a draw with too few selected is re-drawn, so a released cohort is a
 * Poisson sample conditioned on its size reaching m. Charge q / P(size >=
 * m), with P bounded from below by Chernoff (P(Bin < m) <= exp(-(mu -
 * m)^2 / (2 mu)), mu = draws * q): conservative, and 1 when the bound says
 * nothing (docs/PRIVACY.md).
 */
double
pfli_charged_rate(const struct pfl_aggregator *a, double q, double draws)
{
	double m = (double)a->cfg.min_clients;
	double mu = draws * q, p_ok;

	if (a->cfg.secure_aggregation != 0 && m < 3)
		m = 3;
	if (mu <= m)
		return 1.0;
	p_ok = 1.0 - exp(-(mu - m) * (mu - m) / (2.0 * mu));
	q = q / p_ok;
	return q < 1.0 ? q : 1.0;
}

static double
sampling_rate(const struct pfl_aggregator *a)
{
	return pfli_charged_rate(a, a->round.q, (double)a->round.draws);
}

/* Add central noise, and work out the realized noise multiplier. */
static pfl_err
privatize(struct pfl_aggregator *a, float *sum, uint32_t survivors,
          double *z_real, double *q)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	struct pfli_round *r = &a->round;
	size_t p = a->num_params;
	double z = cfg->noise_multiplier;

	*q = sampling_rate(a);
	*z_real = 0;
	switch (cfg->dp_mode) {
	case PFL_DP_NONE:
		return PFL_OK;
	case PFL_DP_CENTRAL: {
		double z_delta = z;
		if (cfg->adaptive_clip) {
			double sb =
			        cfg->clip_count_stddev > 0
			                ? cfg->clip_count_stddev
			                : (double)cfg->clients_per_round / 20.0;
			pfl_err rv = pfl_adaclip_update_noise(z, sb, &z_delta);
			if (rv != PFL_OK)
				return rv;
			pfl_noise_gaussian_add(a->noise_rng, &sum[p + 1], 1,
			                       sb);
		}
		pfl_noise_gaussian_add(a->noise_rng, sum, p,
		                       z_delta * r->clip_norm);
		*z_real = z * r->clip_norm / sensitivity(r, p);
		return PFL_OK;
	}
	case PFL_DP_DISTRIBUTED: {
		/* Kairouz et al. 2021: the sum of the survivors' discrete
		 * Gaussians, sensitivity in quantized units including the
		 * worst case of stochastic rounding. */
		double l2 = r->clip_norm * r->quant_scale + sqrt((double)p);
		double s2 = r->client_noise_sigma * r->client_noise_sigma;
		if (survivors == 0)
			return PFL_ERR_STATE;
		return pfl_ddg_effective_sigma(s2, survivors, p, l2,
		                               sqrt((double)p) * l2, z_real);
	}
	case PFL_DP_LOCAL:
		*q = 1.0;
		*z_real = z * r->clip_norm / sensitivity(r, p);
		return PFL_OK;
	}
	return PFL_ERR_CONFIG;
}

/* Whether the model just released is evaluated on the test set. */
static bool
eval_due(const struct pfl_aggregator *a)
{
	bool last = a->rounds_done >= (uint64_t)a->cfg.rounds;

	return a->have_test &&
	       ((a->cfg.eval_every > 0 &&
	         a->rounds_done % (uint64_t)a->cfg.eval_every == 0) ||
	        last);
}

/*
 * How long a round runs for the clients that answer: from the end of
 * selection to now, less the time spent waiting at the deadline for
 * results that never came (a client that died). Clients are told to come
 * back after about this long, selection windows and the "seen lately"
 * window scale with it: one dead client must not make the next rounds wait
 * for a deadline too.
 */
static int64_t
estimated_run(const struct pfli_round *r)
{
	int64_t now = pfl_clock_ms(), run = now - r->running_since_ms;
	int64_t idle = 0;

	if (r->results_closed_ms > 0 && r->last_result_ms > 0 &&
	    r->results_closed_ms > r->last_result_ms)
		idle = r->results_closed_ms - r->last_result_ms;
	run -= idle;
	return run > 1 ? run : 1;
}

static void
make_report(struct pfl_aggregator *a, uint32_t survivors, double z_real,
            struct pfl_round_report *out)
{
	struct pfli_round *r = &a->round;
	struct pfl_round_report rep;

	memset(&rep, 0, sizeof(rep));
	rep.round = r->number;
	rep.accuracy = NAN; /* filled in by the reporter (report.c) */
	rep.loss = NAN;
	rep.train_loss =
	        r->train_loss_n ? r->train_loss_sum / r->train_loss_n : NAN;
	rep.epsilon = a->epsilon;
	rep.delta = a->cfg.dp_mode != PFL_DP_NONE ? a->cfg.delta : 0;
	rep.selected = r->n;
	rep.survived = survivors;
	rep.bytes_up = r->bytes_up;
	rep.bytes_down = r->bytes_down;
	rep.seconds = (double)(pfl_clock_ms() - r->opened_ms) / 1000.0;
	rep.clip_norm = r->clip_norm;
	rep.noise_sigma = z_real;
	a->last_round_seconds = rep.seconds;
	a->est_run_ms = estimated_run(r);
	*out = rep;
}

/*
 * Make the round durable, then public: checkpoint (with the accountant's
 * charge and the pending audit line), audit line, results.
 */
static void
publish(struct pfl_aggregator *a, const struct pfl_round_report *rep,
        const uint8_t (*surv)[32], uint32_t nsurv)
{
	struct pfli_round *r = &a->round;
	uint8_t(*sel)[32] = malloc((size_t)r->n * 32 + 32);
	pfl_err rv;

	pfl_buf_clear(&a->pending_audit);
	if (sel != NULL) {
		for (uint32_t i = 0; i < r->n; i++)
			memcpy(sel[i], r->members[i].pk, 32);
		rv = pfli_audit_format(a, rep, (const uint8_t(*)[32])sel, r->n,
		                       surv, nsurv, &a->pending_audit);
		if (rv != PFL_OK)
			pfl_log(PFL_LOG_ERROR, "audit line: %s",
			        pfl_strerror(rv));
	}
	free(sel);
	if ((rv = pfli_checkpoint_write(a)) != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "round %llu: checkpoint failed: %s",
		        (unsigned long long)r->number, pfl_strerror(rv));
	if (a->pending_audit.len > 0) {
		rv = pfli_audit_append(a, (const char *)a->pending_audit.data,
		                       a->pending_audit.len);
		if (rv != PFL_OK)
			pfl_log(PFL_LOG_ERROR, "audit log: %s",
			        pfl_strerror(rv));
	}
	if (a->cfg.save_every_round) {
		char name[64];
		snprintf(name, sizeof(name), "model-%06llu.safetensors",
		         (unsigned long long)a->rounds_done);
		(void)pfli_results_save_model(a, name);
	}
	pfli_report_round(a, rep, eval_due(a) ? a->global : NULL);
}

pfl_err
pfli_round_finish(struct pfl_aggregator *a)
{
	struct pfli_round *r = &a->round;
	const struct pfl_agg_config *cfg = &a->cfg;
	size_t p = a->num_params;
	uint32_t survivors = 0;
	double z_real = 0, q = 0, den, below = 0;
	uint8_t(*surv)[32] = NULL;
	struct pfl_round_report rep;
	float *sum;
	pfl_err rv;

	sum = malloc((size_t)r->vector_len * sizeof(float));
	surv = malloc((size_t)r->n * 32 + 32);
	if (sum == NULL || surv == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out;
	}
	if ((rv = round_sum(a, sum, &survivors, surv)) != PFL_OK)
		goto out;
	if ((rv = privatize(a, sum, survivors, &z_real, &q)) != PFL_OK)
		goto out;
	r->q_charged = q;
	den = cfg->dp_mode != PFL_DP_NONE ? (double)cfg->clients_per_round
	                                  : (double)sum[p];
	if (!(den > 0)) {
		rv = PFL_ERR_STATE;
		goto out;
	}
	if (cfg->adaptive_clip)
		below = sum[p + 1];
	for (size_t i = 0; i < p; i++)
		sum[i] = (float)(sum[i] / den);
	pthread_mutex_lock(&a->mtx);
	if (cfg->dp_mode != PFL_DP_NONE && cfg->epsilon_budget > 0) {
		/* The authoritative check, with what would really be charged
		 * (open_round's is an estimate made before the draws): a
		 * round that would pass the budget is not released. */
		double eps = 0;
		rv = pfl_accountant_epsilon_if(a->acct, q, z_real, 1,
		                               cfg->delta, &eps);
		if (rv == PFL_OK && eps > cfg->epsilon_budget)
			rv = PFL_ERR_BUDGET;
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_WARN,
			        "privacy budget: releasing round %llu would "
			        "bring epsilon to %.4f > budget %.4f (q %.4f, "
			        "noise multiplier %.4f); not released, "
			        "stopping",
			        (unsigned long long)r->number, eps,
			        cfg->epsilon_budget, q, z_real);
			a->budget_spent = true;
			a->stop = 1;
			pthread_mutex_unlock(&a->mtx);
			goto out;
		}
	}
	if (cfg->dp_mode != PFL_DP_NONE) {
		double order = 0;
		rv = pfl_accountant_charge(a->acct, q, z_real, 1);
		if (rv == PFL_OK)
			rv = pfl_accountant_epsilon(a->acct, cfg->delta,
			                            &a->epsilon, &order);
		if (rv != PFL_OK) {
			pthread_mutex_unlock(&a->mtx);
			pfl_log(PFL_LOG_ERROR, "accountant: %s",
			        pfl_strerror(rv));
			goto out;
		}
	}
	pfl_strategy_apply(a->strategy, a->global, sum);
	pfl_hash_params(a->global, p, a->model_hash);
	if (cfg->adaptive_clip) {
		struct pfl_adaclip ac = {a->clip_norm,
		                         cfg->clip_target_quantile,
		                         cfg->clip_lr, 0};
		pfl_adaclip_update(&ac, below,
		                   cfg->dp_mode != PFL_DP_NONE
		                           ? (double)cfg->clients_per_round
		                           : (double)survivors);
		a->clip_norm = ac.clip;
	}
	a->rounds_done++;
	/* under the lock: idle_retry reads est_run_ms */
	make_report(a, survivors, z_real, &rep);
	pthread_mutex_unlock(&a->mtx);
	publish(a, &rep, (const uint8_t(*)[32])surv, survivors);
out:
	pfl_free_wipe(sum, (size_t)r->vector_len * sizeof(float));
	free(surv);
	pthread_mutex_lock(&a->mtx);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_WARN, "round %llu not released: %s",
		        (unsigned long long)r->number, pfl_strerror(rv));
	pfli_round_reset(r);
	pthread_mutex_unlock(&a->mtx);
	return rv;
}
