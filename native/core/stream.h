// Per-device op queue. Ops are enqueued in call order from the JS thread and run in that order on
// one native thread, so compute never blocks Node's event loop. Argument and shape checks happen
// before enqueueing (they throw at the call site); what can only fail while running (a class
// index out of range, say) becomes the stream's sticky error, thrown by the next read.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include "tensor.h"

namespace rn {

class Stream {
 public:
  explicit Stream(const char* name);
  // Returns the sequence number of the op; wait(seq) returns once it ran.
  uint64_t enqueue(std::function<void()> fn);
  void wait(uint64_t seq);
  void sync() { wait(last_seq()); }
  uint64_t last_seq();
  // Throws (and clears) the first error raised by an op since the last check.
  void check_error();
  size_t pending();

 private:
  static constexpr size_t kMaxPending = 1024;
  struct Job {
    uint64_t seq;
    int64_t bytes;  // memory allocated for this op's outputs at dispatch
    const char* name;  // for the profiler (the binding call that queued it)
    std::function<void()> fn;
  };
  void loop();
  int64_t inflight_ = 0;   // bytes allocated by ops not yet run
  int64_t max_inflight_;
  std::mutex m_;
  std::condition_variable cv_work_, cv_done_;
  std::deque<Job> q_;
  uint64_t next_ = 1, done_ = 0;
  bool has_err_ = false;
  std::string err_code_, err_msg_;
  std::thread th_;
};

Stream& stream_for(Device d);

// Called by the allocator on the dispatching thread: the next enqueue on this thread charges
// these bytes to its op, so the queue can bound the memory that ops waiting to run hold.
void note_dispatch_alloc(int64_t bytes);

}  // namespace rn
