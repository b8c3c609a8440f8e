// Turning native failures into JS errors with a stable `code`, and argument readers that throw
// `Expected <what> for <op>(<name>) but received <value> of type <type>` instead of crashing.
#pragma once
#include <napi.h>
#include <string>
#include <vector>
#include "../core/error.h"

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

// Runs an N-API entry point, converting RnError / std::exception into a thrown JS error.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const RnError& e) {
    make_error(info.Env(), e.code, e.what(), e.kind).ThrowAsJavaScriptException();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    make_error(info.Env(), "ERR_RN_OOM", "out of memory", ErrKind::Error).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    make_error(info.Env(), "ERR_RN_INTERNAL", e.what(), ErrKind::Error).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

}  // namespace binding
}  // namespace rn
