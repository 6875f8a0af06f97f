#!/usr/bin/env bash
# Compares kite with quinn on loopback, each against itself, with the perf
# protocol (draft-banks-quic-performance): `kite perf` and quinn-peer's
# perf-server/perf-client (interop/quinn-peer, quinn 0.11, a dev-only crate).
#
# Builds both in release, then runs ROUNDS rounds; in each, every workload runs
# once per stack, the stack that goes first alternating from round to round:
#
#   download  SIZE on one connection and one stream          (Mbit/s)
#   upload    SIZE on one connection and one stream          (Mbit/s)
#   conns     CONNS connections at once, CONN_SIZE download each (Mbit/s)
#   handshakes HANDSHAKES full handshakes, CONCURRENCY at a time  (per second)
#
# Every workload gets a fresh server; its peak RSS (VmHWM) is read before it
# is stopped: the round's largest is the "server peak RSS" row, and the rows
# under it give each workload's. Prints
# the per-metric medians over the rounds and the kite/quinn ratios.
#
# Settings (environment): ROUNDS=3 SIZE=1G CONN_SIZE=256M CONNS=4
# HANDSHAKES=2000 CONCURRENCY=16 TIMEOUT=600 (seconds per client run).
# Sizes take K/M/G suffixes, powers of 1024. A quick run:
#   ROUNDS=1 SIZE=256M CONN_SIZE=64M HANDSHAKES=500 bench/compare.sh
# Needs Linux (/proc) and coreutils `timeout`. Raw results stay in a
# temporary directory whose path is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-1G}
CONN_SIZE=${CONN_SIZE:-256M}
CONNS=${CONNS:-4}
HANDSHAKES=${HANDSHAKES:-2000}
CONCURRENCY=${CONCURRENCY:-16}
TIMEOUT=${TIMEOUT:-600}
# How long a server may take to print its `listening on ADDR` line.
SERVER_START_SECS=10

echo "building kite and quinn-peer (release)" >&2
cargo build --release --quiet -p kite-cli -p quinn-peer
target=${CARGO_TARGET_DIR:-target}/release
KITE=$target/kite
QUINN=$target/quinn-peer

work=$(mktemp -d "${TMPDIR:-/tmp}/kite-compare.XXXXXX")
server_pid=""

stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# server_cmd STACK: the perf server command of STACK (kite or quinn).
server_cmd() {
  case $1 in
    kite) echo "$KITE perf server" ;;
    quinn) echo "$QUINN perf-server" ;;
  esac
}

client_cmd() {
  case $1 in
    kite) echo "$KITE perf client" ;;
    quinn) echo "$QUINN perf-client" ;;
  esac
}

# start_server STACK: starts a server on 127.0.0.1:0; sets server_pid and
# server_addr from its first line.
start_server() {
  local out=$work/server.out
  : >"$out"
  # shellcheck disable=SC2046 # the command is words on purpose
  $(server_cmd "$1") --listen 127.0.0.1:0 >"$out" 2>>"$work/server-$1.err" &
  server_pid=$!
  local tries=$((SERVER_START_SECS * 10))
  while ((tries-- > 0)); do
    local line
    line=$(head -n 1 "$out")
    if [[ $line == "listening on "* ]]; then
      server_addr=${line#listening on }
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "$1 server did not start; stderr: $(tail -n 3 "$work/server-$1.err")" >&2
  stop_server
  return 1
}

# server_peak_kib: the running server's peak resident set (VmHWM) in KiB.
server_peak_kib() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || true
}

# record STACK METRIC VALUE: appends VALUE to the results of STACK and METRIC.
record() {
  echo "$3" >>"$work/$1.$2"
}

# field LINE KEY: the value of KEY=value in LINE.
field() {
  tr ' ' '\n' <<<"$1" | awk -F= -v key="$2" '$1 == key { print $2 }'
}

