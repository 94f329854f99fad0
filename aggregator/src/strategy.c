#include "privfl/strategy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/log.h"

struct pfl_strategy {
	struct pfl_strategy_params p;
	size_t n;
	uint64_t steps;
	float *m; /* momentum / first moment (NULL for FedAvg) */
	float *v; /* second moment (adaptive methods only) */
};

static int
uses_m(enum pfl_strategy_kind k)
{
	return k != PFL_STRAT_FEDAVG && k != PFL_STRAT_FEDPROX;
}

static int
uses_v(enum pfl_strategy_kind k)
{
	return k == PFL_STRAT_FEDADAM || k == PFL_STRAT_FEDYOGI ||
	       k == PFL_STRAT_FEDADAGRAD;
}

const char *
pfl_strategy_name(enum pfl_strategy_kind k)
{
	switch (k) {
	case PFL_STRAT_FEDAVG:
		return "fedavg";
	case PFL_STRAT_FEDAVGM:
		return "fedavgm";
	case PFL_STRAT_FEDADAM:
		return "fedadam";
	case PFL_STRAT_FEDYOGI:
		return "fedyogi";
	case PFL_STRAT_FEDADAGRAD:
		return "fedadagrad";
	case PFL_STRAT_FEDPROX:
		return "fedprox";
	}
	return "unknown";
}

void
pfl_strategy_defaults(enum pfl_strategy_kind k, struct pfl_strategy_params *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = k;
	out->lr = 1.0;
	out->momentum = 0.9;
	out->beta1 = 0.9;
	out->beta2 = 0.99;
	out->tau = 1e-3;
	if (k == PFL_STRAT_FEDADAM || k == PFL_STRAT_FEDYOGI)
		out->lr = 0.01;
	else if (k == PFL_STRAT_FEDADAGRAD)
		out->lr = 0.1;
}

static void
log_settings(const struct pfl_strategy_params *p, bool lr_default)
{
	const char *name = pfl_strategy_name(p->kind);
	const char *how = lr_default ? " (its default)" : "";

	if (p->kind == PFL_STRAT_FEDADAGRAD)
		pfl_log(PFL_LOG_INFO,
		        "strategy %s: server_lr %g%s, beta1 %g, tau %g", name,
		        p->lr, how, p->beta1, p->tau);
	else if (uses_v(p->kind))
		pfl_log(PFL_LOG_INFO,
		        "strategy %s: server_lr %g%s, beta1 %g, beta2 %g, tau "
		        "%g",
		        name, p->lr, how, p->beta1, p->beta2, p->tau);
	else if (p->kind == PFL_STRAT_FEDAVGM)
		pfl_log(PFL_LOG_INFO,
		        "strategy %s: server_lr %g%s, server_momentum %g", name,
		        p->lr, how, p->momentum);
	else
		pfl_log(PFL_LOG_INFO, "strategy %s: server_lr %g%s", name,
		        p->lr, how);
}

pfl_err
pfl_strategy_new(const struct pfl_strategy_params *p, size_t n,
                 struct pfl_strategy **out)
{
	struct pfl_strategy_params def;
	struct pfl_strategy *s;

	if (n == 0 || n > ((size_t)1 << 34))
		return PFL_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PFL_ERR_NOMEM;
	s->p = *p;
	s->n = n;
	if (!(p->lr > 0)) {
		pfl_strategy_defaults(p->kind, &def);
		s->p.lr = def.lr;
	}
	if (uses_m(p->kind) && (s->m = calloc(n, sizeof(float))) == NULL)
		goto out_nomem;
	if (uses_v(p->kind)) {
		float v0 = (float)(p->tau * p->tau);
		if ((s->v = malloc(n * sizeof(float))) == NULL)
			goto out_nomem;
		for (size_t i = 0; i < n; i++)
			s->v[i] = v0;
	}
	log_settings(&s->p, !(p->lr > 0));
	*out = s;
	return PFL_OK;
out_nomem:
	pfl_strategy_free(s);
	return PFL_ERR_NOMEM;
}

void
pfl_strategy_free(struct pfl_strategy *s)
{
	if (s == NULL)
		return;
	free(s->m);
	free(s->v);
	free(s);
}

const struct pfl_strategy_params *
pfl_strategy_settings(const struct pfl_strategy *s)
{
	return &s->p;
}

