/*
 * SecAgg / SecAgg+ state machines: exactness with dropouts at every phase
 * (bit for bit against the plain sum of the survivors), threshold aborts,
 * tampering, and the privacy properties a test can check.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "test_secagg_harness.c"

#include "../crypto/src/secagg_int.h" /* pfli_sa_server_contains */
#include "privfl/rng.h"

/* what the rule chooses for n = 1000, 5% / 5%, min_sum 10 */
#define SA_K1000 66
#define SA_T1000 47

static void
params_for(struct pfl_sa_params *p, enum pfl_sa_mode mode, uint32_t n,
           size_t dim, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->n = n;
	p->dim = dim;
	/* Below 20 clients 5% is a fraction of a client, which counts as a
	 * whole colluder (pfl_sa_colluders): these small cohorts test the
	 * protocol's correctness with none corrupt. */
	assert_int_equal(pfl_sa_choose_params(mode, n, 0.05,
	                                      n < 20 ? 0.0 : 0.05, &p->k,
	                                      &p->t),
	                 PFL_OK);
	memcpy(p->round_ctx, &seed, sizeof(seed));
	p->graph_seed[0] = (uint8_t)seed;
}

/* offset of the neighbour adverts in an advert broadcast (after the
 * transcript and the count) */
static size_t
adv_off(const struct pfl_buf *in)
{
	return 8 + (size_t)pfli_le32_get(in->data) * PFL_SA_DIGEST_REC_BYTES;
}

/* run one round; check the result against the plain sum */
static void
check_round(struct sah *h)
{
	uint32_t *sum = malloc(h->p.dim * 4), *want = malloc(h->p.dim * 4);
	uint32_t *ids = malloc(h->p.n * 4), *wids = malloc(h->p.n * 4);
	uint32_t m = 0, wm = 0;

	assert_non_null(sum);
	assert_non_null(want);
	assert_non_null(ids);
	assert_non_null(wids);
	assert_int_equal(sah_run(h), PFL_OK);
	assert_int_equal(pfl_sa_server_result(h->server, sum, ids, &m), PFL_OK);
	sah_expected(h, want, wids, &wm);
	assert_int_equal(m, wm);
	assert_memory_equal(ids, wids, (size_t)m * 4);
	assert_memory_equal(sum, want, h->p.dim * 4);
	/* every client that stayed to the end finished cleanly */
	for (uint32_t i = 0; i < h->p.n; i++)
		if (h->drop_at[i] == PFL_SA_PHASES)
			assert_int_equal(h->status[i], PFL_OK);
	free(sum);
	free(want);
	free(ids);
	free(wids);
}

/* drop `ndrop` random clients, each at a random phase */
static void
random_drops(struct sah *h, struct pfl_rng *r, uint32_t ndrop)
{
	uint32_t *perm = malloc(h->p.n * 4);

	assert_non_null(perm);
	for (uint32_t i = 0; i < h->p.n; i++)
		perm[i] = i;
	pfl_rng_shuffle_u32(r, perm, h->p.n);
	for (uint32_t i = 0; i < ndrop; i++)
		h->drop_at[perm[i]] = (int)pfl_rng_below(r, PFL_SA_PHASES);
	free(perm);
}

/* trials first..trials-1: trial 0 has no dropouts, trial 1 the most */
static void
exact_rounds(enum pfl_sa_mode mode, uint32_t n, size_t dim, int first,
             int trials)
{
	struct pfl_rng r;

	pfl_rng_seed(&r, 1000 + n);
	for (int tr = first; tr < trials; tr++) {
		struct pfl_sa_params p;
		struct sah h;
		uint32_t ndrop, maxdrop;

		params_for(&p, mode, n, dim, (uint64_t)tr + 7);
		assert_int_equal(sah_init(&h, &p, tr % 2, (uint64_t)tr),
		                 PFL_OK);
		/* trial 0: nobody drops; then up to n - t across phases
		 * (secagg+: up to the 5% the parameters were chosen for) */
		maxdrop = mode == PFL_SA_FULL ? n - p.t : n / 20;
		ndrop = tr == 0 ? 0 : (uint32_t)pfl_rng_below(&r, maxdrop + 1);
		if (tr == 1)
			ndrop = maxdrop;
		random_drops(&h, &r, ndrop);
		check_round(&h);
		sah_fini(&h);
	}
}

