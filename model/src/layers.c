/* Layers: dense, 5x5 'same' convolution (im2col + GEMM), 2x2 max-pool,
 * softmax cross-entropy. Forward and backward, batch-first NCHW. */
#include <math.h>
#include <string.h>

#include "model_int.h"

enum { KS = 5, PAD = 2 };

static void
bias_relu(size_t rows, size_t cols, const float *b, bool per_row, bool relu,
          float *y)
{
	for (size_t r = 0; r < rows; r++) {
		float *yr = y + r * cols;
		if (per_row) {
			float br = b[r];
			for (size_t j = 0; j < cols; j++)
				yr[j] += br;
		} else {
			for (size_t j = 0; j < cols; j++)
				yr[j] += b[j];
		}
		if (relu)
			for (size_t j = 0; j < cols; j++)
				yr[j] = yr[j] > 0.0f ? yr[j] : 0.0f;
	}
}

static void
relu_mask(size_t n, const float *y, float *dy)
{
	for (size_t i = 0; i < n; i++)
		dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void
pfli_dense_fwd(size_t B, size_t in, size_t out, const float *x, const float *w,
               const float *b, bool relu, float *y)
{
	pfli_gemm_nt(B, out, in, x, in, w, in, false, y, out);
	bias_relu(B, out, b, false, relu, y);
}

void
pfli_dense_bwd(size_t B, size_t in, size_t out, const float *x, const float *w,
               const float *y, bool relu, float *dy, float *dw, float *db,
               float *dx)
{
	if (relu)
		relu_mask(B * out, y, dy);
	memset(db, 0, out * sizeof(float));
	for (size_t s = 0; s < B; s++)
		for (size_t j = 0; j < out; j++)
			db[j] += dy[s * out + j];
	pfli_gemm_tn(out, in, B, dy, out, x, in, false, dw, in);
	if (dx != NULL)
		pfli_gemm_nn(B, in, out, dy, out, w, in, false, dx, in);
}

/* cols[(c*25 + ky*5 + kx)][oy*w + ox] = x[c][oy+ky-2][ox+kx-2] or 0 */
static void
im2col(int ci, int h, int w, const float *x, float *cols)
{
	size_t hw = (size_t)h * (size_t)w;

	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < KS; ky++)
			for (int kx = 0; kx < KS; kx++) {
				float *row =
				        cols +
				        ((size_t)(c * KS + ky) * KS + kx) * hw;
				int x0 = kx < PAD ? PAD - kx : 0;
				int x1 = kx > PAD ? w - (kx - PAD) : w;
				for (int oy = 0; oy < h; oy++) {
					int iy = oy + ky - PAD;
					float *r = row + (size_t)oy * w;
					if (iy < 0 || iy >= h || x1 <= x0) {
						memset(r, 0,
						       (size_t)w *
						               sizeof(float));
						continue;
					}
					const float *src =
					        x + ((size_t)c * h + iy) * w +
					        (x0 + kx - PAD);
					for (int ox = 0; ox < x0; ox++)
						r[ox] = 0.0f;
					memcpy(r + x0, src,
					       (size_t)(x1 - x0) *
					               sizeof(float));
					for (int ox = x1; ox < w; ox++)
						r[ox] = 0.0f;
				}
			}
}

/* dx[c][iy][ix] = sum of dcols entries that im2col read from there */
static void
col2im(int ci, int h, int w, const float *dcols, float *dx)
{
	size_t hw = (size_t)h * (size_t)w;

	memset(dx, 0, (size_t)ci * hw * sizeof(float));
	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < KS; ky++)
			for (int kx = 0; kx < KS; kx++) {
				const float *row =
				        dcols +
				        ((size_t)(c * KS + ky) * KS + kx) * hw;
				int x0 = kx < PAD ? PAD - kx : 0;
				int x1 = kx > PAD ? w - (kx - PAD) : w;
				for (int oy = 0; oy < h; oy++) {
					int iy = oy + ky - PAD;
					if (iy < 0 || iy >= h)
						continue;
					const float *r = row + (size_t)oy * w;
					float *dst = dx +
					             ((size_t)c * h + iy) * w +
					             (x0 + kx - PAD);
					for (int ox = x0; ox < x1; ox++)
						dst[ox - x0] += r[ox];
				}
			}
}

