#!/usr/bin/env bash
# Write the JSON summary of every shipped scenario (and the default, under three policies) into a folder, so that
# restructuring and speed commits can be checked byte-identical: `bash scripts/summaries.sh /tmp/before`, change,
# `npm run build && bash scripts/summaries.sh /tmp/after && diff -r /tmp/before /tmp/after`.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/summaries.sh OUT_DIR}"
mkdir -p "$out"
bin="node dist/src/cli/bin.js"
for f in scenarios/*.yaml; do
  n=$(basename "$f" .yaml)
  $bin run "$f" --json > "$out/$n.json" 2> "$out/$n.err" || echo "exit $? for $f" >> "$out/_failures.txt"
done
for p in round-robin least-request gie-default; do
  $bin run --policy "$p" --json > "$out/default-$p.json" 2> "$out/default-$p.err" || echo "exit $? for default $p" >> "$out/_failures.txt"
done
for f in scenarios/epp/*.yaml; do
  n=$(basename "$f" .yaml)
  $bin run --epp-config "$f" --json > "$out/epp-$n.json" 2> "$out/epp-$n.err" || echo "exit $? for epp $f" >> "$out/_failures.txt"
done
echo "summaries in $out"
