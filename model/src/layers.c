/* Layers: dense, 5x5 'same' convolution (direct), 2x2 max-pool,
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

/*
 * Direct 5x5 'same' convolution: no im2col buffer. The input of one sample
 * is copied into a zero-bordered [c][h+4][w+4] plane and the GEMM kernel
 * reads it through two offset tables (pfli_gemm_off): pix[p] is output
 * pixel p's place in a padded plane, tap[k] the place of tap k = (c, ky,
 * kx) relative to it. Forward: yT[p][o] = sum_k xp[pix[p] + tap[k]] *
 * wT[k][o]; weight gradient: dwT[k][o] += sum_p xp[tap[k] + pix[p]] *
 * dyT[p][o]; input gradient: the same forward over the padded dy with the
 * flipped, transposed weights. The [p][o] results stay in L1/L2 and are
 * stored back to NCHW with bias and ReLU in the same pass.
 */
struct conv_ws {
	float *xp;    /* [max(ci, co)][h+4][w+4] padded plane */
	float *wt;    /* [max(ci, co) * 25][max(ci, co)] reordered weights */
	float *yt;    /* [h*w][max(ci, co)] one sample, pixel-major */
	float *dwt;   /* [ci*25][co] weight gradient, transposed */
	int32_t *pix; /* [h*w] */
	int32_t *tap; /* [max(ci, co) * 25] */
};

static size_t
conv_planes(int ci, int co)
{
	return (size_t)(ci > co ? ci : co);
}

size_t
pfli_conv_ws_floats(int ci, int co, int h, int w)
{
	size_t cm = conv_planes(ci, co), hw = (size_t)h * w;
	size_t pp = (size_t)(h + 2 * PAD) * (size_t)(w + 2 * PAD);

	return cm * pp + cm * KS * KS * cm + hw * cm +
	       (size_t)ci * KS * KS * (size_t)co + hw + cm * KS * KS;
}

static void
conv_ws_split(float *ws, int ci, int co, int h, int w, struct conv_ws *s)
{
	size_t cm = conv_planes(ci, co), hw = (size_t)h * w;
	size_t pp = (size_t)(h + 2 * PAD) * (size_t)(w + 2 * PAD);

	s->xp = ws;
	s->wt = s->xp + cm * pp;
	s->yt = s->wt + cm * KS * KS * cm;
	s->dwt = s->yt + hw * cm;
	s->pix = (int32_t *)(s->dwt + (size_t)ci * KS * KS * co);
	s->tap = s->pix + hw;
}

/* pix[p] for p = oy*w + ox; tap[k] for k = c*25 + ky*5 + kx, c < planes */
static void
conv_tables(int planes, int h, int w, int32_t *pix, int32_t *tap)
{
	int pw = w + 2 * PAD, pp = (h + 2 * PAD) * pw;

	for (int oy = 0; oy < h; oy++)
		for (int ox = 0; ox < w; ox++)
			pix[oy * w + ox] = oy * pw + ox;
	for (int c = 0; c < planes; c++)
		for (int ky = 0; ky < KS; ky++)
			for (int kx = 0; kx < KS; kx++)
				tap[(c * KS + ky) * KS + kx] =
				        c * pp + ky * pw + kx;
}

/* xp[c][y+2][x+2] = x[c][y][x], zero border */
static void
pad_planes(int c, int h, int w, const float *x, float *xp)
{
	size_t pw = (size_t)(w + 2 * PAD);

	memset(xp, 0, (size_t)c * (size_t)(h + 2 * PAD) * pw * sizeof(float));
	for (int ch = 0; ch < c; ch++)
		for (int y = 0; y < h; y++)
			memcpy(xp +
			               ((size_t)ch * (h + 2 * PAD) + y + PAD) *
			                       pw +
			               PAD,
			       x + ((size_t)ch * h + y) * w,
			       (size_t)w * sizeof(float));
}

/* y[o][p] = f(yt[p][o] + b[o]) (b may be NULL) */
static void
store_planes(size_t hw, int n, const float *yt, const float *b, bool relu,
             float *y)
{
	for (int o = 0; o < n; o++) {
		float bo = b != NULL ? b[o] : 0.0f;
		float *yo = y + (size_t)o * hw;
		for (size_t p = 0; p < hw; p++) {
			float v = yt[p * (size_t)n + o] + bo;
			yo[p] = relu && !(v > 0.0f) ? 0.0f : v;
		}
	}
}

void
pfli_conv_fwd(size_t B, int ci, int co, int h, int w, const float *x,
              const float *wt, const float *b, bool relu, float *y, float *ws)
{
	size_t hw = (size_t)h * (size_t)w, kk = (size_t)ci * KS * KS;
	struct conv_ws s;

	conv_ws_split(ws, ci, co, h, w, &s);
	conv_tables(ci, h, w, s.pix, s.tap);
	for (size_t k = 0; k < kk; k++)
		for (int o = 0; o < co; o++)
			s.wt[k * co + o] = wt[o * kk + k];
	for (size_t n = 0; n < B; n++) {
		pad_planes(ci, h, w, x + n * (size_t)ci * hw, s.xp);
		pfli_gemm_off(hw, (size_t)co, kk, s.xp, s.pix, s.tap, s.wt,
		              (size_t)co, false, s.yt, (size_t)co);
		store_planes(hw, co, s.yt, b, relu, y + n * (size_t)co * hw);
	}
}