# run STACK METRIC RESULT_KEY CLIENT_FLAGS...: one workload on a fresh
# server; records RESULT_KEY of the client's line under METRIC and the
# server's peak RSS under rss_METRIC.
run() {
  local stack=$1 metric=$2 key=$3
  shift 3
  start_server "$stack" || return 0
  local line status=0
  # shellcheck disable=SC2046
  line=$(timeout "$TIMEOUT" $(client_cmd "$stack") --connect "$server_addr" --insecure "$@" \
    2>>"$work/client-$stack.err" | head -n 1) || status=$?
  local peak
  peak=$(server_peak_kib)
  stop_server
  local value
  value=$(field "$line" "$key")
  if [[ $status -ne 0 || -z $value ]]; then
    echo "  $stack $metric: failed (status $status): $(tail -n 2 "$work/client-$stack.err")" >&2
    record "$stack" failed "$metric"
    return 0
  fi
  echo "  $stack $metric: $line (server peak $((${peak:-0} / 1024)) MiB)" >&2
  record "$stack" "$metric" "$value"
  if [[ -n $peak ]]; then
    record "$stack" "rss_$metric" "$(mib "$peak")"
    echo "$peak" >>"$work/$stack.round_peaks"
  fi
  return 0
}

# mib KIB: KiB as MiB with one decimal.
mib() {
  awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2 == 1)); then order="kite quinn"; else order="quinn kite"; fi
  echo "round $round of $ROUNDS ($order first)" >&2
  for workload in download upload conns handshakes; do
    for stack in $order; do
      case $workload in
        download) run "$stack" download mbit_per_s --download "$SIZE" ;;
        upload) run "$stack" upload mbit_per_s --upload "$SIZE" ;;
        conns) run "$stack" conns mbit_per_s --download "$CONN_SIZE" --conns "$CONNS" ;;
        handshakes)
          run "$stack" handshakes per_s --handshakes "$HANDSHAKES" --concurrency "$CONCURRENCY"
          ;;
      esac
    done
  done
  # The round's server peak: the largest over its workloads.
  for stack in kite quinn; do
    if [[ -s $work/$stack.round_peaks ]]; then
      record "$stack" rss "$(mib "$(sort -g "$work/$stack.round_peaks" | tail -n 1)")"
      rm "$work/$stack.round_peaks"
    fi
  done
done

# median FILE: the median of the numbers in FILE, or n/a.
median() {
  if [[ ! -s $1 ]]; then
    echo "n/a"
    return
  fi
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f", m }'
}

echo
echo "kite vs quinn on loopback, median of $ROUNDS round(s)"
printf '%-44s %12s %12s %11s\n' metric kite quinn kite/quinn
row() {
  local metric=$1 label=$2 k q ratio
  k=$(median "$work/kite.$metric")
  q=$(median "$work/quinn.$metric")
  ratio=$(awk -v k="$k" -v q="$q" 'BEGIN {
    if (k == "n/a" || q == "n/a" || q == 0) print "n/a"; else printf "%.2f", k / q }')
  printf '%-44s %12s %12s %11s\n' "$label" "$k" "$q" "$ratio"
}
row download "download $SIZE, 1 conn (Mbit/s, higher better)"
row upload "upload $SIZE, 1 conn (Mbit/s, higher better)"
row conns "$CONNS conns x $CONN_SIZE down (Mbit/s, higher better)"
row handshakes "$HANDSHAKES handshakes @$CONCURRENCY (/s, higher better)"
row rss "server peak RSS (MiB, lower better)"
row rss_download "  in download"
row rss_upload "  in upload"
row rss_conns "  in $CONNS conns"
row rss_handshakes "  in handshakes"
for stack in kite quinn; do
  if [[ -s $work/$stack.failed ]]; then
    echo "$stack: failed runs (not in the medians): $(sort "$work/$stack.failed" | uniq -c | xargs)"
  fi
done
echo
echo "raw results: $work" >&2
