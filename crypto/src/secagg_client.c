/*
 * SecAgg client state machine (privfl/secagg.h, docs/SECAGG.md).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/enroll.h"
#include "privfl/identity.h"
#include "privfl/shamir.h"
#include "secagg_int.h"

_Static_assert(PFL_SA_CERT_BYTES == PFL_ENROLL_CERT_BYTES, "cert size");

/* what this client knows about a neighbour */
#define NB_PINNED 0x01 /* id_pk given by the caller */
#define NB_U1     0x02 /* advertised: keys known */
#define NB_U2     0x04 /* sent us its shares */
#define NB_U3     0x08 /* its masked input is in (server's list) */

struct sa_nb {
	uint8_t flags;
	uint8_t id_pk[32];
	uint8_t c_pk[SA_KEY], s_pk[SA_KEY];
};

struct sa_secret { /* sodium_malloc */
	uint8_t c_sk[SA_KEY], s_sk[SA_KEY], b[SA_KEY];
	uint8_t own[SA_PT]; /* our own shares of b and s_sk (x = my id) */
};

struct pfl_sa_client {
	struct pfl_sa_params p;
	uint32_t me_id;
	const struct pfl_identity *me;
	uint8_t (*pinned)[32]; /* n identity keys, or NULL */
	int need_cert;         /* neighbours need enrollment certificates */
	uint8_t auth_pk[32], fed_hash[32];
	uint64_t now;
	uint8_t tctx[32]; /* graph key: binds everything after ADVERTISE */
	uint32_t deg;     /* neighbours (known after ADVERTISE) */
	uint32_t t;       /* our threshold, pfl_sa_threshold(deg) */
	uint32_t *nb_ids; /* deg, ascending */
	struct sa_nb *nb; /* deg */
	struct sa_secret *sec;
	uint8_t (*held)[SA_PT]; /* deg, shares from neighbours, sodium_malloc */
	uint8_t c_pk[SA_KEY], s_pk[SA_KEY];
	const uint32_t *x;
	int next; /* next phase; PFL_SA_PHASES when done */
	int aborted;
	int in_u3;
	int nomask; /* benchmark hook: MASKED without the vector */
	struct pfl_buf u3msg;
};

pfl_err
pfl_sa_client_new(const struct pfl_sa_params *p, uint32_t my_id,
                  const struct pfl_identity *me,
                  const uint8_t (*peer_identity_pks)[32],
                  struct pfl_sa_client **out)
{
	struct pfl_sa_client *c;
	pfl_err err = PFL_ERR_NOMEM;

	if (out == NULL || me == NULL || pfl_sa_params_check(p) != PFL_OK ||
	    my_id == 0 || my_id > p->n)
		return PFL_ERR_INVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PFL_ERR_NOMEM;
	c->p = *p;
	c->me_id = my_id;
	c->me = me;
	pfl_buf_init(&c->u3msg, 0);
	c->sec = sodium_malloc(sizeof(*c->sec));
	if (c->sec == NULL)
		goto out_free;
	sodium_memzero(c->sec, sizeof(*c->sec));
	if (peer_identity_pks != NULL) {
		if ((c->pinned = malloc((size_t)p->n * 32)) == NULL)
			goto out_free;
		memcpy(c->pinned, peer_identity_pks, (size_t)p->n * 32);
	}
	*out = c;
	return PFL_OK;
out_free:
	pfl_sa_client_free(c);
	return err;
}

static void
wipe_secrets(struct pfl_sa_client *c)
{
	if (c->sec != NULL)
		sodium_memzero(c->sec, sizeof(*c->sec));
	if (c->held != NULL)
		sodium_memzero(c->held, (size_t)c->deg * SA_PT);
}

void
pfl_sa_client_free(struct pfl_sa_client *c)
{
	if (c == NULL)
		return;
	sodium_free(c->sec); /* wipes */
	sodium_free(c->held);
	free(c->nb_ids);
	free(c->nb);
	free(c->pinned);
	pfl_buf_fini(&c->u3msg);
	free(c);
}

