/*
 * The population: clients 0 .. N-1 exist only as indices. A client's
 * identity is derived from the run's secret and its index when it is
 * drawn, its data is a shard of the partition named by its index, and the
 * cohort is drawn here with the sampling the aggregator's accountant
 * charges (docs/SIMULATOR.md, "The population").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/log.h"
#include "sim_int.h"

pfl_err
pfli_pop_init(struct pfli_pop *p, const struct pfl_sim_config *c)
{
	uint8_t in[25];
	int64_t seed = c->agg.seed;
	pfl_err rv;

	memset(p, 0, sizeof(*p));
	p->n = (uint32_t)c->clients;
	if ((p->secret = sodium_malloc(PFLI_POP_SECRET_BYTES)) == NULL)
		return PFL_ERR_NOMEM;
	/* the run's secret: a function of --seed alone, so that a run's
	 * identities can be derived again (tests, --processes children) */
	memcpy(in, "privfl-sim-run-v1", 17);
	memcpy(in + 17, &seed, 8);
	crypto_generichash(p->secret, PFLI_POP_SECRET_BYTES, in, sizeof(in),
	                   NULL, 0);
	sodium_memzero(in, sizeof(in));
	if ((rv = pfl_csprng_new(NULL, &p->rng)) != PFL_OK) {
		pfli_pop_fini(p);
		return rv;
	}
	return PFL_OK;
}

void
pfli_pop_fini(struct pfli_pop *p)
{
	sodium_free(p->secret); /* wipes */
	pfl_csprng_free(p->rng);
	free(p->set);
	memset(p, 0, sizeof(*p));
}

void
pfli_pop_seed(const struct pfli_pop *p, uint32_t index, uint8_t seed[32])
{
	uint8_t in[12];

	memcpy(in, "simc", 4);
	in[4] = (uint8_t)index;
	in[5] = (uint8_t)(index >> 8);
	in[6] = (uint8_t)(index >> 16);
	in[7] = (uint8_t)(index >> 24);
	memset(in + 8, 0, 4);
	crypto_generichash(seed, 32, in, sizeof(in), p->secret,
	                   PFLI_POP_SECRET_BYTES);
}

pfl_err
pfli_pop_public_key(const struct pfli_pop *p, uint32_t index, uint8_t pk[32])
{
	uint8_t seed[32], sk[crypto_sign_SECRETKEYBYTES];
	int rc;

	pfli_pop_seed(p, index, seed);
	rc = crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seed, sizeof(seed));
	return rc == 0 ? PFL_OK : PFL_ERR_CRYPTO;
}

pfl_err
pfli_pop_identity(const struct pfli_pop *p, uint32_t index,
                  struct pfl_identity **out)
{
	uint8_t seed[32];
	pfl_err rv;

	pfli_pop_seed(p, index, seed);
	rv = pfl_identity_from_seed(seed, out);
	sodium_memzero(seed, sizeof(seed));
	return rv;
}

/* A set of indices (open addressing, 0xffffffff = empty) for Floyd. */
static pfl_err
set_reset(struct pfli_pop *p, uint32_t m)
{
	size_t cap = 16;

	while (cap < (size_t)m * 2)
		cap *= 2;
	if (cap > p->setcap) {
		uint32_t *s = realloc(p->set, cap * sizeof(*s));
		if (s == NULL)
			return PFL_ERR_NOMEM;
		p->set = s;
		p->setcap = cap;
	}
	memset(p->set, 0xff, p->setcap * sizeof(*p->set));
	return PFL_OK;
}

/* Insert v; false when it was there already. */
static bool
set_add(struct pfli_pop *p, uint32_t v)
{
	uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ULL;
	size_t j = (size_t)(h >> 20) & (p->setcap - 1);

	while (p->set[j] != UINT32_MAX) {
		if (p->set[j] == v)
			return false;
		j = (j + 1) & (p->setcap - 1);
	}
	p->set[j] = v;
	return true;
}

/*
 * Floyd's algorithm: a uniform m-subset of 0..n-1 in O(m). For j = n-m ..
 * n-1 take t uniform in 0..j; add t, or j when t is taken already.
 */
static uint32_t
draw_fixed(struct pfli_pop *p, uint32_t m, uint32_t *out, uint32_t cap)
{
	uint32_t k = 0;

	if (m > p->n)
		m = p->n;
	if (m > cap)
		m = cap;
	if (set_reset(p, m) != PFL_OK)
		return 0;
	for (uint64_t j = (uint64_t)p->n - m; j < p->n; j++) {
		uint32_t t = (uint32_t)pfl_csprng_below(p->rng, j + 1);
		if (!set_add(p, t)) {
			t = (uint32_t)j;
			set_add(p, t);
		}
		out[k++] = t;
	}
	return k;
}

/*
 * Poisson sampling in O(drawn): the gaps between drawn indices of
 * independent Bernoulli(q) trials are geometric, P(gap = g) = (1-q)^g q,
 * so gap = floor(log(U) / log(1 - q)) for U uniform in (0, 1].
 */
static uint32_t
draw_poisson(struct pfli_pop *p, double q, uint32_t *out, uint32_t cap)
{
	double l;
	uint64_t i = 0;
	uint32_t k = 0;

	if (!(q > 0))
		return 0;
	if (q >= 1) {
		for (; k < p->n && k < cap; k++)
			out[k] = k;
		return k;
	}
	l = log1p(-q);
	for (;;) {
		double u = 1.0 - pfl_csprng_uniform(p->rng); /* (0, 1] */
		double g = floor(log(u) / l);
		if (!(g < (double)p->n) || i + (uint64_t)g >= p->n || k >= cap)
			break;
		i += (uint64_t)g;
		out[k++] = (uint32_t)i;
		i++;
	}
	return k;
}

uint32_t
pfli_pop_draw(struct pfli_pop *p, double q, uint32_t size, uint32_t *out,
              uint32_t cap)
{
	return size > 0 ? draw_fixed(p, size, out, cap)
	                : draw_poisson(p, q, out, cap);
}
