#!/usr/bin/env python3
"""PyTorch reference for bench/gpu/bench_train.js: images/s of full SGD training steps (forward,
cross-entropy, backward, momentum update) of CIFAR ResNet-20 (32x32, option-A shortcuts, the
ResNet paper's model, as rn.models.resnet20) or torchvision's ResNet-50 (224x224) on random data
already on the GPU, with the same batch, learning rate, momentum and weight decay.

  python3 bench/gpu/torch_ref.py --model resnet20|resnet50 [--batch 128] [--steps 20] [--warmup 5]
                                 [--tf32] [--channels-last] [--bf16] [--fit] [--device cuda] [--json FILE]

TF32: off unless --tf32 (then both cuDNN convolutions and matmuls may use it, as resnode's
rn.cuda.setAllowTF32(true)). cudnn.benchmark is on: like resnode, the first steps time every
convolution algorithm (the warmup absorbs it).
--channels-last: model and input in torch.channels_last (resnode: model.toChannelsLast()).
--bf16: forward and loss under torch.autocast(device_type, dtype=torch.bfloat16), backward and the
SGD step outside it, float32 master weights (resnode: rn.autocast('bf16', ...)): PyTorch's
recommended mixed-precision step; bf16 needs no GradScaler.
--fit: when the batch does not fit in device memory, halve it and try again (as bench_train.js).
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortcutA(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes) if stride != 1 or inp != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, n=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(BasicBlock(inp, planes, stride if i == 0 else 1))
                inp = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='resnet20', choices=['resnet20', 'resnet50'])
    ap.add_argument('--batch', type=int, default=None)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--tf32', action='store_true')
    ap.add_argument('--channels-last', action='store_true')
    ap.add_argument('--bf16', action='store_true')
    ap.add_argument('--fit', action='store_true')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--json', default=None)
    a = ap.parse_args()
    if a.device == 'cuda' and not torch.cuda.is_available():
        print('torch_ref: torch.cuda.is_available() is False', file=sys.stderr)
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    requested = a.batch or (64 if a.model == 'resnet50' else 128)
    batch, tried = requested, []
    while True:
        try:
            out = measure(a, dev, batch)
            break
        except torch.cuda.OutOfMemoryError as e:  # torch.OutOfMemoryError in 2.5+ (same class)
            if not a.fit or batch <= 1:
                raise
            tried.append({'batch': batch, 'error': str(e).split('\n')[0]})
            print('batch %d does not fit; trying %d' % (batch, batch // 2))
            batch //= 2
            torch.cuda.empty_cache()
    out.update({'batchRequested': requested, 'batchesTried': tried})
    tags = [t for t, on in (('TF32', a.tf32), ('bf16 autocast', a.bf16), ('channels-last', a.channels_last)) if on]
    print('%s batch %d %dx%d torch %s on %s%s: %.1f images/s, %.1f ms/step' % (
        a.model, batch, out['imageSize'], out['imageSize'], torch.__version__, out['device'],
        ' (%s)' % ', '.join(tags) if tags else '', out['imagesPerSec'], out['msPerStep']))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(out, f, indent=2)


def measure(a, dev, batch):
    torch.manual_seed(0)
    if a.model == 'resnet50':
        import torchvision
        m = torchvision.models.resnet50(num_classes=1000)
        size, classes = 224, 1000
    else:
        m = CifarResNet(3, 10)
        size, classes = 32, 10
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    m = m.to(dev).to(memory_format=fmt).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=fmt)
    y = torch.arange(batch, device=dev) % classes
    try:
        return run(a, dev, m, opt, x, y, batch, size)
    finally:
        del m, opt, x, y


def run(a, dev, m, opt, x, y, batch, size):
    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.bf16):
            loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    sync()
    warm = time.perf_counter() - t0
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    t1 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    final = loss.item()
    sync()
    dt = time.perf_counter() - t1
    return {
        'model': a.model, 'torch': torch.__version__, 'device': torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu',
        'batch': batch, 'imageSize': size, 'steps': a.steps, 'warmup': a.warmup, 'tf32': a.tf32,
        'channelsLast': a.channels_last, 'bf16': a.bf16, 'dtype': 'bfloat16 (autocast)' if a.bf16 else 'float32',
        'msPerStep': 1000 * dt / a.steps, 'imagesPerSec': batch * a.steps / dt,
        'warmupMs': 1000 * warm, 'finalLoss': final,
        'peakMemory': torch.cuda.max_memory_allocated() if dev.type == 'cuda' else None,
    }


if __name__ == '__main__':
    main()
