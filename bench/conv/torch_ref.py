#!/usr/bin/python3
# PyTorch (oneDNN) reference timings for the shapes in shapes.json, 2 threads, both memory formats.
# Forward = F.conv2d; backward = aten.convolution_backward for input and weight (dgrad + wgrad; what
# autograd.grad w.r.t. (x, w) runs), the same work bench.js times. Times are the minimum over single
# calls in short alternating windows. Prints one JSON line per (shape, layout).
# Run with Debian's /usr/bin/python3 (it has torch); threads via RN_BENCH_THREADS (default 2).
import json, os, sys, time
import torch
import torch.nn.functional as F

threads = int(os.environ.get("RN_BENCH_THREADS", "2"))
torch.set_num_threads(threads)
here = os.path.dirname(os.path.abspath(__file__))
shapes = json.load(open(os.path.join(here, "shapes.json")))["shapes"]
only = sys.argv[1:]


def best_ms_all(fns, min_time=float(os.environ.get("RN_BENCH_SECONDS", "1.0")), windows=6):
    # minimum over single calls, over short windows alternating between the functions (as bench.js):
    # robust against other processes sharing the 2 cores
    for f in fns:
        f(); f()
    best = [float("inf")] * len(fns)
    for _ in range(windows):
        for i, fn in enumerate(fns):
            n, t_end = 0, time.perf_counter() + min_time / windows
            while n < 2 or time.perf_counter() < t_end:
                t0 = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t0)
                n += 1
    return [b * 1e3 for b in best]


for name, N, C, K, H, W, R, S, st, pad in shapes:
    if only and name not in only:
        continue
    P = (H + 2 * pad - R) // st + 1
    Q = (W + 2 * pad - S) // st + 1
    flop = 2.0 * N * K * C * R * S * P * Q
    for layout in ("nchw", "nhwc"):
        mf = torch.channels_last if layout == "nhwc" else torch.contiguous_format
        torch.manual_seed(0)
        x = torch.randn(N, C, H, W).to(memory_format=mf).requires_grad_(True)
        w = (torch.randn(K, C, R, S) * 0.1).to(memory_format=mf).requires_grad_(True)
        with torch.no_grad():
            y0 = F.conv2d(x, w, None, st, pad)
        dy = torch.randn_like(y0).to(memory_format=mf)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, None, st, pad)

        def bwd():
            # exactly what autograd runs for conv2d's backward (dgrad + wgrad, no bias)
            torch.ops.aten.convolution_backward(dy, x, w, None, [st, st], [pad, pad], [1, 1], False, [0, 0], 1,
                                                [True, True, False])

        fms, bms = best_ms_all([fwd, bwd])
        print(json.dumps({"name": name, "layout": layout, "fwd_ms": round(fms, 3), "bwd_ms": round(bms, 3),
                          "fwd_gflops": round(flop / fms / 1e6, 1), "bwd_gflops": round(2 * flop / bms / 1e6, 1)}),
              flush=True)
