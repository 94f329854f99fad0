/*
 * privfl accountant: epsilon for a plan, or the plan for an epsilon.
 *
 *   privfl accountant --q Q --sigma Z --steps T --delta D [--method rdp|pld]
 *   privfl accountant --q Q --steps T --delta D --target-epsilon E
 *                     --solve sigma
 *   privfl accountant --q Q --sigma Z --delta D --target-epsilon E
 *                     --solve steps
 *   privfl accountant --batch FILE.csv [--method rdp|pld] [--out FILE.csv]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "privfl/accountant.h"
#include "privfl/buf.h"
#include "privfl/file.h"

#define ACCT_BATCH_MAX (64u << 20)

struct acct_opts {
	double q, sigma, delta, target;
	uint64_t steps;
	int have_q, have_sigma, have_steps, have_delta, have_target;
	enum pfl_acct_method method;
	const char *solve, *batch, *out;
};

static void
acct_usage(FILE *f)
{
	fprintf(f,
	        "usage: privfl accountant --q Q --sigma Z --steps T --delta D "
	        "[--method rdp|pld]\n"
	        "       privfl accountant ... --target-epsilon E --solve "
	        "sigma|steps\n"
	        "       privfl accountant --batch FILE.csv [--method rdp|pld] "
	        "[--out FILE.csv]\n\n"
	        "Epsilon of T rounds of the Poisson-subsampled Gaussian with "
	        "sampling rate Q\n(cohort / population) and noise multiplier "
	        "Z, at delta D. Prints\n'epsilon=<e> order=<best RDP order>'; "
	        "with --method pld 'epsilon=<e>\nerror=<b> order=nan', b "
	        "bounding the PLD's numerical error (e - exact).\n--solve "
	        "sigma prints the smallest Z, "
	        "--solve steps the largest T, whose\nepsilon is at most E. "
	        "--batch reads rows sampling_rate_q,noise_multiplier,\n"
	        "steps,delta and writes them back with epsilon,best_order "
	        "added (stdout\nunless --out).\n");
}

static int
parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && isfinite(*v) ? 0 : -1;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (*s == '-' || *s == '\0')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct acct_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->method = PFL_ACCT_RDP;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0)
			return 1;
		if (v == NULL) {
			fprintf(stderr, "privfl accountant: %s needs a value\n",
			        k);
			return -1;
		}
		i++;
		if (strcmp(k, "--q") == 0)
			bad = parse_double(v, &o->q), o->have_q = 1;
		else if (strcmp(k, "--sigma") == 0)
			bad = parse_double(v, &o->sigma), o->have_sigma = 1;
		else if (strcmp(k, "--steps") == 0)
			bad = parse_u64(v, &o->steps), o->have_steps = 1;
		else if (strcmp(k, "--delta") == 0)
			bad = parse_double(v, &o->delta), o->have_delta = 1;
		else if (strcmp(k, "--target-epsilon") == 0)
			bad = parse_double(v, &o->target), o->have_target = 1;
		else if (strcmp(k, "--method") == 0) {
			if (strcmp(v, "rdp") == 0)
				o->method = PFL_ACCT_RDP;
			else if (strcmp(v, "pld") == 0)
				o->method = PFL_ACCT_PLD;
			else
				bad = 1;
		} else if (strcmp(k, "--solve") == 0) {
			o->solve = v;
			bad = strcmp(v, "sigma") != 0 &&
			      strcmp(v, "steps") != 0;
		} else if (strcmp(k, "--batch") == 0)
			o->batch = v;
		else if (strcmp(k, "--out") == 0)
			o->out = v;
		else {
			fprintf(stderr,
			        "privfl accountant: unknown option %s\n", k);
			return -1;
		}
		if (bad) {
			fprintf(stderr,
			        "privfl accountant: bad value for %s: "
			        "'%s'\n",
			        k, v);
			return -1;
		}
	}
	return 0;
}

/* Epsilon of one plan; order NAN for PLD. */
static pfl_err
plan_epsilon(enum pfl_acct_method m, double q, double sigma, uint64_t steps,
             double delta, double *eps, double *order)
{
	struct pfl_accountant *a;
	pfl_err err;

	if ((err = pfl_accountant_new(m, &a)) != PFL_OK)
		return err;
	if ((err = pfl_accountant_charge(a, q, sigma, steps)) == PFL_OK)
		err = pfl_accountant_epsilon(a, delta, eps, order);
	pfl_accountant_free(a);
	return err;
}

static int
report_err(const char *what, pfl_err err)
{
	fprintf(stderr, "privfl accountant: %s: %s\n", what, pfl_strerror(err));
	return 1;
}

/*
 * --method pld for one plan: the accountant's epsilon (the smaller of PLD
 * and RDP, both upper bounds) and beside it the numerical error bound of
 * the PLD figure (pfl_pld_epsilon_bound); 0 when RDP is the smaller.
 */
