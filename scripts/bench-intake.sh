#!/usr/bin/env bash
# Measures intake and the coder on this machine: 32 concurrent clients firing signed visits
# at `rcm dev` (embedded NATS, private Postgres with fsync on, everything
# local), beside the raw JetStream ceiling measured in the same run against
# the same NATS server (natscli's `nats bench js pub async`, 1 KiB, file
# storage). The ceiling runs second so that its 200 MB of writes do not
# compete with intake's fsyncs.
#
#   scripts/bench-intake.sh [duration]     (default 20s)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
port=18181

work=$(mktemp -d /tmp/rcm-bench-XXXXXX)
chmod 755 "$work" # the postgres user must reach the private cluster
go build -o "$work/rcm" ./cmd/rcm

"$work/rcm" dev --data-dir "$work/data" --addr "127.0.0.1:$port" >"$work/dev.log" 2>&1 &
dev=$!
cleanup() {
	kill -INT "$dev" 2>/dev/null || true
	wait "$dev" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
	curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
nats_url=$(cat "$work/data/nats.url")

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== intake: rcm loadgen, 32 clients, $duration"
"$work/rcm" loadgen --addr "127.0.0.1:$port" --data-dir "$work/data" --clients 32 --duration "$duration" --warmup 3s

echo "== ceiling: nats bench js pub async, 1 KiB, file storage, same server"
go run github.com/nats-io/natscli/nats@v0.5.0 bench js pub async rcm.bench \
	--server "$nats_url" --stream RCMBENCH --create --purge --storage file \
	--size 1KB --msgs 200000 --no-progress 2>&1 | grep -E "stats|Pub|msgs/sec" || true

