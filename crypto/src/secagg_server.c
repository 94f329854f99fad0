/*
 * SecAgg server state machine (privfl/secagg.h, docs/SECAGG.md).
 *
 * Per client it keeps the advertised keys, the relayed share ciphertexts
 * (opaque to it), the consistency signature and the unmasking shares;
 * masked vectors go straight into one accumulator.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/identity.h"
#include "privfl/prg.h"
#include "privfl/shamir.h"
#include "secagg_server_int.h"

pfl_err
pfl_sa_server_new(const struct pfl_sa_params *p,
                  const uint8_t (*identity_pks)[32], struct pfl_sa_server **out)
{
	struct pfl_sa_server *s;
	pfl_err err;

	if (out == NULL || identity_pks == NULL ||
	    pfl_sa_params_check(p) != PFL_OK)
		return PFL_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PFL_ERR_NOMEM;
	s->p = *p;
	pfl_buf_init(&s->u3msg, 0);
	s->id_pks = malloc((size_t)p->n * 32);
	s->sent = calloc(p->n, 1);
	s->cl = calloc(p->n, sizeof(*s->cl));
	s->acc = calloc(p->dim, sizeof(*s->acc));
	if (s->id_pks == NULL || s->sent == NULL || s->cl == NULL ||
	    s->acc == NULL) {
		err = PFL_ERR_NOMEM;
		goto out_free;
	}
	memcpy(s->id_pks, identity_pks, (size_t)p->n * 32);
	*out = s;
	return PFL_OK;
out_free:
	pfl_sa_server_free(s);
	return err;
}

static void
free_client_state(struct pfl_sa_server *s)
{
	for (uint32_t i = 0; s->cl != NULL && i < s->p.n; i++) {
		struct sa_srv_client *c = &s->cl[i];

		free(c->cts);
		c->cts = NULL;
		if (c->unmask != NULL)
			sodium_memzero(c->unmask,
			               (size_t)c->nunmask *
			                       PFL_SA_UNMASK_REC_BYTES);
		free(c->unmask);
		c->unmask = NULL;
		c->nunmask = 0;
	}
}

void
pfl_sa_server_free(struct pfl_sa_server *s)
{
	if (s == NULL)
		return;
	free_client_state(s);
	free(s->cl);
	if (s->acc != NULL)
		sodium_memzero(s->acc, s->p.dim * sizeof(*s->acc));
	free(s->acc);
	free(s->id_pks);
	free(s->certs);
	free(s->sent);
	free(s->off);
	free(s->adj);
	free(s->u3);
	pfl_buf_fini(&s->u3msg);
	free(s);
}

/* the round is dead: drop everything that could help unmask anything */
static pfl_err
server_abort(struct pfl_sa_server *s)
{
	s->aborted = 1;
	sodium_memzero(s->acc, s->p.dim * sizeof(*s->acc));
	free_client_state(s);
	return PFL_ERR_ABORTED;
}

/* ---- recv ---- */

static pfl_err
recv_advertise(struct pfl_sa_server *s, uint32_t from, const uint8_t *msg,
               size_t len)
{
	struct sa_srv_client *c = &s->cl[from - 1];
	uint8_t m[SA_ADV_MSG];

	if (len != PFL_SA_ADVERTISE_BYTES)
		return PFL_ERR_PROTO;
	pfli_sa_adv_msg(m, s->p.round_ctx, from, msg, msg + SA_KEY);
	if (pfl_sig_verify(s->id_pks[from - 1], m, sizeof(m), msg + 2 * SA_KEY))
		return PFL_ERR_CRYPTO;
	memcpy(c->c_pk, msg, SA_KEY);
	memcpy(c->s_pk, msg + SA_KEY, SA_KEY);
	memcpy(c->adv_sig, msg + 2 * SA_KEY, SA_SIG);
	pfli_sa_adv_digest(c->digest, from, c->c_pk, c->s_pk);
	return PFL_OK;
}

