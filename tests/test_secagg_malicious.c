/*
 * Issue #11, item 12: a lying (actively malicious) server against the real
 * SecAgg state machines.
 *
 *  - It relays a forged neighbour: fresh keys signed with a key of its own
 *    in place of a neighbour's. A client that requires enrollment
 *    certificates refuses; without them (what the daemon did: NULL peer
 *    keys) the forgery is accepted, which is the vulnerability.
 *  - It shows the survivor list with client v to some holders of v and
 *    without v to others, with a corrupt client signing both, to collect
 *    t shares of b_v and t shares of s_sk_v and so x_v. With the threshold
 *    of the parameter rule (2t > n + colluders) it cannot; with the old
 *    rule (t = floor(n/2) + 1) it recovers x_v exactly.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <unistd.h>

#include "test_secagg_harness.c"

#include "../crypto/src/secagg_int.h"
#include "privfl/enroll.h"
#include "privfl/prg.h"
#include "privfl/shamir.h"

#define FED "fed-test"
#define NOW 1700000000ull

struct ca {
	struct pfl_identity *auth;
	uint8_t fed_hash[32];
	uint8_t (*certs)[PFL_ENROLL_CERT_BYTES];
};

/* the authority enrolls every client of h; the server relays the certs and
 * the clients require them */
static void
enroll_all(struct sah *h, struct ca *ca, int clients_check)
{
	uint8_t seed[32] = {42};

	assert_int_equal(pfl_identity_from_seed(seed, &ca->auth), PFL_OK);
	pfl_enroll_fed_hash(FED, ca->fed_hash);
	ca->certs = calloc(h->p.n, sizeof(*ca->certs));
	assert_non_null(ca->certs);
	for (uint32_t i = 0; i < h->p.n; i++) {
		assert_int_equal(pfl_enroll_cert_issue(ca->auth, FED, h->pks[i],
		                                       NOW - 10, NOW + 10,
		                                       ca->certs[i]),
		                 PFL_OK);
		if (clients_check)
			assert_int_equal(pfl_sa_client_set_authority(
			                         h->clients[i],
			                         pfl_identity_public(ca->auth),
			                         ca->fed_hash, NOW),
			                 PFL_OK);
	}
	assert_int_equal(
	        pfl_sa_server_set_certs(
	                h->server,
	                (const uint8_t(*)[PFL_SA_CERT_BYTES])ca->certs),
	        PFL_OK);
}

static void
ca_fini(struct ca *ca)
{
	pfl_identity_free(ca->auth);
	free(ca->certs);
}

