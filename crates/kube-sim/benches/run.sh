#!/usr/bin/env bash
# Benchmark of the simulator: the standalone binary pinned to core 0, the load generator
# (benches/load.rs) to core 1. Prints requests/second for GET, LIST of 100 objects and
# server-side apply, watch fan-out latency, and port-forward throughput beside direct TCP.
#
#   crates/kube-sim/benches/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -p kube-sim --bin kube-sim
cargo bench -p kube-sim --bench load --no-run
load=$(ls -t target/release/deps/load-* | grep -v '\.d$' | head -n 1)
out=$(mktemp)
taskset -c 0 target/release/kube-sim --port 0 >"$out" &
sim=$!
trap 'kill "$sim" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q READY "$out" && break; sleep 0.1; done
read -r _ url kubeconfig <"$out"
taskset -c 1 "$load" "$url" "$kubeconfig" "$sim"
