/* A plan's consistency, and this client's privacy policy, before it joins. */
#include <math.h>

#include "client_int.h"
#include "privfl/log.h"

bool
pfli_plan_is_sane(const struct pfl_client *c, const struct pfl_msg_plan *p)
{
	size_t maxp = c->o.limits.max_vector_bytes / 4;

	if (strcmp(p->task, "train") != 0 || p->num_params == 0 ||
	    p->num_params > maxp || p->epochs == 0 || p->batch == 0)
		return false;
	if (p->vector_len != pfli_plan_vector_len(p))
		return false;
	if (p->dp_mode > 3 || p->sa_mode > 2 || !isfinite(p->lr) ||
	    !isfinite(p->clip_norm) || !isfinite(p->noise_sigma) ||
	    !isfinite(p->quant_scale) || p->quant_scale < 0)
		return false;
	if (p->sa_mode != 0 &&
	    (p->sa_id == 0 || p->sa_id > p->sa_n || p->sa_t < 2 ||
	     p->sa_t > p->sa_n || p->quant_scale <= 0))
		return false;
	return true;
}

/*
 * The privacy policy, before anything is fetched or computed; one log
 * line names the broken rule. On success the round counts as taken part in.
 */
bool
pfli_policy_allows(struct pfl_client *c, const struct pfl_msg *r)
{
	const struct pfl_client_policy *pol = &c->o.policy;
	char why[160];
	uint32_t cap = pol->max_participations;

	if (!pfl_client_policy_allows(pol, &r->u.plan, why, sizeof(why)) ||
	    !pfli_participation_allows(pol, c->part_rounds, c->part_n, r->round,
	                               why, sizeof(why))) {
		/* once per round number: a round re-run after it was
		 * abandoned brings the same plan again */
		pfl_log(r->round == c->refused_round ? PFL_LOG_DEBUG
		                                     : PFL_LOG_WARN,
		        "round %llu: plan refused: %s",
		        (unsigned long long)r->round, why);
		c->refused_round = r->round;
		copy_text(c->why, sizeof(c->why), why);
		return false;
	}
	if (cap == 0)
		return true;
	for (uint32_t i = 0; i < c->part_n; i++)
		if (c->part_rounds[i] == r->round)
			return true;
	c->part_rounds[c->part_next] = r->round;
	c->part_next = (c->part_next + 1) % cap;
	if (c->part_n < cap)
		c->part_n++;
	return true;
}
