/*
 * Privacy loss distribution accountant for the Poisson-subsampled Gaussian
 * (Koskela et al. 2020; Doroshenko et al. 2022), pessimistic version:
 *
 * 1. For each adjacency (remove: P = (1-q)N(0,s^2) + qN(1,s^2) vs
 *    Q = N(0,s^2); add: the reverse), the privacy loss L = log(P/Q)(x),
 *    x ~ P, is monotone in x, so P(L > l) has a closed form. Losses are
 *    rounded UP to the grid k*h (mass of ((k-1)h, kh] goes to kh); the
 *    mass below the lowest bin is moved up into it and the mass above the
 *    highest bin becomes "infinite loss". Rounding losses up can only
 *    increase delta(eps) = E[(1 - e^(eps - L))_+] + P(L = inf), for one
 *    step and, by coupling, for any composition.
 * 2. The composition over all steps is a convolution power, computed by a
 *    cyclic FFT over a window [lo, hi] of total loss chosen with Chernoff
 *    bounds so that P(S < lo) and P(S > hi) are each <= PLD_TAIL. Mass
 *    outside the window is folded into it (never lost); both tail bounds
 *    are added to delta.
 * 3. delta(eps) is evaluated exactly on the composed grid, with a further
 *    PLD_SLACK for floating-point error, and eps is the smallest value with
 *    max(delta_remove, delta_add) <= delta.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy_int.h"
#include "privfl/accountant.h"

#define PLD_DEFAULT_H  1e-4
#define PLD_MIN_H      1e-6
#define PLD_BIAS       0.02  /* default h keeps steps * h below this */
#define PLD_TAIL       1e-15 /* Chernoff tail bound per side */
#define PLD_STEP_Z     9.0   /* per-step truncation at 9 sigma */
#define PLD_SLACK      1e-12 /* floating-point allowance on delta */
#define PLD_MAX_BINS   (1u << 21)
#define PLD_MAX_LOG2N  20
#define PLD_MAX_COARSE 24

struct cx {
	double re;
	double im;
};

struct pld_step {
	long k_lo;  /* loss of p[0] is k_lo * h */
	size_t m;   /* bins */
	double *p;  /* masses */
	double inf; /* mass at +infinity */
	uint64_t t; /* compositions */
};

/* Standard normal upper tail. */
static double
qbar(double z)
{
	return 0.5 * erfc(z / PFL_SQRT2);
}

/* log(e^l - (1 - q)) / defined for e^l > 1 - q; -inf otherwise. */
static double
log_el_minus(double l, double q)
{
	double v;

	if (l > 0)
		return l + log1p(-(1.0 - q) * exp(-l));
	v = expm1(l) + q;
	return v > 0 ? log(v) : -INFINITY;
}

/* P(L > l) for one step; add = 0: remove adjacency, 1: add adjacency. */
static double
loss_sf(int add, double q, double s, double l)
{
	double lg = log_el_minus(add ? -l : l, q), x;

	if (lg == -INFINITY)
		return add ? 0.0 : 1.0;
	x = s * s * (lg - log(q)) + 0.5;
	if (add)
		return qbar(-x / s); /* P(X < x), X ~ N(0, s^2) */
	return (1.0 - q) * qbar(x / s) + q * qbar((x - 1.0) / s);
}

/* The privacy loss at x (remove: x ~ P; add: x ~ N(0, s^2)). */
static double
loss_at(int add, double q, double s, double x)
{
	double a = (2.0 * x - 1.0) / (2.0 * s * s), l;

	/* log(1 - q + q e^a) */
	if (a > 0)
		l = a + log(q) + log1p((1.0 - q) * exp(-a) / q);
	else
		l = log1p(q * expm1(a));
	return add ? -l : l;
}

static void
step_free(struct pld_step *st)
{
	free(st->p);
	st->p = NULL;
}