static void
test_cert_roundtrip(void **state)
{
	struct pfl_identity *auth, *other, *cl;
	uint8_t fh[32], cert[PFL_ENROLL_CERT_BYTES], pk[32], seed[32] = {1};
	char path[] = "/tmp/pfl_enroll_XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(pfl_identity_from_seed(seed, &auth), PFL_OK);
	seed[0] = 2;
	assert_int_equal(pfl_identity_from_seed(seed, &other), PFL_OK);
	seed[0] = 3;
	assert_int_equal(pfl_identity_from_seed(seed, &cl), PFL_OK);
	pfl_enroll_fed_hash(FED, fh);
	assert_int_equal(pfl_enroll_cert_issue(auth, FED,
	                                       pfl_identity_public(cl), 100,
	                                       200, cert),
	                 PFL_OK);
	assert_int_equal(pfl_enroll_cert_verify(pfl_identity_public(auth), fh,
	                                        cert, 150, pk),
	                 PFL_OK);
	assert_memory_equal(pk, pfl_identity_public(cl), 32);
	/* expired, not yet valid, another authority, another federation */
	assert_int_equal(pfl_enroll_cert_verify(pfl_identity_public(auth), fh,
	                                        cert, 201, pk),
	                 PFL_ERR_CRYPTO);
	assert_int_equal(pfl_enroll_cert_verify(pfl_identity_public(auth), fh,
	                                        cert, 99, pk),
	                 PFL_ERR_CRYPTO);
	assert_int_equal(pfl_enroll_cert_verify(pfl_identity_public(other), fh,
	                                        cert, 150, pk),
	                 PFL_ERR_CRYPTO);
	pfl_enroll_fed_hash("other-fed", fh);
	assert_int_equal(pfl_enroll_cert_verify(pfl_identity_public(auth), fh,
	                                        cert, 150, pk),
	                 PFL_ERR_CRYPTO);
	pfl_enroll_fed_hash(FED, fh);
	for (int i = 0; i < PFL_ENROLL_CERT_BYTES; i++) {
		cert[i] ^= 0x10;
		assert_int_equal(
		        pfl_enroll_cert_verify(pfl_identity_public(auth), fh,
		                               cert, 150, pk),
		        PFL_ERR_CRYPTO);
		cert[i] ^= 0x10;
	}
	/* file round trip */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pfl_enroll_cert_save(path, cert), PFL_OK);
	memset(pk, 0, 32);
	{
		uint8_t back[PFL_ENROLL_CERT_BYTES];

		assert_int_equal(pfl_enroll_cert_load(path, back), PFL_OK);
		assert_memory_equal(back, cert, sizeof(back));
	}
	unlink(path);
	assert_int_equal(
	        pfl_enroll_cert_parse("pfl-enroll-v1 AAAA\n", 19, cert),
	        PFL_ERR_FORMAT);
	pfl_identity_free(auth);
	pfl_identity_free(other);
	pfl_identity_free(cl);
}

/* an honest round with certificates required everywhere is exact */
static void
test_round_with_certs(void **state)
{
	struct pfl_sa_params p = {0};
	struct sah h;
	struct ca ca;
	uint32_t sum[4], want[4] = {0}, m;

	(void)state;
	p.mode = PFL_SA_PLUS;
	p.n = 40;
	p.k = 20;
	p.t = 15;
	p.dim = 4;
	p.round_ctx[0] = 9;
	assert_int_equal(sah_init(&h, &p, 0, 21), PFL_OK);
	enroll_all(&h, &ca, 1);
	assert_int_equal(sah_run(&h), PFL_OK);
	assert_int_equal(pfl_sa_server_result(h.server, sum, NULL, &m), PFL_OK);
	assert_int_equal(m, 40);
	for (uint32_t i = 0; i < 40; i++)
		for (int j = 0; j < 4; j++)
			want[j] += h.x[i * 4 + j];
	assert_memory_equal(sum, want, sizeof(sum));
	ca_fini(&ca);
	sah_fini(&h);
}

/*
 * The server replaces neighbour 2's advert in client 1's broadcast with
 * keys of its own, signed by its own key, and fixes the transcript digest
 * so that everything else is consistent. cert_mode: 0 the bare forged key
 * (no certificate), 1 neighbour 2's real certificate, 2 a certificate the
 * authority issued to the forger for another federation.
 */
