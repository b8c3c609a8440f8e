// Runtime SIMD dispatch without separate builds: GCC compiles a function tagged RN_VEC for
// x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA) and baseline, and the loader's ifunc resolver picks
// one on the user's CPU. The binary therefore runs on any x86-64 and uses what the CPU has.
#pragma once
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RN_NO_CLONES)
#define RN_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RN_VEC
#endif
namespace rn {
// "avx512", "avx2" or "baseline": what RN_VEC functions run on this CPU.
const char* simd_level();
}
