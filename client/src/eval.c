/*
 * Federated evaluation on the client: the global model of the round,
 * scored on this client's held-out data, rides in the update vector as
 * PFL_EVAL_SLOTS slots, each in [0, 1], so that secure aggregation sums
 * them with the update and the aggregator sees only the cohort's sums
 * (docs/CLIENT.md, "Federated evaluation"; docs/PROTOCOL.md).
 */
#include <math.h>
#include <string.h>

#include "client_int.h"
#include "privfl/log.h"

uint32_t
pfli_plan_eval_offset(const struct pfl_msg_plan *p)
{
	return p->num_params + 1 + (p->adaptive_clip ? 1u : 0u);
}

uint32_t
pfli_plan_vector_len(const struct pfl_msg_plan *p)
{
	return pfli_plan_eval_offset(p) +
	       (p->eval_cap > 0 ? PFL_EVAL_SLOTS : 0);
}

static bool
result_ok(const struct pfl_eval_result *r)
{
	return r->num_examples > 0 && isfinite(r->loss) && r->loss >= 0 &&
	       isfinite(r->accuracy) && r->accuracy >= 0 && r->accuracy <= 1;
}

void
pfli_eval_slots(const struct pfl_msg_plan *p, const struct pfl_eval_result *r,
                float slots[PFL_EVAL_SLOTS])
{
	double cap = p->eval_cap, w, loss;

	memset(slots, 0, PFL_EVAL_SLOTS * sizeof(float));
	if (p->eval_cap == 0 || r == NULL || !result_ok(r))
		return;
	w = r->num_examples < p->eval_cap ? (double)r->num_examples / cap : 1.0;
	loss = r->loss < PFL_EVAL_LOSS_MAX ? r->loss : PFL_EVAL_LOSS_MAX;
	slots[0] = (float)w;
	slots[1] = (float)(r->accuracy * w);
	slots[2] = (float)(loss / PFL_EVAL_LOSS_MAX * w);
}

void
pfli_client_evaluate(struct pfl_client *c, const struct pfl_trainer *tr,
                     const struct pfl_task *task)
{
	struct pfl_eval_result r = {0, 0, 0};
	float *slots = c->vec + pfli_plan_eval_offset(&c->plan);
	pfl_err rv;

	if (c->plan.eval_cap == 0)
		return;
	if (tr->evaluate == NULL) {
		pfli_eval_slots(&c->plan, NULL, slots);
		return;
	}
	rv = tr->evaluate(tr->arg, c->data, task, c->global, &r);
	if (rv != PFL_OK || (r.num_examples > 0 && !result_ok(&r))) {
		pfl_log(PFL_LOG_WARN,
		        "round %llu: evaluation failed (%s): none reported",
		        (unsigned long long)c->round,
		        rv != PFL_OK ? pfl_strerror(rv) : "impossible result");
		pfli_eval_slots(&c->plan, NULL, slots);
		return;
	}
	pfli_eval_slots(&c->plan, &r, slots);
	pfl_log(PFL_LOG_DEBUG,
	        "round %llu: global model evaluated on %u held-out examples",
	        (unsigned long long)c->round, r.num_examples);
}