pfl_err
pfl_sa_client_set_authority(struct pfl_sa_client *c,
                            const uint8_t authority_pk[32],
                            const uint8_t fed_hash[32], uint64_t now)
{
	if (c == NULL || authority_pk == NULL || fed_hash == NULL)
		return PFL_ERR_INVAL;
	if (c->next > PFL_SA_ADVERTISE + 1 || c->aborted)
		return PFL_ERR_STATE;
	memcpy(c->auth_pk, authority_pk, 32);
	memcpy(c->fed_hash, fed_hash, 32);
	c->now = now;
	c->need_cert = 1;
	return PFL_OK;
}

void
pfl_sa_client_set_input(struct pfl_sa_client *c, const uint32_t *x)
{
	if (c != NULL)
		c->x = x;
}

static long
nb_index(const struct pfl_sa_client *c, uint32_t id)
{
	return pfli_sa_find(c->nb_ids, c->deg, id);
}

/* Parse "count || count records of size rec" with ascending ids among our
 * neighbours: returns the count or -1. */
static long
parse_list(const struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
           size_t rec)
{
	uint32_t count, prev = 0, id;

	if (in == NULL || inlen < 4)
		return -1;
	count = pfli_le32_get(in);
	if (count > c->deg || inlen != 4 + (size_t)count * rec)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		id = pfli_le32_get(in + 4 + (size_t)i * rec);
		if (id <= prev || nb_index(c, id) < 0)
			return -1;
		prev = id;
	}
	return (long)count;
}

/* ---- ADVERTISE: fresh key pairs, signed ---- */

static pfl_err
step_advertise(struct pfl_sa_client *c, struct pfl_buf *out)
{
	uint8_t m[SA_ADV_MSG], sig[SA_SIG];
	pfl_err err;

	if (crypto_kx_keypair(c->c_pk, c->sec->c_sk) != 0 ||
	    crypto_kx_keypair(c->s_pk, c->sec->s_sk) != 0)
		return PFL_ERR_CRYPTO;
	pfli_sa_adv_msg(m, c->p.round_ctx, c->me_id, c->c_pk, c->s_pk);
	if ((err = pfl_identity_sign(c->me, m, sizeof(m), sig)) != PFL_OK)
		return err;
	if ((err = pfl_buf_append(out, c->c_pk, SA_KEY)) ||
	    (err = pfl_buf_append(out, c->s_pk, SA_KEY)) ||
	    (err = pfl_buf_append(out, sig, SA_SIG)))
		return err;
	return PFL_OK;
}

/* ---- SHARE: check the adverts, share b and s_sk, encrypt ---- */

/* the digest listed for id in the transcript records, or NULL */
static const uint8_t *
find_digest(const uint8_t *recs, uint32_t count, uint32_t id)
{
	uint32_t lo = 0, hi = count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t v = pfli_le32_get(recs + (size_t)mid * SA_DIGEST_REC);

		if (v < id)
			lo = mid + 1;
		else if (v > id)
			hi = mid;
		else
			return recs + (size_t)mid * SA_DIGEST_REC + 4;
	}
	return NULL;
}

/* transcript: count || (id, digest)*, ascending, our own advert in it */
static pfl_err
take_transcript(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
                uint32_t *count)
{
	uint8_t mine[SA_DIGEST];
	const uint8_t *d;
	uint32_t cnt, prev = 0;

	if (in == NULL || inlen < 8)
		return PFL_ERR_PROTO;
	cnt = pfli_le32_get(in);
	if (cnt > c->p.n || inlen < 8 + (size_t)cnt * SA_DIGEST_REC)
		return PFL_ERR_PROTO;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t id = pfli_le32_get(in + 4 + (size_t)i * SA_DIGEST_REC);

		if (id <= prev || id > c->p.n)
			return PFL_ERR_PROTO;
		prev = id;
	}
	pfli_sa_adv_digest(mine, c->me_id, c->c_pk, c->s_pk);
	d = find_digest(in + 4, cnt, c->me_id);
	if (d == NULL || sodium_memcmp(d, mine, SA_DIGEST) != 0)
		return PFL_ERR_CRYPTO; /* our keys are not the ones used */
	pfli_sa_transcript(c->tctx, &c->p, in + 4, cnt);
	*count = cnt;
	return PFL_OK;
}