void
pfli_conv_fwd(size_t B, int ci, int co, int h, int w, const float *x,
              const float *wt, const float *b, bool relu, float *y, float *cols)
{
	size_t hw = (size_t)h * (size_t)w, kk = (size_t)ci * KS * KS;

	for (size_t s = 0; s < B; s++) {
		float *ys = y + s * (size_t)co * hw;
		im2col(ci, h, w, x + s * (size_t)ci * hw, cols);
		pfli_gemm_nn((size_t)co, hw, kk, wt, kk, cols, hw, false, ys,
		             hw);
		bias_relu((size_t)co, hw, b, true, relu, ys);
	}
}

void
pfli_conv_bwd(size_t B, int ci, int co, int h, int w, const float *x,
              const float *wt, const float *y, bool relu, float *dy, float *dw,
              float *db, float *dx, float *cols, float *dcols)
{
	size_t hw = (size_t)h * (size_t)w, kk = (size_t)ci * KS * KS;

	if (relu)
		relu_mask(B * (size_t)co * hw, y, dy);
	memset(db, 0, (size_t)co * sizeof(float));
	for (size_t s = 0; s < B; s++) {
		float *dys = dy + s * (size_t)co * hw;
		for (int c = 0; c < co; c++) {
			const float *r = dys + (size_t)c * hw;
			float acc = 0.0f;
			for (size_t j = 0; j < hw; j++)
				acc += r[j];
			db[c] += acc;
		}
		im2col(ci, h, w, x + s * (size_t)ci * hw, cols);
		pfli_gemm_nt((size_t)co, kk, hw, dys, hw, cols, hw, s > 0, dw,
		             kk);
		if (dx != NULL) {
			pfli_gemm_tn(kk, hw, (size_t)co, wt, kk, dys, hw, false,
			             dcols, hw);
			col2im(ci, h, w, dcols, dx + s * (size_t)ci * hw);
		}
	}
}

/* First maximum in window order (a NaN only wins when it comes first). */
static inline float
max4(float a, float b, float c, float d)
{
	float m = a;

	m = b > m ? b : m;
	m = c > m ? c : m;
	return d > m ? d : m;
}

void
pfli_pool_fwd(size_t B, int c, int h, int w, const float *x, float *y)
{
	int oh = h / 2, ow = w / 2;

	for (size_t p = 0; p < B * (size_t)c; p++) {
		const float *xp = x + p * (size_t)h * w;
		float *yp = y + p * (size_t)oh * ow;
		for (int oy = 0; oy < oh; oy++) {
			const float *r0 = xp + (size_t)(2 * oy) * w;
			const float *r1 = r0 + w;
			for (int ox = 0; ox < ow; ox++) {
				yp[oy * ow + ox] =
				        max4(r0[2 * ox], r0[2 * ox + 1],
				             r1[2 * ox], r1[2 * ox + 1]);
			}
		}
	}
}

void
pfli_pool_bwd(size_t B, int c, int h, int w, const float *x, const float *y,
              const float *dy, float *dx)
{
	int oh = h / 2, ow = w / 2;

	memset(dx, 0, B * (size_t)c * h * w * sizeof(float));
	for (size_t p = 0; p < B * (size_t)c; p++) {
		const float *xp = x + p * (size_t)h * w;
		float *dxp = dx + p * (size_t)h * w;
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				size_t o = p * (size_t)oh * ow +
				           (size_t)oy * ow + ox;
				size_t i0 = (size_t)(2 * oy) * w + 2 * ox;
				size_t cand[4] = {i0, i0 + 1, i0 + w,
				                  i0 + w + 1};
				size_t k = 0;
				while (k < 3 && xp[cand[k]] != y[o])
					k++;
				dxp[cand[k]] += dy[o];
			}
	}
}

double
pfli_softmax_xent(size_t B, int classes, const float *logits, const int32_t *y,
                  float *dlogits, size_t *correct)
{
	double total = 0.0;
	size_t hits = 0;
	float inv_b = 1.0f / (float)B;

	for (size_t s = 0; s < B; s++) {
		const float *z = logits + s * (size_t)classes;
		float mx = z[0];
		int arg = 0;
		double sum = 0.0, lse;
		for (int j = 1; j < classes; j++)
			if (z[j] > mx) {
				mx = z[j];
				arg = j;
			}
		for (int j = 0; j < classes; j++)
			sum += exp((double)(z[j] - mx));
		lse = (double)mx + log(sum);
		total += lse - (double)z[y[s]];
		hits += arg == y[s];
		if (dlogits != NULL) {
			float *d = dlogits + s * (size_t)classes;
			for (int j = 0; j < classes; j++)
				d[j] = (float)exp((double)z[j] - lse) * inv_b;
			d[y[s]] -= inv_b;
		}
	}
	if (correct != NULL)
		*correct = hits;
	return total;
}
