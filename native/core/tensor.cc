// Tensor helpers and the CPU caching allocator.
// Training loops allocate the same sizes every step; reusing freed blocks avoids page faults and
// zeroing of fresh pages, which costs as much as the kernels on bandwidth-bound ops.
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include "tensor.h"
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <vector>
#include <limits>

namespace rn {

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::U8: return 1;
    case DType::I64: return 8;
    case DType::BF16: case DType::F16: return 2;
  }
  return 4;
}
const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "float32"; case DType::I32: return "int32"; case DType::U8: return "uint8";
    case DType::I64: return "int64"; case DType::BF16: return "bfloat16"; case DType::F16: return "float16";
  }
  return "?";
}
const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// ---- CPU caching allocator -------------------------------------------------------------------
namespace {
// RAM and swap of the machine in bytes (0 when unknown), read once.
struct SysMemory {
  uint64_t ram = 0, swap = 0;
};
const SysMemory& sys_memory() {
  static const SysMemory m = [] {
    SysMemory r;
    struct sysinfo si {};
    if (sysinfo(&si) != 0) return r;
    const uint64_t unit = si.mem_unit ? si.mem_unit : 1;
    r.ram = (uint64_t)si.totalram * unit;
    r.swap = (uint64_t)si.totalswap * unit;
    return r;
  }();
  return m;
}

struct CpuAllocator {
  std::mutex m;
  // Freed blocks, most recently freed first, and an index by size for exact-size reuse.
  struct Block {
    void* p;
    size_t sz;
  };
  std::list<Block> lru;
  std::multimap<size_t, std::list<Block>::iterator> free_blocks;
  int64_t live = 0, peak = 0, cached = 0, allocs = 0;
  static constexpr size_t kAlign = 64;
  // The cache keeps freed blocks up to the peak of live bytes (a training step frees and then
  // allocates again about its peak; a smaller cap unmapped and re-faulted gigabytes every step:
  // resnet50 at batch 32 took 900k page faults a step under a fixed 2 GiB), at least 2 GiB and at
  // most half the RAM. Over the cap the least recently freed blocks go back to the OS, so the sizes
  // of an earlier model or batch size give way to the ones in use.
  static constexpr int64_t kMinCap = int64_t(2) << 30;
  static int64_t half_ram() { return sys_memory().ram ? (int64_t)(sys_memory().ram / 2) : kMinCap; }
  int64_t cache_cap() const { return std::max(kMinCap, std::min(peak, half_ram())); }

  // Blocks of 1 MiB and more are mapped from the OS and unmapped when the cache gives them back.
  // From malloc they came from its heap once glibc's adaptive mmap threshold had risen (it follows
  // the largest block freed, up to 32 MiB), and a freed heap block stays with the process: running
  // resnet18 then resnet50 twice grew the resident set to 14 GB with 6.5 GB ever live.
  // Blocks of 2 MiB and more start on a 2 MiB boundary and ask for transparent huge pages (where
  // the kernel offers them, "madvise" or "always"): activations are streamed through once per
  // kernel, and with 4 KiB pages every 64 lines cost a TLB miss; ResNet-56 steps ran 5% faster
  // (and page faults per run fell from 1.75M to 88k).
  static constexpr size_t kMapMin = size_t(1) << 20, kHuge = size_t(2) << 20, kPage = 4096;
  static size_t round(size_t b) { return b < kAlign ? kAlign : (b + kAlign - 1) / kAlign * kAlign; }
  static size_t map_len(size_t sz) { return (sz + kPage - 1) / kPage * kPage; }
  static void* sys_alloc(size_t sz) {
    if (sz < kMapMin) return std::aligned_alloc(kAlign, sz);
    const size_t len = map_len(sz), extra = len >= kHuge ? kHuge : 0;
    void* m = mmap(nullptr, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    if (!extra) return m;
    char* const base = static_cast<char*>(m);
    char* const p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + kHuge - 1) & ~(uintptr_t)(kHuge - 1));
    const size_t head = (size_t)(p - base), tail = extra - head;
    if (head) munmap(base, head);
    if (tail) munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
  }
  static void sys_free(void* p, size_t sz) {
    if (sz < kMapMin) std::free(p);
    else munmap(p, map_len(sz));
  }
  // Takes the least recently freed block out of the cache (lock held).
  Block pop_oldest() {
    const Block b = lru.back();
    auto range = free_blocks.equal_range(b.sz);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == std::prev(lru.end())) {
        free_blocks.erase(it);
        break;
      }
    lru.pop_back();
    cached -= (int64_t)b.sz;
    return b;
  }

  void* alloc(size_t bytes) {
    size_t sz = round(bytes);
    {
      std::lock_guard<std::mutex> g(m);
      auto it = free_blocks.find(sz);
      if (it != free_blocks.end()) {
        void* p = it->second->p;
        lru.erase(it->second);
        free_blocks.erase(it);
        cached -= sz;
        live += sz; allocs++;
        if (live > peak) peak = live;
        return p;
      }
    }
    void* p = sys_alloc(sz);
    if (!p) {
      empty();  // give cached blocks back and retry once
      p = sys_alloc(sz);
    }
    if (!p) throw RnError("ERR_RN_OOM", cat("out of memory: could not allocate ", bytes, " bytes on cpu"));
    std::lock_guard<std::mutex> g(m);
    live += sz; allocs++;
    if (live > peak) peak = live;
    return p;
  }
  void release(void* p, size_t bytes) {
    size_t sz = round(bytes);
    std::vector<Block> out;  // given back to the OS after the lock
    {
      std::lock_guard<std::mutex> g(m);
      live -= sz;
      lru.push_front({p, sz});
      free_blocks.emplace(sz, lru.begin());
      cached += sz;
      const int64_t cap = cache_cap();
      while (cached > cap && !lru.empty()) out.push_back(pop_oldest());
    }
    for (const Block& b : out) sys_free(b.p, b.sz);
  }
  void empty() {
    std::vector<Block> out;
    {
      std::lock_guard<std::mutex> g(m);
      out.assign(lru.begin(), lru.end());
      lru.clear();
      free_blocks.clear();
      cached = 0;
    }
    for (const Block& b : out) sys_free(b.p, b.sz);
  }
};
CpuAllocator& cpu_alloc() {
  static CpuAllocator* a = new CpuAllocator();  // leaked on purpose: outlives every Storage
  return *a;
}
}  // namespace

