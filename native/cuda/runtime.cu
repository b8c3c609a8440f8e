// CUDA runtime side of the backend (cudart linked statically): device detection, the device
// context (one stream on cuda:0), the caching device allocator, the pinned host-buffer pool and
// host <-> device transfers. See backend.h for the execution model.
//
// Caching allocator: training steps allocate the same sizes every iteration; cudaMalloc/cudaFree
// are slow and cudaFree synchronises the device. Freed blocks go to a size-ordered free list and
// are reused by later allocations of the same size (up to 1/8 larger for big blocks). Reuse is
// safe without events because there is one stream: a kernel queued after the reuse runs after
// every kernel that used the block before it was freed. Blocks go back to the driver only on
// rn.cuda.emptyCache() or when a cudaMalloc fails (then the cache is emptied and it is retried).
//
// Pinned pool: transfers are staged through page-locked host buffers (cudaHostAlloc), so
// cudaMemcpyAsync is truly asynchronous. A buffer used by an upload is reusable once the event
// recorded after its copy has completed; one used by a download once the host job copied out.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>
#include "cuda_common.h"
#include "loader.h"
#include "../core/stream.h"

#ifndef RESNODE_CUDA_ARCHS
#define RESNODE_CUDA_ARCHS "unknown"
#endif

namespace rn {
namespace cuda {
namespace {

std::string err_str(cudaError_t e) { return cat(cudaGetErrorName(e), ": ", cudaGetErrorString(e)); }

// ---- device detection (no context is created) ----
struct Probe {
  bool ok = false;
  int count = 0;
  std::string status;
};
Probe& probe() {
  static std::once_flag once;
  static Probe* p = new Probe();
  std::call_once(once, [] {
    // Without a driver, cudart reports "CUDA driver version is insufficient": say what is missing.
    if (!dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
      const char* e = dlerror();
      p->status = cat("built with CUDA (", RESNODE_CUDA_ARCHS, "); no NVIDIA driver: libcuda.so.1 was not found on the "
                      "loader path (LD_LIBRARY_PATH, ldconfig cache, /lib, /usr/lib)",
                      e ? cat(" [", e, "]") : std::string());
      return;
    }
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      p->status = cat("built with CUDA (", RESNODE_CUDA_ARCHS, "); the NVIDIA driver is present but no device is usable: ",
                      err_str(e));
      return;
    }
    if (n == 0) {
      p->status = cat("built with CUDA (", RESNODE_CUDA_ARCHS, "); no CUDA device found");
      return;
    }
    cudaDeviceProp prop;
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
      cudaGetLastError();
      p->status = cat("built with CUDA (", RESNODE_CUDA_ARCHS, "); cudaGetDeviceProperties(0) failed");
      return;
    }
    p->ok = true;
    p->count = n;
    p->status = cat("cuda:0 is ", prop.name, " (sm_", prop.major, prop.minor, ", ",
                    (double)(prop.totalGlobalMem >> 20) / 1024.0, " GiB), ", n, " device(s); driver ", drv / 1000, ".",
                    (drv % 1000) / 10, ", runtime ", rt / 1000, ".", (rt % 1000) / 10, "; built for ", RESNODE_CUDA_ARCHS);
  });
  return *p;
}

// ---- the device context ----
__global__ void probe_kernel(int* p) {
  if (p) *p = 1;
}

struct Ctx {
  cudaStream_t stream = nullptr;
  int sms = 1;
};
std::atomic<bool> g_initialized{false};
std::atomic<bool> g_tf32{false};

Ctx& ctx() {
  static std::once_flag once;
  static Ctx* c = new Ctx();  // leaked on purpose: outlives every Storage and host job
  std::call_once(once, [] {   // an exception leaves the flag unset: the next call retries
    if (!probe().ok) throw_unavailable("cuda");
    check(cudaSetDevice(0), "cudaSetDevice");
    cudaFuncAttributes attr;
    cudaError_t e = cudaFuncGetAttributes(&attr, probe_kernel);
    if (e != cudaSuccess) {
      cudaGetLastError();
      cudaDeviceProp prop;
      cudaGetDeviceProperties(&prop, 0);
      throw RnError("ERR_RN_NO_CUDA", cat("cuda: this build has no kernels for ", prop.name, " (sm_", prop.major, prop.minor,
                                          "): built for ", RESNODE_CUDA_ARCHS, " (", err_str(e),
                                          "); rebuild with RESNODE_CUDA_ARCH=native on this machine"));
    }
    check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaDeviceGetAttribute(&c->sms, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
    g_initialized = true;
  });
  // Kernels launch from whichever thread calls an op (the JS thread, or a worker's).
  thread_local bool device_set = false;
  if (!device_set) {
    check(cudaSetDevice(0), "cudaSetDevice");
    device_set = true;
  }
  return *c;
}

// ---- events ----
std::mutex g_ev_m;
std::vector<cudaEvent_t>* g_events = new std::vector<cudaEvent_t>();
cudaEvent_t event_get() {
  {
    std::lock_guard<std::mutex> l(g_ev_m);
    if (!g_events->empty()) {
      cudaEvent_t e = g_events->back();
      g_events->pop_back();
      return e;
    }
  }
  cudaEvent_t e;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  return e;
}
void event_put(cudaEvent_t e) {
  std::lock_guard<std::mutex> l(g_ev_m);
  g_events->push_back(e);
}

// ---- caching device allocator ----
struct DevAlloc {
  std::mutex m;
  std::multimap<size_t, void*> free_blocks;
  std::unordered_map<void*, size_t> live_blocks;
  int64_t live = 0, peak = 0, cached = 0, allocs = 0;
  static size_t round(size_t b) {
    const size_t g = b < (size_t(1) << 20) ? 512 : (size_t(1) << 16);
    return b == 0 ? 512 : (b + g - 1) / g * g;
  }
  static size_t slack(size_t sz) { return sz < (size_t(1) << 20) ? 0 : sz / 8; }

  void* take_cached(size_t sz) {
    std::lock_guard<std::mutex> l(m);
    auto it = free_blocks.lower_bound(sz);
    if (it == free_blocks.end() || it->first > sz + slack(sz)) return nullptr;
    void* p = it->second;
    size_t bs = it->first;
    free_blocks.erase(it);
    cached -= (int64_t)bs;
    note_live(p, bs);
    return p;
  }
  void note_live(void* p, size_t bs) {  // m held
    live_blocks[p] = bs;
    live += (int64_t)bs;
    allocs++;
    if (live > peak) peak = live;
  }
  void release_cached() {
    std::vector<void*> ps;
    {
      std::lock_guard<std::mutex> l(m);
      for (auto& kv : free_blocks) ps.push_back(kv.second);
      free_blocks.clear();
      cached = 0;
    }
    if (ps.empty()) return;
    cudaStreamSynchronize(ctx().stream);  // nothing queued may still use them
    for (void* p : ps) cudaFree(p);
  }
};
DevAlloc& dev_alloc() {
  static DevAlloc* a = new DevAlloc();
  return *a;
}

// ---- pinned host buffers ----
struct PinnedPool {
  struct Block {
    void* p;
    size_t size;
    cudaEvent_t ev;  // pending copy out of / into this block (nullptr: none)
  };
  std::mutex m;
  std::vector<Block> free_blocks;
  int64_t total = 0;  // bytes held (free or in use)
  static constexpr int64_t kMaxCached = int64_t(1) << 30;

  void* get(size_t bytes, size_t* cap) {
    {
      std::lock_guard<std::mutex> l(m);
      int best = -1;
      for (int i = 0; i < (int)free_blocks.size(); i++) {
        Block& b = free_blocks[i];
        if (b.size < bytes || (best >= 0 && b.size >= free_blocks[best].size)) continue;
        if (b.ev) {
          cudaError_t q = cudaEventQuery(b.ev);
          if (q == cudaErrorNotReady) continue;
          if (q != cudaSuccess) cudaGetLastError();  // the fault surfaces at the next read
          event_put(b.ev);
          b.ev = nullptr;
        }
        best = i;
      }
      if (best >= 0) {
        Block b = free_blocks[best];
        free_blocks.erase(free_blocks.begin() + best);
        *cap = b.size;
        return b.p;
      }
    }
    trim(bytes);
    size_t sz = 64 << 10;
    while (sz < bytes) sz <<= 1;
    void* p = nullptr;
    check(cudaHostAlloc(&p, sz, cudaHostAllocDefault), "cudaHostAlloc (pinned staging buffer)");
    std::lock_guard<std::mutex> l(m);
    total += (int64_t)sz;
    *cap = sz;
    return p;
  }
  void put(void* p, size_t cap, cudaEvent_t ev) {
    std::lock_guard<std::mutex> l(m);
    free_blocks.push_back({p, cap, ev});
  }
  // Free idle blocks when the pool would grow past its cap.
  void trim(size_t incoming) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> l(m);
      for (size_t i = 0; i < free_blocks.size() && total + (int64_t)incoming > kMaxCached;) {
        Block& b = free_blocks[i];
        if (b.ev && cudaEventQuery(b.ev) == cudaErrorNotReady) { i++; continue; }
        if (b.ev) event_put(b.ev);
        total -= (int64_t)b.size;
        drop.push_back(b.p);
        free_blocks.erase(free_blocks.begin() + i);
      }
    }
    for (void* p : drop) cudaFreeHost(p);
  }
  void release_all() {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> l(m);
      for (auto& b : free_blocks) {
        if (b.ev) event_put(b.ev);
        total -= (int64_t)b.size;
        drop.push_back(b.p);
      }
      free_blocks.clear();
    }
    for (void* p : drop) cudaFreeHost(p);
  }
};
PinnedPool& pinned() {
  static PinnedPool* p = new PinnedPool();
  return *p;
}

