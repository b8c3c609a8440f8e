// Fast conv2d on x86-64 with AVX-512: forward, backward-data, backward-weight, NCHW and NHWC
// memory, any padding / dilation / groups, horizontal stride 1 or 2 (else: the reference).
//
// Why: im2col + BLAS writes and re-reads a column buffer 9x the input size and hands OpenBLAS
// products too small to thread well (CIFAR convs are 16-64 channels at 32^2..8^2). Here each
// thread takes whole work items (images x bands of rows, or bands of Winograd tiles) and runs
// single-threaded register-blocked micro-kernels on data that stays in L1/L2; no column buffer.
//
// Two algorithms share the micro-kernels:
//  - Winograd F(4x4, 3x3) for 3x3 stride-1 dilation-1 convolutions with groups == 1 (the bulk of a
//    ResNet): 4x fewer FMAs (see the Winograd section below). Forward and backward-data always,
//    backward-weight up to 128 x 128 channels.
//  - Direct (implicit GEMM) for everything else: strided, 1x1, dilated, grouped, other kernel sizes.
// RESNODE_CONV=direct turns Winograd off (conv2d.cc reads RESNODE_CONV=reference for the original
// im2col path).
//
// Layouts the kernels see:
//  - input scratch, per item and group: the band of input rows the item needs, zero-padded in H, W
//    and channels, blocked by 16 channels: buf[row][cblock][col][16]. Filled from NHWC by masked
//    vector copies and from NCHW by 16x16 register transposes, so both memory formats share the
//    kernels, and padding costs no bounds checks in the inner loops.
//  - packed weights [kblock][tap][cblock][16 c][NR*16 k]: output channels in the zmm lanes.
//  - output: NHWC written directly by the micro-kernel (masked stores for channel tails); NCHW
//    written to a per-thread NHWC band buffer, then transposed out (16x16 register transposes).
//
// Direct forward micro-kernel (uk_conv<TW, NR, SJ>): a tile of TW output pixels of one row x NR*16
// output channels lives in TW*NR zmm accumulators; for each tap and input channel it loads NR
// weight vectors and broadcasts TW input values (TW*NR FMAs per TW+NR loads). Tiles: NR=4 x TW<=6,
// NR=3 x 8, NR=2 x 12, NR=1 x 24; a row is split into balanced tiles so no lanes are wasted.
//
// Direct backward-data is the same kernel on dy: for stride 1 a correlation of dy with the flipped,
// transposed weights; for stride s the output pixels are split into s*s phases (h mod sh,
// w mod sw), each a stride-1 correlation of dy with the taps that reach it (no zero-inserted dy,
// no col2im, no atomics: every dx pixel is written once).
//
// Direct backward-weight (uk_wgrad<M, NV>): accumulators hold M output channels x NV (tap, 16
// input channel) vectors; the loop runs over the pixels of a chunk of rows (dW is a reduction over
// N*P*Q), with NV input vectors loaded and M dy values broadcast per pixel. With <= 4 input
// channels per group (a network's stem) the roles swap: lanes over output channels, broadcasts from
// an im2row patch. Each task (one per thread) keeps a private partial dW; the partials are summed
// in a fixed order at the end, so results do not depend on timing.
//
// Everything AVX-512 is in functions marked RN_AVX512 (GCC target attribute): the rest of the
// binary stays baseline x86-64, and conv2d_avx512_* return false on CPUs without AVX-512 so the
// caller uses the reference implementation (conv2d.cc, OpenBLAS dispatches its own kernels).
// GCC 12 reports _mm512_undefined_ps() inside its own shuffle intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>
#include "conv2d_impl.h"
#include "../core/parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RN_HAVE_X86 1
#define RN_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt")))
#else
#define RN_HAVE_X86 0
#define RN_AVX512
#endif

namespace rn {
namespace cpu {

#if RN_HAVE_X86
namespace {

bool have_avx512() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
  }();
  return ok;
}

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Per-thread scratch, 64-byte aligned, grown on demand and kept (a few hundred KB per thread).
struct Buf {
  float* p = nullptr;
  size_t cap = 0;
  ~Buf() { std::free(p); }
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      cap = n + n / 4 + 64;
      p = static_cast<float*>(std::aligned_alloc(64, (cap * sizeof(float) + 63) / 64 * 64));
      if (!p) throw std::bad_alloc();
    }
    return p;
  }
};
thread_local Buf t_in, t_out, t_aux;

// ---------------------------------------------------------------------------------------------
// 16x16 transposes: dst[c][r] = src[r][c] for r < nr, c < nc (src rows of lds floats, dst rows of
// ldd floats). pad_lanes: write all 16 lanes of each dst row (zeros past nr) — used to fill the
// channel-padded scratch.
RN_AVX512 inline void tr16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
  for (int i = 0; i < 4; i++) {
    u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int m = 0; m < 4; m++) {
    __m512 v = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), v2 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);
    __m512 w = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88), w2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
    r[m] = _mm512_shuffle_f32x4(v, w, 0x88);
    r[8 + m] = _mm512_shuffle_f32x4(v, w, 0xdd);
    r[4 + m] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
  }
}

inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n < 0 ? 0 : n)) - 1u); }

