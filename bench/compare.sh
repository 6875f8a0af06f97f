#!/usr/bin/env bash
# Compares kite with quinn, and optionally quic-go and aioquic, on loopback,
# each against itself, with the perf protocol (draft-banks-quic-performance):
# `kite perf`, quinn-peer's perf-server/perf-client (interop/quinn-peer, quinn
# 0.11, a dev-only crate), bench/quic-go-perf (quic-go 0.29 from Debian's
# packages, built by bench/build-quic-go-perf.sh) and interop/aioquic_peer.py
# (aioquic in the venv scripts/setup-interop makes).
#
# Builds the stacks in release, then runs ROUNDS rounds; in each, every
# workload runs once per stack, the stack that goes first rotating from round
# to round (with two stacks: alternating):
#
#   download  SIZE on one connection and one stream          (Mbit/s)
#   upload    SIZE on one connection and one stream          (Mbit/s)
#   conns     CONNS connections at once, CONN_SIZE download each (Mbit/s)
#   handshakes HANDSHAKES full handshakes, CONCURRENCY at a time  (per second)
#
# Every workload gets a fresh server; its peak RSS (VmHWM) is read before it
# is stopped: the round's largest is the "server peak RSS" row, and the rows
# under it give each workload's. Prints the per-metric medians over the rounds
# for each stack and kite's ratio to each other stack (kite/quinn, ...).
#
# Settings (environment): STACKS="kite quinn" (any of kite, quinn, quic-go,
# aioquic; "kite quinn quic-go" adds quic-go, which needs Go: see
# bench/build-quic-go-perf.sh; aioquic moves ~0.1 Gbit/s, about 80 s per GiB
# per workload) ROUNDS=3 SIZE=1G CONN_SIZE=256M CONNS=4
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
STACKS=${STACKS:-kite quinn}
read -r -a stacks <<<"$STACKS"
if ((${#stacks[@]} == 0)); then
  echo "STACKS is empty: give some of kite, quinn, quic-go, aioquic" >&2
  exit 2
fi
for stack in "${stacks[@]}"; do
  case $stack in
    kite | quinn | quic-go | aioquic) ;;
    *)
      echo "unknown stack $stack in STACKS: want kite, quinn, quic-go or aioquic" >&2
      exit 2
      ;;
  esac
done
# How long a server may take to print its `listening on ADDR` line.
SERVER_START_SECS=10

# has STACK: whether STACK is in STACKS.
has() {
  [[ " ${stacks[*]} " == *" $1 "* ]]
}

echo "building kite and quinn-peer (release)" >&2
cargo build --release --quiet -p kite-cli -p quinn-peer
target=${CARGO_TARGET_DIR:-target}/release
KITE=$target/kite
QUINN=$target/quinn-peer
QUIC_GO=$target/quic-go-perf
if has quic-go; then
  echo "building quic-go-perf" >&2
  QUIC_GO=$(bench/build-quic-go-perf.sh)
fi
AIOQUIC="$PWD/.venv/bin/python interop/aioquic_peer.py"
if has aioquic; then
  ./scripts/setup-interop >/dev/null
fi

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

# server_cmd STACK: the perf server command of STACK.
server_cmd() {
  case $1 in
    kite) echo "$KITE perf server" ;;
    quinn) echo "$QUINN perf-server" ;;
    quic-go) echo "$QUIC_GO perf-server" ;;
    aioquic) echo "$AIOQUIC perf-server" ;;
  esac
}

client_cmd() {
  case $1 in
    kite) echo "$KITE perf client" ;;
    quinn) echo "$QUINN perf-client" ;;
    quic-go) echo "$QUIC_GO perf-client" ;;
    aioquic) echo "$AIOQUIC perf-client" ;;
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
  # Rotates STACKS by one per round: each stack goes first in turn.
  first=$(((round - 1) % ${#stacks[@]}))
  order="${stacks[*]:first} ${stacks[*]:0:first}"
  order=${order% }
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
  for stack in "${stacks[@]}"; do
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

# The table: a column per stack, then kite's ratio to each other stack.
ratio_stacks=()
if has kite; then
  for stack in "${stacks[@]}"; do
    if [[ $stack != kite ]]; then ratio_stacks+=("$stack"); fi
  done
fi
title=${stacks[0]}
for stack in "${stacks[@]:1}"; do title+=" vs $stack"; done
echo
echo "$title on loopback, median of $ROUNDS round(s)"
# row_format LABEL COLUMNS...: prints one row; a ratio column is as wide as
# its header plus one (11 for kite/quinn, as before quic-go joined).
row_format() {
  printf '%-44s' "$1"
  shift
  local i stack
  for ((i = 0; i < ${#stacks[@]}; i++)); do printf ' %12s' "$1"; shift; done
  for stack in "${ratio_stacks[@]}"; do
    local width=$((${#stack} + 6))
    printf " %${width}s" "$1"
    shift
  done
  printf '\n'
}
headers=()
for stack in "${ratio_stacks[@]}"; do headers+=("kite/$stack"); done
row_format metric "${stacks[@]}" "${headers[@]}"
row() {
  local metric=$1 label=$2 stack k q values=()
  for stack in "${stacks[@]}"; do values+=("$(median "$work/$stack.$metric")"); done
  if has kite; then k=$(median "$work/kite.$metric"); fi
  for stack in "${ratio_stacks[@]}"; do
    q=$(median "$work/$stack.$metric")
    values+=("$(awk -v k="$k" -v q="$q" 'BEGIN {
      if (k == "n/a" || q == "n/a" || q == 0) print "n/a"; else printf "%.2f", k / q }')")
  done
  row_format "$label" "${values[@]}"
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
for stack in "${stacks[@]}"; do
  if [[ -s $work/$stack.failed ]]; then
    echo "$stack: failed runs (not in the medians): $(sort "$work/$stack.failed" | uniq -c | xargs)"
  fi
done
echo
echo "raw results: $work" >&2
