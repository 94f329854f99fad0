/*
 * Every privacy decision of a round, in the order a round meets them: the
 * settings a federation may start with, the sampling rate of the draws,
 * the budget before a round opens, the plan (clip, each client's noise,
 * quantization), privatizing the sum (central noise from a generator of
 * its own, the noise multiplier that really went in), the budget at
 * release, and the charge. docs/PRIVACY.md gives the argument for each;
 * the threads: everything here runs on the aggregator's round thread
 * (tick under a->mtx, finishing outside it), never on transport workers.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/clip.h"
#include "privfl/log.h"
#include "privfl/quant.h"

pfl_err
pfli_privacy_check_config(const struct pfl_agg_config *c, char *err,
                          size_t errlen)
{
#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return PFL_ERR_CONFIG;              \
	} while (0)
	if (c->dp_mode == PFL_DP_CENTRAL && c->population <= 0)
		FAIL("dp_mode central needs population: the number of "
		     "clients that could be drawn (enrolled), which fixes the "
		     "sampling rate q = clients_per_round x overselect / "
		     "population the accountant charges");
	if (c->dp_mode == PFL_DP_CENTRAL && c->adaptive_clip) {
		double z = 0, sb = 0;
		if (pfli_acct_clip_noise(c, &z, &sb) != PFL_OK)
			FAIL("adaptive_clip: clip_count_stddev (%g) must "
			     "exceed noise_multiplier / 2 (%g)",
			     sb, c->noise_multiplier / 2.0);
	}
#undef FAIL
	return PFL_OK;
}

pfl_err
pfli_acct_clip_noise(const struct pfl_agg_config *c, double *z_delta,
                     double *count_stddev)
{
	double sb = c->clip_count_stddev > 0
	                    ? c->clip_count_stddev
	                    : (double)c->clients_per_round / 20.0;

	*count_stddev = sb;
	return pfl_adaclip_update_noise(c->noise_multiplier, sb, z_delta);
}

double
pfli_acct_draw_rate(const struct pfl_agg_config *c, size_t available)
{
	double want = (double)c->clients_per_round * c->overselect;
	double pool = (double)available, q;

	if (c->population > 0 && (double)c->population > pool)
		pool = (double)c->population;
	if (!(pool > 0))
		return 1.0;
	q = want / pool;
	return q < 1.0 ? q : 1.0;
}

/*
 * q / P(cohort >= m): a draw with too few selected is drawn again, so a
 * released cohort is a Poisson sample conditioned on its size reaching m;
 * P is bounded from below by Chernoff (P(Bin < m) <= exp(-(mu - m)^2 /
 * (2 mu)), mu = draws x q), and the answer is 1 when the bound says
 * nothing.
 */
static double
redraw_rate(const struct pfl_aggregator *a, double q, double draws)
{
	double m = (double)a->cfg.min_clients;
	double mu = draws * q, p_ok;

	if (a->cfg.secure_aggregation != 0 && m < PFLI_SA_MIN_CLIENTS)
		m = PFLI_SA_MIN_CLIENTS;
	if (mu <= m)
		return 1.0;
	p_ok = 1.0 - exp(-(mu - m) * (mu - m) / (2.0 * mu));
	q = q / p_ok;
	return q < 1.0 ? q : 1.0;
}

/*
 * The draws at rate q with the expected cohort of this selection's: a
 * check-in steered with probability p_i is drawn with min(1, q / p_i)
 * (selection.c), so each counts min(1/q, 1/p_i) >= 1 draws at rate q.
 */
static double
draw_mass(const struct pfli_round *r)
{
	return r->draw_mass > (double)r->draws ? r->draw_mass
	                                       : (double)r->draws;
}

double
pfli_acct_rate(const struct pfl_aggregator *a, double q, double draws)
{
	double rate;

	if (a->cfg.dp_mode != PFL_DP_CENTRAL)
		return 1.0;
	rate = redraw_rate(a, q, draws);
	/* Drawn in this attempt or in one aborted after its selection. */
	rate = 1.0 - a->abort_miss * (1.0 - rate);
	return rate < 1.0 ? rate : 1.0;
}

