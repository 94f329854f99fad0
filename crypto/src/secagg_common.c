/*
 * SecAgg: parameters, derivations and signed message layouts shared by the
 * client and the server (docs/SECAGG.md).
 */
#include <sodium.h>
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
		/* Harary H(k, n) needs k even; k = n - 1 is the full graph */
		if (p->k % 2 != 0 && p->k != p->n - 1)
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

/* ---- parameter choice (docs/SECAGG.md) ---- */

/*
 * P[Bin(k, q) >= t], from the pmf built by the ratio recursion with
 * rescaling (no libm): terms far below the largest underflow to 0, which
 * only matters below ~1e-290 of the total.
 */
static double
binom_tail_ge(uint32_t k, double q, uint32_t t, double *pmf)
{
	double total = 0, tail = 0, r;
	uint32_t j;

	if (q <= 0)
		return t == 0 ? 1.0 : 0.0;
	if (q >= 1)
		return 1.0;
	r = q / (1 - q);
	pmf[0] = 1;
	for (j = 0; j < k; j++) {
		pmf[j + 1] = pmf[j] * (double)(k - j) / (double)(j + 1) * r;
		if (pmf[j + 1] > 1e200) {
			for (uint32_t i = 0; i <= j + 1; i++)
				pmf[i] *= 1e-200;
		}
	}
	for (j = 0; j <= k; j++) {
		total += pmf[j];
		if (j >= t)
			tail += pmf[j];
	}
	return tail / total;
}

static pfl_err
choose_full(uint32_t n, double drop, double corrupt, uint32_t *k, uint32_t *t)
{
	uint32_t tt = n / 2 + 1, c = (uint32_t)(corrupt * n) + 1;
	uint32_t dropped = (uint32_t)(drop * n);

	if ((double)dropped < drop * n)
		dropped++; /* ceil */
	if (c > tt)
		tt = c;
	if (tt > n - dropped)
		return PFL_ERR_CONFIG;
	*k = n - 1;
	*t = tt;
	return PFL_OK;
}

pfl_err
pfl_sa_choose_params(enum pfl_sa_mode mode, uint32_t n, double dropout_frac,
                     double corrupt_frac, uint32_t *k, uint32_t *t)
{
	/* failure bounds over the whole cohort (union bound over n) */
	const double eta = 1.0 / (1 << 20), sigma = 1.0 / (1ull << 40);
	double pmf[PFL_SA_MAX_K + 2];
	uint32_t kmax, kk, tt;

	if (k == NULL || t == NULL || n < 3)
		return PFL_ERR_INVAL;
	if (!(dropout_frac >= 0 && dropout_frac < 1) ||
	    !(corrupt_frac >= 0 && corrupt_frac < 1))
		return PFL_ERR_INVAL;
	if (mode == PFL_SA_FULL) {
		if (n > PFL_SA_MAX_N_FULL)
			return PFL_ERR_INVAL;
		return choose_full(n, dropout_frac, corrupt_frac, k, t);
	}
	if (mode != PFL_SA_PLUS || n > PFL_SA_MAX_N_PLUS)
		return PFL_ERR_INVAL;
	kmax = n - 1 < PFL_SA_MAX_K ? n - 1 : PFL_SA_MAX_K;
	for (kk = 2; kk <= kmax && kk < n - 1; kk += 2) {
		for (tt = (kk + 1) / 2 + 1; tt <= kk; tt++) {
			/* privacy: >= t corrupt neighbours of an honest u */
			double bad = binom_tail_ge(kk, corrupt_frac, tt, pmf);
			/* correctness: < t of the k neighbours survive */
			double fail =
			        1.0 -
			        binom_tail_ge(kk, 1.0 - dropout_frac, tt, pmf);

			if (bad * n > sigma)
				continue; /* larger t is more private */
			if (fail * n > eta)
				break; /* larger t only fails more */
			*k = kk;
			*t = tt;
			return PFL_OK;
		}
	}
	/* no sparse graph is good enough: the complete graph, analysed
	 * deterministically like SecAgg */
	if (n > PFL_SA_MAX_N_FULL)
		return PFL_ERR_CONFIG;
	return choose_full(n, dropout_frac, corrupt_frac, k, t);
}
