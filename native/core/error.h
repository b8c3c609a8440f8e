// One exception type for the whole native library. The binding turns it into a JS Error whose
// `code` is stable (ERR_RN_*) and whose message names the op/argument, expected and received.
#pragma once
#include <stdexcept>
#include <string>
#include <sstream>
#include <vector>
#include <cstdint>

namespace rn {

enum class ErrKind { Error, Type, Range };

struct RnError : std::runtime_error {
  std::string code;
  ErrKind kind;
  RnError(std::string c, const std::string& msg, ErrKind k = ErrKind::Error)
      : std::runtime_error(msg), code(std::move(c)), kind(k) {}
};

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); i++) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

template <class... A>
std::string cat(const A&... a) {
  std::ostringstream o;
  (o << ... << a);
  return o.str();
}

[[noreturn]] inline void throw_shape(const std::string& msg) { throw RnError("ERR_RN_SHAPE", msg); }
[[noreturn]] inline void throw_dtype(const std::string& msg) { throw RnError("ERR_RN_DTYPE", msg, ErrKind::Type); }
[[noreturn]] inline void throw_arg(const std::string& msg) { throw RnError("ERR_RN_ARG", msg, ErrKind::Type); }
[[noreturn]] inline void throw_range(const std::string& msg) { throw RnError("ERR_RN_RANGE", msg, ErrKind::Range); }

#define RN_CHECK_SHAPE(cond, ...) \
  do { if (!(cond)) ::rn::throw_shape(::rn::cat(__VA_ARGS__)); } while (0)
#define RN_CHECK_ARG(cond, ...) \
  do { if (!(cond)) ::rn::throw_range(::rn::cat(__VA_ARGS__)); } while (0)

}  // namespace rn