static void
test_exact_n3(void **state)
{
	(void)state;
	/* n = 3, t = 2: every single client dropping at every phase */
	for (uint32_t who = 0; who <= 3; who++) {
		for (int ph = 0; ph < PFL_SA_PHASES; ph++) {
			struct pfl_sa_params p;
			struct sah h;

			params_for(&p, PFL_SA_FULL, 3, 37, (uint64_t)ph);
			assert_int_equal(p.t, 2);
			assert_int_equal(sah_init(&h, &p, 1, who), PFL_OK);
			if (who < 3)
				h.drop_at[who] = ph;
			check_round(&h);
			sah_fini(&h);
			if (who == 3)
				break;
		}
	}
}

static void
test_exact_n10(void **state)
{
	(void)state;
	exact_rounds(PFL_SA_FULL, 10, 1000, 0, 12);
}

static void
test_exact_n100(void **state)
{
	(void)state;
	exact_rounds(PFL_SA_FULL, 100, 300, 1, 3);
}

static void
test_exact_plus_n100(void **state)
{
	(void)state;
	exact_rounds(PFL_SA_PLUS, 100, 300, 0, 3);
}

/* a long vector: several mask blocks, a partial last block */
static void
test_exact_long_vector(void **state)
{
	struct pfl_sa_params p;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 3 * SA_BLOCK_WORDS + 5, 99);
	assert_int_equal(p.t, 3);
	assert_int_equal(sah_init(&h, &p, 0, 5), PFL_OK);
	h.drop_at[2] = PFL_SA_MASKED; /* its pairwise masks are removed */
	h.drop_at[0] = PFL_SA_UNMASK; /* its input counts */
	check_round(&h);
	sah_fini(&h);
}

static void
test_below_threshold(void **state)
{
	(void)state;
	for (int ph = 0; ph < PFL_SA_PHASES; ph++) {
		struct pfl_sa_params p;
		struct pfl_buf b;
		uint32_t sum[8];
		struct sah h;
		int i;

		params_for(&p, PFL_SA_FULL, 10, 8, 3);
		assert_int_equal(sah_init(&h, &p, 0, 11), PFL_OK);
		for (i = 0; i < (int)(p.n - p.t + 1); i++)
			h.drop_at[i] = ph;
		for (int q = 0; q < ph; q++)
			assert_int_equal(sah_phase(&h, q), PFL_OK);
		assert_int_equal(sah_phase(&h, ph), PFL_ERR_ABORTED);
		/* dead: nothing more happens, nothing is unmasked */
		assert_int_equal(
		        pfl_sa_server_result(h.server, sum, NULL, NULL),
		        PFL_ERR_ABORTED);
		pfl_buf_init(&b, 0);
		if (ph < PFL_SA_UNMASK)
			assert_int_equal(pfl_sa_server_output(
			                         h.server,
			                         (enum pfl_sa_phase)ph, 10, &b),
			                 PFL_ERR_ABORTED);
		assert_int_equal(b.len, 0);
		pfl_buf_fini(&b);
		if (ph + 1 < PFL_SA_PHASES)
			assert_int_equal(
			        pfl_sa_server_recv(h.server,
			                           (enum pfl_sa_phase)(ph + 1),
			                           10, NULL, 0),
			        PFL_ERR_ABORTED);
		sah_fini(&h);
	}
}

/* --- tampering --- */

static void
flip_sig(struct sah *h, int ph, uint32_t id, struct pfl_buf *msg)
{
	(void)h;
	if (ph == PFL_SA_ADVERTISE && id == 2)
		msg->data[100] ^= 0x01; /* inside the signature */
}