/* Discretize one step on grid h; -1 if it would need too many bins. */
static int
step_make(int add, double q, double s, double h, struct pld_step *st)
{
	double x_lo = add ? PLD_STEP_Z * s : -PLD_STEP_Z * s;
	double x_hi = add ? -PLD_STEP_Z * s : 1.0 + PLD_STEP_Z * s;
	double l_lo = loss_at(add, q, s, x_lo), l_hi = loss_at(add, q, s, x_hi);
	double k_lo = floor(l_lo / h), k_hi = ceil(l_hi / h), prev;

	if (!(k_hi - k_lo < PLD_MAX_BINS))
		return -1;
	st->k_lo = (long)k_lo;
	st->m = (size_t)(k_hi - k_lo) + 1;
	if ((st->p = malloc(st->m * sizeof(double))) == NULL)
		return -2;
	prev = loss_sf(add, q, s, k_lo * h);
	st->p[0] = 1.0 - prev;
	for (size_t i = 1; i < st->m; i++) {
		double g = loss_sf(add, q, s, (k_lo + (double)i) * h);
		st->p[i] = prev - g > 0 ? prev - g : 0.0;
		prev = g;
	}
	st->inf = prev;
	return 0;
}

/*
 * log E[e^(t L)] over the finite part of one step, t != 0. The terms are
 * formed by repeated multiplication by e^(-|t| h) from the largest
 * exponent down, so one exp per call.
 */
static double
step_log_mgf(const struct pld_step *st, double h, double t)
{
	double f = exp(-fabs(t) * h), w = 1.0, sum = 0.0, top;
	size_t m = st->m;

	if (t > 0) {
		top = t * (st->k_lo + (double)(m - 1)) * h;
		for (size_t i = m; i-- > 0; w *= f)
			sum += st->p[i] * w;
	} else {
		top = t * (double)st->k_lo * h;
		for (size_t i = 0; i < m; i++, w *= f)
			sum += st->p[i] * w;
	}
	return sum > 0 ? top + log(sum) : -INFINITY;
}

/* Chernoff window [*lo, *hi] (in loss units) for the composition. */
static void
window(const struct pld_step *st, size_t n, double h, double *lo, double *hi)
{
	double best_hi = INFINITY, best_lo = -INFINITY;

	for (int k = -6; k <= 16; k++) {
		double t = ldexp(1.0, k / 2) * (k % 2 ? 1.41421356 : 1.0);
		double mu = 0.0, ml = 0.0;
		for (size_t c = 0; c < n; c++) {
			mu += (double)st[c].t * step_log_mgf(&st[c], h, t);
			ml += (double)st[c].t * step_log_mgf(&st[c], h, -t);
		}
		if (isfinite(mu))
			best_hi = fmin(best_hi, (mu - log(PLD_TAIL)) / t);
		if (isfinite(ml))
			best_lo = fmax(best_lo, (log(PLD_TAIL) - ml) / t);
	}
	*lo = best_lo;
	*hi = best_hi;
}

/* In-place radix-2 FFT of a[0..n), n a power of two; sign -1 or +1. */
static int
fft(struct cx *a, size_t n, int sign)
{
	struct cx *w = malloc((n / 2 + 1) * sizeof(*w));

	if (w == NULL)
		return -1;
	for (size_t k = 0; k < n / 2; k++) {
		double ang = sign * 2.0 * PFL_PI * (double)k / (double)n;
		w[k].re = cos(ang);
		w[k].im = sin(ang);
	}
	for (size_t i = 1, j = 0; i < n; i++) {
		size_t bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			struct cx t = a[i];
			a[i] = a[j];
			a[j] = t;
		}
	}
	for (size_t len = 2; len <= n; len <<= 1) {
		size_t half = len / 2, stride = n / len;
		for (size_t i = 0; i < n; i += len) {
			for (size_t k = 0; k < half; k++) {
				struct cx t = w[k * stride], u = a[i + k];
				struct cx v = a[i + k + half];
				double vr = v.re * t.re - v.im * t.im;
				double vi = v.re * t.im + v.im * t.re;
				a[i + k].re = u.re + vr;
				a[i + k].im = u.im + vi;
				a[i + k + half].re = u.re - vr;
				a[i + k + half].im = u.im - vi;
			}
		}
	}
	free(w);
	return 0;
}

static struct cx
cx_mul(struct cx a, struct cx b)
{
	struct cx r = {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};

	return r;
}