/* count || count x (to, nonce, ct), ascending `to` = exactly N(u) ∩ U1 */
static pfl_err
recv_share(struct pfl_sa_server *s, uint32_t from, const uint8_t *msg,
           size_t len)
{
	const uint32_t *nb = nbrs(s, from);
	uint32_t count, want = count_nbrs_with(s, from, PFL_SA_ADVERTISE);
	uint32_t prev = 0, to;
	uint8_t *cts;
	long slot;

	if (len < 4 || (count = pfli_le32_get(msg)) != want ||
	    len != 4 + (size_t)count * PFL_SA_SHARE_REC_BYTES)
		return PFL_ERR_PROTO;
	for (uint32_t i = 0; i < count; i++) {
		to = pfli_le32_get(msg + 4 +
		                   (size_t)i * PFL_SA_SHARE_REC_BYTES);
		if (to <= prev || pfli_sa_find(nb, deg(s, from), to) < 0 ||
		    !has(s, to, PFL_SA_ADVERTISE))
			return PFL_ERR_PROTO;
		prev = to;
	}
	if ((cts = calloc((size_t)deg(s, from) + 1, SA_SHREC)) == NULL)
		return PFL_ERR_NOMEM;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *r = msg + 4 + (size_t)i * PFL_SA_SHARE_REC_BYTES;

		slot = pfli_sa_find(nb, deg(s, from), pfli_le32_get(r));
		memcpy(cts + (size_t)slot * SA_SHREC, r + 4, SA_SHREC);
	}
	s->cl[from - 1].cts = cts;
	return PFL_OK;
}

static pfl_err
recv_masked(struct pfl_sa_server *s, const uint8_t *msg, size_t len)
{
	uint32_t *acc = s->acc;
	size_t i;

	if (len / 4 != s->p.dim || len % 4 != 0)
		return PFL_ERR_PROTO;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (i = 0; i < s->p.dim; i++) {
		uint32_t w;

		memcpy(&w, msg + 4 * i, 4);
		acc[i] += w;
	}
#else
	for (i = 0; i < s->p.dim; i++)
		acc[i] += pfli_le32_get(msg + 4 * i);
#endif
	return PFL_OK;
}

static pfl_err
recv_consistency(struct pfl_sa_server *s, uint32_t from, const uint8_t *msg,
                 size_t len)
{
	if (len != SA_SIG)
		return PFL_ERR_PROTO;
	if (pfl_sig_verify(s->id_pks[from - 1], s->u3msg.data, s->u3msg.len,
	                   msg))
		return PFL_ERR_CRYPTO;
	memcpy(s->cl[from - 1].csig, msg, SA_SIG);
	return PFL_OK;
}

/* is id one of the ids whose shares `from` holds: from itself or N(from) */
static int
holds(const struct pfl_sa_server *s, uint32_t from, uint32_t id)
{
	return id == from || pfli_sa_find(nbrs(s, from), deg(s, from), id) >= 0;
}

/* count || (id, share)*: exactly U2 ∩ ({from} ∪ N(from)), ascending */
static pfl_err
recv_unmask(struct pfl_sa_server *s, uint32_t from, const uint8_t *msg,
            size_t len)
{
	uint32_t count, want, prev = 0, id;
	uint8_t *copy;

	want = count_nbrs_with(s, from, PFL_SA_SHARE) + 1; /* from is in U2 */
	if (len < 4 || (count = pfli_le32_get(msg)) != want ||
	    len != 4 + (size_t)count * PFL_SA_UNMASK_REC_BYTES)
		return PFL_ERR_PROTO;
	for (uint32_t i = 0; i < count; i++) {
		id = pfli_le32_get(msg + 4 +
		                   (size_t)i * PFL_SA_UNMASK_REC_BYTES);
		if (id <= prev || id > s->p.n || !holds(s, from, id) ||
		    !has(s, id, PFL_SA_SHARE))
			return PFL_ERR_PROTO;
		prev = id;
	}
	if ((copy = malloc(len - 4)) == NULL)
		return PFL_ERR_NOMEM;
	memcpy(copy, msg + 4, len - 4);
	s->cl[from - 1].unmask = copy;
	s->cl[from - 1].nunmask = count;
	return PFL_OK;
}

pfl_err
pfl_sa_server_recv(struct pfl_sa_server *s, enum pfl_sa_phase phase,
                   uint32_t from, const uint8_t *msg, size_t len)
{
	pfl_err err;

	if (s == NULL || (msg == NULL && len > 0))
		return PFL_ERR_INVAL;
	if (s->aborted)
		return PFL_ERR_ABORTED;
	if ((int)phase != s->open)
		return PFL_ERR_STATE;
	if (from == 0 || from > s->p.n)
		return PFL_ERR_AUTH;
	if (phase > PFL_SA_ADVERTISE && !has(s, from, (int)phase - 1))
		return PFL_ERR_AUTH;
	if (has(s, from, phase))
		return PFL_ERR_PROTO;
	switch (phase) {
	case PFL_SA_ADVERTISE:
		err = recv_advertise(s, from, msg, len);
		break;
	case PFL_SA_SHARE:
		err = recv_share(s, from, msg, len);
		break;
	case PFL_SA_MASKED:
		err = recv_masked(s, msg, len);
		break;
	case PFL_SA_CONSISTENCY:
		err = recv_consistency(s, from, msg, len);
		break;
	case PFL_SA_UNMASK:
		err = recv_unmask(s, from, msg, len);
		break;
	default:
		return PFL_ERR_STATE;
	}
	if (err == PFL_OK) {
		s->sent[from - 1] |= (uint8_t)SA_BIT(phase);
		s->count[phase]++;
	}
	return err;
}