static void
apply_adaptive(struct pfl_strategy *s, float *w, const float *d)
{
	const float b1 = (float)s->p.beta1, b2 = (float)s->p.beta2;
	const float lr = (float)s->p.lr, tau = (float)s->p.tau;
	float *m = s->m, *v = s->v;

	for (size_t i = 0; i < s->n; i++) {
		float g = d[i], g2 = g * g;
		m[i] = b1 * m[i] + (1.0f - b1) * g;
		switch (s->p.kind) {
		case PFL_STRAT_FEDADAM:
			v[i] = b2 * v[i] + (1.0f - b2) * g2;
			break;
		case PFL_STRAT_FEDYOGI: {
			float diff = v[i] - g2;
			float sgn = (float)((diff > 0) - (diff < 0));
			v[i] = v[i] - (1.0f - b2) * g2 * sgn;
			break;
		}
		default:
			v[i] = v[i] + g2;
			break;
		}
		w[i] += lr * m[i] / (sqrtf(v[i]) + tau);
	}
}

void
pfl_strategy_apply(struct pfl_strategy *s, float *w, const float *d)
{
	const float lr = (float)s->p.lr;

	s->steps++;
	switch (s->p.kind) {
	case PFL_STRAT_FEDAVG:
	case PFL_STRAT_FEDPROX:
		for (size_t i = 0; i < s->n; i++)
			w[i] += lr * d[i];
		break;
	case PFL_STRAT_FEDAVGM: {
		const float beta = (float)s->p.momentum;
		for (size_t i = 0; i < s->n; i++) {
			s->m[i] = beta * s->m[i] + d[i];
			w[i] += lr * s->m[i];
		}
		break;
	}
	default:
		apply_adaptive(s, w, d);
		break;
	}
}

/* Layout: "PFS1", kind u32, n u64, steps u64, then m and v if used. */
pfl_err
pfl_strategy_save(const struct pfl_strategy *s, struct pfl_buf *out)
{
	uint8_t hdr[24] = {'P', 'F', 'S', '1'};
	uint32_t kind = (uint32_t)s->p.kind;
	uint64_t n = s->n;
	pfl_err rv;

	memcpy(hdr + 4, &kind, 4);
	memcpy(hdr + 8, &n, 8);
	memcpy(hdr + 16, &s->steps, 8);
	if ((rv = pfl_buf_append(out, hdr, sizeof(hdr))) != PFL_OK)
		return rv;
	if (s->m && (rv = pfl_buf_append(out, s->m, s->n * 4)) != PFL_OK)
		return rv;
	if (s->v && (rv = pfl_buf_append(out, s->v, s->n * 4)) != PFL_OK)
		return rv;
	return PFL_OK;
}

pfl_err
pfl_strategy_load(struct pfl_strategy *s, const uint8_t *buf, size_t len)
{
	uint32_t kind;
	uint64_t n, steps;
	size_t need = 24;

	if (len < 24 || memcmp(buf, "PFS1", 4) != 0)
		return PFL_ERR_FORMAT;
	memcpy(&kind, buf + 4, 4);
	memcpy(&n, buf + 8, 8);
	memcpy(&steps, buf + 16, 8);
	if (kind != (uint32_t)s->p.kind || n != s->n)
		return PFL_ERR_FORMAT;
	need += (s->m ? s->n * 4 : 0) + (s->v ? s->n * 4 : 0);
	if (len != need)
		return PFL_ERR_FORMAT;
	if (s->m)
		memcpy(s->m, buf + 24, s->n * 4);
	if (s->v)
		memcpy(s->v, buf + 24 + (s->m ? s->n * 4 : 0), s->n * 4);
	s->steps = steps;
	return PFL_OK;
}

bool
pfl_strategy_is_diverging(double prev, double loss)
{
	if (!isfinite(prev))
		return false;
	return !isfinite(loss) ||
	       (prev > 0 && loss > PFL_STRATEGY_DIVERGE_RATIO * prev);
}

void
pfl_strategy_divergence_hint(const struct pfl_strategy *s, double client_lr,
                             char *buf, size_t len)
{
	const struct pfl_strategy_params *p = &s->p;
	const char *name = pfl_strategy_name(p->kind);
	struct pfl_strategy_params def;

	pfl_strategy_defaults(p->kind, &def);
	if (p->lr > def.lr)
		snprintf(buf, len,
		         "server_lr %g is likely too large for %s (its default "
		         "is %g)",
		         p->lr, name, def.lr);
	else if (p->kind == PFL_STRAT_FEDAVGM && p->momentum > def.momentum)
		snprintf(buf, len,
		         "server_momentum %g is likely too large for %s (its "
		         "default is %g)",
		         p->momentum, name, def.momentum);
	else
		snprintf(buf, len,
		         "the clients' lr %g is likely too large (or %s's "
		         "server_lr %g)",
		         client_lr, name, p->lr);
}
