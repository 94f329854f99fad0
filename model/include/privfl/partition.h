/*
 * privfl — splitting a dataset among federated clients (seeded).
 *
 *   iid            shuffle, then equal parts (sizes differ by at most 1)
 *   dirichlet:A    label skew, NIID-Bench recipe: for each class, shares
 *                  ~ Dir(A) over the clients (clients already holding
 *                  n/clients samples get no more), redrawn until every
 *                  client has at least min(10, n/(2*clients)) samples
 *   shards:S       McMahan et al. 2017: sort by label, cut S*clients equal
 *                  shards, give each client S random shards (S=2 classic)
 *   quantity:B     quantity skew: client sizes ~ Dir(B) x n, same minimum
 *                  as dirichlet, samples drawn IID
 * Every sample goes to exactly one client (shards: samples beyond the last
 * whole shard are dealt round-robin); each client's indices are sorted.
 * Thread-safety: reentrant; a pfl_partition is read-only once made.
 */
#ifndef PRIVFL_PARTITION_H
#define PRIVFL_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

enum pfl_partition_kind {
	PFL_PART_IID,
	PFL_PART_DIRICHLET,
	PFL_PART_SHARDS,
	PFL_PART_QUANTITY,
};

struct pfl_partition {
	size_t clients;
	size_t *offset;  /* clients + 1 entries */
	uint32_t *index; /* client i owns index[offset[i] .. offset[i+1]) */
};

/*
 * Parse "iid", "dirichlet:0.5", "shards:2", "quantity:0.5" (param > 0;
 * shards: an integer >= 1; iid: *param = 0). Returns PFL_OK or
 * PFL_ERR_INVAL; outputs written only on success.
 */
pfl_err pfl_partition_parse(const char *spec, enum pfl_partition_kind *kind,
                            double *param) PFL_WUR;

/*
 * Split samples 0..n-1 (labels[i] in [0, classes)) among clients.
 * Returns PFL_OK, PFL_ERR_INVAL (bad arguments, fewer samples than
 * clients, too few samples for the shards, a label out of range),
 * PFL_ERR_AGAIN (dirichlet/quantity found no split meeting the minimum in
 * 1000 draws: use a larger parameter or fewer clients) or PFL_ERR_NOMEM.
 * On success *out owns its arrays (pfl_partition_fini).
 */
pfl_err pfl_partition_make(const int32_t *labels, size_t n, int classes,
                           size_t clients, enum pfl_partition_kind kind,
                           double param, uint64_t seed,
                           struct pfl_partition *out) PFL_WUR;

/* Free the arrays and zero *p; accepts a zeroed struct and NULL. */
void pfl_partition_fini(struct pfl_partition *p);

#endif
