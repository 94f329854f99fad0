/* Architectures, parameters, the SGD training loop and evaluation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/rng.h"

#include "model_int.h"

enum layer_type { L_DENSE, L_CONV, L_POOL };
/*
 * Evaluation batches: large enough that the packed GEMM kernel amortizes
 * its packing (the MLP's 10k-image evaluation runs at 165 GFLOPS with 256
 * against 100 with 64), small enough that the CNN's activations stay a few
 * tens of MB.
 */
enum { MAX_LAYERS = 8, EVAL_BATCH = 256, EVAL_BATCH_CNN = 64 };

struct layer {
	enum layer_type t;
	int c, h, w;    /* input shape */
	int oc, oh, ow; /* output shape */
	bool relu;
	const char *wname, *bname;
	size_t woff, boff, wcount;
	size_t in_sz, out_sz; /* per sample */
};

struct pfl_model {
	struct pfl_model_spec spec;
	size_t np;
	int nl;
	struct layer l[MAX_LAYERS];
	float *params, *grads, *mom;
	size_t cap;                 /* batch capacity of the buffers below */
	float *act[MAX_LAYERS + 1]; /* act[0] = input batch */
	float *g0, *g1;             /* gradient ping-pong */
	float *ws;                  /* conv scratch */
	uint8_t *arg[MAX_LAYERS];   /* pool argmax of the last forward */
	int32_t *yb;
};

static void
add_layer(struct layer *ls, int *nl, size_t *np, enum layer_type t, int c,
          int h, int w, int oc, bool relu, const char *wname, const char *bname)
{
	struct layer *l = &ls[(*nl)++];

	memset(l, 0, sizeof(*l));
	l->t = t;
	l->c = c;
	l->h = h;
	l->w = w;
	l->relu = relu;
	l->wname = wname;
	l->bname = bname;
	l->in_sz = (size_t)c * h * w;
	switch (t) {
	case L_DENSE:
		l->oc = oc;
		l->oh = l->ow = 1;
		l->wcount = l->in_sz * (size_t)oc;
		break;
	case L_CONV:
		l->oc = oc;
		l->oh = h;
		l->ow = w;
		l->wcount = (size_t)oc * c * 25;
		break;
	case L_POOL:
		l->oc = c;
		l->oh = h / 2;
		l->ow = w / 2;
		break;
	}
	l->out_sz = (size_t)l->oc * l->oh * l->ow;
	if (t != L_POOL) {
		l->woff = *np;
		l->boff = *np + l->wcount;
		*np += l->wcount + (size_t)oc;
	}
}

static bool
spec_is_valid(const struct pfl_model_spec *s)
{
	int64_t in;

	if (s == NULL || s->in_c < 1 || s->in_h < 1 || s->in_w < 1 ||
	    s->classes < 2 || s->classes > PFL_MODEL_MAX_CLASSES)
		return false;
	in = (int64_t)s->in_c * s->in_h * s->in_w;
	if (in > PFL_MODEL_MAX_INPUT)
		return false;
	switch (s->arch) {
	case PFL_ARCH_LOGREG:
		return true;
	case PFL_ARCH_MLP:
		return s->hidden1 >= 1 && s->hidden1 <= PFL_MODEL_MAX_HIDDEN &&
		       s->hidden2 >= 1 && s->hidden2 <= PFL_MODEL_MAX_HIDDEN;
	case PFL_ARCH_CNN:
		return s->in_h % 4 == 0 && s->in_w % 4 == 0 && s->in_c <= 64;
	}
	return false;
}

