/*
 * GEMM kernels, included by gemm.c once per vector width. Before including,
 * define VW (floats per vector), SFX(name) (name with a width suffix) and
 * KTARGET (the attribute that selects the instruction set of the drivers).
 * See gemm.c for the scheme.
 */
typedef float SFX(vf) __attribute__((vector_size(VW * 4)));

enum { SFX(NR) = 2 * VW };

INLINE
SFX(vf) SFX(ld)(const float *p)
{
	SFX(vf) v;

	memcpy(&v, p, sizeof(v));
	return v;
}

INLINE void
SFX(st)(float *p, SFX(vf) v)
{
	memcpy(p, &v, sizeof(v));
}

/* C[0..mr)[0..nr) (+)= sum_k a(i,k) * Bp[k][0..2VW) */
INLINE void
SFX(kern)(size_t kc, const float *A, size_t rsa, size_t csa, const float *Bp,
          size_t ldb, float *C, size_t ldc, size_t mr, size_t nr, bool acc)
{
	SFX(vf) c[MR][2];
	const float *a[MR];
	float tmp[MR][2 * VW];

	for (size_t i = 0; i < MR; i++) {
		a[i] = A + (i < mr ? i : mr - 1) * rsa;
		c[i][0] = (SFX(vf)){0};
		c[i][1] = (SFX(vf)){0};
	}
	for (size_t k = 0; k < kc; k++) {
		SFX(vf) b0 = SFX(ld)(Bp + k * ldb);
		SFX(vf) b1 = SFX(ld)(Bp + k * ldb + VW);
		for (size_t i = 0; i < MR; i++) {
			float ai = a[i][k * csa];
			c[i][0] += ai * b0;
			c[i][1] += ai * b1;
		}
	}
	if (mr == MR && nr == 2 * VW) {
		for (size_t i = 0; i < MR; i++) {
			float *ci = C + i * ldc;
			if (acc) {
				c[i][0] += SFX(ld)(ci);
				c[i][1] += SFX(ld)(ci + VW);
			}
			SFX(st)(ci, c[i][0]);
			SFX(st)(ci + VW, c[i][1]);
		}
		return;
	}
	for (size_t i = 0; i < MR; i++) {
		SFX(st)(tmp[i], c[i][0]);
		SFX(st)(tmp[i] + VW, c[i][1]);
	}
	for (size_t i = 0; i < mr; i++)
		for (size_t j = 0; j < nr; j++)
			C[i * ldc + j] =
			        (acc ? C[i * ldc + j] : 0.0f) + tmp[i][j];
}

/* nn (rsa = lda, csa = 1) and tn (rsa = 1, csa = lda) */
KTARGET static void
SFX(outer)(size_t M, size_t N, size_t K, const float *A, size_t rsa, size_t csa,
           const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	float bpack[KC * 2 * VW];

	for (size_t pc = 0; pc < K; pc += KC) {
		size_t kc = min_sz(KC, K - pc);
		bool ac = acc || pc > 0;
		for (size_t jc = 0; jc < N; jc += 2 * VW) {
			size_t nr = min_sz(2 * VW, N - jc);
			const float *bp = B + pc * ldb + jc;
			size_t bld = ldb;
			if (nr < 2 * VW) {
				for (size_t k = 0; k < kc; k++)
					for (size_t j = 0; j < 2 * VW; j++)
						bpack[k * 2 * VW + j] =
						        j < nr ? bp[k * ldb + j]
						               : 0.0f;
				bp = bpack;
				bld = 2 * VW;
			}
			for (size_t ic = 0; ic < M; ic += MR)
				SFX(kern)
			(kc, A + ic * rsa + pc * csa, rsa, csa, bp, bld,
			 C + ic * ldc + jc, ldc, min_sz(MR, M - ic), nr, ac);
		}
	}
}

/* nt: each 2VW-row strip of B copied, transposed, into a [kc][2VW] panel */
KTARGET static void
SFX(nt_pack)(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	float bpack[KC * 2 * VW];

	for (size_t pc = 0; pc < K; pc += KC) {
		size_t kc = min_sz(KC, K - pc);
		bool ac = acc || pc > 0;
		for (size_t jc = 0; jc < N; jc += 2 * VW) {
			size_t nr = min_sz(2 * VW, N - jc);
			for (size_t j = 0; j < 2 * VW; j++) {
				const float *br = B + (jc + j) * ldb + pc;
				if (j < nr)
					for (size_t k = 0; k < kc; k++)
						bpack[k * 2 * VW + j] = br[k];
				else
					for (size_t k = 0; k < kc; k++)
						bpack[k * 2 * VW + j] = 0.0f;
			}
			for (size_t ic = 0; ic < M; ic += MR)
				SFX(kern)
			(kc, A + ic * lda + pc, lda, 1, bpack, 2 * VW,
			 C + ic * ldc + jc, ldc, min_sz(MR, M - ic), nr, ac);
		}
	}
}

INLINE float
SFX(hsum)(SFX(vf) v)
{
	float s = 0.0f;

	for (int i = 0; i < VW; i++)
		s += v[i];
	return s;
}

