#include "stream.h"
#include "profile.h"
#include <cstdlib>
#include <exception>

namespace rn {

namespace {
thread_local int64_t t_dispatch_bytes = 0;
thread_local bool t_on_stream = false;
}  // namespace

void note_dispatch_alloc(int64_t bytes) {
  if (!t_on_stream) t_dispatch_bytes += bytes;
}

Stream::Stream(const char*) {
  const char* e = std::getenv("RESNODE_QUEUE_MB");
  max_inflight_ = (e && std::atoll(e) > 0 ? std::atoll(e) : 512) << 20;
  th_ = std::thread([this] {
    t_on_stream = true;
    loop();
  });
  th_.detach();
}

uint64_t Stream::enqueue(std::function<void()> fn) {
  const int64_t bytes = t_dispatch_bytes;
  t_dispatch_bytes = 0;
  std::unique_lock<std::mutex> g(m_);
  // Back-pressure: JS may run ahead of compute, but only so far. Each queued op holds the
  // memory of its outputs (and of inputs JS already let go), so the queue is bounded both in
  // ops and in the bytes its ops allocated (RESNODE_QUEUE_MB, default 512): a training loop
  // runs about one step ahead instead of filling the allocator with many steps' activations.
  cv_done_.wait(g, [&] { return q_.size() < kMaxPending && (inflight_ + bytes <= max_inflight_ || q_.empty()); });
  uint64_t s = next_++;
  inflight_ += bytes;
  q_.push_back(Job{s, bytes, profile::current(), std::move(fn)});
  cv_work_.notify_one();
  return s;
}

uint64_t Stream::last_seq() {
  std::lock_guard<std::mutex> g(m_);
  return next_ - 1;
}

size_t Stream::pending() {
  std::lock_guard<std::mutex> g(m_);
  return q_.size();
}

void Stream::wait(uint64_t seq) {
  std::unique_lock<std::mutex> l(m_);
  cv_done_.wait(l, [&] { return done_ >= seq; });
}

void Stream::check_error() {
  std::lock_guard<std::mutex> g(m_);
  if (!has_err_) return;
  has_err_ = false;
  throw RnError(err_code_, err_msg_);
}

void Stream::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(m_);
      cv_work_.wait(l, [&] { return !q_.empty(); });
      job = std::move(q_.front());
      q_.pop_front();
    }
    std::string code, msg;
    try {
      if (profile::enabled()) {
        const int64_t t0 = profile::now_ns();
        job.fn();
        profile::record_kernel(job.name, profile::now_ns() - t0);
      } else {
        job.fn();
      }
    } catch (const RnError& e) {
      code = e.code; msg = e.what();
    } catch (const std::bad_alloc&) {
      code = "ERR_RN_OOM"; msg = "out of memory while running an op";
    } catch (const std::exception& e) {
      code = "ERR_RN_INTERNAL"; msg = e.what();
    }
    job.fn = nullptr;  // release captured tensors before signalling completion
    std::lock_guard<std::mutex> g(m_);
    if (!code.empty() && !has_err_) { has_err_ = true; err_code_ = code; err_msg_ = msg; }
    inflight_ -= job.bytes;
    done_ = job.seq;
    cv_done_.notify_all();
  }
}

Stream& stream_for(Device d) {
  // Leaked on purpose: the thread is detached and must outlive static destruction at exit.
  static Stream* cpu = new Stream("cpu");
  static Stream* cuda = new Stream("cuda");
  return d == Device::CPU ? *cpu : *cuda;
}

}  // namespace rn
