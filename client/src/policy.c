/*
 * The client's privacy policy: what it agrees to share, checked against
 * each plan before any work (docs/CLIENT.md, "Privacy policy").
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "privfl/secagg.h"

static const char *const dp_names[] = {"none", "central", "distributed",
                                       "local"};
static const char *const sa_names[] = {"off", "secagg", "secagg+"};

_Static_assert(sizeof(dp_names) / sizeof(dp_names[0]) == 4,
               "one name per plan dp value");
_Static_assert(sizeof(sa_names) / sizeof(sa_names[0]) == PFL_SA_PLUS + 1,
               "one name per enum pfl_sa_mode");

static const char *
dp_name(uint8_t m)
{
	return m < 4 ? dp_names[m] : "unknown";
}

static const char *
sa_name(uint8_t m)
{
	return m <= PFL_SA_PLUS ? sa_names[m] : "unknown";
}

/*
 * Strength of a secure aggregation mode: secagg+ (each client masks with
 * k neighbours) holds only with high probability over the random graph,
 * under the corruption bound the server chose k for; secagg (all pairs)
 * holds for any t - 1 colluders. So off < secagg+ < secagg.
 */
static int
sa_rank(uint8_t m)
{
	switch (m) {
	case PFL_SA_OFF:
		return 0;
	case PFL_SA_PLUS:
		return 1;
	case PFL_SA_FULL:
		return 2;
	default:
		return -1;
	}
}

uint32_t
pfli_plan_aggregate(const struct pfl_msg_plan *p)
{
	return p->sa_mode == PFL_SA_OFF ? 1 : p->sa_t;
}

double
pfli_plan_noise_multiplier(const struct pfl_msg_plan *p)
{
	if (!(p->clip_norm > 0) || !(p->noise_sigma > 0))
		return 0;
	if (p->dp_mode == 3)
		return p->noise_sigma / p->clip_norm;
	if (p->dp_mode == 2 && p->sa_mode != PFL_SA_OFF && p->quant_scale > 0)
		return p->noise_sigma * sqrt((double)pfli_plan_aggregate(p)) /
		       (p->quant_scale * p->clip_norm);
	return 0;
}

bool
pfl_client_policy_allows(const struct pfl_client_policy *pol,
                         const struct pfl_msg_plan *p, char *why, size_t whylen)
{
	char tmp[8];
	double z = pfli_plan_noise_multiplier(p);

	if (why == NULL) {
		why = tmp;
		whylen = sizeof(tmp);
	}
	if (p->dp_mode < pol->min_dp_mode) {
		snprintf(why, whylen, "min_dp_mode is %s, the plan has %s",
		         dp_name(pol->min_dp_mode), dp_name(p->dp_mode));
		return false;
	}
	if (sa_rank(p->sa_mode) < sa_rank(pol->min_sa_mode)) {
		snprintf(why, whylen,
		         "require_secure_aggregation is %s, the plan has %s",
		         sa_name(pol->min_sa_mode), sa_name(p->sa_mode));
		return false;
	}
	if (pol->max_clip_norm > 0 &&
	    !(p->clip_norm > 0 && p->clip_norm <= pol->max_clip_norm)) {
		if (p->clip_norm > 0)
			snprintf(why, whylen,
			         "max_clip_norm is %g, the plan clips at %g",
			         pol->max_clip_norm, p->clip_norm);
		else
			snprintf(why, whylen,
			         "max_clip_norm is %g, the plan does not clip",
			         pol->max_clip_norm);
		return false;
	}
	if (pfli_plan_aggregate(p) < pol->min_aggregate_clients) {
		snprintf(why, whylen,
		         "min_aggregate_clients is %u, the plan lets the "
		         "server see sums of %u",
		         pol->min_aggregate_clients, pfli_plan_aggregate(p));
		return false;
	}
	if (pol->min_noise_multiplier > 0 &&
	    !(z >= pol->min_noise_multiplier)) {
		snprintf(
		        why, whylen,
		        "min_noise_multiplier is %g, the plan's noise gives %g",
		        pol->min_noise_multiplier, z);
		return false;
	}
	return true;
}

bool
pfli_participation_allows(const struct pfl_client_policy *pol,
                          const uint64_t *rounds, uint32_t n, uint64_t round,
                          char *why, size_t whylen)
{
	uint32_t inside = 0;

	if (pol->max_participations == 0)
		return true;
	for (uint32_t i = 0; i < n; i++) {
		if (rounds[i] == round)
			return true; /* a re-run of a round already counted */
		if (rounds[i] > round ||
		    round - rounds[i] < pol->participation_window)
			inside++; /* later numbers count: no gain in rewinding
			           */
	}
	if (inside < pol->max_participations)
		return true;
	snprintf(why, whylen, "max_participations is %u per %u rounds, reached",
	         pol->max_participations, pol->participation_window);
	return false;
}
