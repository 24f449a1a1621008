#!/usr/bin/env bash
# Measure everything docs/performance.md reports, on this machine, in one go.
#   bash tools/perf_report.sh OUT_DIR
# Needs darktable-cli and rawtherapee-cli (Debian: darktable, rawtherapee) for the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/darkroom-perf}
mkdir -p "$OUT"
export PYTHONPATH=$PWD
DNG=$OUT/frame12mp.dng
[ -f "$DNG" ] || python3 -c "from engine.io.testdata import write_synthetic_dng as w; w('$DNG')"
lscpu | grep -E "Model name|^CPU\(s\)" > "$OUT/machine.txt"
free -g | head -2 >> "$OUT/machine.txt"

timed() {  # name, command...: wall seconds and peak RSS of a fresh process
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/$name.time" "$@" > "$OUT/$name.log" 2>&1 || true
  read -r wall rss < "$OUT/$name.time"
  printf '| %s | %s | %.0f |\n' "$name" "$wall" "$((rss / 1024))" | tee -a "$OUT/e2e.md"
}
echo "| command | wall s | peak RSS MB |" > "$OUT/e2e.md"
echo "|---|---|---|" >> "$OUT/e2e.md"
for model in fast baseline lite none; do
  for prec in fp32 bf16; do
    [ "$model" = none ] && [ "$prec" = bf16 ] && continue
    rm -f "$OUT/out-$model-$prec.jpg"
    timed "darkroom-$model-$prec" python3 -m engine.cli.main enhance "$DNG" --model "$model" \
      --ratio 100 --precision "$prec" -o "$OUT/out-$model-$prec.jpg" -q
  done
done
rm -rf "$OUT/dtconf" "$OUT/dt.jpg" "$OUT/rt.jpg"
timed darktable-cli darktable-cli "$DNG" "$OUT/dt.jpg" --core --configdir "$OUT/dtconf"
timed rawtherapee-cli rawtherapee-cli -o "$OUT/rt.jpg" -c "$DNG"
python3 -m engine.cli.main bench "$DNG" --json --repeat 2 > "$OUT/bench.json"
python3 -m engine.cli.main bench "$DNG" --repeat 2 > "$OUT/bench.md" || true
QT_QPA_PLATFORM=offscreen python3 tools/bench_preview.py --repeat 5 > "$OUT/preview.txt" 2>&1 || true
cat "$OUT/bench.md" "$OUT/preview.txt"
