/*
 * pfl_sa_choose_params_min with a memo. The search (secagg_common.c)
 * evaluates its failure and privacy bounds for every candidate k: 2-5 s
 * for cohorts of 1,000 to 100,000 on this project's 2-core VM, paid at
 * every round start by an aggregator whose cohort size rarely changes.
 * The answer is a pure function of the arguments, so the last few are
 * kept (errors too: a configuration without parameters stays without).
 */
#include <pthread.h>
#include <string.h>

#include "secagg_int.h"

#define MEMO_SLOTS 8

struct memo {
	int used;
	enum pfl_sa_mode mode;
	uint32_t n, min_sum;
	double dropout, corrupt;
	pfl_err rv;
	uint32_t k, t;
};

static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static struct memo memo[MEMO_SLOTS];
static unsigned memo_next; /* round-robin replacement */

static int
memo_find(enum pfl_sa_mode mode, uint32_t n, double dropout, double corrupt,
          uint32_t min_sum, struct memo *out)
{
	for (int i = 0; i < MEMO_SLOTS; i++) {
		const struct memo *m = &memo[i];
		/* the doubles compared bit for bit: the same settings */
		if (m->used && m->mode == mode && m->n == n &&
		    m->min_sum == min_sum &&
		    memcmp(&m->dropout, &dropout, sizeof(dropout)) == 0 &&
		    memcmp(&m->corrupt, &corrupt, sizeof(corrupt)) == 0) {
			*out = *m;
			return 1;
		}
	}
	return 0;
}

pfl_err
pfl_sa_choose_params_min(enum pfl_sa_mode mode, uint32_t n, double dropout_frac,
                         double corrupt_frac, uint32_t min_sum, uint32_t *k,
                         uint32_t *t)
{
	struct memo m;
	pfl_err rv;
	int hit;

	if (k == NULL || t == NULL)
		return PFL_ERR_INVAL;
	pthread_mutex_lock(&memo_mu);
	hit = memo_find(mode, n, dropout_frac, corrupt_frac, min_sum, &m);
	pthread_mutex_unlock(&memo_mu);
	if (hit) {
		if (m.rv == PFL_OK) {
			*k = m.k;
			*t = m.t;
		}
		return m.rv;
	}
	/* searched outside the lock: two threads may both search once */
	rv = pfli_sa_choose_params_search(mode, n, dropout_frac, corrupt_frac,
	                                  min_sum, k, t);
	if (rv != PFL_OK && rv != PFL_ERR_CONFIG && rv != PFL_ERR_INVAL)
		return rv; /* out of memory: not an answer to keep */
	memset(&m, 0, sizeof(m));
	m.used = 1;
	m.mode = mode;
	m.n = n;
	m.min_sum = min_sum;
	m.dropout = dropout_frac;
	m.corrupt = corrupt_frac;
	m.rv = rv;
	if (rv == PFL_OK) {
		m.k = *k;
		m.t = *t;
	}
	pthread_mutex_lock(&memo_mu);
	memo[memo_next++ % MEMO_SLOTS] = m;
	pthread_mutex_unlock(&memo_mu);
	return rv;
}
