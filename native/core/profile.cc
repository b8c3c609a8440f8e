#include "profile.h"
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <map>
#include <mutex>

namespace rn {
namespace profile {

namespace {
struct Acc {
  int64_t calls = 0, host_ns = 0, jobs = 0, kernel_ns = 0;
};
std::mutex g_m;
// keyed by the name's text, not its pointer: one name may live in several translation units
std::map<std::string, Acc>& table() {
  static auto* t = new std::map<std::string, Acc>();  // leaked: used by the detached stream thread
  return *t;
}
thread_local const char* t_current = "?";
bool env_enabled() {
  const char* e = std::getenv("RESNODE_PROFILE");
  return e && *e && std::string(e) != "0";
}
}  // namespace

std::atomic<bool> g_enabled{env_enabled()};

void set_current(const char* name) { t_current = name ? name : "?"; }
const char* current() { return t_current; }

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void record_host(const char* name, int64_t ns) {
  std::lock_guard<std::mutex> g(g_m);
  Acc& a = table()[name];
  a.calls++;
  a.host_ns += ns;
}
void record_kernel(const char* name, int64_t ns) {
  std::lock_guard<std::mutex> g(g_m);
  Acc& a = table()[name];
  a.jobs++;
  a.kernel_ns += ns;
}

std::vector<Row> snapshot() {
  std::lock_guard<std::mutex> g(g_m);
  std::vector<Row> out;
  for (auto& [k, a] : table()) out.push_back(Row{k, a.calls, a.host_ns, a.jobs, a.kernel_ns});
  return out;
}
void start() {
  std::lock_guard<std::mutex> g(g_m);
  table().clear();
  g_enabled.store(true);
}
std::vector<Row> stop() {
  g_enabled.store(false);
  return snapshot();
}

}  // namespace profile
}  // namespace rn