/* our neighbours in the graph the transcript fixes */
static pfl_err
take_graph(struct pfl_sa_client *c)
{
	uint32_t *row = malloc((size_t)c->p.n * sizeof(*row)), deg = 0;
	pfl_err err = PFL_ERR_NOMEM;

	if (row == NULL)
		return PFL_ERR_NOMEM;
	if ((err = pfli_sa_graph_row(&c->p, c->tctx, c->me_id, row, &deg)))
		goto out;
	err = PFL_ERR_NOMEM;
	c->nb_ids = malloc(((size_t)deg + 1) * sizeof(*c->nb_ids));
	c->nb = calloc((size_t)deg + 1, sizeof(*c->nb));
	c->held = sodium_allocarray((size_t)deg + 1, SA_PT);
	if (c->nb_ids == NULL || c->nb == NULL || c->held == NULL)
		goto out;
	c->deg = deg;
	memcpy(c->nb_ids, row, (size_t)deg * sizeof(*row));
	c->t = pfl_sa_threshold(&c->p, deg);
	for (uint32_t i = 0; c->pinned != NULL && i < deg; i++) {
		memcpy(c->nb[i].id_pk, c->pinned[row[i] - 1], 32);
		c->nb[i].flags = NB_PINNED;
	}
	err = PFL_OK;
out:
	free(row);
	return err;
}

/*
 * The advert broadcast: the transcript (every advertiser's id and advert
 * digest), then the full adverts of exactly our advertised neighbours.
 */
static pfl_err
take_adverts(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
             uint32_t *n1)
{
	uint8_t m[SA_ADV_MSG], dg[SA_DIGEST];
	uint32_t nall, want = 0;
	const uint8_t *recs;
	size_t off;
	long count;
	pfl_err err;

	if ((err = take_transcript(c, in, inlen, &nall)) != PFL_OK ||
	    (err = take_graph(c)) != PFL_OK)
		return err;
	off = 4 + (size_t)nall * SA_DIGEST_REC;
	count = parse_list(c, in + off, inlen - off, PFL_SA_ADV_REC_BYTES);
	for (uint32_t i = 0; i < c->deg; i++)
		want += find_digest(in + 4, nall, c->nb_ids[i]) != NULL;
	if (count < 0 || (uint32_t)count != want)
		return PFL_ERR_PROTO;
	recs = in + off + 4;
	for (long i = 0; i < count; i++) {
		const uint8_t *r = recs + (size_t)i * PFL_SA_ADV_REC_BYTES;
		uint32_t id = pfli_le32_get(r);
		struct sa_nb *nb = &c->nb[nb_index(c, id)];
		const uint8_t *d = find_digest(in + 4, nall, id);

		if (d == NULL)
			return PFL_ERR_PROTO;
		pfli_sa_adv_digest(dg, id, r + SA_R_CPK, r + SA_R_SPK);
		if (sodium_memcmp(dg, d, SA_DIGEST) != 0)
			return PFL_ERR_CRYPTO;
		if ((nb->flags & NB_PINNED) &&
		    sodium_memcmp(nb->id_pk, r + SA_R_CERT, 32) != 0)
			return PFL_ERR_CRYPTO;
		/* the key is the neighbour's only if the authority says so */
		if (c->need_cert &&
		    pfl_enroll_cert_verify(c->auth_pk, c->fed_hash,
		                           r + SA_R_CERT, c->now,
		                           NULL) != PFL_OK)
			return PFL_ERR_CRYPTO;
		pfli_sa_adv_msg(m, c->p.round_ctx, id, r + SA_R_CPK,
		                r + SA_R_SPK);
		if (pfl_sig_verify(r + SA_R_CERT, m, sizeof(m), r + SA_R_SIG) !=
		    PFL_OK)
			return PFL_ERR_CRYPTO;
		memcpy(nb->id_pk, r + SA_R_CERT, 32);
		memcpy(nb->c_pk, r + SA_R_CPK, SA_KEY);
		memcpy(nb->s_pk, r + SA_R_SPK, SA_KEY);
		nb->flags |= NB_U1;
	}
	*n1 = (uint32_t)count;
	return PFL_OK;
}

