/*
 * SecAgg benchmarks (issue #4). Every figure is printed next to a floor
 * measured in the same run on the same machine:
 *
 *   keystream floor  libsodium crypto_stream_chacha20_ietf_xor_ic applied in
 *                    place over the vector (one pass: the least any
 *                    "keystream added into a vector" can cost)
 *   x25519 floor     crypto_scalarmult operations per second
 *
 * A round is run with real clients and the real server; only the masked
 * vectors of the clients that are not being timed are random bytes of the
 * right length (the server's work does not depend on their content, and
 * making 1000 real 1M-entry masked vectors would time the clients, not the
 * server). Exactness is the tests' job (tests/test_secagg*.c).
 *
 * Usage: bench_secagg [--quick | --smoke]
 *   --quick  small sizes (make bench); --smoke: tiny sizes and short floor
 *   measurements, only for the line check (tests/bench_lines.sh)
 * PFL_BENCH_SECAGG_ONLY=server,client,bonawitz,compare picks sections.
 *
 * Every line with a ratio names the workload of both sides
 * (workload=, baseline_workload=; docs/BENCHMARKS.md, "Line
 * convention"): a floor is priced for the round's own sizes, and the
 * comparison with Bonawitz et al.'s published times is printed only when
 * the round has the paper's sizes (500 clients, 100K entries), that is in
 * the full run.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "privfl/identity.h"
#include "privfl/prg.h"
#include "privfl/secagg.h"

#include "../crypto/src/secagg_int.h" /* pfli_sa_client_step_nomask */

static double ks_bps;        /* keystream floor, bytes per second */
static double x25519_ops;    /* X25519 per second */
static double prg_bps;       /* pfl_prg_mask_add, bytes per second */
static double floor_s = 0.3; /* CPU seconds per floor measurement */

/* Process CPU time: the machine is shared, so wall time would measure the
 * neighbours' load; floors and protocol are timed with the same clock. */
static double
cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_secagg: %s: %d\n", what, err);
	exit(1);
}

static void
measure_floors(size_t dim, int quiet)
{
	uint8_t key[32], nonce[12] = {0}, sk[32], pk[32], out[32];
	uint32_t *v = calloc(dim, 4);
	double t0, dt;
	int reps = 0, ops = 0;

	if (v == NULL)
		die("alloc", 0);
	randombytes_buf(key, 32);
	t0 = cpu_sec();
	do {
		crypto_stream_chacha20_ietf_xor_ic((uint8_t *)v, (uint8_t *)v,
		                                   dim * 4, nonce, 0, key);
		reps++;
	} while ((dt = cpu_sec() - t0) < floor_s);
	ks_bps = (double)reps * dim * 4 / dt;
	reps = 0;
	t0 = cpu_sec();
	do {
		pfl_prg_mask_add(v, dim, key, 1);
		reps++;
	} while ((dt = cpu_sec() - t0) < floor_s);
	prg_bps = (double)reps * dim * 4 / dt;
	randombytes_buf(sk, 32);
	crypto_scalarmult_base(pk, sk);
	t0 = cpu_sec();
	do {
		for (int i = 0; i < 100; i++)
			if (crypto_scalarmult(out, sk, pk) != 0)
				die("x25519", 0);
		ops += 100;
	} while ((dt = cpu_sec() - t0) < floor_s * 2 / 3);
	x25519_ops = ops / dt;
	free(v);
	if (quiet)
		return;
	printf("secagg floor keystream_GBps=%.3f x25519_ops_per_s=%.0f\n",
	       ks_bps / 1e9, x25519_ops);
	printf("secagg prg workload=mask_add,dim=%zu baseline=keystream_floor "
	       "baseline_workload=mask_add,dim=%zu mask_add_GBps=%.3f "
	       "ratio_to_floor=%.3f\n",
	       dim, dim, prg_bps / 1e9, ks_bps / prg_bps);
}

struct cfg {
	enum pfl_sa_mode mode;
	uint32_t n, k, t;
	size_t dim;
	uint32_t ndrop; /* clients (not client 1) that drop before MASKED */
};

struct timing {
	double phase[PFL_SA_PHASES]; /* server seconds per phase */
	double server;               /* seconds inside pfl_sa_server_* */
	double client;               /* seconds inside client 1's steps */
	uint32_t masks;              /* masks the server removed */
	uint32_t x25519;             /* key agreements the server did */
};