constexpr size_t kUploadChunk = size_t(32) << 20;
}  // namespace

// ---- shared helpers (cuda_common.h) ----
cudaStream_t stream() { return ctx().stream; }
int sm_count() { return ctx().sms; }

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  if (e == cudaErrorMemoryAllocation)
    throw RnError("ERR_RN_OOM", cat("cuda: out of memory in ", what, " (", err_str(e), ")"));
  throw RnError("ERR_RN_INTERNAL", cat("cuda: ", what, " failed: ", err_str(e),
                                       e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure
                                           ? " (the CUDA context is unusable now; restart the process)"
                                           : ""));
}
void check_launch(const char* what) { check(cudaGetLastError(), what); }

// ---- public runtime API (backend.h) ----
bool available() { return probe().ok; }
std::string status() { return probe().status; }
int device_count() { return probe().count; }
bool initialized() { return g_initialized; }

[[noreturn]] void throw_unavailable(const char* op) {
  throw RnError("ERR_RN_NO_CUDA", cat(op, ": CUDA is not available: ", status(),
                                      ". (cuDNN 9 and cuBLAS are loaded at first use from ", describe_search(false), ")"));
}
std::string library_search_description(bool resolve) { return describe_search(resolve); }

void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }

DeviceProps properties(int device) {
  if (!available()) throw_unavailable("cuda.properties");
  if (device < 0 || device >= device_count())
    throw RnError("ERR_RN_DEVICE", cat("cuda.properties: device ", device, " does not exist (", device_count(), " device(s))"));
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  DeviceProps d;
  d.name = p.name;
  d.index = device;
  d.major = p.major;
  d.minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  d.warp_size = p.warpSize;
  d.max_threads_per_block = p.maxThreadsPerBlock;
  d.total_memory = (int64_t)p.totalGlobalMem;
  d.l2_cache = p.l2CacheSize;
  d.shared_per_block = (int64_t)p.sharedMemPerBlock;
  d.memory_bus_width = p.memoryBusWidth;
  cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&d.memory_clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDriverGetVersion(&d.driver_version);
  cudaRuntimeGetVersion(&d.runtime_version);
  cudaGetLastError();
  return d;
}