void
pfli_acct_aborted(struct pfl_aggregator *a)
{
	const struct pfli_round *r = &a->round;

	if (a->cfg.dp_mode != PFL_DP_CENTRAL || r->draws == 0)
		return;
	a->abort_miss *= 1.0 - redraw_rate(a, r->q, draw_mass(r));
	pfl_log(PFL_LOG_INFO,
	        "round %llu: aborted after selection; the next release is "
	        "charged q %.4f",
	        (unsigned long long)r->number,
	        pfli_acct_rate(a, r->q, draw_mass(r)));
}

/* Before a round opens: would the planned round fit the budget? */
pfl_err
pfli_acct_check_open(const struct pfl_aggregator *a, size_t available)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	double eps = 0, q;
	pfl_err rv;

	if (cfg->dp_mode == PFL_DP_NONE || cfg->epsilon_budget <= 0)
		return PFL_OK;
	q = pfli_acct_rate(a, pfli_acct_draw_rate(cfg, available),
	                   (double)available);
	rv = pfl_accountant_epsilon_if(a->acct, q, cfg->noise_multiplier, 1,
	                               cfg->delta, &eps);
	if (rv != PFL_OK || eps > cfg->epsilon_budget) {
		pfl_log(PFL_LOG_WARN,
		        "privacy budget: round %llu would bring epsilon to "
		        "%.4f > budget %.4f; stopping",
		        (unsigned long long)(a->rounds_done + 1), eps,
		        cfg->epsilon_budget);
		return PFL_ERR_BUDGET;
	}
	return PFL_OK;
}

uint32_t
pfli_acct_colluders(const struct pfl_agg_config *c, uint32_t n)
{
	return pfl_sa_colluders(c->sa_corrupt, n);
}

/* Noise each client adds (docs/PRIVACY.md), and the quantization. */
pfl_err
pfli_acct_plan(struct pfl_aggregator *a)
{
	struct pfli_round *r = &a->round;
	const struct pfl_agg_config *cfg = &a->cfg;
	double bound, total, scale = 0;
	pfl_err rv;

	r->clip_norm = a->clip_norm;
	r->client_noise_sigma = 0;
	if (cfg->dp_mode == PFL_DP_LOCAL)
		r->client_noise_sigma = cfg->noise_multiplier * r->clip_norm;
	if (r->sa == NULL)
		return PFL_OK;
	bound = r->clip_norm > 1.0 ? r->clip_norm : 1.0;
	if (cfg->dp_mode == PFL_DP_LOCAL)
		return pfl_quant_choose_scale(
		        bound, r->n, r->client_noise_sigma * sqrt((double)r->n),
		        &r->quant_scale);
	if (cfg->dp_mode != PFL_DP_DISTRIBUTED)
		return pfl_quant_choose_scale(bound, r->n, 0, &r->quant_scale);
	if (r->n <
	    pfli_acct_colluders(cfg, r->n) + (uint32_t)cfg->min_clients) {
		pfl_log(PFL_LOG_WARN,
		        "round %llu: %u selected less %u possible colluders "
		        "leaves fewer than min_clients = %lld honest noise "
		        "shares",
		        (unsigned long long)r->number, r->n,
		        pfli_acct_colluders(cfg, r->n),
		        (long long)cfg->min_clients);
		return PFL_ERR_STATE;
	}
	/* the noise of all n, each at the share planned for min_clients */
	total = cfg->noise_multiplier * r->clip_norm;
	rv = pfl_quant_choose_scale(
	        bound, r->n,
	        total * sqrt((double)r->n / (double)cfg->min_clients), &scale);
	if (rv != PFL_OK)
		return rv;
	r->quant_scale = scale;
	r->client_noise_sigma = total * scale / sqrt((double)cfg->min_clients);
	return PFL_OK;
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
 * Distributed: the honest survivors' discrete Gaussians (Kairouz et al.
 * 2021). Colluding clients know their own shares and subtract them, so
 * only survivors - colluders count; fewer than min_clients: refused.
 */
