/*
 * SecAgg server, UNMASK phase: reconstruct the seeds that the survivors'
 * shares reveal (self seeds of survivors, pairwise keys of dropped
 * clients) and remove their masks from the accumulated sum.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/prg.h"
#include "privfl/shamir.h"
#include "secagg_server_int.h"

static const uint8_t *
find_rec(const uint8_t *recs, uint32_t n, uint32_t id)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t v = pfli_le32_get(
		        recs + (size_t)mid * PFL_SA_UNMASK_REC_BYTES);

		if (v < id)
			lo = mid + 1;
		else if (v > id)
			hi = mid;
		else
			return recs + (size_t)mid * PFL_SA_UNMASK_REC_BYTES + 4;
	}
	return NULL;
}

struct unmask_ws {
	uint32_t *xs, *cache_xs;
	uint32_t ncache;
	uint8_t (*shares)[PFL_SHAMIR_SHARE_BYTES]; /* sodium_malloc */
	uint8_t (*coef)[PFL_SHAMIR_COEF_BYTES];
	uint8_t (*secrets)[SA_KEY]; /* n, sodium_malloc */
	struct pfli_sa_seed *seeds; /* sodium_malloc */
	size_t nseeds;
};

static int
try_holder(const struct pfl_sa_server *s, struct unmask_ws *w, uint32_t u,
           uint32_t h, uint32_t *m)
{
	const struct sa_srv_client *c = &s->cl[h - 1];
	const uint8_t *sh;

	if (*m >= pfl_sa_threshold(&s->p, deg(s, u)) ||
	    !has(s, h, PFL_SA_UNMASK))
		return 0;
	if ((sh = find_rec(c->unmask, c->nunmask, u)) == NULL)
		return 0;
	w->xs[*m] = h;
	memcpy(w->shares[*m], sh, PFL_SHAMIR_SHARE_BYTES);
	(*m)++;
	return 1;
}

/* Reconstruct the secret of u (b_u or s_sk_u) from the first t holders. */
static pfl_err
reconstruct(const struct pfl_sa_server *s, struct unmask_ws *w, uint32_t u)
{
	const uint32_t *nb = nbrs(s, u);
	uint32_t m = 0, i = 0, d = deg(s, u);
	uint32_t t = pfl_sa_threshold(&s->p, d);
	pfl_err err;

	for (; i < d && nb[i] < u; i++)
		try_holder(s, w, u, nb[i], &m);
	try_holder(s, w, u, u, &m);
	for (; i < d; i++)
		try_holder(s, w, u, nb[i], &m);
	if (m < t)
		return PFL_ERR_ABORTED;
	if (w->ncache != t || memcmp(w->cache_xs, w->xs, t * 4) != 0) {
		if ((err = pfl_shamir_lagrange(w->xs, t, w->coef)) != PFL_OK)
			return err;
		memcpy(w->cache_xs, w->xs, t * 4);
		w->ncache = t;
	}
	return pfl_shamir_combine((const uint8_t(*)[32])w->coef,
	                          (const uint8_t(*)[64])w->shares, t,
	                          w->secrets[u - 1]);
}

/* Seeds to remove: -PRG(b_u) for u in U3; for u dropped after SHARE, the
 * pairwise masks its surviving neighbours added. */
static pfl_err
collect_seeds(const struct pfl_sa_server *s, struct unmask_ws *w)
{
	uint8_t pk[SA_KEY];
	size_t ns = 0;
	pfl_err err;

	for (uint32_t u = 1; u <= s->p.n; u++) {
		const uint32_t *nb = nbrs(s, u);

		if (!has(s, u, PFL_SA_SHARE))
			continue;
		if (has(s, u, PFL_SA_MASKED)) {
			memcpy(w->seeds[ns].seed, w->secrets[u - 1], SA_KEY);
			w->seeds[ns++].sign = -1;
			continue;
		}
		/* the reconstructed key must be the advertised one */
		if (crypto_scalarmult_base(pk, w->secrets[u - 1]) != 0 ||
		    sodium_memcmp(pk, s->cl[u - 1].s_pk, SA_KEY) != 0)
			return PFL_ERR_CRYPTO;
		for (uint32_t i = 0; i < deg(s, u); i++) {
			uint32_t v = nb[i];

			if (!has(s, v, PFL_SA_MASKED))
				continue;
			err = pfli_sa_pair_seed(
			        w->seeds[ns].seed, w->secrets[u - 1],
			        s->cl[v - 1].s_pk, s->tctx, u, v);
			if (err != PFL_OK)
				return err;
			/* v added +PRG if v < u, -PRG if v > u */
			w->seeds[ns++].sign = v < u ? -1 : 1;
		}
	}
	w->nseeds = ns;
	return PFL_OK;
}

static size_t
count_seeds(const struct pfl_sa_server *s)
{
	size_t ns = 0;

	for (uint32_t u = 1; u <= s->p.n; u++) {
		if (!has(s, u, PFL_SA_SHARE))
			continue;
		ns += has(s, u, PFL_SA_MASKED)
		              ? 1
		              : count_nbrs_with(s, u, PFL_SA_MASKED);
	}
	return ns;
}

static void
ws_free(struct unmask_ws *w)
{
	free(w->xs);
	free(w->cache_xs);
	free(w->coef);
	sodium_free(w->shares);
	sodium_free(w->secrets);
	sodium_free(w->seeds);
}

pfl_err
pfli_sa_server_unmask(struct pfl_sa_server *s)
{
	struct unmask_ws w = {0};
	size_t nseeds = count_seeds(s);
	pfl_err err = PFL_ERR_NOMEM;

	w.xs = calloc(s->tmax, 4);
	w.cache_xs = calloc(s->tmax, 4);
	w.coef = calloc(s->tmax, PFL_SHAMIR_COEF_BYTES);
	w.shares = sodium_allocarray(s->tmax, PFL_SHAMIR_SHARE_BYTES);
	w.secrets = sodium_allocarray(s->p.n, SA_KEY);
	w.seeds = sodium_allocarray(nseeds ? nseeds : 1, sizeof(*w.seeds));
	if (!w.xs || !w.cache_xs || !w.coef || !w.shares || !w.secrets ||
	    !w.seeds)
		goto out;
	/* every secret first: nothing is unmasked unless all are there */
	for (uint32_t u = 1; u <= s->p.n; u++) {
		if (has(s, u, PFL_SA_SHARE) &&
		    (err = reconstruct(s, &w, u)) != PFL_OK)
			goto out;
	}
	if ((err = collect_seeds(s, &w)) != PFL_OK)
		goto out;
	for (size_t off = 0; off < s->p.dim; off += SA_BLOCK_WORDS) {
		size_t m = s->p.dim - off < SA_BLOCK_WORDS ? s->p.dim - off
		                                           : SA_BLOCK_WORDS;

		pfli_sa_apply_block(s->acc + off, m, off, w.seeds, w.nseeds);
	}
	err = PFL_OK;
out:
	ws_free(&w);
	return err;
}
