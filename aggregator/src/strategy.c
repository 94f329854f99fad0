#include "privfl/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

pfl_err
pfl_strategy_new(const struct pfl_strategy_params *p, size_t n,
                 struct pfl_strategy **out)
{
	struct pfl_strategy *s;

	if (n == 0 || n > ((size_t)1 << 34))
		return PFL_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PFL_ERR_NOMEM;
	s->p = *p;
	s->n = n;
	if (uses_m(p->kind) && (s->m = calloc(n, sizeof(float))) == NULL)
		goto out_nomem;
	if (uses_v(p->kind)) {
		float v0 = (float)(p->tau * p->tau);
		if ((s->v = malloc(n * sizeof(float))) == NULL)
			goto out_nomem;
		for (size_t i = 0; i < n; i++)
			s->v[i] = v0;
	}
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
