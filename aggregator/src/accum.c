/*
 * Plain update accumulation (accum.h): the finiteness check and the add,
 * fused per 4 KB block.
 *
 * Written once with GCC vector extensions over 16-float (64-byte) vectors
 * and, on x86-64 with gcc, compiled three times by target_clones (AVX-512,
 * AVX2, SSE2: the 64-byte vectors are split by the compiler where the
 * registers are narrower) and chosen at load time; no -march flag is
 * needed. Message bytes are read with memcpy (unaligned vector loads) and
 * used as floats directly, which is right on little-endian hosts only; a
 * scalar path assembling each word from its bytes serves big-endian ones.
 *
 * The check: a float32 is non-finite exactly when its 8 exponent bits are
 * all ones (0x7f800000 under the mask). The test is branch-free and ORed
 * into a vector, reduced once per block.
 */
#include <string.h>

#include "accum.h"

#define INLINE static inline __attribute__((always_inline))

enum {
	VW = 16,   /* floats per vector */
	BLK = 1024 /* floats per block: 4 KB, one page, stays in L1 */
};

#define EXP_MASK 0x7f800000u

/* PFL_ACCUM_SCALAR: the big-endian hosts' path on any host (for tests). */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&  \
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
        !defined(PFL_ACCUM_SCALAR)
#define ACCUM_VECTOR 1
#endif

#if defined(ACCUM_VECTOR) && defined(__x86_64__) && !defined(__clang__) && \
        !defined(PFL_NO_MULTIVERSION)
#define KTARGET \
	__attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define KTARGET
#endif

INLINE size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The little-endian word at p, on any host. */
INLINE uint32_t
load_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

INLINE float
word_float(uint32_t w)
{
	float f;

	memcpy(&f, &w, sizeof(f));
	return f;
}

#ifdef ACCUM_VECTOR
/*
 * How many floats to take one by one from p so that the vector loads that
 * follow start on a 64-byte boundary (batches of messages 4 bytes off a
 * line ran at 0.56-0.60 of memory bandwidth without this, 0.77-0.84 with
 * it). When p is not even 4-byte aligned no lead helps (the floats
 * straddle); none then.
 */
INLINE size_t
lead_of(const uint8_t *p, size_t m)
{
	size_t mis = (size_t)((uintptr_t)p & 63);

	if (mis == 0 || mis % 4 != 0)
		return 0;
	return min_sz((64 - mis) / 4, m);
}

typedef float vf __attribute__((vector_size(64)));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

INLINE uint32_t
any_lane(const vi *bad)
{
	uint32_t r = 0;

	for (int j = 0; j < VW; j++)
		r |= (uint32_t)(*bad)[j];
	return r;
}
#endif

/* Nonzero when some float of p[0 .. 4m) is not finite. */
INLINE uint32_t
check_run(const uint8_t *p, size_t m)
{
	uint32_t sbad = 0;
	size_t i = 0;

#ifdef ACCUM_VECTOR
	size_t lead = lead_of(p, m);
	vi bad = {0};

	for (; i < lead; i++)
		sbad |= (load_le(p + 4 * i) & EXP_MASK) == EXP_MASK;
	for (; i + VW <= m; i += VW) {
		vu w;

		memcpy(&w, p + 4 * i, sizeof(w));
		bad |= (w & EXP_MASK) == EXP_MASK;
	}
	sbad |= any_lane(&bad);
#endif
	for (; i < m; i++)
		sbad |= (load_le(p + 4 * i) & EXP_MASK) == EXP_MASK;
	return sbad;
}

/* acc[0 .. m) += the floats of p, unchecked. */
INLINE void
add_run(float *acc, const uint8_t *p, size_t m)
{
	size_t i = 0;

#ifdef ACCUM_VECTOR
	size_t lead = lead_of(p, m);

	for (; i < lead; i++)
		acc[i] += word_float(load_le(p + 4 * i));
	for (; i + VW <= m; i += VW) {
		vf a, f;

		memcpy(&a, acc + i, sizeof(a));
		memcpy(&f, p + 4 * i, sizeof(f));
		a += f;
		memcpy(acc + i, &a, sizeof(a));
	}
#endif
	for (; i < m; i++)
		acc[i] += word_float(load_le(p + 4 * i));
}