static bool
build_layers(const struct pfl_model_spec *s, struct layer *ls, int *nl,
             size_t *np)
{
	int c = s->in_c, h = s->in_h, w = s->in_w, k = s->classes;
	int flat = c * h * w;

	*nl = 0;
	*np = 0;
	if (!spec_is_valid(s))
		return false;
	switch (s->arch) {
	case PFL_ARCH_LOGREG:
		add_layer(ls, nl, np, L_DENSE, flat, 1, 1, k, false,
		          "fc.weight", "fc.bias");
		break;
	case PFL_ARCH_MLP:
		add_layer(ls, nl, np, L_DENSE, flat, 1, 1, s->hidden1, true,
		          "fc1.weight", "fc1.bias");
		add_layer(ls, nl, np, L_DENSE, s->hidden1, 1, 1, s->hidden2,
		          true, "fc2.weight", "fc2.bias");
		add_layer(ls, nl, np, L_DENSE, s->hidden2, 1, 1, k, false,
		          "fc3.weight", "fc3.bias");
		break;
	case PFL_ARCH_CNN:
		add_layer(ls, nl, np, L_CONV, c, h, w, 32, true, "conv1.weight",
		          "conv1.bias");
		add_layer(ls, nl, np, L_POOL, 32, h, w, 0, false, NULL, NULL);
		add_layer(ls, nl, np, L_CONV, 32, h / 2, w / 2, 64, true,
		          "conv2.weight", "conv2.bias");
		add_layer(ls, nl, np, L_POOL, 64, h / 2, w / 2, 0, false, NULL,
		          NULL);
		add_layer(ls, nl, np, L_DENSE, 64 * (h / 4) * (w / 4), 1, 1,
		          512, true, "fc1.weight", "fc1.bias");
		add_layer(ls, nl, np, L_DENSE, 512, 1, 1, k, false,
		          "fc2.weight", "fc2.bias");
		break;
	}
	return true;
}

