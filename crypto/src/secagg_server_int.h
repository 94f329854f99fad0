/*
 * Internal to crypto/: the SecAgg server's state, shared by
 * secagg_server.c (messages, phases, outputs) and secagg_unmask.c
 * (reconstructing the dropped clients' seeds and unmasking the sum).
 */
#ifndef PFL_CRYPTO_SECAGG_SERVER_INT_H
#define PFL_CRYPTO_SECAGG_SERVER_INT_H

#include "secagg_int.h"

struct sa_srv_client {
	uint8_t c_pk[SA_KEY], s_pk[SA_KEY], adv_sig[SA_SIG];
	uint8_t digest[SA_DIGEST];
	uint8_t csig[SA_SIG];
	uint8_t *cts;    /* deg slots of SA_SHREC, by index of `to` in N(u) */
	uint8_t *unmask; /* nunmask records of PFL_SA_UNMASK_REC_BYTES */
	uint32_t nunmask;
};

struct pfl_sa_server {
	struct pfl_sa_params p;
	uint8_t (*id_pks)[32];
	uint8_t (*certs)[PFL_SA_CERT_BYTES]; /* n, or NULL */
	uint8_t tctx[32];                    /* graph key (after ADVERTISE) */
	uint32_t *off; /* CSR row offsets, n + 1 (after ADVERTISE) */
	uint32_t *adj; /* rows of neighbours, ascending */
	uint32_t tmax; /* the largest client threshold */
	uint8_t *sent; /* per client: SA_BIT(phase) when its message came */
	struct sa_srv_client *cl;
	uint32_t *acc; /* dim words */
	uint32_t count[PFL_SA_PHASES];
	int open; /* the open phase; PFL_SA_PHASES when unmasked */
	int aborted;
	uint32_t *u3; /* survivors (MASKED), ascending */
	uint32_t nu3;
	struct pfl_buf u3msg; /* the signed survivor list */
};

static inline const uint32_t *
nbrs(const struct pfl_sa_server *s, uint32_t id)
{
	return s->adj + s->off[id - 1];
}

static inline uint32_t
deg(const struct pfl_sa_server *s, uint32_t id)
{
	return s->off[id] - s->off[id - 1];
}

static inline int
has(const struct pfl_sa_server *s, uint32_t id, int phase)
{
	return (s->sent[id - 1] & SA_BIT(phase)) != 0;
}

static inline uint32_t
count_nbrs_with(const struct pfl_sa_server *s, uint32_t id, int phase)
{
	const uint32_t *nb = nbrs(s, id);
	uint32_t m = 0;

	for (uint32_t i = 0, d = deg(s, id); i < d; i++)
		m += has(s, nb[i], phase);
	return m;
}

/* The UNMASK phase's close: the dropped clients' seeds from their shares,
 * then the sum without masks (s->acc). */
pfl_err pfli_sa_server_unmask(struct pfl_sa_server *s);

#endif