static int
print_pld(const struct acct_opts *o)
{
	double e, err, r;
	pfl_err rc;

	rc = pfl_pld_epsilon_bound(&o->q, &o->sigma, &o->steps, 1, o->delta,
	                           0.0, &e, &err);
	if (rc == PFL_OK)
		rc = plan_epsilon(PFL_ACCT_RDP, o->q, o->sigma, o->steps,
		                  o->delta, &r, NULL);
	if (rc != PFL_OK)
		return report_err("epsilon", rc);
	if (r < e) {
		e = r;
		err = 0.0;
	}
	printf("epsilon=%.17g error=%.3g order=nan\n", e, err);
	return 0;
}

/* x rounded up to 6 significant digits (so that %.6g prints >= x). */
static double
round_up6(double x)
{
	double p = pow(10.0, floor(log10(x)) - 5), r = ceil(x / p) * p;
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6g", r);
	while (strtod(buf, NULL) < x) {
		r += p;
		snprintf(buf, sizeof(buf), "%.6g", r);
	}
	return strtod(buf, NULL);
}

/* Smallest sigma (to 1e-4 relative) whose epsilon is <= target. */
static int
solve_sigma(const struct acct_opts *o)
{
	double lo = PFL_ACCT_MIN_SIGMA, hi = PFL_ACCT_MIN_SIGMA, e, ord;
	pfl_err err;

	for (;;) {
		if ((err = plan_epsilon(o->method, o->q, hi, o->steps, o->delta,
		                        &e, &ord)) != PFL_OK)
			return report_err("epsilon", err);
		if (e <= o->target)
			break;
		lo = hi;
		hi *= 2.0;
		if (hi > PFL_ACCT_MAX_SIGMA) {
			fprintf(stderr,
			        "privfl accountant: no sigma up to %g "
			        "reaches epsilon %g\n",
			        PFL_ACCT_MAX_SIGMA, o->target);
			return 1;
		}
	}
	while (hi - lo > 1e-4 * hi && hi > PFL_ACCT_MIN_SIGMA) {
		double mid = 0.5 * (lo + hi), em, om;
		if ((err = plan_epsilon(o->method, o->q, mid, o->steps,
		                        o->delta, &em, &om)) != PFL_OK)
			return report_err("epsilon", err);
		if (em <= o->target)
			hi = mid, e = em, ord = om;
		else
			lo = mid;
	}
	/* print hi rounded UP to 6 digits, and the epsilon of that value */
	hi = round_up6(hi);
	if ((err = plan_epsilon(o->method, o->q, hi, o->steps, o->delta, &e,
	                        &ord)) != PFL_OK)
		return report_err("epsilon", err);
	printf("sigma=%.6g epsilon=%.17g order=%.10g\n", hi, e, ord);
	return 0;
}

/* Largest number of steps whose epsilon is <= target. */
static int
solve_steps(const struct acct_opts *o)
{
	uint64_t lo = 0, hi = 1;
	double e = 0.0, ord = NAN, eh, oh;
	pfl_err err;

	for (;;) {
		if ((err = plan_epsilon(o->method, o->q, o->sigma, hi, o->delta,
		                        &eh, &oh)) != PFL_OK)
			return report_err("epsilon", err);
		if (eh > o->target)
			break;
		lo = hi, e = eh, ord = oh;
		if (hi >= PFL_ACCT_MAX_STEPS / 2) {
			printf("steps=%llu epsilon=%.17g order=%.10g\n",
			       (unsigned long long)lo, e, ord);
			return 0;
		}
		hi *= 2;
	}
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((err = plan_epsilon(o->method, o->q, o->sigma, mid,
		                        o->delta, &eh, &oh)) != PFL_OK)
			return report_err("epsilon", err);
		if (eh <= o->target)
			lo = mid, e = eh, ord = oh;
		else
			hi = mid;
	}
	printf("steps=%llu epsilon=%.17g order=%.10g\n", (unsigned long long)lo,
	       e, ord);
	return 0;
}

