#!/usr/bin/env bash
# Side-by-side conv2d timings: resnode (bench.js) vs PyTorch 1.13 / oneDNN (torch_ref.py), same shapes
# (shapes.json), same thread count, both memory formats, forward and backward (dgrad + wgrad).
# The two runs alternate ROUNDS times per shape and each number is the minimum over rounds, so a
# burst of load from other processes on the machine hits both sides alike.
#   bench/conv/compare.sh [shape names...]
# env: ROUNDS (default 3), RN_BENCH_THREADS (default 2), RN_BENCH_SECONDS (default 1),
#      RESNODE_CONV=reference (time the original implementation), RESNODE_ADDON (another build),
#      TORCH_PY (default /usr/bin/python3: Debian's python has torch),
#      RAW_DIR: keep the raw JSON lines there (appended), and take the minimum over everything in
#      it, so several invocations (e.g. at different times of a busy day) accumulate.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${ROUNDS:-3}"
py="${TORCH_PY:-/usr/bin/python3}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(node -e "for (const s of require('$here/shapes.json').shapes) console.log(s[0])")
fi
if [ -n "${RAW_DIR:-}" ]; then
  mkdir -p "$RAW_DIR"
  tmp="$RAW_DIR"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
fi
for name in "${names[@]}"; do
  for ((i = 0; i < rounds; i++)); do
    "$py" "$here/torch_ref.py" "$name" >>"$tmp/torch.jsonl"
    node "$here/bench.js" "$name" >>"$tmp/rn.jsonl"
  done
done
node - "$tmp/rn.jsonl" "$tmp/torch.jsonl" <<'JS'
const fs = require('fs');
const load = (f) => {
  const best = new Map();
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line), k = r.name + '/' + r.layout, b = best.get(k);
    if (!b) { best.set(k, r); continue; }
    for (const f of ['fwd', 'bwd']) if (r[f + '_ms'] < b[f + '_ms']) { b[f + '_ms'] = r[f + '_ms']; b[f + '_gflops'] = r[f + '_gflops']; }
  }
  return best;
};
const rn = load(process.argv[2]), th = load(process.argv[3]);
const pad = (s, n) => String(s).padStart(n);
console.log(`threads ${process.env.RN_BENCH_THREADS || 2}, min over ${process.env.RAW_DIR ? 'all runs in ' + process.env.RAW_DIR : (process.env.ROUNDS || 3) + ' alternating rounds'}; ratio = torch ms / resnode ms (>1: resnode faster)`);
console.log('shape        layout |  rn fwd ms   GF/s | torch fwd ms   GF/s | ratio ||  rn bwd ms   GF/s | torch bwd ms   GF/s | ratio');
for (const [k, r] of rn) {
  const t = th.get(k);
  if (!t) continue;
  const [name, layout] = k.split('/');
  console.log(`${name.padEnd(12)} ${layout.padEnd(6)} | ${pad(r.fwd_ms.toFixed(3), 9)} ${pad(r.fwd_gflops.toFixed(0), 6)} | ` +
    `${pad(t.fwd_ms.toFixed(3), 12)} ${pad(t.fwd_gflops.toFixed(0), 6)} | ${pad((t.fwd_ms / r.fwd_ms).toFixed(2), 5)} || ` +
    `${pad(r.bwd_ms.toFixed(3), 9)} ${pad(r.bwd_gflops.toFixed(0), 6)} | ${pad(t.bwd_ms.toFixed(3), 12)} ${pad(t.bwd_gflops.toFixed(0), 6)} | ` +
    `${pad((t.bwd_ms / r.bwd_ms).toFixed(2), 5)}`);
}
JS
