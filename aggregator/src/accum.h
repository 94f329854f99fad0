/*
 * Internal to the aggregator module: the plain (not securely aggregated)
 * update accumulation, acc[i] += the i-th little-endian float32 of an
 * update message, refusing an update with any non-finite value (NaN, +Inf,
 * -Inf) as a whole: a refused update leaves the accumulator bit-for-bit
 * unchanged.
 *
 * Sums are exact in the sense that matters for reproducibility: every
 * entry is rounded exactly as the scalar loop `acc[i] += v[i]` over the
 * accepted updates in the order given, whatever the vector width, block
 * size or batching (pfli_accum_add_many gives the same bits as the same
 * updates passed one by one to pfli_accum_add).
 *
 * Speed (bench/bench_aggregate.c, docs/BENCHMARKS.md "Aggregation"): the
 * update bytes are read once, 4 KB at a time, checked and added while the
 * block is in L1. Because nothing may be added before the whole update is
 * known to be finite, each accumulator block is first copied into an undo
 * buffer (the caller's, n floats), which restores the accumulator when a
 * non-finite value turns up; without an undo buffer the update is checked
 * in full first and read a second time for the add. Vector code is
 * selected at load time (AVX-512, AVX2 or SSE2 on x86-64; generic
 * elsewhere; a scalar path on big-endian hosts).
 *
 * None of these functions locks anything: calls on the same accumulator
 * must be serialized by the caller (the aggregator's mutex). Different
 * accumulators may be used from different threads.
 */
#ifndef PRIVFL_AGG_ACCUM_H
#define PRIVFL_AGG_ACCUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

/*
 * True when every little-endian float32 of p[0 .. 4n) is finite (n == 0:
 * true). p needs no alignment. Reads only; thread-safe.
 */
bool pfli_accum_is_finite(const uint8_t *p, size_t n);

/*
 * Adds the update p (n little-endian float32, 4n bytes, any alignment)
 * into acc[0 .. n) when all of its values are finite.
 *
 * undo: NULL, or n floats of scratch that must not overlap acc or p (its
 * contents on entry and on return are meaningless). With it the update is
 * read once (checked and added block by block, each block's old values
 * kept in undo until the whole update is known to be finite); without it
 * the update is checked in full first, then added (read twice). Updates of
 * at most PFLI_ACCUM_SMALL floats never use undo (the second read comes
 * from L2).
 *
 * Returns PFL_OK (added) or PFL_ERR_PROTO (some value is not finite; acc is
 * bit-for-bit unchanged). Not thread-safe on the same acc.
 */
PFL_WUR pfl_err pfli_accum_add(float *acc, float *undo, const uint8_t *p,
                               size_t n);

/*
 * Adds k updates msgs[0 .. k) (each n little-endian float32, any
 * alignment) into acc[0 .. n), in that order, refusing each one that has a
 * non-finite value: the result is bit-for-bit that of k calls to
 * pfli_accum_add in order. The accumulator is walked once per group of up
 * to PFLI_ACCUM_GROUP updates, 4 KB at a time, each block staying in L1
 * while the group's updates are added into it, so the accumulator traffic
 * is divided by the group size: faster than k separate calls for 1 MB and
 * larger vectors (see docs/BENCHMARKS.md).
 *
 * undo: as for pfli_accum_add (NULL: each update is checked in full before
 * the group is added, so it is read twice). added: NULL, or k bools set to
 * whether each update was added; written on both returns.
 *
 * For the server this needs the plain updates of a round to be queued
 * (their message buffers kept alive, not copied) until a group is full or
 * the round closes, and the accumulator flushed before it is read.
 *
 * Returns PFL_OK (all k added) or PFL_ERR_PROTO (at least one refused; the
 * others were added, see added). Not thread-safe on the same acc.
 */
PFL_WUR pfl_err pfli_accum_add_many(float *acc, float *undo,
                                    const uint8_t *const *msgs, size_t k,
                                    size_t n, bool *added);

/* Updates of at most this many floats are checked first, then added. */
#define PFLI_ACCUM_SMALL 16384

/* Updates summed per pass over the accumulator in pfli_accum_add_many. */
#define PFLI_ACCUM_GROUP 4

#endif
