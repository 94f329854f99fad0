/*
 * Single-precision matrix kernels for the training engine.
 *
 * Written once (gemm_kern.h) with GCC vector extensions and compiled twice:
 * 8-float vectors, as AVX2+FMA code (target_clones, chosen at load time)
 * with an SSE2 fallback for any x86-64, and 16-float vectors as AVX-512
 * code, used when the CPU reports avx512f. No -march flag is needed.
 *
 * nn/tn: an outer-product micro-kernel of 6 rows x 2 vectors of C held in
 * 12 registers; A is read in place (broadcast scalars, any strides), B rows
 * are read in place when a full panel is available and copied to a
 * zero-padded panel at the right edge. K is cut in blocks of KC so that the
 * B panel stays in L1 across the rows of A.
 * nt: either a dot-product micro-kernel of 4 x 3 outputs vectorized along K
 * (both operands in place), or B transposed into panels for the
 * outer-product kernel; pfli_gemm_nt picks by shape.
 */
#include <string.h>

#include "model_int.h"

#define INLINE static inline __attribute__((always_inline))

enum { MR = 6, KC = 256, MT = 4, NT = 3, KCT = 1024 };
/* floats of B from which nt packs at 32 rows (4 MB: more than L2) */
enum { BIG_B = 1 << 20 };

INLINE size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(PFL_NO_MULTIVERSION)
#define PFL_HAVE_AVX512_PATH 1
#endif

#if defined(PFL_HAVE_AVX512_PATH) && !defined(__clang__)
#define KTARGET __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KTARGET
#endif
#define VW     8
#define SFX(x) x##_v8
#include "gemm_kern.h"
#undef VW
#undef SFX
#undef KTARGET

#ifdef PFL_HAVE_AVX512_PATH
#define KTARGET __attribute__((target("avx512f,avx2,fma")))
#define VW      16
#define SFX(x)  x##_v16
#include "gemm_kern.h"
#undef VW
#undef SFX
#undef KTARGET

static bool
use_avx512(void)
{
	return __builtin_cpu_supports("avx512f");
}
#else
#define outer_v16     outer_v8
#define outer_off_v16 outer_off_v8
#define nt_pack_v16   nt_pack_v8
static bool
use_avx512(void)
{
	return false;
}
#endif

static bool
trivial(size_t M, size_t N, size_t K, bool acc, float *C, size_t ldc)
{
	if (M == 0 || N == 0)
		return true;
	if (K > 0)
		return false;
	if (!acc)
		for (size_t i = 0; i < M; i++)
			memset(C + i * ldc, 0, N * sizeof(float));
	return true;
}

void
pfli_gemm_nn(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	if (use_avx512())
		outer_v16(M, N, K, A, lda, 1, B, ldb, acc, C, ldc);
	else
		outer_v8(M, N, K, A, lda, 1, B, ldb, acc, C, ldc);
}

void
pfli_gemm_tn(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	if (use_avx512())
		outer_v16(M, N, K, A, 1, lda, B, ldb, acc, C, ldc);
	else
		outer_v8(M, N, K, A, 1, lda, B, ldb, acc, C, ldc);
}

void
pfli_gemm_nt_dot(size_t M, size_t N, size_t K, const float *A, size_t lda,
                 const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	/* 16-wide dot products lost to 8-wide ones on the MLP (longer
	 * horizontal sums and tails): 82k vs 72k samples/s at B=10 */
	nt_dot_v8(M, N, K, A, lda, B, ldb, acc, C, ldc);
}

void
pfli_gemm_nt_pack(size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	if (use_avx512())
		nt_pack_v16(M, N, K, A, lda, B, ldb, acc, C, ldc);
	else
		nt_pack_v8(M, N, K, A, lda, B, ldb, acc, C, ldc);
}

/*
 * Dot products lose to the packed outer-product kernel when K is short
 * (horizontal sums, tails) and M gives the panel enough reuse; measured
 * best-of-200 on the CNN's and MLP's shapes (docs/MODEL.md). From 64 rows
 * the packing pays for itself at any K: the MLP trains 108-115k samples/s
 * at batch 64 against 105-106k with dot products, and evaluates 10k images
 * in batches of 256 at 165 GFLOPS against 102 (AMD EPYC, AVX-512); at 32
 * rows and K = 784 dot products still win (104-109k against 97-104k).
 * When B does not fit in L2 (the CNN's fc1: 512 x 3136 floats, 6.4 MB),
 * the dot kernel streams all of B once per 4 rows of A, the packed one
 * once: packed from 32 rows.
 */
void
pfli_gemm_nt(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if ((K < 256 && M >= 32) || M >= 64 || (M >= 32 && N * K >= BIG_B))
		pfli_gemm_nt_pack(M, N, K, A, lda, B, ldb, acc, C, ldc);
	else
		pfli_gemm_nt_dot(M, N, K, A, lda, B, ldb, acc, C, ldc);
}

void
pfli_gemm_off(size_t M, size_t N, size_t K, const float *A, const int32_t *roff,
              const int32_t *coff, const float *B, size_t ldb, bool acc,
              float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	if (use_avx512())
		outer_off_v16(M, N, K, A, roff, coff, B, ldb, acc, C, ldc);
	else
		outer_off_v8(M, N, K, A, roff, coff, B, ldb, acc, C, ldc);
}

void
pfli_gemm_v8(int op, size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (trivial(M, N, K, acc, C, ldc))
		return;
	if (op == 0)
		outer_v8(M, N, K, A, lda, 1, B, ldb, acc, C, ldc);
	else if (op == 1)
		outer_v8(M, N, K, A, 1, lda, B, ldb, acc, C, ldc);
	else if (op == 2)
		nt_dot_v8(M, N, K, A, lda, B, ldb, acc, C, ldc);
	else
		nt_pack_v8(M, N, K, A, lda, B, ldb, acc, C, ldc);
}
