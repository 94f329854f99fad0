/*
 * Finishing a round: the unmasked (or plain) sum becomes the next global
 * model. Order matters for privacy: the accountant is charged, and the
 * checkpoint holding that charge is on disk, before the model is released;
 * a round whose checkpoint cannot be written is undone (model, strategy,
 * accountant) and the federation stops. The privacy decisions themselves
 * are accounting.c's.
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
	rep.checkins = pfli_sel_round_checkins(a);
	a->last_round_seconds = rep.seconds;
	a->est_run_ms = estimated_run(r);
	*out = rep;
}

/* What a round changes, kept until its checkpoint is on disk. */
struct undo {
	float *global;
	struct pfl_buf strategy;
	struct pfl_buf acct;
	struct pfl_buf audit;
	double clip_norm;
	double epsilon;
	double abort_miss;
	uint64_t rounds_done;
	uint8_t model_hash[32];
};

static void
undo_fini(struct undo *u)
{
	free(u->global);
	pfl_buf_fini(&u->strategy);
	pfl_buf_fini(&u->acct);
	pfl_buf_fini(&u->audit);
}

static pfl_err
undo_save(const struct pfl_aggregator *a, struct undo *u)
{
	size_t bytes = a->num_params * sizeof(float);
	pfl_err rv;

	memset(u, 0, sizeof(*u));
	pfl_buf_init(&u->strategy, 0);
	pfl_buf_init(&u->acct, 0);
	pfl_buf_init(&u->audit, 0);
	if ((u->global = malloc(bytes)) == NULL)
		return PFL_ERR_NOMEM;
	memcpy(u->global, a->global, bytes);
	if ((rv = pfl_strategy_save(a->strategy, &u->strategy)) != PFL_OK)
		return rv;
	if ((rv = pfl_accountant_save(a->acct, &u->acct)) != PFL_OK)
		return rv;
	if ((rv = pfl_buf_append(&u->audit, a->pending_audit.data,
	                         a->pending_audit.len)) != PFL_OK)
		return rv;
	u->clip_norm = a->clip_norm;
	u->epsilon = a->epsilon;
	u->abort_miss = a->abort_miss;
	u->rounds_done = a->rounds_done;
	memcpy(u->model_hash, a->model_hash, 32);
	return PFL_OK;
}

/* Back to the state of the last durable round (under a->mtx). */
static pfl_err
undo_apply(struct pfl_aggregator *a, const struct undo *u)
{
	struct pfl_accountant *acct = NULL;
	pfl_err rv;

	rv = pfl_accountant_load(u->acct.data, u->acct.len, &acct);
	if (rv == PFL_OK)
		rv = pfl_strategy_load(a->strategy, u->strategy.data,
		                       u->strategy.len);
	if (rv != PFL_OK) {
		pfl_accountant_free(acct);
		return rv;
	}
	pfl_accountant_free(a->acct);
	a->acct = acct;
	memcpy(a->global, u->global, a->num_params * sizeof(float));
	pfl_buf_clear(&a->pending_audit);
	if (pfl_buf_append(&a->pending_audit, u->audit.data, u->audit.len) !=
	    PFL_OK)
		pfl_buf_clear(&a->pending_audit);
	a->clip_norm = u->clip_norm;
	a->epsilon = u->epsilon;
	a->abort_miss = u->abort_miss;
	a->rounds_done = u->rounds_done;
	memcpy(a->model_hash, u->model_hash, 32);
	return PFL_OK;
}

/* The round's audit line, kept in the checkpoint until it is appended. */
static void
format_audit(struct pfl_aggregator *a, const struct pfl_round_report *rep,
             const uint8_t (*surv)[32], uint32_t nsurv)
{
	struct pfli_round *r = &a->round;
	uint8_t(*sel)[32] = malloc((size_t)r->n * 32 + 32);
	pfl_err rv;

	pfl_buf_clear(&a->pending_audit);
	if (sel == NULL)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		memcpy(sel[i], r->members[i].pk, 32);
	rv = pfli_audit_format(a, rep, (const uint8_t(*)[32])sel, r->n, surv,
	                       nsurv, &a->pending_audit);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "audit line: %s", pfl_strerror(rv));
	free(sel);
}