static pfl_err
distributed_z(const struct pfl_aggregator *a, uint32_t survivors, double *z)
{
	const struct pfli_round *r = &a->round;
	size_t p = a->num_params;
	uint32_t bad = pfli_acct_colluders(&a->cfg, r->n), honest;
	double l2 = r->clip_norm * r->quant_scale + sqrt((double)p);
	double s2 = r->client_noise_sigma * r->client_noise_sigma;

	honest = survivors > bad ? survivors - bad : 0;
	if (honest < (uint32_t)a->cfg.min_clients || honest == 0) {
		pfl_log(PFL_LOG_WARN,
		        "round %llu: %u survivors less %u possible colluders "
		        "leave %u honest noise shares < min_clients = %lld",
		        (unsigned long long)r->number, survivors, bad, honest,
		        (long long)a->cfg.min_clients);
		return PFL_ERR_STATE;
	}
	return pfl_ddg_effective_sigma(s2, honest, p, l2, sqrt((double)p) * l2,
	                               z);
}

pfl_err
pfli_acct_privatize(struct pfl_aggregator *a, float *sum, uint32_t survivors,
                    struct pfli_charge *ch)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	struct pfli_round *r = &a->round;
	size_t p = a->num_params;
	double z = cfg->noise_multiplier, z_delta = z, sb = 0;
	pfl_err rv;

	memset(ch, 0, sizeof(*ch));
	ch->q = pfli_acct_rate(a, r->q, draw_mass(r));
	ch->count_n = cfg->dp_mode != PFL_DP_NONE
	                      ? (double)cfg->clients_per_round
	                      : (double)survivors;
	switch (cfg->dp_mode) {
	case PFL_DP_NONE:
		break;
	case PFL_DP_CENTRAL:
		if (cfg->adaptive_clip) {
			if ((rv = pfli_acct_clip_noise(cfg, &z_delta, &sb)) !=
			    PFL_OK)
				return rv;
			pfl_noise_gaussian_add(a->dp_rng, &sum[p + 1], 1, sb);
		}
		pfl_noise_gaussian_add(a->dp_rng, sum, p,
		                       z_delta * r->clip_norm);
		ch->z = z * r->clip_norm / sensitivity(r, p);
		break;
	case PFL_DP_DISTRIBUTED:
		if ((rv = distributed_z(a, survivors, &ch->z)) != PFL_OK)
			return rv;
		break;
	case PFL_DP_LOCAL:
		ch->z = z * r->clip_norm / sensitivity(r, p);
		break;
	default:
		return PFL_ERR_CONFIG;
	}
	/* Each client sent its clipped indicator centred, b - 1/2. */
	if (cfg->adaptive_clip)
		ch->below = (double)sum[p + 1] + ch->count_n / 2.0;
	return PFL_OK;
}

pfl_err
pfli_acct_check_release(struct pfl_aggregator *a, const struct pfli_charge *ch)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	double eps = 0;
	pfl_err rv;

	if (cfg->dp_mode == PFL_DP_NONE || cfg->epsilon_budget <= 0)
		return PFL_OK;
	rv = pfl_accountant_epsilon_if(a->acct, ch->q, ch->z, 1, cfg->delta,
	                               &eps);
	if (rv == PFL_OK && eps > cfg->epsilon_budget)
		rv = PFL_ERR_BUDGET;
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_WARN,
		        "privacy budget: releasing round %llu would bring "
		        "epsilon to %.4f > budget %.4f (q %.4f, noise "
		        "multiplier %.4f); not released, stopping",
		        (unsigned long long)a->round.number, eps,
		        cfg->epsilon_budget, ch->q, ch->z);
	return rv;
}

pfl_err
pfli_acct_charge(struct pfl_aggregator *a, const struct pfli_charge *ch)
{
	double order = 0;
	pfl_err rv;

	a->round.q_charged = ch->q;
	if (a->cfg.dp_mode == PFL_DP_NONE)
		return PFL_OK;
	rv = pfl_accountant_charge(a->acct, ch->q, ch->z, 1);
	if (rv == PFL_OK)
		rv = pfl_accountant_epsilon(a->acct, a->cfg.delta, &a->epsilon,
		                            &order);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "round %llu: accountant: %s",
		        (unsigned long long)a->round.number, pfl_strerror(rv));
		return rv;
	}
	a->abort_miss = 1.0;
	return PFL_OK;
}
