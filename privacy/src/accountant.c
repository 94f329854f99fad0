/* The accountant object: a list of charges, its RDP sum, save and load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privacy_int.h"
#include "privfl/accountant.h"

#define ACCT_MAGIC   "PFLACCT\0"
#define ACCT_VERSION 1u
#define ACCT_HDR     (8 + 4 + 4 + 4)
#define ACCT_REC     (8 + 8 + 8)
#define ACCT_SUM     16

struct pfl_charge {
	double q;
	double sigma;
	uint64_t steps;
};

struct pfl_accountant {
	enum pfl_acct_method method;
	struct pfl_charge *ch;
	size_t n;
	size_t cap;
	uint64_t steps;
	double rdp[PFL_RDP_N_ORDERS]; /* composed RDP of all charges */
};

pfl_err
pfl_accountant_new(enum pfl_acct_method method, struct pfl_accountant **out)
{
	struct pfl_accountant *a;

	if (out == NULL || (method != PFL_ACCT_RDP && method != PFL_ACCT_PLD))
		return PFL_ERR_INVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PFL_ERR_NOMEM;
	a->method = method;
	*out = a;
	return PFL_OK;
}

void
pfl_accountant_free(struct pfl_accountant *a)
{
	if (a == NULL)
		return;
	free(a->ch);
	free(a);
}

enum pfl_acct_method
pfl_accountant_method(const struct pfl_accountant *a)
{
	return a->method;
}

uint64_t
pfl_accountant_steps(const struct pfl_accountant *a)
{
	return a->steps;
}

static int
charge_valid(double q, double sigma)
{
	return q >= 0.0 && q <= 1.0 && sigma >= PFL_ACCT_MIN_SIGMA &&
	       sigma <= PFL_ACCT_MAX_SIGMA;
}

/* rdp_out[i] = base[i] + steps * rdp(q, sigma)[i] */
static void
rdp_add(const double *base, double q, double sigma, uint64_t steps,
        double *rdp_out)
{
	double one[PFL_RDP_N_ORDERS];

	pfl_rdp_vector(q, sigma, one);
	for (size_t i = 0; i < PFL_RDP_N_ORDERS; i++)
		rdp_out[i] = base[i] + (double)steps * one[i];
}

pfl_err
pfl_accountant_charge(struct pfl_accountant *a, double q, double sigma,
                      uint64_t steps)
{
	struct pfl_charge *last;

	if (a == NULL || !charge_valid(q, sigma))
		return PFL_ERR_INVAL;
	if (steps == 0 || q == 0.0)
		return PFL_OK;
	if (steps > PFL_ACCT_MAX_STEPS || a->steps > PFL_ACCT_MAX_STEPS - steps)
		return PFL_ERR_TOOBIG;
	last = a->n > 0 ? &a->ch[a->n - 1] : NULL;
	if (last == NULL || last->q != q || last->sigma != sigma) {
		if (a->n >= PFL_ACCT_MAX_CHARGES)
			return PFL_ERR_TOOBIG;
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			struct pfl_charge *p = realloc(a->ch, cap * sizeof(*p));
			if (p == NULL)
				return PFL_ERR_NOMEM;
			a->ch = p;
			a->cap = cap;
		}
		last = &a->ch[a->n++];
		last->q = q;
		last->sigma = sigma;
		last->steps = 0;
	}
	last->steps += steps;
	a->steps += steps;
	rdp_add(a->rdp, q, sigma, steps, a->rdp);
	return PFL_OK;
}

/*
 * sigma rounded DOWN to 3 significant digits: less noise is a
 * conservative charge, and it lets PLD merge the many slightly different
 * sigmas of distributed rounds (one FFT per distinct pair).
 */
static double
sigma_down3(double s)
{
	double p = pow(10.0, floor(log10(s)) - 2), r = floor(s / p) * p;

	return r > s ? s : r; /* guard against rounding up */
}

static int
charge_cmp(const void *x, const void *y)
{
	const struct pfl_charge *a = x, *b = y;

	if (a->q != b->q)
		return a->q < b->q ? -1 : 1;
	if (a->sigma != b->sigma)
		return a->sigma < b->sigma ? -1 : 1;
	return 0;
}

/* PLD over the charges plus an optional extra one. */
static pfl_err
pld_eps(const struct pfl_accountant *a, const struct pfl_charge *extra,
        double delta, double *eps)
{
	size_t n = a->n + (extra != NULL ? 1 : 0), m = 0;
	struct pfl_charge *c;
	double *q, *s;
	uint64_t *t;
	pfl_err err = PFL_ERR_NOMEM;

	if (n == 0) {
		*eps = 0.0;
		return PFL_OK;
	}
	c = malloc(n * sizeof(*c));
	q = malloc(n * sizeof(*q));
	s = malloc(n * sizeof(*s));
	t = malloc(n * sizeof(*t));
	if (c != NULL && q != NULL && s != NULL && t != NULL) {
		for (size_t i = 0; i < a->n; i++)
			c[i] = a->ch[i];
		if (extra != NULL)
			c[n - 1] = *extra;
		for (size_t i = 0; i < n; i++)
			c[i].sigma = fmax(sigma_down3(c[i].sigma),
			                  PFL_ACCT_MIN_SIGMA);
		qsort(c, n, sizeof(*c), charge_cmp);
		for (size_t i = 0; i < n; i++) {
			if (m > 0 && q[m - 1] == c[i].q &&
			    s[m - 1] == c[i].sigma) {
				t[m - 1] += c[i].steps;
				continue;
			}
			q[m] = c[i].q;
			s[m] = c[i].sigma;
			t[m++] = c[i].steps;
		}
		err = pfl_pld_epsilon(q, s, t, m, delta, 0.0, eps);
	}
	free(c);
	free(q);
	free(s);
	free(t);
	return err;
}