#define TIMED(acc, call)                  \
	do {                              \
		double t0_ = cpu_sec();   \
		pfl_err e_ = (call);      \
		(acc) += cpu_sec() - t0_; \
		if (e_ != PFL_OK)         \
			die(#call, e_);   \
	} while (0)

static void run_round_once(const struct cfg *cf, struct timing *tm);

/* the floors are measured right before and after each round and averaged:
 * the machine is shared and its speed drifts with the neighbours' load */
static void
run_round(const struct cfg *cf, struct timing *tm)
{
	double ks, xo;

	measure_floors(cf->dim, 1);
	ks = ks_bps;
	xo = x25519_ops;
	run_round_once(cf, tm);
	measure_floors(cf->dim, 1);
	ks_bps = (ks + ks_bps) / 2;
	x25519_ops = (xo + x25519_ops) / 2;
}

static void
run_round_once(const struct cfg *cf, struct timing *tm)
{
	struct pfl_sa_params p = {0};
	struct pfl_identity **ids = calloc(cf->n, sizeof(*ids));
	uint8_t(*pks)[32] = calloc(cf->n, 32);
	struct pfl_sa_client **cl = calloc(cf->n, sizeof(*cl));
	uint8_t *drop = calloc(cf->n + 1, 1), *rnd = malloc(cf->dim * 4);
	uint32_t *x = calloc(cf->dim, 4), *nbr = calloc(cf->n, 4), cnt;
	struct pfl_sa_server *s;
	struct pfl_buf in, out;

	if (!ids || !pks || !cl || !drop || !rnd || !x || !nbr)
		die("alloc", 0);
	memset(tm, 0, sizeof(*tm));
	p.mode = cf->mode;
	p.n = cf->n;
	p.k = cf->k;
	p.t = cf->t;
	p.dim = cf->dim;
	randombytes_buf(p.round_ctx, 32);
	randombytes_buf(p.graph_seed, 32);
	randombytes_buf(rnd, cf->dim * 4);
	randombytes_buf(x, cf->dim * 4);
	for (uint32_t i = 0; i < cf->ndrop; i++)
		drop[2 + (uint32_t)randombytes_uniform(cf->n - 1)] = 1;
	for (uint32_t i = 0; i < cf->n; i++) {
		if (pfl_identity_generate(&ids[i]) != PFL_OK)
			die("identity", 0);
		memcpy(pks[i], pfl_identity_public(ids[i]), 32);
	}
	for (uint32_t i = 0; i < cf->n; i++) {
		if (pfl_sa_client_new(&p, i + 1, ids[i],
		                      (const uint8_t(*)[32])pks,
		                      &cl[i]) != PFL_OK)
			die("client_new", 0);
		pfl_sa_client_set_input(cl[i], x);
	}
	TIMED(tm->server, pfl_sa_server_new(&p, (const uint8_t(*)[32])pks, &s));
	pfl_buf_init(&in, 0);
	pfl_buf_init(&out, 0);
	for (int ph = 0; ph < PFL_SA_PHASES; ph++) {
		double before = tm->server;

		for (uint32_t id = 1; id <= cf->n; id++) {
			double dummy = 0, *ct = id == 1 ? &tm->client : &dummy;

			if (drop[id] && ph >= PFL_SA_MASKED)
				continue;
			pfl_buf_clear(&in);
			pfl_buf_clear(&out);
			if (ph > 0)
				TIMED(tm->server,
				      pfl_sa_server_output(
				              s, (enum pfl_sa_phase)(ph - 1),
				              id, &in));
			if (ph == PFL_SA_MASKED && id != 1) {
				/* not timed: the client's state advances (its
				 * shares are real) but its vector is random
				 * bytes of the right length */
				TIMED(dummy,
				      pfli_sa_client_step_nomask(
				              cl[id - 1], in.data, in.len));
				TIMED(tm->server,
				      pfl_sa_server_recv(s, PFL_SA_MASKED, id,
				                         rnd, cf->dim * 4));
				continue;
			}
			TIMED(*ct, pfl_sa_client_step(cl[id - 1],
			                              (enum pfl_sa_phase)ph,
			                              in.data, in.len, &out));
			TIMED(tm->server,
			      pfl_sa_server_recv(s, (enum pfl_sa_phase)ph, id,
			                         out.data, out.len));
		}
		TIMED(tm->server,
		      pfl_sa_server_close(s, (enum pfl_sa_phase)ph));
		tm->phase[ph] = tm->server - before;
	}
	/* what the server had to do, for its floor */
	for (uint32_t id = 1; id <= cf->n; id++) {
		if (!drop[id]) {
			tm->masks++;
			continue;
		}
		if (pfl_sa_server_neighbours(s, id, nbr, cf->n, &cnt) != PFL_OK)
			die("neighbours", 0);
		for (uint32_t j = 0; j < cnt; j++)
			if (!drop[nbr[j]]) {
				tm->masks++;
				tm->x25519++;
			}
	}
	pfl_buf_fini(&in);
	pfl_buf_fini(&out);
	pfl_sa_server_free(s);
	for (uint32_t i = 0; i < cf->n; i++) {
		pfl_sa_client_free(cl[i]);
		pfl_identity_free(ids[i]);
	}
	free(ids);
	free(pks);
	free(cl);
	free(drop);
	free(rnd);
	free(x);
	free(nbr);
}

static double
ks_time(size_t dim)
{
	return (double)dim * 4 / ks_bps;
}

static const char *
mode_name(enum pfl_sa_mode m)
{
	return m == PFL_SA_FULL ? "secagg" : "secagg+";
}

/* The round's sizes and settings, the workload= of its lines. */
static void
workload(const struct cfg *cf, char *buf, size_t len)
{
	snprintf(buf, len, "secagg,mode=%s,n=%u,k=%u,t=%u,dim=%zu,dropped=%u",
	         mode_name(cf->mode), cf->n, cf->k, cf->t, cf->dim, cf->ndrop);
}

/* The server's floor is priced for the round itself: its mask expansions
 * and key agreements at the rates measured around it. */
static void
server_line(const char *what, const struct cfg *cf, const struct timing *tm)
{
	double floor = tm->masks * ks_time(cf->dim) + tm->x25519 / x25519_ops;
	char w[128];

	workload(cf, w, sizeof(w));
	printf("secagg %s workload=%s baseline=server_floor "
	       "baseline_workload=%s server_s=%.3f floor_s=%.3f ratio=%.3f "
	       "phases_s=%.3f/%.3f/%.3f/%.3f/%.3f\n",
	       what, w, w, tm->server, floor, tm->server / floor, tm->phase[0],
	       tm->phase[1], tm->phase[2], tm->phase[3], tm->phase[4]);
}

static void
client_line(const char *what, const struct cfg *cf, const struct timing *tm)
{
	/* k + 1 masks; 3k key agreements (encrypt, decrypt, mask) + 2 keys */
	double floor =
	        (cf->k + 1) * ks_time(cf->dim) + (3.0 * cf->k + 2) / x25519_ops;
	char w[128];

	workload(cf, w, sizeof(w));
	printf("secagg %s workload=%s baseline=client_floor "
	       "baseline_workload=%s client_s=%.3f floor_s=%.3f ratio=%.3f\n",
	       what, w, w, tm->client, floor, tm->client / floor);
}

/*
 * Bonawitz et al. 2017 (CCS), Table/Fig. of server time: 500 clients,
 * 100K entries, full SecAgg, 0/10/30% dropout: 2, 62 and 143 s. The
 * speedup is printed only when this round has the same workload;
 * otherwise the line says it was not compared (no published figure is
 * scaled to other sizes: full SecAgg's cost grows as n^2 and as n x dim).
 */
static void
bonawitz_line(const struct cfg *cf, double drop, double paper_s,
              const struct timing *tm)
{
	char w[96], pw[96];

	snprintf(w, sizeof(w), "secagg_full,n=%u,dim=%zu,dropped=%u", cf->n,
	         cf->dim, cf->mode == PFL_SA_FULL ? cf->ndrop : UINT32_MAX);
	snprintf(pw, sizeof(pw), "secagg_full,n=%u,dim=%u,dropped=%u", 500u,
	         100000u, (uint32_t)(drop * 500));
	if (strcmp(w, pw) != 0) {
		printf("secagg bonawitz_paper dropout=%.0f%% compared=no "
		       "workload=%s paper_workload=%s (the paper's sizes run "
		       "in the full run only: PFL_BENCH_FULL=1)\n",
		       drop * 100, w, pw);
		return;
	}
	printf("secagg bonawitz_speedup dropout=%.0f%% workload=%s "
	       "baseline=paper:bonawitz2017 baseline_workload=%s paper_s=%.0f "
	       "ours_s=%.3f speedup=%.1f\n",
	       drop * 100, w, pw, paper_s, tm->server, paper_s / tm->server);
}

static struct cfg
mkcfg(enum pfl_sa_mode mode, uint32_t n, size_t dim, double drop, uint32_t k)
{
	struct cfg c = {.mode = mode, .n = n, .dim = dim};

	if (pfl_sa_choose_params(mode, n, drop > 0.05 ? drop : 0.05, 0.05, &c.k,
	                         &c.t) != PFL_OK)
		die("choose_params", 0);
	if (k != 0) { /* a given mean degree, with the smallest majority t */
		c.k = k;
		c.t = (k + 1) / 2 + 1;
	}
	c.ndrop = (uint32_t)(drop * n);
	return c;
}

int
main(int argc, char **argv)
{
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	int quick = smoke || (argc > 1 && strcmp(argv[1], "--quick") == 0);
	const char *only =
	        getenv("PFL_BENCH_SECAGG_ONLY"); /* e.g. "bonawitz" */
	size_t big = smoke ? 4096 : quick ? 100000 : 1000000;
	size_t mid = smoke ? 1024 : quick ? 10000 : 100000;
	uint32_t nbig = smoke ? 20 : quick ? 100 : 1000;
	struct timing tm, tm0;
	struct cfg c;

	setvbuf(stdout, NULL, _IOLBF, 0); /* progress when piped */
	if (sodium_init() < 0)
		die("sodium_init", 0);
	if (smoke)
		floor_s = 0.003;
	measure_floors(big, 0);

#define WANT(sec) (only == NULL || strstr(only, sec) != NULL)
	/* server, secagg+, 1000 x 1M, k ~ 30, no dropouts */
	if (!WANT("server"))
		goto client;
	c = mkcfg(PFL_SA_PLUS, nbig, big, 0, 0);
	run_round(&c, &tm0);
	server_line("server_round", &c, &tm0);
	/* added server time per dropped client */
	c.ndrop = nbig >= 200 ? nbig / 100 : 2;
	run_round(&c, &tm);
	server_line("server_round", &c, &tm);
	{
		double per = (tm.server - tm0.server) / c.ndrop;
		double floor = c.k * (ks_time(c.dim) + 1 / x25519_ops);

		char w[128];

		workload(&c, w, sizeof(w));
		printf("secagg server_per_dropped workload=%s "
		       "baseline=per_dropped_floor baseline_workload=%s "
		       "added_s=%.4f floor_s=%.4f ratio=%.3f\n",
		       w, w, per, floor, per / floor);
	}
client:
	/* client, secagg+, k ~ 72, 1M */
	if (!WANT("client"))
		goto bonawitz;
	c = mkcfg(PFL_SA_PLUS,
	          smoke   ? 20
	          : quick ? 80
	                  : 200,
	          big, 0, smoke ? 8 : 72);
	run_round(&c, &tm);
	client_line("client_round", &c, &tm);
bonawitz:
	/* Bonawitz et al. 2017: 500 clients, 100K entries, 0/10/30% */
	for (int d = 0; d < 3 && WANT("bonawitz"); d++) {
		static const double drops[3] = {0, 0.1, 0.3};
		static const double paper[3] = {2, 62, 143};

		c = mkcfg(PFL_SA_FULL,
		          smoke   ? 20
		          : quick ? 100
		                  : 500,
		          mid, drops[d], 0);
		run_round(&c, &tm);
		server_line("bonawitz", &c, &tm);
		bonawitz_line(&c, drops[d], paper[d], &tm);
	}
	/* full secagg against secagg+ */
	for (int i = 0; i < 3 && WANT("compare"); i++) {
		static const uint32_t ns[3] = {100, 500, 1000};
		uint32_t n = smoke ? ns[i] / 20 : quick ? ns[i] / 5 : ns[i];

		for (int m = PFL_SA_FULL; m <= PFL_SA_PLUS; m++) {
			if (m == PFL_SA_FULL && n > 500 && !quick)
				continue; /* see docs/BENCHMARKS.md */
			c = mkcfg((enum pfl_sa_mode)m, n, mid, 0, 0);
			run_round(&c, &tm);
			server_line("compare", &c, &tm);
			client_line("compare", &c, &tm);
		}
	}
	return 0;
}