/*
 * add_run and check_run in one pass: adds even non-finite values. Each
 * vector also prefetches the line PFD bytes ahead (the same message's next
 * block; 0 on the last block, when the line is the current one): the
 * message is read a block at a time, and the hardware prefetchers, which
 * stop at page boundaries, lose 15-20% of the throughput on their own.
 */
INLINE uint32_t
check_add_run(float *acc, const uint8_t *p, size_t m, size_t pfd)
{
	uint32_t sbad = 0;
	size_t i = 0;

#ifdef ACCUM_VECTOR
	size_t lead = lead_of(p, m);
	vi bad = {0};

	for (; i < lead; i++) {
		uint32_t w = load_le(p + 4 * i);

		sbad |= (w & EXP_MASK) == EXP_MASK;
		acc[i] += word_float(w);
	}
	for (; i + VW <= m; i += VW) {
		vu w;
		vf a, f;

		__builtin_prefetch(p + 4 * i + pfd);
		memcpy(&w, p + 4 * i, sizeof(w));
		memcpy(&f, &w, sizeof(f));
		memcpy(&a, acc + i, sizeof(a));
		bad |= (w & EXP_MASK) == EXP_MASK;
		a += f;
		memcpy(acc + i, &a, sizeof(a));
	}
	sbad |= any_lane(&bad);
#else
	(void)pfd;
#endif
	for (; i < m; i++) {
		uint32_t w = load_le(p + 4 * i);

		sbad |= (w & EXP_MASK) == EXP_MASK;
		acc[i] += word_float(w);
	}
	return sbad;
}

KTARGET static bool
finite_k(const uint8_t *p, size_t n)
{
	return check_run(p, n) == 0;
}

KTARGET static void
add_k(float *acc, const uint8_t *p, size_t n)
{
	add_run(acc, p, n);
}

/*
 * Adds k finite-or-not updates block by block, keeping each block's old
 * values in undo. False (acc restored from undo) at the first block where
 * some update has a non-finite value.
 */
KTARGET static bool
group_k(float *acc, float *undo, const uint8_t *const *msgs, size_t k, size_t n)
{
	for (size_t b = 0; b < n; b += BLK) {
		size_t m = min_sz(BLK, n - b);
		size_t pfd = b + 2 * BLK <= n ? 4 * BLK : 0;
		uint32_t bad = 0;

		memcpy(undo + b, acc + b, m * sizeof(float));
		for (size_t j = 0; j < k; j++)
			bad |= check_add_run(acc + b, msgs[j] + 4 * b, m, pfd);
		if (bad != 0) {
			memcpy(acc, undo, (b + m) * sizeof(float));
			return false;
		}
	}
	return true;
}

bool
pfli_accum_is_finite(const uint8_t *p, size_t n)
{
	return n == 0 || finite_k(p, n);
}

pfl_err
pfli_accum_add(float *acc, float *undo, const uint8_t *p, size_t n)
{
	if (n == 0)
		return PFL_OK;
	if (undo == NULL || n <= PFLI_ACCUM_SMALL) {
		if (!finite_k(p, n))
			return PFL_ERR_PROTO;
		add_k(acc, p, n);
		return PFL_OK;
	}
	return group_k(acc, undo, &p, 1, n) ? PFL_OK : PFL_ERR_PROTO;
}

pfl_err
pfli_accum_add_many(float *acc, float *undo, const uint8_t *const *msgs,
                    size_t k, size_t n, bool *added)
{
	pfl_err rv = PFL_OK;

	for (size_t j0 = 0; j0 < k; j0 += PFLI_ACCUM_GROUP) {
		size_t g = min_sz(PFLI_ACCUM_GROUP, k - j0);
		bool fast = n > 0 && undo != NULL && n > PFLI_ACCUM_SMALL;

		if (fast && group_k(acc, undo, msgs + j0, g, n)) {
			for (size_t j = 0; added != NULL && j < g; j++)
				added[j0 + j] = true;
			continue;
		}
		/* Small vectors, no undo space, or a refused update in the
		 * group (rare): check each in full, then add in order. */
		for (size_t j = j0; j < j0 + g; j++) {
			bool ok = n == 0 || finite_k(msgs[j], n);

			if (ok)
				add_k(acc, msgs[j], n);
			else
				rv = PFL_ERR_PROTO;
			if (added != NULL)
				added[j] = ok;
		}
	}
	return rv;
}