static struct cx
cpow_u64(struct cx z, uint64_t e)
{
	struct cx r = {1.0, 0.0};

	while (e > 0) {
		if (e & 1)
			r = cx_mul(r, z);
		z = cx_mul(z, z);
		e >>= 1;
	}
	return r;
}

static size_t
mod_index(long k, size_t n)
{
	long r = k % (long)n;

	return (size_t)(r < 0 ? r + (long)n : r);
}

/* eps for one adjacency given the composed pmf on [w0, w0 + n) * h. */
static double
solve_eps(const double *pmf, long w0, size_t n, double h, double budget)
{
	size_t j0 = 0, lo, hi;
	long double psum = 0, esum = 0;
	long double *P, *E;
	double eps;

	while (j0 < n && (w0 + (double)j0) * h <= 0.0)
		j0++;
	if (budget <= 0)
		return INFINITY;
	if (j0 == n)
		return 0.0;
	P = malloc((n - j0 + 1) * sizeof(*P));
	E = malloc((n - j0 + 1) * sizeof(*E));
	if (P == NULL || E == NULL) {
		free(P);
		free(E);
		return NAN;
	}
	/* P[i], E[i]: sums over grid points j0 + i .. n-1 of p, p e^-l */
	P[n - j0] = E[n - j0] = 0;
	for (size_t i = n; i-- > j0;) {
		psum += pmf[i];
		esum += pmf[i] * expl(-(long double)((w0 + (double)i) * h));
		P[i - j0] = psum;
		E[i - j0] = esum;
	}
	/* delta(0) = P[0] - E[0] */
	if ((double)(P[0] - E[0]) <= budget) {
		free(P);
		free(E);
		return 0.0;
	}
	/* smallest grid index j with delta(l_j) <= budget */
	lo = 0;
	hi = n - j0 - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		double l = (w0 + (double)(j0 + mid)) * h;
		long double d = P[mid + 1] - expl((long double)l) * E[mid + 1];
		if ((double)d <= budget)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* on (l_{lo-1}, l_lo] delta(eps) = P[lo] - e^eps E[lo] */
	eps = (double)logl((P[lo] - budget) / E[lo]);
	if (lo > 0)
		eps = fmax(eps, (w0 + (double)(j0 + lo - 1)) * h);
	else
		eps = fmax(eps, 0.0);
	eps = fmin(eps, (w0 + (double)(j0 + lo)) * h);
	free(P);
	free(E);
	return eps;
}

/*
 * eps for one adjacency and grid h; returns 1 if the grid is too fine for
 * the memory limits (retry coarser), 0 on success, -1 on no memory.
 */
static int
pld_one(int add, const double *q, const double *sigma, const uint64_t *steps,
        size_t n, double delta, double h, double *eps)
{
	struct pld_step *st = calloc(n, sizeof(*st));
	struct cx *acc = NULL, *tmp = NULL;
	double *pmf = NULL, lo, hi, log_fin = 0.0, budget;
	size_t nn = 1;
	long w0;
	int rc = -1, lg = 0;

	if (st == NULL)
		return -1;
	for (size_t c = 0; c < n; c++) {
		int r = step_make(add, q[c], sigma[c], h, &st[c]);
		st[c].t = steps[c];
		if (r != 0) {
			rc = r == -1 ? 1 : -1;
			goto out;
		}
		log_fin += (double)steps[c] * log1p(-st[c].inf);
	}
	window(st, n, h, &lo, &hi);
	if (!isfinite(lo) || !isfinite(hi) || (hi - lo) / h > ldexp(1, 30)) {
		rc = 1;
		goto out;
	}
	w0 = (long)floor(lo / h);
	while (nn < (size_t)(ceil(hi / h) - (double)w0 + 1) &&
	       lg <= PLD_MAX_LOG2N)
		nn <<= 1, lg++;
	if (lg > PLD_MAX_LOG2N) {
		rc = 1;
		goto out;
	}
	acc = malloc(nn * sizeof(*acc));
	tmp = malloc(nn * sizeof(*tmp));
	pmf = malloc(nn * sizeof(*pmf));
	if (acc == NULL || tmp == NULL || pmf == NULL)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		acc[i].re = 1.0;
		acc[i].im = 0.0;
	}
	for (size_t c = 0; c < n; c++) {
		memset(tmp, 0, nn * sizeof(*tmp));
		for (size_t i = 0; i < st[c].m; i++)
			tmp[mod_index(st[c].k_lo + (long)i, nn)].re +=
			        st[c].p[i];
		if (fft(tmp, nn, -1) != 0)
			goto out;
		for (size_t i = 0; i < nn; i++)
			acc[i] = cx_mul(acc[i], cpow_u64(tmp[i], st[c].t));
	}
	if (fft(acc, nn, +1) != 0)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		double v = acc[mod_index(w0 + (long)i, nn)].re / (double)nn;
		pmf[i] = v > 0 ? v : 0.0;
	}
	budget = delta - (-expm1(log_fin)) - 2 * PLD_TAIL - PLD_SLACK;
	*eps = solve_eps(pmf, w0, nn, h, budget);
	rc = isnan(*eps) ? -1 : 0;