static void
test_tamper_signature(void **state)
{
	struct pfl_sa_params p;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	assert_int_equal(sah_init(&h, &p, 0, 1), PFL_OK);
	h.hook = flip_sig;
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	assert_int_equal(h.status[1], PFL_ERR_CRYPTO);
	assert_int_equal(pfl_sa_server_count(h.server, PFL_SA_ADVERTISE), 4);
	sah_fini(&h);
}

/* client 2's advert signed by client 3's key */
static void
test_tamper_wrong_signer(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf a, b;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	assert_int_equal(sah_init(&h, &p, 0, 2), PFL_OK);
	pfl_buf_init(&a, 0);
	pfl_buf_init(&b, 0);
	assert_int_equal(
	        pfl_sa_client_step(h.clients[2], PFL_SA_ADVERTISE, NULL, 0, &a),
	        PFL_OK);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 2,
	                                    a.data, a.len),
	                 PFL_ERR_CRYPTO);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 3,
	                                    a.data, a.len),
	                 PFL_OK);
	assert_int_equal(pfl_sa_server_count(h.server, PFL_SA_ADVERTISE), 1);
	pfl_buf_fini(&a);
	pfl_buf_fini(&b);
	sah_fini(&h);
}

/* the server relays a forged advert: the client refuses it */
static void
test_tamper_relayed_advert(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf in, out;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	for (int pin = 0; pin < 2; pin++) {
		assert_int_equal(sah_init(&h, &p, pin, 3), PFL_OK);
		assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
		pfl_buf_init(&in, 0);
		pfl_buf_init(&out, 0);
		assert_int_equal(pfl_sa_server_output(h.server,
		                                      PFL_SA_ADVERTISE, 1, &in),
		                 PFL_OK);
		assert_int_equal(in.len, 8 + 5 * PFL_SA_DIGEST_REC_BYTES +
		                                 4 * PFL_SA_ADV_REC_BYTES);
		/* first record's c_pk */
		in.data[adv_off(&in) + 8 + PFL_SA_CERT_BYTES] ^= 1;
		assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_SHARE,
		                                    in.data, in.len, &out),
		                 PFL_ERR_CRYPTO);
		assert_int_equal(out.len, 0);
		/* aborted for good */
		assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_SHARE,
		                                    in.data, in.len, &out),
		                 PFL_ERR_ABORTED);
		pfl_buf_fini(&in);
		pfl_buf_fini(&out);
		sah_fini(&h);
	}
}

/* pinned keys: a relayed identity key that is not the pinned one fails
 * even with a valid signature by that (other) key */
static void
test_tamper_pinned_identity(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf in, out;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	assert_int_equal(sah_init(&h, &p, 1, 4), PFL_OK);
	/* the server believes client 2's identity is client 3's key */
	memcpy(h.pks[1], h.pks[2], 32);
	pfl_sa_server_free(h.server);
	assert_int_equal(
	        pfl_sa_server_new(&p, (const uint8_t(*)[32])h.pks, &h.server),
	        PFL_OK);
	pfl_buf_init(&out, 0);
	assert_int_equal(pfl_sa_client_step(h.clients[2], PFL_SA_ADVERTISE,
	                                    NULL, 0, &out),
	                 PFL_OK);
	/* client 3's advert, signed for id 3, submitted as id 2 fails ... */
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 2,
	                                    out.data, out.len),
	                 PFL_ERR_CRYPTO);
	pfl_buf_fini(&out);
	sah_fini(&h);
	/* ... and a broadcast whose identity key differs from the pinned one
	 * is refused by the client */
	assert_int_equal(sah_init(&h, &p, 1, 4), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 1, &in),
	        PFL_OK);
	memcpy(in.data + adv_off(&in) + 4, h.pks[4], 32); /* record of id 2 */
	assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_SHARE, in.data,
	                                    in.len, &out),
	                 PFL_ERR_CRYPTO);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
}

