/*
 * SecAgg: parameters, derivations and signed message layouts shared by the
 * client and the server (docs/SECAGG.md).
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/prg.h"
#include "secagg_int.h"

static const uint8_t tag_adv[SA_TAG] = "privfl-sa-adv-1";
static const uint8_t tag_u3[SA_TAG] = "privfl-sa-u3-v1";
static const uint8_t tag_ad[SA_TAG] = "privfl-sa-ad-v1";
static const uint8_t pers_mask[16] = "privfl-sa-mask";
static const uint8_t pers_share[16] = "privfl-sa-share";

pfl_err
pfl_sa_params_check(const struct pfl_sa_params *p)
{
	if (p == NULL)
		return PFL_ERR_INVAL;
	if (p->n < 3 || p->dim == 0 || p->dim > PFL_SA_MAX_DIM)
		return PFL_ERR_INVAL;
	if (p->mode == PFL_SA_FULL) {
		if (p->n > PFL_SA_MAX_N_FULL || p->k != p->n - 1)
			return PFL_ERR_INVAL;
	} else if (p->mode == PFL_SA_PLUS) {
		if (p->n > PFL_SA_MAX_N_PLUS || p->k < 2 || p->k > p->n - 1)
			return PFL_ERR_INVAL;
		if (p->k > PFL_SA_MAX_K && p->k != p->n - 1)
			return PFL_ERR_INVAL;
		if (p->k == p->n - 1 && p->n > PFL_SA_MAX_N_FULL)
			return PFL_ERR_INVAL;
	} else {
		return PFL_ERR_INVAL;
	}
	if ((uint64_t)p->n * p->k > PFL_SA_MAX_NK)
		return PFL_ERR_INVAL;
	if (p->t > p->k + 1 || 2 * (uint64_t)p->t <= (uint64_t)p->k + 1)
		return PFL_ERR_INVAL;
	return PFL_OK;
}

long
pfli_sa_find(const uint32_t *a, uint32_t n, uint32_t v)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a[mid] < v)
			lo = mid + 1;
		else if (a[mid] > v)
			hi = mid;
		else
			return (long)mid;
	}
	return -1;
}

void
pfli_sa_adv_msg(uint8_t out[SA_ADV_MSG], const uint8_t ctx[32], uint32_t id,
                const uint8_t c_pk[32], const uint8_t s_pk[32])
{
	memcpy(out, tag_adv, SA_TAG);
	memcpy(out + SA_TAG, ctx, 32);
	pfli_le32_put(out + SA_TAG + 32, id);
	memcpy(out + SA_TAG + 36, c_pk, SA_KEY);
	memcpy(out + SA_TAG + 36 + SA_KEY, s_pk, SA_KEY);
}

pfl_err
pfli_sa_u3_msg(struct pfl_buf *out, const uint8_t ctx[32], const uint32_t *ids,
               uint32_t count)
{
	uint8_t w[4];
	pfl_err err;

	if ((err = pfl_buf_reserve(out, SA_TAG + 36 + 4 * (size_t)count)))
		return err;
	pfli_le32_put(w, count);
	if ((err = pfl_buf_append(out, tag_u3, SA_TAG)) ||
	    (err = pfl_buf_append(out, ctx, 32)) ||
	    (err = pfl_buf_append(out, w, 4)))
		return err;
	for (uint32_t i = 0; i < count; i++) {
		pfli_le32_put(w, ids[i]);
		if ((err = pfl_buf_append(out, w, 4)))
			return err;
	}
	return PFL_OK;
}

void
pfli_sa_share_ad(uint8_t ad[SA_AD], const uint8_t ctx[32], uint32_t from,
                 uint32_t to)
{
	memcpy(ad, tag_ad, SA_TAG);
	memcpy(ad + SA_TAG, ctx, 32);
	pfli_le32_put(ad + SA_TAG + 32, from);
	pfli_le32_put(ad + SA_TAG + 36, to);
}

static pfl_err
derive(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32],
       const uint8_t ctx[32], uint32_t a, uint32_t b, const uint8_t pers[16])
{
	uint8_t shared[32], in[40];
	pfl_err err = PFL_ERR_CRYPTO;

	if (crypto_scalarmult(shared, sk, pk) != 0)
		goto out;
	memcpy(in, ctx, 32);
	pfli_le32_put(in + 32, a);
	pfli_le32_put(in + 36, b);
	if (crypto_generichash_blake2b_salt_personal(out, 32, in, sizeof(in),
	                                             shared, sizeof(shared),
	                                             NULL, pers) != 0)
		goto out;
	err = PFL_OK;
out:
	sodium_memzero(shared, sizeof(shared));
	return err;
}

pfl_err
pfli_sa_pair_seed(uint8_t seed[32], const uint8_t sk[32], const uint8_t pk[32],
                  const uint8_t ctx[32], uint32_t u, uint32_t v)
{
	return derive(seed, sk, pk, ctx, u < v ? u : v, u < v ? v : u,
	              pers_mask);
}

pfl_err
pfli_sa_share_key(uint8_t key[32], const uint8_t sk[32], const uint8_t pk[32],
                  const uint8_t ctx[32], uint32_t from, uint32_t to)
{
	return derive(key, sk, pk, ctx, from, to, pers_share);
}

void
pfli_sa_apply_block(uint32_t *v, size_t m, uint64_t first,
                    const struct pfli_sa_seed *seeds, size_t nseeds)
{
	for (size_t i = 0; i < nseeds; i++)
		pfl_prg_mask_add_at(v, m, first, seeds[i].seed, seeds[i].sign);
}

/* ---- thresholds and parameter choice (docs/SECAGG.md) ---- */

