/*
 * Exact discrete Gaussian sampling (Canonne, Kamath, Steinke 2020,
 * Algorithms 1-3) with rational parameters in 128-bit integer arithmetic.
 * The variance s2 is used as the rational n / 2^k, n = ceil(s2 * 2^k).
 */
#include <math.h>

#include "privacy_int.h"
#include "privfl/noise.h"

__extension__ typedef unsigned __int128 u128;

#define DG_MIN_S2    0x1.0p-8
#define DG_MAX_S2    0x1.0p48
#define DG_MAX_NUM   0x1.0p52
#define DG_MAX_ZMULT 64 /* |Z| >= 64 t is treated as rejection, see below */

struct dg_param {
	uint64_t num; /* s2 = num / den */
	uint64_t den; /* a power of two, <= 2^32 */
	uint64_t t;   /* floor(sigma) + 1 */
};

static int
dg_param(double s2, struct dg_param *p)
{
	int k = 32;

	if (!(s2 >= DG_MIN_S2 && s2 <= DG_MAX_S2))
		return -1;
	while (k > 0 && ldexp(s2, k) > DG_MAX_NUM)
		k--;
	p->den = (uint64_t)1 << k;
	p->num = (uint64_t)ceil(ldexp(s2, k));
	p->t = (uint64_t)floor(sqrt((double)p->num / (double)p->den)) + 1;
	/* make t exactly floor(sqrt(num/den)) + 1 despite sqrt rounding */
	while ((u128)(p->t - 1) * (p->t - 1) * p->den > p->num)
		p->t--;
	while ((u128)p->t * p->t * p->den <= p->num)
		p->t++;
	return 0;
}

double
pfl_dgauss_variance(double s2)
{
	struct dg_param p;

	if (dg_param(s2, &p) != 0)
		return NAN;
	return (double)p.num / (double)p.den;
}

static u128
rand_u128_below(struct pfl_csprng *r, u128 n)
{
	u128 mask = n - 1, x;

	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	mask |= mask >> 32;
	mask |= mask >> 64;
	do {
		x = ((u128)pfl_csprng_u64(r) << 64) | pfl_csprng_u64(r);
		x &= mask;
	} while (x >= n);
	return x;
}

/* Bernoulli(a / b), 0 <= a <= b, b > 0. */
static int
bern_frac(struct pfl_csprng *r, u128 a, u128 b)
{
	if ((b >> 64) == 0)
		return pfl_csprng_below(r, (uint64_t)b) < a;
	return rand_u128_below(r, b) < a;
}

/* Bernoulli(exp(-a/b)) for 0 <= a <= b (CKS Alg. 1, first case). */
static int
bern_exp_small(struct pfl_csprng *r, u128 a, u128 b)
{
	uint64_t k = 1;

	while (bern_frac(r, a, b * k))
		k++;
	return (int)(k & 1);
}

/* Bernoulli(exp(-a/b)) for any a >= 0, b > 0 (CKS Alg. 1). */
static int
bern_exp(struct pfl_csprng *r, u128 a, u128 b)
{
	u128 whole = a / b;

	for (u128 i = 0; i < whole; i++)
		if (!bern_exp_small(r, 1, 1))
			return 0;
	return bern_exp_small(r, a - whole * b, b);
}

/* One try of CKS Alg. 3; returns 1 and sets *z on acceptance. */
static int
dg_try(struct pfl_csprng *r, const struct dg_param *p, int64_t *z)
{
	uint64_t u, v = 0, y;
	u128 num, den, diff;

	u = pfl_csprng_below(r, p->t);
	if (!bern_exp(r, u, p->t))
		return 0;
	while (bern_exp_small(r, 1, 1)) {
		if (++v >= DG_MAX_ZMULT)
			return 0; /* prob. e^-64; exp(-|Z|^2/..) below e^-900 */
	}
	y = u + p->t * v;
	if (pfl_csprng_u64(r) & 1) {
		if (y == 0)
			return 0;
		*z = -(int64_t)y;
	} else
		*z = (int64_t)y;
	/* gamma = (y - s2/t)^2 / (2 s2) = (y t den - num)^2 / (2 num den t^2)
	 */
	num = (u128)y * p->t * p->den;
	diff = num > p->num ? num - p->num : p->num - num;
	den = (u128)2 * p->num * p->den * p->t * p->t;
	return bern_exp(r, diff * diff, den);
}

pfl_err
pfl_dgauss_sample(struct pfl_csprng *r, double s2, int64_t *z)
{
	struct dg_param p;
	int64_t v;

	if (r == NULL || z == NULL || dg_param(s2, &p) != 0)
		return PFL_ERR_INVAL;
	while (!dg_try(r, &p, &v))
		;
	*z = v;
	return PFL_OK;
}

pfl_err
pfl_noise_dgauss_add(struct pfl_csprng *r, uint32_t *v, size_t n, double sigma2)
{
	struct dg_param p;

	if (r == NULL || (v == NULL && n > 0) || dg_param(sigma2, &p) != 0)
		return PFL_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		int64_t z;
		while (!dg_try(r, &p, &z))
			;
		v[i] += (uint32_t)z;
	}
	return PFL_OK;
}
