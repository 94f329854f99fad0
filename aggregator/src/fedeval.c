/*
 * Federated evaluation on the aggregator: clients score the model a round
 * starts from on their own held-out data and send three slots at the end
 * of their update vector (w = min(n, cap) / cap, accuracy * w, scaled
 * loss * w; client/src/eval.c). They are summed with the update (masked,
 * under secure aggregation), so the aggregator sees only the cohort's
 * sums: the weighted means come out of those alone.
 *
 * Bounds against a hostile client (docs/CLIENT.md, "Federated evaluation"): in
 * plain mode each update's slots are checked (0 <= w <= 1, 0 <= accuracy * w <=
 * w, 0 <= loss * w <= w) and an update with impossible ones is refused, so one
 * client weighs at most cap examples with an accuracy in [0, 1] and a loss
 * in [0, PFL_EVAL_LOSS_MAX]. Under secure aggregation single inputs cannot
 * be seen: the sums are checked (0 <= W <= survivors, 0 <= A, L <= W) and
 * impossible ones are not reported.
 */
#include <math.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/log.h"

void
pfli_fedeval_plan(const struct pfl_aggregator *a, struct pfli_round *r)
{
	double cap = a->cfg.weight_cap > 0 ? ceil(a->cfg.weight_cap)
	                                   : PFLI_SA_WEIGHT_CAP;

	r->eval_off = r->vector_len;
	r->eval_cap = 0;
	if (a->cfg.dp_mode != PFL_DP_NONE)
		return;
	r->eval_cap = cap < (double)UINT32_MAX ? (uint32_t)cap : UINT32_MAX;
	r->vector_len += PFL_EVAL_SLOTS;
}

static float
le_float(const uint8_t *b)
{
	uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
	             (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	float f;

	memcpy(&f, &w, sizeof(f));
	return f;
}

bool
pfli_fedeval_update_ok(const struct pfli_round *r, const uint8_t *data,
                       size_t len)
{
	float w, acc, loss;

	if (r->eval_cap == 0)
		return true;
	if (len < ((size_t)r->eval_off + PFL_EVAL_SLOTS) * 4)
		return false;
	w = le_float(data + (size_t)r->eval_off * 4);
	acc = le_float(data + (size_t)r->eval_off * 4 + 4);
	loss = le_float(data + (size_t)r->eval_off * 4 + 8);
	/* written so that NaN fails every comparison */
	return w >= 0 && w <= 1 && acc >= 0 && acc <= w && loss >= 0 &&
	       loss <= w;
}

static double
clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

bool
pfli_fedeval_from_sums(const double s[3], uint32_t cap, uint32_t survivors,
                       double tol, struct pfl_round_report *rep)
{
	double w = s[0], n;

	for (int i = 0; i < 3; i++)
		if (!isfinite(s[i]) || s[i] < -tol)
			return false;
	if (w > (double)survivors + tol || s[1] > w + tol || s[2] > w + tol)
		return false;
	n = round(w * (double)cap);
	rep->fed_eval_examples = n >= 1 ? (uint64_t)n : 0;
	rep->fed_eval_accuracy = NAN;
	rep->fed_eval_loss = NAN;
	if (rep->fed_eval_examples == 0)
		return true;
	rep->fed_eval_accuracy = clamp01(s[1] / w);
	rep->fed_eval_loss = clamp01(s[2] / w) * PFL_EVAL_LOSS_MAX;
	return true;
}

void
pfli_fedeval_report(const struct pfli_round *r, const float *sum,
                    uint32_t survivors, struct pfl_round_report *rep)
{
	double s[3], tol = 1e-5 * (survivors + 1.0);

	rep->fed_eval_examples = 0;
	rep->fed_eval_accuracy = NAN;
	rep->fed_eval_loss = NAN;
	if (r->eval_cap == 0)
		return;
	for (int i = 0; i < 3; i++)
		s[i] = sum[r->eval_off + (uint32_t)i];
	/* each masked input's slots are rounded to a quantum: one each */
	if (r->sa != NULL && r->quant_scale > 0)
		tol += (survivors + 1.0) / r->quant_scale;
	if (!pfli_fedeval_from_sums(s, r->eval_cap, survivors, tol, rep))
		pfl_log(PFL_LOG_WARN,
		        "round %llu: federated evaluation not reported: the "
		        "summed slots are impossible (a client sent bogus "
		        "ones)",
		        (unsigned long long)r->number);
}
