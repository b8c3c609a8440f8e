#!/usr/bin/env python3
"""PyTorch reference timings for resnode's benchmarks.

Kernel part (`resnode bench kernels`, this file's only part so far): BatchNorm2d (training mode)
-> [add the residual] -> ReLU, forward and forward+backward, channels-first and channels-last, at
the shapes and thread count of that suite, so its --compare-torch can print ratios. Two PyTorch
formulations are timed and the faster one is the comparison point:
  torch          y = relu(batch_norm(x) + r)                    (out of place)
  torch inplace  out = batch_norm(x); out += r; relu_(out)      (torchvision's BasicBlock)
forward+backward runs y.backward(dy) with x, r, weight and bias requiring grad (eager autograd,
what a PyTorch user gets). Before every repetition a 64 MiB tensor is read, as the kernel suite does
with benchFlush, so neither side starts with its operands in cache.

Usage (Debian's interpreter has torch 1.13 CPU; the python3 first on PATH may not):
  /usr/bin/python3 bench/e2e/torch_ref.py [--threads 2] [--reps 15] [--warmup 3] [--flush-mb 64]
                                          [--json] [--cases FILE|-] [--kernels-only] [--serve]
--cases takes the JSON list the kernel suite sends ([{key, variant, pass, shape, layout}]); without it
the default kernel cases are run. Output: a table, or with --json
  {"torch": version, "threads": n, "results": [{"key", "impl", "times_ms": [...]}]}
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = [[32, 64, 56, 56], [128, 16, 32, 32], [128, 64, 8, 8]]


def default_cases():
    out = []
    for shape in SHAPES:
        for layout in ('NCHW', 'NHWC'):
            for variant in ('bn+relu', 'bn+add+relu'):
                for p in ('fwd', 'fwd+bwd'):
                    key = '%s %s %s %s' % (variant, p, 'x'.join(map(str, shape)), layout)
                    out.append({'key': key, 'variant': variant, 'pass': p, 'shape': shape, 'layout': layout})
    return out


def kernel_case(case, reps, warmup, flush):
    shape, layout = case['shape'], case['layout']
    residual = case['variant'] == 'bn+add+relu'
    bwd = case['pass'] == 'fwd+bwd'
    fmt = torch.channels_last if layout == 'NHWC' else torch.contiguous_format
    C = shape[1]
    x = (torch.randn(shape) * 2 + 0.5).contiguous(memory_format=fmt)
    r = torch.randn(shape).contiguous(memory_format=fmt) if residual else None
    dy = torch.randn(shape).contiguous(memory_format=fmt) if bwd else None
    w = torch.randn(C) * 0.1 + 1
    b = torch.randn(C) * 0.1
    rm, rv = torch.zeros(C), torch.ones(C)
    for t in (x, r, w, b):
        if t is not None:
            t.requires_grad_(bwd)

    def eager():
        z = F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)
        if r is not None:
            z = z + r
        return torch.relu(z)

    def inplace():
        out = F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)
        if r is not None:
            out += r
        return torch.relu_(out)

    results = {}
    for name, f in (('torch', eager), ('torch inplace', inplace)):
        times = []
        for i in range(warmup + reps):
            if flush is not None:
                flush.sum()
            for t in (x, r, w, b):
                if t is not None:
                    t.grad = None
            t0 = time.perf_counter()
            y = f()
            if bwd:
                y.backward(dy)
            t1 = time.perf_counter()
            del y
            if i >= warmup:
                times.append((t1 - t0) * 1e3)
        results[name] = times
    return results


def serve(flush):
    """--serve: one JSON request per stdin line, {"case": {...}, "reps": n, "warmup": n}; one JSON
    line back, {"key", "results": {impl: [ms, ...]}}. `resnode bench kernels` uses this to alternate
    resnode and PyTorch case by case, with both processes alive but only one running."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        res = kernel_case(req['case'], req.get('reps', 15), req.get('warmup', 3), flush)
        sys.stdout.write(json.dumps({'key': req['case']['key'], 'results': res}) + '\n')
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=15)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--flush-mb', type=int, default=64)
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--cases', default=None, help='JSON file with the cases, or - for stdin')
    ap.add_argument('--kernels-only', action='store_true', help='run the kernel part only (the only part so far)')
    ap.add_argument('--serve', action='store_true', help='answer kernel cases read from stdin, one JSON line each')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.serve:
        sys.stdout.write(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads()}) + '\n')
        sys.stdout.flush()
        serve(torch.ones(a.flush_mb << 18) if a.flush_mb > 0 else None)
        return
    if a.cases is None:
        cases = default_cases()
    elif a.cases == '-':
        cases = json.load(sys.stdin)
    else:
        with open(a.cases) as f:
            cases = json.load(f)
    flush = torch.ones(a.flush_mb << 18) if a.flush_mb > 0 else None
    results = []
    for c in cases:
        for impl, times in kernel_case(c, a.reps, a.warmup, flush).items():
            results.append({'key': c['key'], 'impl': impl, 'times_ms': times})
    if a.json:
        json.dump({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results}, sys.stdout)
        sys.stdout.write('\n')
        return
    print('PyTorch %s, %d threads' % (torch.__version__, torch.get_num_threads()))
    for r in results:
        ts = sorted(r['times_ms'])
        print('%-44s %-14s %8.3f ms  (p10 %.3f, p90 %.3f)' % (r['key'], r['impl'], ts[len(ts) // 2],
                                                            ts[len(ts) // 10], ts[(len(ts) * 9) // 10]))


if __name__ == '__main__':
    main()
