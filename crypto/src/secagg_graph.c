/*
 * SecAgg+ neighbourhoods: an Erdős–Rényi graph G(n, p), p = k / (n - 1),
 * whose randomness is the graph key, a hash over the round and every
 * advertised key (the transcript of ADVERTISE, docs/SECAGG.md). Nobody
 * knows the graph before every member's keys are fixed, and the coins are
 * exact integers, so the server and every client compute the same graph on
 * any platform. Full SecAgg (and k = n - 1) is the complete graph.
 *
 * Edge {a, b}, a < b: word b mod 16 of block b / 16 of the ChaCha20-IETF
 * keystream keyed by the graph key with nonce "privfl-g" || a (u32 LE) is
 * below floor(k 2^32 / (n - 1)). A client computes its own row in O(n)
 * ChaCha20 blocks; the server the whole graph in O(n^2 / 16).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_int.h"

static const uint8_t graph_pers[16] = "privfl-sa-graph";
static const uint8_t digest_pers[16] = "privfl-sa-advdg";

#define ROW_CHUNK 16 /* blocks generated at once: 256 coins */

void
pfli_sa_adv_digest(uint8_t out[SA_DIGEST], uint32_t id, const uint8_t c_pk[32],
                   const uint8_t s_pk[32])
{
	uint8_t in[4 + 2 * SA_KEY];

	pfli_le32_put(in, id);
	memcpy(in + 4, c_pk, SA_KEY);
	memcpy(in + 4 + SA_KEY, s_pk, SA_KEY);
	crypto_generichash_blake2b_salt_personal(out, SA_DIGEST, in, sizeof(in),
	                                         NULL, 0, NULL, digest_pers);
}

void
pfli_sa_transcript(uint8_t key[32], const struct pfl_sa_params *p,
                   const uint8_t *recs, uint32_t count)
{
	crypto_generichash_blake2b_state st;
	uint8_t w[4];

	crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0, 32, NULL,
	                                              graph_pers);
	crypto_generichash_blake2b_update(&st, p->graph_seed, 32);
	crypto_generichash_blake2b_update(&st, p->round_ctx, 32);
	pfli_le32_put(w, count);
	crypto_generichash_blake2b_update(&st, w, 4);
	crypto_generichash_blake2b_update(&st, recs,
	                                  (size_t)count * SA_DIGEST_REC);
	crypto_generichash_blake2b_final(&st, key, 32);
	sodium_memzero(&st, sizeof(st));
}

int
pfli_sa_is_complete(const struct pfl_sa_params *p)
{
	return p->mode == PFL_SA_FULL || p->k >= p->n - 1;
}

static uint32_t
edge_threshold(const struct pfl_sa_params *p)
{
	return (uint32_t)(((uint64_t)p->k << 32) / (p->n - 1));
}

static void
row_nonce(uint8_t nonce[12], uint32_t a)
{
	memcpy(nonce, "privfl-g", 8);
	pfli_le32_put(nonce + 8, a);
}

/* the coin of {a, b}, a < b, alone (one block) */
static int
coin(const uint8_t key[32], uint32_t thr, uint32_t a, uint32_t b)
{
	static const uint8_t zero[64];
	uint8_t nonce[12], blk[64];

	row_nonce(nonce, a);
	crypto_stream_chacha20_ietf_xor_ic(blk, zero, 64, nonce, b / 16, key);
	return pfli_le32_get(blk + 4 * (b % 16)) < thr;
}

/* ids b in (a, n] joined to a, ascending, appended to out */
static uint32_t
upper_row(const struct pfl_sa_params *p, const uint8_t key[32], uint32_t thr,
          uint32_t a, uint32_t *out)
{
	static const uint8_t zero[64 * ROW_CHUNK];
	uint8_t nonce[12], blk[64 * ROW_CHUNK];
	uint32_t m = 0, b = a + 1;

	row_nonce(nonce, a);
	while (b <= p->n) {
		uint32_t first = b / 16, nblk = p->n / 16 - first + 1;

		if (nblk > ROW_CHUNK)
			nblk = ROW_CHUNK;
		crypto_stream_chacha20_ietf_xor_ic(blk, zero, 64 * (size_t)nblk,
		                                   nonce, first, key);
		for (; b <= p->n && b / 16 < first + nblk; b++)
			if (pfli_le32_get(blk + 4 * (b - 16 * first)) < thr)
				out[m++] = b;
	}
	return m;
}

