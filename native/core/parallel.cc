#include "parallel.h"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include <chrono>
#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RN_PAUSE() _mm_pause()
#else
#define RN_PAUSE() std::this_thread::yield()
#endif

extern "C" void openblas_set_num_threads(int);

namespace rn {
namespace {

std::mutex g_run_mutex;  // parallel_for is not reentrant across callers
thread_local bool t_in_parallel = false;

// Workers wait for the next job spinning for a short while (RESNODE_SPIN_US, default 50 us), then
// sleep on a condition variable. A training step runs hundreds of short kernels back to back: a
// futex wake-up per kernel (and the caller sleeping until the last helper checked in) cost
// tens of microseconds each on a VM, as much as a small kernel itself.
struct Pool {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::thread> workers;
  int nthreads = 1;
  // current job: written under m together with the bump of `gen`; workers read it under m
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, chunk = 1;
  int helpers = 0;
  std::atomic<int64_t> next{0};
  std::atomic<uint64_t> gen{0};
  std::atomic<int> active{0};    // helpers of the current job that have not checked in
  std::atomic<int> sleeping{0};  // workers blocked on cv
  int64_t spin_ns = 50000;

  Pool() {
    int hw = (int)std::thread::hardware_concurrency();
    if (const char* e = std::getenv("RESNODE_NUM_THREADS")) hw = std::atoi(e);
    if (const char* e = std::getenv("RESNODE_SPIN_US")) spin_ns = std::max<int64_t>(0, std::atoll(e)) * 1000;
    resize(hw > 0 ? hw : 1);
  }
  void run_chunks() {
    for (;;) {
      int64_t b = next.fetch_add(chunk);
      if (b >= n) break;
      (*fn)(b, std::min(n, b + chunk));
    }
  }
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void worker(int idx) {
    uint64_t seen = 0;
    for (;;) {
      if (gen.load() == seen && spin_ns > 0) {
        const int64_t until = now_ns() + spin_ns;
        for (int i = 0; gen.load() == seen; i++) {
          RN_PAUSE();
          if ((i & 63) == 63 && now_ns() > until) break;
        }
      }
      bool mine;
      {
        // the job's fields are written under m with the generation, so reading them under m gives
        // one job's consistent snapshot (a worker that is not a helper must not mix two jobs)
        std::unique_lock<std::mutex> l(m);
        if (gen.load() == seen) {
          sleeping.fetch_add(1);
          cv.wait(l, [&] { return gen.load() != seen; });
          sleeping.fetch_sub(1);
        }
        seen = gen.load();
        mine = fn && idx < helpers;
      }
      if (!mine) continue;
      // a helper: the caller waits for its check-in before touching the job again
      t_in_parallel = true;  // a parallel_for inside a chunk runs inline (no nested fan-out)
      run_chunks();
      t_in_parallel = false;
      active.fetch_sub(1, std::memory_order_release);
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
    p.active.store(helpers);
    p.gen.fetch_add(1);  // publish
  }
  if (p.sleeping.load() > 0) p.cv.notify_all();
  t_in_parallel = true;
  p.run_chunks();
  t_in_parallel = false;
  // wait for the helpers to check in: spin, then yield (a helper may need this core to finish)
  for (int i = 0; p.active.load(std::memory_order_acquire) != 0; i++) {
    if (i < 4096) RN_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace rn