out:
	for (size_t c = 0; c < n; c++)
		step_free(&st[c]);
	free(st);
	free(acc);
	free(tmp);
	free(pmf);
	return rc;
}

/* eps for the charges with q > 0 and steps > 0 (at least one). */
static pfl_err
pld_run(const double *q, const double *sigma, const uint64_t *steps, size_t n,
        double delta, double h, double *eps)
{
	double e[2];

	for (int add = 0; add < 2; add++) {
		int rc = 1;
		for (int tries = 0; rc == 1 && tries < PLD_MAX_COARSE;
		     tries++) {
			rc = pld_one(add, q, sigma, steps, n, delta, h,
			             &e[add]);
			if (rc == 1)
				h *= 2;
		}
		if (rc == 1)
			e[add] = INFINITY;
		else if (rc != 0)
			return PFL_ERR_NOMEM;
	}
	*eps = fmax(e[0], e[1]);
	return PFL_OK;
}

pfl_err
pfl_pld_epsilon(const double *q, const double *sigma, const uint64_t *steps,
                size_t n, double delta, double interval, double *eps)
{
	double h = interval, *fq, *fs, total = 0.0;
	uint64_t *ft;
	size_t used = 0;
	pfl_err err = PFL_ERR_NOMEM;

	if ((n > 0 && (q == NULL || sigma == NULL || steps == NULL)) ||
	    eps == NULL || !(delta > 0.0 && delta < 1.0) || !(interval >= 0) ||
	    !isfinite(interval) || n > PFL_ACCT_MAX_CHARGES)
		return PFL_ERR_INVAL;
	for (size_t c = 0; c < n; c++)
		if (!(q[c] >= 0.0 && q[c] <= 1.0) ||
		    !(sigma[c] >= PFL_ACCT_MIN_SIGMA &&
		      sigma[c] <= PFL_ACCT_MAX_SIGMA) ||
		    steps[c] > PFL_ACCT_MAX_STEPS)
			return PFL_ERR_INVAL;
	fq = malloc((n + 1) * sizeof(*fq));
	fs = malloc((n + 1) * sizeof(*fs));
	ft = malloc((n + 1) * sizeof(*ft));
	if (fq != NULL && fs != NULL && ft != NULL) {
		for (size_t c = 0; c < n; c++) {
			if (q[c] > 0.0 && steps[c] > 0) {
				fq[used] = q[c];
				fs[used] = sigma[c];
				ft[used++] = steps[c];
			}
		}
		for (size_t c = 0; c < used; c++)
			total += (double)ft[c];
		/* rounding each step's loss up by < h biases the sum by up to
		 * steps * h: by default pick h so that this stays small */
		if (!(interval > 0))
			h = fmax(PLD_MIN_H,
			         fmin(PLD_DEFAULT_H, PLD_BIAS / total));
		if (used == 0) {
			*eps = 0.0;
			err = PFL_OK;
		} else
			err = pld_run(fq, fs, ft, used, delta, h, eps);
	}
	free(fq);
	free(fs);
	free(ft);
	return err;
}
