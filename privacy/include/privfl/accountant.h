/*
 * privfl — the privacy accountant.
 *
 * Tracks what a federation has released as a list of charges, each being
 * `steps` compositions of the Poisson-subsampled Gaussian mechanism with
 * sampling rate q (cohort / population) and noise multiplier sigma
 * (noise stddev / L2 sensitivity), and turns it into an (epsilon, delta)
 * that upper-bounds the privacy loss of one client (add/remove adjacency).
 *
 * PFL_ACCT_RDP: Renyi DP of the sampled Gaussian (Mironov, Talwar, Zhang
 * 2019), exact series for integer and fractional orders over the order list
 * of Google's dp_accounting (1.1..10.9 step 0.1, 11..63, 128, 256, 512,
 * 1024), converted by Canonne-Kamath-Steinke 2020 Prop. 12.
 * PFL_ACCT_PLD: privacy loss distribution with connect-the-dots
 * discretization, composed by FFT (pfl_pld_epsilon_bound); the accountant
 * reports the smaller of the PLD and RDP epsilons, both upper bounds
 * (docs/PRIVACY.md); for PLD it rounds each sigma down to 3 significant
 * digits (conservative) so that near-equal charges share one FFT.
 *
 * Thread-safety: an accountant is plain state; one thread at a time per
 * object. The free functions are pure and thread-safe.
 */
#ifndef PRIVFL_ACCOUNTANT_H
#define PRIVFL_ACCOUNTANT_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/buf.h"
#include "privfl/err.h"

enum pfl_acct_method {
	PFL_ACCT_RDP = 0,
	PFL_ACCT_PLD = 1,
};

/* Limits checked by pfl_accountant_charge and pfl_accountant_load. */
#define PFL_ACCT_MAX_CHARGES 1000000u
#define PFL_ACCT_MAX_STEPS   ((uint64_t)1 << 40)
#define PFL_ACCT_MIN_SIGMA   0.05
#define PFL_ACCT_MAX_SIGMA   1e6

/* Number of RDP orders used by the accountant (the dp_accounting list). */
#define PFL_RDP_N_ORDERS 156

struct pfl_accountant;

/*
 * Make an empty accountant using method.
 * @param[out] out  new accountant, owned by the caller (pfl_accountant_free)
 * @return PFL_OK, PFL_ERR_INVAL (unknown method), PFL_ERR_NOMEM
 */
pfl_err pfl_accountant_new(enum pfl_acct_method method,
                           struct pfl_accountant **out) PFL_WUR;

/* Free an accountant; accepts NULL. */
void pfl_accountant_free(struct pfl_accountant *a);

/* The method the accountant was made with. */
enum pfl_acct_method pfl_accountant_method(const struct pfl_accountant *a);

/* Total steps charged so far (saturates at UINT64_MAX). */
uint64_t pfl_accountant_steps(const struct pfl_accountant *a);

/*
 * Record steps compositions of the sampled Gaussian with rate q in [0, 1]
 * and noise multiplier sigma in [PFL_ACCT_MIN_SIGMA, PFL_ACCT_MAX_SIGMA].
 * Consecutive charges with the same (q, sigma) are merged. steps == 0 or
 * q == 0 records nothing. On error nothing changes.
 * @return PFL_OK, PFL_ERR_INVAL (out-of-range or non-finite values),
 *         PFL_ERR_TOOBIG (too many charges or steps), PFL_ERR_NOMEM
 */
pfl_err pfl_accountant_charge(struct pfl_accountant *a, double q, double sigma,
                              uint64_t steps) PFL_WUR;

/*
 * Epsilon spent so far at delta in (0, 1).
 * @param[out] eps    epsilon (0 when nothing is charged)
 * @param[out] order  RDP: the minimizing order; PLD: NAN. May be NULL.
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM (PLD only)
 */
pfl_err pfl_accountant_epsilon(const struct pfl_accountant *a, double delta,
                               double *eps, double *order) PFL_WUR;

/*
 * Epsilon after a hypothetical extra charge (q, sigma, steps), without
 * recording it: what the budget check before a round calls.
 * @return as pfl_accountant_charge and pfl_accountant_epsilon
 */
pfl_err pfl_accountant_epsilon_if(const struct pfl_accountant *a, double q,
                                  double sigma, uint64_t steps, double delta,
                                  double *eps) PFL_WUR;

/*
 * The budget check before a round: the epsilon after a hypothetical charge
 * (q, sigma, steps), compared with budget (same delta).
 * @param[out] eps  that epsilon (written on PFL_OK and PFL_ERR_BUDGET)
 * @return PFL_OK if eps <= budget, PFL_ERR_BUDGET if the round would
 *         exceed it (refuse the round), or the errors of
 *         pfl_accountant_epsilon_if; budget must be > 0 (PFL_ERR_INVAL)
 */
pfl_err pfl_accountant_check_budget(const struct pfl_accountant *a, double q,
                                    double sigma, uint64_t steps, double delta,
                                    double budget, double *eps) PFL_WUR;

/*
 * Serialize the method and the list of charges (with a BLAKE2b checksum)
 * for a checkpoint, appended to out (caller-initialized).
 * @return PFL_OK, PFL_ERR_NOMEM, PFL_ERR_TOOBIG (out->max reached)
 */
