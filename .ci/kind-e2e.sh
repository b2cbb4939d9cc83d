#!/usr/bin/env bash
# End-to-end check of the Helm chart on a Kubernetes cluster (GitHub's e2e-kind job runs it on
# kind after loading the images built from ./Dockerfile): install the chart with its in-cluster
# dev dependencies, wait for every Deployment, run examples/hello.yaml through the API with the
# `stigmer` CLI and check its output, then run `helm test`. On failure it prints the pods,
# events and logs.
#
# Needs helm, kubectl, jq, curl and the `stigmer` CLI (pip install '.[cli]') on PATH, and a
# kubectl context on the cluster. Settings (environment):
#   IMAGE_TAG     tag of the ghcr.io/stigmer/stigmer-* images already in the cluster (default e2e)
#   NAMESPACE     namespace to install into (default stigmer)
#   RELEASE       Helm release name (default stigmer)
#   VALUES_FILE   values of the kind flavour (default deploy/helm/stigmer/ci/kind-values.yaml)
#   LOCAL_PORT    local port of the API's port-forward (default 8234)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_TAG="${IMAGE_TAG:-e2e}"
NAMESPACE="${NAMESPACE:-stigmer}"
RELEASE="${RELEASE:-stigmer}"
VALUES_FILE="${VALUES_FILE:-deploy/helm/stigmer/ci/kind-values.yaml}"
LOCAL_PORT="${LOCAL_PORT:-8234}"
COMPONENTS="api orchestrator runner operator"

WORK="$(mktemp -d)"
FORWARD_PID=""

log() { echo "kind-e2e: $*" >&2; }

diagnose() {
    log "failed; the cluster's state follows"
    kubectl -n "$NAMESPACE" get all,pdb,configmaps,secrets -o wide || true
    kubectl -n "$NAMESPACE" get events --sort-by=.lastTimestamp || true
    kubectl -n "$NAMESPACE" describe pods || true
    local pod
    for pod in $(kubectl -n "$NAMESPACE" get pods -o name 2>/dev/null); do
        echo "---- logs of $pod"
        kubectl -n "$NAMESPACE" logs "$pod" --all-containers --prefix --tail=200 || true
        kubectl -n "$NAMESPACE" logs "$pod" --all-containers --prefix --previous --tail=50 \
            2>/dev/null || true
    done
    [ -f "$WORK/port-forward.log" ] && cat "$WORK/port-forward.log"
}

finish() {
    local status=$?
    if [ -n "$FORWARD_PID" ]; then kill "$FORWARD_PID" 2>/dev/null || true; fi
    if [ "$status" -ne 0 ]; then diagnose; fi
    rm -rf "$WORK"
    exit "$status"
}
trap finish EXIT

install_chart() {
    local sets=()
    local component
    for component in $COMPONENTS; do
        sets+=(--set "$component.image.tag=$IMAGE_TAG" --set "$component.image.pullPolicy=Never")
    done
    log "installing $RELEASE into $NAMESPACE with $VALUES_FILE (images tagged $IMAGE_TAG)"
    helm upgrade --install "$RELEASE" deploy/helm/stigmer \
        --namespace "$NAMESPACE" --create-namespace \
        --values "$VALUES_FILE" "${sets[@]}" \
        --wait --timeout 10m
}

wait_for_rollouts() {
    local deployment
    for deployment in $(kubectl -n "$NAMESPACE" get deployments -o name); do
        log "waiting for $deployment"
        kubectl -n "$NAMESPACE" rollout status "$deployment" --timeout=5m
    done
}

# The API's bearer token, read from the Secret its Deployment takes STIGMER_API_TOKEN from, so
# the check does not depend on how the values name that Secret.
api_token() {
    local ref name key
    ref="$(kubectl -n "$NAMESPACE" get deployments -l app.kubernetes.io/component=api -o json \
        | jq -c '[.items[0].spec.template.spec.containers[0].env[]?
                  | select(.name == "STIGMER_API_TOKEN")][0].valueFrom.secretKeyRef // empty')"
    [ -n "$ref" ] || return 0
    name="$(jq -r .name <<<"$ref")"
    key="$(jq -r .key <<<"$ref")"
    kubectl -n "$NAMESPACE" get secret "$name" -o json | jq -r --arg key "$key" '.data[$key]' \
        | base64 --decode
}

run_hello() {
    local service
    service="$(kubectl -n "$NAMESPACE" get services \
        -l app.kubernetes.io/component=api,app.kubernetes.io/instance="$RELEASE" -o name | head -n 1)"
    [ -n "$service" ] || { log "no Service labelled app.kubernetes.io/component=api"; exit 1; }
    kubectl -n "$NAMESPACE" port-forward "$service" "$LOCAL_PORT:8234" \
        >"$WORK/port-forward.log" 2>&1 &
    FORWARD_PID=$!

    local url="http://127.0.0.1:$LOCAL_PORT"
    log "waiting for $url/readyz through $service"
    local attempt
    for attempt in $(seq 1 60); do
        if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
        [ "$attempt" -lt 60 ] || { log "the API did not become ready"; exit 1; }
        sleep 2
    done

    local token
    token="$(api_token)"
    if [ -n "$token" ] && [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::add-mask::$token"; fi
    log "running examples/hello.yaml"
    STIGMER_API_URL="$url" STIGMER_API_TOKEN="$token" \
        stigmer run examples/hello.yaml --input '{"name": "kind"}' --output json >"$WORK/result.json"
    jq . "$WORK/result.json"
    jq -e '.status.phase == "COMPLETED" and .status.output == {"greeting": "Hello, kind!"}' \
        "$WORK/result.json" >/dev/null || { log "the execution did not complete as expected"; exit 1; }
    log "hello completed through the API"

    kill "$FORWARD_PID"
    FORWARD_PID=""
}

install_chart
wait_for_rollouts
run_hello
log "helm test $RELEASE"
helm test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m
log "passed"
