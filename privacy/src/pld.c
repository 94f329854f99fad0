/*
 * Privacy loss distribution accountant for the Poisson-subsampled Gaussian
 * (Koskela et al. 2020; Doroshenko, Ghazi, Kamath, Kumar, Manurangsi,
 * "Connect the Dots", PETS 2022), pessimistic version:
 *
 * 1. For each adjacency (remove: P = (1-q)N(0,s^2) + qN(1,s^2) vs
 *    Q = N(0,s^2); add: the reverse), the hockey-stick divergence
 *    delta(eps) = P(L > eps) - e^eps Q(L > eps) of one step has a closed
 *    form because the loss L is monotone in x (step_delta). On the grid
 *    eps_k = k h covering the losses of x in [-Z s, 1 + Z s], the
 *    connect-the-dots PLD puts on each eps_k the mass that makes its
 *    delta curve equal the exact one at every grid point and linear in
 *    e^eps between them. The exact curve is convex in e^eps, so the
 *    chords lie above it: the discrete PLD dominates the step. The loss
 *    above the grid goes to +infinity with mass delta(eps_top) (tail
 *    truncation whose mass goes to delta); the loss below it sits on the
 *    lowest point.
 * 2. The composition over all steps is a convolution power, computed by a
 *    cyclic FFT (a step's transform raised to its count by repeated
 *    squaring, charges multiplied) over a window [lo, hi] of total loss
 *    chosen with Chernoff bounds so that P(S < lo) and P(S > hi) are each
 *    <= PLD_TAIL. Mass outside the window is folded into it (never lost);
 *    both tail bounds are added to delta.
 * 3. delta(eps) is evaluated exactly on the composed grid, with a further
 *    PLD_SLACK for floating-point error, and eps is the smallest value with
 *    max(delta_remove, delta_add) <= delta.
 * 4. The interval h: refining the grid (h -> h/2 keeps every point) can
 *    only lower the result, and the error of connect-the-dots falls at
 *    least linearly in h (about quadratically in practice), so
 *    eps(h/2) - exact <= eps(h) - eps(h/2). With interval 0, h is halved
 *    from eps_rdp / PLD_START_BINS until that difference is at most
 *    PLD_REL_TOL (0.1%) of eps(h/2), or at most PLD_REL_TOL_MAX (0.5%)
 *    when the next grid would exceed 2^PLD_CHEAP_LOG2N points; eps(h/2)
 *    is returned and the difference is its error bound.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy_int.h"
#include "privfl/accountant.h"

#define PLD_MIN_H       1e-7   /* finest adaptive interval */
#define PLD_MAX_H       1.0    /* coarsest starting interval */
#define PLD_START_BINS  4096.0 /* adaptive start: h = eps_rdp / this */
#define PLD_REL_TOL     1e-3   /* adaptive target for the error bound */
#define PLD_REL_TOL_MAX 5e-3   /* below this, refine only on small grids */
#define PLD_CHEAP_LOG2N 18
#define PLD_TAIL        1e-15 /* Chernoff tail bound per side */
#define PLD_STEP_Z      10.0  /* per-step truncation at 10 sigma */
#define PLD_SLACK       1e-12 /* floating-point allowance on delta */
#define PLD_MAX_BINS    (1u << 21)
#define PLD_MAX_LOG2N   20
#define PLD_MAX_COARSE  24

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

/* Standard normal lower tail. */
static double
phi_lo(double z)
{
	return 0.5 * erfc(-z / PFL_SQRT2);
}

/*
 * Hockey-stick divergence delta(eps) of one step, exact: add = 0 for the
 * remove adjacency, 1 for add. With xs the point where the loss crosses
 * eps and a = (2xs - 1) / (2 s^2), both are written without a difference
 * of O(1) terms:
 *   remove: q (Qbar((xs-1)/s) - e^a Qbar(xs/s)),  e^eps = 1 - q + q e^a
 *   add:    e^eps q (e^a Phi(xs/s) - Phi((xs-1)/s)), e^-eps = 1 - q + q e^a
 */