uint32_t
pfl_sa_threshold(const struct pfl_sa_params *p, uint32_t deg)
{
	if (p == NULL || p->k == 0)
		return 0;
	if (deg == p->k)
		return p->t;
	return (uint32_t)(((uint64_t)deg + 1) * p->t / ((uint64_t)p->k + 1) +
	                  (((uint64_t)deg + 1) * p->t % ((uint64_t)p->k + 1) !=
	                   0));
}

#define NEG_INF   (-1e300)
#define LOG_ETA   (-20 * 0.6931471805599453) /* failure target 2^-20 */
#define LOG_SIGMA (-40 * 0.6931471805599453) /* privacy target 2^-40 */

/* the model of one analysis: G(n, p), c corrupt clients */
struct bmodel {
	uint32_t n, k, t, c, min_sum;
	double p, drop;
	double *lg; /* lg[i] = log i!, i <= n */
};

static double
lse(double a, double b)
{
	if (a < b) {
		double x = a;

		a = b;
		b = x;
	}
	if (b <= NEG_INF)
		return a;
	return a + log1p(exp(b - a));
}

static double
lbinom(const struct bmodel *m, uint32_t n, uint32_t k)
{
	return m->lg[n] - m->lg[k] - m->lg[n - k];
}

/* log P[Bin(N, q) = j] */
static double
lpmf(const struct bmodel *m, uint32_t N, double q, uint32_t j)
{
	if (q <= 0)
		return j == 0 ? 0 : NEG_INF;
	if (q >= 1)
		return j == N ? 0 : NEG_INF;
	return lbinom(m, N, j) + j * log(q) + (N - j) * log1p(-q);
}

/* the range of Bin(N, q) outside which the mass is negligible (< 2^-100) */
static void
brange(uint32_t N, double q, uint32_t *lo, uint32_t *hi)
{
	double mu = N * q, w = 20 * sqrt(mu + 1) + 30;

	*lo = mu - w > 0 ? (uint32_t)(mu - w) : 0;
	*hi = mu + w < N ? (uint32_t)(mu + w) : N;
}

/* threshold of a degree-d client as a function of the model */
static uint32_t
bthr(const struct bmodel *m, uint32_t d)
{
	struct pfl_sa_params p = {.k = m->k, .t = m->t};

	return pfl_sa_threshold(&p, d);
}

/* log n P[Bin(d, 1 - drop) < t_d - 1] averaged over d ~ Bin(n - 1, p) */
static double
b_fail(const struct bmodel *m)
{
	uint32_t lo, hi;
	double acc = NEG_INF;

	brange(m->n - 1, m->p, &lo, &hi);
	for (uint32_t d = lo; d <= hi; d++) {
		uint32_t need = bthr(m, d), j;
		double tail = NEG_INF, ld = lpmf(m, m->n - 1, m->p, d);

		if (need < 2)
			continue;
		for (j = 0; j + 1 < need && j <= d; j++)
			tail = lse(tail, lpmf(m, d, 1 - m->drop, j));
		acc = lse(acc, ld + tail);
	}
	return log(m->n) + acc;
}

/* log n P[2 t_u <= d_u + 1 + c_u]: corrupt holders c_u and a
 * contradicting view could reveal both secrets of an honest u */