pfl_err
pfl_model_spec_parse(const char *name, int in_c, int in_h, int in_w,
                     int classes, struct pfl_model_spec *out)
{
	struct pfl_model_spec s = {
	        .in_c = in_c, .in_h = in_h, .in_w = in_w, .classes = classes};

	if (name == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if (strcmp(name, "logreg") == 0) {
		s.arch = PFL_ARCH_LOGREG;
	} else if (strcmp(name, "cnn") == 0) {
		s.arch = PFL_ARCH_CNN;
	} else if (strcmp(name, "mlp") == 0) {
		s.arch = PFL_ARCH_MLP;
		s.hidden1 = s.hidden2 = 200;
	} else if (strncmp(name, "mlp:", 4) == 0) {
		char *end;
		long h1, h2;
		s.arch = PFL_ARCH_MLP;
		h1 = strtol(name + 4, &end, 10);
		if (end == name + 4 || *end != ',')
			return PFL_ERR_INVAL;
		name = end + 1;
		h2 = strtol(name, &end, 10);
		if (end == name || *end != '\0' || h1 < 1 ||
		    h1 > PFL_MODEL_MAX_HIDDEN || h2 < 1 ||
		    h2 > PFL_MODEL_MAX_HIDDEN)
			return PFL_ERR_INVAL;
		s.hidden1 = (int)h1;
		s.hidden2 = (int)h2;
	} else {
		return PFL_ERR_INVAL;
	}
	if (!spec_is_valid(&s))
		return PFL_ERR_INVAL;
	*out = s;
	return PFL_OK;
}

void
pfl_model_spec_name(const struct pfl_model_spec *spec, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	switch (spec->arch) {
	case PFL_ARCH_LOGREG:
		snprintf(out, outlen, "logreg");
		break;
	case PFL_ARCH_MLP:
		snprintf(out, outlen, "mlp:%d,%d", spec->hidden1,
		         spec->hidden2);
		break;
	case PFL_ARCH_CNN:
		snprintf(out, outlen, "cnn");
		break;
	default:
		snprintf(out, outlen, "?");
	}
}

size_t
pfl_model_spec_num_params(const struct pfl_model_spec *spec)
{
	struct layer ls[MAX_LAYERS];
	int nl;
	size_t np;

	return build_layers(spec, ls, &nl, &np) ? np : 0;
}

bool
pfl_model_spec_tensor(const struct pfl_model_spec *spec, size_t i,
                      struct pfl_tensor_info *out)
{
	struct layer ls[MAX_LAYERS];
	int nl;
	size_t np, t = 0;

	if (!build_layers(spec, ls, &nl, &np))
		return false;
	for (int j = 0; j < nl; j++) {
		const struct layer *l = &ls[j];
		if (l->t == L_POOL)
			continue;
		if (t == i) {
			memset(out, 0, sizeof(*out));
			out->name = l->wname;
			out->offset = l->woff;
			out->count = l->wcount;
			out->shape[0] = l->oc;
			if (l->t == L_DENSE) {
				out->ndim = 2;
				out->shape[1] = (int64_t)l->in_sz;
			} else {
				out->ndim = 4;
				out->shape[1] = l->c;
				out->shape[2] = out->shape[3] = 5;
			}
			return true;
		}
		if (t + 1 == i) {
			memset(out, 0, sizeof(*out));
			out->name = l->bname;
			out->offset = l->boff;
			out->count = (size_t)l->oc;
			out->ndim = 1;
			out->shape[0] = l->oc;
			return true;
		}
		t += 2;
	}
	return false;
}

pfl_err
pfl_model_new(const struct pfl_model_spec *spec, struct pfl_model **out)
{
	struct pfl_model *m;

	if (spec == NULL || out == NULL)
		return PFL_ERR_INVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return PFL_ERR_NOMEM;
	if (!build_layers(spec, m->l, &m->nl, &m->np)) {
		free(m);
		return PFL_ERR_INVAL;
	}
	m->spec = *spec;
	m->params = calloc(m->np, sizeof(float));
	m->grads = calloc(m->np, sizeof(float));
	m->mom = calloc(m->np, sizeof(float));
	if (m->params == NULL || m->grads == NULL || m->mom == NULL) {
		pfl_model_free(m);
		return PFL_ERR_NOMEM;
	}
	*out = m;
	return PFL_OK;
}

static void
free_batch_buffers(struct pfl_model *m)
{
	for (int i = 0; i <= MAX_LAYERS; i++) {
		free(m->act[i]);
		m->act[i] = NULL;
	}
	for (int i = 0; i < MAX_LAYERS; i++) {
		free(m->arg[i]);
		m->arg[i] = NULL;
	}
	free(m->g0);
	free(m->g1);
	free(m->ws);
	free(m->yb);
	m->g0 = m->g1 = m->ws = NULL;
	m->yb = NULL;
	m->cap = 0;
}

void
pfl_model_free(struct pfl_model *m)
{
	if (m == NULL)
		return;
	free_batch_buffers(m);
	free(m->params);
	free(m->grads);
	free(m->mom);
	free(m);
}

const struct pfl_model_spec *
pfl_model_get_spec(const struct pfl_model *m)
{
	return &m->spec;
}

size_t
pfl_model_num_params(const struct pfl_model *m)
{
	return m->np;
}

float *
pfl_model_params(struct pfl_model *m)
{
	return m->params;
}

void
pfl_model_init(struct pfl_model *m, uint64_t seed)
{
	struct pfl_rng rng;

	pfl_rng_seed(&rng, seed);
	for (int i = 0; i < m->nl; i++) {
		const struct layer *l = &m->l[i];
		size_t fan_in;
		double bound;
		if (l->t == L_POOL)
			continue;
		fan_in = l->wcount / (size_t)l->oc;
		bound = 1.0 / sqrt((double)fan_in);
		for (size_t j = 0; j < l->wcount + (size_t)l->oc; j++)
			m->params[l->woff + j] =
			        (float)((2.0 * pfl_rng_uniform(&rng) - 1.0) *
			                bound);
	}
}

/* Make room for batches of B samples (keeps larger buffers). */
static pfl_err
ensure_capacity(struct pfl_model *m, size_t B)
{
	size_t gmax = 0, cmax = 0;

	if (B <= m->cap)
		return PFL_OK;
	free_batch_buffers(m);
	m->act[0] = malloc(B * m->l[0].in_sz * sizeof(float));
	if (m->act[0] == NULL)
		goto out_nomem;
	for (int i = 0; i < m->nl; i++) {
		const struct layer *l = &m->l[i];
		m->act[i + 1] = malloc(B * l->out_sz * sizeof(float));
		if (m->act[i + 1] == NULL)
			goto out_nomem;
		if (l->in_sz > gmax)
			gmax = l->in_sz;
		if (l->out_sz > gmax)
			gmax = l->out_sz;
		if (l->t == L_CONV &&
		    pfli_conv_ws_floats(l->c, l->oc, l->h, l->w) > cmax)
			cmax = pfli_conv_ws_floats(l->c, l->oc, l->h, l->w);
		if (l->t == L_POOL) {
			m->arg[i] = malloc(B * l->out_sz);
			if (m->arg[i] == NULL)
				goto out_nomem;
		}
	}
	m->g0 = malloc(B * gmax * sizeof(float));
	m->g1 = malloc(B * gmax * sizeof(float));
	m->yb = malloc(B * sizeof(int32_t));
	if (m->g0 == NULL || m->g1 == NULL || m->yb == NULL)
		goto out_nomem;
	if (cmax > 0) {
		m->ws = malloc(cmax * sizeof(float));
		if (m->ws == NULL)
			goto out_nomem;
	}
	m->cap = B;
	return PFL_OK;
out_nomem:
	free_batch_buffers(m);
	return PFL_ERR_NOMEM;
}

static void
forward(struct pfl_model *m, size_t B)
{
	const float *p = m->params;

	for (int i = 0; i < m->nl; i++) {
		const struct layer *l = &m->l[i];
		const float *x = m->act[i];
		float *y = m->act[i + 1];
		switch (l->t) {
		case L_DENSE:
			pfli_dense_fwd(B, l->in_sz, (size_t)l->oc, x,
			               p + l->woff, p + l->boff, l->relu, y);
			break;
		case L_CONV:
			pfli_conv_fwd(B, l->c, l->oc, l->h, l->w, x,
			              p + l->woff, p + l->boff, l->relu, y,
			              m->ws);
			break;
		case L_POOL:
			pfli_pool_fwd(B, l->c, l->h, l->w, x, y, m->arg[i]);
			break;
		}
	}
}

/* m->g0 holds d(loss)/d(logits); fills m->grads. */
static void
backward(struct pfl_model *m, size_t B)
{
	const float *p = m->params;
	float *g = m->grads, *dy = m->g0, *dx = m->g1;

	for (int i = m->nl - 1; i >= 0; i--) {
		const struct layer *l = &m->l[i];
		const float *x = m->act[i], *y = m->act[i + 1];
		float *dxi = i > 0 ? dx : NULL;
		float *t;
		switch (l->t) {
		case L_DENSE:
			pfli_dense_bwd(B, l->in_sz, (size_t)l->oc, x,
			               p + l->woff, y, l->relu, dy, g + l->woff,
			               g + l->boff, dxi);
			break;
		case L_CONV:
			pfli_conv_bwd(B, l->c, l->oc, l->h, l->w, x,
			              p + l->woff, y, l->relu, dy, g + l->woff,
			              g + l->boff, dxi, m->ws);
			break;
		case L_POOL:
			pfli_pool_bwd(B, l->c, l->h, l->w, m->arg[i], dy, dx);
			break;
		}
		t = dy;
		dy = dx;
		dx = t;
	}
}

/* Shift by up to 2 px (zero fill) and flip horizontally with p = 1/2. */
static void
augment_copy(const float *src, float *dst, int c, int h, int w,
             struct pfl_rng *rng)
{
	int sy = (int)pfl_rng_below(rng, 5) - 2;
	int sx = (int)pfl_rng_below(rng, 5) - 2;
	bool flip = pfl_rng_below(rng, 2) != 0;

	for (int ch = 0; ch < c; ch++)
		for (int y = 0; y < h; y++) {
			int iy = y - sy;
			for (int x = 0; x < w; x++) {
				int ix = (flip ? w - 1 - x : x) - sx;
				float v = 0.0f;
				if (iy >= 0 && iy < h && ix >= 0 && ix < w)
					v = src[((size_t)ch * h + iy) * w + ix];
				dst[((size_t)ch * h + y) * w + x] = v;
			}
		}
}

static void
gather(struct pfl_model *m, const struct pfl_dataset *ds, const uint32_t *order,
       size_t B, struct pfl_rng *aug)
{
	size_t dim = ds->dim;

	for (size_t s = 0; s < B; s++) {
		const float *src = ds->x + (size_t)order[s] * dim;
		float *dst = m->act[0] + s * dim;
		if (aug != NULL)
			augment_copy(src, dst, ds->c, ds->h, ds->w, aug);
		else
			memcpy(dst, src, dim * sizeof(float));
		m->yb[s] = ds->y[order[s]];
	}
}

static void
sgd_step(struct pfl_model *m, const struct pfl_train_opts *o)
{
	float *p = m->params, *g = m->grads, *v = m->mom;
	const float *ref = o->prox_ref;
	float lr = o->lr, wd = o->weight_decay, mu = o->prox_mu,
	      mom = o->momentum;
	size_t n = m->np;

	if (wd != 0.0f)
		for (size_t i = 0; i < n; i++)
			g[i] += wd * p[i];
	if (ref != NULL && mu != 0.0f)
		for (size_t i = 0; i < n; i++)
			g[i] += mu * (p[i] - ref[i]);
	if (mom != 0.0f) {
		for (size_t i = 0; i < n; i++) {
			v[i] = mom * v[i] + g[i];
			p[i] -= lr * v[i];
		}
	} else {
		for (size_t i = 0; i < n; i++)
			p[i] -= lr * g[i];
	}
}

static pfl_err
check_data(const struct pfl_model *m, const struct pfl_dataset *ds,
           const uint32_t *idx, size_t n)
{
	const struct pfl_model_spec *s = &m->spec;

	if (ds == NULL || ds->x == NULL || ds->y == NULL || n == 0 ||
	    ds->dim != (size_t)s->in_c * s->in_h * s->in_w || ds->classes < 1 ||
	    ds->classes > s->classes)
		return PFL_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		size_t j = idx != NULL ? idx[i] : i;
		if (j >= ds->n || ds->y[j] < 0 || ds->y[j] >= s->classes)
			return PFL_ERR_INVAL;
	}
	return PFL_OK;
}