uint32_t
pfl_sa_server_count(const struct pfl_sa_server *s, enum pfl_sa_phase phase)
{
	if (s == NULL || (unsigned)phase >= PFL_SA_PHASES)
		return 0;
	return s->count[phase];
}

/* The transcript of ADVERTISE fixes the graph key and so the graph. */
static pfl_err
close_advertise(struct pfl_sa_server *s)
{
	uint8_t *recs = malloc((size_t)s->count[0] * SA_DIGEST_REC + 1);
	uint32_t m = 0, *off = NULL, *adj = NULL;
	pfl_err err;

	if (recs == NULL)
		return PFL_ERR_NOMEM;
	for (uint32_t id = 1; id <= s->p.n; id++) {
		if (!has(s, id, PFL_SA_ADVERTISE))
			continue;
		pfli_le32_put(recs + (size_t)m * SA_DIGEST_REC, id);
		memcpy(recs + (size_t)m++ * SA_DIGEST_REC + 4,
		       s->cl[id - 1].digest, SA_DIGEST);
	}
	pfli_sa_transcript(s->tctx, &s->p, recs, m);
	free(recs);
	if ((err = pfli_sa_graph_build(&s->p, s->tctx, &off, &adj)) != PFL_OK)
		return err;
	free(s->off);
	free(s->adj);
	s->off = off;
	s->adj = adj;
	s->tmax = 1;
	for (uint32_t id = 1; id <= s->p.n; id++) {
		uint32_t t = pfl_sa_threshold(&s->p, deg(s, id));

		if (t > s->tmax)
			s->tmax = t;
	}
	return PFL_OK;
}

static pfl_err
close_masked(struct pfl_sa_server *s)
{
	uint32_t m = 0;

	free(s->u3);
	pfl_buf_clear(&s->u3msg);
	if ((s->u3 = malloc((size_t)s->count[PFL_SA_MASKED] * 4)) == NULL)
		return PFL_ERR_NOMEM;
	for (uint32_t id = 1; id <= s->p.n; id++)
		if (has(s, id, PFL_SA_MASKED))
			s->u3[m++] = id;
	s->nu3 = m;
	return pfli_sa_u3_msg(&s->u3msg, s->tctx, s->u3, m);
}

pfl_err
pfl_sa_server_close(struct pfl_sa_server *s, enum pfl_sa_phase phase)
{
	pfl_err err = PFL_OK;

	if (s == NULL)
		return PFL_ERR_INVAL;
	if (s->aborted)
		return PFL_ERR_ABORTED;
	if ((int)phase != s->open)
		return PFL_ERR_STATE;
	if (s->count[phase] < s->p.t)
		return server_abort(s);
	if (phase == PFL_SA_ADVERTISE)
		err = close_advertise(s);
	else if (phase == PFL_SA_MASKED)
		err = close_masked(s);
	else if (phase == PFL_SA_UNMASK)
		err = pfli_sa_server_unmask(s);
	if (err == PFL_ERR_NOMEM)
		return err; /* the phase stays open: retry */
	if (err != PFL_OK) {
		(void)server_abort(s);
		return err == PFL_ERR_CRYPTO ? err : PFL_ERR_ABORTED;
	}
	s->open++;
	if (phase == PFL_SA_UNMASK)
		free_client_state(s); /* shares are of no more use */
	return PFL_OK;
}

/* ---- outputs ---- */

static pfl_err
put32(struct pfl_buf *b, uint32_t v)
{
	uint8_t w[4];

	pfli_le32_put(w, v);
	return pfl_buf_append(b, w, 4);
}

/* the certificate of id, or its bare identity key padded with zeros */
static pfl_err
put_cert(const struct pfl_sa_server *s, uint32_t id, struct pfl_buf *b)
{
	static const uint8_t zero[PFL_SA_CERT_BYTES - 32];
	pfl_err err;

	if (s->certs != NULL)
		return pfl_buf_append(b, s->certs[id - 1], PFL_SA_CERT_BYTES);
	if ((err = pfl_buf_append(b, s->id_pks[id - 1], 32)))
		return err;
	return pfl_buf_append(b, zero, sizeof(zero));
}

