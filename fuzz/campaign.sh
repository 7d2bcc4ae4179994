#!/usr/bin/env bash
# A fuzz campaign: every cargo-fuzz target for DURATION_SECONDS, JOBS targets at a time, with
# one dated row per target appended to CAMPAIGN.md (seconds run, executions, libFuzzer coverage,
# findings).
#
#   fuzz/campaign.sh DURATION_SECONDS [JOBS]      (JOBS defaults to 2)
#
# Each target runs its optimised libFuzzer binary directly (built once with `cargo fuzz build
# -O`), on the scratch corpus `corpus/<target>` plus the committed seeds `seeds/<target>`.
# When a run finds a crash (or leak/timeout/oom) it is restarted for the remaining time, so one
# finding does not end the campaign; every new file in `artifacts/<target>/` is listed as a
# finding. Logs go to `target/campaign-logs/<target>.log` (git-ignored).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); stable Rust works with
# RUSTC_BOOTSTRAP=1, which this script sets.
set -euo pipefail

usage() {
  echo "usage: $0 DURATION_SECONDS [JOBS]" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
duration=$1
jobs=${2:-2}
[[ $duration =~ ^[1-9][0-9]*$ ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || {
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
}

# Extra libFuzzer flags per target (the README's recommendations).
extra_flags() {
  case $1 in
    parse_conf) echo "-max_len=4096" ;;
    *) echo "" ;;
  esac
}

mapfile -t targets < <(cargo fuzz list)
[ ${#targets[@]} -gt 0 ] || {
  echo "no fuzz targets" >&2
  exit 1
}
echo "campaign: building ${targets[*]}" >&2
cargo fuzz build -O
triple=$(rustc -vV | sed -n 's/^host: //p')
bindir=target/$triple/release
logs=target/campaign-logs
mkdir -p "$logs"
commit=$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)
started=$(date -u +%Y-%m-%dT%H:%MZ)

# Runs one target for $duration seconds (restarting after a finding); writes
# logs/<target>.result as "seconds executions cov ft corpus findings", seconds being the wall
# time it really ran (less than asked when libFuzzer stopped early).
run_target() {
  local t=$1
  local started_at=$SECONDS
  local log=$logs/$t.log
  mkdir -p "corpus/$t" "artifacts/$t"
  : >"$log"
  local before
  before=$(ls "artifacts/$t" | sort)
  local deadline=$((SECONDS + duration))
  local execs=0 segment=0
  # shellcheck disable=SC2046
  while [ $SECONDS -lt "$deadline" ]; do
    segment=$((segment + 1))
    local left=$((deadline - SECONDS))
    echo "=== segment $segment: $left s" >>"$log"
    local status=0 seg_start=$SECONDS
    "$bindir/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$left" \
      -print_final_stats=1 $(extra_flags "$t") "corpus/$t" "seeds/$t" >>"$log" 2>&1 || status=$?
    # Executions of this segment: the final stats line, else the last progress line.
    local n
    n=$(awk '/^=== segment/{n=""} /stat::number_of_executed_units:/{n=$2} END{print n}' "$log")
    if [ -z "$n" ]; then
      n=$(awk '/^=== segment/{n=0} /^#[0-9]+/{sub(/^#/,"",$1); n=$1} END{print n+0}' "$log")
    fi
    execs=$((execs + n))
    if [ "$status" -eq 0 ]; then
      break
    fi
    # A finding: go on for the remaining time. Stop on an exit that left no artifact (a
    # libFuzzer usage error) or a crash within seconds (a seed that crashes at load time).
    if [ "$(ls "artifacts/$t" | sort)" = "$before" ] || [ $((SECONDS - seg_start)) -lt 10 ]; then
      echo "=== libFuzzer exited with $status after $((SECONDS - seg_start)) s: stopping" >>"$log"
      break
    fi
    sleep 1
  done
  # Coverage: the last `cov:`/`ft:`/`corp:` figures libFuzzer printed (the DONE line when the
  # run ended normally).
  local cov ft corp
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | awk '{print $2}' || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | awk '{print $2}' || true)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n1 | awk '{print $2}' || true)
  local findings
  findings=$(comm -13 <(echo "$before") <(ls "artifacts/$t" | sort) | grep -v '^$' | tr '\n' ' ' || true)
  echo "$((SECONDS - started_at)) ${execs} ${cov:-?} ${ft:-?} ${corp:-?} ${findings:-none}" >"$logs/$t.result"
}

t0=$SECONDS
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "campaign: $t for ${duration}s" >&2
  run_target "$t" &
  running=$((running + 1))
done
wait
elapsed=$((SECONDS - t0))

report=CAMPAIGN.md
if [ ! -f "$report" ]; then
  cat >"$report" <<'EOF'
# Fuzz campaigns

Rows appended by `fuzz/campaign.sh DURATION_SECONDS [JOBS]` (see the script's header). `seconds`
is the wall time a target really ran (the duration asked for, unless libFuzzer stopped early),
with `jobs` targets sharing the machine at a time;
`executions` sums libFuzzer's `stat::number_of_executed_units` over the run's segments (a run
restarts after a finding), `cov`/`ft`/`corpus` are the last figures libFuzzer printed (its final
`DONE` line): `cov` counts covered edges (PCs), `ft` features (edge and counter combinations),
`corpus` inputs/bytes kept. Findings are the new files in `artifacts/<target>/`; a fixed one is
committed as a regression seed under `seeds/<target>/`.

| date (UTC) | commit | target | seconds | jobs | executions | exec/s | cov | ft | corpus | findings |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
fi
for t in "${targets[@]}"; do
  [ -f "$logs/$t.result" ] || echo "0 0 ? ? ? run-failed(see-$logs/$t.log)" >"$logs/$t.result"
  read -r seconds execs cov ft corp findings <"$logs/$t.result"
  rate=$((execs / (seconds > 0 ? seconds : 1)))
  row="| $started | $commit | $t | $seconds | $jobs | $execs | $rate | $cov | $ft | $corp | $findings |"
  echo "$row" >>"$report"
  echo "$row"
done
echo "campaign: done in ${elapsed}s; rows appended to fuzz/$report" >&2
