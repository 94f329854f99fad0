/*
 * privfl model/ — private header: matrix kernels, layers and helpers shared
 * by the files of pfl_model and reached by its unit tests. Never included
 * from outside the module (tests/ excepted).
 */
#ifndef PRIVFL_MODEL_INT_H
#define PRIVFL_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/dataset.h"
#include "privfl/err.h"
#include "privfl/model.h"

/*
 * Row-major single-precision GEMMs. All accumulate into C when acc is true,
 * otherwise overwrite it. ld* are row strides in elements.
 *   nn: C[M][N] (+)= A[M][K] * B[K][N]
 *   tn: C[M][N] (+)= A^T * B, A stored [K][M]
 *   nt: C[M][N] (+)= A * B^T, B stored [N][K]
 * Single-threaded; runtime-dispatched to AVX2/FMA code where the CPU has it.
 */
void pfli_gemm_nn(size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, bool acc, float *C, size_t ldc);
void pfli_gemm_tn(size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, bool acc, float *C, size_t ldc);
/* pfli_gemm_nt picks one of these two by shape; both are exact nt GEMMs. */
void pfli_gemm_nt_dot(size_t M, size_t N, size_t K, const float *A, size_t lda,
                      const float *B, size_t ldb, bool acc, float *C,
                      size_t ldc);
void pfli_gemm_nt_pack(size_t M, size_t N, size_t K, const float *A, size_t lda,
                       const float *B, size_t ldb, bool acc, float *C,
                       size_t ldc);
void pfli_gemm_nt(size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, bool acc, float *C, size_t ldc);

/*
 * C[M][N] (+)= A' * B with A'[i][k] = A[roff[i] + coff[k]], B [K][N]: a
 * GEMM whose left operand is gathered through offset tables (the direct
 * convolutions' implicit im2col; see layers.c).
 */
void pfli_gemm_off(size_t M, size_t N, size_t K, const float *A,
                   const int32_t *roff, const int32_t *coff, const float *B,
                   size_t ldb, bool acc, float *C, size_t ldc);

/*
 * The 8-float (AVX2/SSE2) kernels whatever the CPU, for tests on machines
 * that would pick AVX-512: op 0 nn, 1 tn, 2 nt (dot), 3 nt (packed).
 */
void pfli_gemm_v8(int op, size_t M, size_t N, size_t K, const float *A,
                  size_t lda, const float *B, size_t ldb, bool acc, float *C,
                  size_t ldc);

/* Layers (batch-first, NCHW). Parameter gradients dw, db are overwritten. */
/* y[B][out] = x[B][in] W^T + b, W [out][in]; relu applied when relu. */
void pfli_dense_fwd(size_t B, size_t in, size_t out, const float *x,
                    const float *w, const float *b, bool relu, float *y);
/*
 * dy is modified in place (masked by y > 0 when relu).
 * dx may be NULL (input layer).
 */
void pfli_dense_bwd(size_t B, size_t in, size_t out, const float *x,
                    const float *w, const float *y, bool relu, float *dy,
                    float *dw, float *db, float *dx);
/*
 * 5x5 'same' convolution, stride 1: x [B][ci][h][w] -> y [B][co][h][w],
 * computed directly (no im2col buffer; see layers.c). ws is scratch of
 * pfli_conv_ws_floats(ci, co, h, w) floats, float-aligned; its contents
 * are not kept between calls. Backward: dw [co][ci][5][5] and db [co] are
 * overwritten, dy is masked in place by y > 0 when relu, dx may be NULL.
 */
size_t pfli_conv_ws_floats(int ci, int co, int h, int w);
void pfli_conv_fwd(size_t B, int ci, int co, int h, int w, const float *x,
                   const float *wt, const float *b, bool relu, float *y,
                   float *ws);
void pfli_conv_bwd(size_t B, int ci, int co, int h, int w, const float *x,
                   const float *wt, const float *y, bool relu, float *dy,
                   float *dw, float *db, float *dx, float *ws);
/*
 * 2x2 max-pool, stride 2: x [B][c][h][w] -> y [B][c][h/2][w/2]; arg
 * [B][c][h/2][w/2] gets the index (0..3, row-major in the window) of the
 * first maximum, which the backward pass routes dy through. dx is
 * overwritten (zero except at the maxima).
 */
void pfli_pool_fwd(size_t B, int c, int h, int w, const float *x, float *y,
                   uint8_t *arg);
void pfli_pool_bwd(size_t B, int c, int h, int w, const uint8_t *arg,
                   const float *dy, float *dx);
/*
 * Softmax cross-entropy, mean over the batch. Returns the summed loss (not
 * the mean); dlogits (may be NULL) gets d(mean loss)/d(logits). correct
 * (may be NULL) counts argmax hits.
 */
double pfli_softmax_xent(size_t B, int classes, const float *logits,
                         const int32_t *y, float *dlogits, size_t *correct);

/* Forward + backward of the whole model on one batch, for gradient checks:
 * grads are overwritten with d(mean loss)/d(params). Returns the mean loss. */
pfl_err pfli_model_loss_grad(struct pfl_model *m, const float *x,
                             const int32_t *y, size_t B, float **grads,
                             double *loss) PFL_WUR;

/* IDX decoding from memory (for the fuzz target); .gz accepted. */
pfl_err pfli_idx_decode(const uint8_t *img, size_t img_len, const uint8_t *lab,
                        size_t lab_len, struct pfl_dataset *out) PFL_WUR;

/* Append s to b as a JSON string (quotes, escapes); safetensors headers. */
struct pfl_buf;
pfl_err pfli_st_json_str(struct pfl_buf *b, const char *s) PFL_WUR;

#endif