// Implemented in cuda/ (or cuda/disabled.cc).
void* cuda_alloc(size_t bytes);
void cuda_free(void* p, size_t bytes);
MemStats cuda_memory_stats();
void cuda_empty_cache();
void cuda_reset_peak();

Storage::~Storage() {
  if (!data) return;
  if (device == Device::CPU) cpu_alloc().release(data, bytes);
  else cuda_free(data, bytes);
}

void note_dispatch_alloc(int64_t bytes);  // stream.cc

std::shared_ptr<Storage> alloc_storage(size_t bytes, Device dev) {
  // More bytes than the machine has (RAM + swap) can never be used. Where memory is overcommitted
  // (containers often are) malloc would still "succeed" and the first kernel to touch the pages
  // would get the process OOM-killed: refuse it here as ERR_RN_OOM instead.
  const uint64_t machine = sys_memory().ram ? sys_memory().ram + sys_memory().swap : UINT64_MAX;
  if (dev == Device::CPU && (uint64_t)bytes > machine)
    throw RnError("ERR_RN_OOM", cat("out of memory: could not allocate ", bytes, " bytes on cpu (the machine has ", machine,
                                    " bytes of RAM and swap)"));
  note_dispatch_alloc((int64_t)bytes);
  auto s = std::make_shared<Storage>();
  s->bytes = bytes;
  s->device = dev;
  s->data = dev == Device::CPU ? cpu_alloc().alloc(bytes) : cuda_alloc(bytes);
  return s;
}

MemStats memory_stats(Device dev) {
  if (dev == Device::CUDA) return cuda_memory_stats();
  auto& a = cpu_alloc();
  std::lock_guard<std::mutex> g(a.m);
  return {a.live, a.peak, a.cached, a.allocs};
}
void empty_cache(Device dev) {
  if (dev == Device::CUDA) cuda_empty_cache();
  else cpu_alloc().empty();
}
void reset_peak(Device dev) {
  if (dev == Device::CUDA) { cuda_reset_peak(); return; }
  auto& a = cpu_alloc();
  std::lock_guard<std::mutex> g(a.m);
  a.peak = a.live;
}

// ---- shapes ----------------------------------------------------------------------------------
int64_t Tensor::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t st = 1;
  for (int64_t i = dim() - 1; i >= 0; i--) {
    if (shape[i] != 1 && strides[i] != st) return false;
    st *= shape[i];
  }
  return true;
}

bool Tensor::is_channels_last() const {
  if (dim() != 4) return false;
  auto cl = channels_last_strides(shape);
  for (int i = 0; i < 4; i++)
    if (shape[i] != 1 && strides[i] != cl[i]) return false;
  return true;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (int64_t i = (int64_t)shape.size() - 1; i >= 0; i--) { st[i] = s; s *= shape[i] > 0 ? shape[i] : 1; }
  return st;
}
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& sh) {
  // memory order N, H, W, C
  int64_t C = sh[1], H = sh[2], W = sh[3];
  return {H * W * C, 1, W * C, C};
}

int64_t checked_numel(const std::vector<int64_t>& shape, const char* what) {
  if ((int64_t)shape.size() > kMaxDims)
    throw_range(cat("Expected at most ", kMaxDims, " dimensions for ", what, " but received ", shape.size()));
  int64_t n = 1;
  for (auto s : shape) {
    if (s < 0) throw_range(cat("Expected non-negative sizes for ", what, " but received ", shape_str(shape)));
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / 16 / s)
      throw RnError("ERR_RN_OOM", cat("out of memory: ", what, " of shape ", shape_str(shape), " is too large to allocate"), ErrKind::Range);
    n *= s;
  }
  return n;
}

Tensor empty(const std::vector<int64_t>& shape, DType dt, Device dev) {
  int64_t n = checked_numel(shape, "tensor");
  Tensor t;
  t.dtype = dt;
  t.shape = shape;
  t.strides = contiguous_strides(shape);
  t.storage = alloc_storage((size_t)n * dtype_size(dt), dev);
  return t;
}

Tensor empty_channels_last(const std::vector<int64_t>& shape, DType dt, Device dev) {
  Tensor t = empty(shape, dt, dev);
  t.strides = channels_last_strides(shape);
  return t;
}

Tensor empty_strided_like(const Tensor& x, DType dt) {
  if (x.is_channels_last() && !x.is_contiguous()) return empty_channels_last(x.shape, dt, x.device());
  return empty(x.shape, dt, x.device());
}

}  // namespace rn