void synchronize() {
  if (!g_initialized) return;
  check(cudaStreamSynchronize(ctx().stream), "a queued GPU op");
}

// ---- benchmark timing ----
namespace {
__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__global__ void spin_k(unsigned long long ns) {
  const unsigned long long t0 = global_ns();
  while (global_ns() - t0 < ns) {
  }
}
cudaEvent_t g_timer[2] = {nullptr, nullptr};
}  // namespace

void timer_begin(double spin_ms) {
  cudaStream_t s = stream();
  for (cudaEvent_t& e : g_timer)
    if (!e) check(cudaEventCreate(&e), "cudaEventCreate (timer)");
  if (spin_ms > 0) {
    spin_k<<<1, 1, 0, s>>>((unsigned long long)(spin_ms * 1e6));
    check_launch("timer_begin");
  }
  check(cudaEventRecord(g_timer[0], s), "cudaEventRecord (timer)");
}
double timer_end() {
  if (!g_timer[0]) throw RnError("ERR_RN_ARG", "cuda timer: timer_end without timer_begin");
  check(cudaEventRecord(g_timer[1], stream()), "cudaEventRecord (timer)");
  check(cudaEventSynchronize(g_timer[1]), "a queued GPU op");
  float ms = 0.f;
  check(cudaEventElapsedTime(&ms, g_timer[0], g_timer[1]), "cudaEventElapsedTime");
  return ms;
}

void on_env_cleanup() {
  if (!g_initialized) return;
  stream_for(Device::CUDA).sync();  // reads still copying into JS buffers
  cudaStreamSynchronize(ctx().stream);
}

void upload(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cudaStream_t s = stream();
  for (size_t off = 0; off < bytes; off += kUploadChunk) {
    size_t n = std::min(kUploadChunk, bytes - off), cap = 0;
    void* pin = pinned().get(n, &cap);
    std::memcpy(pin, static_cast<const char*>(src) + off, n);
    cudaError_t e = cudaMemcpyAsync(static_cast<char*>(dst) + off, pin, n, cudaMemcpyHostToDevice, s);
    if (e != cudaSuccess) {
      pinned().put(pin, cap, nullptr);
      check(e, "cudaMemcpyAsync (upload)");
    }
    cudaEvent_t ev = event_get();
    check(cudaEventRecord(ev, s), "cudaEventRecord");
    pinned().put(pin, cap, ev);
  }
}

