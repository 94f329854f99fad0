/*
 * SecAgg internals shared by the client, the server and the graph code.
 * Private to pfl_crypto (tests may include it to inspect server memory).
 */
#ifndef PRIVFL_SECAGG_INT_H
#define PRIVFL_SECAGG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/secagg.h"

#define SA_KEY        32 /* X25519 keys, seeds, AEAD keys */
#define SA_SIG        64
#define SA_SHARE      64 /* PFL_SHAMIR_SHARE_BYTES */
#define SA_NONCE      24 /* XChaCha20-Poly1305 */
#define SA_MAC        16
#define SA_PT         (2 * SA_SHARE)     /* b share, s_sk share */
#define SA_CT         (SA_PT + SA_MAC)   /* 144 */
#define SA_SHREC      (SA_NONCE + SA_CT) /* stored share record: 168 */
#define SA_TAG        16                 /* domain-separation tags */
#define SA_ADV_MSG    (SA_TAG + 32 + 4 + 2 * SA_KEY) /* signed advert: 116 */
#define SA_AD         (SA_TAG + 32 + 4 + 4)          /* AEAD AD: 56 */
#define SA_DIGEST     16              /* advert digest in the transcript */
#define SA_DIGEST_REC (4 + SA_DIGEST) /* id, digest */
/* offsets in an advert record (PFL_SA_ADV_REC_BYTES) */
#define SA_R_CERT     4                               /* cert; id_pk first */
#define SA_R_CPK      (SA_R_CERT + PFL_SA_CERT_BYTES) /* 148 */
#define SA_R_SPK      (SA_R_CPK + SA_KEY)             /* 180 */
#define SA_R_SIG      (SA_R_SPK + SA_KEY)             /* 212 */
_Static_assert(SA_R_SIG + SA_SIG == PFL_SA_ADV_REC_BYTES, "advert record");

/* Bits of the per-client survivor mask: bit p = message of phase p
 * accepted. */
#define SA_BIT(p) (1u << (unsigned)(p))

static inline void
pfli_le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
pfli_le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Index of v in the ascending array a[0..n), or -1. */
long pfli_sa_find(const uint32_t *a, uint32_t n, uint32_t v);

/* 1 if the neighbourhoods are the complete graph (SecAgg, k = n - 1). */
int pfli_sa_is_complete(const struct pfl_sa_params *p);

/* BLAKE2b-128 of id || c_pk || s_pk, personalised "privfl-sa-advdg". */
/*
 * The search behind pfl_sa_choose_params_min (secagg_common.c): seconds
 * for a cohort of thousands, which is why the public function keeps a
 * memo of its recent answers (secagg_params.c).
 */
pfl_err pfli_sa_choose_params_search(enum pfl_sa_mode mode, uint32_t n,
                                     double dropout_frac, double corrupt_frac,
                                     uint32_t min_sum, uint32_t *k,
                                     uint32_t *t);

void pfli_sa_adv_digest(uint8_t out[SA_DIGEST], uint32_t id,
                        const uint8_t c_pk[32], const uint8_t s_pk[32]);

/* The graph key: BLAKE2b-256 personalised "privfl-sa-graph" of
 * graph_seed || round_ctx || count || count records (id, digest), ids
 * ascending: every key advertised in the round. */
void pfli_sa_transcript(uint8_t key[32], const struct pfl_sa_params *p,
                        const uint8_t *recs, uint32_t count);

/* Neighbours of id (ascending) in the graph drawn from key: out has room
 * for n - 1 ids. O(n). */
pfl_err pfli_sa_graph_row(const struct pfl_sa_params *p, const uint8_t key[32],
                          uint32_t id, uint32_t *out, uint32_t *deg);

/* The whole graph, CSR: the row of id is adj[off[id-1] .. off[id]),
 * ascending. O(n^2 / 16) ChaCha20 blocks; free both. */
pfl_err pfli_sa_graph_build(const struct pfl_sa_params *p,
                            const uint8_t key[32], uint32_t **off,
                            uint32_t **adj);

/* The signed advertisement: tag || round_ctx || id || c_pk || s_pk. */
void pfli_sa_adv_msg(uint8_t out[SA_ADV_MSG], const uint8_t ctx[32],
                     uint32_t id, const uint8_t c_pk[32],
                     const uint8_t s_pk[32]);

/* The signed survivor list: tag || round_ctx || count || ids (appended). */
pfl_err pfli_sa_u3_msg(struct pfl_buf *out, const uint8_t ctx[32],
                       const uint32_t *ids, uint32_t count);

/* AEAD associated data: tag || round_ctx || from || to. */
void pfli_sa_share_ad(uint8_t ad[SA_AD], const uint8_t ctx[32], uint32_t from,
                      uint32_t to);

/*
 * Pairwise mask seed of u and v: BLAKE2b keyed by X25519(sk, pk),
 * personalised "privfl-sa-mask", over round_ctx || min(u,v) || max(u,v).
 * @return PFL_OK or PFL_ERR_CRYPTO (low-order peer key)
 */
pfl_err pfli_sa_pair_seed(uint8_t seed[32], const uint8_t sk[32],
                          const uint8_t pk[32], const uint8_t ctx[32],
                          uint32_t u, uint32_t v);

/* Share-encryption key for from -> to (direction-specific), personalised
 * "privfl-sa-share". @return PFL_OK or PFL_ERR_CRYPTO */
pfl_err pfli_sa_share_key(uint8_t key[32], const uint8_t sk[32],
                          const uint8_t pk[32], const uint8_t ctx[32],
                          uint32_t from, uint32_t to);

/* A mask to add (sign +1) or remove (sign -1); arrays of these live in
 * sodium_malloc memory. */
struct pfli_sa_seed {
	uint8_t seed[SA_KEY];
	int sign;
};

/* Vector block (words) over which all masks are applied before moving on:
 * 64 KiB stays in L2 while every seed's keystream is added. */
#define SA_BLOCK_WORDS 16384u

/* v[0..m) is words [first, first + m) of a vector: add all the masks. */
void pfli_sa_apply_block(uint32_t *v, size_t m, uint64_t first,
                         const struct pfli_sa_seed *seeds, size_t nseeds);

/* Benchmark hook: the MASKED step (shares decrypted and kept, seeds
 * derived) without expanding the masks or writing y, so that a benchmark
 * can time one real client among many. Not for protocol use. */
pfl_err pfli_sa_client_step_nomask(struct pfl_sa_client *c, const uint8_t *in,
                                   size_t inlen);

/* Test hook: 1 if the server holds the bytes needle[0..len) anywhere in
 * its heap state (accumulator, keys, relayed shares). */
int pfli_sa_server_contains(const struct pfl_sa_server *s,
                            const uint8_t *needle, size_t len);

/* Test hook (a corrupt client's view): the decrypted shares this client
 * holds for neighbour id, b share || s_sk share. */
pfl_err pfli_sa_client_held(const struct pfl_sa_client *c, uint32_t id,
                            uint8_t out[SA_PT]);

/* Test hook: the transcript context (graph key) once ADVERTISE closed. */
pfl_err pfli_sa_server_tctx(const struct pfl_sa_server *s, uint8_t ctx[32]);

#endif