RN_AVX512 void transpose(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t nr, int64_t nc, bool pad_lanes,
                         bool accumulate = false) {  // accumulate: dst += src^T
  for (int64_t r0 = 0; r0 < nr; r0 += 16) {
    const int64_t rn = std::min<int64_t>(16, nr - r0);
    const __mmask16 sm = pad_lanes ? (__mmask16)0xFFFF : lanes(rn);
    for (int64_t c0 = 0; c0 < nc; c0 += 16) {
      const int64_t cn = std::min<int64_t>(16, nc - c0);
      const __mmask16 lm = lanes(cn);
      __m512 v[16];
      for (int i = 0; i < 16; i++)
        v[i] = i < rn ? _mm512_maskz_loadu_ps(lm, src + (r0 + i) * lds + c0) : _mm512_setzero_ps();
      tr16x16(v);
      for (int i = 0; i < cn; i++) {
        float* d = dst + (c0 + i) * ldd + r0;
        _mm512_mask_storeu_ps(d, sm, accumulate ? _mm512_add_ps(v[i], _mm512_maskz_loadu_ps(sm, d)) : v[i]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A 4-D activation [N, C, H, W] in NCHW or NHWC memory.
struct Act {
  const float* p;
  int64_t C, H, W;
  bool cl;
};

// Whether a kernel may write its output with non-temporal stores: channels-last, whole aligned
// 16-channel vectors, at least conv2d_nt_bytes() (see kernels.h), and not accumulated into.
bool stream_ok(const float* out, bool cl, int64_t channels, int64_t elems, bool accumulate) {
  return cl && !accumulate && channels % 16 == 0 && ((uintptr_t)out & 63) == 0 &&
         elems * (int64_t)sizeof(float) >= conv2d_nt_bytes();
}

// buf[r][cb][j][16] = a[n, c0 + cb*16 + l, row_lo + r*rstep, col_lo + j*cstep], zero outside the
// image and for channels >= cn. Row stride ncb*ncols*16, cblock stride ncols*16. Steps > 1 keep only
// the rows / columns a strided 1x1 convolution reads.
RN_AVX512 void fill_blocked(float* buf, const Act& a, int64_t n, int64_t c0, int64_t cn, int64_t row_lo,
                            int64_t nrows, int64_t col_lo, int64_t ncols, int64_t rstep = 1, int64_t cstep = 1) {
  const int64_t ncb = cdiv(cn, 16), cbs = ncols * 16, rs = ncb * cbs;
  // columns j with 0 <= col_lo + j*cstep < W
  const int64_t jv0 = clamp64(col_lo < 0 ? cdiv(-col_lo, cstep) : 0, 0, ncols);
  const int64_t jv1 = std::max(jv0, clamp64(a.W > col_lo ? cdiv(a.W - col_lo, cstep) : 0, 0, ncols));
  const int64_t HW = a.H * a.W;
  for (int64_t r = 0; r < nrows; r++) {
    float* br = buf + r * rs;
    const int64_t h = row_lo + r * rstep;
    if (h < 0 || h >= a.H || jv1 == jv0) {
      std::memset(br, 0, rs * sizeof(float));
      continue;
    }
    for (int64_t cb = 0; cb < ncb; cb++) {
      float* bc = br + cb * cbs;
      if (jv0) std::memset(bc, 0, jv0 * 16 * sizeof(float));
      if (jv1 < ncols) std::memset(bc + jv1 * 16, 0, (ncols - jv1) * 16 * sizeof(float));
      const int64_t cnb = std::min<int64_t>(16, cn - cb * 16);
      if (a.cl) {
        const __mmask16 m = lanes(cnb);
        const float* s = a.p + ((n * a.H + h) * a.W + col_lo + jv0 * cstep) * a.C + c0 + cb * 16;
        for (int64_t j = jv0; j < jv1; j++, s += cstep * a.C) _mm512_store_ps(bc + j * 16, _mm512_maskz_loadu_ps(m, s));
      } else if (cstep == 1) {
        const float* s = a.p + (n * a.C + c0 + cb * 16) * HW + h * a.W + col_lo;
        transpose(bc + jv0 * 16, 16, s + jv0, HW, cnb, jv1 - jv0, true);
      } else if (cstep == 2) {  // even columns of NCHW rows: deinterleave 32 -> 16, then transpose
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const float* s = a.p + (n * a.C + c0 + cb * 16) * HW + h * a.W + col_lo;
        for (int64_t j0 = jv0; j0 < jv1; j0 += 16) {
          const int64_t cnt = std::min<int64_t>(16, jv1 - j0), span = 2 * cnt - 1;  // source floats used
          const __mmask16 ma = lanes(span), mb = lanes(span - 16);
          __m512 v[16];
          for (int l = 0; l < 16; l++) {
            if (l >= cnb) { v[l] = _mm512_setzero_ps(); continue; }
            const float* q = s + l * HW + 2 * j0;
            v[l] = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ma, q), even, _mm512_maskz_loadu_ps(mb, q + 16));
          }
          tr16x16(v);
          for (int64_t t = 0; t < cnt; t++) _mm512_store_ps(bc + (j0 + t) * 16, v[t]);
        }
      } else {  // other strided columns of NCHW: gather 16 channels per pixel
        const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                               _mm512_set1_epi32((int)HW));
        const __mmask16 m = lanes(cnb);
        const float* s = a.p + (n * a.C + c0 + cb * 16) * HW + h * a.W + col_lo;
        for (int64_t j = jv0; j < jv1; j++)
          _mm512_store_ps(bc + j * 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, s + j * cstep, 4));
      }
    }
  }
}

// Software prefetch of rows [r_lo, r_hi) of image n (all channels, all columns), slice `part` of
// `nparts`: spread over the compute of the current work item, it brings the next item's input
// (or, write=true, the current item's output lines) into L2 while the FMA units are busy, so the
// memory traffic of small-channel convolutions overlaps compute instead of stalling the fill.
void prefetch_rows(const float* base, int64_t C, int64_t H, int64_t W, bool cl, int64_t n, int64_t r_lo, int64_t r_hi,
                   int64_t part, int64_t nparts, bool write) {
  r_lo = std::max<int64_t>(r_lo, 0);
  r_hi = std::min(r_hi, H);
  if (r_hi <= r_lo) return;
  const char* p0;
  int64_t segs, seg_stride, seg_bytes;
  if (cl) {
    p0 = reinterpret_cast<const char*>(base + (n * H + r_lo) * W * C);
    segs = 1, seg_stride = 0, seg_bytes = (r_hi - r_lo) * W * C * 4;
  } else {
    p0 = reinterpret_cast<const char*>(base + n * C * H * W + r_lo * W);
    segs = C, seg_stride = H * W * 4, seg_bytes = (r_hi - r_lo) * W * 4;
  }
  const int64_t lps = (seg_bytes + 63) / 64, total = segs * lps;
  const int64_t l0 = total * part / nparts, l1 = total * (part + 1) / nparts;
  for (int64_t l = l0; l < l1; l++) {
    const char* a = p0 + (l / lps) * seg_stride + (l % lps) * 64;
    if (write) __builtin_prefetch(a, 1, 2);
    else __builtin_prefetch(a, 0, 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward-type micro-kernel: out[j*ops + k] = bias[k] + sum_{t, c} in[tapoff[t] + cb*cbs + j*SJ*16 + c] *
// w[t][cb][c][k] for j < TW, k < NR*16 (lanes >= kvalid not stored). Channels: ncb blocks of 16,
// the last with clast valid. nt: non-temporal stores (kvalid == NR*16 and 64-byte aligned rows only).
using ConvUK = void (*)(const float* in, const int64_t* tapoff, int ntaps, int64_t cbs, int ncb, int clast,
                        const float* w, const float* bias, float* out, int64_t ops, int kvalid, bool nt);

template <int TW, int NR, int SJ>
RN_AVX512 void uk_conv(const float* in, const int64_t* tapoff, int ntaps, int64_t cbs, int ncb, int clast,
                       const float* w, const float* bias, float* out, int64_t ops, int kvalid, bool nt) {
  __m512 acc[TW][NR];
#pragma GCC unroll 32
  for (int r = 0; r < NR; r++) {
    const __m512 b = bias ? _mm512_load_ps(bias + r * 16) : _mm512_setzero_ps();
#pragma GCC unroll 32
    for (int j = 0; j < TW; j++) acc[j][r] = b;
  }
  for (int t = 0; t < ntaps; t++) {
    const float* ip = in + tapoff[t];
    for (int cb = 0; cb < ncb; cb++, ip += cbs, w += 16 * NR * 16) {
      const int cn = cb + 1 == ncb ? clast : 16;
      const float* wc = w;
#define RN_UK_STEP(c)                                                                 \
  {                                                                                   \
    __m512 wv[NR];                                                                    \
    _Pragma("GCC unroll 32") for (int r = 0; r < NR; r++) wv[r] = _mm512_load_ps(wc + (c) * NR * 16 + r * 16); \
    _Pragma("GCC unroll 32") for (int j = 0; j < TW; j++) {                           \
      const __m512 b = _mm512_set1_ps(ip[j * SJ * 16 + (c)]);                         \
      _Pragma("GCC unroll 32") for (int r = 0; r < NR; r++) acc[j][r] = _mm512_fmadd_ps(b, wv[r], acc[j][r]); \
    }                                                                                 \
  }
      if (cn == 16) {
#pragma GCC unroll 4
        for (int c = 0; c < 16; c++) RN_UK_STEP(c)
      } else {
        for (int c = 0; c < cn; c++) RN_UK_STEP(c)
      }
#undef RN_UK_STEP
    }
  }
  if (nt) {
#pragma GCC unroll 32
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 32
      for (int j = 0; j < TW; j++) _mm512_stream_ps(out + j * ops + r * 16, acc[j][r]);
    return;
  }
#pragma GCC unroll 32
  for (int r = 0; r < NR; r++) {
    const __mmask16 m = lanes(kvalid - r * 16);
#pragma GCC unroll 32
    for (int j = 0; j < TW; j++) _mm512_mask_storeu_ps(out + j * ops + r * 16, m, acc[j][r]);
  }
}

constexpr int kTWMax[5] = {0, 24, 12, 8, 6};

template <int NR, int SJ, int... I>
constexpr std::array<ConvUK, sizeof...(I)> conv_row(std::integer_sequence<int, I...>) {
  return {{&uk_conv<I + 1, NR, SJ>...}};
}
template <int SJ>
struct ConvTable {
  std::array<ConvUK, 24> nr1 = conv_row<1, SJ>(std::make_integer_sequence<int, 24>());
  std::array<ConvUK, 12> nr2 = conv_row<2, SJ>(std::make_integer_sequence<int, 12>());
  std::array<ConvUK, 8> nr3 = conv_row<3, SJ>(std::make_integer_sequence<int, 8>());
  std::array<ConvUK, 6> nr4 = conv_row<4, SJ>(std::make_integer_sequence<int, 6>());
  ConvUK get(int nr, int tw) const {
    switch (nr) {
      case 1: return nr1[tw - 1];
      case 2: return nr2[tw - 1];
      case 3: return nr3[tw - 1];
      default: return nr4[tw - 1];
    }
  }
};
ConvUK conv_kernel(int nr, int tw, int sj) {
  static const ConvTable<1> t1;
  static const ConvTable<2> t2;
  return sj == 1 ? t1.get(nr, tw) : t2.get(nr, tw);
}

// Balanced split of a row of Q pixels into tiles of at most tmax: widths of the first `rem`
// tiles are base+1.
struct RowTiles {
  int64_t nt, base, rem;
  RowTiles(int64_t Q, int64_t tmax) : nt(cdiv(Q, tmax)), base(Q / nt), rem(Q % nt) {}
  int64_t width(int64_t t) const { return base + (t < rem ? 1 : 0); }
  int64_t start(int64_t t) const { return t * base + std::min(t, rem); }
};

// ---------------------------------------------------------------------------------------------
// A forward-type convolution: out(i, j) for output pixels (orow0 + i*orow_step, ocol0 + j*ocol_step)
// = sum over taps t of in(i*si + ro[t], j*sj + co[t]) . W_t, per group. Forward conv is one phase;
// backward-data is sh*sw phases over dy.
struct Phase {
  int64_t P = 0, Q = 0, orow0 = 0, ocol0 = 0;
  std::vector<int64_t> ro, co;
  std::vector<int64_t> tapoff;  // filled per band geometry (depends on scratch strides)
  size_t woff = 0;              // offset of this phase's packed weights within a group's block
};
struct ConvPlan {
  Act in;
  float* out;
  int64_t N, Cout, Hout, Wout;  // destination tensor (all channels)
  bool out_cl;
  int64_t G, Cin_g, Kout_g;    // per group: reduction channels, output channels
  int64_t si, sj, orow_step, ocol_step;
  int64_t si0 = 1, rstep = 1, cstep = 1;  // see compact_strides
  int NR, nkb, ncb;
  int64_t Kpad;                // nkb*NR*16
  std::vector<Phase> phases;
  int64_t PI = 0, Qmax = 0, romin = 0, romax = 0, comin = 0, comax = 0;
  float* wp = nullptr;
  size_t wgroup = 0;           // floats per group
  float* bias = nullptr;       // [G][Kpad] or null
  bool nt = false;             // NHWC output streamed (stream_ok; single group)
  int64_t band = 1, nbands = 1;
  int nkc = 1, kpi = 1;        // output-channel chunks per band (kpi kblocks each), see finish_plan
  // geometry of the input scratch for a band of `band` rows
  int64_t ncols = 0, cbs = 0, rowstride = 0;
};

// Plan-level buffers (packed weights, bias, per-task partial sums) of the calling thread — the
// stream thread — kept between calls: fresh multi-MB allocations would be mmap'ed and page-faulted
// on every call. Not zeroed.
thread_local Buf t_pw, t_pb, t_ps;

void choose_blocking(ConvPlan& c) {
  c.nkb = (int)cdiv(c.Kout_g, 64);
  c.NR = (int)cdiv(c.Kout_g, 16 * c.nkb);
  c.Kpad = (int64_t)c.nkb * c.NR * 16;
  c.ncb = (int)cdiv(c.Cin_g, 16);
}

// When all taps read the same input row (a 1x1 or 1xS filter) and the vertical stride is > 1, the
// scratch keeps only the rows read: one scratch row per output row (si = 1), scratch row r holding
// input row row_lo + r*rstep. Same for columns (then the SJ = 1 kernels run). si0 keeps the stride
// for locating a band's first input row.
void compact_strides(int64_t& si, int64_t& sj, int64_t& si0, int64_t& rstep, int64_t& cstep, bool one_row, bool one_col) {
  si0 = si;
  if (one_row && si > 1) rstep = si, si = 1;
  if (one_col && sj > 1) cstep = sj, sj = 1;
}

// Geometry shared by all phases; picks the band height (rows of the phase grid per work item).
void finish_plan(ConvPlan& c) {
  bool any = false;
  for (auto& ph : c.phases) {
    c.PI = std::max(c.PI, ph.P);
    c.Qmax = std::max(c.Qmax, ph.Q);
    for (size_t t = 0; t < ph.ro.size(); t++) {
      if (!any) { c.romin = c.romax = ph.ro[t]; c.comin = c.comax = ph.co[t]; any = true; }
      c.romin = std::min(c.romin, ph.ro[t]); c.romax = std::max(c.romax, ph.ro[t]);
      c.comin = std::min(c.comin, ph.co[t]); c.comax = std::max(c.comax, ph.co[t]);
    }
  }
  compact_strides(c.si, c.sj, c.si0, c.rstep, c.cstep, c.romin == c.romax, c.comin == c.comax);
  c.ncols = (c.Qmax - 1) * c.sj + c.comax - c.comin + 1;
  c.cbs = c.ncols * 16;
  c.rowstride = c.ncb * c.cbs;
  for (auto& ph : c.phases) {
    ph.tapoff.resize(ph.ro.size());
    for (size_t t = 0; t < ph.ro.size(); t++) ph.tapoff[t] = (ph.ro[t] - c.romin) * c.rowstride + (ph.co[t] - c.comin) * 16;
  }
  // Band: keep the input scratch around 256 KB, and make enough items for the threads.
  const int64_t halo = c.romax - c.romin;
  const int64_t budget = (256 << 10) / 4;
  int64_t band = std::max<int64_t>(1, (budget / std::max<int64_t>(c.rowstride, 1) - halo) / c.si);
  band = std::min(band, c.PI);
  int64_t nb = cdiv(c.PI, band);
  // Filters larger than ~1 MB packed (deep layers: 512x512x3x3 is 9.4 MB) would be streamed from
  // memory once per item: items then cover a chunk of output channels (<= 512 KB of weights, which
  // stays in L2 over the item's rows) and are ordered chunk-major, so a thread's run of items reuses
  // its chunk. At batch 1 a 7x7 layer read its 9.4 MB filter 7 times (once per row band).
  const int64_t wbytes = (int64_t)c.wgroup * 4;
  c.kpi = c.nkb;
  if (c.G == 1 && wbytes > (int64_t(1) << 20)) c.kpi = (int)std::max<int64_t>(1, c.nkb * (int64_t(512) << 10) / wbytes);
  c.nkc = (int)cdiv(c.nkb, c.kpi);
  const int64_t want = 4 * (int64_t)num_threads();
  if (c.N * nb * c.nkc < want) nb = std::min(c.PI, cdiv(want, c.N * c.nkc));
  c.band = cdiv(c.PI, nb);
  c.nbands = cdiv(c.PI, c.band);
  c.nt = c.G == 1 && stream_ok(c.out, c.out_cl, c.Cout, c.N * c.Cout * c.Hout * c.Wout, false);
}

RN_AVX512 void run_conv_item(const ConvPlan& c, int64_t item) {
  const int64_t kc = item / (c.N * c.nbands), n = item / c.nbands % c.N, b = item % c.nbands;
  const int kb0 = (int)(kc * c.kpi), kb1 = std::min(c.nkb, kb0 + c.kpi);
  const int64_t i0 = b * c.band, i1 = std::min(c.PI, i0 + c.band);
  const int64_t row_lo = i0 * c.si0 + c.romin, nrows = (i1 - 1 - i0) * c.si + c.romax - c.romin + 1;
  float* in = t_in.get((size_t)(nrows * c.rowstride));
  // NCHW destination: this band's rows of the output, NHWC with Kpad channels, then transposed.
  const int64_t orow_lo = i0 * c.orow_step, orow_hi = std::min(c.Hout, i1 * c.orow_step);
  float* ob = c.out_cl ? nullptr : t_out.get((size_t)((orow_hi - orow_lo) * c.Wout * c.Kpad));
  for (int64_t g = 0; g < c.G; g++) {
    fill_blocked(in, c.in, n, g * c.Cin_g, c.Cin_g, row_lo, nrows, c.comin, c.ncols, c.rstep, c.cstep);
    const float* wg = c.wp + g * c.wgroup;
    for (const Phase& ph : c.phases) {
      const int64_t ie = std::min(i1, ph.P);
      if (ie <= i0 || ph.Q == 0) continue;
      const RowTiles tiles(ph.Q, kTWMax[c.NR]);
      for (int kb = kb0; kb < kb1; kb++) {
        const float* wk = wg + ph.woff + (size_t)kb * ph.ro.size() * c.ncb * 16 * c.NR * 16;
        const float* bk = c.bias ? c.bias + g * c.Kpad + kb * c.NR * 16 : nullptr;
        const int kvalid = (int)std::min<int64_t>(c.NR * 16, c.Kout_g - kb * c.NR * 16);
        for (int64_t i = i0; i < ie; i++) {
          const float* irow = in + (i - i0) * c.si * c.rowstride;
          const int64_t orow = ph.orow0 + i * c.orow_step;
          float* orow_p;
          int64_t ops;
          if (c.out_cl) {
            orow_p = c.out + ((n * c.Hout + orow) * c.Wout + ph.ocol0) * c.Cout + g * c.Kout_g + kb * c.NR * 16;
            ops = c.ocol_step * c.Cout;
          } else {
            orow_p = ob + ((orow - orow_lo) * c.Wout + ph.ocol0) * c.Kpad + kb * c.NR * 16;
            ops = c.ocol_step * c.Kpad;
          }
          for (int64_t t = 0; t < tiles.nt; t++) {
            const int64_t j0 = tiles.start(t), tw = tiles.width(t);
            conv_kernel(c.NR, (int)tw, (int)c.sj)(irow + j0 * c.sj * 16, ph.tapoff.data(), (int)ph.tapoff.size(), c.cbs,
                                                  c.ncb, (int)(c.Cin_g - (c.ncb - 1) * 16), wk, bk, orow_p + j0 * ops,
                                                  ops, kvalid, c.nt && kvalid == c.NR * 16);
          }
        }
      }
    }
    if (!c.out_cl) {  // this item's output channels
      const int64_t HWo = c.Hout * c.Wout, k0 = (int64_t)kb0 * c.NR * 16;
      const int64_t kn = std::min<int64_t>(c.Kout_g, (int64_t)kb1 * c.NR * 16) - k0;
      transpose(c.out + (n * c.Cout + g * c.Kout_g + k0) * HWo + orow_lo * c.Wout, HWo, ob + k0, c.Kpad,
                (orow_hi - orow_lo) * c.Wout, kn, false);
    }
  }
  if (c.nt) _mm_sfence();  // streamed stores visible before the pool reports the item done
}

void run_conv(const ConvPlan& c) {
  parallel_for(c.nkc * c.N * c.nbands, 1, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; it++) run_conv_item(c, it);
  });
}

// Packs weights for a plan: for group g, phase, kblock, tap t, cblock, c16, lane:
//   wp = val(g, phase, t, out = kb*NR*16 + lane, in = cb*16 + c16)   (0 outside the channel ranges)
template <class F>
void pack_weights(ConvPlan& c, F val) {
  size_t per_group = 0;
  for (auto& ph : c.phases) {
    ph.woff = per_group;
    per_group += (size_t)c.nkb * ph.ro.size() * c.ncb * 16 * c.NR * 16;
  }
  c.wgroup = (per_group + 15) / 16 * 16;
  c.wp = t_pw.get(c.wgroup * c.G);
  const int64_t KB = c.NR * 16, nph = (int64_t)c.phases.size(), nblk = c.G * nph * c.nkb;
  auto pack = [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; bi++) {
      const int64_t g = bi / (nph * c.nkb), pi = (bi / c.nkb) % nph, kb = bi % c.nkb;
      const Phase& ph = c.phases[(size_t)pi];
      const int64_t T = (int64_t)ph.ro.size();
      float* base = c.wp + g * c.wgroup + ph.woff;
      // 16 output x 16 input channels at a time, all taps: reads stay within 16 filter rows and
      // writes within T blocks of 16 x 16 (one output channel's whole row, then the next, read
      // every weight from another cache line and page)
      for (int64_t lb = 0; lb < KB; lb += 16)
        for (int64_t cb = 0; cb < c.ncb; cb++)
          for (int64_t l = lb; l < lb + 16; l++) {
            const int64_t ko = kb * KB + l;
            const int64_t cn = ko < c.Kout_g ? std::min<int64_t>(16, c.Cin_g - cb * 16) : 0;  // valid inputs
            for (int64_t t = 0; t < T; t++) {
              float* dst = base + (((kb * T + t) * c.ncb + cb) * 16) * KB + l;
              int64_t c16 = 0;
              for (; c16 < cn; c16++) dst[c16 * KB] = val(g, (size_t)pi, t, ko, cb * 16 + c16);
              for (; c16 < 16; c16++) dst[c16 * KB] = 0.f;
            }
          }
    }
  };
  // (group, phase, kblock) blocks are independent. Large filters are packed on the pool: a
  // 512x512x3x3 filter is 2.4M reads, which took as long as the convolution at batch 1; small
  // ones on this thread (cheaper than waking the pool).
  if (c.wgroup * c.G < (size_t(1) << 16)) pack(0, nblk);
  else parallel_for(nblk, 1, pack);
}

// ---------------------------------------------------------------------------------------------
// Backward-weight micro-kernel: acc[m][v] += d[pix][m] * x_v[pix] over the pixels of nrows rows of
// Q; x_v = xv[v] + row*xrs + j*xps (a 16-lane vector), d at dy + row*drs + j*dps (M consecutive
// scalars, broadcast). Adds the result into part + m*pms + v*16. The direct path uses it with x_v =
// 16 input channels of one tap and d = dy (M output channels); the small-channel path with x_v =
// 16 output channels of dy and d = an im2row patch (M (tap, channel) pairs).
using WgradUK = void (*)(float* part, int64_t pms, const float* const* xv, int64_t xps, int64_t xrs, const float* dy,
                         int64_t dps, int64_t drs, int64_t nrows, int64_t Q);

template <int M, int NV>
RN_AVX512 void uk_wgrad(float* part, int64_t pms, const float* const* xv, int64_t xps, int64_t xrs, const float* dy,
                        int64_t dps, int64_t drs, int64_t nrows, int64_t Q) {
  __m512 acc[M][NV];
#pragma GCC unroll 32
  for (int m = 0; m < M; m++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[m][v] = _mm512_setzero_ps();
  for (int64_t row = 0; row < nrows; row++) {
    const float* px[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) px[v] = xv[v] + row * xrs;
    const float* d = dy + row * drs;
    for (int64_t j = 0; j < Q; j++, d += dps) {
      __m512 x[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        x[v] = _mm512_loadu_ps(px[v]);
        px[v] += xps;
      }
#pragma GCC unroll 32
      for (int m = 0; m < M; m++) {
        const __m512 b = _mm512_set1_ps(d[m]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[m][v] = _mm512_fmadd_ps(b, x[v], acc[m][v]);
      }
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < M; m++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      float* o = part + m * pms + v * 16;
      _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[m][v]));
    }
}

constexpr int kWMMax[5] = {0, 27, 12, 8, 6};

template <int NV, int... I>
constexpr std::array<WgradUK, sizeof...(I)> wgrad_row(std::integer_sequence<int, I...>) {
  return {{&uk_wgrad<I + 1, NV>...}};
}
struct WgradTable {
  std::array<WgradUK, 27> nv1 = wgrad_row<1>(std::make_integer_sequence<int, 27>());
  std::array<WgradUK, 12> nv2 = wgrad_row<2>(std::make_integer_sequence<int, 12>());
  std::array<WgradUK, 8> nv3 = wgrad_row<3>(std::make_integer_sequence<int, 8>());
  std::array<WgradUK, 6> nv4 = wgrad_row<4>(std::make_integer_sequence<int, 6>());
  WgradUK get(int nv, int m) const {
    switch (nv) {
      case 1: return nv1[m - 1];
      case 2: return nv2[m - 1];
      case 3: return nv3[m - 1];
      default: return nv4[m - 1];
    }
  }
};
WgradUK wgrad_kernel(int nv, int m) {
  static const WgradTable t;
  return t.get(nv, m);
}

struct WgradPlan {
  Act x;
  const float* dy;
  bool dy_cl;
  int64_t N, K, P, Q, G, Cg, Kg, R, S, si, sj;
  int64_t si0 = 1, rstep = 1, cstep = 1;  // see compact_strides
  std::vector<int64_t> ro, co, tapoff;
  int ncb = 0;
  int64_t ncol = 0;               // T * ncb (tap, cblock) vector columns
  std::vector<std::pair<int64_t, int>> colgroups;  // (first column, NV)
  int64_t romin = 0, romax = 0, comin = 0, comax = 0, ncols = 0, cbs = 0, rowstride = 0;
  int64_t band = 1, nbands = 1, rchunk = 1, T = 1;
  bool im2row = false;            // few input channels: lanes over output channels (see run_wgrad_item)
  size_t part_floats = 0;         // per task: G * Kg * ncol * 16 (im2row: G * Kg * T * Cg)
};

RN_AVX512 void run_wgrad_item(const WgradPlan& c, int64_t item, float* part) {
  const int64_t n = item / c.nbands, b = item % c.nbands;
  const int64_t i0 = b * c.band, i1 = std::min(c.P, i0 + c.band), nr = i1 - i0;
  const int64_t row_lo = i0 * c.si0 + c.romin, nrows = (nr - 1) * c.si + c.romax - c.romin + 1;
  float* in = t_in.get((size_t)(nrows * c.rowstride));
  for (int64_t g = 0; g < c.G; g++) {
    fill_blocked(in, c.x, n, g * c.Cg, c.Cg, row_lo, nrows, c.comin, c.ncols, c.rstep, c.cstep);
    const float* dyp;
    int64_t dps, drs;
    if (c.dy_cl) {
      dyp = c.dy + ((n * c.P + i0) * c.Q) * c.K + g * c.Kg;
      dps = c.K;
      drs = c.Q * c.K;
    } else {
      float* aux = t_aux.get((size_t)(nr * c.Q * c.Kg + 16));
      transpose(aux, c.Kg, c.dy + ((n * c.K + g * c.Kg) * c.P + i0) * c.Q, c.P * c.Q, c.Kg, nr * c.Q, false);
      dyp = aux;
      dps = c.Kg;
      drs = c.Q * c.Kg;
    }
    if (c.im2row) {
      // Few input channels: lanes over output channels. Per pixel the patch of the T taps' Cg
      // channels is copied into consecutive floats (one 16-lane vector per tap, stored at t*Cg in
      // increasing t so each store overwrites the previous one's spare lanes), then
      // acc[(t, c)][k-vector] += patch[(t, c)] * dy[pix][k-vector].
      float* pg = part + g * c.Kg * c.T * c.Cg;
      const int64_t CRS = c.T * c.Cg, ldp = (CRS + 31) / 16 * 16;
      for (int64_t ra = 0; ra < nr; ra += c.rchunk) {
        const int64_t rb = std::min(nr, ra + c.rchunk), npix = (rb - ra) * c.Q;
        float* pb = t_out.get((size_t)(npix * ldp));
        for (int64_t i = ra; i < rb; i++) {
          const float* src = in + i * c.si * c.rowstride;
          float* dst = pb + (i - ra) * c.Q * ldp;
          for (int64_t j = 0; j < c.Q; j++, dst += ldp, src += c.sj * 16)
            for (int64_t t = 0; t < c.T; t++) _mm512_storeu_ps(dst + t * c.Cg, _mm512_load_ps(src + c.tapoff[t]));
        }
        const int nv = (int)std::min<int64_t>(4, c.Kg / 16);
        for (int64_t k0 = 0; k0 < c.Kg; k0 += nv * 16) {
          const int nvk = (int)std::min<int64_t>(nv, (c.Kg - k0) / 16);
          const float* xv[4];
          for (int v = 0; v < nvk; v++) xv[v] = dyp + ra * drs + k0 + v * 16;
          const int mmax = kWMMax[nvk];
          for (int64_t m0 = 0; m0 < CRS; m0 += mmax) {
            const int m = (int)std::min<int64_t>(mmax, CRS - m0);
            wgrad_kernel(nvk, m)(pg + m0 * c.Kg + k0, c.Kg, xv, dps, 0, pb + m0, ldp, 0, 1, npix);
          }
        }
      }
      continue;
    }
    // Lanes over input channels; rows in chunks so the dy and x rows a chunk touches stay in L1
    // across the (tap, channel-block) x (output channel) kernel calls.
    float* pg = part + g * c.Kg * c.ncol * 16;
    for (int64_t ra = 0; ra < nr; ra += c.rchunk) {
      const int64_t rb = std::min(nr, ra + c.rchunk);
      for (const auto& cg : c.colgroups) {
        const int nv = cg.second;
        const float* xv[4];
        for (int v = 0; v < nv; v++) {
          const int64_t col = cg.first + v, t = col / c.ncb, cb = col % c.ncb;
          xv[v] = in + c.tapoff[t] + cb * c.cbs + ra * c.si * c.rowstride;
        }
        const int mmax = kWMMax[nv];
        for (int64_t k0 = 0; k0 < c.Kg; k0 += mmax) {
          const int m = (int)std::min<int64_t>(mmax, c.Kg - k0);
          wgrad_kernel(nv, m)(pg + (k0 * c.ncol + cg.first) * 16, c.ncol * 16, xv, c.sj * 16, c.si * c.rowstride,
                              dyp + ra * drs + k0, dps, drs, rb - ra, c.Q);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Winograd F(4x4, 3x3) for 3x3 convolutions with stride 1 and dilation 1 (Lavin & Gray 2016).
// A 6x6 input tile d and a 3x3 filter g give a 4x4 output tile  Y = A^T [(G g G^T) . (B^T d B)] A:
// 36 multiplies per output tile and channel pair instead of 144, so 4x fewer FMAs; the transforms
// are O(tile * channels) adds and the 36 products are 36 independent GEMMs (tiles x C) . (C x K)
// that run on the same micro-kernel as the direct path (uk_conv with one tap).
//  - forward: input tiles from the zero-padded blocked band scratch (fill_blocked).
//  - backward-data: the same correlation of dy with w[k][c][2-r][2-s] and padding 2 - ph.
//  - backward-weight: dW = G^T [(A dy A^T) . (B^T d B)] G summed over tiles (the F(3x3, 4x4)
//    form obtained by transposing the forward algorithm), the sum over tiles being a GEMM with
//    a long reduction on uk_wgrad.
// fp32 error is ~1e-6..1e-5 of the output's magnitude (direct: ~1e-7); RESNODE_CONV=direct turns
// Winograd off.
RN_AVX512 inline void wino_bt(const __m512 d[6], __m512 v[6]) {  // v = B^T d
  const __m512 c4 = _mm512_set1_ps(4.f), c5 = _mm512_set1_ps(5.f), c2 = _mm512_set1_ps(2.f);
  v[0] = _mm512_fmadd_ps(c4, d[0], _mm512_fnmadd_ps(c5, d[2], d[4]));
  const __m512 t0 = _mm512_fnmadd_ps(c4, d[2], d[4]), t1 = _mm512_fnmadd_ps(c4, d[1], d[3]);
  v[1] = _mm512_add_ps(t0, t1);
  v[2] = _mm512_sub_ps(t0, t1);
  const __m512 t2 = _mm512_sub_ps(d[4], d[2]), t3 = _mm512_mul_ps(c2, _mm512_sub_ps(d[3], d[1]));
  v[3] = _mm512_add_ps(t2, t3);
  v[4] = _mm512_sub_ps(t2, t3);
  v[5] = _mm512_fmadd_ps(c4, d[1], _mm512_fnmadd_ps(c5, d[3], d[5]));
}
RN_AVX512 inline void wino_at(const __m512 m[6], __m512 y[4]) {  // y = A^T m
  const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
  const __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d, b);
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), c, a);
  y[3] = _mm512_fmadd_ps(_mm512_set1_ps(8.f), d, _mm512_add_ps(b, m[5]));
}
RN_AVX512 inline void wino_a(const __m512 g[4], __m512 u[6]) {  // u = A g (A = (A^T)^T, 6x4)
  const __m512 c4 = _mm512_set1_ps(4.f), c2 = _mm512_set1_ps(2.f);
  u[0] = g[0];
  const __m512 e = _mm512_add_ps(g[0], g[2]), o = _mm512_add_ps(g[1], g[3]);
  u[1] = _mm512_add_ps(e, o);
  u[2] = _mm512_sub_ps(e, o);
  const __m512 e4 = _mm512_fmadd_ps(c4, g[2], g[0]), o8 = _mm512_mul_ps(c2, _mm512_fmadd_ps(c4, g[3], g[1]));
  u[3] = _mm512_add_ps(e4, o8);
  u[4] = _mm512_sub_ps(e4, o8);
  u[5] = g[3];
}

// Second half of an input transform: V[(a*6 + b) * vps] = (t B)[a][b], t = B^T d (t[a][j]).
RN_AVX512 inline void wino_in_finish(float* V, int64_t vps, __m512 (&t)[6][6]) {
  for (int a = 0; a < 6; a++) {
    __m512 v[6];
    wino_bt(t[a], v);
    for (int b = 0; b < 6; b++) _mm512_store_ps(V + (a * 6 + b) * vps, v[b]);
  }
}
// V[(a*6 + b) * vps] = (B^T d B)[a][b] for the 6x6 tile d at src (rows rs apart, columns cs apart:
// 16 in the blocked scratch, C when read straight from an NHWC tensor).
RN_AVX512 void wino_in_tile(float* V, int64_t vps, const float* src, int64_t rs, int64_t cs = 16) {
  __m512 t[6][6];
  for (int j = 0; j < 6; j++) {
    __m512 d[6], v[6];
    for (int i = 0; i < 6; i++) d[i] = _mm512_loadu_ps(src + i * rs + j * cs);
    wino_bt(d, v);
    for (int a = 0; a < 6; a++) t[a][j] = v[a];
  }
  wino_in_finish(V, vps, t);
}
// The same for a tile of an NHWC image that crosses the image border: rows r0..r0+5 and columns
// q0..q0+5 of img (H x W pixels C floats apart; 16 channels from img), zero outside the image.
// Masked loads from clamped addresses (a zero mask loads zeros and never faults) instead of a
// zero-padded copy of the tile: at 32x32 and below most tiles touch the border (44% at 32x32,
// 75% at 16x16, all at 8x8), and the copy cost as much as the transform.
RN_AVX512 void wino_in_tile_edge(float* V, int64_t vps, const float* img, int64_t H, int64_t W, int64_t C, int64_t r0,
                                 int64_t q0) {
  int64_t ro[6], co[6];
  unsigned rv = 0, cv = 0;
  for (int i = 0; i < 6; i++) {
    const int64_t h = r0 + i, w = q0 + i;
    const bool hok = h >= 0 && h < H, wok = w >= 0 && w < W;
    ro[i] = (hok ? h : 0) * W * C;
    co[i] = (wok ? w : 0) * C;
    rv |= (unsigned)hok << i;
    cv |= (unsigned)wok << i;
  }
  __m512 t[6][6];
  for (int j = 0; j < 6; j++) {
    __m512 d[6], v[6];
    const unsigned rm = (cv >> j) & 1 ? rv : 0;
    for (int i = 0; i < 6; i++) d[i] = _mm512_maskz_loadu_ps((__mmask16)(0 - ((rm >> i) & 1)), img + ro[i] + co[j]);
    wino_bt(d, v);
    for (int a = 0; a < 6; a++) t[a][j] = v[a];
  }
  wino_in_finish(V, vps, t);
}
// dst[i*drs + j*dcs] = (A^T M A)[i][j] + bias for i < nrow, j < ncol (lanes km); M[(a*6+b)*mps].
// accumulate: dst += result; nt: non-temporal stores (whole, 64-byte aligned vectors only).
RN_AVX512 void wino_out_tile(float* dst, int64_t drs, int64_t dcs, int nrow, int ncol, __mmask16 km, const float* M,
                             int64_t mps, const float* bias, bool accumulate = false, bool nt = false) {
  __m512 t[4][6];
  for (int b = 0; b < 6; b++) {
    __m512 m[6], y[4];
    for (int a = 0; a < 6; a++) m[a] = _mm512_load_ps(M + (a * 6 + b) * mps);
    wino_at(m, y);
    for (int i = 0; i < 4; i++) t[i][b] = y[i];
  }
  const __m512 bv = bias ? _mm512_load_ps(bias) : _mm512_setzero_ps();
  for (int i = 0; i < nrow; i++) {
    __m512 y[4];
    wino_at(t[i], y);
    for (int j = 0; j < ncol; j++) {
      float* d = dst + i * drs + j * dcs;
      const __m512 o = _mm512_add_ps(y[j], bv);
      if (nt) _mm512_stream_ps(d, o);
      else _mm512_mask_storeu_ps(d, km, accumulate ? _mm512_add_ps(o, _mm512_maskz_loadu_ps(km, d)) : o);
    }
  }
}
// D[(a*6 + b) * dps] = (A g A^T)[a][b] for the 4x4 tile g at src (rows rs apart, columns cs apart:
// 16 in the blocked scratch, K when read straight from an NHWC tensor).
RN_AVX512 void wino_dy_tile(float* D, int64_t dps, const float* src, int64_t rs, int64_t cs = 16) {
  __m512 t[6][4];
  for (int j = 0; j < 4; j++) {
    __m512 g[4], u[6];
    for (int i = 0; i < 4; i++) g[i] = _mm512_loadu_ps(src + i * rs + j * cs);
    wino_a(g, u);
    for (int a = 0; a < 6; a++) t[a][j] = u[a];
  }
  for (int a = 0; a < 6; a++) {
    __m512 u[6];
    wino_a(t[a], u);
    for (int b = 0; b < 6; b++) _mm512_store_ps(D + (a * 6 + b) * dps, u[b]);
  }
}

thread_local Buf t_v, t_m;

// Forward-type Winograd convolution: out[n][k][i][j] (P x Q) = sum_c,r,s in[n][c][i + r - pad_h][j + s - pad_w] g_kc[r][s].
struct WinoPlan {
  Act in;
  float* out;
  int64_t N, K, P, Q;
  bool out_cl;
  bool accumulate = false;  // out += result (backward-data adding into a gradient already there)
  bool nt = false;          // NHWC output streamed (stream_ok)
  int64_t C, pad_h, pad_w;
  int NR = 1, nkb = 1, ncb = 1;
  int64_t Kpad = 16;
  int64_t ntr = 0, ntc = 0, trpi = 1, nitems = 0;
  float* U = nullptr;  // [36][kb][cb][16][NR*16]
  size_t upos = 0;
  float* bias = nullptr;  // [Kpad]
};

// Tiles-per-item: keep the transformed buffers (36 x tiles x channels, twice) near 640 KB of L2,
// and make at least 4 items per thread.
int64_t wino_trpi(int64_t chan_floats, int64_t ntc, int64_t total_tr) {
  const int64_t target_tiles = std::max<int64_t>(8, (640 << 10) / 4 / (36 * chan_floats));
  int64_t trpi = std::max<int64_t>(1, target_tiles / ntc);
  const int64_t want = 4 * (int64_t)num_threads();
  trpi = std::min(trpi, std::max<int64_t>(1, cdiv(total_tr, want)));
  return trpi;
}

// U[(a*6+b)*upos + ((kb*ncb + cb)*16 + c16)*KB + l] = (G g G^T)[a][b] for output channel k = kb*KB + l
// and input channel ci = cb*16 + c16, where g[r][s] = w[k*sk + ci*sc + r*sr + s*ss] (sr, ss < 0 read
// the flipped filter for backward-data). One vector = 16 output channels (gathered), for the
// (16-channel block, input channel) pairs in [b, e).
RN_AVX512 void wino_weights_range(const WinoPlan& c, const float* w, int64_t sk, int64_t sc, int64_t sr, int64_t ss,
                                  int64_t b, int64_t e) {
  const int64_t KB = c.NR * 16;
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)sk));
  const float g6[6][3] = {{0.25f, 0, 0},           {-1.f / 6, -1.f / 6, -1.f / 6}, {-1.f / 6, 1.f / 6, -1.f / 6},
                          {1.f / 24, 1.f / 12, 1.f / 6}, {1.f / 24, -1.f / 12, 1.f / 6}, {0, 0, 1}};
  for (int64_t it = b; it < e; it++) {
    const int64_t kv = it / c.C, ci = it % c.C, k0 = kv * 16;
    const __mmask16 m = lanes(c.K - k0);
    __m512 g[3][3], tg[6][3];
    for (int r = 0; r < 3; r++)
      for (int q = 0; q < 3; q++)
        g[r][q] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, w + k0 * sk + ci * sc + r * sr + q * ss, 4);
    for (int a = 0; a < 6; a++)
      for (int q = 0; q < 3; q++)
        tg[a][q] = _mm512_fmadd_ps(_mm512_set1_ps(g6[a][0]), g[0][q],
                                   _mm512_fmadd_ps(_mm512_set1_ps(g6[a][1]), g[1][q], _mm512_mul_ps(_mm512_set1_ps(g6[a][2]), g[2][q])));
    const int64_t kb = k0 / KB, l0 = k0 % KB, cb = ci / 16, c16 = ci % 16;
    float* dst = c.U + ((kb * c.ncb + cb) * 16 + c16) * KB + l0;
    for (int a = 0; a < 6; a++)
      for (int bb = 0; bb < 6; bb++) {
        const __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(g6[bb][0]), tg[a][0],
                                         _mm512_fmadd_ps(_mm512_set1_ps(g6[bb][1]), tg[a][1], _mm512_mul_ps(_mm512_set1_ps(g6[bb][2]), tg[a][2])));
        _mm512_store_ps(dst + (a * 6 + bb) * c.upos, u);
      }
  }
}

