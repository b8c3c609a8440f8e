#!/usr/bin/env python3
"""PyTorch reference for resnode's end-to-end benchmarks (`resnode bench train --compare-torch`).

Same models, shapes, optimiser (SGD momentum 0.9, weight decay 5e-4) and thread count as
lib/cli/bench.ts: CIFAR ResNet-20/56 (option A shortcuts) at batch 128 on 3x32x32, torchvision
resnet18/resnet50 at batch 32 on 3x224x224 (training steps), and resnet18 inference latency at
batch 1. Both memory formats are timed; the faster is the comparison point (PyTorch's best).

  /usr/bin/python3 bench/e2e/torch_train.py --case resnet20 --threads 2 --steps 5 --json
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F


class ShortcutA(nn.Module):
    def __init__(self, planes):
        super().__init__(); self.pad = planes // 4
    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class Basic(nn.Module):
    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes) if stride != 1 or inp != planes else nn.Identity()
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False); self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(Basic(inp, planes, stride if i == 0 else 1)); inp = planes
        self.layers = nn.Sequential(*layers); self.fc = nn.Linear(64, num_classes)
    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def model_for(name):
    if name in ('resnet20', 'resnet56'):
        return CifarResNet(int(name[6:])), 128, 32
    import torchvision
    return getattr(torchvision.models, name)(num_classes=1000), 32, 224


def time_train(name, steps, warmup, channels_last):
    torch.manual_seed(0)
    m, batch, size = model_for(name)
    x = torch.randn(batch, 3, size, size); y = torch.randint(0, 10, (batch,))
    if channels_last:
        m = m.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        opt.step()
    for _ in range(warmup): step()
    times = []
    for _ in range(steps):
        t = time.perf_counter(); step(); times.append((time.perf_counter() - t) * 1000)
    return batch, times


def time_infer(name, reps, warmup, channels_last):
    import torchvision
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)().eval(); x = torch.randn(1, 3, 224, 224)
    if channels_last:
        m = m.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for _ in range(warmup): m(x)
        times = []
        for _ in range(reps):
            t = time.perf_counter(); m(x); times.append((time.perf_counter() - t) * 1000)
    return 1, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--case', required=True, help='resnet20 | resnet56 | resnet18 | resnet50 | resnet18-infer')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = []
    for cl in (False, True):
        if a.case.endswith('-infer'):
            batch, t = time_infer(a.case[:-6], a.steps, a.warmup, cl)
        else:
            batch, t = time_train(a.case, a.steps, a.warmup, cl)
        out.append({'layout': 'NHWC' if cl else 'NCHW', 'batch': batch, 'times_ms': t})
    res = {'torch': torch.__version__, 'threads': a.threads, 'case': a.case, 'results': out}
    print(json.dumps(res) if a.json else res)


if __name__ == '__main__':
    main()
