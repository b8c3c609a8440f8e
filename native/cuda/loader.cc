// See loader.h. Plain C++ (no CUDA headers): dlopen, a stat per candidate, one python3 run.
#include "loader.h"
#include <dlfcn.h>
#include <sys/stat.h>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace rn {
namespace cuda {
namespace {

const char* const kWheelSubdirs[] = {"nvidia/cudnn/lib", "nvidia/cu13/lib", "nvidia/cublas/lib"};

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != '\n' && c != '\r') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string python_name() {
  const char* p = std::getenv("RESNODE_PYTHON");
  return p && *p ? p : "python3";
}

// site-packages folders of the python on PATH (empty when there is none). Run once.
const std::vector<std::string>& site_packages() {
  static std::once_flag once;
  static std::vector<std::string>* dirs = new std::vector<std::string>();
  std::call_once(once, [] {
    std::string py = python_name();
    // Only plain names / paths: never hand the shell anything it would interpret.
    for (char c : py)
      if (!(isalnum((unsigned char)c) || c == '/' || c == '.' || c == '_' || c == '-')) return;
    std::string cmd = "command -v " + py + " >/dev/null 2>&1 && " + py +
                      " -c 'import site; print(\"\\n\".join(site.getsitepackages() + [site.getusersitepackages()]))' "
                      "2>/dev/null";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
    for (auto& d : split(out, '\n'))
      if (is_dir(d)) dirs->push_back(d);
  });
  return *dirs;
}

std::vector<std::string> env_dirs() {
  const char* e = std::getenv("RESNODE_CUDA_LIB_DIRS");
  return e ? split(e, ':') : std::vector<std::string>();
}

std::string dl_error() {
  const char* e = dlerror();
  std::string s = e ? e : "unknown error";
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  return s;
}
}  // namespace

std::vector<std::string> library_dirs() {
  std::vector<std::string> out = env_dirs();
  for (auto& sp : site_packages())
    for (const char* sub : kWheelSubdirs) {
      std::string d = sp + "/" + sub;
      if (is_dir(d)) out.push_back(d);
    }
  return out;
}

std::string describe_search(bool resolve) {
  std::ostringstream o;
  const char* e = std::getenv("RESNODE_CUDA_LIB_DIRS");
  o << "RESNODE_CUDA_LIB_DIRS (" << (e && *e ? e : "unset") << "), ";
  if (resolve) {
    auto& sp = site_packages();
    if (sp.empty()) {
      o << "no python3 site-packages (" << python_name() << " not found or without site-packages)";
    } else {
      o << "python3 site-packages [";
      for (size_t i = 0; i < sp.size(); i++) o << (i ? ", " : "") << sp[i];
      o << "]/{nvidia/cudnn/lib, nvidia/cu13/lib, nvidia/cublas/lib}";
    }
  } else {
    o << "python3 site-packages/{nvidia/cudnn/lib, nvidia/cu13/lib, nvidia/cublas/lib}";
  }
  o << ", then the default loader path (LD_LIBRARY_PATH, ldconfig cache)";
  return o.str();
}

std::string preload_any(const std::vector<std::string>& sonames) {
  for (const auto& dir : library_dirs())
    for (const auto& so : sonames) {
      std::string p = dir + "/" + so;
      if (is_file(p) && dlopen(p.c_str(), RTLD_LAZY | RTLD_LOCAL)) return p;
    }
  return "";
}

LoadResult load_library(const std::vector<std::string>& sonames,
                        const std::function<std::vector<std::string>(const std::string&)>& companions) {
  LoadResult r;
  for (const auto& dir : library_dirs()) {
    for (const auto& so : sonames) {
      std::string p = dir + "/" + so;
      if (!is_file(p)) {
        r.tried.push_back(p + " (not found)");
        continue;
      }
      for (const auto& c : companions(so)) {
        std::string cp = dir + "/" + c;
        if (!is_file(cp)) continue;
        // Kept loaded for the life of the process (the handle is never closed).
        if (!dlopen(cp.c_str(), RTLD_LAZY | RTLD_LOCAL)) r.notes.push_back(cp + " (" + dl_error() + ")");
      }
      void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (h) {
        r.handle = h;
        r.path = p;
        return r;
      }
      r.tried.push_back(p + " (" + dl_error() + ")");
    }
  }
  for (const auto& so : sonames) {
    void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) {
      r.handle = h;
      r.path = so;
      // report the file the loader picked
      char origin[4096];
      if (dlinfo(h, RTLD_DI_ORIGIN, origin) == 0) r.path = std::string(origin) + "/" + so;
      return r;
    }
    r.tried.push_back(so + " on the default loader path (" + dl_error() + ")");
  }
  return r;
}

}  // namespace cuda
}  // namespace rn