/* xs = {me} ∪ (U1 neighbours), ascending; returns the count */
static uint32_t
holders_u1(const struct pfl_sa_client *c, uint32_t *xs)
{
	uint32_t m = 0, i = 0;

	for (; i < c->deg && c->nb_ids[i] < c->me_id; i++)
		if (c->nb[i].flags & NB_U1)
			xs[m++] = c->nb_ids[i];
	xs[m++] = c->me_id;
	for (; i < c->deg; i++)
		if (c->nb[i].flags & NB_U1)
			xs[m++] = c->nb_ids[i];
	return m;
}

static pfl_err
encrypt_share(const struct pfl_sa_client *c, uint32_t to, const uint8_t *pt,
              struct pfl_buf *out)
{
	const struct sa_nb *nb = &c->nb[nb_index(c, to)];
	uint8_t key[SA_KEY], ad[SA_AD], rec[PFL_SA_SHARE_REC_BYTES];
	pfl_err err;

	err = pfli_sa_share_key(key, c->sec->c_sk, nb->c_pk, c->tctx, c->me_id,
	                        to);
	if (err != PFL_OK)
		goto out;
	pfli_le32_put(rec, to);
	randombytes_buf(rec + 4, SA_NONCE);
	pfli_sa_share_ad(ad, c->tctx, c->me_id, to);
	crypto_aead_xchacha20poly1305_ietf_encrypt(rec + 4 + SA_NONCE, NULL, pt,
	                                           SA_PT, ad, sizeof(ad), NULL,
	                                           rec + 4, key);
	err = pfl_buf_append(out, rec, sizeof(rec));
out:
	sodium_memzero(key, sizeof(key));
	return err;
}

static pfl_err
step_share(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
           struct pfl_buf *out)
{
	uint32_t *xs = NULL, n1, m;
	uint8_t(*bs)[64] = NULL, (*ss)[64] = NULL, pt[SA_PT];
	uint8_t w[4];
	pfl_err err;

	if ((err = take_adverts(c, in, inlen, &n1)) != PFL_OK)
		return err;
	if (c->t < 2 || n1 + 1 < c->t)
		return PFL_ERR_ABORTED;
	xs = malloc(((size_t)n1 + 1) * sizeof(*xs));
	bs = sodium_allocarray((size_t)n1 + 1, 64);
	ss = sodium_allocarray((size_t)n1 + 1, 64);
	err = PFL_ERR_NOMEM;
	if (xs == NULL || bs == NULL || ss == NULL)
		goto out;
	m = holders_u1(c, xs);
	randombytes_buf(c->sec->b, SA_KEY);
	if ((err = pfl_shamir_split(c->sec->b, c->t, xs, m, NULL, bs)) ||
	    (err = pfl_shamir_split(c->sec->s_sk, c->t, xs, m, NULL, ss)))
		goto out;
	pfli_le32_put(w, n1);
	if ((err = pfl_buf_reserve(out,
	                           4 + (size_t)n1 * PFL_SA_SHARE_REC_BYTES)) ||
	    (err = pfl_buf_append(out, w, 4)))
		goto out;
	for (uint32_t i = 0; i < m; i++) {
		memcpy(pt, bs[i], 64);
		memcpy(pt + 64, ss[i], 64);
		if (xs[i] == c->me_id)
			memcpy(c->sec->own, pt, SA_PT);
		else if ((err = encrypt_share(c, xs[i], pt, out)) != PFL_OK)
			goto out;
	}
	err = PFL_OK;
out:
	sodium_memzero(pt, sizeof(pt));
	free(xs);
	sodium_free(bs);
	sodium_free(ss);
	return err;
}

