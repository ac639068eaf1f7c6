# Sourced by the install scripts that build servers from the Go module proxy.
# Needs: log(), $gohome (their Go build state, kept so rebuilds are warm),
# $GO_MIN (the Go version they need, for the message). Sets GO and the
# environment of a reproducible, offline-safe, static build.
GO="$(command -v go || true)"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
if [[ -z "$GO" ]]; then
  log "no Go toolchain found (need go >= $GO_MIN on PATH or at /usr/local/go/bin/go)"
  exit 1
fi
log "using $("$GO" version)"

mkdir -p "$gohome"
export GOPATH="$gohome"
export GOMODCACHE="$gohome/pkg/mod"
export GOCACHE="$gohome/cache"
export GOTOOLCHAIN=local   # never try to download another toolchain
export CGO_ENABLED=0       # static, pure-Go binaries
export GOWORK=off
