// conv2d forward / backward-data / backward-weight through cuDNN 9's convolution API (loaded with
// dlopen at the first convolution: cudnn_api.h).
//
// Algorithm choice: the first time a shape runs (per direction, layout, dtype and math mode),
// cudnnFind*AlgorithmEx times every algorithm on the real buffers with a workspace of up to
// 256 MiB and the fastest one that succeeded is cached; later calls only query its workspace and
// run. The search is synchronous (it times kernels), so the first step of a training run is
// slower, as with PyTorch's cudnn.benchmark. When the search fails, cuDNN's heuristics
// (cudnnGet*Algorithm_v7) choose instead.
//
// Math: float32 runs with CUDNN_FMA_MATH (true float32, results within 1e-4 of the CPU) unless
// TF32 is allowed (rn.cuda.setAllowTF32(true)); bfloat16 / float16 storage uses tensor cores with
// float32 accumulation. Workspaces come from the caching allocator.
//
// Layouts: x / y / dx / dy are NCHW or NHWC (p.channels_last). Weights are always [K, C/g, R, S]
// contiguous in resnode; for NHWC the weight is copied to KRSC (cuDNN's NHWC filter format, what
// its channels-last tensor-core kernels take) and the weight gradient computed in KRSC is copied
// back.
#include <map>
#include <mutex>
#include <tuple>
#include <vector>
#include "cuda_common.h"
#include "cudnn_api.h"