pfl_err
pfli_sa_graph_row(const struct pfl_sa_params *p, const uint8_t key[32],
                  uint32_t id, uint32_t *out, uint32_t *deg)
{
	uint32_t m = 0, thr;

	if (id == 0 || id > p->n)
		return PFL_ERR_INVAL;
	if (pfli_sa_is_complete(p)) {
		for (uint32_t v = 1; v <= p->n; v++)
			if (v != id)
				out[m++] = v;
		*deg = m;
		return PFL_OK;
	}
	thr = edge_threshold(p);
	for (uint32_t a = 1; a < id; a++)
		if (coin(key, thr, a, id))
			out[m++] = a;
	m += upper_row(p, key, thr, id, out + m);
	*deg = m;
	return PFL_OK;
}

static pfl_err
build_complete(const struct pfl_sa_params *p, uint32_t *off, uint32_t **adj)
{
	int ok = 1;
	size_t cells = pfl_mul_size(p->n, p->n - 1, &ok);
	uint32_t *a;

	if (!ok || (a = malloc(pfl_mul_size(cells, 4, &ok))) == NULL || !ok)
		return PFL_ERR_NOMEM;
	for (uint32_t id = 1; id <= p->n; id++) {
		uint32_t d;

		off[id - 1] = (id - 1) * (p->n - 1);
		(void)pfli_sa_graph_row(p, NULL, id, a + off[id - 1], &d);
	}
	off[p->n] = p->n * (p->n - 1);
	*adj = a;
	return PFL_OK;
}

pfl_err
pfli_sa_graph_build(const struct pfl_sa_params *p, const uint8_t key[32],
                    uint32_t **off_out, uint32_t **adj_out)
{
	uint32_t *off = calloc((size_t)p->n + 1, 4), *row = NULL, *fill = NULL;
	uint32_t *adj = NULL, thr, m;
	pfl_err err = PFL_ERR_NOMEM;

	if (off == NULL)
		return PFL_ERR_NOMEM;
	if (pfli_sa_is_complete(p)) {
		if ((err = build_complete(p, off, &adj)) != PFL_OK)
			goto out;
		goto done;
	}
	thr = edge_threshold(p);
	row = malloc((size_t)p->n * 4);
	fill = calloc((size_t)p->n + 1, 4);
	if (row == NULL || fill == NULL)
		goto out;
	/* pass 1: degrees */
	for (uint32_t a = 1; a < p->n; a++) {
		m = upper_row(p, key, thr, a, row);
		off[a] += m;
		for (uint32_t i = 0; i < m; i++)
			off[row[i]]++;
	}
	/* off[id] holds deg(id); make it prefix sums: row id at off[id-1] */
	for (uint32_t id = 1, acc = 0; id <= p->n; id++) {
		uint32_t d = off[id];

		off[id] = acc + d;
		fill[id] = acc;
		acc += d;
	}
	off[0] = 0;
	if ((adj = malloc((size_t)off[p->n] * 4 + 4)) == NULL)
		goto out;
	/* pass 2: rows come out ascending (lower ids first, then upper) */
	for (uint32_t a = 1; a < p->n; a++) {
		m = upper_row(p, key, thr, a, row);
		for (uint32_t i = 0; i < m; i++)
			adj[fill[row[i]]++] = a;
		memcpy(adj + fill[a], row, (size_t)m * 4);
		fill[a] += m;
	}
done:
	*off_out = off;
	*adj_out = adj;
	off = NULL;
	err = PFL_OK;
out:
	free(off);
	free(row);
	free(fill);
	return err;
}
