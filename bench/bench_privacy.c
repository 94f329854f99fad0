/*
 * privacy/ benchmarks. Each figure is printed with a baseline measured in
 * the same run on the same machine:
 *
 *   accountant   RDP epsilon() / epsilon_if() / charge() after R rounds,
 *                in ms per call (no baseline; epsilon_if against its
 *                10 ms target), and the cost of one RDP order
 *   PLD          pfl_pld_epsilon_bound (adaptive grid) against a fresh
 *                RDP accountant's charge + epsilon(), same (q, sigma,
 *                steps, delta), CPU time; up to 100,000 steps
 *   noise        ns per coordinate of pfl_noise_gaussian_add,
 *                pfl_noise_dgauss_add (several variances) and
 *                pfl_quant_encode, as multiples of the keystream floor
 *                (one pfl_csprng_u64 per coordinate)
 *
 * Every line with a ratio names the same workload on both sides
 * (docs/BENCHMARKS.md, "Line convention").
 *
 * Usage: bench_privacy [--quick | --smoke]   (smaller sizes; --smoke is
 * what the line check, tests/bench_lines.sh, runs)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
bench_rdp(int quick)
{
	struct pfl_accountant *a;
	int rounds = quick ? 100 : 1000, reps = quick ? 20 : 200;
	double t0, one_order, eps, t_eps, t_if, t_charge;

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

	printf("privacy rdp_one_order workload=rdp_order,q=0.0355,order=2.5 "
	       "ms_per_call=%.4f\n",
	       one_order * 1e3);
	printf("privacy rdp_charge workload=rdp,q=0.0355,rounds=%d,"
	       "orders=%d ms_per_call=%.4f\n",
	       rounds, PFL_RDP_N_ORDERS, t_charge * 1e3);
	printf("privacy rdp_epsilon workload=rdp,q=0.0355,rounds=%d,"
	       "delta=1e-5 ms_per_call=%.4f\n",
	       rounds, t_eps * 1e3);
	printf("privacy rdp_epsilon_if workload=rdp,q=0.0355,rounds=%d,"
	       "delta=1e-5 ms_per_call=%.4f target_ms=10 %s\n",
	       rounds, t_if * 1e3, t_if < 10e-3 ? "ok" : "MISS");
}

static double
cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * PLD (pfl_pld_epsilon_bound, the adaptive grid) against RDP (a fresh
 * accountant: charge + epsilon) on the same charge: the same workload on
 * both sides. CPU seconds: the machine is shared. Target (issue #16):
 * 100,000 steps in under 1 s on one core.
 */
static void
bench_pld(double q, double sigma, uint64_t steps, double delta)
{
	struct pfl_accountant *a;
	double e_pld, err, e_rdp, t_pld, t_rdp, t0;
	char w[128];

	t0 = cpu_sec();
	check(pfl_pld_epsilon_bound(&q, &sigma, &steps, 1, delta, 0, &e_pld,
	                            &err),
	      "pld");
	t_pld = cpu_sec() - t0;
	t0 = cpu_sec();
	check(pfl_accountant_new(PFL_ACCT_RDP, &a), "new");
	check(pfl_accountant_charge(a, q, sigma, steps), "charge");
	check(pfl_accountant_epsilon(a, delta, &e_rdp, NULL), "epsilon");
	t_rdp = cpu_sec() - t0;
	pfl_accountant_free(a);
	snprintf(w, sizeof(w), "accountant,q=%g,sigma=%g,steps=%llu,delta=%g",
	         q, sigma, (unsigned long long)steps, delta);
	printf("privacy pld_epsilon workload=%s baseline=rdp "
	       "baseline_workload=%s pld_cpu_ms=%.1f rdp_cpu_ms=%.2f "
	       "ratio=%.1f pld_epsilon=%.6f pld_error=%.2g rdp_epsilon=%.6f "
	       "target_ms=1000 %s\n",
	       w, w, t_pld * 1e3, t_rdp * 1e3, t_pld / t_rdp, e_pld, err, e_rdp,
	       steps < 100000 || t_pld < 1.0 ? "ok" : "MISS");
}

/* The floor is one keystream word for each of the same n coordinates. */
static void
noise_line(const char *what, size_t n, const char *extra, double ns,
           double floor_ns)
{
	printf("privacy %s workload=noise,coords=%zu%s "
	       "baseline=keystream_floor "
	       "baseline_workload=noise,coords=%zu%s ns_per_coord=%.2f "
	       "floor_ns_per_coord=%.2f ratio=%.1f\n",
	       what, n, extra, n, extra, ns, floor_ns, ns / floor_ns);
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
	char w[32];

	if (f == NULL || u == NULL)
		exit(1);
	check(pfl_csprng_new(seed, &r), "csprng");
	t0 = pfl_clock_sec();
	for (size_t i = 0; i < n; i++)
		acc += pfl_csprng_u64(r);
	floor_ns = (pfl_clock_sec() - t0) * 1e9 / n;
	sink = (double)acc;
	printf("privacy keystream_floor workload=noise,coords=%zu "
	       "ns_per_coord=%.2f\n",
	       n, floor_ns);

	t0 = pfl_clock_sec();
	pfl_noise_gaussian_add(r, f, n, 1.0);
	t = (pfl_clock_sec() - t0) * 1e9 / n;
	noise_line("gaussian_add", n, "", t, floor_ns);
	for (size_t k = 0; k < sizeof(s2s) / sizeof(s2s[0]); k++) {
		t0 = pfl_clock_sec();
		check(pfl_noise_dgauss_add(r, u, n, s2s[k]), "dgauss");
		t = (pfl_clock_sec() - t0) * 1e9 / n;
		snprintf(w, sizeof(w), ",sigma2=%g", s2s[k]);
		noise_line("dgauss_add", n, w, t, floor_ns);
	}
	t0 = pfl_clock_sec();
	pfl_quant_encode(r, f, n, 0x1.0p20, u);
	t = (pfl_clock_sec() - t0) * 1e9 / n;
	noise_line("quant_encode", n, "", t, floor_ns);
	pfl_csprng_free(r);
	free(f);
	free(u);
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && (strcmp(argv[1], "--quick") == 0 ||
	                         strcmp(argv[1], "--smoke") == 0);

	if (sodium_init() < 0)
		return 1;
	bench_rdp(quick);
	bench_pld(0.0355, 1.2, 100, 1e-5);
	bench_pld(4.27e-3, 1.1, 3516, 1e-5);
	bench_pld(1e-4, 1.0, quick ? 10000 : 100000, 1e-6);
	if (!quick)
		bench_pld(1.0, 0.5, 100000, 1e-7);
	bench_noise(quick);
	return 0;
}
