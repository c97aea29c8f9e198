#!/usr/bin/env bash
# Shows the pipeline surviving failures, with the real rcm binary as
# separate processes (the tests in test/fault, run verbosely):
#
#   scale-out   3-node JetStream cluster (R3 streams), two processes of every
#               service; the intake stream's leader node and one process of
#               each service SIGKILLed half-way through 300 visits at 50/s
#   postgres    PostgreSQL stopped for 5 s mid-load, a stage lagging
#   nats        the NATS server SIGKILLed mid-load and restarted 5 s later
#   poison      undecodable and refused events on every stage's input
#
# Each ends by checking every accepted visit went through each stage exactly
# once, in the streams and in the services' tables.
#
#   scripts/fault-demo.sh                 # all four, about two minutes
#   scripts/fault-demo.sh postgres nats   # some of them
#   KEEP=1 scripts/fault-demo.sh          # keep each failed test's logs and data
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A tests=(
	[scale-out]=TestScaleOutSurvivesKills
	[postgres]=TestPostgresRestartMidLoad
	[nats]=TestNATSRestartMidLoad
	[poison]=TestPoisonMessages
)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	names=(scale-out postgres nats poison)
fi
run=()
for n in "${names[@]}"; do
	if [ -z "${tests[$n]:-}" ]; then
		echo "unknown test $n (have: ${!tests[*]})" >&2
		exit 2
	fi
	run+=("${tests[$n]}")
done
pattern="^($(IFS='|'; echo "${run[*]}"))\$"

RCM_FAULT_KEEP=${KEEP:-} go test -count=1 -v -timeout 15m -run "$pattern" ./test/fault/ 2>&1 |
	grep -E '^(=== RUN|--- |PASS|FAIL|ok)|posted|down for|settled|accepted:|dead letters|total|not |kept'
