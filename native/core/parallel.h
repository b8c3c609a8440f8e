// One CPU thread pool for all kernels, sized to the machine (settable). Kernels run on the stream
// thread, which takes part in the work; OpenBLAS is given the same thread count and is only
// called from the stream thread outside parallel_for, so the two never oversubscribe the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace rn {

int num_threads();
void set_num_threads(int n);
// Calls fn(begin, end) over [0, n) in chunks of at least `grain` items, on up to num_threads().
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace rn
