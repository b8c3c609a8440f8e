#include "stream.h"
#include <exception>

namespace rn {

Stream::Stream(const char*) { th_ = std::thread([this] { loop(); }); th_.detach(); }

uint64_t Stream::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> g(m_);
  // Back-pressure: JS may run ahead of compute, but only so far — each queued op holds its
  // tensors' memory, so an unbounded queue would be unbounded memory (as CUDA's launch queue).
  cv_done_.wait(g, [&] { return q_.size() < kMaxPending; });
  uint64_t s = next_++;
  q_.emplace_back(s, std::move(fn));
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
    std::pair<uint64_t, std::function<void()>> job;
    {
      std::unique_lock<std::mutex> l(m_);
      cv_work_.wait(l, [&] { return !q_.empty(); });
      job = std::move(q_.front());
      q_.pop_front();
    }
    std::string code, msg;
    try {
      job.second();
    } catch (const RnError& e) {
      code = e.code; msg = e.what();
    } catch (const std::bad_alloc&) {
      code = "ERR_RN_OOM"; msg = "out of memory while running an op";
    } catch (const std::exception& e) {
      code = "ERR_RN_INTERNAL"; msg = e.what();
    }
    job.second = nullptr;  // release captured tensors before signalling completion
    std::lock_guard<std::mutex> g(m_);
    if (!code.empty() && !has_err_) { has_err_ = true; err_code_ = code; err_msg_ = msg; }
    done_ = job.first;
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