/* Public once durable: audit line, model files, results. */
static void
publish(struct pfl_aggregator *a, const struct pfl_round_report *rep)
{
	pfl_err rv;

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

/* Under a->mtx: charge, step the model, adapt the clip. */
static pfl_err
apply_round(struct pfl_aggregator *a, const float *avg,
            const struct pfli_charge *ch)
{
	const struct pfl_agg_config *cfg = &a->cfg;
	pfl_err rv;

	if ((rv = pfli_acct_charge(a, ch)) != PFL_OK)
		return rv;
	pfl_strategy_apply(a->strategy, a->global, avg);
	pfl_hash_params(a->global, a->num_params, a->model_hash);
	if (cfg->adaptive_clip) {
		struct pfl_adaclip ac = {a->clip_norm,
		                         cfg->clip_target_quantile,
		                         cfg->clip_lr, 0};
		pfl_adaclip_update(&ac, ch->below, ch->count_n);
		a->clip_norm = ac.clip;
	}
	a->rounds_done++;
	return PFL_OK;
}

/*
 * Make the round durable (checkpoint with the charge, the model and the
 * audit line) before anything of it is public. When that fails the round
 * is undone and the federation stops: a model must never be out without
 * the charge that pays for it on disk.
 */
static pfl_err
make_durable(struct pfl_aggregator *a, const struct undo *u)
{
	pfl_err rv = pfli_checkpoint_write(a), rb;

	if (rv == PFL_OK)
		return PFL_OK;
	pthread_mutex_lock(&a->mtx);
	rb = undo_apply(a, u);
	a->fatal = rv;
	a->stop = 1;
	pthread_mutex_unlock(&a->mtx);
	pfl_log(PFL_LOG_ERROR,
	        "round %llu: checkpoint in %s/checkpoints failed (%s): round "
	        "not released%s; stopping",
	        (unsigned long long)a->round.number, a->cfg.out_dir,
	        pfl_strerror(rv),
	        rb == PFL_OK ? ", state back to the last checkpoint"
	                     : " and its state could not be undone");
	return rv;
}

pfl_err
pfli_round_finish(struct pfl_aggregator *a)
{
	struct pfli_round *r = &a->round;
	const struct pfl_agg_config *cfg = &a->cfg;
	size_t p = a->num_params;
	uint32_t survivors = 0;
	double den;
	uint8_t(*surv)[32] = NULL;
	struct pfl_round_report rep;
	struct pfli_charge ch;
	struct undo u;
	float *sum;
	pfl_err rv;

	memset(&u, 0, sizeof(u));
	sum = malloc((size_t)r->vector_len * sizeof(float));
	surv = malloc((size_t)r->n * 32 + 32);
	if (sum == NULL || surv == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out;
	}
	if ((rv = round_sum(a, sum, &survivors, surv)) != PFL_OK)
		goto out;
	if ((rv = pfli_acct_privatize(a, sum, survivors, &ch)) != PFL_OK)
		goto out;
	den = cfg->dp_mode != PFL_DP_NONE ? (double)cfg->clients_per_round
	                                  : (double)sum[p];
	if (!(den > 0)) {
		rv = PFL_ERR_STATE;
		goto out;
	}
	for (size_t i = 0; i < p; i++)
		sum[i] = (float)(sum[i] / den);
	pthread_mutex_lock(&a->mtx);
	if ((rv = pfli_acct_check_release(a, &ch)) != PFL_OK) {
		a->budget_spent = true;
		a->stop = 1;
	}
	if (rv == PFL_OK)
		rv = undo_save(a, &u);
	if (rv == PFL_OK)
		rv = apply_round(a, sum, &ch);
	if (rv == PFL_OK) /* under the lock: idle_retry reads est_run_ms */
		make_report(a, survivors, ch.z, &rep);
	pthread_mutex_unlock(&a->mtx);
	if (rv != PFL_OK)
		goto out;
	pfli_fedeval_report(r, sum, survivors, &rep);
	format_audit(a, &rep, (const uint8_t(*)[32])surv, survivors);
	a->pending_report = rep; /* checkpointed: its row is written later */
	if ((rv = make_durable(a, &u)) != PFL_OK)
		goto out;
	publish(a, &rep);
	pthread_mutex_lock(&a->mtx);
	pfli_health_round_end(a, true, (const uint8_t(*)[32])surv, survivors,
	                      pfl_clock_ms());
	pthread_mutex_unlock(&a->mtx);
out:
	undo_fini(&u);
	if (sum != NULL)
		pfl_free_wipe(sum, (size_t)r->vector_len * sizeof(float));
	free(surv);
	pthread_mutex_lock(&a->mtx);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_WARN, "round %llu not released: %s",
		        (unsigned long long)r->number, pfl_strerror(rv));
		pfli_acct_aborted(a); /* its cohort was drawn */
	}
	pfli_round_reset(r);
	pthread_mutex_unlock(&a->mtx);
	return rv;
}