pfl_err
pfl_accountant_epsilon(const struct pfl_accountant *a, double delta,
                       double *eps, double *order)
{
	double e, o = NAN;
	pfl_err err;

	if (a == NULL || eps == NULL || !(delta > 0.0 && delta < 1.0))
		return PFL_ERR_INVAL;
	if (a->n == 0) {
		e = 0.0;
		err = PFL_OK;
	} else
		err = pfl_rdp_to_epsilon(pfl_rdp_orders(), a->rdp,
		                         PFL_RDP_N_ORDERS, delta, &e, &o);
	if (err == PFL_OK && a->method == PFL_ACCT_PLD) {
		double p;
		err = pld_eps(a, NULL, delta, &p);
		e = fmin(e, p); /* both are upper bounds */
		o = NAN;
	}
	if (err != PFL_OK)
		return err;
	*eps = e;
	if (order != NULL)
		*order = o;
	return PFL_OK;
}

pfl_err
pfl_accountant_epsilon_if(const struct pfl_accountant *a, double q,
                          double sigma, uint64_t steps, double delta,
                          double *eps)
{
	double rdp[PFL_RDP_N_ORDERS], e, p;
	struct pfl_charge extra = {q, sigma, steps};
	pfl_err err;

	if (a == NULL || eps == NULL || !charge_valid(q, sigma) ||
	    !(delta > 0.0 && delta < 1.0))
		return PFL_ERR_INVAL;
	if (steps > PFL_ACCT_MAX_STEPS || a->steps > PFL_ACCT_MAX_STEPS - steps)
		return PFL_ERR_TOOBIG;
	if (steps == 0 || q == 0.0)
		return pfl_accountant_epsilon(a, delta, eps, NULL);
	rdp_add(a->rdp, q, sigma, steps, rdp);
	err = pfl_rdp_to_epsilon(pfl_rdp_orders(), rdp, PFL_RDP_N_ORDERS, delta,
	                         &e, NULL);
	if (err == PFL_OK && a->method == PFL_ACCT_PLD) {
		err = pld_eps(a, &extra, delta, &p);
		e = fmin(e, p); /* both are upper bounds */
	}
	if (err == PFL_OK)
		*eps = e;
	return err;
}

pfl_err
pfl_accountant_check_budget(const struct pfl_accountant *a, double q,
                            double sigma, uint64_t steps, double delta,
                            double budget, double *eps)
{
	double e;
	pfl_err err;

	if (eps == NULL || !(budget > 0.0))
		return PFL_ERR_INVAL;
	err = pfl_accountant_epsilon_if(a, q, sigma, steps, delta, &e);
	if (err != PFL_OK)
		return err;
	*eps = e;
	return e <= budget ? PFL_OK : PFL_ERR_BUDGET;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

pfl_err
pfl_accountant_save(const struct pfl_accountant *a, struct pfl_buf *out)
{
	size_t len = ACCT_HDR + a->n * ACCT_REC + ACCT_SUM, start;
	uint8_t *p;
	pfl_err err;

	if ((err = pfl_buf_reserve(out, len)) != PFL_OK)
		return err;
	start = out->len;
	p = out->data + start;
	memcpy(p, ACCT_MAGIC, 8);
	put_u32(p + 8, ACCT_VERSION);
	put_u32(p + 12, (uint32_t)a->method);
	put_u32(p + 16, (uint32_t)a->n);
	for (size_t i = 0; i < a->n; i++) {
		uint8_t *r = p + ACCT_HDR + i * ACCT_REC;
		put_u64(r, dbits(a->ch[i].q));
		put_u64(r + 8, dbits(a->ch[i].sigma));
		put_u64(r + 16, a->ch[i].steps);
	}
	crypto_generichash(p + len - ACCT_SUM, ACCT_SUM, p, len - ACCT_SUM,
	                   NULL, 0);
	out->len += len;
	return PFL_OK;
}

pfl_err
pfl_accountant_load(const uint8_t *buf, size_t len, struct pfl_accountant **out)
{
	uint8_t sum[ACCT_SUM];
	struct pfl_accountant *a;
	uint32_t method, n;
	pfl_err err;

	if (buf == NULL || out == NULL || len < ACCT_HDR + ACCT_SUM)
		return PFL_ERR_FORMAT;
	if (memcmp(buf, ACCT_MAGIC, 8) != 0 || get_u32(buf + 8) != ACCT_VERSION)
		return PFL_ERR_FORMAT;
	method = get_u32(buf + 12);
	n = get_u32(buf + 16);
	if (method > PFL_ACCT_PLD || n > PFL_ACCT_MAX_CHARGES ||
	    len != ACCT_HDR + (size_t)n * ACCT_REC + ACCT_SUM)
		return PFL_ERR_FORMAT;
	crypto_generichash(sum, ACCT_SUM, buf, len - ACCT_SUM, NULL, 0);
	if (sodium_memcmp(sum, buf + len - ACCT_SUM, ACCT_SUM) != 0)
		return PFL_ERR_FORMAT;
	if ((err = pfl_accountant_new((enum pfl_acct_method)method, &a)))
		return err;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = buf + ACCT_HDR + (size_t)i * ACCT_REC;
		double q = bitsd(get_u64(r)), s = bitsd(get_u64(r + 8));
		uint64_t t = get_u64(r + 16);

		if (q == 0.0 || t == 0 ||
		    (err = pfl_accountant_charge(a, q, s, t)) != PFL_OK) {
			pfl_accountant_free(a);
			return err == PFL_ERR_NOMEM ? err : PFL_ERR_FORMAT;
		}
	}
	*out = a;
	return PFL_OK;
}