void wino_plan_init(WinoPlan& c, const float* w, int64_t sk, int64_t sc, int64_t sr, int64_t ss) {
  c.nkb = (int)cdiv(c.K, 64);
  c.NR = (int)cdiv(c.K, 16 * c.nkb);
  c.Kpad = (int64_t)c.nkb * c.NR * 16;
  c.ncb = (int)cdiv(c.C, 16);
  c.ntr = cdiv(c.P, 4);
  c.ntc = cdiv(c.Q, 4);
  c.trpi = wino_trpi(c.ncb * 16 + c.Kpad, c.ntc, c.N * c.ntr);
  c.nitems = cdiv(c.N * c.ntr, c.trpi);
  c.upos = (size_t)c.nkb * c.ncb * 16 * c.NR * 16;
  c.U = t_pw.get(36 * c.upos);
  c.nt = stream_ok(c.out, c.out_cl, c.K, c.N * c.K * c.P * c.Q, c.accumulate);
  if (c.C % 16 || c.K % (c.NR * 16)) std::memset(c.U, 0, 36 * c.upos * sizeof(float));  // padding channels stay 0
  // Small filters are transformed on this thread: cheaper than waking the pool for ~10 us of work.
  const int64_t n = cdiv(c.K, 16) * c.C;
  if (n <= 1024) wino_weights_range(c, w, sk, sc, sr, ss, 0, n);
  else parallel_for(n, 64, [&](int64_t b, int64_t e) { wino_weights_range(c, w, sk, sc, sr, ss, b, e); });
}