static double
b_count(const struct bmodel *m)
{
	uint32_t h = m->n - 1 - m->c, alo, ahi, blo, bhi;
	double acc = NEG_INF;

	brange(h, m->p, &alo, &ahi);
	brange(m->c, m->p, &blo, &bhi);
	for (uint32_t a = alo; a <= ahi; a++)
		for (uint32_t b = blo; b <= bhi; b++)
			if (2 * (uint64_t)bthr(m, a + b) <=
			    (uint64_t)a + 2 * b + 1)
				acc = lse(acc, lpmf(m, h, m->p, a) +
				                       lpmf(m, m->c, m->p, b));
	return log(m->n) + acc;
}

/* Chernoff exponent of "a set S of s honest clients, each with at least
 * t_u - 1 neighbours in S or corrupt" at lambda (docs/SECAGG.md) */
static double
b_exp(const struct bmodel *m, uint32_t s, double lam)
{
	double rho = (double)m->t / (m->k + 1.0), p = m->p;
	double hon = (double)(m->n - m->c);

	return lam * s * (1 - rho) +
	       (double)s * (s - 1) / 2 * log1p(p * expm1(2 * lam * (1 - rho))) +
	       (double)s * m->c * log1p(p * expm1(lam * (1 - rho))) +
	       (double)s * (hon - s) * log1p(p * expm1(-lam * rho));
}

/* log of the union bound over honest sets of 1 .. min_sum - 1 clients */
static double
b_density(const struct bmodel *m)
{
	double acc = NEG_INF;
	uint32_t hon = m->n - m->c;

	for (uint32_t s = 1; s < m->min_sum && s <= hon; s++) {
		double a = 0, b = 64, x, y;

		/* golden section: the exponent is convex in lambda */
		for (int i = 0; i < 80; i++) {
			x = b - (b - a) * 0.6180339887;
			y = a + (b - a) * 0.6180339887;
			if (b_exp(m, s, x) < b_exp(m, s, y))
				b = y;
			else
				a = x;
		}
		x = b_exp(m, s, (a + b) / 2);
		acc = lse(acc, lbinom(m, hon, s) + (x < 0 ? x : 0));
		if (acc > LOG_SIGMA)
			break; /* already too much */
	}
	return acc;
}

static double
b_priv(const struct bmodel *m)
{
	return lse(b_count(m), b_density(m));
}

static uint32_t
ceil_frac(double f, uint32_t n)
{
	double x = f * n;
	uint32_t r = (uint32_t)x;

	return (double)r < x ? r + 1 : r;
}

/*
 * ceil(corrupt_frac n): a fraction of a client counts as a whole one (the
 * safe side). A product within 1e-9 above an integer is that integer: it
 * is the rounding error of a fraction like 0.1, not a part of a client.
 */
uint32_t
pfl_sa_colluders(double corrupt_frac, uint32_t n)
{
	double x = corrupt_frac * n;
	uint32_t r;

	if (!(x > 0))
		return 0;
	r = (uint32_t)x;
	return x - (double)r > 1e-9 ? r + 1 : r;
}

static pfl_err
choose_full(uint32_t n, double drop, double corrupt, uint32_t min_sum,
            uint32_t *k, uint32_t *t)
{
	uint32_t c = pfl_sa_colluders(corrupt, n);
	uint32_t tt = (n + c) / 2 + 1;

	if (min_sum + c > tt)
		tt = min_sum + c;
	if (tt > n - ceil_frac(drop, n))
		return PFL_ERR_CONFIG;
	*k = n - 1;
	*t = tt;
	return PFL_OK;
}

static double *
lg_table(uint32_t n)
{
	double *lg = malloc(((size_t)n + 1) * sizeof(*lg));

	if (lg == NULL)
		return NULL;
	lg[0] = 0;
	for (uint32_t i = 1; i <= n; i++)
		lg[i] = lg[i - 1] + log((double)i);
	return lg;
}

static void
bmodel_init(struct bmodel *m, uint32_t n, uint32_t k, uint32_t t, double drop,
            double corrupt, uint32_t min_sum)
{
	m->n = n;
	m->k = k;
	m->t = t;
	m->c = pfl_sa_colluders(corrupt, n);
	m->min_sum = min_sum < 2 ? 2 : min_sum;
	m->drop = drop;
	m->p = (double)(uint32_t)(((uint64_t)k << 32) / (n - 1)) / 4294967296.0;
}

