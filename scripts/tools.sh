#!/usr/bin/env bash
# Builds the real backend tools the e2e tests run: the otel-llm Collector distribution (ocb, from
# collector/builder-config.yaml) and Prometheus 3 + promtool. Everything comes from the Go module
# proxy. Binaries land in a cache outside the repository keyed by (manifest, versions, Go version),
# so a warm run costs seconds; .tools/bin in the repo holds symlinks to the current build.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
OCB_VERSION=v0.159.0
# Prometheus v3.14.0 is published as Go module v0.314.0 (same commit). v0.316.0 depends on module
# versions the Go module proxy does not serve (403), so it cannot be built here.
PROMETHEUS_MODULE_VERSION=v0.314.0

if ! command -v go >/dev/null 2>&1; then
  echo "tools: Go is required to build the collector and Prometheus (install Go >= 1.25)" >&2
  exit 1
fi

cache_root=${OTEL_LLM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-llm/tools}
go_version=$(go env GOVERSION)
key=$( { cat "$repo/collector/builder-config.yaml"; echo "$OCB_VERSION $PROMETHEUS_MODULE_VERSION $go_version"; } \
  | sha256sum | cut -c1-16)
dir="$cache_root/$key"
bin="$dir/bin"
mkdir -p "$bin" "$repo/.tools/bin"

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

build_collector() {
  [ -x "$bin/otelcol-llm" ] && return 0
  echo "tools: building otelcol-llm with ocb $OCB_VERSION (cold build takes minutes)" >&2
  GOBIN="$dir/ocb" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
  rm -rf "$dir/collector-src" && mkdir -p "$dir/collector-src"
  cp "$repo/collector/builder-config.yaml" "$dir/collector-src/"
  (cd "$dir/collector-src" && "$dir/ocb/builder" --config=builder-config.yaml --ldflags="-s -w")
  mv "$dir/collector-src/_build/otelcol-llm" "$bin/otelcol-llm.tmp"
  mv "$bin/otelcol-llm.tmp" "$bin/otelcol-llm"
}

build_prometheus() {
  [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ] && return 0
  echo "tools: building prometheus + promtool $PROMETHEUS_MODULE_VERSION (wrapper module)" >&2
  # A throw-away wrapper module: `go install pkg@version` refuses modules whose go.mod carries
  # replace/exclude directives, but as a dependency only our (empty) directives apply.
  local src="$dir/prometheus-src"
  rm -rf "$src" && mkdir -p "$src" && cd "$src"
  go mod init local/promtools >/dev/null 2>&1
  go get -tool "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION"
  go get -tool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
  # remove_all_sd drops every service-discovery plugin; static_configs and OTLP still work.
  go build -tags remove_all_sd -trimpath -ldflags="-s -w" -o "$src/out/" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
  mv "$src/out/prometheus" "$src/out/promtool" "$bin/"
  cd "$repo"
}

build_collector
build_prometheus
for tool in otelcol-llm prometheus promtool; do
  ln -sfn "$bin/$tool" "$repo/.tools/bin/$tool"
done
echo "tools: ready in $bin" >&2

# redis-server (the Redis budget store's tests) is not a Go tool: it comes from Debian packages, and
# the tests find it on PATH.
install_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: redis-server is missing and apt-get is unavailable; install redis-server >= 6 by hand" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools: redis-server is missing; run as root, or:" \
      "sudo apt-get install -y --no-install-recommends redis-server" >&2
    exit 1
  fi
  echo "tools: installing redis-server from Debian packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "tools: apt-get finished but redis-server is still not on PATH" >&2
    exit 1
  fi
}

install_redis_server
