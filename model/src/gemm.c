/*
 * Single-precision matrix kernels for the training engine.
 *
 * Written with GCC vector extensions (8 floats) so the same source compiles
 * to SSE2 on any x86-64 and, through target_clones, to AVX2+FMA code chosen
 * at load time on CPUs that have it; no -march flag is needed.
 *
 * nn/tn: an outer-product micro-kernel of 6 rows x 16 columns of C held in
 * 12 vector registers; A is read in place (broadcast scalars, any strides),
 * B rows are read in place when 16 columns are available and copied to a
 * zero-padded panel at the right edge. K is cut in blocks of KC so that the
 * B panel stays in L1 across the rows of A.
 * nt: a dot-product micro-kernel of 4 x 3 outputs, vectorized along K, with
 * both operands read in place.
 */
#include <string.h>

#include "model_int.h"

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
        !defined(PFL_NO_MULTIVERSION)
#define PFL_MULTIVERSION \
	__attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PFL_MULTIVERSION
#endif

#define INLINE static inline __attribute__((always_inline))

enum { MR = 6, NR = 16, KC = 256, MT = 4, NT = 3, KCT = 1024 };

INLINE v8f
ld8(const float *p)
{
	v8f v;

	memcpy(&v, p, sizeof(v));
	return v;
}

INLINE void
st8(float *p, v8f v)
{
	memcpy(p, &v, sizeof(v));
}

INLINE size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* C[0..mr)[0..nr) (+)= sum_k a(i,k) * Bp[k][0..16) */
INLINE void
kern_6x16(size_t kc, const float *A, size_t rsa, size_t csa, const float *Bp,
          size_t ldb, float *C, size_t ldc, size_t mr, size_t nr, bool acc)
{
	v8f c[MR][2];
	const float *a[MR];
	float tmp[MR][NR];

	for (size_t i = 0; i < MR; i++) {
		a[i] = A + (i < mr ? i : mr - 1) * rsa;
		c[i][0] = (v8f){0};
		c[i][1] = (v8f){0};
	}
	for (size_t k = 0; k < kc; k++) {
		v8f b0 = ld8(Bp + k * ldb);
		v8f b1 = ld8(Bp + k * ldb + 8);
		for (size_t i = 0; i < MR; i++) {
			float ai = a[i][k * csa];
			c[i][0] += ai * b0;
			c[i][1] += ai * b1;
		}
	}
	if (mr == MR && nr == NR) {
		for (size_t i = 0; i < MR; i++) {
			float *ci = C + i * ldc;
			if (acc) {
				c[i][0] += ld8(ci);
				c[i][1] += ld8(ci + 8);
			}
			st8(ci, c[i][0]);
			st8(ci + 8, c[i][1]);
		}
		return;
	}
	for (size_t i = 0; i < MR; i++) {
		st8(tmp[i], c[i][0]);
		st8(tmp[i] + 8, c[i][1]);
	}
	for (size_t i = 0; i < mr; i++)
		for (size_t j = 0; j < nr; j++)
			C[i * ldc + j] =
			        (acc ? C[i * ldc + j] : 0.0f) + tmp[i][j];
}

INLINE void
zero_c(size_t M, size_t N, float *C, size_t ldc)
{
	for (size_t i = 0; i < M; i++)
		memset(C + i * ldc, 0, N * sizeof(float));
}

INLINE void
gemm_outer(size_t M, size_t N, size_t K, const float *A, size_t rsa, size_t csa,
           const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	float bpack[KC * NR];

	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		if (!acc)
			zero_c(M, N, C, ldc);
		return;
	}
	for (size_t pc = 0; pc < K; pc += KC) {
		size_t kc = min_sz(KC, K - pc);
		bool ac = acc || pc > 0;
		for (size_t jc = 0; jc < N; jc += NR) {
			size_t nr = min_sz(NR, N - jc);
			const float *bp = B + pc * ldb + jc;
			size_t bld = ldb;
			if (nr < NR) {
				for (size_t k = 0; k < kc; k++)
					for (size_t j = 0; j < NR; j++)
						bpack[k * NR + j] =
						        j < nr ? bp[k * ldb + j]
						               : 0.0f;
				bp = bpack;
				bld = NR;
			}
			for (size_t ic = 0; ic < M; ic += MR)
				kern_6x16(kc, A + ic * rsa + pc * csa, rsa, csa,
				          bp, bld, C + ic * ldc + jc, ldc,
				          min_sz(MR, M - ic), nr, ac);
		}
	}
}