/* ---- MASKED: decrypt the shares we hold, mask the input ---- */

static pfl_err
take_shares(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
            uint32_t *n2)
{
	uint8_t key[SA_KEY], ad[SA_AD];
	long count = parse_list(c, in, inlen, PFL_SA_SHARE_REC_BYTES);
	pfl_err err = PFL_ERR_PROTO;

	if (count < 0)
		return PFL_ERR_PROTO;
	for (long i = 0; i < count; i++) {
		const uint8_t *r = in + 4 + (size_t)i * PFL_SA_SHARE_REC_BYTES;
		uint32_t from = pfli_le32_get(r);
		long j = nb_index(c, from);

		err = PFL_ERR_PROTO;
		if (!(c->nb[j].flags & NB_U1))
			goto out;
		err = pfli_sa_share_key(key, c->sec->c_sk, c->nb[j].c_pk,
		                        c->tctx, from, c->me_id);
		if (err != PFL_OK)
			goto out;
		pfli_sa_share_ad(ad, c->tctx, from, c->me_id);
		err = PFL_ERR_CRYPTO;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		            c->held[j], NULL, NULL, r + 4 + SA_NONCE, SA_CT, ad,
		            sizeof(ad), r + 4, key) != 0)
			goto out;
		c->nb[j].flags |= NB_U2;
	}
	*n2 = (uint32_t)count;
	err = PFL_OK;
out:
	sodium_memzero(key, sizeof(key));
	return err;
}

static pfl_err
mask_seeds(const struct pfl_sa_client *c, struct pfli_sa_seed *seeds,
           size_t *ns)
{
	size_t m = 0;
	pfl_err err;

	memcpy(seeds[m].seed, c->sec->b, SA_KEY);
	seeds[m++].sign = 1;
	for (uint32_t i = 0; i < c->deg; i++) {
		uint32_t v = c->nb_ids[i];

		if (!(c->nb[i].flags & NB_U2))
			continue;
		err = pfli_sa_pair_seed(seeds[m].seed, c->sec->s_sk,
		                        c->nb[i].s_pk, c->tctx, c->me_id, v);
		if (err != PFL_OK)
			return err;
		seeds[m++].sign = c->me_id < v ? 1 : -1;
	}
	*ns = m;
	return PFL_OK;
}

static pfl_err
write_masked(const struct pfl_sa_client *c, const struct pfli_sa_seed *seeds,
             size_t ns, uint32_t *blk, struct pfl_buf *out)
{
	uint8_t *dst;
	size_t off, m, i;
	pfl_err err;

	if ((err = pfl_buf_reserve(out, 4 * c->p.dim)) != PFL_OK)
		return err;
	dst = out->data + out->len;
	for (off = 0; off < c->p.dim; off += m) {
		m = c->p.dim - off < SA_BLOCK_WORDS ? c->p.dim - off
		                                    : SA_BLOCK_WORDS;
		memcpy(blk, c->x + off, m * 4);
		pfli_sa_apply_block(blk, m, off, seeds, ns);
		for (i = 0; i < m; i++)
			pfli_le32_put(dst + 4 * (off + i), blk[i]);
	}
	out->len += 4 * c->p.dim;
	return PFL_OK;
}

static pfl_err
step_masked(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
            struct pfl_buf *out)
{
	struct pfli_sa_seed *seeds = NULL;
	uint32_t *blk = NULL, n2;
	size_t ns = 0;
	pfl_err err;

