/* The per-token part of the stacked fused form (batched._TokenPool), one sequence at a time.

   For model m and sequence b (T tokens x(t), each with a ones column appended: width d1 = d + 1):
       a(t)       = relu(W1a^T x(t))                       (N wide; W1a = [W1; b1] is d1 x N)
       logit_i(t) = At_i . a(t) + ct_i                      (i < h_m, the model's own heads)
       att_i      = softmax_t(logit_i)
       pooled_i   = sum_t att_i(t) a(t)                     (heads h_m <= i < H: pooled_i = 0)
   and the gradients of a loss with respect to W1a, At and ct given d loss / d pooled.

   Why a kernel: done with batched matrix products, the (sequences x T) x N activations of every model go
   to memory and come back for each product that reads them, and the products are skinny (inner size
   d1 = 5, or h <= 5 rows), so the time goes to memory traffic and per-call overhead. Here a sequence's
   activations (T x N floats, in two layouts) stay in the first-level cache while every product that
   needs them runs; the backward pass recomputes them instead of storing them.

   Portable C with GCC/Clang vector extensions (8 floats per vector; the compiler maps them onto the
   machine's vector unit) and no intrinsics. Every sum is accumulated in the order written; softmax uses
   exp_nonpos below (about 1 ulp from expf). Requires N to be a multiple of 8 (the caller checks).

   Layouts (float32; contiguous except x, whose models are x_sm floats apart: 0 = one input for all):
       x       (G, B, T, d1), or with idx: (n, T, d1), model m's sequence b being x[idx[m B + b]]
       W1a     (G, d1, N)        At (G, H, N)      ct (G, H)       hs (G) int32, 1 <= hs[m] <= H
       pooled  (G, B, H, N)      att (G, B, H, T): forward outputs (att may be NULL when no backward follows)
       gW1a    (G, d1, N)        gAt (G, H, N)     gct (G, H):     backward outputs (overwritten)
   Both entry points return 0, or -1 if their scratch memory cannot be allocated. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RESTRICT __restrict__
#define INLINE static inline __attribute__((always_inline))

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* for loads and stores at any address */

INLINE v8 ld(const float *p) { return *(const v8u *)p; }
INLINE void st(float *p, v8 v) { *(v8u *)p = v; }
INLINE v8 splat(float c) { return (v8){c, c, c, c, c, c, c, c}; }
INLINE v8 vsel(v8i m, v8 a, v8 b) { return (v8)(((v8i)a & m) | ((v8i)b & ~m)); } /* m ? a : b */
INLINE v8 relu(v8 a) { return (v8)((v8i)a & (a > splat(0.0f))); }
INLINE float hsum(v8 v) {
    float s = 0.0f;
    for (int l = 0; l < 8; l++) s += v[l];
    return s;
}

/* exp(x) for x <= 0 (softmax arguments once the maximum is subtracted): Cody-Waite reduction by
   n = round(x / ln 2) and the degree-6 minimax polynomial of the Cephes library's expf on the remainder;
   below -87 the argument is clamped (exp(-87) ~ 1.6e-38, which no softmax weight can tell from 0). */
INLINE v8 exp_nonpos(v8 x) {
    x = vsel(x < splat(-87.0f), splat(-87.0f), x);
    const v8 round = splat(12582912.0f); /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
    v8 n = (x * splat(1.44269504088896341f) + round) - round;
    v8 r = x - n * splat(0.693359375f) + n * splat(2.12194440e-4f);
    v8 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    v8i e = (__builtin_convertvector(n, v8i) + 127) << 23; /* 2^n */
    return p * (v8)e;
}

/* Per-call scratch; Tp = T rounded up to a multiple of 8 (padded tokens have x = 0 and are never
   read as real ones). */
typedef struct {
    float *A;  /* Tp x N   activations, one token per row */
    float *AT; /* N x Tp   the same, one unit per row */
    float *XT; /* d1 x Tp  the sequence's inputs, transposed */
    float *L;  /* H x Tp   logits, then attention weights (forward); d loss / d logits (backward) */
    float *GA; /* Tp x N   d loss / d activations (backward) */
} scratch;

