// Finding and dlopen()ing NVIDIA's libraries at first use (cuDNN, cuBLAS). Search order:
//   1. RESNODE_CUDA_LIB_DIRS (':'-separated folders)
//   2. the Python wheel layout, when a python3 is present: <site-packages>/nvidia/cudnn/lib,
//      nvidia/cu13/lib, nvidia/cublas/lib (site-packages from running python3 once; RESNODE_PYTHON
//      names another interpreter)
//   3. the default loader path (LD_LIBRARY_PATH, the ldconfig cache, /lib, /usr/lib)
// A library found in a folder is loaded by full path after its companions from the same folder
// (cuDNN 9's sub-libraries, which its shim would otherwise look up by bare soname and might take
// from another installation: CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace rn {
namespace cuda {

struct LoadResult {
  void* handle = nullptr;
  std::string path;                // what was loaded
  std::vector<std::string> tried;  // "path (reason)" for every attempt, in order
  std::vector<std::string> notes;  // companions that could not be preloaded
};

// sonames: candidates in order of preference (e.g. libcublas.so.13, libcublas.so.12).
// companions(soname): sonames to preload from the same folder first (in dependency order).
LoadResult load_library(const std::vector<std::string>& sonames,
                        const std::function<std::vector<std::string>(const std::string&)>& companions);

// dlopen()s the first of `sonames` found in any folder of steps 1 and 2 (kept loaded), so a
// library that another one loads by bare soname at run time is found (cuDNN's runtime-compiled
// engines load NVRTC that way). Returns the path, or "" when none was found.
std::string preload_any(const std::vector<std::string>& sonames);

// The folders of steps 1 and 2 (step 2 runs python3 once, lazily).
std::vector<std::string> library_dirs();
// One line naming the search (without running python3 when resolve is false).
std::string describe_search(bool resolve);

}  // namespace cuda
}  // namespace rn
