/*
 * privfl — server strategies: how the averaged client delta moves the
 * global model. FedAvg/FedProx: w += lr * d. FedAvgM: m = beta*m + d,
 * w += lr * m. FedAdam, FedYogi, FedAdagrad (Reddi et al. 2021, Alg. 2):
 * m = b1*m + (1-b1)*d; v by the method; w += lr * m / (sqrt(v) + tau),
 * with v starting at tau^2.
 *
 * A pfl_strategy owns its state vectors (O(model)); one thread at a time.
 */
#ifndef PRIVFL_STRATEGY_H
#define PRIVFL_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/aggregator.h"
#include "privfl/buf.h"
#include "privfl/err.h"

struct pfl_strategy_params {
	enum pfl_strategy_kind kind;
	double lr;
	double momentum;
	double beta1;
	double beta2;
	double tau;
};

struct pfl_strategy;

pfl_err pfl_strategy_new(const struct pfl_strategy_params *p, size_t n,
                         struct pfl_strategy **out) PFL_WUR;
void pfl_strategy_free(struct pfl_strategy *s);
/* Apply one server step: w[0..n) moved by the averaged delta d[0..n). */
void pfl_strategy_apply(struct pfl_strategy *s, float *w, const float *d);
/* State for checkpoints (the m and v vectors and the step count). */
pfl_err pfl_strategy_save(const struct pfl_strategy *s,
                          struct pfl_buf *out) PFL_WUR;
/* Restore from pfl_strategy_save bytes; sizes must match. */
pfl_err pfl_strategy_load(struct pfl_strategy *s, const uint8_t *buf,
                          size_t len) PFL_WUR;
const char *pfl_strategy_name(enum pfl_strategy_kind k);

#endif
