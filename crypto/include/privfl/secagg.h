/*
 * privfl — secure aggregation: SecAgg (Bonawitz et al. 2017) and SecAgg+
 * (Bell et al. 2020) as two transport-free state machines.
 *
 * One round: each client runs a pfl_sa_client, the aggregator one
 * pfl_sa_server. Messages are opaque byte strings (compact little-endian
 * records, docs/SECAGG.md) that the transport carries in a msgpack bin.
 * The phases, in order:
 *
 *   ADVERTISE    client -> server: two X25519 public keys, signed
 *   SHARE        client -> server: Shamir shares of b_u and s_sk, encrypted
 *                to each neighbour (XChaCha20-Poly1305)
 *   MASKED       client -> server: y_u = x_u + PRG(b_u) +- PRG(s_uv)
 *   CONSISTENCY  client -> server: signature over the survivor list U3
 *   UNMASK       client -> server: shares of b_v (v in U3) and of s_sk_v
 *                (v dropped after SHARE)
 *
 * After the server closes a phase it hands each surviving client its input
 * for the next step (pfl_sa_server_output). Clients whose message for a
 * phase did not arrive before close are dropped. The sum covers exactly the
 * clients whose masked vector arrived (U3), whatever drops out later.
 *
 * Client ids are 1..n. In SecAgg every client is the neighbour of every
 * other (k = n - 1); in SecAgg+ the neighbours are an Erdős–Rényi graph
 * with mean degree k whose randomness is a hash over every key advertised
 * in the round (so it is fixed only after all keys are), computed by the
 * server when ADVERTISE closes and by each client from the ADVERTISE
 * broadcast. A client u with d_u neighbours shares its secrets among them
 * and itself with threshold t_u = pfl_sa_threshold(p, d_u) (t when
 * d_u = k).
 *
 * Thread-safety: a client or server object is not thread-safe; one thread
 * at a time per object. Distinct objects are independent. sodium_init()
 * must have succeeded before any call.
 */
#ifndef PRIVFL_SECAGG_H
#define PRIVFL_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/buf.h"
#include "privfl/err.h"

struct pfl_identity;

enum pfl_sa_mode {
	PFL_SA_OFF = 0,
	PFL_SA_FULL = 1, /* secagg: all pairs */
	PFL_SA_PLUS = 2  /* secagg+: k-regular graph */
};

enum pfl_sa_phase {
	PFL_SA_ADVERTISE = 0,
	PFL_SA_SHARE = 1,
	PFL_SA_MASKED = 2,
	PFL_SA_CONSISTENCY = 3,
	PFL_SA_UNMASK = 4,
	PFL_SA_PHASES = 5
};

#define PFL_SA_CTX_BYTES        32
#define PFL_SA_MAX_N_FULL       2000u   /* cohort limit for full SecAgg */
#define PFL_SA_MAX_N_PLUS       100000u /* cohort limit for SecAgg+ */
#define PFL_SA_MAX_K            512u    /* neighbour limit for SecAgg+ */
#define PFL_SA_MAX_NK           ((uint64_t)1 << 25) /* n * k limit */
#define PFL_SA_MAX_DIM          ((size_t)1 << 30)
/* Fixed record sizes of the wire layouts (docs/SECAGG.md). */
#define PFL_SA_ADVERTISE_BYTES  128 /* c_pk, s_pk, sig */
#define PFL_SA_ADV_REC_BYTES    276 /* id, cert, c_pk, s_pk, sig */
#define PFL_SA_CERT_BYTES       144 /* PFL_ENROLL_CERT_BYTES */
#define PFL_SA_DIGEST_REC_BYTES 20  /* id, advert digest (transcript) */
#define PFL_SA_SHARE_REC_BYTES  172 /* peer id, nonce, ciphertext */
#define PFL_SA_SIG_REC_BYTES    68  /* id, sig */
#define PFL_SA_UNMASK_REC_BYTES 68  /* id, share */