static void
test_tamper_share_ciphertext(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf in, out;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	assert_int_equal(sah_init(&h, &p, 0, 5), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_SHARE), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(pfl_sa_server_output(h.server, PFL_SA_SHARE, 1, &in),
	                 PFL_OK);
	assert_int_equal(in.len, 4 + 4 * PFL_SA_SHARE_REC_BYTES);
	in.data[4 + PFL_SA_SHARE_REC_BYTES + 60] ^= 0x80; /* 2nd ciphertext */
	assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_MASKED,
	                                    in.data, in.len, &out),
	                 PFL_ERR_CRYPTO);
	assert_int_equal(out.len, 0);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
}

/* shares and adverts of another round (same clients, other round_ctx) */
static void
test_tamper_wrong_round(void **state)
{
	struct pfl_sa_params p, q;
	struct pfl_buf a, in, out;
	struct sah h, g;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	params_for(&q, PFL_SA_FULL, 5, 16, 2); /* other round_ctx */
	assert_int_equal(sah_init(&h, &p, 0, 6), PFL_OK);
	assert_int_equal(sah_init(&g, &q, 0, 6), PFL_OK); /* same identities */
	pfl_buf_init(&a, 0);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	/* an advert of round q replayed into round p */
	assert_int_equal(
	        pfl_sa_client_step(g.clients[0], PFL_SA_ADVERTISE, NULL, 0, &a),
	        PFL_OK);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 1,
	                                    a.data, a.len),
	                 PFL_ERR_CRYPTO);
	assert_int_equal(pfl_sa_server_recv(g.server, PFL_SA_ADVERTISE, 1,
	                                    a.data, a.len),
	                 PFL_OK);
	/* a share record of round q given to a client of round p */
	for (int ph = 0; ph < 2; ph++) {
		g.drop_at[0] = 0; /* client 1 of g already advertised */
		assert_int_equal(sah_phase(&h, ph), PFL_OK);
		assert_int_equal(sah_phase(&g, ph), PFL_OK);
	}
	assert_int_equal(pfl_sa_server_output(h.server, PFL_SA_SHARE, 2, &in),
	                 PFL_OK);
	assert_int_equal(pfl_sa_server_output(g.server, PFL_SA_SHARE, 2, &out),
	                 PFL_OK);
	/* replace the record from client 3 (2nd in h: 1, 3, 4, 5; 1st in g,
	 * where client 1 did not share) by round q's */
	assert_int_equal(pfli_le32_get(in.data + 4 + PFL_SA_SHARE_REC_BYTES),
	                 3);
	assert_int_equal(pfli_le32_get(out.data + 4), 3);
	memcpy(in.data + 4 + PFL_SA_SHARE_REC_BYTES, out.data + 4,
	       PFL_SA_SHARE_REC_BYTES);
	pfl_buf_clear(&out);
	assert_int_equal(pfl_sa_client_step(h.clients[1], PFL_SA_MASKED,
	                                    in.data, in.len, &out),
	                 PFL_ERR_CRYPTO);
	pfl_buf_fini(&a);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
	sah_fini(&g);
}

