#include "parallel.h"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include <cstdlib>

extern "C" void openblas_set_num_threads(int);

namespace rn {
namespace {

std::mutex g_run_mutex;  // parallel_for is not reentrant across callers
thread_local bool t_in_parallel = false;

struct Pool {
  std::mutex m;
  std::condition_variable cv, cv_done;
  std::vector<std::thread> workers;
  int nthreads = 1;
  // current job
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, chunk = 1;
  std::atomic<int64_t> next{0};
  int active = 0, helpers = 0;
  uint64_t gen = 0;

  Pool() {
    int hw = (int)std::thread::hardware_concurrency();
    if (const char* e = std::getenv("RESNODE_NUM_THREADS")) hw = std::atoi(e);
    resize(hw > 0 ? hw : 1);
  }
  void run_chunks() {
    for (;;) {
      int64_t b = next.fetch_add(chunk);
      if (b >= n) break;
      (*fn)(b, std::min(n, b + chunk));
    }
  }
  void worker(int idx) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> l(m);
    for (;;) {
      cv.wait(l, [&] { return gen != seen; });
      seen = gen;
      if (!fn || idx >= helpers) continue;
      l.unlock();
      t_in_parallel = true;  // a parallel_for inside a chunk runs inline (no nested fan-out)
      run_chunks();
      t_in_parallel = false;
      l.lock();
      if (--active == 0) cv_done.notify_all();
    }
  }
  void resize(int t) {
    nthreads = std::max(1, t);
    // Workers are created lazily up to the largest count ever requested and never destroyed;
    // extra ones simply do not get work (active counts only the ones needed).
    while ((int)workers.size() < nthreads - 1) {
      int idx = (int)workers.size();
      workers.emplace_back([this, idx] { worker(idx); });
      workers.back().detach();
    }
    // OpenBLAS runs single-threaded inside our pool (cpu/gemm.cc splits products across
    // threads): its own thread server spins on sched_yield between calls, stealing the cores our
    // kernels need.
    openblas_set_num_threads(1);
  }
};
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}
}  // namespace

int num_threads() { return pool().nthreads; }
void set_num_threads(int n) {
  std::lock_guard<std::mutex> g(g_run_mutex);
  pool().resize(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  Pool& p = pool();
  int64_t g = std::max<int64_t>(1, grain);
  int want = (int)std::min<int64_t>(p.nthreads, (n + g - 1) / g);
  if (want <= 1 || t_in_parallel) { fn(0, n); return; }
  std::lock_guard<std::mutex> run(g_run_mutex);
  int helpers = std::min<int>(want - 1, (int)p.workers.size());
  {
    std::lock_guard<std::mutex> l(p.m);
    p.fn = &fn;
    p.n = n;
    // a few chunks per thread balances uneven work without much scheduling overhead
    p.chunk = std::max<int64_t>(g, (n + want * 4 - 1) / (want * 4));
    p.next.store(0);
    p.helpers = helpers;
    p.active = helpers;
    p.gen++;
  }
  p.cv.notify_all();
  t_in_parallel = true;
  p.run_chunks();
  t_in_parallel = false;
  std::unique_lock<std::mutex> l(p.m);
  p.cv_done.wait(l, [&] { return p.active == 0; });
  p.fn = nullptr;
}

}  // namespace rn
