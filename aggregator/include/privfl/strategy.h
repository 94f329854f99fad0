/*
 * privfl — server strategies: how the averaged client delta moves the
 * global model. FedAvg/FedProx: w += lr * d. FedAvgM: m = beta*m + d,
 * w += lr * m. FedAdam, FedYogi, FedAdagrad (Reddi et al. 2021, Alg. 2):
 * m = b1*m + (1-b1)*d; v by the method; w += lr * m / (sqrt(v) + tau),
 * with v starting at tau^2.
 *
 * Each strategy has its own server learning rate (pfl_strategy_defaults):
 * an adaptive step moves every weight by about lr whatever the size of
 * the delta, so the lr of 1 that suits FedAvg throws FedAdam's model to
 * chance in one round. A pfl_strategy owns its state vectors (O(model));
 * one thread at a time, except pfl_strategy_settings (read-only after
 * pfl_strategy_new, any thread).
 */
#ifndef PRIVFL_STRATEGY_H
#define PRIVFL_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/aggregator.h"
#include "privfl/buf.h"
#include "privfl/err.h"

struct pfl_strategy_params {
	enum pfl_strategy_kind kind;
	double lr; /* server learning rate; 0 = the kind's default */
	double momentum;
	double beta1;
	double beta2;
	double tau;
};

struct pfl_strategy;

/*
 * The defaults of each strategy, from its paper, as the help text of the
 * config tables (privfl-aggregator and privfl-sim --help, docs/CONFIG.md).
 * FedAvg (McMahan et al. 2017) and FedProx (Li et al. 2020) average: lr 1.
 * FedAvgM (Hsu et al. 2019): lr 1 with momentum 0.9. FedAdam, FedYogi and
 * FedAdagrad (Reddi et al. 2021): beta1 0.9, beta2 0.99, the tau of 1e-3
 * its authors recommend, and its best server learning rates: over the
 * paper's six tasks they range over 10^-2.5..10^0 for Adam and Yogi (most
 * often 10^-2) and 10^-1.5..10^1 for Adagrad (most often 10^-1).
 */
#define PFL_STRATEGY_DEFAULTS_HELP                                          \
	"server strategy; its defaults: fedavg, fedprox: server_lr 1; "     \
	"fedavgm: server_lr 1, server_momentum 0.9 (Hsu et al. 2019); "     \
	"fedadam, fedyogi: server_lr 0.01, beta1 0.9, beta2 0.99, tau "     \
	"0.001; fedadagrad: server_lr 0.1, beta1 0.9, tau 0.001 (Reddi et " \
	"al. 2021); a setting you give wins"
#define PFL_STRATEGY_LR_HELP                                               \
	"server learning rate; 0 = the strategy's default (1 for fedavg, " \
	"fedavgm, fedprox; 0.01 for fedadam, fedyogi; 0.1 for fedadagrad)"

/*
 * Fill *out with the defaults of kind (lr, momentum, beta1, beta2, tau;
 * the ones kind does not use as well, at their table defaults).
 */
void pfl_strategy_defaults(enum pfl_strategy_kind k,
                           struct pfl_strategy_params *out);
/*
 * Create a strategy for a model of n parameters from p (copied); an lr of
 * 0 takes the default of p->kind. Logs the settings in force (INFO).
 * PFL_ERR_INVAL for n == 0 or absurd, PFL_ERR_NOMEM. Free with
 * pfl_strategy_free.
 */
pfl_err pfl_strategy_new(const struct pfl_strategy_params *p, size_t n,
                         struct pfl_strategy **out) PFL_WUR;
void pfl_strategy_free(struct pfl_strategy *s);
/* The settings in force (defaults filled in); valid until free. */
const struct pfl_strategy_params *
pfl_strategy_settings(const struct pfl_strategy *s);
/* Apply one server step: w[0..n) moved by the averaged delta d[0..n). */
void pfl_strategy_apply(struct pfl_strategy *s, float *w, const float *d);
/* State for checkpoints (the m and v vectors and the step count). */
pfl_err pfl_strategy_save(const struct pfl_strategy *s,
                          struct pfl_buf *out) PFL_WUR;
/* Restore from pfl_strategy_save bytes; sizes must match. */
pfl_err pfl_strategy_load(struct pfl_strategy *s, const uint8_t *buf,
                          size_t len) PFL_WUR;
const char *pfl_strategy_name(enum pfl_strategy_kind k);

/* Growth of the global loss between two evaluations that means divergence. */
#define PFL_STRATEGY_DIVERGE_RATIO 100.0

/*
 * Whether the global test loss going from prev to loss says the model
 * diverged: prev is finite and loss is not, or loss is above
 * PFL_STRATEGY_DIVERGE_RATIO times prev. False when prev is not finite
 * (the divergence was already there).
 */
bool pfl_strategy_is_diverging(double prev, double loss);
/*
 * The setting that most likely made the model diverge, as words for a log
 * line ("server_lr 1 is likely too large for fedadam (its default is
 * 0.01)"), into buf (always terminated). client_lr: the clients' learning
 * rate of the plan.
 */
void pfl_strategy_divergence_hint(const struct pfl_strategy *s,
                                  double client_lr, char *buf, size_t len);

#endif