static void
test_tamper_duplicates_and_order(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf a, in, out;
	struct sah h;
	uint8_t *dup;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1);
	assert_int_equal(sah_init(&h, &p, 0, 7), PFL_OK);
	pfl_buf_init(&a, 0);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(
	        pfl_sa_client_step(h.clients[0], PFL_SA_ADVERTISE, NULL, 0, &a),
	        PFL_OK);
	/* out of phase, unknown ids, bad length */
	assert_int_equal(
	        pfl_sa_server_recv(h.server, PFL_SA_SHARE, 1, a.data, a.len),
	        PFL_ERR_STATE);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 0,
	                                    a.data, a.len),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 6,
	                                    a.data, a.len),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 1,
	                                    a.data, a.len - 1),
	                 PFL_ERR_PROTO);
	/* duplicated client id */
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 1,
	                                    a.data, a.len),
	                 PFL_OK);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_ADVERTISE, 1,
	                                    a.data, a.len),
	                 PFL_ERR_PROTO);
	assert_int_equal(pfl_sa_server_count(h.server, PFL_SA_ADVERTISE), 1);
	/* output before close */
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 1, &in),
	        PFL_ERR_AGAIN);
	/* client out of order */
	assert_int_equal(pfl_sa_client_step(h.clients[1], PFL_SA_SHARE, a.data,
	                                    a.len, &out),
	                 PFL_ERR_STATE);
	h.drop_at[0] = 0; /* already sent */
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	/* a duplicated id in the broadcast is refused by the client */
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 2, &in),
	        PFL_OK);
	dup = in.data + adv_off(&in) + PFL_SA_ADV_REC_BYTES;
	memcpy(dup, in.data + adv_off(&in), PFL_SA_ADV_REC_BYTES);
	pfl_buf_clear(&out);
	assert_int_equal(pfl_sa_client_step(h.clients[1], PFL_SA_SHARE, in.data,
	                                    in.len, &out),
	                 PFL_ERR_PROTO);
	/* a share message with a duplicated recipient is refused */
	pfl_buf_clear(&in);
	pfl_buf_clear(&out);
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 3, &in),
	        PFL_OK);
	assert_int_equal(pfl_sa_client_step(h.clients[2], PFL_SA_SHARE, in.data,
	                                    in.len, &out),
	                 PFL_OK);
	memcpy(out.data + 4 + PFL_SA_SHARE_REC_BYTES, out.data + 4, 4);
	assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_SHARE, 3, out.data,
	                                    out.len),
	                 PFL_ERR_PROTO);
	/* a client that did not advertise cannot share; output to it fails */
	assert_int_equal(pfl_sa_server_count(h.server, PFL_SA_SHARE), 0);
	pfl_buf_fini(&a);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
}

/* the client refuses when the server shows it fewer than t survivors */
static void
test_client_refuses_small_set(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf in, out;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 5, 16, 1); /* t = 3 */
	assert_int_equal(sah_init(&h, &p, 0, 8), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 1, &in),
	        PFL_OK);
	/* a broadcast as if only clients 1 and 2 had advertised: the
	 * transcript of ids 1, 2 and the advert of 2; 1 + self < t */
	memmove(in.data + 4 + 2 * PFL_SA_DIGEST_REC_BYTES,
	        in.data + adv_off(&in) - 4, 4 + PFL_SA_ADV_REC_BYTES);
	pfli_le32_put(in.data, 2);
	pfli_le32_put(in.data + 4 + 2 * PFL_SA_DIGEST_REC_BYTES, 1);
	in.len = 8 + 2 * PFL_SA_DIGEST_REC_BYTES + PFL_SA_ADV_REC_BYTES;
	assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_SHARE, in.data,
	                                    in.len, &out),
	                 PFL_ERR_ABORTED);
	assert_int_equal(out.len, 0);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
}

/* --- privacy properties --- */

/* chi-square of the byte values at position `byte` of each word */
static double
chi2_bytes(const uint8_t *y, size_t words, int byte)
{
	double cnt[256] = {0}, e = (double)words / 256, c2 = 0;

	for (size_t i = 0; i < words; i++)
		cnt[y[4 * i + byte]]++;
	for (int v = 0; v < 256; v++)
		c2 += (cnt[v] - e) * (cnt[v] - e) / e;
	return c2;
}

