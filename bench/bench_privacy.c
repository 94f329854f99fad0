/*
 * privacy/ benchmarks. Each figure is printed with a baseline measured in
 * the same run on the same machine:
 *
 *   accountant   RDP epsilon() / epsilon_if() / charge() after R rounds,
 *                in ms per call, against the cost of one RDP order
 *                evaluated once (pfl_rdp_sampled_gaussian at order 2.5)
 *   PLD          ms per epsilon() call, as a multiple of one RDP call
 *   noise        ns per coordinate of pfl_noise_gaussian_add,
 *                pfl_noise_dgauss_add (several variances) and
 *                pfl_quant_encode, as multiples of the keystream floor
 *                (one pfl_csprng_u64 per coordinate)
 *
 * Usage: bench_privacy [--quick]   (--quick: smaller sizes, for CI smoke)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/accountant.h"
#include "privfl/clock.h"
#include "privfl/noise.h"
#include "privfl/quant.h"

static volatile double sink;

static void
check(pfl_err err, const char *what)
{
	if (err != PFL_OK) {
		fprintf(stderr, "bench_privacy: %s: %s\n", what,
		        pfl_strerror(err));
		exit(1);
	}
}

static void
bench_accountant(int quick)
{
	struct pfl_accountant *a, *p;
	int rounds = quick ? 100 : 1000, reps = quick ? 20 : 200;
	double t0, one_order, eps, t_eps, t_if, t_charge, t_pld;

	t0 = pfl_clock_sec();
	for (int i = 0; i < reps; i++)
		sink = pfl_rdp_sampled_gaussian(0.0355, 1.2 + i * 1e-6, 2.5);
	one_order = (pfl_clock_sec() - t0) / reps;

	check(pfl_accountant_new(PFL_ACCT_RDP, &a), "new");
	t0 = pfl_clock_sec();
	/* distinct sigma every round: the distributed-mode worst case */
	for (int r = 0; r < rounds; r++)
		check(pfl_accountant_charge(a, 0.0355, 1.2 + r * 1e-4, 1),
		      "charge");
	t_charge = (pfl_clock_sec() - t0) / rounds;
	t0 = pfl_clock_sec();
	for (int i = 0; i < reps; i++)
		check(pfl_accountant_epsilon(a, 1e-5, &eps, NULL), "eps");
	t_eps = (pfl_clock_sec() - t0) / reps;
	t0 = pfl_clock_sec();
	for (int i = 0; i < reps; i++)
		check(pfl_accountant_epsilon_if(a, 0.0355, 1.2, 1, 1e-5, &eps),
		      "eps_if");
	t_if = (pfl_clock_sec() - t0) / reps;
	pfl_accountant_free(a);

	check(pfl_accountant_new(PFL_ACCT_PLD, &p), "new");
	check(pfl_accountant_charge(p, 0.0355, 1.2, 100), "charge");
	t0 = pfl_clock_sec();
	check(pfl_accountant_epsilon(p, 1e-5, &eps, NULL), "pld");
	t_pld = pfl_clock_sec() - t0;
	pfl_accountant_free(p);

	printf("baseline: one RDP order once          %10.4f ms\n",
	       one_order * 1e3);
	printf("accountant charge (RDP, %d rounds)   %10.4f ms/call  "
	       "%6.1fx baseline\n",
	       rounds, t_charge * 1e3, t_charge / one_order);
	printf("accountant epsilon (RDP)              %10.4f ms/call  "
	       "%6.1fx baseline\n",
	       t_eps * 1e3, t_eps / one_order);
	printf("accountant epsilon_if (RDP)           %10.4f ms/call  "
	       "%6.1fx baseline\n",
	       t_if * 1e3, t_if / one_order);
	printf("accountant epsilon (PLD, T=100)       %10.4f ms/call  "
	       "%6.1fx epsilon_if(RDP)\n",
	       t_pld * 1e3, t_pld / t_if);
}

static void
bench_noise(int quick)
{
	static const uint8_t seed[32] = {7};
	static const double s2s[] = {1.0, 1e2, 1e6, 1e10};
	size_t n = quick ? (1u << 14) : (1u << 20);
	struct pfl_csprng *r;
	float *f = calloc(n, sizeof(float));
	uint32_t *u = calloc(n, sizeof(uint32_t));
	double t0, floor_ns, t;
	uint64_t acc = 0;

	if (f == NULL || u == NULL)
		exit(1);
	check(pfl_csprng_new(seed, &r), "csprng");
	t0 = pfl_clock_sec();
	for (size_t i = 0; i < n; i++)
		acc += pfl_csprng_u64(r);
	floor_ns = (pfl_clock_sec() - t0) * 1e9 / n;
	sink = (double)acc;
	printf("baseline: keystream, one u64/coord    %10.2f ns/coord\n",
	       floor_ns);

	t0 = pfl_clock_sec();
	pfl_noise_gaussian_add(r, f, n, 1.0);
	t = (pfl_clock_sec() - t0) * 1e9 / n;
	printf("gaussian_add                          %10.2f ns/coord  "
	       "%6.1fx baseline\n",
	       t, t / floor_ns);
	for (size_t k = 0; k < sizeof(s2s) / sizeof(s2s[0]); k++) {
		t0 = pfl_clock_sec();
		check(pfl_noise_dgauss_add(r, u, n, s2s[k]), "dgauss");
		t = (pfl_clock_sec() - t0) * 1e9 / n;
		printf("dgauss_add sigma2=%-8g            %10.2f ns/coord  "
		       "%6.1fx baseline\n",
		       s2s[k], t, t / floor_ns);
	}
	t0 = pfl_clock_sec();
	pfl_quant_encode(r, f, n, 0x1.0p20, u);
	t = (pfl_clock_sec() - t0) * 1e9 / n;
	printf("quant_encode                          %10.2f ns/coord  "
	       "%6.1fx baseline\n",
	       t, t / floor_ns);
	pfl_csprng_free(r);
	free(f);
	free(u);
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;

	if (sodium_init() < 0)
		return 1;
	bench_accountant(quick);
	bench_noise(quick);
	return 0;
}
