/*
 * privfl — datasets: Fashion-MNIST / IDX image files and tabular CSV (see
 * privfl/csv.h), as dense float32 feature matrices with int32 labels.
 *
 * Thread-safety: a loaded dataset is read-only and may be shared by any
 * number of threads (the simulator trains thousands of virtual clients over
 * one dataset). Loading and pfl_dataset_fini need exclusive access.
 */
#ifndef PRIVFL_DATASET_H
#define PRIVFL_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

struct pfl_dataset {
	size_t n;    /* samples */
	size_t dim;  /* features per sample (= c*h*w for images) */
	int c, h, w; /* image shape (1,28,28); tabular data: (1,1,dim) */
	int classes; /* labels are in [0, classes) */
	float *x;    /* n * dim, row-major, owned (malloc) */
	int32_t *y;  /* n labels, owned (malloc) */
};

#define PFL_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Upper bounds for IDX inputs: anything larger is PFL_ERR_TOOBIG. */
#define PFL_IDX_MAX_SAMPLES 10000000u
#define PFL_IDX_MAX_DIM     (1u << 20)
#define PFL_IDX_MAX_BYTES   ((size_t)2 << 30)

/*
 * Load Fashion-MNIST (train: 60000 samples, test: 10000) from dir, or from
 * PFL_FMNIST_DIR when dir is NULL, reading {train,t10k}-{images-idx3,
 * labels-idx1}-ubyte with or without .gz. Pixels are scaled to [0,1];
 * shape (1,28,28), 10 classes.
 * Returns PFL_OK, PFL_ERR_NOTFOUND (files missing), PFL_ERR_FORMAT (bad
 * contents), PFL_ERR_TOOBIG, PFL_ERR_IO or PFL_ERR_NOMEM. On success *out
 * owns its arrays (free with pfl_dataset_fini); on failure *out is untouched.
 */
pfl_err pfl_dataset_load_fmnist(const char *dir, bool train,
                                struct pfl_dataset *out) PFL_WUR;

/*
 * Load an IDX image file (unsigned byte, 3 dimensions n x h x w, or 2
 * dimensions n x dim) and an IDX label file (unsigned byte, n) that must
 * agree on n. Either file may be gzip-compressed. Pixels are scaled to
 * [0,1]; classes = largest label + 1. Same return codes and ownership as
 * pfl_dataset_load_fmnist.
 */
pfl_err pfl_dataset_load_idx(const char *images_path, const char *labels_path,
                             struct pfl_dataset *out) PFL_WUR;

/* Free the arrays and zero *ds. Accepts a zeroed struct and NULL. */
void pfl_dataset_fini(struct pfl_dataset *ds);

/*
 * Count the samples of each class among idx[0..n) (idx NULL = all):
 * counts has ds->classes entries and is overwritten.
 */
void pfl_dataset_class_counts(const struct pfl_dataset *ds, const uint32_t *idx,
                              size_t n, size_t *counts);

#endif
