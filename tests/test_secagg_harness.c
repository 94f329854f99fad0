/*
 * Drives one SecAgg round in memory: n clients and the server, messages
 * passed as the transport would, clients dropping out at chosen phases.
 * Shared by test_secagg.c and test_secagg_plus.c (and the fuzzers' seed
 * generator).
 *
 * Included (not compiled on its own) by the secagg tests, so that the
 * harness needs no header of its own.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/buf.h"
#include "privfl/identity.h"
#include "privfl/secagg.h"

struct sah {
	struct pfl_sa_params p;
	struct pfl_identity **ids;
	uint8_t (*pks)[32];
	struct pfl_sa_client **clients;
	struct pfl_sa_server *server;
	uint32_t *x;     /* n * dim inputs */
	int *drop_at;    /* phase at which client i stops (PHASES: never) */
	pfl_err *status; /* last result per client */
	/* optional: called with each client's message before the server
	 * gets it (tampering tests) */
	void (*hook)(struct sah *h, int ph, uint32_t id, struct pfl_buf *msg);
	void *arg;
};

#define SAH_FN static __attribute__((unused))

SAH_FN pfl_err
sah_init(struct sah *h, const struct pfl_sa_params *p, int pin, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->p = *p;
	h->ids = calloc(p->n, sizeof(*h->ids));
	h->pks = calloc(p->n, sizeof(*h->pks));
	h->clients = calloc(p->n, sizeof(*h->clients));
	h->x = calloc((size_t)p->n * p->dim, sizeof(uint32_t));
	h->drop_at = calloc(p->n, sizeof(int));
	h->status = calloc(p->n, sizeof(pfl_err));
	if (!h->ids || !h->pks || !h->clients || !h->x || !h->drop_at ||
	    !h->status)
		return PFL_ERR_NOMEM;
	for (uint32_t i = 0; i < p->n; i++) {
		uint8_t s[32] = {0};
		pfl_err err;

		memcpy(s, &seed, sizeof(seed));
		memcpy(s + 8, &i, sizeof(i));
		if ((err = pfl_identity_from_seed(s, &h->ids[i])) != PFL_OK)
			return err;
		memcpy(h->pks[i], pfl_identity_public(h->ids[i]), 32);
		h->drop_at[i] = PFL_SA_PHASES;
	}
	randombytes_buf(h->x, (size_t)p->n * p->dim * sizeof(uint32_t));
	for (uint32_t i = 0; i < p->n; i++) {
		pfl_err err = pfl_sa_client_new(
		        p, i + 1, h->ids[i],
		        pin ? (const uint8_t(*)[32])h->pks : NULL,
		        &h->clients[i]);

		if (err != PFL_OK)
			return err;
		pfl_sa_client_set_input(h->clients[i],
		                        h->x + (size_t)i * p->dim);
	}
	return pfl_sa_server_new(p, (const uint8_t(*)[32])h->pks, &h->server);
}

SAH_FN void
sah_fini(struct sah *h)
{
	for (uint32_t i = 0; h->clients && i < h->p.n; i++)
		pfl_sa_client_free(h->clients[i]);
	for (uint32_t i = 0; h->ids && i < h->p.n; i++)
		pfl_identity_free(h->ids[i]);
	pfl_sa_server_free(h->server);
	free(h->ids);
	free(h->pks);
	free(h->clients);
	free(h->x);
	free(h->drop_at);
	free(h->status);
	memset(h, 0, sizeof(*h));
}

SAH_FN pfl_err
sah_phase(struct sah *h, int ph)
{
	struct pfl_buf in, out;
	pfl_err err = PFL_OK;

	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	for (uint32_t i = 0; i < h->p.n; i++) {
		uint32_t id = i + 1;

		if (h->status[i] != PFL_OK || h->drop_at[i] <= ph)
			continue;
		pfl_buf_clear(&in);
		pfl_buf_clear(&out);
		if (ph > 0) {
			h->status[i] = pfl_sa_server_output(
			        h->server, (enum pfl_sa_phase)(ph - 1), id,
			        &in);
			if (h->status[i] != PFL_OK)
				continue;
		}
		h->status[i] =
		        pfl_sa_client_step(h->clients[i], (enum pfl_sa_phase)ph,
		                           ph ? in.data : NULL, in.len, &out);
		if (h->status[i] != PFL_OK)
			continue;
		if (h->hook)
			h->hook(h, ph, id, &out);
		h->status[i] =
		        pfl_sa_server_recv(h->server, (enum pfl_sa_phase)ph, id,
		                           out.data, out.len);
	}
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	err = pfl_sa_server_close(h->server, (enum pfl_sa_phase)ph);
	return err;
}

SAH_FN pfl_err
sah_run(struct sah *h)
{
	pfl_err err;

	for (int ph = 0; ph < PFL_SA_PHASES; ph++)
		if ((err = sah_phase(h, ph)) != PFL_OK)
			return err;
	return PFL_OK;
}

/* plain sum of the clients whose masked input was sent */
SAH_FN void
sah_expected(const struct sah *h, uint32_t *sum, uint32_t *ids, uint32_t *m)
{
	memset(sum, 0, h->p.dim * sizeof(*sum));
	*m = 0;
	for (uint32_t i = 0; i < h->p.n; i++) {
		if (h->drop_at[i] <= PFL_SA_MASKED)
			continue;
		ids[(*m)++] = i + 1;
		for (size_t j = 0; j < h->p.dim; j++)
			sum[j] += h->x[(size_t)i * h->p.dim + j];
	}
}