struct pfl_sa_params {
	enum pfl_sa_mode mode;
	uint32_t n;             /* cohort size; client ids are 1..n */
	uint32_t t;             /* threshold (Shamir) of a client with k
	                           neighbours, 2t > k + 1, t <= k + 1; also
	                           the fewest survivors of any phase */
	uint32_t k;             /* neighbours per client: n - 1 for SecAgg,
	                           the mean degree for SecAgg+ */
	size_t dim;             /* length of the uint32 input vector */
	uint8_t round_ctx[32];  /* binds every signature/derivation to the
	                           federation and round (given by the caller) */
	uint8_t graph_seed[32]; /* public randomness mixed into the graph key
	                           (the keys advertised decide the graph) */
};

/*
 * Check a parameter set: mode FULL or PLUS, 3 <= n <= the mode's limit,
 * k == n - 1 (FULL) or 2 <= k <= min(n - 1, PFL_SA_MAX_K) (PLUS), n * k <=
 * PFL_SA_MAX_NK, k + 1 < 2t, t <= k + 1, 1 <= dim <= PFL_SA_MAX_DIM.
 * @return PFL_OK or PFL_ERR_INVAL
 */
pfl_err pfl_sa_params_check(const struct pfl_sa_params *p) PFL_WUR;

/*
 * The Shamir threshold of a client with deg neighbours: t when deg = k,
 * else ceil((deg + 1) t / (k + 1)) (the same fraction of its holders).
 */
uint32_t pfl_sa_threshold(const struct pfl_sa_params *p, uint32_t deg);

/*
 * Choose k and t for cohort n against an adversary that controls the
 * server, corrupts a fraction corrupt_frac of the clients and makes any
 * clients it likes drop out after seeing the graph, such that (union
 * bounds, docs/SECAGG.md):
 *   privacy  (<= 2^-40): no set of fewer than min_sum honest clients has
 *            its sum revealed, and no honest client has so many corrupt
 *            holders that they and a contradicting view could reveal both
 *            of its secrets (2 t_u > d_u + 1 + corrupt holders);
 *   failure  (<= 2^-20): with a fraction dropout_frac of the clients
 *            dropping out, some client has fewer than t_u live holders
 *            (the round aborts; it never gives a wrong sum).
 * SecAgg: k = n - 1 and t = max(floor((n + c) / 2) + 1, min_sum + c),
 * c = pfl_sa_colluders(corrupt_frac, n). SecAgg+: the smallest such k, then t;
 * if no k <= min(n - 2, PFL_SA_MAX_K) works, the complete graph with the SecAgg
 * rule.
 * @param min_sum  the fewest honest clients whose sum the server may learn
 *                 (>= 2; 1 is taken as 2)
 * @param[out] k, t  written on success only
 * @return PFL_OK; PFL_ERR_INVAL (fractions outside [0, 1), n < 3, mode);
 *         PFL_ERR_CONFIG (no parameters meet the bounds)
 */
pfl_err pfl_sa_choose_params_min(enum pfl_sa_mode mode, uint32_t n,
                                 double dropout_frac, double corrupt_frac,
                                 uint32_t min_sum, uint32_t *k,
                                 uint32_t *t) PFL_WUR;

/*
 * The clients of a cohort of n that may collude with the server:
 * ceil(corrupt_frac n), a part of a client counting as a whole one. The
 * aggregator's accounting counts colluders with this function too.
 */
uint32_t pfl_sa_colluders(double corrupt_frac, uint32_t n);

/* pfl_sa_choose_params_min with min_sum = 2. */
pfl_err pfl_sa_choose_params(enum pfl_sa_mode mode, uint32_t n,
                             double dropout_frac, double corrupt_frac,
                             uint32_t *k, uint32_t *t) PFL_WUR;

