#!/usr/bin/env bash
# Idle RSS and CPU of `holdfast serve` over a window (default 600 s), read from /proc.
# Usage: npm run build && bash scripts/serve-idle.sh [SECONDS]
set -euo pipefail
window="${1:-600}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d -t holdfast-serve-idle-XXXXXX)"
trap 'rm -rf "$work"' EXIT
node "$root/bin/holdfast.js" --repo "$work/repo" init >/dev/null
cat > "$work/holdfast.yml" <<YML
repo: $work/repo
services:
  db: postgres://postgres@127.0.0.1:1/app
jobs:
  nightly: { type: backup, schedule: "0 30 2 * * *" }
  prune: { type: forget, schedule: "0 0 4 * * *", keep: { daily: 7 } }
serve:
  metrics: { port: 0 }
YML
node "$root/bin/holdfast.js" --config "$work/holdfast.yml" serve > "$work/serve.log" 2>&1 &
pid=$!
sleep 10 # start-up (module loading) is not idle time
clk=$(getconf CLK_TCK)
t0=$(awk '{print $14+$15}' "/proc/$pid/stat"); s0=$(date +%s.%N)
sleep "$window"
t1=$(awk '{print $14+$15}' "/proc/$pid/stat"); s1=$(date +%s.%N)
rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status"); hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
awk -v t="$((t1 - t0))" -v c="$clk" -v a="$s0" -v b="$s1" -v r="$rss" -v h="$hwm" -v w="$window" \
  'BEGIN { printf "serve idle over %ss: %.3f%% of a core, RSS %.1f MB (peak %.1f MB)\n", w, t / c / (b - a) * 100, r / 1024, h / 1024 }'
kill -TERM "$pid"; wait "$pid"