// Input rows item `it` of a Winograd plan reads, per image segment: calls f(n, row_lo, row_hi).
template <class F>
void wino_item_segments(int64_t ntr, int64_t trpi, int64_t total, int64_t it, F f) {
  const int64_t g0 = it * trpi, g1 = std::min(total, g0 + trpi);
  for (int64_t g = g0; g < g1;) {
    const int64_t n = g / ntr, tr0 = g % ntr, tr1 = std::min(ntr, tr0 + (g1 - g));
    f(n, tr0, tr1);
    g += tr1 - tr0;
  }
}

RN_AVX512 void run_wino_item(const WinoPlan& c, int64_t item, int64_t next) {
  const int64_t g0 = item * c.trpi, g1 = std::min(c.N * c.ntr, g0 + c.trpi), T = (g1 - g0) * c.ntc;
  const int64_t ncols = c.ntc * 4 + 2, cbs = ncols * 16, rs = c.ncb * cbs, vps = c.ncb * T * 16;
  float* V = t_v.get((size_t)(36 * vps));
  float* M = t_m.get((size_t)(36 * T * c.Kpad));
  int64_t tile = 0;
  // NHWC input made of whole 16-channel blocks is already in the scratch's pixel-major order:
  // tiles are transformed straight from the tensor (border tiles by masked loads), which saves
  // writing and re-reading a zero-padded copy of the band.
  const bool direct = c.in.cl && c.C % 16 == 0;
  for (int64_t g = g0; g < g1 && direct;) {
    const int64_t n = g / c.ntr, tr0 = g % c.ntr, tr1 = std::min(c.ntr, tr0 + (g1 - g));
    const int64_t H = c.in.H, W = c.in.W, C = c.C;
    for (int64_t tr = tr0; tr < tr1; tr++)
      for (int64_t tc = 0; tc < c.ntc; tc++, tile++) {
        const int64_t r0 = tr * 4 - c.pad_h, q0 = tc * 4 - c.pad_w;
        const bool inside = r0 >= 0 && r0 + 6 <= H && q0 >= 0 && q0 + 6 <= W;
        for (int cb = 0; cb < c.ncb; cb++) {
          float* v = V + (cb * T + tile) * 16;
          if (inside) wino_in_tile(v, vps, c.in.p + ((n * H + r0) * W + q0) * C + cb * 16, W * C, C);
          else wino_in_tile_edge(v, vps, c.in.p + n * H * W * C + cb * 16, H, W, C, r0, q0);
        }
      }
    g += tr1 - tr0;
  }
  for (int64_t g = g0; g < g1 && !direct;) {  // input transforms, one image segment at a time
    const int64_t n = g / c.ntr, tr0 = g % c.ntr, tr1 = std::min(c.ntr, tr0 + (g1 - g)), nrows = (tr1 - tr0) * 4 + 2;
    float* in = t_in.get((size_t)(nrows * rs));
    fill_blocked(in, c.in, n, 0, c.C, tr0 * 4 - c.pad_h, nrows, -c.pad_w, ncols);
    for (int64_t tr = tr0; tr < tr1; tr++)
      for (int64_t tc = 0; tc < c.ntc; tc++, tile++)
        for (int cb = 0; cb < c.ncb; cb++)
          wino_in_tile(V + (cb * T + tile) * 16, vps, in + (tr - tr0) * 4 * rs + cb * cbs + tc * 4 * 16, rs);
    g += tr1 - tr0;
  }
  static const int64_t zero_off = 0;
  const RowTiles tiles(T, kTWMax[c.NR]);
  const int clast = (int)(c.C - (c.ncb - 1) * 16);
  for (int pos = 0; pos < 36; pos++) {
    if (next >= 0)
      wino_item_segments(c.ntr, c.trpi, c.N * c.ntr, next, [&](int64_t n, int64_t tr0, int64_t tr1) {
        prefetch_rows(c.in.p, c.in.C, c.in.H, c.in.W, c.in.cl, n, tr0 * 4 - c.pad_h, tr1 * 4 - c.pad_h + 2, pos, 36, false);
      });
    if (!c.nt)  // streamed output lines are not read for ownership
      wino_item_segments(c.ntr, c.trpi, c.N * c.ntr, item, [&](int64_t n, int64_t tr0, int64_t tr1) {
        prefetch_rows(c.out, c.K, c.P, c.Q, c.out_cl, n, tr0 * 4, tr1 * 4, pos, 36, true);
      });
    for (int kb = 0; kb < c.nkb; kb++) {
      const float* u = c.U + pos * c.upos + (size_t)kb * c.ncb * 16 * c.NR * 16;
      for (int64_t t = 0; t < tiles.nt; t++) {
        const int64_t j0 = tiles.start(t), tw = tiles.width(t);
        conv_kernel(c.NR, (int)tw, 1)(V + pos * vps + j0 * 16, &zero_off, 1, T * 16, c.ncb, clast, u, nullptr,
                                      M + (pos * T + j0) * c.Kpad + kb * c.NR * 16, c.Kpad, c.NR * 16, false);
      }
    }
  }
  tile = 0;
  const int64_t PQ = c.P * c.Q;
  for (int64_t g = g0; g < g1;) {  // output transforms
    const int64_t n = g / c.ntr, tr0 = g % c.ntr, tr1 = std::min(c.ntr, tr0 + (g1 - g));
    const int64_t row_lo = tr0 * 4, row_hi = std::min(c.P, tr1 * 4);
    float* ob = c.out_cl ? nullptr : t_out.get((size_t)((row_hi - row_lo) * c.Q * c.Kpad));
    for (int64_t tr = tr0; tr < tr1; tr++)
      for (int64_t tc = 0; tc < c.ntc; tc++, tile++) {
        const int nrow = (int)std::min<int64_t>(4, c.P - tr * 4), ncol = (int)std::min<int64_t>(4, c.Q - tc * 4);
        for (int64_t kv = 0; kv * 16 < c.K; kv++) {
          const float* m = M + tile * c.Kpad + kv * 16;
          const float* bv = c.bias ? c.bias + kv * 16 : nullptr;
          if (c.out_cl)
            wino_out_tile(c.out + ((n * c.P + tr * 4) * c.Q + tc * 4) * c.K + kv * 16, c.Q * c.K, c.K, nrow, ncol,
                          lanes(c.K - kv * 16), m, T * c.Kpad, bv, c.accumulate, c.nt);
          else
            wino_out_tile(ob + ((tr * 4 - row_lo) * c.Q + tc * 4) * c.Kpad + kv * 16, c.Q * c.Kpad, c.Kpad, nrow, ncol,
                          (__mmask16)0xFFFF, m, T * c.Kpad, bv);
        }
      }
    if (!c.out_cl) transpose(c.out + n * c.K * PQ + row_lo * c.Q, PQ, ob, c.Kpad, (row_hi - row_lo) * c.Q, c.K, false, c.accumulate);
    g += tr1 - tr0;
  }
  if (c.nt) _mm_sfence();  // streamed stores visible before the pool reports the item done
}