/* the smallest t for k meeting both bounds, or 0 */
static uint32_t
choose_t(uint32_t n, uint32_t k, double drop, double corrupt, uint32_t min_sum,
         double *lg)
{
	uint32_t lo = (k + 1) / 2 + 1, hi = k + 1;
	struct bmodel m;

	bmodel_init(&m, n, k, lo, drop, corrupt, min_sum);
	m.lg = lg;
	if (b_fail(&m) > LOG_ETA)
		return 0; /* fails even at the smallest t: larger k */
	m.t = hi;
	if (b_priv(&m) > LOG_SIGMA)
		return 0;
	while (lo < hi) { /* privacy improves with t */
		m.t = lo + (hi - lo) / 2;
		if (b_priv(&m) <= LOG_SIGMA)
			hi = m.t;
		else
			lo = m.t + 1;
	}
	m.t = lo;
	return b_fail(&m) <= LOG_ETA ? lo : 0;
}

/* pfl_sa_choose_params_min without its memo (secagg_params.c). */
pfl_err
pfli_sa_choose_params_search(enum pfl_sa_mode mode, uint32_t n,
                             double dropout_frac, double corrupt_frac,
                             uint32_t min_sum, uint32_t *k, uint32_t *t)
{
	uint32_t kmax, kk, tt;
	double *lg;

	if (k == NULL || t == NULL || n < 3)
		return PFL_ERR_INVAL;
	if (!(dropout_frac >= 0 && dropout_frac < 1) ||
	    !(corrupt_frac >= 0 && corrupt_frac < 1))
		return PFL_ERR_INVAL;
	if (min_sum < 2)
		min_sum = 2;
	if (mode == PFL_SA_FULL) {
		if (n > PFL_SA_MAX_N_FULL)
			return PFL_ERR_INVAL;
		return choose_full(n, dropout_frac, corrupt_frac, min_sum, k,
		                   t);
	}
	if (mode != PFL_SA_PLUS || n > PFL_SA_MAX_N_PLUS)
		return PFL_ERR_INVAL;
	kmax = n - 2 < PFL_SA_MAX_K ? n - 2 : PFL_SA_MAX_K;
	if ((uint64_t)n * kmax > PFL_SA_MAX_NK)
		kmax = (uint32_t)(PFL_SA_MAX_NK / n);
	if ((lg = lg_table(n)) == NULL)
		return PFL_ERR_NOMEM;
	for (kk = 4; kk <= kmax; kk += 2) {
		if ((tt = choose_t(n, kk, dropout_frac, corrupt_frac, min_sum,
		                   lg)) != 0) {
			free(lg);
			*k = kk;
			*t = tt;
			return PFL_OK;
		}
	}
	free(lg);
	/* no sparse graph is good enough: the complete graph */
	if (n > PFL_SA_MAX_N_FULL)
		return PFL_ERR_CONFIG;
	return choose_full(n, dropout_frac, corrupt_frac, min_sum, k, t);
}

pfl_err
pfl_sa_choose_params(enum pfl_sa_mode mode, uint32_t n, double dropout_frac,
                     double corrupt_frac, uint32_t *k, uint32_t *t)
{
	return pfl_sa_choose_params_min(mode, n, dropout_frac, corrupt_frac, 2,
	                                k, t);
}

pfl_err
pfl_sa_params_bounds(const struct pfl_sa_params *p, double dropout_frac,
                     double corrupt_frac, uint32_t min_sum, double *fail_log2,
                     double *priv_log2)
{
	struct bmodel m;
	double f, v;

	if (pfl_sa_params_check(p) != PFL_OK ||
	    !(dropout_frac >= 0 && dropout_frac < 1) ||
	    !(corrupt_frac >= 0 && corrupt_frac < 1))
		return PFL_ERR_INVAL;
	bmodel_init(&m, p->n, p->k, p->t, dropout_frac, corrupt_frac, min_sum);
	if ((m.lg = lg_table(p->n)) == NULL)
		return PFL_ERR_NOMEM;
	if (pfli_sa_is_complete(p)) {
		/* deterministic: survivors and honest holders are counted */
		f = p->t <= p->n - ceil_frac(dropout_frac, p->n) ? NEG_INF : 0;
		v = 2 * (uint64_t)p->t > (uint64_t)p->n + m.c &&
		                    p->t >= m.min_sum + m.c
		            ? NEG_INF
		            : 0;
	} else {
		f = b_fail(&m);
		v = b_priv(&m);
	}
	free(m.lg);
	if (fail_log2 != NULL)
		*fail_log2 = f <= NEG_INF ? -1e9 : f / log(2);
	if (priv_log2 != NULL)
		*priv_log2 = v <= NEG_INF ? -1e9 : v / log(2);
	return PFL_OK;
}
