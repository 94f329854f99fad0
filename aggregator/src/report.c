/*
 * The reporter: evaluates released models and writes the round reports
 * (rounds.csv, progress line, /status history, observer) on a thread of
 * its own, so that the next round draws and trains while the last one is
 * evaluated on the test set.
 *
 * A round is durable and released (checkpoint, audit line, new model
 * served) before its report is queued; the report only adds the test
 * accuracy. Reports leave in the order they were queued, aborted rounds
 * included. At most REPORT_MAX_EVALS model copies wait for evaluation:
 * pfli_report_round blocks the round loop beyond that.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/log.h"
#include "privfl/strategy.h"

enum { REPORT_MAX_EVALS = 2 };

struct job {
	struct job *next;
	struct pfl_round_report rep;
	float *params; /* the released model to evaluate, or NULL */
};

struct pfli_reporter {
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* job queued, job done, or stop */
	pthread_t thr;
	bool started;
	bool stop;
	bool busy; /* a job popped and not yet written */
	struct job *head, *tail;
	unsigned evals; /* queued or running jobs with params */
};

/*
 * An ERROR naming the likely setting when the model's test loss blew up
 * (not finite, or 100x) since the last evaluated round, or since a uniform
 * guess (ln classes) before the first: a server_lr too large for the
 * strategy sends the model to chance in one round and nothing else says so.
 */
static void
check_divergence(struct pfl_aggregator *a, const struct pfl_round_report *rep)
{
	double prev = log((double)a->cfg.classes);
	unsigned long long prev_round = 0;
	char hint[192], was[64];

	pthread_mutex_lock(&a->mtx);
	for (size_t i = a->nhistory; i-- > 0;) {
		if (!isnan(a->history[i].accuracy)) {
			prev = a->history[i].loss;
			prev_round = a->history[i].round;
			break;
		}
	}
	pthread_mutex_unlock(&a->mtx);
	if (!pfl_strategy_is_diverging(prev, rep->loss))
		return;
	pfl_strategy_divergence_hint(a->strategy, a->cfg.lr, hint,
	                             sizeof(hint));
	if (prev_round > 0)
		snprintf(was, sizeof(was), "%.4g (round %llu)", prev,
		         prev_round);
	else
		snprintf(was, sizeof(was), "%.4g (a uniform guess)", prev);
	pfl_log(PFL_LOG_ERROR,
	        "round %llu: global loss rose from %s to %.4g: %s",
	        (unsigned long long)rep->round, was, rep->loss, hint);
}

/* Score params on the test set into rep (accuracy, loss). */
static void
evaluate(struct pfl_aggregator *a, const float *params,
         struct pfl_round_report *rep)
{
	pfl_err rv;

	memcpy(pfl_model_params(a->eval_model), params,
	       a->num_params * sizeof(float));
	rv = pfl_model_evaluate(a->eval_model, &a->test, NULL, 0,
	                        &rep->accuracy, &rep->loss);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_WARN, "round %llu: evaluation failed: %s",
		        (unsigned long long)rep->round, pfl_strerror(rv));
	else
		check_divergence(a, rep);
}

static void *
reporter_main(void *arg)
{
	struct pfl_aggregator *a = arg;
	struct pfli_reporter *p = a->reporter;

	pthread_mutex_lock(&p->mtx);
	for (;;) {
		struct job *j;
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mtx);
		if (p->head == NULL)
			break; /* stop, and nothing left */
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->busy = true;
		pthread_mutex_unlock(&p->mtx);
		if (j->params != NULL)
			evaluate(a, j->params, &j->rep);
		pfli_results_round(a, &j->rep);
		pthread_mutex_lock(&p->mtx);
		if (j->params != NULL)
			p->evals--;
		p->busy = false;
		pthread_cond_broadcast(&p->cv);
		free(j->params);
		free(j);
	}
	pthread_mutex_unlock(&p->mtx);
	return NULL;
}

pfl_err
pfli_report_start(struct pfl_aggregator *a)
{
	struct pfli_reporter *p;

	if (a->reporter != NULL)
		return PFL_OK;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return PFL_ERR_NOMEM;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cv, NULL);
	a->reporter = p;
	if (pthread_create(&p->thr, NULL, reporter_main, a) != 0) {
		/* reports are then written synchronously */
		pfl_log(PFL_LOG_WARN, "no reporter thread: evaluating inline");
		return PFL_OK;
	}
	p->started = true;
	return PFL_OK;
}

void
pfli_report_round(struct pfl_aggregator *a, const struct pfl_round_report *rep,
                  const float *params)
{
	struct pfli_reporter *p = a->reporter;
	struct job *j;

	if (p == NULL || !p->started || (j = calloc(1, sizeof(*j))) == NULL) {
		struct pfl_round_report r = *rep;
		if (params != NULL && a->have_test)
			evaluate(a, params, &r);
		pfli_results_round(a, &r);
		return;
	}
	j->rep = *rep;
	if (params != NULL && a->have_test) {
		size_t bytes = a->num_params * sizeof(float);
		if ((j->params = malloc(bytes)) != NULL)
			memcpy(j->params, params, bytes);
		else
			pfl_log(PFL_LOG_WARN,
			        "round %llu: no memory to "
			        "evaluate",
			        (unsigned long long)rep->round);
	}
	pthread_mutex_lock(&p->mtx);
	while (j->params != NULL && p->evals >= REPORT_MAX_EVALS)
		pthread_cond_wait(&p->cv, &p->mtx);
	if (j->params != NULL)
		p->evals++;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
}

void
pfli_report_drain(struct pfl_aggregator *a)
{
	struct pfli_reporter *p = a->reporter;

	if (p == NULL || !p->started)
		return;
	pthread_mutex_lock(&p->mtx);
	while (p->head != NULL || p->busy)
		pthread_cond_wait(&p->cv, &p->mtx);
	pthread_mutex_unlock(&p->mtx);
}

void
pfli_report_stop(struct pfl_aggregator *a)
{
	struct pfli_reporter *p = a->reporter;

	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mtx);
		p->stop = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mtx);
		pthread_join(p->thr, NULL);
	}
	while (p->head != NULL) { /* only if the thread never started */
		struct job *j = p->head;
		p->head = j->next;
		free(j->params);
		free(j);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mtx);
	free(p);
	a->reporter = NULL;
}