static void
test_masked_vector_uniform(void **state)
{
	struct pfl_sa_params p;
	struct pfl_buf in, out;
	struct sah h;
	size_t ones = 0;

	(void)state;
	params_for(&p, PFL_SA_FULL, 4, 1 << 16, 9);
	assert_int_equal(sah_init(&h, &p, 0, 9), PFL_OK);
	memset(h.x, 0, (size_t)p.n * p.dim * 4); /* the worst input: zeros */
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_SHARE), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(pfl_sa_server_output(h.server, PFL_SA_SHARE, 1, &in),
	                 PFL_OK);
	assert_int_equal(pfl_sa_client_step(h.clients[0], PFL_SA_MASKED,
	                                    in.data, in.len, &out),
	                 PFL_OK);
	assert_int_equal(out.len, 4 * p.dim);
	/* df = 255: mean 255, sd 22.6; 400 is > 6 sd */
	for (int b = 0; b < 4; b++) {
		double c2 = chi2_bytes(out.data, p.dim, b);

		assert_true(c2 > 150 && c2 < 400);
	}
	for (size_t i = 0; i < out.len; i++)
		ones += (size_t)__builtin_popcount(out.data[i]);
	/* 2^21 bits: sd ~724; allow 6 sd */
	assert_true(ones > (1u << 20) - 4400 && ones < (1u << 20) + 4400);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
}

static void
test_server_holds_no_input(void **state)
{
	struct pfl_sa_params p;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 6, 512, 10);
	assert_int_equal(sah_init(&h, &p, 0, 10), PFL_OK);
	h.drop_at[5] = PFL_SA_MASKED;
	for (int ph = 0; ph < PFL_SA_PHASES; ph++) {
		assert_int_equal(sah_phase(&h, ph), PFL_OK);
		/* no 16-byte window of any input, at any point of the round */
		for (uint32_t i = 0; i < p.n; i++)
			for (size_t off = 0; off < p.dim; off += 64)
				assert_false(pfli_sa_server_contains(
				        h.server,
				        (const uint8_t *)(h.x + i * p.dim +
				                          off),
				        16));
	}
	/* the sum is there (the check would find it) */
	{
		uint32_t *sum = malloc(p.dim * 4);

		assert_int_equal(
		        pfl_sa_server_result(h.server, sum, NULL, NULL),
		        PFL_OK);
		assert_true(pfli_sa_server_contains(h.server,
		                                    (const uint8_t *)sum, 16));
		free(sum);
	}
	sah_fini(&h);
}

/* fewer than t unmasking responses: the server refuses to reconstruct */
static void
test_unmask_below_threshold(void **state)
{
	struct pfl_sa_params p;
	struct sah h;

	(void)state;
	params_for(&p, PFL_SA_FULL, 10, 8, 12);
	assert_int_equal(sah_init(&h, &p, 0, 12), PFL_OK);
	for (uint32_t i = 0; i < p.n - p.t + 1; i++)
		h.drop_at[i] = PFL_SA_UNMASK;
	assert_int_equal(sah_run(&h), PFL_ERR_ABORTED);
	assert_int_equal(pfl_sa_server_result(h.server, NULL, NULL, NULL),
	                 PFL_ERR_ABORTED);
	sah_fini(&h);
}