static bool
opts_are_valid(const struct pfl_train_opts *o)
{
	return o != NULL && o->epochs >= 0 && o->batch >= 1 &&
	       isfinite(o->lr) && o->lr > 0.0f && isfinite(o->momentum) &&
	       o->momentum >= 0.0f && o->momentum < 1.0f &&
	       isfinite(o->weight_decay) && o->weight_decay >= 0.0f &&
	       isfinite(o->prox_mu) && o->prox_mu >= 0.0f;
}

pfl_err
pfl_model_train(struct pfl_model *m, const struct pfl_dataset *ds,
                const uint32_t *idx, size_t n,
                const struct pfl_train_opts *opts,
                struct pfl_train_stats *stats)
{
	struct pfl_rng rng, aug;
	uint32_t *order = NULL;
	size_t B, steps = 0, seen = 0;
	double total = 0.0;
	bool images;
	pfl_err err;

	if (m == NULL || !opts_are_valid(opts))
		return PFL_ERR_INVAL;
	if (idx == NULL && ds != NULL)
		n = ds->n;
	if ((err = check_data(m, ds, idx, n)) != PFL_OK)
		return err;
	if (n > UINT32_MAX)
		return PFL_ERR_TOOBIG;
	B = (size_t)opts->batch < n ? (size_t)opts->batch : n;
	if ((err = ensure_capacity(m, B)) != PFL_OK)
		return err;
	order = malloc(n * sizeof(*order));
	if (order == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = idx != NULL ? idx[i] : (uint32_t)i;
	pfl_rng_seed(&rng, opts->seed);
	pfl_rng_fork(&rng, 1, &aug);
	images = opts->augment && ds->h > 1 && ds->w > 1;
	memset(m->mom, 0, m->np * sizeof(float));
	for (int e = 0; e < opts->epochs; e++) {
		pfl_rng_shuffle_u32(&rng, order, n);
		for (size_t s = 0; s < n; s += B) {
			size_t b = n - s < B ? n - s : B;
			gather(m, ds, order + s, b, images ? &aug : NULL);
			forward(m, b);
			total += pfli_softmax_xent(b, m->spec.classes,
			                           m->act[m->nl], m->yb, m->g0,
			                           NULL);
			if (!isfinite(total)) {
				err = PFL_ERR_STATE;
				if (stats != NULL) {
					stats->loss = total;
					stats->steps = steps + 1;
				}
				goto out_free_order;
			}
			backward(m, b);
			sgd_step(m, opts);
			steps++;
			seen += b;
		}
	}
	if (stats != NULL) {
		stats->loss = seen > 0 ? total / (double)seen : 0.0;
		stats->samples = seen;
		stats->steps = steps;
	}
out_free_order:
	free(order);
	return err;
}

pfl_err
pfl_model_evaluate(struct pfl_model *m, const struct pfl_dataset *ds,
                   const uint32_t *idx, size_t n, double *accuracy,
                   double *loss)
{
	uint32_t order[EVAL_BATCH];
	size_t B, hits = 0;
	double total = 0.0;
	pfl_err err;

	if (m == NULL)
		return PFL_ERR_INVAL;
	if (idx == NULL && ds != NULL)
		n = ds->n;
	if ((err = check_data(m, ds, idx, n)) != PFL_OK)
		return err;
	B = m->spec.arch == PFL_ARCH_CNN ? EVAL_BATCH_CNN : EVAL_BATCH;
	if ((err = ensure_capacity(m, B)) != PFL_OK)
		return err;
	for (size_t s = 0; s < n; s += B) {
		size_t b = n - s < B ? n - s : B, c;
		for (size_t i = 0; i < b; i++)
			order[i] = idx != NULL ? idx[s + i] : (uint32_t)(s + i);
		gather(m, ds, order, b, NULL);
		forward(m, b);
		total += pfli_softmax_xent(b, m->spec.classes, m->act[m->nl],
		                           m->yb, NULL, &c);
		hits += c;
	}
	if (accuracy != NULL)
		*accuracy = (double)hits / (double)n;
	if (loss != NULL)
		*loss = total / (double)n;
	return PFL_OK;
}

pfl_err
pfl_model_predict(struct pfl_model *m, const float *x, size_t n, float *logits)
{
	size_t dim, k, B;
	pfl_err err;

	if (m == NULL || (n > 0 && (x == NULL || logits == NULL)))
		return PFL_ERR_INVAL;
	dim = m->l[0].in_sz;
	k = (size_t)m->spec.classes;
	B = m->cap > 0 ? m->cap
	               : (m->spec.arch == PFL_ARCH_CNN ? EVAL_BATCH_CNN
	                                               : EVAL_BATCH);
	if ((err = ensure_capacity(m, B)) != PFL_OK)
		return err;
	for (size_t s = 0; s < n; s += B) {
		size_t b = n - s < B ? n - s : B;
		memcpy(m->act[0], x + s * dim, b * dim * sizeof(float));
		forward(m, b);
		memcpy(logits + s * k, m->act[m->nl], b * k * sizeof(float));
	}
	return PFL_OK;
}

pfl_err
pfli_model_loss_grad(struct pfl_model *m, const float *x, const int32_t *y,
                     size_t B, float **grads, double *loss)
{
	double total;
	pfl_err err;

	if ((err = ensure_capacity(m, B)) != PFL_OK)
		return err;
	memcpy(m->act[0], x, B * m->l[0].in_sz * sizeof(float));
	memcpy(m->yb, y, B * sizeof(int32_t));
	forward(m, B);
	total = pfli_softmax_xent(B, m->spec.classes, m->act[m->nl], m->yb,
	                          m->g0, NULL);
	backward(m, B);
	*grads = m->grads;
	*loss = total / (double)B;
	return PFL_OK;
}