	if ((err = take_shares(c, in, inlen, &n2)) != PFL_OK)
		return err;
	if (n2 + 1 < c->t)
		return PFL_ERR_ABORTED;
	seeds = sodium_allocarray((size_t)n2 + 1, sizeof(*seeds));
	blk = sodium_allocarray(SA_BLOCK_WORDS, sizeof(*blk));
	err = PFL_ERR_NOMEM;
	if (seeds == NULL || blk == NULL)
		goto out;
	if ((err = mask_seeds(c, seeds, &ns)) != PFL_OK)
		goto out;
	err = c->nomask ? PFL_OK : write_masked(c, seeds, ns, blk, out);
out:
	sodium_free(seeds);
	sodium_free(blk);
	return err;
}

/* ---- CONSISTENCY: check and sign the survivor list ---- */

static pfl_err
step_consistency(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
                 struct pfl_buf *out)
{
	uint32_t count, prev = 0, id, *ids = NULL, have = 0;
	uint8_t sig[SA_SIG];
	pfl_err err = PFL_ERR_PROTO;
	long j;

	if (in == NULL || inlen < 4)
		return PFL_ERR_PROTO;
	count = pfli_le32_get(in);
	if (count > c->p.n || inlen != 4 + (size_t)count * 4)
		return PFL_ERR_PROTO;
	if ((ids = malloc(((size_t)count + 1) * 4)) == NULL)
		return PFL_ERR_NOMEM;
	for (uint32_t i = 0; i < count; i++) {
		id = ids[i] = pfli_le32_get(in + 4 + 4 * (size_t)i);
		if (id <= prev || id > c->p.n)
			goto out;
		prev = id;
		if (id == c->me_id) {
			c->in_u3 = 1;
			have++;
		} else if ((j = nb_index(c, id)) >= 0) {
			/* a survivor of MASKED must have shared with us */
			if (!(c->nb[j].flags & NB_U2))
				goto out;
			c->nb[j].flags |= NB_U3;
			have++;
		}
	}
	err = PFL_ERR_ABORTED;
	if (!c->in_u3 || have < c->t)
		goto out;
	if ((err = pfli_sa_u3_msg(&c->u3msg, c->tctx, ids, count)) ||
	    (err = pfl_identity_sign(c->me, c->u3msg.data, c->u3msg.len,
	                             sig)) ||
	    (err = pfl_buf_append(out, sig, SA_SIG)))
		goto out;
	err = PFL_OK;
out:
	free(ids);
	return err;
}

/* ---- UNMASK: check the signatures, reveal one share per holder ---- */

static pfl_err
check_sigs(struct pfl_sa_client *c, const uint8_t *in, size_t inlen)
{
	long count = parse_list(c, in, inlen, PFL_SA_SIG_REC_BYTES);

	if (count < 0)
		return PFL_ERR_PROTO;
	for (long i = 0; i < count; i++) {
		const uint8_t *r = in + 4 + (size_t)i * PFL_SA_SIG_REC_BYTES;
		const struct sa_nb *nb = &c->nb[nb_index(c, pfli_le32_get(r))];

		if (!(nb->flags & NB_U3))
			return PFL_ERR_PROTO;
		if (pfl_sig_verify(nb->id_pk, c->u3msg.data, c->u3msg.len,
		                   r + 4) != PFL_OK)
			return PFL_ERR_CRYPTO;
	}
	/* signers plus ourselves */
	return (uint32_t)count + 1 < c->t ? PFL_ERR_ABORTED : PFL_OK;
}

static pfl_err
put_share(struct pfl_buf *out, uint32_t id, const uint8_t *share)
{
	uint8_t w[4];
	pfl_err err;

	pfli_le32_put(w, id);
	if ((err = pfl_buf_append(out, w, 4)))
		return err;
	return pfl_buf_append(out, share, PFL_SHAMIR_SHARE_BYTES);
}