static pfl_err
forge_neighbour(int require_certs, int cert_mode)
{
	struct pfl_sa_params p = {0};
	struct pfl_identity *evil;
	struct pfl_buf in, out;
	struct sah h;
	struct ca ca;
	uint8_t seed[32] = {7}, c_sk[32], adv[SA_ADV_MSG];
	uint8_t *rec, *dig;
	size_t off;
	pfl_err err;

	p.mode = PFL_SA_FULL;
	p.n = 5;
	p.k = 4;
	p.t = 4;
	p.dim = 4;
	assert_int_equal(sah_init(&h, &p, 0, 5), PFL_OK);
	enroll_all(&h, &ca, require_certs);
	assert_int_equal(pfl_identity_from_seed(seed, &evil), PFL_OK);
	assert_int_equal(sah_phase(&h, PFL_SA_ADVERTISE), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	assert_int_equal(
	        pfl_sa_server_output(h.server, PFL_SA_ADVERTISE, 1, &in),
	        PFL_OK);
	off = 8 + (size_t)pfli_le32_get(in.data) * PFL_SA_DIGEST_REC_BYTES;
	rec = in.data + off; /* neighbour 2: the first record */
	assert_int_equal(pfli_le32_get(rec), 2);
	/* the forger's keys, signed for id 2 by the forger */
	crypto_kx_keypair(rec + SA_R_CPK, c_sk);
	crypto_kx_keypair(rec + SA_R_SPK, c_sk);
	pfli_sa_adv_msg(adv, h.p.round_ctx, 2, rec + SA_R_CPK, rec + SA_R_SPK);
	assert_int_equal(
	        pfl_identity_sign(evil, adv, sizeof(adv), rec + SA_R_SIG),
	        PFL_OK);
	memset(rec + SA_R_CERT, 0, PFL_SA_CERT_BYTES);
	memcpy(rec + SA_R_CERT, pfl_identity_public(evil), 32);
	if (cert_mode == 1)
		memcpy(rec + SA_R_CERT, ca.certs[1], PFL_SA_CERT_BYTES);
	if (cert_mode == 2)
		assert_int_equal(pfl_enroll_cert_issue(
		                         ca.auth, "another-fed",
		                         pfl_identity_public(evil), NOW - 1,
		                         NOW + 1, rec + SA_R_CERT),
		                 PFL_OK);
	dig = in.data + 4 + PFL_SA_DIGEST_REC_BYTES + 4; /* id 2 */
	pfli_sa_adv_digest(dig, 2, rec + SA_R_CPK, rec + SA_R_SPK);
	err = pfl_sa_client_step(h.clients[0], PFL_SA_SHARE, in.data, in.len,
	                         &out);
	sodium_memzero(c_sk, sizeof(c_sk));
	pfl_identity_free(evil);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	ca_fini(&ca);
	sah_fini(&h);
	return err;
}

static void
test_forged_neighbour_refused(void **state)
{
	(void)state;
	/* the shipped behaviour (no certificates): the forgery passes and
	 * client 1 encrypts its shares to the server's key */
	assert_int_equal(forge_neighbour(0, 0), PFL_OK);
	/* with certificates it is detected, whatever the server relays */
	for (int mode = 0; mode < 3; mode++)
		assert_int_equal(forge_neighbour(1, mode), PFL_ERR_CRYPTO);
}

/* ---- split survivor views ---- */

static void
sign_list(struct sah *h, uint32_t who, const uint32_t *ids, uint32_t cnt,
          uint8_t sig[64])
{
	struct pfl_buf m;
	uint8_t ctx[32];

	pfl_buf_init(&m, 0);
	assert_int_equal(pfli_sa_server_tctx(h->server, ctx), PFL_OK);
	assert_int_equal(pfli_sa_u3_msg(&m, ctx, ids, cnt), PFL_OK);
	assert_int_equal(pfl_identity_sign(h->ids[who - 1], m.data, m.len, sig),
	                 PFL_OK);
	pfl_buf_fini(&m);
}

static void
put_list(struct pfl_buf *b, const uint32_t *ids, uint32_t cnt)
{
	uint8_t w[4];

	pfli_le32_put(w, cnt);
	assert_int_equal(pfl_buf_append(b, w, 4), PFL_OK);
	for (uint32_t i = 0; i < cnt; i++) {
		pfli_le32_put(w, ids[i]);
		assert_int_equal(pfl_buf_append(b, w, 4), PFL_OK);
	}
}

/*
 * n = 7, full graph, client 6 corrupt, target v = 7. Group A = {1, 2, 7}
 * is shown U3 = everyone, group B = {3, 4, 5} is shown U3 without 7; each
 * honest client gets the signatures of its own group and of client 6 (who
 * signs both lists). Returns 1 if the server recovers x_7.
 */
static int
split_attack(uint32_t t)
{
	static const uint32_t all[7] = {1, 2, 3, 4, 5, 6, 7};
	static const uint32_t no7[6] = {1, 2, 3, 4, 5, 6};
	static const int group[8] = {0, 0, 0, 1, 1, 1, 2, 0}; /* 2: corrupt */
	struct pfl_sa_params p = {0};
	struct pfl_buf in, out, unm[8];
	struct sah h;
	uint8_t sig[8][2][64], held[SA_PT], b[32], sk[32], pk[32], seed[32];
	uint8_t ctx[32], shb[8][64], shs[8][64];
	uint32_t xb[8], xs[8], nb = 0, ns = 0, y[4], x[4];
	int got = 0;

	p.mode = PFL_SA_FULL;
	p.n = 7;
	p.k = 6;
	p.t = t;
	p.dim = 4;
	assert_int_equal(sah_init(&h, &p, 1, 31), PFL_OK);
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	for (int ph = PFL_SA_ADVERTISE; ph < PFL_SA_MASKED; ph++)
		assert_int_equal(sah_phase(&h, ph), PFL_OK);
	/* MASKED by hand, keeping y_7 (the server's own copy) */
	for (uint32_t id = 1; id <= 7; id++) {
		pfl_buf_clear(&in);
		pfl_buf_clear(&out);
		assert_int_equal(
		        pfl_sa_server_output(h.server, PFL_SA_SHARE, id, &in),
		        PFL_OK);
		assert_int_equal(pfl_sa_client_step(h.clients[id - 1],
		                                    PFL_SA_MASKED, in.data,
		                                    in.len, &out),
		                 PFL_OK);
		if (id == 7)
			for (int j = 0; j < 4; j++)
				y[j] = pfli_le32_get(out.data + 4 * j);
		assert_int_equal(pfl_sa_server_recv(h.server, PFL_SA_MASKED, id,
		                                    out.data, out.len),
		                 PFL_OK);
	}
	assert_int_equal(pfl_sa_server_close(h.server, PFL_SA_MASKED), PFL_OK);
	/* CONSISTENCY: each honest client signs the list it is shown */
	for (uint32_t id = 1; id <= 7; id++) {
		int a = group[id] != 1;

		sign_list(&h, id, all, 7, sig[id][0]);
		sign_list(&h, id, no7, 6, sig[id][1]);
		if (group[id] == 2)
			continue; /* corrupt: signs both */
		pfl_buf_clear(&in);
		pfl_buf_clear(&out);
		put_list(&in, a ? all : no7, a ? 7 : 6);
		assert_int_equal(pfl_sa_client_step(h.clients[id - 1],
		                                    PFL_SA_CONSISTENCY, in.data,
		                                    in.len, &out),
		                 PFL_OK);
	}
	/* UNMASK: each gets its group's signatures and the corrupt one's */
	for (uint32_t id = 1; id <= 7; id++) {
		uint8_t w[4];
		uint32_t cnt = 0;
		int g = group[id];
		pfl_err st;

		pfl_buf_init(&unm[id], 0);
		if (g == 2)
			continue;
		pfl_buf_clear(&in);
		for (uint32_t v = 1; v <= 7; v++)
			cnt += v != id && (group[v] == g || group[v] == 2);
		pfli_le32_put(w, cnt);
		assert_int_equal(pfl_buf_append(&in, w, 4), PFL_OK);
		for (uint32_t v = 1; v <= 7; v++) {
			if (v == id || (group[v] != g && group[v] != 2))
				continue;
			pfli_le32_put(w, v);
			assert_int_equal(pfl_buf_append(&in, w, 4), PFL_OK);
			assert_int_equal(
			        pfl_buf_append(&in, sig[v][g == 1], 64),
			        PFL_OK);
		}
		st = pfl_sa_client_step(h.clients[id - 1], PFL_SA_UNMASK,
		                        in.data, in.len, &unm[id]);
		print_message("  client %u (%s): UNMASK %s\n", id,
		              g ? "B" : "A", pfl_strerror(st));
	}
	/* collect: b_7 shares from group A, s_sk_7 shares from group B,
	 * both from the corrupt client */
	for (uint32_t id = 1; id <= 7; id++) {
		for (size_t o = 4; o + 68 <= unm[id].len; o += 68) {
			if (pfli_le32_get(unm[id].data + o) != 7)
				continue;
			if (group[id] == 0) {
				xb[nb] = id;
				memcpy(shb[nb++], unm[id].data + o + 4, 64);
			} else {
				xs[ns] = id;
				memcpy(shs[ns++], unm[id].data + o + 4, 64);
			}
		}
	}
	assert_int_equal(pfli_sa_client_held(h.clients[5], 7, held), PFL_OK);
	xb[nb] = 6;
	memcpy(shb[nb++], held, 64);
	xs[ns] = 6;
	memcpy(shs[ns++], held + 64, 64);
	print_message("t = %u: the server holds %u shares of b_7 and %u of "
	              "s_sk_7\n",
	              t, nb, ns);
	if (nb >= t && ns >= t &&
	    pfl_shamir_reconstruct(xb, (const uint8_t(*)[64])shb, t, b) ==
	            PFL_OK &&
	    pfl_shamir_reconstruct(xs, (const uint8_t(*)[64])shs, t, sk) ==
	            PFL_OK &&
	    crypto_scalarmult_base(pk, sk) == 0) {
		/* x_7 = y_7 - PRG(b_7) - sum_v +-PRG(s_7v) */
		assert_int_equal(pfli_sa_server_tctx(h.server, ctx), PFL_OK);
		memcpy(x, y, sizeof(x));
		pfl_prg_mask_add(x, 4, b, -1);
		for (uint32_t v = 1; v <= 6; v++) {
			struct pfl_buf a;

			/* v's advert s_pk, as relayed to client 7 */
			pfl_buf_init(&a, 0);
			assert_int_equal(pfl_sa_server_output(h.server,
			                                      PFL_SA_ADVERTISE,
			                                      7, &a),
			                 PFL_OK);
			{
				size_t o =
				        8 +
				        (size_t)pfli_le32_get(a.data) *
				                PFL_SA_DIGEST_REC_BYTES +
				        (size_t)(v - 1) * PFL_SA_ADV_REC_BYTES;

				assert_int_equal(
				        pfli_sa_pair_seed(seed, sk,
				                          a.data + o + SA_R_SPK,
				                          ctx, 7, v),
				        PFL_OK);
			}
			pfl_buf_fini(&a);
			pfl_prg_mask_add(x, 4, seed, 1); /* 7 > v: it added - */
		}
		got = memcmp(x, h.x + 6 * 4, sizeof(x)) == 0;
	}
	print_message("  x_7 %s\n", got ? "RECOVERED" : "not recovered");
	for (uint32_t id = 1; id <= 7; id++)
		pfl_buf_fini(&unm[id]);
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	sah_fini(&h);
	return got;
}

static void
test_split_views(void **state)
{
	uint32_t k, t;

	(void)state;
	/* the rule, for 1 colluder in 7 (corrupt fraction 0.15) */
	assert_int_equal(
	        pfl_sa_choose_params(PFL_SA_FULL, 7, 0.1, 0.15, &k, &t),
	        PFL_OK);
	assert_int_equal(split_attack(t), 0);
	/* the attack works when 2t <= n + colluders (the old t = 4) */
	assert_int_equal(split_attack(4), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cert_roundtrip),
	        cmocka_unit_test(test_round_with_certs),
	        cmocka_unit_test(test_forged_neighbour_refused),
	        cmocka_unit_test(test_split_views),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
