#!/usr/bin/env bash
# Compares the whole pipeline's CPU per visit between two revisions on this
# machine, alternating runs so that both see the same machine:
#
#   scripts/bench-compare.sh OLD [NEW] [RUNS] [DURATION]
#
# NEW defaults to the working tree, RUNS to 2, DURATION to 20s. Each run
# starts a fresh `rcm dev` of that revision (embedded NATS, private Postgres
# with fsync on), offers 1,000 visits/s for DURATION with 128 clients, waits
# for every visit to reach claim.reconciled, and prints the CPU used by every
# rcm and postgres process from the start of the load to the end of the
# drain, per visit. The same build varies by about 8 % between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: scripts/bench-compare.sh OLD [NEW] [RUNS] [DURATION]}
new=${2:-}
runs=${3:-2}
duration=${4:-20s}
port=18191

work=$(mktemp -d /tmp/rcm-compare-XXXXXX)
chmod 755 "$work" # the postgres user must reach the private cluster
dev=""
cleanup() {
	if [ -n "$dev" ]; then
		kill -INT "$dev" 2>/dev/null || true
		wait "$dev" 2>/dev/null || true
	fi
	for t in "$work"/tree-*; do
		[ -d "$t" ] && git worktree remove --force "$t" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

# build NAME REV: rcm of REV (the working tree when REV is empty).
build() {
	if [ -z "$2" ]; then
		go build -o "$work/rcm-$1" ./cmd/rcm
		return
	fi
	git worktree add -f --detach "$work/tree-$1" "$2" >/dev/null 2>&1
	(cd "$work/tree-$1" && go build -o "$work/rcm-$1" ./cmd/rcm)
}

. scripts/cpu-ticks.sh

run() {
	local bin="$work/rcm-$1" dir="$work/data-$1-$2"
	"$bin" dev --data-dir "$dir" --addr "127.0.0.1:$port" --web-addr "127.0.0.1:$((port + 2))" >"$dir.log" 2>&1 &
	dev=$!
	for _ in $(seq 1 300); do
		curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	local before after
	before=$(cpu_ticks)
	"$bin" loadgen --addr "127.0.0.1:$port" --data-dir "$dir" --clients 128 --duration "$duration" --warmup 3s --rate 1000 >"$dir.out"
	after=$(cpu_ticks)
	kill -INT "$dev" && wait "$dev" 2>/dev/null || true
	dev=""
	awk -v name="$1" -v i="$2" -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" '
		/accepted/ { n = $2 }
		/^  reconciled/ { rec = $4; gsub(/[(),]/, "", rec); drain = /draining/ ? $NF : "-" }
		END {
			cpu = (b - a) / hz
			printf "%-4s run %d: %.2f ms of CPU per visit (%d visits, %.1f s), at most %.0f visits/s on %d cores; reconciled %s during the load, draining %s\n",
				name, i, cpu * 1000 / n, n, cpu, n * cores / cpu, cores, rec, drain
		}' "$dir.out"
}

echo "== $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ); old $old, new ${new:-working tree}"
build old "$old"
build new "$new"
for i in $(seq 1 "$runs"); do
	run old "$i"
	run new "$i"
done
