/*
 * privfl — models and local training.
 *
 * A model is one flat float32 parameter vector (state_dict order, the
 * layout the aggregator and secure aggregation work on) plus gradients,
 * the SGD momentum buffer and the activations of one batch. Architectures:
 *   logreg  fc: in -> classes
 *   mlp     fc1: in -> H1, ReLU, fc2: H1 -> H2, ReLU, fc3: H2 -> classes
 *           ("mlp" = McMahan et al. 2017 2NN, 200-200)
 *   cnn     conv1 5x5 same 32, ReLU, maxpool 2, conv2 5x5 same 64, ReLU,
 *           maxpool 2, fc1 -> 512, ReLU, fc2 -> classes (McMahan et al.
 *           2017 CNN; 1,663,370 parameters on 1x28x28)
 * Tensor names and layouts are those of PyTorch's state_dict for the
 * matching torch.nn module (docs/MODEL.md).
 *
 * Thread-safety: a pfl_model is used by one thread at a time; different
 * models may train concurrently over one shared, read-only dataset.
 * Determinism: the same seeds give bit-identical parameters on one build.
 */
#ifndef PRIVFL_MODEL_H
#define PRIVFL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/dataset.h"
#include "privfl/err.h"

enum pfl_arch { PFL_ARCH_LOGREG, PFL_ARCH_MLP, PFL_ARCH_CNN };

struct pfl_model_spec {
	enum pfl_arch arch;
	int in_c, in_h, in_w; /* input shape; tabular: 1, 1, dim */
	int classes;
	int hidden1, hidden2; /* mlp only */
};

/* Longest canonical name, with its NUL. */
#define PFL_MODEL_NAME_MAX    32
/* Bounds enforced by pfl_model_spec_parse. */
#define PFL_MODEL_MAX_HIDDEN  65536
#define PFL_MODEL_MAX_INPUT   (1 << 22)
#define PFL_MODEL_MAX_CLASSES 65536

/*
 * Parse an architecture name: "logreg", "mlp" (= "mlp:200,200"),
 * "mlp:H1,H2", "cnn" (needs in_h and in_w divisible by 4). Returns PFL_OK,
 * or PFL_ERR_INVAL for an unknown name or out-of-range shape; *out is
 * written only on success. Thread-safe.
 */
pfl_err pfl_model_spec_parse(const char *name, int in_c, int in_h, int in_w,
                             int classes, struct pfl_model_spec *out) PFL_WUR;

/* Write the canonical name ("logreg", "mlp:200,200", "cnn") into out
 * (truncated to outlen, always NUL-terminated when outlen > 0). */
void pfl_model_spec_name(const struct pfl_model_spec *spec, char *out,
                         size_t outlen);

/* Number of float parameters of the architecture (0 for an invalid spec). */
size_t pfl_model_spec_num_params(const struct pfl_model_spec *spec);

/*
 * One named tensor of a spec: name (a string literal), up to 4 dimensions,
 * and its offset and element count in the flat vector. Returns false when
 * i is past the last tensor. Thread-safe.
 */
struct pfl_tensor_info {
	const char *name;
	int ndim;
	int64_t shape[4];
	size_t offset;
	size_t count;
};
bool pfl_model_spec_tensor(const struct pfl_model_spec *spec, size_t i,
                           struct pfl_tensor_info *out);

struct pfl_model;

/*
 * Allocate a model (parameters zero; call pfl_model_init or load weights).
 * Returns PFL_OK, PFL_ERR_INVAL (bad spec) or PFL_ERR_NOMEM. The caller
 * frees *out with pfl_model_free.
 */
pfl_err pfl_model_new(const struct pfl_model_spec *spec,
                      struct pfl_model **out) PFL_WUR;
/* Free the model and everything it holds. Accepts NULL. */
void pfl_model_free(struct pfl_model *m);
/* The model's spec; valid as long as the model. */
const struct pfl_model_spec *pfl_model_get_spec(const struct pfl_model *m);
size_t pfl_model_num_params(const struct pfl_model *m);
/*
 * The flat parameter vector (num_params floats, state_dict order), owned
 * by the model and valid until pfl_model_free. Callers may read and write
 * it between calls (e.g. to load the global model before local training).
 */
float *pfl_model_params(struct pfl_model *m);

/*
 * PyTorch-default initialization from a pfl_rng seeded with seed: weights
 * and biases of every layer ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as
 * torch.nn.Linear / Conv2d reset_parameters do.
 */
void pfl_model_init(struct pfl_model *m, uint64_t seed);

struct pfl_train_opts {
	int epochs;     /* >= 0 */
	int batch;      /* >= 1; the last batch of an epoch may be smaller */
	float lr;       /* > 0 */
	float momentum; /* [0, 1) */
	float weight_decay;    /* >= 0, added to the gradient (PyTorch SGD) */
	float prox_mu;         /* FedProx: mu/2 * ||w - prox_ref||^2 */
	const float *prox_ref; /* num_params floats; NULL = no proximal term */
	bool augment;  /* images: random shift <= 2 px, horizontal flip */
	uint64_t seed; /* shuffling and augmentation */
};

struct pfl_train_stats {
	double loss;    /* mean train loss over the run */
	size_t samples; /* sample visits (n * epochs) */
	size_t steps;   /* SGD steps */
};

/*
 * Train with mini-batch SGD (PyTorch semantics: g = grad + wd*w
 * [+ mu*(w - ref)], buf = momentum*buf + g, w -= lr*buf) on the samples
 * idx[0..n) of ds (idx NULL = all of ds, n ignored), reshuffled each
 * epoch. Momentum starts from zero at each call. ds must match the spec
 * (dim = in_c*in_h*in_w, classes <= spec classes).
 * Returns PFL_OK, PFL_ERR_INVAL (bad options, mismatched dataset, an index
 * out of range, n == 0), PFL_ERR_NOMEM, or PFL_ERR_STATE when the loss
 * became non-finite (the parameters are then left as they are). stats may
 * be NULL; it is written on success, and on PFL_ERR_STATE: then loss is
 * the non-finite loss and steps the 1-based step at which it appeared.
 * The dataset is only read.
 */
pfl_err pfl_model_train(struct pfl_model *m, const struct pfl_dataset *ds,
                        const uint32_t *idx, size_t n,
                        const struct pfl_train_opts *opts,
                        struct pfl_train_stats *stats) PFL_WUR;

/*
 * Evaluate on idx[0..n) (idx NULL = all of ds): top-1 accuracy in [0,1] and
 * mean cross-entropy loss. Either out-pointer may be NULL. Return codes as
 * pfl_model_train (without PFL_ERR_STATE).
 */
pfl_err pfl_model_evaluate(struct pfl_model *m, const struct pfl_dataset *ds,
                           const uint32_t *idx, size_t n, double *accuracy,
                           double *loss) PFL_WUR;

/*
 * Class scores (logits) for n samples x[n][dim] into logits[n][classes].
 * Returns PFL_OK or PFL_ERR_NOMEM.
 */
pfl_err pfl_model_predict(struct pfl_model *m, const float *x, size_t n,
                          float *logits) PFL_WUR;

#endif
