// Op profiler (rn.profiler / RESNODE_PROFILE): per op name, how many calls, how long the JS
// thread spent inside the binding call (argument checks, allocation, enqueue: the host
// overhead a GPU run pays per op) and how long the CPU stream thread spent running the op's
// kernels. Off by default; when off the cost is one relaxed atomic load per call.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace rn {
namespace profile {

extern std::atomic<bool> g_enabled;
inline bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

// The name the next enqueued job is charged to (set by the binding around each call; ops may
// refine it, e.g. "unary" -> "relu"). A pointer to a string with static storage.
void set_current(const char* name);
const char* current();

void record_host(const char* name, int64_t ns);
void record_kernel(const char* name, int64_t ns);

struct Row {
  std::string name;
  int64_t calls = 0, host_ns = 0, jobs = 0, kernel_ns = 0;
};
void start();               // reset and enable
std::vector<Row> stop();    // disable, return the rows (waits for nothing: sync first)
std::vector<Row> snapshot();

int64_t now_ns();
// CPU time of the calling thread: host time excludes waits (queue back-pressure, reads).
int64_t thread_cpu_ns();

}  // namespace profile
}  // namespace rn
