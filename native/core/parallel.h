// One CPU thread pool for all kernels, sized to the machine (settable). Kernels run on the stream
// thread, which takes part in the work. OpenBLAS is kept single-threaded and called from inside
// this pool (cpu/gemm.cc splits each product into blocks), so there is one set of threads and
// the cores are never oversubscribed.
#pragma once
#include <cstdint>
#include <functional>

namespace rn {

int num_threads();
void set_num_threads(int n);
// Calls fn(begin, end) over [0, n) in chunks of at least `grain` items, on up to num_threads().
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace rn