/*
 * The bounds of pfl_sa_choose_params_min for a parameter set, as log2 of
 * the probabilities (-inf written as -1e9).
 * @param[out] fail_log2, priv_log2  either may be NULL
 * @return PFL_OK, PFL_ERR_INVAL
 */
pfl_err pfl_sa_params_bounds(const struct pfl_sa_params *p, double dropout_frac,
                             double corrupt_frac, uint32_t min_sum,
                             double *fail_log2, double *priv_log2) PFL_WUR;

/* ---- client ---- */

struct pfl_sa_client; /* one client, one round; secrets in sodium_malloc
                         memory, wiped on abort and on free */

/*
 * Start a client for one round.
 * @param p       round parameters (copied)
 * @param my_id   1..n
 * @param me      this client's identity; borrowed, must outlive the client
 * @param peer_identity_pks  NULL: trust the identity keys the server
 *                relays in the advertise broadcast; else n keys (index
 *                id - 1) the relayed keys must match (copied)
 * @param[out] out the client; free with pfl_sa_client_free
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM
 */
pfl_err pfl_sa_client_new(const struct pfl_sa_params *p, uint32_t my_id,
                          const struct pfl_identity *me,
                          const uint8_t (*peer_identity_pks)[32],
                          struct pfl_sa_client **out) PFL_WUR;

/*
 * Require an enrollment certificate (privfl/enroll.h) for every
 * neighbour: a neighbour's advert is used only if the certificate relayed
 * with it verifies against authority_pk for fed_hash at time now, and the
 * advert is signed by the certified key. Call before the SHARE step.
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_STATE (after SHARE)
 */
pfl_err pfl_sa_client_set_authority(struct pfl_sa_client *c,
                                    const uint8_t authority_pk[32],
                                    const uint8_t fed_hash[32],
                                    uint64_t now) PFL_WUR;

/* Wipe and free; accepts NULL. */
void pfl_sa_client_free(struct pfl_sa_client *c);

/* The input vector (dim words, borrowed; valid until the MASKED step
 * returns). Call before the MASKED step. */
void pfl_sa_client_set_input(struct pfl_sa_client *c, const uint32_t *x);

/*
 * One protocol step.
 * @param phase  the next phase; steps come in phase order
 * @param in     pfl_sa_server_output for the previous phase (NULL, 0 for
 *               ADVERTISE); borrowed
 * @param out    the message to submit is appended; on error out->len is
 *               unchanged. For MASKED it is y as dim little-endian uint32.
 * @return PFL_OK; PFL_ERR_STATE (out of order, or no input set before
 *         MASKED); PFL_ERR_PROTO (malformed input); PFL_ERR_CRYPTO (bad
 *         signature, key or ciphertext); PFL_ERR_ABORTED (the survivors it
 *         sees are fewer than t, or it was told it did not survive, or it
 *         aborted earlier). Any error except STATE aborts the client: its
 *         secrets are wiped and later steps return PFL_ERR_ABORTED.
 *         PFL_ERR_NOMEM, PFL_ERR_TOOBIG (out's limit).
 */
pfl_err pfl_sa_client_step(struct pfl_sa_client *c, enum pfl_sa_phase phase,
                           const uint8_t *in, size_t inlen,
                           struct pfl_buf *out) PFL_WUR;

/* ---- server ---- */

struct pfl_sa_server; /* memory O(dim + n*k): the accumulator, keys and
                         relayed shares, never an individual input */

/*
 * @param identity_pks  n Ed25519 public keys, index id - 1 (copied)
 * @param[out] out      free with pfl_sa_server_free
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM
 */
pfl_err pfl_sa_server_new(const struct pfl_sa_params *p,
                          const uint8_t (*identity_pks)[32],
                          struct pfl_sa_server **out) PFL_WUR;

/*
 * The enrollment certificates to relay with the adverts: n certificates
 * (index id - 1, copied), each for the identity key given to
 * pfl_sa_server_new. Without them the relayed certificate field holds the
 * bare identity key (clients that require certificates then refuse).
 * @return PFL_OK, PFL_ERR_INVAL (NULL, a certificate for another key),
 *         PFL_ERR_STATE (after ADVERTISE closed), PFL_ERR_NOMEM
 */