namespace rn {
namespace cuda {
namespace {

struct Dnn {
  dnn::Handle h = nullptr;
  std::mutex m;  // one handle; ops may come from several threads
};
Dnn& dnn_handle() {
  static std::once_flag once;
  static Dnn* d = new Dnn();
  std::call_once(once, [] {
    const dnn::Api& api = dnn::api();
    dnn::Handle h = nullptr;
    dnn::Status st = api.cudnnCreate(&h);
    if (st != dnn::STATUS_SUCCESS) throw RnError("ERR_RN_INTERNAL", "cuda: " + dnn::error_text("cudnnCreate", st));
    st = api.cudnnSetStream(h, reinterpret_cast<dnn::Stream>(stream()));
    if (st != dnn::STATUS_SUCCESS) throw RnError("ERR_RN_INTERNAL", "cuda: " + dnn::error_text("cudnnSetStream", st));
    d->h = h;
  });
  return *d;
}

void ok(dnn::Status st, const char* fn, const char* op) {
  if (st != dnn::STATUS_SUCCESS) throw RnError("ERR_RN_INTERNAL", cat(op, ": ", dnn::error_text(fn, st)));
}

dnn::DataType dnn_type(DType dt) {
  switch (dt) {
    case DType::F32: return dnn::DATA_FLOAT;
    case DType::BF16: return dnn::DATA_BFLOAT16;
    case DType::F16: return dnn::DATA_HALF;
    default: throw RnError("ERR_RN_DTYPE", cat("conv2d: ", dtype_name(dt), " is not supported on cuda"), ErrKind::Type);
  }
}

int i32(int64_t v, const char* op) {
  if (v > 2147483647 || v < 0) throw RnError("ERR_RN_RANGE", cat(op, ": size ", v, " exceeds cuDNN's 32-bit limits"), ErrKind::Range);
  return (int)v;
}

// Descriptors of one convolution, destroyed with the object.
struct Descs {
  const dnn::Api& api;
  dnn::TensorDesc x = nullptr, y = nullptr;
  dnn::FilterDesc w = nullptr;
  dnn::ConvDesc conv = nullptr;
  Descs(const cpu::ConvParams& p, DType dt, const char* op) : api(dnn::api()) {
    const dnn::DataType t = dnn_type(dt);
    const dnn::TensorFormat f = p.channels_last ? dnn::TENSOR_NHWC : dnn::TENSOR_NCHW;
    ok(api.cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor", op);
    ok(api.cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor", op);
    ok(api.cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor", op);
    ok(api.cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor", op);
    ok(api.cudnnSetTensor4dDescriptor(x, f, t, i32(p.N, op), i32(p.C, op), i32(p.H, op), i32(p.W, op)),
       "cudnnSetTensor4dDescriptor", op);
    ok(api.cudnnSetTensor4dDescriptor(y, f, t, i32(p.N, op), i32(p.K, op), i32(p.P, op), i32(p.Q, op)),
       "cudnnSetTensor4dDescriptor", op);
    ok(api.cudnnSetFilter4dDescriptor(w, t, f, i32(p.K, op), i32(p.C / p.groups, op), i32(p.R, op), i32(p.S, op)),
       "cudnnSetFilter4dDescriptor", op);
    ok(api.cudnnSetConvolution2dDescriptor(conv, i32(p.ph, op), i32(p.pw, op), i32(p.sh, op), i32(p.sw, op), i32(p.dh, op),
                                           i32(p.dw, op), dnn::CROSS_CORRELATION, dnn::DATA_FLOAT),
       "cudnnSetConvolution2dDescriptor", op);
    ok(api.cudnnSetConvolutionGroupCount(conv, i32(p.groups, op)), "cudnnSetConvolutionGroupCount", op);
    ok(api.cudnnSetConvolutionMathType(conv, default_math(dt)), "cudnnSetConvolutionMathType", op);
  }
  ~Descs() {
    if (conv) api.cudnnDestroyConvolutionDescriptor(conv);
    if (w) api.cudnnDestroyFilterDescriptor(w);
    if (y) api.cudnnDestroyTensorDescriptor(y);
    if (x) api.cudnnDestroyTensorDescriptor(x);
  }
  static dnn::MathType default_math(DType dt) {
    if (dt != DType::F32) return dnn::TENSOR_OP_MATH;
    return allow_tf32() ? dnn::DEFAULT_MATH : dnn::FMA_MATH;
  }
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;
};

enum Dir { kFwd = 0, kBwdData = 1, kBwdFilter = 2 };
using Key = std::tuple<int, int, int, bool, bool, std::vector<int64_t>>;  // dir, dtype, groups, cl, tf32, sizes
struct Choice {
  int algo;
  dnn::MathType math;
};
std::mutex g_cache_m;
std::map<Key, Choice>* g_cache = new std::map<Key, Choice>();

Key key_of(Dir d, const cpu::ConvParams& p, DType dt) {
  return Key(d, (int)dt, (int)p.groups, p.channels_last, dt == DType::F32 && allow_tf32(),
             {p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.ph, p.pw, p.sh, p.sw, p.dh, p.dw});
}

bool acceptable_math(dnn::MathType m, DType dt) {
  // float32 without TF32: only true-float32 kernels
  return !(dt == DType::F32 && !allow_tf32() && (m == dnn::TENSOR_OP_MATH || m == dnn::TENSOR_OP_MATH_ALLOW_CONVERSION));
}

// A workspace for the algorithm search: as large as the allocator gives, up to 256 MiB.
std::unique_ptr<Scratch> search_workspace(size_t* bytes) {
  for (size_t b = size_t(256) << 20; b >= (size_t(4) << 20); b >>= 2) {
    try {
      auto s = std::make_unique<Scratch>(b);
      *bytes = b;
      return s;
    } catch (const RnError&) {
    }
  }
  *bytes = 0;
  return nullptr;
}

// Picks from perf results (sorted fastest first), or returns false.
template <class Perf>
bool pick(const Perf* perf, int n, size_t ws_limit, DType dt, Choice* c) {
  for (int i = 0; i < n; i++) {
    if (perf[i].status != dnn::STATUS_SUCCESS || perf[i].memory > ws_limit || !acceptable_math(perf[i].mathType, dt)) continue;
    c->algo = (int)perf[i].algo;
    c->math = acceptable_math(perf[i].mathType, dt) ? perf[i].mathType : Descs::default_math(dt);
    return true;
  }
  return false;
}

// The cached choice for this convolution, searching (with the real buffers) the first time.
template <class SearchEx, class Heuristic>
Choice choose(Dir dir, const cpu::ConvParams& p, DType dt, const char* op, SearchEx search_ex, Heuristic heuristic) {
  const Key k = key_of(dir, p, dt);
  {
    std::lock_guard<std::mutex> l(g_cache_m);
    auto it = g_cache->find(k);
    if (it != g_cache->end()) return it->second;
  }
  Choice c{};
  size_t ws_bytes = 0;
  auto ws = search_workspace(&ws_bytes);
  if (!search_ex(ws ? ws->s->data : nullptr, ws_bytes, &c) && !heuristic(ws_bytes, &c))
    throw RnError("ERR_RN_INTERNAL", cat(op, ": cuDNN found no algorithm for input [", p.N, ", ", p.C, ", ", p.H, ", ", p.W,
                                         "] and weight [", p.K, ", ", p.C / p.groups, ", ", p.R, ", ", p.S, "] (",
                                         dtype_name(dt), p.channels_last ? ", channels-last" : "", ")"));
  std::lock_guard<std::mutex> l(g_cache_m);
  (*g_cache)[k] = c;
  return c;
}

// KCRS <-> KRSC copies of a weight (for NHWC convolutions)
std::vector<int64_t> wshape(const cpu::ConvParams& p) { return {p.K, p.C / p.groups, p.R, p.S}; }
void weight_to_krsc(void* dst, const void* src, const cpu::ConvParams& p, size_t es) {
  auto sh = wshape(p);
  copy_strided(dst, src, (int64_t)es, sh, channels_last_strides(sh), contiguous_strides(sh));
}
void weight_from_krsc(void* dst, const void* src, const cpu::ConvParams& p, size_t es) {
  auto sh = wshape(p);
  copy_strided(dst, src, (int64_t)es, sh, contiguous_strides(sh), channels_last_strides(sh));
}
size_t weight_bytes(const cpu::ConvParams& p, DType dt) {
  return (size_t)(p.K * (p.C / p.groups) * p.R * p.S) * dtype_size(dt);
}
}  // namespace

size_t conv_cache_size() {
  std::lock_guard<std::mutex> l(g_cache_m);
  return g_cache->size();
}

void conv2d_forward(void* y, const void* x, const void* w0, const float* bias, const cpu::ConvParams& p, DType dt) {
  const char* op = "conv2d";
  if (p.N * p.K * p.P * p.Q == 0) return;
  Dnn& d = dnn_handle();
  std::unique_ptr<Scratch> wt;
  const void* w = w0;
  if (p.channels_last) {
    wt = std::make_unique<Scratch>(weight_bytes(p, dt));
    weight_to_krsc(wt->s->data, w0, p, dtype_size(dt));
    w = wt->s->data;
  }
  Descs ds(p, dt, op);
  const dnn::Api& api = ds.api;
  std::lock_guard<std::mutex> l(d.m);
  Choice c = choose(
      kFwd, p, dt, op,
      [&](void* ws, size_t wsb, Choice* out) {
        dnn::FwdAlgoPerf perf[dnn::FWD_ALGO_COUNT];
        int n = 0;
        if (api.cudnnFindConvolutionForwardAlgorithmEx(d.h, ds.x, x, ds.w, w, ds.conv, ds.y, y, dnn::FWD_ALGO_COUNT, &n, perf,
                                                       ws, wsb) != dnn::STATUS_SUCCESS)
          return false;
        return pick(perf, n, wsb, dt, out);
      },
      [&](size_t wsb, Choice* out) {
        dnn::FwdAlgoPerf perf[dnn::FWD_ALGO_COUNT];
        int n = 0;
        if (api.cudnnGetConvolutionForwardAlgorithm_v7(d.h, ds.x, ds.w, ds.conv, ds.y, dnn::FWD_ALGO_COUNT, &n, perf) !=
            dnn::STATUS_SUCCESS)
          return false;
        return pick(perf, n, wsb, dt, out);
      });
  ok(api.cudnnSetConvolutionMathType(ds.conv, c.math), "cudnnSetConvolutionMathType", op);
  size_t wsb = 0;
  ok(api.cudnnGetConvolutionForwardWorkspaceSize(d.h, ds.x, ds.w, ds.conv, ds.y, (dnn::FwdAlgo)c.algo, &wsb),
     "cudnnGetConvolutionForwardWorkspaceSize", op);
  Scratch ws(wsb);
  const float one = 1.f, zero = 0.f;
  ok(api.cudnnConvolutionForward(d.h, &one, ds.x, x, ds.w, w, ds.conv, (dnn::FwdAlgo)c.algo, wsb ? ws.s->data : nullptr,
                                 wsb, &zero, ds.y, y),
     "cudnnConvolutionForward", op);
  if (bias) {
    if (dt != DType::F32) throw RnError("ERR_RN_DTYPE", "conv2d: a bias needs float32 on cuda", ErrKind::Type);
    add_channel_bias(static_cast<float*>(y), bias, p.N, p.K, p.P * p.Q, p.channels_last);
  }
}

void conv2d_backward_data(void* dx, const void* dy, const void* w0, const cpu::ConvParams& p, DType dt) {
  const char* op = "conv2d backward";
  if (p.N * p.C * p.H * p.W == 0) return;
  Dnn& d = dnn_handle();
  std::unique_ptr<Scratch> wt;
  const void* w = w0;
  if (p.channels_last) {
    wt = std::make_unique<Scratch>(weight_bytes(p, dt));
    weight_to_krsc(wt->s->data, w0, p, dtype_size(dt));
    w = wt->s->data;
  }
  Descs ds(p, dt, op);
  const dnn::Api& api = ds.api;
  std::lock_guard<std::mutex> l(d.m);
  Choice c = choose(
      kBwdData, p, dt, op,
      [&](void* ws, size_t wsb, Choice* out) {
        dnn::BwdDataAlgoPerf perf[dnn::BWD_DATA_ALGO_COUNT];
        int n = 0;
        if (api.cudnnFindConvolutionBackwardDataAlgorithmEx(d.h, ds.w, w, ds.y, dy, ds.conv, ds.x, dx,
                                                            dnn::BWD_DATA_ALGO_COUNT, &n, perf, ws, wsb) != dnn::STATUS_SUCCESS)
          return false;
        return pick(perf, n, wsb, dt, out);
      },
      [&](size_t wsb, Choice* out) {
        dnn::BwdDataAlgoPerf perf[dnn::BWD_DATA_ALGO_COUNT];
        int n = 0;
        if (api.cudnnGetConvolutionBackwardDataAlgorithm_v7(d.h, ds.w, ds.y, ds.conv, ds.x, dnn::BWD_DATA_ALGO_COUNT, &n,
                                                            perf) != dnn::STATUS_SUCCESS)
          return false;
        return pick(perf, n, wsb, dt, out);
      });
  ok(api.cudnnSetConvolutionMathType(ds.conv, c.math), "cudnnSetConvolutionMathType", op);
  size_t wsb = 0;
  ok(api.cudnnGetConvolutionBackwardDataWorkspaceSize(d.h, ds.w, ds.y, ds.conv, ds.x, (dnn::BwdDataAlgo)c.algo, &wsb),
     "cudnnGetConvolutionBackwardDataWorkspaceSize", op);
  Scratch ws(wsb);
  const float one = 1.f, zero = 0.f;
  ok(api.cudnnConvolutionBackwardData(d.h, &one, ds.w, w, ds.y, dy, ds.conv, (dnn::BwdDataAlgo)c.algo,
                                      wsb ? ws.s->data : nullptr, wsb, &zero, ds.x, dx),
     "cudnnConvolutionBackwardData", op);
}

void conv2d_backward_weight(void* dw0, const void* dy, const void* x, const cpu::ConvParams& p, DType dt) {
  const char* op = "conv2d backward";
  const size_t wb = weight_bytes(p, dt);
  if (wb == 0) return;
  if (p.N * p.P * p.Q == 0) {  // no contributions: the gradient is zero
    check(cudaMemsetAsync(dw0, 0, wb, stream()), "cudaMemsetAsync");
    return;
  }
  Dnn& d = dnn_handle();
  std::unique_ptr<Scratch> wt;
  void* dw = dw0;
  if (p.channels_last) {
    wt = std::make_unique<Scratch>(wb);
    dw = wt->s->data;
  }
  Descs ds(p, dt, op);
  const dnn::Api& api = ds.api;
  {
    std::lock_guard<std::mutex> l(d.m);
    Choice c = choose(
        kBwdFilter, p, dt, op,
        [&](void* ws, size_t wsb, Choice* out) {
          dnn::BwdFilterAlgoPerf perf[dnn::BWD_FILTER_ALGO_COUNT];
          int n = 0;
          if (api.cudnnFindConvolutionBackwardFilterAlgorithmEx(d.h, ds.x, x, ds.y, dy, ds.conv, ds.w, dw,
                                                                dnn::BWD_FILTER_ALGO_COUNT, &n, perf, ws, wsb) !=
              dnn::STATUS_SUCCESS)
            return false;
          return pick(perf, n, wsb, dt, out);
        },
        [&](size_t wsb, Choice* out) {
          dnn::BwdFilterAlgoPerf perf[dnn::BWD_FILTER_ALGO_COUNT];
          int n = 0;
          if (api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(d.h, ds.x, ds.y, ds.conv, ds.w, dnn::BWD_FILTER_ALGO_COUNT,
                                                                &n, perf) != dnn::STATUS_SUCCESS)
            return false;
          return pick(perf, n, wsb, dt, out);
        });
    ok(api.cudnnSetConvolutionMathType(ds.conv, c.math), "cudnnSetConvolutionMathType", op);
    size_t wsb = 0;
    ok(api.cudnnGetConvolutionBackwardFilterWorkspaceSize(d.h, ds.x, ds.y, ds.conv, ds.w, (dnn::BwdFilterAlgo)c.algo, &wsb),
       "cudnnGetConvolutionBackwardFilterWorkspaceSize", op);
    Scratch ws(wsb);
    const float one = 1.f, zero = 0.f;
    ok(api.cudnnConvolutionBackwardFilter(d.h, &one, ds.x, x, ds.y, dy, ds.conv, (dnn::BwdFilterAlgo)c.algo,
                                          wsb ? ws.s->data : nullptr, wsb, &zero, ds.w, dw),
       "cudnnConvolutionBackwardFilter", op);
  }
  if (p.channels_last) weight_from_krsc(dw0, dw, p, dtype_size(dt));
}

}  // namespace cuda
}  // namespace rn