uint64_t enqueue_download(void* dst, const void* src, size_t bytes, Device host, std::shared_ptr<void> keep) {
  if (bytes == 0) {
    // still ordered after the queued GPU work, so errors surface at this read
    cudaEvent_t ev = event_get();
    check(cudaEventRecord(ev, stream()), "cudaEventRecord");
    return stream_for(host).enqueue([ev, keep] {
      cudaError_t e = cudaEventSynchronize(ev);
      event_put(ev);
      check(e, "a queued GPU op");
    });
  }
  cudaStream_t s = stream();
  size_t cap = 0;
  void* pin = pinned().get(bytes, &cap);
  cudaError_t e = cudaMemcpyAsync(pin, src, bytes, cudaMemcpyDeviceToHost, s);
  if (e != cudaSuccess) {
    pinned().put(pin, cap, nullptr);
    check(e, "cudaMemcpyAsync (download)");
  }
  cudaEvent_t ev = event_get();
  check(cudaEventRecord(ev, s), "cudaEventRecord");
  return stream_for(host).enqueue([=]() mutable {
    cudaError_t r = cudaEventSynchronize(ev);
    event_put(ev);
    if (r == cudaSuccess) std::memcpy(dst, pin, bytes);
    pinned().put(pin, cap, nullptr);
    keep.reset();
    check(r, "a queued GPU op");
  });
}

void check_async(const void* dev_buf, size_t bytes, std::function<void(const void*)> fn) {
  cudaStream_t s = stream();
  size_t cap = 0;
  void* pin = pinned().get(bytes, &cap);
  cudaError_t e = cudaMemcpyAsync(pin, dev_buf, bytes, cudaMemcpyDeviceToHost, s);
  if (e != cudaSuccess) {
    pinned().put(pin, cap, nullptr);
    check(e, "cudaMemcpyAsync (error check)");
  }
  cudaEvent_t ev = event_get();
  check(cudaEventRecord(ev, s), "cudaEventRecord");
  stream_for(Device::CUDA).enqueue([=] {
    struct Back {  // the buffer goes back to the pool whether fn throws or not
      void* p; size_t c;
      ~Back() { pinned().put(p, c, nullptr); }
    } back{pin, cap};
    cudaError_t r = cudaEventSynchronize(ev);
    event_put(ev);
    check(r, "a queued GPU op");
    fn(pin);
  });
}

}  // namespace cuda

// ---- allocator hooks (core/tensor.cc) ----
void* cuda_alloc(size_t bytes) {
  cuda::ctx();
  auto& a = cuda::dev_alloc();
  const size_t sz = cuda::DevAlloc::round(bytes);
  if (void* p = a.take_cached(sz)) return p;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, sz);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    a.release_cached();
    e = cudaMalloc(&p, sz);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    cudaGetLastError();
    MemStats s = cuda_memory_stats();
    throw RnError("ERR_RN_OOM", cat("out of memory: could not allocate ", bytes, " bytes on cuda (", cudaGetErrorString(e),
                                    "; resnode holds ", s.live, " bytes in tensors and ", s.cached, " cached; the device has ",
                                    fr, " of ", tot, " bytes free)"));
  }
  std::lock_guard<std::mutex> l(a.m);
  a.note_live(p, sz);
  return p;
}

void cuda_free(void* p, size_t) {
  auto& a = cuda::dev_alloc();
  std::lock_guard<std::mutex> l(a.m);
  auto it = a.live_blocks.find(p);
  if (it == a.live_blocks.end()) return;
  size_t bs = it->second;
  a.live_blocks.erase(it);
  a.live -= (int64_t)bs;
  a.cached += (int64_t)bs;
  a.free_blocks.emplace(bs, p);
}

MemStats cuda_memory_stats() {
  auto& a = cuda::dev_alloc();
  std::lock_guard<std::mutex> l(a.m);
  return {a.live, a.peak, a.cached, a.allocs};
}

void cuda_empty_cache() {
  if (!cuda::g_initialized) return;
  cuda::dev_alloc().release_cached();
  cuda::pinned().release_all();
}

void cuda_reset_peak() {
  auto& a = cuda::dev_alloc();
  std::lock_guard<std::mutex> l(a.m);
  a.peak = a.live;
}

const char* cuda_status(bool* available) {
  *available = cuda::available();
  return cuda::probe().status.c_str();
}

}  // namespace rn
