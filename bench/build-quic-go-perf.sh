#!/usr/bin/env bash
# Builds bench/quic-go-perf (the perf protocol on quic-go, for
# bench/compare.sh) into target/release/quic-go-perf, offline: Go 1.19 and
# quic-go 0.29 with its dependencies come from Debian's packages (installed
# with apt-get when missing, which needs root), and the program is built in
# GOPATH mode against /usr/share/gocode, so no Go module proxy is asked.
# Prints the binary's path on stdout. The Go build cache lives in
# target/go-build, so `cargo clean` removes it too.
set -euo pipefail
cd "$(dirname "$0")/.."

GOCODE=/usr/share/gocode
QUIC_GO=$GOCODE/src/github.com/lucas-clemente/quic-go

if ! command -v go >/dev/null || [[ ! -d $QUIC_GO ]]; then
  echo "installing golang-go and quic-go 0.29 from apt" >&2
  sudo=()
  if ((EUID != 0)); then sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y --no-install-recommends \
    golang-go golang-github-lucas-clemente-quic-go-dev >&2
fi

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target/release" "$target/go-build"
out=$target/release/quic-go-perf
# GO111MODULE=off: resolve imports from GOPATH (Debian's source packages),
# never from a module proxy; GOFLAGS cleared so a user's -mod=… can't apply.
GO111MODULE=off GOPATH=$GOCODE GOPROXY=off GOFLAGS='' \
  GOCACHE=$(realpath "$target/go-build") \
  go build -trimpath -o "$out" ./bench/quic-go-perf
echo "$out"
