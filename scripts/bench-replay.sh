#!/usr/bin/env bash
# Measures `rcm replay --stage coder --dry-run` over 100,000 coded visits
# (or $1) on this machine: synthetic visits from internal/demo published to
# an embedded JetStream, their codings in a private Postgres (fsync off, as
# every test's), then a dry-run replay under the rules they were coded with
# (0 changed) and one with 97530 charged dearer (every visit billing it
# printed with its diff); last, that replay for real (a transaction per
# changed visit, its visit.coded published). The figure is the "s/replay"
# of each.
#
#   scripts/bench-replay.sh [visits]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ)"
RCM_BENCH_REPLAY_VISITS=${1:-100000} go test -run '^$' -bench BenchmarkReplayCoderDryRun -benchtime 1x -timeout 30m -v ./services/coder
