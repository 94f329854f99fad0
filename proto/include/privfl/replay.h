/*
 * privfl — bounded replay window for signed messages.
 *
 * Remembers (sender, nonce) pairs of accepted messages. A message is
 * refused when its pair was seen, or when its time is more than window_ms
 * away from the receiver's clock. Memory is bounded by capacity: when full,
 * the oldest remembered pair is forgotten and, to stay safe, every message
 * not newer than the forgotten one is refused from then on (a low-water
 * mark), so a forgotten pair can never be replayed.
 *
 * Thread-safe: one internal mutex.
 */
#ifndef PRIVFL_REPLAY_H
#define PRIVFL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

struct pfl_replay;

/*
 * @param capacity   pairs remembered (>= 1); about 48 bytes each
 * @param window_ms  accepted clock difference (> 0)
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM
 */
pfl_err pfl_replay_new(size_t capacity, int64_t window_ms,
                       struct pfl_replay **out) PFL_WUR;

/*
 * Check and remember. now_ms is the receiver's wall clock in Unix ms.
 * @return PFL_OK (fresh: remembered now); PFL_ERR_AUTH (seen before, too
 *         old or too far in the future, or older than the low-water mark);
 *         PFL_ERR_INVAL (NULL arguments)
 */
pfl_err pfl_replay_check(struct pfl_replay *r, const uint8_t sender[32],
                         const uint8_t nonce[16], uint64_t time_ms,
                         uint64_t now_ms) PFL_WUR;

/* Pairs currently remembered. */
size_t pfl_replay_count(struct pfl_replay *r);

/* Accepts NULL. */
void pfl_replay_free(struct pfl_replay *r);

#endif