static pfl_err
out_advertise(const struct pfl_sa_server *s, uint32_t to, struct pfl_buf *b)
{
	const uint32_t *nb = nbrs(s, to);
	uint32_t m = count_nbrs_with(s, to, PFL_SA_ADVERTISE);
	uint32_t all = s->count[PFL_SA_ADVERTISE];
	pfl_err err;

	if ((err = pfl_buf_reserve(b,
	                           8 + (size_t)all * SA_DIGEST_REC +
	                                   (size_t)m * PFL_SA_ADV_REC_BYTES)) ||
	    (err = put32(b, all)))
		return err;
	/* the transcript: every advertiser */
	for (uint32_t id = 1; id <= s->p.n; id++) {
		if (!has(s, id, PFL_SA_ADVERTISE))
			continue;
		if ((err = put32(b, id)) ||
		    (err = pfl_buf_append(b, s->cl[id - 1].digest, SA_DIGEST)))
			return err;
	}
	/* the adverts of the advertised neighbours */
	if ((err = put32(b, m)))
		return err;
	for (uint32_t i = 0; i < deg(s, to); i++) {
		const struct sa_srv_client *c = &s->cl[nb[i] - 1];

		if (!has(s, nb[i], PFL_SA_ADVERTISE))
			continue;
		if ((err = put32(b, nb[i])) || (err = put_cert(s, nb[i], b)) ||
		    (err = pfl_buf_append(b, c->c_pk, SA_KEY)) ||
		    (err = pfl_buf_append(b, c->s_pk, SA_KEY)) ||
		    (err = pfl_buf_append(b, c->adv_sig, SA_SIG)))
			return err;
	}
	return PFL_OK;
}

static pfl_err
out_share(const struct pfl_sa_server *s, uint32_t to, struct pfl_buf *b)
{
	const uint32_t *nb = nbrs(s, to);
	uint32_t m = count_nbrs_with(s, to, PFL_SA_SHARE);
	pfl_err err;
	long slot;

	if ((err = pfl_buf_reserve(b,
	                           4 + (size_t)m * PFL_SA_SHARE_REC_BYTES)) ||
	    (err = put32(b, m)))
		return err;
	for (uint32_t i = 0; i < deg(s, to); i++) {
		uint32_t v = nb[i];

		if (!has(s, v, PFL_SA_SHARE))
			continue;
		slot = pfli_sa_find(nbrs(s, v), deg(s, v), to);
		if (slot < 0 || s->cl[v - 1].cts == NULL)
			return PFL_ERR_STATE; /* not reached: recv checked */
		if ((err = put32(b, v)) ||
		    (err = pfl_buf_append(
		             b, s->cl[v - 1].cts + (size_t)slot * SA_SHREC,
		             SA_SHREC)))
			return err;
	}
	return PFL_OK;
}

static pfl_err
out_masked(const struct pfl_sa_server *s, struct pfl_buf *b)
{
	pfl_err err;

	if ((err = pfl_buf_reserve(b, 4 + (size_t)s->nu3 * 4)) ||
	    (err = put32(b, s->nu3)))
		return err;
	for (uint32_t i = 0; i < s->nu3; i++)
		if ((err = put32(b, s->u3[i])))
			return err;
	return PFL_OK;
}

static pfl_err
out_consistency(const struct pfl_sa_server *s, uint32_t to, struct pfl_buf *b)
{
	const uint32_t *nb = nbrs(s, to);
	uint32_t m = count_nbrs_with(s, to, PFL_SA_CONSISTENCY);
	pfl_err err;

	if ((err = pfl_buf_reserve(b, 4 + (size_t)m * PFL_SA_SIG_REC_BYTES)) ||
	    (err = put32(b, m)))
		return err;
	for (uint32_t i = 0; i < deg(s, to); i++) {
		if (!has(s, nb[i], PFL_SA_CONSISTENCY))
			continue;
		if ((err = put32(b, nb[i])) ||
		    (err = pfl_buf_append(b, s->cl[nb[i] - 1].csig, SA_SIG)))
			return err;
	}
	return PFL_OK;
}