/* C[i][j] (+)= dot(A row i, B row j) over kc, for a 4 x 3 block. */
INLINE void
SFX(kern_dot)(size_t kc, const float *A, size_t lda, const float *B, size_t ldb,
              float *C, size_t ldc, size_t mr, size_t nr, bool acc)
{
	SFX(vf) c[MT][NT];
	const float *a[MT], *b[NT];
	size_t kv = kc - kc % VW;

	for (size_t i = 0; i < MT; i++) {
		a[i] = A + (i < mr ? i : mr - 1) * lda;
		for (size_t j = 0; j < NT; j++)
			c[i][j] = (SFX(vf)){0};
	}
	for (size_t j = 0; j < NT; j++)
		b[j] = B + (j < nr ? j : nr - 1) * ldb;
	for (size_t k = 0; k < kv; k += VW) {
		SFX(vf) bv[NT];
		for (size_t j = 0; j < NT; j++)
			bv[j] = SFX(ld)(b[j] + k);
		for (size_t i = 0; i < MT; i++) {
			SFX(vf) av = SFX(ld)(a[i] + k);
			for (size_t j = 0; j < NT; j++)
				c[i][j] += av * bv[j];
		}
	}
	for (size_t i = 0; i < mr; i++) {
		for (size_t j = 0; j < nr; j++) {
			float s = SFX(hsum)(c[i][j]);
			for (size_t k = kv; k < kc; k++)
				s += a[i][k] * b[j][k];
			C[i * ldc + j] = (acc ? C[i * ldc + j] : 0.0f) + s;
		}
	}
}

/* unused at 16 floats (see pfli_gemm_nt_dot) */
KTARGET __attribute__((unused)) static void
SFX(nt_dot)(size_t M, size_t N, size_t K, const float *A, size_t lda,
            const float *B, size_t ldb, bool acc, float *C, size_t ldc)
{
	for (size_t pc = 0; pc < K; pc += KCT) {
		size_t kc = min_sz(KCT, K - pc);
		bool ac = acc || pc > 0;
		for (size_t ic = 0; ic < M; ic += MT)
			for (size_t jc = 0; jc < N; jc += NT)
				SFX(kern_dot)
		(kc, A + ic * lda + pc, lda, B + jc * ldb + pc, ldb,
		 C + ic * ldc + jc, ldc, min_sz(MT, M - ic), min_sz(NT, N - jc),
		 ac);
	}
}

/*
 * C[0..mr)[0..nr) (+)= sum_k a_i[coff[k]] * Bp[k][0..2VW), a_i = A + roff[i]:
 * the outer-product kernel with A addressed through offset tables (an
 * implicit im2col for the direct convolutions).
 */
INLINE void
SFX(kern_off)(size_t kc, const float *A, const int32_t *roff,
              const int32_t *coff, const float *Bp, size_t ldb, float *C,
              size_t ldc, size_t mr, size_t nr, bool acc)
{
	SFX(vf) c[MR][2];
	const float *a[MR];
	float tmp[MR][2 * VW];

	for (size_t i = 0; i < MR; i++) {
		a[i] = A + roff[i < mr ? i : mr - 1];
		c[i][0] = (SFX(vf)){0};
		c[i][1] = (SFX(vf)){0};
	}
	for (size_t k = 0; k < kc; k++) {
		SFX(vf) b0 = SFX(ld)(Bp + k * ldb);
		SFX(vf) b1 = SFX(ld)(Bp + k * ldb + VW);
		int32_t o = coff[k];
		for (size_t i = 0; i < MR; i++) {
			float ai = a[i][o];
			c[i][0] += ai * b0;
			c[i][1] += ai * b1;
		}
	}
	if (mr == MR && nr == 2 * VW) {
		for (size_t i = 0; i < MR; i++) {
			float *ci = C + i * ldc;
			if (acc) {
				c[i][0] += SFX(ld)(ci);
				c[i][1] += SFX(ld)(ci + VW);
			}
			SFX(st)(ci, c[i][0]);
			SFX(st)(ci + VW, c[i][1]);
		}
		return;
	}
	for (size_t i = 0; i < MR; i++) {
		SFX(st)(tmp[i], c[i][0]);
		SFX(st)(tmp[i] + VW, c[i][1]);
	}
	for (size_t i = 0; i < mr; i++)
		for (size_t j = 0; j < nr; j++)
			C[i * ldc + j] =
			        (acc ? C[i * ldc + j] : 0.0f) + tmp[i][j];
}

KTARGET static void
SFX(outer_off)(size_t M, size_t N, size_t K, const float *A,
               const int32_t *roff, const int32_t *coff, const float *B,
               size_t ldb, bool acc, float *C, size_t ldc)
{
	float bpack[KC * 2 * VW];

	for (size_t pc = 0; pc < K; pc += KC) {
		size_t kc = min_sz(KC, K - pc);
		bool ac = acc || pc > 0;
		for (size_t jc = 0; jc < N; jc += 2 * VW) {
			size_t nr = min_sz(2 * VW, N - jc);
			const float *bp = B + pc * ldb + jc;
			size_t bld = ldb;
			if (nr < 2 * VW) {
				for (size_t k = 0; k < kc; k++)
					for (size_t j = 0; j < 2 * VW; j++)
						bpack[k * 2 * VW + j] =
						        j < nr ? bp[k * ldb + j]
						               : 0.0f;
				bp = bpack;
				bld = 2 * VW;
			}
			for (size_t ic = 0; ic < M; ic += MR)
				SFX(kern_off)
			(kc, A, roff + ic, coff + pc, bp, bld,
			 C + ic * ldc + jc, ldc, min_sz(MR, M - ic), nr, ac);
		}
	}
}
