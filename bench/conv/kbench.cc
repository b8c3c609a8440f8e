// Kernel-level conv2d benchmark without Node: validates the fast kernels (conv2d_avx512.cc: direct
// and Winograd) against the reference (im2col + OpenBLAS) and prints the minimum time of forward /
// backward-data / backward-weight. RESNODE_CONV=direct: no Winograd.
// Build and run (from the repo root):
//   g++ -O3 -std=c++17 -o /tmp/kbench bench/conv/kbench.cc native/cpu/conv2d.cc native/cpu/conv2d_avx512.cc
//       native/cpu/gemm.cc native/core/parallel.cc /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a -lpthread
//   (one command line)
//   /tmp/kbench [threads=1] [N C K H W R S stride pad [nhwc]] ...   (no shape: the CIFAR/ResNet set)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
#include "../../native/cpu/conv2d_impl.h"
#include "../../native/core/parallel.h"

using namespace rn::cpu;

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// Minimum over single calls. The three ops are timed round-robin in short windows (see run) so a
// burst of load from other processes on the machine does not land on one op only.
template <class F>
static double best_ms(F f, double seconds) {
  double best = 1e30, end = now_ms() + seconds * 1e3;
  int n = 0;
  while (n < 2 || now_ms() < end) {
    double t0 = now_ms();
    f();
    best = std::min(best, now_ms() - t0);
    n++;
  }
  return best;
}
static double relerr(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0, s = 0;
  for (size_t i = 0; i < a.size(); i++) { m = std::max(m, (double)std::fabs(a[i] - b[i])); s = std::max(s, (double)std::fabs(b[i])); }
  return m / std::max(s, 1e-6);
}

static void run(ConvParams p) {
  p.P = (p.H + 2 * p.ph - (p.R - 1) * p.dh - 1) / p.sh + 1;
  p.Q = (p.W + 2 * p.pw - (p.S - 1) * p.dw - 1) / p.sw + 1;
  const int64_t Cg = p.C / p.groups;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> x(p.N * p.C * p.H * p.W), w(p.K * Cg * p.R * p.S), dy(p.N * p.K * p.P * p.Q);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng) * 0.1f;
  for (auto& v : dy) v = nd(rng);
  std::vector<float> y(dy.size()), y2(dy.size()), dx(x.size()), dx2(x.size()), dw(w.size()), dw2(w.size());
  conv2d_reference_forward(y2.data(), x.data(), w.data(), nullptr, p);
  conv2d_reference_backward_data(dx2.data(), dy.data(), w.data(), p);
  conv2d_reference_backward_weight(dw2.data(), dy.data(), x.data(), p);
  bool ok = conv2d_avx512_forward(y.data(), x.data(), w.data(), nullptr, p) &&
            conv2d_avx512_backward_data(dx.data(), dy.data(), w.data(), p) &&
            conv2d_avx512_backward_weight(dw.data(), dy.data(), x.data(), p);
  if (!ok) { std::printf("direct path not taken\n"); return; }
  const double flop = 2.0 * p.N * p.K * Cg * p.R * p.S * p.P * p.Q;
  double tf = 1e30, td = 1e30, tw = 1e30;
  for (int rep = 0; rep < 15; rep++) {
    tf = std::min(tf, best_ms([&] { conv2d_avx512_forward(y.data(), x.data(), w.data(), nullptr, p); }, 0.03));
    td = std::min(td, best_ms([&] { conv2d_avx512_backward_data(dx.data(), dy.data(), w.data(), p); }, 0.03));
    tw = std::min(tw, best_ms([&] { conv2d_avx512_backward_weight(dw.data(), dy.data(), x.data(), p); }, 0.03));
  }
  std::printf("N%-3ld C%-3ld K%-3ld %3ldx%-3ld %ldx%ld s%ld %s  fwd %7.3f ms %5.0f GF | dgrad %7.3f ms %5.0f GF | wgrad %7.3f ms %5.0f GF"
              "  err %.1e %.1e %.1e\n",
              (long)p.N, (long)p.C, (long)p.K, (long)p.H, (long)p.W, (long)p.R, (long)p.S, (long)p.sh,
              p.channels_last ? "nhwc" : "nchw", tf, flop / tf / 1e6, td, flop / td / 1e6, tw, flop / tw / 1e6,
              relerr(y, y2), relerr(dx, dx2), relerr(dw, dw2));
}

int main(int argc, char** argv) {
  rn::set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  std::vector<ConvParams> shapes;
  auto mk = [](int64_t N, int64_t C, int64_t K, int64_t H, int64_t W, int64_t R, int64_t S, int64_t st, int64_t pad, bool cl) {
    ConvParams p{};
    p.N = N; p.C = C; p.K = K; p.H = H; p.W = W; p.R = R; p.S = S;
    p.sh = p.sw = st; p.ph = p.pw = pad; p.dh = p.dw = 1; p.groups = 1; p.channels_last = cl;
    return p;
  };
  if (argc > 2) {
    for (int i = 2; i + 8 < argc; i += 10)
      shapes.push_back(mk(std::atol(argv[i]), std::atol(argv[i + 1]), std::atol(argv[i + 2]), std::atol(argv[i + 3]),
                          std::atol(argv[i + 4]), std::atol(argv[i + 5]), std::atol(argv[i + 6]), std::atol(argv[i + 7]),
                          std::atol(argv[i + 8]), i + 9 < argc && std::strcmp(argv[i + 9], "nhwc") == 0));
  } else {
    for (bool cl : {false, true}) {
      shapes.push_back(mk(32, 64, 64, 56, 56, 3, 3, 1, 1, cl));
      shapes.push_back(mk(128, 16, 16, 32, 32, 3, 3, 1, 1, cl));
      shapes.push_back(mk(128, 32, 32, 16, 16, 3, 3, 1, 1, cl));
      shapes.push_back(mk(128, 64, 64, 8, 8, 3, 3, 1, 1, cl));
      shapes.push_back(mk(128, 16, 32, 32, 32, 3, 3, 2, 1, cl));
      shapes.push_back(mk(128, 32, 64, 16, 16, 3, 3, 2, 1, cl));
      shapes.push_back(mk(128, 16, 32, 32, 32, 1, 1, 2, 0, cl));
    }
  }
  for (auto& p : shapes) run(p);
}