void run_wino(const WinoPlan& c) {
  parallel_for(c.nitems, 1, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; it++) run_wino_item(c, it, it + 1 < e ? it + 1 : -1);
  });
}

// Backward-weight: S[pos][k][c] = sum over tiles of (A dy A^T)[pos] (B^T x B)[pos], per task.
struct WinoWPlan {
  Act x, dy;
  int64_t N, C, K, P, Q, ph, pw;
  int ncb = 1, nkv = 1;
  int64_t Kpad = 16;  // nkv * 16
  int64_t ntr = 0, ntc = 0, trpi = 1;
  int nv = 1;
  size_t spos = 0;  // floats per position of S: K * ncb * 16
};

RN_AVX512 void run_winow_chunk(const WinoWPlan& c, int64_t g0, int64_t g1, float* S) {
  const int64_t T = (g1 - g0) * c.ntc;
  const int64_t ncols = c.ntc * 4 + 2, cbs = ncols * 16, rs = c.ncb * cbs, vps = c.ncb * T * 16;
  const int64_t dcols = c.ntc * 4, dcbs = dcols * 16, drs = c.nkv * dcbs, dps = T * c.Kpad;
  float* X = t_v.get((size_t)(36 * vps));
  float* D = t_m.get((size_t)(36 * dps));
  // NHWC tensors made of whole 16-channel blocks are transformed straight from memory (as the
  // forward does; border x tiles by masked loads), without the zero-padded band copies, which took
  // a fifth of the single-thread time at 16 channels; dy straight too when its tiles are whole.
  const bool xdir = c.x.cl && c.C % 16 == 0, ddir = c.dy.cl && c.K % 16 == 0 && c.P % 4 == 0 && c.Q % 4 == 0;
  int64_t tile = 0;
  for (int64_t g = g0; g < g1;) {
    const int64_t n = g / c.ntr, tr0 = g % c.ntr, tr1 = std::min(c.ntr, tr0 + (g1 - g)), nrows = (tr1 - tr0) * 4 + 2;
    float* in = nullptr;
    float* dys = nullptr;
    if (!xdir) {
      in = t_in.get((size_t)(nrows * rs));
      fill_blocked(in, c.x, n, 0, c.C, tr0 * 4 - c.ph, nrows, -c.pw, ncols);
    }
    if (!ddir) {
      dys = t_aux.get((size_t)((tr1 - tr0) * 4 * drs));
      fill_blocked(dys, c.dy, n, 0, c.K, tr0 * 4, (tr1 - tr0) * 4, 0, dcols);
    }
    const int64_t H = c.x.H, W = c.x.W;
    for (int64_t tr = tr0; tr < tr1; tr++)
      for (int64_t tc = 0; tc < c.ntc; tc++, tile++) {
        const int64_t r0 = tr * 4 - c.ph, q0 = tc * 4 - c.pw;
        const bool inside = r0 >= 0 && r0 + 6 <= H && q0 >= 0 && q0 + 6 <= W;
        for (int cb = 0; cb < c.ncb; cb++) {
          float* v = X + (cb * T + tile) * 16;
          if (!xdir) wino_in_tile(v, vps, in + (tr - tr0) * 4 * rs + cb * cbs + tc * 4 * 16, rs);
          else if (inside) wino_in_tile(v, vps, c.x.p + ((n * H + r0) * W + q0) * c.C + cb * 16, W * c.C, c.C);
          else wino_in_tile_edge(v, vps, c.x.p + n * H * W * c.C + cb * 16, H, W, c.C, r0, q0);
        }
        for (int kv = 0; kv < c.nkv; kv++) {
          float* d = D + tile * c.Kpad + kv * 16;
          if (ddir) wino_dy_tile(d, dps, c.dy.p + ((n * c.P + tr * 4) * c.Q + tc * 4) * c.K + kv * 16, c.Q * c.K, c.K);
          else wino_dy_tile(d, dps, dys + (tr - tr0) * 4 * drs + kv * dcbs + tc * 4 * 16, drs);
        }
      }
    g += tr1 - tr0;
  }
  const int mmax = kWMMax[c.nv];
  for (int pos = 0; pos < 36; pos++)
    for (int cb0 = 0; cb0 < c.ncb; cb0 += c.nv) {
      const int nv = std::min(c.nv, c.ncb - cb0);
      const float* xv[4];
      for (int v = 0; v < nv; v++) xv[v] = X + pos * vps + (cb0 + v) * T * 16;
      const int mm = kWMMax[nv] < mmax ? kWMMax[nv] : mmax;
      for (int64_t k0 = 0; k0 < c.K; k0 += mm) {
        const int m = (int)std::min<int64_t>(mm, c.K - k0);
        wgrad_kernel(nv, m)(S + pos * c.spos + (k0 * c.ncb + cb0) * 16, c.ncb * 16, xv, 16, 0, D + pos * dps + k0, c.Kpad,
                               0, 1, T);
      }
    }
}