static float *scratch_alloc(scratch *s, int Tp, int d1, int N, int H) {
    size_t n = (size_t)3 * Tp * N + (size_t)d1 * Tp + (size_t)H * Tp;
    float *base = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!base) return NULL;
    s->A = base;
    s->AT = s->A + (size_t)Tp * N;
    s->GA = s->AT + (size_t)Tp * N;
    s->XT = s->GA + (size_t)Tp * N;
    s->L = s->XT + (size_t)d1 * Tp;
    return base;
}

/* a(t) for every token of one sequence, into A (by token) and AT (by unit). Both layouts are computed
   by the same operations in the same order, so they hold the same values. */
INLINE void activations(const float *RESTRICT xs, const float *RESTRICT W, int T, int Tp, int d1, int N,
                        const scratch *s) {
    float *RESTRICT XT = s->XT, *RESTRICT A = s->A, *RESTRICT AT = s->AT;
    for (int k = 0; k < d1; k++) {
        for (int t = 0; t < T; t++) XT[(size_t)k * Tp + t] = xs[(size_t)t * d1 + k];
        for (int t = T; t < Tp; t++) XT[(size_t)k * Tp + t] = 0.0f;
    }
    for (int t0 = 0; t0 < Tp; t0 += 8) {
        v8 xv[d1];
        for (int k = 0; k < d1; k++) xv[k] = ld(XT + (size_t)k * Tp + t0);
        for (int j = 0; j < N; j++) {
            v8 acc = xv[0] * splat(W[j]);
            for (int k = 1; k < d1; k++) acc += xv[k] * splat(W[(size_t)k * N + j]);
            st(AT + (size_t)j * Tp + t0, relu(acc));
        }
    }
    for (int t = 0; t < T; t++) {
        const float *xr = xs + (size_t)t * d1;
        for (int j = 0; j < N; j += 8) {
            v8 acc = splat(xr[0]) * ld(W + j);
            for (int k = 1; k < d1; k++) acc += splat(xr[k]) * ld(W + (size_t)k * N + j);
            st(A + (size_t)t * N + j, relu(acc));
        }
    }
}

/* out[i][t] = c[i] + sum_j Wr[i][j] AT[j][t] for heads i0..i0+HB-1 and tokens t0..t0+8 TV-1
   (c NULL: no constant). The HB x TV block accumulates in registers while j runs. */
INLINE void rows_block(float *RESTRICT out, int ldo, const float *RESTRICT Wr, const float *RESTRICT c, int i0,
                       int HB, const float *RESTRICT AT, int Tp, int t0, int TV, int N) {
    v8 acc[4][2];
    for (int ii = 0; ii < HB; ii++)
        for (int v = 0; v < TV; v++) acc[ii][v] = splat(c ? c[i0 + ii] : 0.0f);
    for (int j = 0; j < N; j++) {
        v8 r[2];
        for (int v = 0; v < TV; v++) r[v] = ld(AT + (size_t)j * Tp + t0 + 8 * v);
        for (int ii = 0; ii < HB; ii++) {
            const v8 w = splat(Wr[(size_t)(i0 + ii) * N + j]);
            for (int v = 0; v < TV; v++) acc[ii][v] += w * r[v];
        }
    }
    for (int ii = 0; ii < HB; ii++)
        for (int v = 0; v < TV; v++) st(out + (size_t)(i0 + ii) * ldo + t0 + 8 * v, acc[ii][v]);
}

INLINE void rows_blocks(float *out, int ldo, const float *Wr, const float *c, int i0, int HB, const float *AT,
                        int Tp, int N) {
    int t0 = 0;
    for (; t0 + 16 <= Tp; t0 += 16) rows_block(out, ldo, Wr, c, i0, HB, AT, Tp, t0, 2, N);
    if (t0 < Tp) rows_block(out, ldo, Wr, c, i0, HB, AT, Tp, t0, 1, N);
}

/* out (h x Tp, rows ldo apart) = Wr (h x N) AT (N x Tp) + c: heads four, then two, then one at a time. */
INLINE void rows_times(float *out, int ldo, const float *Wr, const float *c, int h, const float *AT, int Tp, int N) {
    int i0 = 0;
    for (; i0 + 4 <= h; i0 += 4) rows_blocks(out, ldo, Wr, c, i0, 4, AT, Tp, N);
    for (; i0 + 2 <= h; i0 += 2) rows_blocks(out, ldo, Wr, c, i0, 2, AT, Tp, N);
    for (; i0 < h; i0++) rows_blocks(out, ldo, Wr, c, i0, 1, AT, Tp, N);
}

