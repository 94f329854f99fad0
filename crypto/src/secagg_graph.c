/*
 * SecAgg+ neighbourhoods: the Harary graph H(k, n) (each position joined to
 * the k/2 positions on either side, cyclically) with the clients placed on
 * the positions by a uniformly random permutation drawn from graph_seed.
 * Full SecAgg (and k = n - 1) is the complete graph.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_int.h"

struct graph_rng {
	uint8_t key[32];
	uint8_t block[64];
	uint32_t ic;
	unsigned pos;
};

static const uint8_t graph_nonce[12] = "privfl-graph";
static const uint8_t graph_pers[16] = "privfl-sa-graph";

static void
rng_init(struct graph_rng *r, const struct pfl_sa_params *p)
{
	/* key = BLAKE2b(graph_seed || round_ctx), personalised */
	uint8_t in[64];

	memcpy(in, p->graph_seed, 32);
	memcpy(in + 32, p->round_ctx, 32);
	crypto_generichash_blake2b_salt_personal(r->key, 32, in, sizeof(in),
	                                         NULL, 0, NULL, graph_pers);
	r->ic = 0;
	r->pos = 64;
}

static uint32_t
rng_u32(struct graph_rng *r)
{
	static const uint8_t zero[64];

	if (r->pos == 64) {
		crypto_stream_chacha20_ietf_xor_ic(
		        r->block, zero, 64, graph_nonce, r->ic++, r->key);
		r->pos = 0;
	}
	r->pos += 4;
	return pfli_le32_get(r->block + r->pos - 4);
}

/* uniform in [0, bound), bound >= 1, by rejection */
static uint32_t
rng_below(struct graph_rng *r, uint32_t bound)
{
	uint32_t lim = (uint32_t)(-bound) % bound, x;

	do {
		x = rng_u32(r);
	} while (x < lim);
	return x % bound;
}

/* perm[pos] = id (1..n) */
static uint32_t *
make_perm(const struct pfl_sa_params *p)
{
	struct graph_rng r;
	uint32_t *perm = malloc((size_t)p->n * sizeof(*perm)), i, j, tmp;

	if (perm == NULL)
		return NULL;
	for (i = 0; i < p->n; i++)
		perm[i] = i + 1;
	rng_init(&r, p);
	for (i = p->n - 1; i > 0; i--) {
		j = rng_below(&r, i + 1);
		tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	return perm;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int
is_complete(const struct pfl_sa_params *p)
{
	return p->mode == PFL_SA_FULL || p->k == p->n - 1;
}

static void
complete_row(uint32_t n, uint32_t id, uint32_t *row)
{
	uint32_t m = 0;

	for (uint32_t v = 1; v <= n; v++)
		if (v != id)
			row[m++] = v;
}

/* row of the node at position pos */
static void
harary_row(const struct pfl_sa_params *p, const uint32_t *perm, uint32_t pos,
           uint32_t *row)
{
	uint32_t half = p->k / 2, m = 0;

	for (uint32_t d = 1; d <= half; d++) {
		row[m++] = perm[(pos + d) % p->n];
		row[m++] = perm[(pos + p->n - d) % p->n];
	}
	qsort(row, p->k, sizeof(*row), cmp_u32);
}

pfl_err
pfli_sa_graph_build(const struct pfl_sa_params *p, uint32_t **adj)
{
	uint32_t *a, *perm;
	int ok = 1;
	size_t cells = pfl_mul_size(p->n, p->k, &ok);

	if (!ok || (a = malloc(pfl_mul_size(cells, sizeof(*a), &ok))) == NULL ||
	    !ok)
		return PFL_ERR_NOMEM;
	if (is_complete(p)) {
		for (uint32_t id = 1; id <= p->n; id++)
			complete_row(p->n, id, a + (size_t)(id - 1) * p->k);
		*adj = a;
		return PFL_OK;
	}
	if ((perm = make_perm(p)) == NULL) {
		free(a);
		return PFL_ERR_NOMEM;
	}
	for (uint32_t pos = 0; pos < p->n; pos++)
		harary_row(p, perm, pos, a + (size_t)(perm[pos] - 1) * p->k);
	free(perm);
	*adj = a;
	return PFL_OK;
}

pfl_err
pfl_sa_neighbours(const struct pfl_sa_params *p, uint32_t id, uint32_t *out,
                  uint32_t *count)
{
	uint32_t *perm, pos;

	if (out == NULL || count == NULL || pfl_sa_params_check(p) != PFL_OK ||
	    id == 0 || id > p->n)
		return PFL_ERR_INVAL;
	if (is_complete(p)) {
		complete_row(p->n, id, out);
		*count = p->k;
		return PFL_OK;
	}
	if ((perm = make_perm(p)) == NULL)
		return PFL_ERR_NOMEM;
	for (pos = 0; perm[pos] != id; pos++)
		;
	harary_row(p, perm, pos, out);
	free(perm);
	*count = p->k;
	return PFL_OK;
}