pfl_err
pfl_sa_server_set_certs(struct pfl_sa_server *s,
                        const uint8_t (*certs)[PFL_SA_CERT_BYTES]) PFL_WUR;

/* Wipe and free; accepts NULL. */
void pfl_sa_server_free(struct pfl_sa_server *s);

/*
 * A client's message for the current (open) phase; a MASKED vector is added
 * into the accumulator at once and not kept. On any error the state is
 * unchanged.
 * @return PFL_OK; PFL_ERR_STATE (phase not open, or round over);
 *         PFL_ERR_AUTH (unknown id, or a client that did not survive the
 *         previous phase); PFL_ERR_PROTO (duplicate, bad length or
 *         content); PFL_ERR_CRYPTO (bad signature); PFL_ERR_ABORTED
 *         (round aborted); PFL_ERR_NOMEM
 */
pfl_err pfl_sa_server_recv(struct pfl_sa_server *s, enum pfl_sa_phase phase,
                           uint32_t from, const uint8_t *msg,
                           size_t len) PFL_WUR;

/* Messages accepted in phase (0 for an invalid phase). */
uint32_t pfl_sa_server_count(const struct pfl_sa_server *s,
                             enum pfl_sa_phase phase);

/*
 * End the open phase: the clients that sent survive it. Closing UNMASK
 * reconstructs the masks and unmasks the sum.
 * @return PFL_OK; PFL_ERR_STATE (not the open phase); PFL_ERR_ABORTED
 *         (fewer than t survivors, or some secret has fewer than t shares:
 *         the round is dead and nothing is ever unmasked); PFL_ERR_CRYPTO
 *         (shares that do not reconstruct a consistent key: round dead);
 *         PFL_ERR_NOMEM
 */
pfl_err pfl_sa_server_close(struct pfl_sa_server *s,
                            enum pfl_sa_phase phase) PFL_WUR;

/*
 * What client `to` fetches after `phase` is closed (input of its next
 * step), appended to out (out->len unchanged on error).
 * @return PFL_OK; PFL_ERR_AGAIN (phase not closed yet); PFL_ERR_AUTH (`to`
 *         not a survivor of phase); PFL_ERR_INVAL (bad phase or id, or
 *         UNMASK, which has no output); PFL_ERR_ABORTED; PFL_ERR_NOMEM;
 *         PFL_ERR_TOOBIG
 */
pfl_err pfl_sa_server_output(const struct pfl_sa_server *s,
                             enum pfl_sa_phase phase, uint32_t to,
                             struct pfl_buf *out) PFL_WUR;

/*
 * The neighbours of id (ascending), once ADVERTISE is closed (the graph
 * depends on the keys advertised).
 * @param out  room for cap ids
 * @return PFL_OK; PFL_ERR_AGAIN (ADVERTISE not closed); PFL_ERR_INVAL (bad
 *         id); PFL_ERR_TOOBIG (more than cap neighbours); PFL_ERR_ABORTED
 */
pfl_err pfl_sa_server_neighbours(const struct pfl_sa_server *s, uint32_t id,
                                 uint32_t *out, uint32_t cap,
                                 uint32_t *count) PFL_WUR;

/*
 * After close(UNMASK) succeeded: the sum mod 2^32 of the survivors' inputs
 * and their ids (ascending).
 * @param sum         dim words, or NULL
 * @param survivors   room for n ids, or NULL
 * @param nsurvivors  count, or NULL
 * @return PFL_OK, PFL_ERR_STATE (not unmasked), PFL_ERR_ABORTED
 */
pfl_err pfl_sa_server_result(const struct pfl_sa_server *s, uint32_t *sum,
                             uint32_t *survivors, uint32_t *nsurvivors) PFL_WUR;

#endif