static double
step_delta(int add, double q, double s, double eps)
{
	double lg = log_el_minus(add ? -eps : eps, q), a, x, d;

	if (lg == -INFINITY)
		return add ? 0.0 : -expm1(eps);
	a = lg - log(q);
	x = s * s * a + 0.5;
	if (add)
		d = exp(eps) * q *
		    (exp(a) * phi_lo(x / s) - phi_lo((x - 1) / s));
	else
		d = q * (qbar((x - 1.0) / s) - exp(a) * qbar(x / s));
	return d > 0 ? d : 0.0;
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

/*
 * Connect-the-dots discretization of one step on grid h (Doroshenko et
 * al. 2022, Algorithm 1 with a fixed gap): with d_i = delta(eps_i) on the
 * grid eps_0 < ... < eps_{m-1},
 *   p_0 = 1 - d_0 + (d_1 - d_0) / (e^h - 1),
 *   p_i = ((d_{i+1} - d_i) - e^h (d_i - d_{i-1})) / (e^h - 1),
 *   p_{m-1} = (d_{m-1} - d_{m-2}) / (e^-h - 1),  inf = d_{m-1};
 * negative values (rounding) become 0. -1 if it would need too many
 * bins, -2 on no memory.
 */
static int
step_make(int add, double q, double s, double h, struct pld_step *st)
{
	double x_lo = add ? PLD_STEP_Z * s : -PLD_STEP_Z * s;
	double x_hi = add ? -PLD_STEP_Z * s : 1.0 + PLD_STEP_Z * s;
	double l_lo = loss_at(add, q, s, x_lo), l_hi = loss_at(add, q, s, x_hi);
	double k_lo = floor(l_lo / h), k_hi = ceil(l_hi / h), *d, em1, e;

	if (!(k_hi - k_lo < PLD_MAX_BINS))
		return -1;
	st->k_lo = (long)k_lo;
	st->m = (size_t)(k_hi - k_lo) + 1;
	if ((st->p = malloc(st->m * sizeof(double))) == NULL)
		return -2;
	if ((d = malloc(st->m * sizeof(double))) == NULL) {
		step_free(st);
		return -2;
	}
	for (size_t i = 0; i < st->m; i++) {
		d[i] = step_delta(add, q, s, (k_lo + (double)i) * h);
		if (i > 0 && d[i] > d[i - 1])
			d[i] = d[i - 1];
	}
	st->inf = d[st->m - 1];
	if (st->m == 1) {
		st->p[0] = 1.0 - d[0];
		free(d);
		return 0;
	}
	em1 = expm1(h);
	e = exp(h);
	st->p[0] = 1.0 - d[0] + (d[1] - d[0]) / em1;
	for (size_t i = 1; i + 1 < st->m; i++)
		st->p[i] = ((d[i + 1] - d[i]) - e * (d[i] - d[i - 1])) / em1;
	st->p[st->m - 1] = (d[st->m - 1] - d[st->m - 2]) / expm1(-h);
	for (size_t i = 0; i < st->m; i++)
		if (!(st->p[i] > 0))
			st->p[i] = 0.0;
	free(d);
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

/*
 * eps for one adjacency given the composed pmf on [w0, w0 + n) * h. With
 * P[i] the mass at grid points >= l_i and E[i] = sum_{j >= i} p_j
 * e^-(l_j - l_i) (relative to l_i, so that no exponential overflows
 * however large the losses), delta(eps) = P[i] - e^(eps - l_i) E[i] for
 * eps in (l_{i-1}, l_i].
 */
static double
solve_eps(const double *pmf, long w0, size_t n, double h, double budget)
{
	size_t j0 = 0, lo, hi;
	long double *P, *E, eh = expl(-(long double)h);
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
	P[n - j0] = E[n - j0] = 0;
	for (size_t i = n; i-- > j0;) {
		P[i - j0] = P[i - j0 + 1] + pmf[i];
		E[i - j0] = pmf[i] + eh * E[i - j0 + 1];
	}
	/* delta(0) = P[0] - e^-l_j0 E[0] */
	if ((double)(P[0] - expl(-(long double)((w0 + (double)j0) * h)) *
	                            E[0]) <= budget) {
		free(P);
		free(E);
		return 0.0;
	}
	/* smallest grid index j with delta(l_j) <= budget, where
	 * delta(l_j) = P[j+1] - e^-h E[j+1] */
	lo = 0;
	hi = n - j0 - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long double d = P[mid + 1] - eh * E[mid + 1];
		if ((double)d <= budget)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* on (l_{lo-1}, l_lo] delta(eps) = P[lo] - e^(eps - l_lo) E[lo] */
	eps = (double)logl((P[lo] - budget) / E[lo]) +
	      (w0 + (double)(j0 + lo)) * h;
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
 * eps for one adjacency and grid h: eps[0] with the window's tails and
 * the floating-point slack counted in delta (the answer), eps[1] without
 * them (how much they cost, for the error bound). Returns 1 if the grid
 * is too fine for the memory limits (retry coarser), 0 on success, -1 on
 * no memory.
 */
static int
pld_one(int add, const double *q, const double *sigma, const uint64_t *steps,
        size_t n, double delta, double h, int max_log2n, double *eps)
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
	while (nn < (size_t)(ceil(hi / h) - (double)w0 + 1) && lg <= max_log2n)
		nn <<= 1, lg++;
	if (lg > max_log2n) {
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
	budget = delta - (-expm1(log_fin));
	eps[0] = solve_eps(pmf, w0, nn, h, budget - 2 * PLD_TAIL - PLD_SLACK);
	eps[1] = solve_eps(pmf, w0, nn, h, budget);
	rc = isnan(eps[0]) || isnan(eps[1]) ? -1 : 0;
out:
	for (size_t c = 0; c < n; c++)
		step_free(&st[c]);
	free(st);
	free(acc);
	free(tmp);
	free(pmf);
	return rc;
}

/*
 * eps for the charges with q > 0 and steps > 0 (at least one) on grid h:
 * 0 on success, 1 if the grid is too fine for the memory limits, -1 on no
 * memory.
 */
static int
pld_run(const double *q, const double *sigma, const uint64_t *steps, size_t n,
        double delta, double h, int max_log2n, double *eps)
{
	double e[2][2];

	for (int add = 0; add < 2; add++) {
		int rc = pld_one(add, q, sigma, steps, n, delta, h, max_log2n,
		                 e[add]);
		if (rc != 0)
			return rc;
	}
	eps[0] = fmax(e[0][0], e[1][0]);
	eps[1] = fmax(e[0][1], e[1][1]);
	return 0;
}

/* The RDP epsilon of the charges: an upper bound that sets the scale of
 * the first grid. */
static double
rdp_scale(const double *q, const double *sigma, const uint64_t *steps, size_t n,
          double delta)
{
	double rdp[PFL_RDP_N_ORDERS] = {0}, one[PFL_RDP_N_ORDERS], e;

	for (size_t c = 0; c < n; c++) {
		pfl_rdp_vector(q[c], sigma[c], one);
		for (size_t i = 0; i < PFL_RDP_N_ORDERS; i++)
			rdp[i] += (double)steps[c] * one[i];
	}
	if (pfl_rdp_to_epsilon(pfl_rdp_orders(), rdp, PFL_RDP_N_ORDERS, delta,
	                       &e, NULL) != PFL_OK ||
	    !isfinite(e))
		return 1.0;
	return e;
}

/*
 * Halve h until eps(h) - eps(h/2) <= PLD_REL_TOL eps(h/2) (see 4. above);
 * once it is below PLD_REL_TOL_MAX, only grids of up to 2^PLD_CHEAP_LOG2N
 * points are tried.
 */
static pfl_err
pld_adaptive(const double *q, const double *sigma, const uint64_t *steps,
             size_t n, double delta, double *eps, double *err)
{
	double h = rdp_scale(q, sigma, steps, n, delta) / PLD_START_BINS;
	double e1[2], e2[2], diff = INFINITY;
	int rc;

	h = ldexp(1.0, (int)ceil(log2(fmin(PLD_MAX_H, fmax(PLD_MIN_H, h)))));
	while ((rc = pld_run(q, sigma, steps, n, delta, h, PLD_MAX_LOG2N,
	                     e1)) == 1 &&
	       h < PLD_MAX_H * 1024)
		h *= 2;
	if (rc != 0)
		return rc == 1 ? PFL_ERR_TOOBIG : PFL_ERR_NOMEM;
	if (e1[0] == 0.0) /* an upper bound of 0: exact */
		diff = 0.0;
	while (diff > 0.0 && h / 2 >= PLD_MIN_H) {
		int lim = diff <= PLD_REL_TOL_MAX * e1[0] ? PLD_CHEAP_LOG2N
		                                          : PLD_MAX_LOG2N;

		rc = pld_run(q, sigma, steps, n, delta, h / 2, lim, e2);
		if (rc == 1 || (rc == 0 && !isfinite(e2[0])))
			break;
		if (rc != 0)
			return PFL_ERR_NOMEM;
		h /= 2;
		/* e2 > e1 can only be rounding: keep the larger */
		diff = e2[0] < e1[0] ? e1[0] - e2[0] : 0.0;
		if (e2[0] < e1[0]) {
			e1[0] = e2[0];
			e1[1] = e2[1];
		}
		if (diff <= fmax(PLD_REL_TOL * e1[0], 1e-9))
			break;
	}
	*eps = e1[0];
	*err = diff + (e1[0] - e1[1]); /* grid, then tails and slack */
	return PFL_OK;
}

/* Copies the charges with q > 0 and steps > 0; *used gets their count. */
static pfl_err
charges_used(const double *q, const double *sigma, const uint64_t *steps,
             size_t n, double **fq, double **fs, uint64_t **ft, size_t *used)
{
	*fq = malloc((n + 1) * sizeof(**fq));
	*fs = malloc((n + 1) * sizeof(**fs));
	*ft = malloc((n + 1) * sizeof(**ft));
	*used = 0;
	if (*fq == NULL || *fs == NULL || *ft == NULL)
		return PFL_ERR_NOMEM;
	for (size_t c = 0; c < n; c++) {
		if (q[c] > 0.0 && steps[c] > 0) {
			(*fq)[*used] = q[c];
			(*fs)[*used] = sigma[c];
			(*ft)[(*used)++] = steps[c];
		}
	}
	return PFL_OK;
}

static int
args_valid(const double *q, const double *sigma, const uint64_t *steps,
           size_t n, double delta)
{
	if ((n > 0 && (q == NULL || sigma == NULL || steps == NULL)) ||
	    !(delta > 0.0 && delta < 1.0) || n > PFL_ACCT_MAX_CHARGES)
		return 0;
	for (size_t c = 0; c < n; c++)
		if (!(q[c] >= 0.0 && q[c] <= 1.0) ||
		    !(sigma[c] >= PFL_ACCT_MIN_SIGMA &&
		      sigma[c] <= PFL_ACCT_MAX_SIGMA) ||
		    steps[c] > PFL_ACCT_MAX_STEPS)
			return 0;
	return 1;
}

pfl_err
pfl_pld_epsilon_bound(const double *q, const double *sigma,
                      const uint64_t *steps, size_t n, double delta,
                      double interval, double *eps, double *err)
{
	double *fq = NULL, *fs = NULL, h = interval, e[2] = {0, 0}, b = 0.0;
	uint64_t *ft = NULL;
	size_t used = 0;
	pfl_err rc;
	int r = 1;

	if (eps == NULL || !args_valid(q, sigma, steps, n, delta) ||
	    !(interval >= 0) || !isfinite(interval))
		return PFL_ERR_INVAL;
	rc = charges_used(q, sigma, steps, n, &fq, &fs, &ft, &used);
	if (rc != PFL_OK || used == 0)
		goto out;
	if (interval == 0.0) {
		rc = pld_adaptive(fq, fs, ft, used, delta, &e[0], &b);
		goto out;
	}
	/* a given interval, doubled while the grid would be too large */
	for (int tries = 0; r == 1 && tries < PLD_MAX_COARSE; tries++, h *= 2)
		r = pld_run(fq, fs, ft, used, delta, h, PLD_MAX_LOG2N, e);
	b = NAN;
	rc = r == 0 ? PFL_OK : r == 1 ? PFL_ERR_TOOBIG : PFL_ERR_NOMEM;
out:
	if (rc == PFL_OK) {
		*eps = e[0];
		if (err != NULL)
			*err = b;
	}
	free(fq);
	free(fs);
	free(ft);
	return rc;
}

pfl_err
pfl_pld_epsilon(const double *q, const double *sigma, const uint64_t *steps,
                size_t n, double delta, double interval, double *eps)
{
	return pfl_pld_epsilon_bound(q, sigma, steps, n, delta, interval, eps,
	                             NULL);
}