static void
test_params(void **state)
{
	struct pfl_sa_params p;
	struct sah h;
	uint32_t k, t, nb[100], cnt, nb2[100], c2, edges = 0;
	double fail, priv;

	(void)state;
	/* SecAgg: 2t > n + c and t - c >= min_sum */
	assert_int_equal(
	        pfl_sa_choose_params(PFL_SA_FULL, 100, 0.1, 0.1, &k, &t),
	        PFL_OK);
	assert_int_equal(k, 99);
	assert_int_equal(t, 56);
	assert_int_equal(pfl_sa_choose_params_min(PFL_SA_FULL, 100, 0.1, 0.1,
	                                          60, &k, &t),
	                 PFL_OK);
	assert_int_equal(t, 70);
	/* SecAgg+: the bounds hold for what is chosen */
	assert_int_equal(pfl_sa_choose_params_min(PFL_SA_PLUS, 1000, 0.05, 0.05,
	                                          10, &k, &t),
	                 PFL_OK);
	assert_int_equal(k, SA_K1000);
	assert_int_equal(t, SA_T1000);
	memset(&p, 0, sizeof(p));
	p.mode = PFL_SA_PLUS;
	p.n = 1000;
	p.k = k;
	p.t = t;
	p.dim = 1;
	assert_int_equal(pfl_sa_params_bounds(&p, 0.05, 0.05, 10, &fail, &priv),
	                 PFL_OK);
	assert_true(fail <= -20 && priv <= -40);
	p.t = k / 2 + 1; /* the old rule: privacy does not hold */
	assert_int_equal(pfl_sa_params_bounds(&p, 0.05, 0.05, 10, &fail, &priv),
	                 PFL_OK);
	assert_true(priv > -40);
	assert_int_equal(
	        pfl_sa_choose_params(PFL_SA_FULL, 100, 0.6, 0.1, &k, &t),
	        PFL_ERR_CONFIG);
	assert_int_equal(
	        pfl_sa_choose_params(PFL_SA_PLUS, 100, 1.5, 0.1, &k, &t),
	        PFL_ERR_INVAL);
	/* per-client thresholds keep the fraction t / (k + 1) */
	p.k = 40;
	p.t = 30;
	assert_int_equal(pfl_sa_threshold(&p, 40), 30);
	assert_int_equal(pfl_sa_threshold(&p, 81), 60);
	assert_int_equal(pfl_sa_threshold(&p, 20), 16); /* ceil(21*30/41) */
	/* the graph: symmetric, sorted, no self loops, mean degree ~ k; it
	 * exists only once the keys are advertised */
	params_for(&p, PFL_SA_PLUS, 100, 4, 13);
	p.k = 20;
	p.t = 15;
	assert_int_equal(sah_init(&h, &p, 1, 13), PFL_OK);
	assert_int_equal(pfl_sa_server_neighbours(h.server, 1, nb, 100, &cnt),
	                 PFL_ERR_AGAIN);
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	for (uint32_t u = 1; u <= 100; u++) {
		assert_int_equal(
		        pfl_sa_server_neighbours(h.server, u, nb, 100, &cnt),
		        PFL_OK);
		edges += cnt;
		for (uint32_t i = 0; i < cnt; i++) {
			uint32_t found = 0;

			assert_true(nb[i] != u && nb[i] >= 1 && nb[i] <= 100);
			if (i)
				assert_true(nb[i] > nb[i - 1]);
			assert_int_equal(pfl_sa_server_neighbours(h.server,
			                                          nb[i], nb2,
			                                          100, &c2),
			                 PFL_OK);
			for (uint32_t j = 0; j < c2; j++)
				found += nb2[j] == u;
			assert_int_equal(found, 1);
		}
	}
	assert_true(edges > 100 * 16 && edges < 100 * 24);
	sah_fini(&h);
	/* bad parameter sets */
	params_for(&p, PFL_SA_PLUS, 100, 4, 13);
	p.t = p.k / 2; /* 2t <= k + 1 */
	assert_int_equal(pfl_sa_params_check(&p), PFL_ERR_INVAL);
	p.t = p.k + 2; /* t > k + 1 */
	assert_int_equal(pfl_sa_params_check(&p), PFL_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_params),
	        cmocka_unit_test(test_exact_n3),
	        cmocka_unit_test(test_exact_n10),
	        cmocka_unit_test(test_exact_n100),
	        cmocka_unit_test(test_exact_plus_n100),
	        cmocka_unit_test(test_exact_long_vector),
	        cmocka_unit_test(test_below_threshold),
	        cmocka_unit_test(test_unmask_below_threshold),
	        cmocka_unit_test(test_tamper_signature),
	        cmocka_unit_test(test_tamper_wrong_signer),
	        cmocka_unit_test(test_tamper_relayed_advert),
	        cmocka_unit_test(test_tamper_pinned_identity),
	        cmocka_unit_test(test_tamper_share_ciphertext),
	        cmocka_unit_test(test_tamper_wrong_round),
	        cmocka_unit_test(test_tamper_duplicates_and_order),
	        cmocka_unit_test(test_client_refuses_small_set),
	        cmocka_unit_test(test_masked_vector_uniform),
	        cmocka_unit_test(test_server_holds_no_input),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