pfl_err pfl_accountant_save(const struct pfl_accountant *a,
                            struct pfl_buf *out) PFL_WUR;

/*
 * Rebuild an accountant from pfl_accountant_save bytes. Every field is
 * validated (magic, version, method, count against the length, ranges,
 * checksum).
 * @param[out] out  new accountant, written only on success
 * @return PFL_OK, PFL_ERR_FORMAT (malformed or corrupted bytes),
 *         PFL_ERR_NOMEM
 */
pfl_err pfl_accountant_load(const uint8_t *buf, size_t len,
                            struct pfl_accountant **out) PFL_WUR;

/*
 * The order list (PFL_RDP_N_ORDERS values, increasing); static, read-only.
 */
const double *pfl_rdp_orders(void);

/*
 * RDP at order > 1 of one step of the Poisson-subsampled Gaussian with
 * rate q in [0, 1] and noise multiplier sigma > 0. Integer orders use the
 * binomial expansion, fractional ones the two-sided signed series
 * (Mironov et al. 2019, Sec. 3.3), both in log space.
 * @return the RDP epsilon; 0 for q == 0; INFINITY for bad arguments or if
 *         the series cannot be evaluated (a conservative answer).
 */
double pfl_rdp_sampled_gaussian(double q, double sigma, double order);

/*
 * Convert RDP curve (orders[i], rdp[i]) to (epsilon, delta) by
 * Canonne-Kamath-Steinke 2020 Prop. 12 and return the minimum over orders.
 * @param[out] eps    epsilon >= 0 (INFINITY if no order gives a bound)
 * @param[out] order  the minimizing order; may be NULL
 * @return PFL_OK, PFL_ERR_INVAL (n == 0, delta not in (0,1), an order < 1,
 *         a negative or NaN rdp)
 */
pfl_err pfl_rdp_to_epsilon(const double *orders, const double *rdp, size_t n,
                           double delta, double *eps, double *order) PFL_WUR;

/*
 * Epsilon at delta of the composition of charges (q[i], sigma[i],
 * steps[i]), i < n, by the PLD method (pld.c): for both adjacencies (add
 * and remove) each step's privacy loss distribution is discretized by
 * connect-the-dots (Doroshenko et al., PETS 2022) on a grid of width
 * `interval`, the loss above the grid counted in delta; the steps are
 * composed by FFT (repeated squaring for repeated steps) and the worse
 * adjacency is taken. The result is an upper bound on the exact epsilon.
 * interval 0 (recommended) chooses the grid: it is halved until halving
 * it again lowers epsilon by at most 0.3%, and *err gets that last
 * change, which bounds eps - exact as long as the discretization error
 * falls at least linearly with the interval (connect-the-dots: about
 * quadratically). A given interval > 0 is doubled while the grid would
 * exceed 2^20 points; *err is then NAN. Charges with q == 0 or
 * steps == 0 are ignored. Cost: a few discretizations and FFTs per call;
 * 100,000 steps of one charge take well under a second (make bench).
 * @param[out] eps  epsilon >= 0; INFINITY if delta is below the mass the
 *                  method cannot bound (tails, about 1e-12)
 * @param[out] err  the error bound (may be NULL); INFINITY if the grid
 *                  limits stopped the refinement first
 * @return PFL_OK, PFL_ERR_INVAL (values outside the charge limits),
 *         PFL_ERR_TOOBIG (no grid fits the memory limits), PFL_ERR_NOMEM
 */
pfl_err pfl_pld_epsilon_bound(const double *q, const double *sigma,
                              const uint64_t *steps, size_t n, double delta,
                              double interval, double *eps,
                              double *err) PFL_WUR;

/* pfl_pld_epsilon_bound without the error bound. */
pfl_err pfl_pld_epsilon(const double *q, const double *sigma,
                        const uint64_t *steps, size_t n, double delta,
                        double interval, double *eps) PFL_WUR;

/*
 * Noise multiplier to charge for one round of the distributed discrete
 * Gaussian (Kairouz, Liu, Steinke 2021, Prop. 14): n_survivors clients each
 * added N_Z(0, sigma2_client) per coordinate (quantized units) to a
 * d-dimensional integer update of L2 norm <= l2 and L1 norm <= l1
 * (quantized units; pass sqrt(d) * l2 when l1 is not tracked). The sum is
 * (1/2) eps^2-concentrated DP with
 *   eps^2 = l2^2/(n s^2) + 2 l1 tau/(sqrt(n) s) + tau^2 d,
 *   tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 s^2 k/(k+1)),  s^2 = sigma2_client,
 * which equals the RDP of a Gaussian with noise multiplier 1/eps: that is
 * what *z_eff returns. Charge the accountant with it; pass the clients
 * that really survived, never the planned number.
 * @return PFL_OK, PFL_ERR_INVAL (sigma2_client < 1/4, n == 0, bad norms)
 */
pfl_err pfl_ddg_effective_sigma(double sigma2_client, uint32_t n_survivors,
                                size_t d, double l2, double l1,
                                double *z_eff) PFL_WUR;

#endif