/* Split line (modified in place) at commas; returns the field count. */
static size_t
split_csv(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		if ((p = strchr(p, ',')) == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static const char *const batch_cols[4] = {"sampling_rate_q", "noise_multiplier",
                                          "steps", "delta"};

static int
batch_header(char *line, int col[4], size_t *ncols)
{
	char *f[64];
	size_t n = split_csv(line, f, 64);

	for (int c = 0; c < 4; c++) {
		col[c] = -1;
		for (size_t i = 0; i < n; i++)
			if (strcmp(f[i], batch_cols[c]) == 0)
				col[c] = (int)i;
		if (col[c] < 0) {
			fprintf(stderr,
			        "privfl accountant: batch header lacks "
			        "column %s\n",
			        batch_cols[c]);
			return -1;
		}
	}
	*ncols = n;
	return 0;
}

static int
batch_row(const struct acct_opts *o, char *line, const int col[4], size_t ncols,
          size_t lineno, struct pfl_buf *out)
{
	char *f[64];
	size_t n = split_csv(line, f, 64);
	double q, s, d, e, ord;
	uint64_t t;
	pfl_err err;

	if (n != ncols || parse_double(f[col[0]], &q) ||
	    parse_double(f[col[1]], &s) || parse_u64(f[col[2]], &t) ||
	    parse_double(f[col[3]], &d)) {
		fprintf(stderr, "privfl accountant: line %zu: bad row\n",
		        lineno);
		return -1;
	}
	if ((err = plan_epsilon(o->method, q, s, t, d, &e, &ord)) != PFL_OK) {
		fprintf(stderr, "privfl accountant: line %zu: %s\n", lineno,
		        pfl_strerror(err));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (pfl_buf_printf(out, "%s,", f[i]) != PFL_OK)
			return -1;
	return pfl_buf_printf(out, "%.17g,%.10g\n", e, ord) == PFL_OK ? 0 : -1;
}

static int
batch_lines(const struct acct_opts *o, char *text, struct pfl_buf *out)
{
	int col[4];
	size_t ncols = 0, lineno = 0;
	char *line = text, *next;
	int rc = 0;

	for (; line != NULL && rc == 0; line = next) {
		size_t len;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (lineno == 1) {
			if (pfl_buf_printf(out, "%s,epsilon,best_order\n",
			                   line) != PFL_OK)
				return -1;
			rc = batch_header(line, col, &ncols);
		} else
			rc = batch_row(o, line, col, ncols, lineno, out);
	}
	if (rc == 0 && ncols == 0) {
		fprintf(stderr, "privfl accountant: empty batch file\n");
		rc = -1;
	}
	return rc;
}

static int
run_batch(const struct acct_opts *o)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct pfl_buf out;
	pfl_err err;
	int rc;

	if ((err = pfl_file_read(o->batch, ACCT_BATCH_MAX, &data, &len)))
		return report_err(o->batch, err);
	pfl_buf_init(&out, 0);
	rc = batch_lines(o, (char *)data, &out);
	if (rc == 0 && o->out != NULL) {
		if ((err = pfl_file_write_atomic(o->out, out.data, out.len,
		                                 0644)) != PFL_OK)
			rc = report_err(o->out, err);
	} else if (rc == 0 && out.len > 0 &&
	           fwrite(out.data, 1, out.len, stdout) != out.len)
		rc = -1;
	pfl_buf_fini(&out);
	free(data);
	return rc == 0 ? 0 : 1;
}

int
pfl_cmd_accountant(int argc, char **argv)
{
	struct acct_opts o;
	double e, ord;
	pfl_err err;
	int r = parse_opts(argc, argv, &o);

	if (r != 0) {
		acct_usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	if (o.batch != NULL)
		return run_batch(&o);
	if (!o.have_q || !o.have_delta ||
	    (o.solve == NULL && (!o.have_sigma || !o.have_steps)) ||
	    (o.solve != NULL && !o.have_target) ||
	    (o.solve != NULL && strcmp(o.solve, "sigma") == 0 &&
	     !o.have_steps) ||
	    (o.solve != NULL && strcmp(o.solve, "steps") == 0 &&
	     !o.have_sigma)) {
		acct_usage(stderr);
		return 2;
	}
	if (!(o.q >= 0.0 && o.q <= 1.0) || !(o.delta > 0.0 && o.delta < 1.0) ||
	    (o.have_sigma && !(o.sigma >= PFL_ACCT_MIN_SIGMA &&
	                       o.sigma <= PFL_ACCT_MAX_SIGMA))) {
		fprintf(stderr,
		        "privfl accountant: need 0 <= q <= 1, "
		        "0 < delta < 1, %g <= sigma <= %g\n",
		        PFL_ACCT_MIN_SIGMA, PFL_ACCT_MAX_SIGMA);
		return 2;
	}
	if (o.solve != NULL && !(o.target > 0.0)) {
		fprintf(stderr, "privfl accountant: --target-epsilon must be "
		                "> 0\n");
		return 2;
	}
	if (o.solve != NULL && strcmp(o.solve, "sigma") == 0)
		return solve_sigma(&o);
	if (o.solve != NULL)
		return solve_steps(&o);
	if (o.method == PFL_ACCT_PLD)
		return print_pld(&o);
	if ((err = plan_epsilon(o.method, o.q, o.sigma, o.steps, o.delta, &e,
	                        &ord)) != PFL_OK)
		return report_err("epsilon", err);
	printf("epsilon=%.17g order=%.10g\n", e, ord);
	return 0;
}