RN_AVX512 void winow_finish_range(const WinoWPlan& c, const float* S, int64_t tasks, float* dw, int64_t b, int64_t e) {
  const float g6[6][3] = {{0.25f, 0, 0},           {-1.f / 6, -1.f / 6, -1.f / 6}, {-1.f / 6, 1.f / 6, -1.f / 6},
                          {1.f / 24, 1.f / 12, 1.f / 6}, {1.f / 24, -1.f / 12, 1.f / 6}, {0, 0, 1}};
  for (int64_t it = b; it < e; it++) {
    const int64_t k = it / c.ncb, cb = it % c.ncb;
    __m512 sv[36];
    for (int pos = 0; pos < 36; pos++) {
      const float* p = S + pos * c.spos + (k * c.ncb + cb) * 16;
      __m512 acc = _mm512_load_ps(p);
      for (int64_t t = 1; t < tasks; t++) acc = _mm512_add_ps(acc, _mm512_load_ps(p + t * 36 * c.spos));
      sv[pos] = acc;
    }
    __m512 tg[3][6];  // tg[r][b] = sum_a G[a][r] S[a][b]
    for (int r = 0; r < 3; r++)
      for (int bb = 0; bb < 6; bb++) {
        __m512 acc = _mm512_setzero_ps();
        for (int a = 0; a < 6; a++)
          if (g6[a][r] != 0.f) acc = _mm512_fmadd_ps(_mm512_set1_ps(g6[a][r]), sv[a * 6 + bb], acc);
        tg[r][bb] = acc;
      }
    alignas(64) float out[9][16];
    for (int r = 0; r < 3; r++)
      for (int q = 0; q < 3; q++) {
        __m512 acc = _mm512_setzero_ps();
        for (int bb = 0; bb < 6; bb++)
          if (g6[bb][q] != 0.f) acc = _mm512_fmadd_ps(_mm512_set1_ps(g6[bb][q]), tg[r][bb], acc);
        _mm512_store_ps(out[r * 3 + q], acc);
      }
    const int64_t cn = std::min<int64_t>(16, c.C - cb * 16);
    for (int64_t l = 0; l < cn; l++) {
      float* d = dw + (k * c.C + cb * 16 + l) * 9;
      for (int rs = 0; rs < 9; rs++) d[rs] = out[rs][l];
    }
  }
}