static pfl_err
step_unmask(struct pfl_sa_client *c, const uint8_t *in, size_t inlen,
            struct pfl_buf *out)
{
	uint32_t m = 1, i;
	uint8_t w[4];
	pfl_err err;

	if ((err = check_sigs(c, in, inlen)) != PFL_OK)
		return err;
	for (i = 0; i < c->deg; i++)
		m += (c->nb[i].flags & NB_U2) != 0;
	pfli_le32_put(w, m);
	if ((err = pfl_buf_reserve(out, 4 + (size_t)m * 68)) ||
	    (err = pfl_buf_append(out, w, 4)))
		return err;
	for (i = 0; i <= c->deg; i++) {
		/* our own b share goes between the smaller and larger ids */
		if ((i == c->deg || c->nb_ids[i] > c->me_id) &&
		    (i == 0 || c->nb_ids[i - 1] < c->me_id) &&
		    (err = put_share(out, c->me_id, c->sec->own)))
			return err;
		if (i == c->deg || !(c->nb[i].flags & NB_U2))
			continue;
		/* survivors: their b share; dropped: their s_sk share */
		err = put_share(out, c->nb_ids[i],
		                c->held[i] +
		                        ((c->nb[i].flags & NB_U3) ? 0 : 64));
		if (err != PFL_OK)
			return err;
	}
	return PFL_OK;
}

pfl_err
pfl_sa_client_step(struct pfl_sa_client *c, enum pfl_sa_phase phase,
                   const uint8_t *in, size_t inlen, struct pfl_buf *out)
{
	size_t len0;
	pfl_err err;

	if (c == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if (c->aborted)
		return PFL_ERR_ABORTED;
	if ((int)phase != c->next)
		return PFL_ERR_STATE;
	if (phase == PFL_SA_MASKED && c->x == NULL)
		return PFL_ERR_STATE;
	len0 = out->len;
	switch (phase) {
	case PFL_SA_ADVERTISE:
		err = step_advertise(c, out);
		break;
	case PFL_SA_SHARE:
		err = step_share(c, in, inlen, out);
		break;
	case PFL_SA_MASKED:
		err = step_masked(c, in, inlen, out);
		break;
	case PFL_SA_CONSISTENCY:
		err = step_consistency(c, in, inlen, out);
		break;
	default:
		err = step_unmask(c, in, inlen, out);
		break;
	}
	if (err != PFL_OK) {
		out->len = len0;
		c->aborted = 1;
		wipe_secrets(c);
		return err;
	}
	c->next++;
	if (phase == PFL_SA_MASKED) {
		/* b, s_sk, c_sk are shared or used: only shares remain */
		sodium_memzero(c->sec->c_sk, SA_KEY);
		sodium_memzero(c->sec->s_sk, SA_KEY);
		sodium_memzero(c->sec->b, SA_KEY);
		c->x = NULL;
	} else if (phase == PFL_SA_UNMASK) {
		wipe_secrets(c);
	}
	return PFL_OK;
}

pfl_err
pfli_sa_client_step_nomask(struct pfl_sa_client *c, const uint8_t *in,
                           size_t inlen)
{
	struct pfl_buf none;
	pfl_err err;

	pfl_buf_init(&none, 1);
	c->nomask = 1;
	err = pfl_sa_client_step(c, PFL_SA_MASKED, in, inlen, &none);
	c->nomask = 0;
	pfl_buf_fini(&none);
	return err;
}

pfl_err
pfli_sa_client_held(const struct pfl_sa_client *c, uint32_t id,
                    uint8_t out[SA_PT])
{
	long j = c->nb_ids ? nb_index(c, id) : -1;

	if (j < 0 || !(c->nb[j].flags & NB_U2))
		return PFL_ERR_INVAL;
	memcpy(out, c->held[j], SA_PT);
	return PFL_OK;
}
