#!/usr/bin/env bash
# Measures the pipeline on this machine, everything local: `rcm dev` with
# embedded NATS and a private Postgres with fsync on, 32 concurrent clients
# firing distinct valid signed visits.
#
#   1. intake alone (`rcm dev --stages intake`): durable visits/s and latency;
#   2. the whole pipeline (intake, coder, submitter with its 837P batches,
#      the payer simulator's 999, 277CA and 835, and denials posting them):
#      each stage's rate, its rate draining its backlog once the load stops,
#      and the latency from webhook to each stage's event; at 1,000 visits/s
#      offered (the end-to-end target), then at 100 visits/s (the latency
#      target: webhook to claim.submitted under 1 s at p99);
#   3. the raw JetStream ceiling against the same NATS server (natscli's
#      `nats bench js pub async`, 1 KiB, file storage), last, so that its
#      200 MB of writes do not compete with the stages' fsyncs.
#
#   scripts/bench-intake.sh [duration]     (default 20s)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
port=18181

work=$(mktemp -d /tmp/rcm-bench-XXXXXX)
chmod 755 "$work" # the postgres user must reach the private cluster
go build -o "$work/rcm" ./cmd/rcm

dev=""
stop_dev() {
	if [ -n "$dev" ]; then
		kill -INT "$dev" 2>/dev/null || true
		wait "$dev" 2>/dev/null || true
		dev=""
	fi
}
trap 'stop_dev; rm -rf "$work"' EXIT

. scripts/cpu-ticks.sh

# start_dev NAME STAGES: a fresh rcm dev in its own data dir.
start_dev() {
	"$work/rcm" dev --data-dir "$work/$1" --addr "127.0.0.1:$port" --web-addr "127.0.0.1:$((port + 2))" --stages "$2" >"$work/$1.log" 2>&1 &
	dev=$!
	for _ in $(seq 1 300); do
		curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "rcm dev did not become ready; log:" >&2
	cat "$work/$1.log" >&2
	exit 1
}

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ)"

echo "== 1. intake alone: rcm loadgen, 32 clients, $duration"
start_dev intake intake
"$work/rcm" loadgen --addr "127.0.0.1:$port" --data-dir "$work/intake" --clients 32 --duration "$duration" --warmup 3s
stop_dev

# 128 clients: each waits for its answer, so at intake's loaded latency
# (60-140 ms) 32 could not offer 1,000 visits/s.
echo "== 2. whole pipeline: rcm loadgen, 128 clients, $duration"
start_dev pipeline intake,coder,submitter,denials
cpu_before=$(cpu_ticks)
"$work/rcm" loadgen --addr "127.0.0.1:$port" --data-dir "$work/pipeline" --clients 128 --duration "$duration" --warmup 3s --rate 1000 | tee "$work/pipeline.out"
cpu_after=$(cpu_ticks)
visits=$(awk '/accepted/ {print $2; exit}' "$work/pipeline.out")
awk -v a="$cpu_before" -v b="$cpu_after" -v n="$visits" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" 'BEGIN {
	cpu = (b - a) / hz
	printf "  cpu       %.1f s of rcm dev and Postgres for %d visits, webhook to claim.reconciled: %.2f ms per visit, at most %.0f visits/s on %d cores\n", cpu, n, cpu * 1000 / n, n * cores / cpu, cores }'
stop_dev

echo "== 2b. whole pipeline at 100 visits/s: latency per stage"
start_dev pipeline100 intake,coder,submitter,denials
"$work/rcm" loadgen --addr "127.0.0.1:$port" --data-dir "$work/pipeline100" --clients 16 --duration "$duration" --warmup 3s --rate 100
nats_url=$(cat "$work/pipeline100/nats.url")

echo "== 3. ceiling: nats bench js pub async, 1 KiB, file storage, same server"
go run github.com/nats-io/natscli/nats@v0.5.0 bench js pub async rcm.bench \
	--server "$nats_url" --stream RCMBENCH --create --purge --storage file \
	--size 1KB --msgs 200000 --no-progress 2>&1 | grep -E "stats|Pub|msgs/sec" || true