void run_winow(const WinoWPlan& c, float* dw) {
  const int64_t total = c.N * c.ntr;
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(num_threads(), total));
  float* S = t_ps.get(36 * c.spos * tasks);
  parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const int64_t a0 = total * t / tasks, a1 = total * (t + 1) / tasks;
      std::memset(S + t * 36 * c.spos, 0, 36 * c.spos * sizeof(float));
      for (int64_t g = a0; g < a1; g += c.trpi) run_winow_chunk(c, g, std::min(a1, g + c.trpi), S + t * 36 * c.spos);
    }
  });
  // dW[k][c][r][s] = sum_{a,b} G[a][r] G[b][s] S[a*6+b][k][c], 16 input channels per vector
  if (c.K * c.ncb <= 512) winow_finish_range(c, S, tasks, dw, 0, c.K * c.ncb);
  else parallel_for(c.K * c.ncb, 32, [&](int64_t b, int64_t e) { winow_finish_range(c, S, tasks, dw, b, e); });
}

// Winograd pays a transform of the whole filter (36/9 of its size, written and read) per call, so
// it needs enough 4x4 output tiles to amortise it: measured on resnet18's shapes, direct wins
// below ~48 tiles at 256-512 channels (batch-1 inference: 14x14 and 7x7 layers) and Winograd from
// ~48-64 tiles up (every CIFAR and batch >= 16 ImageNet layer). ConvMode::Winograd drops that rule
// (tests), ConvMode::Direct (RESNODE_CONV=direct) turns Winograd off.
constexpr int64_t kWinoMinTiles = 48;
bool wino_ok(const ConvParams& p) {
  const ConvMode m = conv_mode();
  const int64_t tiles = p.N * cdiv(p.P, 4) * cdiv(p.Q, 4);
  return m != ConvMode::Direct && m != ConvMode::Reference && p.R == 3 && p.S == 3 && p.sh == 1 && p.sw == 1 &&
         p.dh == 1 && p.dw == 1 && p.groups == 1 && p.C >= 8 && p.K >= 8 && p.P >= 4 && p.Q >= 4 && p.H >= 4 &&
         p.W >= 4 && (m == ConvMode::Winograd || tiles >= kWinoMinTiles);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Degenerate sizes (no channels, no work) are left to the reference.
static bool covered(const ConvParams& p) { return have_avx512() && p.N > 0 && p.C > 0 && p.K > 0 && p.P > 0 && p.Q > 0; }

bool conv2d_avx512_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p) {
  if (!covered(p) || p.sw > 2) return false;
  if (wino_ok(p)) {
    WinoPlan c;
    c.in = {x, p.C, p.H, p.W, p.channels_last};
    c.out = y; c.N = p.N; c.K = p.K; c.P = p.P; c.Q = p.Q; c.out_cl = p.channels_last;
    c.C = p.C; c.pad_h = p.ph; c.pad_w = p.pw;
    wino_plan_init(c, w, p.C * 9, 9, 3, 1);
    if (bias) {
      c.bias = t_pb.get((size_t)c.Kpad);
      std::memset(c.bias, 0, c.Kpad * sizeof(float));
      for (int64_t k = 0; k < p.K; k++) c.bias[k] = bias[k];
    }
    run_wino(c);
    return true;
  }
  ConvPlan c;
  c.in = {x, p.C, p.H, p.W, p.channels_last};
  c.out = y;
  c.N = p.N; c.Cout = p.K; c.Hout = p.P; c.Wout = p.Q; c.out_cl = p.channels_last;
  c.G = p.groups; c.Cin_g = p.C / p.groups; c.Kout_g = p.K / p.groups;
  c.si = p.sh; c.sj = p.sw; c.orow_step = 1; c.ocol_step = 1;
  choose_blocking(c);
  Phase ph;
  ph.P = p.P; ph.Q = p.Q;
  for (int64_t r = 0; r < p.R; r++)
    for (int64_t s = 0; s < p.S; s++) {
      ph.ro.push_back(r * p.dh - p.ph);
      ph.co.push_back(s * p.dw - p.pw);
    }
  c.phases.push_back(std::move(ph));
  const int64_t Cg = c.Cin_g, Kg = c.Kout_g, RS = p.R * p.S;
  pack_weights(c, [&](int64_t g, size_t, int64_t t, int64_t ko, int64_t ci) {
    return w[((g * Kg + ko) * Cg + ci) * RS + t];
  });
  if (bias) {
    c.bias = t_pb.get((size_t)(c.G * c.Kpad));
    std::memset(c.bias, 0, c.G * c.Kpad * sizeof(float));
    for (int64_t g = 0; g < c.G; g++)
      for (int64_t k = 0; k < Kg; k++) c.bias[g * c.Kpad + k] = bias[g * Kg + k];
  }
  finish_plan(c);
  run_conv(c);
  return true;
}