/* dx of one sample from its dy (the forward over padded dy, flipped w) */
static void
conv_bwd_data(int ci, int co, int h, int w, const float *dys,
              const struct conv_ws *s, float *dxs)
{
	size_t hw = (size_t)h * (size_t)w;

	pad_planes(co, h, w, dys, s->xp);
	pfli_gemm_off(hw, (size_t)ci, (size_t)co * KS * KS, s->xp, s->pix,
	              s->tap, s->wt, (size_t)ci, false, s->yt, (size_t)ci);
	store_planes(hw, ci, s->yt, NULL, false, dxs);
}

/*
 * One sample's dy [n][hw]: masked in place by y > 0 (y may be NULL), summed
 * into db, and copied transposed into dyt [hw][n], in 16 x 16 tiles.
 */
static void
mask_sum_transpose(size_t hw, int n, const float *y, float *dy, float *db,
                   float *dyt)
{
	enum { T = 16 };

	if (y != NULL)
		relu_mask(hw * (size_t)n, y, dy);
	for (int o = 0; o < n; o++) {
		const float *r = dy + (size_t)o * hw;
		float acc = 0.0f;
		for (size_t p = 0; p < hw; p++)
			acc += r[p];
		db[o] += acc;
	}
	for (size_t p0 = 0; p0 < hw; p0 += T)
		for (int o0 = 0; o0 < n; o0 += T) {
			size_t p1 = p0 + T < hw ? p0 + T : hw;
			int o1 = o0 + T < n ? o0 + T : n;
			for (size_t p = p0; p < p1; p++)
				for (int o = o0; o < o1; o++)
					dyt[p * (size_t)n + o] =
					        dy[(size_t)o * hw + p];
		}
}

void
pfli_conv_bwd(size_t B, int ci, int co, int h, int w, const float *x,
              const float *wt, const float *y, bool relu, float *dy, float *dw,
              float *db, float *dx, float *ws)
{
	size_t hw = (size_t)h * (size_t)w, kk = (size_t)ci * KS * KS;
	struct conv_ws s;

	memset(db, 0, (size_t)co * sizeof(float));
	conv_ws_split(ws, ci, co, h, w, &s);
	/* tap[] covers max(ci, co) planes: a prefix serves each use */
	conv_tables((int)conv_planes(ci, co), h, w, s.pix, s.tap);
	for (int o = 0; o < co && dx != NULL; o++)
		for (int c = 0; c < ci; c++)
			for (int t = 0; t < KS * KS; t++)
				s.wt[((size_t)o * KS * KS + t) * ci + c] =
				        wt[o * kk + (size_t)c * KS * KS +
				           (KS * KS - 1 - t)];
	for (size_t n = 0; n < B; n++) {
		float *dys = dy + n * (size_t)co * hw;
		mask_sum_transpose(hw, co,
		                   relu ? y + n * (size_t)co * hw : NULL, dys,
		                   db, s.yt);
		pad_planes(ci, h, w, x + n * (size_t)ci * hw, s.xp);
		pfli_gemm_off(kk, (size_t)co, hw, s.xp, s.tap, s.pix, s.yt,
		              (size_t)co, n > 0, s.dwt, (size_t)co);
		if (dx != NULL)
			conv_bwd_data(ci, co, h, w, dys, &s,
			              dx + n * (size_t)ci * hw);
	}
	for (int o = 0; o < co; o++)
		for (size_t k = 0; k < kk; k++)
			dw[o * kk + k] = B > 0 ? s.dwt[k * co + o] : 0.0f;
}

/* First maximum in window order (a NaN only wins when it comes first). */
void
pfli_pool_fwd(size_t B, int c, int h, int w, const float *x, float *y,
              uint8_t *arg)
{
	int oh = h / 2, ow = w / 2;

	for (size_t p = 0; p < B * (size_t)c; p++) {
		const float *xp = x + p * (size_t)h * w;
		float *yp = y + p * (size_t)oh * ow;
		uint8_t *ap = arg + p * (size_t)oh * ow;
		for (int oy = 0; oy < oh; oy++) {
			const float *r0 = xp + (size_t)(2 * oy) * w;
			const float *r1 = r0 + w;
			for (int ox = 0; ox < ow; ox++) {
				float m = r0[2 * ox], v;
				uint8_t k = 0;
				v = r0[2 * ox + 1];
				k = v > m ? 1 : k;
				m = v > m ? v : m;
				v = r1[2 * ox];
				k = v > m ? 2 : k;
				m = v > m ? v : m;
				v = r1[2 * ox + 1];
				k = v > m ? 3 : k;
				m = v > m ? v : m;
				yp[oy * ow + ox] = m;
				ap[oy * ow + ox] = k;
			}
		}
	}
}

void
pfli_pool_bwd(size_t B, int c, int h, int w, const uint8_t *arg,
              const float *dy, float *dx)
{
	int oh = h / 2, ow = w / 2;

	if ((h | w) & 1)
		memset(dx, 0, B * (size_t)c * h * w * sizeof(float));
	for (size_t p = 0; p < B * (size_t)c; p++) {
		const float *dyp = dy + p * (size_t)oh * ow;
		const uint8_t *ap = arg + p * (size_t)oh * ow;
		float *dxp = dx + p * (size_t)h * w;
		for (int oy = 0; oy < oh; oy++) {
			float *r0 = dxp + (size_t)(2 * oy) * w;
			float *r1 = r0 + w;
			for (int ox = 0; ox < ow; ox++) {
				float g = dyp[oy * ow + ox];
				int k = ap[oy * ow + ox];
				r0[2 * ox] = k == 0 ? g : 0.0f;
				r0[2 * ox + 1] = k == 1 ? g : 0.0f;
				r1[2 * ox] = k == 2 ? g : 0.0f;
				r1[2 * ox + 1] = k == 3 ? g : 0.0f;
			}
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
