/*
 * privfl — bounded replay window for signed messages, per sender key.
 *
 * Remembers, for each sender key, the nonces of its last
 * PFL_REPLAY_PER_KEY accepted messages. A message is refused when its
 * (sender, nonce) pair was seen, when its time is more than past_ms before
 * or more than future_ms after the receiver's clock, or when it is not
 * newer than a nonce its own sender had to forget (a per-key low-water
 * mark: a forgotten pair can never be replayed). State is per key: one
 * key's messages never evict another key's state nor raise its mark, so a
 * flooding key locks out nobody but itself.
 *
 * A key's state is dropped once everything it holds is outside the window
 * (its pairs are refused by the clock check from then on). At most
 * max_keys keys with live state are kept; a message from a further key is
 * refused with PFL_ERR_AGAIN until some state expires, never by forgetting
 * a live key's state. Callers must therefore check who may send (the
 * allow-list) before calling pfl_replay_check, so that strangers never
 * touch this state.
 *
 * Memory: about 300 bytes per key with live state (allocated as keys
 * appear), plus a slot index of 8 bytes per key at most.
 *
 * Thread-safe: one internal mutex.
 */
#ifndef PRIVFL_REPLAY_H
#define PRIVFL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

/* Nonces remembered per sender key. */
#define PFL_REPLAY_PER_KEY           16
/* Default allowed lead of a sender's clock over the receiver's. */
#define PFL_REPLAY_DEFAULT_FUTURE_MS 30000

struct pfl_replay;

/*
 * pfl_replay_new_skew with future_ms = min(window_ms,
 * PFL_REPLAY_DEFAULT_FUTURE_MS) and past_ms = window_ms.
 */
pfl_err pfl_replay_new(size_t max_keys, int64_t window_ms,
                       struct pfl_replay **out) PFL_WUR;

/*
 * @param max_keys   keys with live state at once (>= 1, < 2^31)
 * @param past_ms    how old a message may be (> 0)
 * @param future_ms  how far ahead of the receiver's clock a message may be
 *                   (>= 0, <= past_ms)
 * @param[out] out   free with pfl_replay_free
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_NOMEM, PFL_ERR_CRYPTO
 */
pfl_err pfl_replay_new_skew(size_t max_keys, int64_t past_ms, int64_t future_ms,
                            struct pfl_replay **out) PFL_WUR;

/*
 * Check and remember. now_ms is the receiver's wall clock in Unix ms; a
 * reading up to 1 s behind the latest one seen counts as the latest (so
 * concurrent callers' readings agree on what expired), one further behind
 * as the clock set back.
 * @return PFL_OK (fresh: remembered now); PFL_ERR_AUTH (seen before, too
 *         old or too far in the future, or not newer than its sender's
 *         low-water mark); PFL_ERR_AGAIN (a key without state while
 *         max_keys keys have live state; nothing remembered);
 *         PFL_ERR_NOMEM; PFL_ERR_INVAL (NULL arguments)
 */
pfl_err pfl_replay_check(struct pfl_replay *r, const uint8_t sender[32],
                         const uint8_t nonce[16], uint64_t time_ms,
                         uint64_t now_ms) PFL_WUR;

/* Pairs currently remembered, over all keys. */
size_t pfl_replay_count(struct pfl_replay *r);

/* Keys currently holding state (live or not yet reclaimed). */
size_t pfl_replay_keys(struct pfl_replay *r);

/* Accepts NULL. */
void pfl_replay_free(struct pfl_replay *r);

#endif