pfl_err
pfl_sa_server_output(const struct pfl_sa_server *s, enum pfl_sa_phase phase,
                     uint32_t to, struct pfl_buf *out)
{
	size_t len0;
	pfl_err err;

	if (s == NULL || out == NULL || (unsigned)phase >= PFL_SA_UNMASK ||
	    to == 0 || to > s->p.n)
		return PFL_ERR_INVAL;
	if (s->aborted)
		return PFL_ERR_ABORTED;
	if ((int)phase >= s->open)
		return PFL_ERR_AGAIN;
	if (!has(s, to, phase))
		return PFL_ERR_AUTH;
	len0 = out->len;
	switch (phase) {
	case PFL_SA_ADVERTISE:
		err = out_advertise(s, to, out);
		break;
	case PFL_SA_SHARE:
		err = out_share(s, to, out);
		break;
	case PFL_SA_MASKED:
		err = out_masked(s, out);
		break;
	default:
		err = out_consistency(s, to, out);
		break;
	}
	if (err != PFL_OK)
		out->len = len0;
	return err;
}

pfl_err
pfl_sa_server_result(const struct pfl_sa_server *s, uint32_t *sum,
                     uint32_t *survivors, uint32_t *nsurvivors)
{
	if (s == NULL)
		return PFL_ERR_INVAL;
	if (s->aborted)
		return PFL_ERR_ABORTED;
	if (s->open != PFL_SA_PHASES)
		return PFL_ERR_STATE;
	if (sum != NULL)
		memcpy(sum, s->acc, s->p.dim * sizeof(*sum));
	if (survivors != NULL)
		memcpy(survivors, s->u3, (size_t)s->nu3 * 4);
	if (nsurvivors != NULL)
		*nsurvivors = s->nu3;
	return PFL_OK;
}

static int
mem_contains(const void *hay, size_t hlen, const uint8_t *needle, size_t len)
{
	const uint8_t *h = hay;

	if (hay == NULL || len == 0 || hlen < len)
		return 0;
	for (size_t i = 0; i + len <= hlen; i++)
		if (h[i] == needle[0] && memcmp(h + i, needle, len) == 0)
			return 1;
	return 0;
}

int
pfli_sa_server_contains(const struct pfl_sa_server *s, const uint8_t *needle,
                        size_t len)
{
	if (mem_contains(s->acc, s->p.dim * 4, needle, len) ||
	    mem_contains(s->u3msg.data, s->u3msg.len, needle, len) ||
	    mem_contains(s->cl, (size_t)s->p.n * sizeof(*s->cl), needle, len))
		return 1;
	for (uint32_t i = 0; i < s->p.n; i++) {
		const struct sa_srv_client *c = &s->cl[i];

		if (mem_contains(c->cts,
		                 c->cts ? (size_t)deg(s, i + 1) * SA_SHREC : 0,
		                 needle, len) ||
		    mem_contains(c->unmask,
		                 (size_t)c->nunmask * PFL_SA_UNMASK_REC_BYTES,
		                 needle, len))
			return 1;
	}
	return 0;
}

pfl_err
pfl_sa_server_neighbours(const struct pfl_sa_server *s, uint32_t id,
                         uint32_t *out, uint32_t cap, uint32_t *count)
{
	if (s == NULL || out == NULL || count == NULL || id == 0 || id > s->p.n)
		return PFL_ERR_INVAL;
	if (s->aborted)
		return PFL_ERR_ABORTED;
	if (s->off == NULL)
		return PFL_ERR_AGAIN;
	if (deg(s, id) > cap)
		return PFL_ERR_TOOBIG;
	memcpy(out, nbrs(s, id), (size_t)deg(s, id) * sizeof(*out));
	*count = deg(s, id);
	return PFL_OK;
}

pfl_err
pfli_sa_server_tctx(const struct pfl_sa_server *s, uint8_t ctx[32])
{
	if (s->off == NULL)
		return PFL_ERR_AGAIN;
	memcpy(ctx, s->tctx, 32);
	return PFL_OK;
}

pfl_err
pfl_sa_server_set_certs(struct pfl_sa_server *s,
                        const uint8_t (*certs)[PFL_SA_CERT_BYTES])
{
	if (s == NULL || certs == NULL)
		return PFL_ERR_INVAL;
	if (s->open > PFL_SA_ADVERTISE || s->aborted)
		return PFL_ERR_STATE;
	for (uint32_t i = 0; i < s->p.n; i++)
		if (sodium_memcmp(certs[i], s->id_pks[i], 32) != 0)
			return PFL_ERR_INVAL;
	if (s->certs == NULL &&
	    (s->certs = malloc((size_t)s->p.n * PFL_SA_CERT_BYTES)) == NULL)
		return PFL_ERR_NOMEM;
	memcpy(s->certs, certs, (size_t)s->p.n * PFL_SA_CERT_BYTES);
	return PFL_OK;
}
