// Turning native failures into JS errors with a stable `code`, and argument readers that throw
// `Expected <what> for <op>(<name>) but received <value> of type <type>` instead of crashing.
#pragma once
#include <napi.h>
#include <string>
#include <vector>
#include "../core/error.h"
#include "../core/profile.h"

namespace rn {
namespace binding {

inline Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& msg, ErrKind kind) {
  Napi::Error e = kind == ErrKind::Type ? Napi::TypeError::New(env, msg)
                  : kind == ErrKind::Range ? Napi::RangeError::New(env, msg)
                                           : Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

std::string describe(const Napi::Value& v);
std::string type_of(const Napi::Value& v);

[[noreturn]] inline void bad_arg(const Napi::Value& v, const std::string& what, const char* op, const char* name) {
  throw RnError("ERR_RN_ARG", cat("Expected ", what, " for ", op, "(", name, ") but received ", describe(v), " of type ", type_of(v)),
                ErrKind::Type);
}

double num_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
std::vector<int64_t> ints_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, bool shape);

// Throws a coded Error into JS with the C API only: nothing here throws a C++ exception. When the
// environment cannot run JS any more (a worker being terminated, the process exiting), creating or
// throwing the error fails and the call simply returns; a C++ exception escaping an N-API callback
// would std::terminate the whole process.
inline void throw_coded(napi_env env, const std::string& code, const std::string& msg, ErrKind kind) noexcept {
  napi_value c = nullptr, m = nullptr, err = nullptr;
  if (napi_create_string_utf8(env, code.c_str(), code.size(), &c) != napi_ok) return;
  if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &m) != napi_ok) return;
  napi_status st = kind == ErrKind::Type ? napi_create_type_error(env, c, m, &err)
                   : kind == ErrKind::Range ? napi_create_range_error(env, c, m, &err)
                                            : napi_create_error(env, c, m, &err);
  if (st == napi_ok) napi_throw(env, err);
}

// Runs an N-API entry point, converting RnError / std::exception into a thrown JS error. No C++
// exception leaves it (see throw_coded).
// The function's name travels as its callback data (RN_FN), for the profiler.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  try {
    if (profile::enabled()) {
      const char* name = static_cast<const char*>(info.Data());
      profile::set_current(name);
      const int64_t t0 = profile::thread_cpu_ns();
      Napi::Value v = F(info);
      profile::record_host(profile::current(), profile::thread_cpu_ns() - t0);  // as refined by the op
      return v;
    }
    return F(info);
  } catch (const RnError& e) {
    throw_coded(env, e.code, e.what(), e.kind);
  } catch (const Napi::Error& e) {
    // an N-API call failed (usually: JS threw, e.g. a getter, or the environment is shutting down)
    try {
      if (!e.IsEmpty()) napi_throw(env, e.Value());
    } catch (...) {
    }
  } catch (const std::bad_alloc&) {
    throw_coded(env, "ERR_RN_OOM", "out of memory", ErrKind::Error);
  } catch (const std::exception& e) {
    throw_coded(env, "ERR_RN_INTERNAL", e.what(), ErrKind::Error);
  } catch (...) {
    throw_coded(env, "ERR_RN_INTERNAL", "unknown native exception", ErrKind::Error);
  }
  return Napi::Value();
}

// Registers a guarded entry point under its C++ name (which also names it to the profiler).
#define RN_FN(env, name) Napi::Function::New(env, ::rn::binding::guarded<name>, #name, const_cast<char*>(#name))

}  // namespace binding
}  // namespace rn