/* acc (N wide, in memory at dst) = (add ? dst : 0) + sum_t w[t] A[t]: columns 32 at a time in registers. */
INLINE void weighted_rows(float *RESTRICT dst, int add, const float *RESTRICT w, const float *RESTRICT A, int T,
                          int N) {
    for (int j0 = 0; j0 < N; j0 += 32) {
        const int nv = (N - j0) / 8 < 4 ? (N - j0) / 8 : 4;
        v8 acc[4];
        for (int v = 0; v < nv; v++) acc[v] = add ? ld(dst + j0 + 8 * v) : splat(0.0f);
        for (int t = 0; t < T; t++) {
            const v8 c = splat(w[t]);
            for (int v = 0; v < nv; v++) acc[v] += c * ld(A + (size_t)t * N + j0 + 8 * v);
        }
        for (int v = 0; v < nv; v++) st(dst + j0 + 8 * v, acc[v]);
    }
}

/* softmax over the first T entries of l (Tp long); the padded entries end as 0. */
INLINE void softmax(float *RESTRICT l, int T, int Tp) {
    for (int t = T; t < Tp; t++) l[t] = -FLT_MAX;
    v8 mx = ld(l);
    for (int t = 8; t < Tp; t += 8) {
        v8 v = ld(l + t);
        mx = vsel(v > mx, v, mx);
    }
    float m = mx[0];
    for (int q = 1; q < 8; q++) m = mx[q] > m ? mx[q] : m;
    v8 sum = splat(0.0f);
    for (int t = 0; t < Tp; t += 8) {
        v8 e = exp_nonpos(ld(l + t) - splat(m));
        st(l + t, e);
    }
    for (int t = T; t < Tp; t++) l[t] = 0.0f;
    for (int t = 0; t < Tp; t += 8) sum += ld(l + t);
    const v8 s = splat(hsum(sum));
    for (int t = 0; t < Tp; t += 8) st(l + t, ld(l + t) / s);
}

INLINE void forward_body(int G, int B, int T, int d1, int N, int H, const int32_t *hs, const float *x, int64_t x_sm,
                         const int64_t *idx, const float *W1a, const float *At, const float *ct, float *pooled,
                         float *att, const scratch *s) {
    const int Tp = (T + 7) / 8 * 8;
    for (int m = 0; m < G; m++) {
        const int h = hs[m];
        const float *W = W1a + (size_t)m * d1 * N, *Am = At + (size_t)m * H * N, *cm = ct + (size_t)m * H;
        for (int b = 0; b < B; b++) {
            const float *xs = idx ? x + (size_t)idx[(size_t)m * B + b] * T * d1
                                  : x + (size_t)m * x_sm + (size_t)b * T * d1;
            float *P = pooled + ((size_t)m * B + b) * H * N;
            activations(xs, W, T, Tp, d1, N, s);
            rows_times(s->L, Tp, Am, cm, h, s->AT, Tp, N); /* logits */
            for (int i = 0; i < h; i++) {
                float *l = s->L + (size_t)i * Tp;
                softmax(l, T, Tp);
                weighted_rows(P + (size_t)i * N, 0, l, s->A, T, N);
            }
            if (h < H) memset(P + (size_t)h * N, 0, (size_t)(H - h) * N * sizeof(float));
            if (att) {
                float *ab = att + ((size_t)m * B + b) * H * T;
                for (int i = 0; i < h; i++)
                    memcpy(ab + (size_t)i * T, s->L + (size_t)i * Tp, (size_t)T * sizeof(float));
                if (h < H) memset(ab + (size_t)h * T, 0, (size_t)(H - h) * T * sizeof(float));
            }
        }
    }
}

