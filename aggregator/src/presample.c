/*
 * Cohorts drawn by the embedder (pfl_aggregator_set_sampler). The
 * simulator models a population of up to a billion clients of which only
 * the drawn ones exist: instead of every client checking in and taking a
 * draw here, the sampler draws from the whole population with the very
 * sampling the accountant assumes (docs/PRIVACY.md, docs/SIMULATOR.md),
 * and the drawn clients form the cohort at once. Everything else about
 * the round (plans, deadlines, secure aggregation, charging) is unchanged:
 * the round counts population draws at rate q, so q / P(cohort >= m) is
 * charged as when every client checks in.
 */
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/log.h"

/* Add the drawn client pk to the cohort unless it is backed off. */
static pfl_err
join(struct pfl_aggregator *a, const uint8_t pk[32], int64_t now)
{
	struct pfli_round *r = &a->round;
	struct pfli_client *cl = pfli_clients_get(&a->clients, pk, true);

	if (cl == NULL)
		return PFL_ERR_NOMEM;
	if (pfli_health_is_backed_off(a, cl, now) ||
	    cl->rolled_round == r->epoch)
		return PFL_OK;
	cl->rolled_round = r->epoch;
	cl->member = (int32_t)r->n;
	memset(&r->members[r->n], 0, sizeof(r->members[0]));
	memcpy(r->members[r->n].pk, pk, 32);
	r->n++;
	return PFL_OK;
}

pfl_err
pfli_presample(struct pfl_aggregator *a, int64_t now)
{
	struct pfli_round *r = &a->round;
	uint32_t size = a->cfg.dp_mode == PFL_DP_NONE ? pfli_cohort_size(a) : 0;
	uint64_t pop = (uint64_t)a->cfg.population;
	uint8_t(*keys)[32] = NULL;
	uint32_t got;
	pfl_err rv = PFL_OK;

	if (r->cap == 0)
		return PFL_ERR_STATE;
	if ((keys = calloc(r->cap, 32)) == NULL)
		return PFL_ERR_NOMEM;
	got = a->sampler(a->sampler_arg, r->epoch, r->q, size, keys, r->cap);
	for (uint32_t i = 0; i < got && i < r->cap && rv == PFL_OK; i++)
		rv = join(a, keys[i], now);
	/* A fixed-size cohort stays uniform over the clients not backed off:
	 * draws of backed-off or already drawn clients are drawn again (a
	 * top-up may bring only clients drawn already: none new). */
	for (int k = 0; k < 64 && rv == PFL_OK && r->n < size; k++) {
		uint32_t more = a->sampler(a->sampler_arg, r->epoch, r->q,
		                           size - r->n, keys, r->cap - r->n);
		got += more;
		for (uint32_t i = 0; i < more && rv == PFL_OK; i++)
			rv = join(a, keys[i], now);
	}
	free(keys);
	if (rv != PFL_OK)
		return rv;
	/* Every client of the population has had its draw; none joins now. */
	r->draws = pop < UINT32_MAX ? (uint32_t)pop : UINT32_MAX;
	r->expected_draws = r->draws;
	r->cap = r->n;
	pfl_log(PFL_LOG_DEBUG,
	        "round %llu: the embedder drew %u of %llu clients (%u joined)",
	        (unsigned long long)r->number, got, (unsigned long long)pop,
	        r->n);
	return PFL_OK;
}