bool conv2d_avx512_accumulates(const ConvParams& p) { return covered(p) && wino_ok(p); }

bool conv2d_avx512_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p, bool accumulate) {
  if (!covered(p)) return false;
  if (wino_ok(p)) {  // dx = dy (padded by 2 - ph) correlated with w[k][c][2-r][2-s]
    WinoPlan c;
    c.accumulate = accumulate;
    c.in = {dy, p.K, p.P, p.Q, p.channels_last};
    c.out = dx; c.N = p.N; c.K = p.C; c.P = p.H; c.Q = p.W; c.out_cl = p.channels_last;
    c.C = p.K; c.pad_h = 2 - p.ph; c.pad_w = 2 - p.pw;
    wino_plan_init(c, w + 8, 9, p.C * 9, -3, -1);  // g[r][s] = w[ki][co][2-r][2-s]
    run_wino(c);
    return true;
  }
  if (accumulate) return false;  // the direct kernels store; the caller adds a separate result
  ConvPlan c;
  c.in = {dy, p.K, p.P, p.Q, p.channels_last};
  c.out = dx;
  c.N = p.N; c.Cout = p.C; c.Hout = p.H; c.Wout = p.W; c.out_cl = p.channels_last;
  c.G = p.groups; c.Cin_g = p.K / p.groups; c.Kout_g = p.C / p.groups;
  c.si = 1; c.sj = 1; c.orow_step = p.sh; c.ocol_step = p.sw;
  choose_blocking(c);
  // Phase (a, b) holds dx pixels (a + i*sh, b + j*sw); tap (r, s) reaches it when
  // a + ph - r*dh and b + pw - s*dw are multiples of the strides: dy pixel (i + ro, j + co).
  std::vector<std::vector<std::pair<int64_t, int64_t>>> taps;  // per phase: (r, s)
  for (int64_t a = 0; a < std::min(p.sh, p.H); a++)
    for (int64_t bcol = 0; bcol < std::min(p.sw, p.W); bcol++) {
      Phase ph;
      ph.P = cdiv(p.H - a, p.sh);
      ph.Q = cdiv(p.W - bcol, p.sw);
      ph.orow0 = a;
      ph.ocol0 = bcol;
      std::vector<std::pair<int64_t, int64_t>> ts;
      for (int64_t r = 0; r < p.R; r++) {
        const int64_t dr = a + p.ph - r * p.dh;
        if (((dr % p.sh) + p.sh) % p.sh) continue;
        for (int64_t s = 0; s < p.S; s++) {
          const int64_t ds = bcol + p.pw - s * p.dw;
          if (((ds % p.sw) + p.sw) % p.sw) continue;
          ph.ro.push_back(dr / p.sh);
          ph.co.push_back(ds / p.sw);
          ts.push_back({r, s});
        }
      }
      c.phases.push_back(std::move(ph));
      taps.push_back(std::move(ts));
    }
  const int64_t Cg = c.Kout_g, Kg = c.Cin_g, R = p.R, S = p.S;
  pack_weights(c, [&](int64_t g, size_t pi, int64_t t, int64_t co, int64_t ki) {
    const auto& rs = taps[pi][t];
    return w[(((g * Kg + ki) * Cg + co) * R + rs.first) * S + rs.second];
  });
  finish_plan(c);
  run_conv(c);
  return true;
}

bool conv2d_avx512_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p) {
  if (!covered(p) || p.sw > 2) return false;
  // Winograd backward-weight keeps a 36 x C x K partial sum per thread: past 128 x 128 channels
  // that no longer fits in L2 and the direct kernel is faster.
  if (wino_ok(p) && p.C * p.K <= 128 * 128) {
    WinoWPlan c;
    c.x = {x, p.C, p.H, p.W, p.channels_last};
    c.dy = {dy, p.K, p.P, p.Q, p.channels_last};
    c.N = p.N; c.C = p.C; c.K = p.K; c.P = p.P; c.Q = p.Q; c.ph = p.ph; c.pw = p.pw;
    c.ncb = (int)cdiv(p.C, 16);
    c.nkv = (int)cdiv(p.K, 16);
    c.Kpad = c.nkv * 16;
    c.ntr = cdiv(p.P, 4);
    c.ntc = cdiv(p.Q, 4);
    c.nv = c.ncb % 4 == 0 ? 4 : c.ncb % 3 == 0 ? 3 : c.ncb <= 2 ? c.ncb : 4;
    c.spos = (size_t)(p.K * c.ncb * 16);
    c.trpi = wino_trpi(c.ncb * 16 + c.Kpad, c.ntc, c.N * c.ntr);
    run_winow(c, dw);
    return true;
  }
  WgradPlan c;
  c.x = {x, p.C, p.H, p.W, p.channels_last};
  c.dy = dy; c.dy_cl = p.channels_last;
  c.N = p.N; c.K = p.K; c.P = p.P; c.Q = p.Q; c.G = p.groups; c.Cg = p.C / p.groups; c.Kg = p.K / p.groups;
  c.R = p.R; c.S = p.S; c.si = p.sh; c.sj = p.sw;
  for (int64_t r = 0; r < p.R; r++)
    for (int64_t s = 0; s < p.S; s++) {
      c.ro.push_back(r * p.dh - p.ph);
      c.co.push_back(s * p.dw - p.pw);
    }
  const int64_t T = p.R * p.S;
  c.ncb = (int)cdiv(c.Cg, 16);
  c.ncol = T * c.ncb;
  const int nv = c.ncol % 4 == 0 ? 4 : c.ncol % 3 == 0 ? 3 : c.ncol <= 2 ? (int)c.ncol : 4;
  for (int64_t col = 0; col < c.ncol; col += nv) c.colgroups.push_back({col, (int)std::min<int64_t>(nv, c.ncol - col)});
  c.romin = *std::min_element(c.ro.begin(), c.ro.end());
  c.romax = *std::max_element(c.ro.begin(), c.ro.end());
  c.comin = *std::min_element(c.co.begin(), c.co.end());
  c.comax = *std::max_element(c.co.begin(), c.co.end());
  compact_strides(c.si, c.sj, c.si0, c.rstep, c.cstep, c.romin == c.romax, c.comin == c.comax);
  c.ncols = (c.Q - 1) * c.sj + c.comax - c.comin + 1;
  c.cbs = c.ncols * 16;
  c.rowstride = c.ncb * c.cbs;
  c.tapoff.resize(T);
  for (int64_t t = 0; t < T; t++) c.tapoff[t] = (c.ro[t] - c.romin) * c.rowstride + (c.co[t] - c.comin) * 16;
  const int64_t halo = c.romax - c.romin;
  const int64_t budget = (256 << 10) / 4;
  c.band = std::min(c.P, std::max<int64_t>(1, (budget / c.rowstride - halo) / c.si));
  c.nbands = cdiv(c.P, c.band);
  const int64_t nthr = num_threads();
  if (c.N * c.nbands < 4 * nthr) {
    c.nbands = std::min(c.P, cdiv(4 * nthr, c.N));
    c.band = cdiv(c.P, c.nbands);
    c.nbands = cdiv(c.P, c.band);
  }
  const int64_t items = c.N * c.nbands;
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(nthr, items));
  c.T = T;
  c.im2row = c.Cg <= 4 && c.Kg % 16 == 0;
  c.part_floats = c.im2row ? (size_t)(c.G * c.Kg * T * c.Cg) : (size_t)(c.G * c.Kg * c.ncol * 16);
  // rows per kernel call: dy rows (and the patch rows) of a chunk stay within ~24 KB
  const int64_t row_bytes = c.Q * 4 * (c.im2row ? c.Kg + (T * c.Cg + 31) / 16 * 16 : std::max<int64_t>(c.Kg, 16 * c.ncb));
  c.rchunk = std::max<int64_t>(1, (24 << 10) / row_bytes);
  float* part = t_ps.get(c.part_floats * tasks);
  parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const int64_t it0 = items * t / tasks, it1 = items * (t + 1) / tasks;
      std::memset(part + t * c.part_floats, 0, c.part_floats * sizeof(float));
      for (int64_t it = it0; it < it1; it++) run_wgrad_item(c, it, part + t * c.part_floats);
    }
  });
  // dw[g*Kg + k][c][r][s] = sum over tasks of part[task][g][k][(r*S + s)*ncb + c/16][c%16]
  // (im2row: part[task][g][(r*S + s)*Cg + c][k])
  const int64_t Cg = c.Cg, Kg = c.Kg, ncol = c.ncol;
  parallel_for(p.K, 8, [&](int64_t kb, int64_t ke) {
    for (int64_t gk = kb; gk < ke; gk++) {
      const int64_t g = gk / Kg, k = gk % Kg;
      for (int64_t ci = 0; ci < Cg; ci++)
        for (int64_t t = 0; t < T; t++) {
          const size_t off = c.im2row ? (size_t)((g * T * Cg + t * Cg + ci) * Kg + k)
                                      : (size_t)(((g * Kg + k) * ncol + t * c.ncb + ci / 16) * 16 + ci % 16);
          float s = 0.f;
          for (int64_t task = 0; task < tasks; task++) s += part[task * c.part_floats + off];
          dw[(gk * Cg + ci) * T + t] = s;
        }
    }
  });
  return true;
}

#else  // not x86-64 GCC: the reference implementation covers everything

bool conv2d_avx512_forward(float*, const float*, const float*, const float*, const ConvParams&) { return false; }
bool conv2d_avx512_backward_data(float*, const float*, const float*, const ConvParams&, bool) { return false; }
bool conv2d_avx512_accumulates(const ConvParams&) { return false; }
bool conv2d_avx512_backward_weight(float*, const float*, const float*, const ConvParams&) { return false; }

#endif

}  // namespace cpu
}  // namespace rn
