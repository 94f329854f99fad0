/* The built-in trainer: privfl's own engine over a pfl_dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/client.h"
#include "privfl/model.h"

struct model_trainer {
	struct pfl_model *m;
	struct pfl_model_spec spec;
};

/* t->m becomes the plan's model (built for ds's shape) holding global. */
static pfl_err
load_global(struct model_trainer *t, const struct pfl_dataset *ds,
            const struct pfl_msg_plan *p, const float *global)
{
	struct pfl_model_spec spec;
	pfl_err rv;

	memset(&spec, 0, sizeof(spec));
	rv = pfl_model_spec_parse(p->model, ds->c, ds->h, ds->w, ds->classes,
	                          &spec);
	if (rv != PFL_OK)
		return rv;
	if (t->m == NULL || memcmp(&spec, &t->spec, sizeof(spec)) != 0) {
		pfl_model_free(t->m);
		t->m = NULL;
		if ((rv = pfl_model_new(&spec, &t->m)) != PFL_OK)
			return rv;
		t->spec = spec;
	}
	if (pfl_model_num_params(t->m) != p->num_params)
		return PFL_ERR_PROTO;
	memcpy(pfl_model_params(t->m), global, p->num_params * sizeof(float));
	return PFL_OK;
}

/* The global model on the held-out examples (none: zero examples). */
static pfl_err
evaluate(void *arg, const struct pfl_client_data *d,
         const struct pfl_task *task, const float *global,
         struct pfl_eval_result *out)
{
	struct model_trainer *t = arg;
	double acc = 0, loss = 0;
	pfl_err rv;

	memset(out, 0, sizeof(*out));
	if (d->eval_ds == NULL || d->eval_n == 0 || d->ds == NULL)
		return PFL_OK;
	if ((rv = load_global(t, d->ds, task->plan, global)) != PFL_OK)
		return rv;
	rv = pfl_model_evaluate(t->m, d->eval_ds, d->eval_idx, d->eval_n, &acc,
	                        &loss);
	if (rv != PFL_OK)
		return rv;
	out->num_examples = (uint32_t)d->eval_n;
	out->accuracy = acc;
	out->loss = loss;
	return PFL_OK;
}

static pfl_err
train(void *arg, const struct pfl_client_data *d, const struct pfl_task *task,
      const float *global, float *local, uint32_t *num_examples,
      double *train_loss)
{
	struct model_trainer *t = arg;
	const struct pfl_msg_plan *p = task->plan;
	struct pfl_train_opts o;
	struct pfl_train_stats st;
	size_t np;
	pfl_err rv;

	if ((rv = load_global(t, d->ds, p, global)) != PFL_OK)
		return rv;
	np = p->num_params;
	memset(&o, 0, sizeof(o));
	o.epochs = (int)p->epochs;
	o.batch = (int)p->batch;
	o.lr = (float)p->lr;
	o.momentum = (float)p->momentum;
	o.weight_decay = (float)p->weight_decay;
	o.prox_mu = (float)p->prox_mu;
	o.prox_ref = p->prox_mu > 0 ? global : NULL;
	o.seed = task->seed;
	memset(&st, 0, sizeof(st));
	rv = pfl_model_train(t->m, d->ds, d->idx, d->n, &o, &st);
	if (rv == PFL_ERR_STATE && task->why != NULL && task->whylen > 0)
		snprintf(task->why, task->whylen,
		         "training diverged (loss is %s at step %zu)",
		         isnan(st.loss) ? "NaN" : "infinite", st.steps);
	if (rv != PFL_OK)
		return rv;
	memcpy(local, pfl_model_params(t->m), np * sizeof(float));
	*num_examples = (uint32_t)(d->idx ? d->n : d->ds->n);
	*train_loss = st.loss;
	return PFL_OK;
}

pfl_err
pfl_trainer_model_init(struct pfl_trainer *t)
{
	struct model_trainer *mt = calloc(1, sizeof(*mt));

	if (mt == NULL)
		return PFL_ERR_NOMEM;
	t->train = train;
	t->arg = mt;
	t->evaluate = evaluate;
	return PFL_OK;
}

void
pfl_trainer_model_fini(struct pfl_trainer *t)
{
	struct model_trainer *mt;

	if (t == NULL || t->arg == NULL)
		return;
	mt = t->arg;
	pfl_model_free(mt->m);
	free(mt);
	t->arg = NULL;
}
