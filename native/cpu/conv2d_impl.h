// Internal interface of the conv2d CPU kernels (not part of kernels.h):
//  - conv2d_reference_*: the original im2col + OpenBLAS implementation (conv2d.cc), always
//    compiled. It is the path on CPUs without AVX-512 and for cases the fast kernels do not cover,
//    and the reference they are validated against (bench/conv/check.js and kbench.cc,
//    RESNODE_CONV=reference).
//  - conv2d_avx512_*: Winograd F(4x4,3x3) and direct implicit-GEMM convolution with AVX-512
//    micro-kernels (conv2d_avx512.cc). Each returns false, having done nothing, when it does not
//    handle the case (no AVX-512 on this CPU, horizontal stride > 2, non-x86 build); the caller
//    then runs the reference.
#pragma once
#include "kernels.h"

namespace rn {
namespace cpu {

void conv2d_reference_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p);
void conv2d_reference_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p);
void conv2d_reference_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p);

bool conv2d_avx512_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p);
// accumulate: dx += the result (Winograd only; false means "not done here", for any reason)
bool conv2d_avx512_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p, bool accumulate = false);
// whether conv2d_avx512_backward_data would accumulate for these parameters (the Winograd path)
bool conv2d_avx512_accumulates(const ConvParams& p);
bool conv2d_avx512_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p);

}  // namespace cpu
}  // namespace rn