INLINE void backward_body(int G, int B, int T, int d1, int N, int H, const int32_t *hs, const float *x, int64_t x_sm,
                          const int64_t *idx, const float *W1a, const float *At, const float *att,
                          const float *gpooled, float *gW1a, float *gAt, float *gct, const scratch *s) {
    const int Tp = (T + 7) / 8 * 8;
    memset(gW1a, 0, (size_t)G * d1 * N * sizeof(float));
    memset(gAt, 0, (size_t)G * H * N * sizeof(float));
    memset(gct, 0, (size_t)G * H * sizeof(float));
    for (int m = 0; m < G; m++) {
        const int h = hs[m];
        const float *W = W1a + (size_t)m * d1 * N, *Am = At + (size_t)m * H * N;
        float *gWm = gW1a + (size_t)m * d1 * N, *gAm = gAt + (size_t)m * H * N, *gcm = gct + (size_t)m * H;
        for (int b = 0; b < B; b++) {
            const float *xs = idx ? x + (size_t)idx[(size_t)m * B + b] * T * d1
                                  : x + (size_t)m * x_sm + (size_t)b * T * d1;
            const float *ab = att + ((size_t)m * B + b) * H * T;
            const float *gp = gpooled + ((size_t)m * B + b) * H * N;
            activations(xs, W, T, Tp, d1, N, s);
            float *Gatt = s->L;
            rows_times(Gatt, Tp, gp, NULL, h, s->AT, Tp, N); /* d loss / d att_i(t) = gp_i . a(t) */
            for (int i = 0; i < h; i++) {
                float *RESTRICT g = Gatt + (size_t)i * Tp;
                const float *RESTRICT ai = ab + (size_t)i * T;
                float dot = 0.0f; /* softmax backward: d logit = att (d att - sum_t att d att) */
                for (int t = 0; t < T; t++) dot += ai[t] * g[t];
                float gsum = 0.0f;
                for (int t = 0; t < T; t++) {
                    g[t] = ai[t] * (g[t] - dot);
                    gsum += g[t];
                }
                gcm[i] += gsum;
                weighted_rows(gAm + (size_t)i * N, 1, g, s->A, T, N); /* d At_i += sum_t d logit_i(t) a(t) */
            }
            /* d a(t) = sum_i att_i(t) gp_i + d logit_i(t) At_i, through relu' */
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < N; j += 8) {
                    v8 ga = splat(0.0f);
                    for (int i = 0; i < h; i++)
                        ga += splat(ab[(size_t)i * T + t]) * ld(gp + (size_t)i * N + j) +
                              splat(Gatt[(size_t)i * Tp + t]) * ld(Am + (size_t)i * N + j);
                    st(s->GA + (size_t)t * N + j, vsel(ld(s->A + (size_t)t * N + j) > splat(0.0f), ga, splat(0.0f)));
                }
            }
            for (int k = 0; k < d1; k++) /* d W1a[k] += sum_t x_k(t) d a(t) */
                weighted_rows(gWm + (size_t)k * N, 1, s->XT + (size_t)k * Tp, s->GA, T, N);
        }
    }
}

/* The bodies are inlined into copies for the common shapes (d = 4; N = 16, 32, 64), where loop bounds
   are constants and the vectors stay in registers, and into one copy for any other d1 and N. */
#define SHAPES(CALL)                            \
    if (d1 == 5 && N == 32) CALL(5, 32);        \
    else if (d1 == 5 && N == 16) CALL(5, 16);   \
    else if (d1 == 5 && N == 64) CALL(5, 64);   \
    else CALL(d1, N);

int tp_forward(int G, int B, int T, int d1, int N, int H, const int32_t *hs, const float *x, int64_t x_sm,
               const int64_t *idx, const float *W1a, const float *At, const float *ct, float *pooled, float *att) {
    scratch s;
    float *mem = scratch_alloc(&s, (T + 7) / 8 * 8, d1, N, H);
    if (!mem) return -1;
#define FWD(D1, NN) forward_body(G, B, T, D1, NN, H, hs, x, x_sm, idx, W1a, At, ct, pooled, att, &s)
    SHAPES(FWD)
#undef FWD
    free(mem);
    return 0;
}

int tp_backward(int G, int B, int T, int d1, int N, int H, const int32_t *hs, const float *x, int64_t x_sm,
                const int64_t *idx, const float *W1a, const float *At, const float *att, const float *gpooled,
                float *gW1a, float *gAt, float *gct) {
    scratch s;
    float *mem = scratch_alloc(&s, (T + 7) / 8 * 8, d1, N, H);
    if (!mem) return -1;
#define BWD(D1, NN) backward_body(G, B, T, D1, NN, H, hs, x, x_sm, idx, W1a, At, att, gpooled, gW1a, gAt, gct, &s)
    SHAPES(BWD)
#undef BWD
    free(mem);
    return 0;
}
