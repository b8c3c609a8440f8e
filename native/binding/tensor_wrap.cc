#include "tensor_wrap.h"
#include "errors.h"
#include <atomic>
#include <memory>

namespace rn {
namespace binding {
namespace {
// Random 128-bit tag identifying resnode tensor handles (napi_type_tag_object).
const napi_type_tag kTag = {0x7a3c1e5f9b2d4a61ULL, 0xc84f0e2b6d195a37ULL};

Napi::Value make_ints(Napi::Env env, const std::vector<int64_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set((uint32_t)i, Napi::Number::New(env, (double)v[i]));
  return a;
}
}  // namespace

void release(Napi::Env env, Handle* h) {
  if (h->reported) {
    // the C API: this also runs in finalizers at environment teardown, where a C++ exception
    // (node-addon-api's way of reporting a failed call) would terminate the process
    int64_t total = 0;
    napi_adjust_external_memory(env, -h->reported, &total);
    h->reported = 0;
  }
  h->t.storage.reset();
}

Napi::Object wrap(Napi::Env env, const Tensor& t) {
  // Owned here until the External (and its finalizer) exists: when the environment is shutting
  // down (a worker terminated mid-op) creating it fails, and the handle with its reference to the
  // storage must not leak.
  auto owned = std::make_unique<Handle>(Handle{t, 0});
  auto ext = Napi::External<Handle>::New(env, owned.get(), [](Napi::Env e, Handle* p) {
    release(e, p);
    delete p;
  });
  Handle* h = owned.release();
  // Report a storage's bytes once, through the first handle that sees it, so V8's GC feels
  // native memory; views of the same storage report nothing.
  if (t.storage && t.storage.use_count() <= 2 && t.storage->device == Device::CPU) {
    h->reported = (int64_t)t.storage->bytes;
    int64_t total = 0;
    if (h->reported && napi_adjust_external_memory(env, h->reported, &total) != napi_ok) h->reported = 0;
  }
  napi_type_tag_object(env, ext, &kTag);
  Napi::Object o = Napi::Object::New(env);
  o.Set("h", ext);
  o.Set("shape", make_ints(env, t.shape));
  o.Set("strides", make_ints(env, t.strides));
  o.Set("offset", Napi::Number::New(env, (double)t.offset));
  o.Set("dtype", Napi::Number::New(env, (int)t.dtype));
  o.Set("device", Napi::Number::New(env, (int)t.device()));
  return o;
}

Handle* handle_of(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  bool ok = false;
  if (napi_check_object_type_tag(v.Env(), v, &kTag, &ok) != napi_ok || !ok) return nullptr;
  return v.As<Napi::External<Handle>>().Data();
}

const Tensor& tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Value v = info[i];
  Handle* h = handle_of(v);
  if (!h) bad_arg(v, "a tensor handle", op, name);
  if (!h->t.storage) throw RnError("ERR_RN_DISPOSED", cat(op, ": ", name, " is a disposed tensor"));
  return h->t;
}

const Tensor* opt_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return &tensor_arg(info, i, op, name);
}

// ---- argument readers -------------------------------------------------------------------------
std::string type_of(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return v.IsArray() ? "array" : "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

std::string describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_number: {
      double d = v.As<Napi::Number>().DoubleValue();
      std::ostringstream o;
      o.precision(17);
      o << d;
      return o.str();
    }
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "\"" + s + "\"";
    }
    case napi_external: return "a foreign external";
    default: return type_of(v);
  }
}

double num_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (!info[i].IsNumber()) bad_arg(info[i], "a number", op, name);
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (!info[i].IsNumber()) bad_arg(info[i], "an integer", op, name);
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d == (double)(int64_t)d) || d > 9007199254740991.0 || d < -9007199254740991.0) {
    throw RnError("ERR_RN_RANGE", cat("Expected an integer for ", op, "(", name, ") but received ", describe(info[i]), " of type number"),
                  ErrKind::Range);
  }
  return (int64_t)d;
}

bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (!info[i].IsBoolean()) bad_arg(info[i], "a boolean", op, name);
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> ints_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, bool shape) {
  if (!info[i].IsArray()) bad_arg(info[i], shape ? "an array of non-negative integers" : "an array of integers", op, name);
  Napi::Array a = info[i].As<Napi::Array>();
  if (a.Length() > 64) throw RnError("ERR_RN_RANGE", cat("Expected at most 64 entries for ", op, "(", name, ") but received ", a.Length()), ErrKind::Range);
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.5;
    if (!v.IsNumber() || d != (double)(int64_t)d || d > 9007199254740991.0 || d < -9007199254740991.0 || (shape && d < 0))
      throw RnError("ERR_RN_RANGE", cat("Expected ", shape ? "non-negative integers" : "integers", " for ", op, "(", name, ") but received ",
                                        describe(v), " of type ", type_of(v), " at index ", k), ErrKind::Range);
    out[k] = (int64_t)d;
  }
  return out;
}

}  // namespace binding
}  // namespace rn