PFL_MULTIVERSION void
pfli_gemm_nn(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	gemm_outer(M, N, K, A, lda, 1, B, ldb, acc, C, ldc);
}

PFL_MULTIVERSION void
pfli_gemm_tn(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	gemm_outer(M, N, K, A, 1, lda, B, ldb, acc, C, ldc);
}

INLINE float
hsum8(v8f v)
{
	v8f t = v;
	float s0 = (t[0] + t[4]) + (t[1] + t[5]);
	float s1 = (t[2] + t[6]) + (t[3] + t[7]);

	return s0 + s1;
}

/* C[i][j] (+)= dot(A row i, B row j) over kc, for a 4 x 3 block. */
INLINE void
kern_nt(size_t kc, const float *A, size_t lda, const float *B, size_t ldb,
        float *C, size_t ldc, size_t mr, size_t nr, bool acc)
{
	v8f c[MT][NT];
	const float *a[MT], *b[NT];
	size_t k8 = kc & ~(size_t)7;

	for (size_t i = 0; i < MT; i++) {
		a[i] = A + (i < mr ? i : mr - 1) * lda;
		for (size_t j = 0; j < NT; j++)
			c[i][j] = (v8f){0};
	}
	for (size_t j = 0; j < NT; j++)
		b[j] = B + (j < nr ? j : nr - 1) * ldb;
	for (size_t k = 0; k < k8; k += 8) {
		v8f bv[NT];
		for (size_t j = 0; j < NT; j++)
			bv[j] = ld8(b[j] + k);
		for (size_t i = 0; i < MT; i++) {
			v8f av = ld8(a[i] + k);
			for (size_t j = 0; j < NT; j++)
				c[i][j] += av * bv[j];
		}
	}
	for (size_t i = 0; i < mr; i++) {
		for (size_t j = 0; j < nr; j++) {
			float s = hsum8(c[i][j]);
			for (size_t k = k8; k < kc; k++)
				s += a[i][k] * b[j][k];
			C[i * ldc + j] = (acc ? C[i * ldc + j] : 0.0f) + s;
		}
	}
}

PFL_MULTIVERSION void
pfli_gemm_nt_dot(size_t M, size_t N, size_t K, const float *A, size_t lda,
                 const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		if (!acc)
			zero_c(M, N, C, ldc);
		return;
	}
	for (size_t pc = 0; pc < K; pc += KCT) {
		size_t kc = min_sz(KCT, K - pc);
		bool ac = acc || pc > 0;
		for (size_t ic = 0; ic < M; ic += MT)
			for (size_t jc = 0; jc < N; jc += NT)
				kern_nt(kc, A + ic * lda + pc, lda,
				        B + jc * ldb + pc, ldb,
				        C + ic * ldc + jc, ldc,
				        min_sz(MT, M - ic), min_sz(NT, N - jc),
				        ac);
	}
}

/*
 * nt through the outer-product kernel: each 16-row strip of B is copied,
 * transposed, into a [kc][16] panel (zero-padded), once per K block.
 */
PFL_MULTIVERSION void
pfli_gemm_nt_pack(size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	float bpack[KC * NR];

	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		if (!acc)
			zero_c(M, N, C, ldc);
		return;
	}
	for (size_t pc = 0; pc < K; pc += KC) {
		size_t kc = min_sz(KC, K - pc);
		bool ac = acc || pc > 0;
		for (size_t jc = 0; jc < N; jc += NR) {
			size_t nr = min_sz(NR, N - jc);
			for (size_t j = 0; j < NR; j++) {
				const float *br = B + (jc + j) * ldb + pc;
				if (j < nr)
					for (size_t k = 0; k < kc; k++)
						bpack[k * NR + j] = br[k];
				else
					for (size_t k = 0; k < kc; k++)
						bpack[k * NR + j] = 0.0f;
			}
			for (size_t ic = 0; ic < M; ic += MR)
				kern_6x16(kc, A + ic * lda + pc, lda, 1, bpack,
				          NR, C + ic * ldc + jc, ldc,
				          min_sz(MR, M - ic), nr, ac);
		}
	}
}

/*
 * Dot products lose to the packed outer-product kernel when K is short
 * (horizontal sums, tails) and M gives the panel enough reuse; measured
 * best-of-200 on the CNN's and MLP's shapes (docs/MODEL.md).
 */
void
pfli_gemm_nt(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	if (K < 256 && M >= 32)
		pfli_gemm_nt_pack(M, N, K, A, lda, B, ldb, acc, C, ldc);
	else
		pfli_gemm_nt_dot(M, N, K, A, lda, B, ldb, acc, C, ldc);
}
