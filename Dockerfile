# Stigmer's images: one target per component, each with only its own extra installed.
#
#   docker build --target api          -t ghcr.io/stigmer/stigmer-api .
#   docker build --target orchestrator -t ghcr.io/stigmer/stigmer-orchestrator .
#   docker build --target runner       -t ghcr.io/stigmer/stigmer-runner .
#   docker build --target operator     -t ghcr.io/stigmer/stigmer-operator .
#
# The final images hold the Python base, one virtual environment in /opt/stigmer (no pip in
# it) and nothing else: no compilers, no package manager caches, no extra shell tools. They
# run as uid/gid 10001 and write nothing outside /tmp, so a read-only root filesystem with an
# emptyDir on /tmp works (the Helm chart and the Kustomize base mount one).
# tests/deploy/test_images.py lints this file with hadolint and checks its structure.

# Pinned by tag (.github/dependabot.yml proposes new patch releases).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: one wheel of the whole project -------------------------------------------------
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# .dockerignore keeps the context to what the wheel needs.
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- one virtual environment per component, from the wheel and its extra only --------------
# The venv is made without pip and filled by the base image's pip (`--python`), so pip never
# lands in a final image. Bytecode is compiled here, at install time: nothing is written at run
# time. Dependencies follow the ranges of pyproject.toml.
FROM ${PYTHON_IMAGE} AS venv-api
COPY --from=wheel /wheels /wheels
RUN python -m venv --without-pip /opt/stigmer \
    && pip --python /opt/stigmer/bin/python install --no-cache-dir --disable-pip-version-check \
        "$(echo /wheels/stigmer-*.whl)[api]"

FROM ${PYTHON_IMAGE} AS venv-orchestrator
COPY --from=wheel /wheels /wheels
RUN python -m venv --without-pip /opt/stigmer \
    && pip --python /opt/stigmer/bin/python install --no-cache-dir --disable-pip-version-check \
        "$(echo /wheels/stigmer-*.whl)[orchestrator]"

FROM ${PYTHON_IMAGE} AS venv-runner
COPY --from=wheel /wheels /wheels
RUN python -m venv --without-pip /opt/stigmer \
    && pip --python /opt/stigmer/bin/python install --no-cache-dir --disable-pip-version-check \
        "$(echo /wheels/stigmer-*.whl)[runner]"

FROM ${PYTHON_IMAGE} AS venv-operator
COPY --from=wheel /wheels /wheels
RUN python -m venv --without-pip /opt/stigmer \
    && pip --python /opt/stigmer/bin/python install --no-cache-dir --disable-pip-version-check \
        "$(echo /wheels/stigmer-*.whl)[operator]"

# --- what every final image shares ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.vendor="Stigmer" \
      org.opencontainers.image.source="https://github.com/stigmer/stigmer" \
      org.opencontainers.image.url="https://github.com/stigmer/stigmer" \
      org.opencontainers.image.documentation="https://github.com/stigmer/stigmer/blob/main/docs/deploy.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# A numeric USER lets Kubernetes' runAsNonRoot check it without reading /etc/passwd.
RUN groupadd --system --gid 10001 stigmer \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin stigmer
# HOME and the working directory are /tmp, the only writable place under a read-only root
# filesystem; temporary files (grpc descriptor sets, run: shell workdirs) go there too.
ENV PATH=/opt/stigmer/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp

# --- final images --------------------------------------------------------------------------
FROM runtime AS api
LABEL org.opencontainers.image.title="stigmer-api" \
      org.opencontainers.image.description="Stigmer HTTP API: workflows, executions, event streams"
COPY --from=venv-api /opt/stigmer /opt/stigmer
USER 10001:10001
# HTTP API, /metrics, /healthz, /readyz
EXPOSE 8234
ENTRYPOINT ["stigmer-api"]

FROM runtime AS orchestrator
LABEL org.opencontainers.image.title="stigmer-orchestrator" \
      org.opencontainers.image.description="Stigmer orchestrator: Temporal worker of the invoke workflows"
COPY --from=venv-orchestrator /opt/stigmer /opt/stigmer
USER 10001:10001
# /metrics, /healthz, /readyz
EXPOSE 9464
ENTRYPOINT ["stigmer-orchestrator"]

FROM runtime AS runner
LABEL org.opencontainers.image.title="stigmer-runner" \
      org.opencontainers.image.description="Stigmer runner: Temporal worker running the DSL and its tasks"
COPY --from=venv-runner /opt/stigmer /opt/stigmer
USER 10001:10001
# /metrics, /healthz, /readyz
EXPOSE 9464
ENTRYPOINT ["stigmer-runner"]

FROM runtime AS operator
LABEL org.opencontainers.image.title="stigmer-operator" \
      org.opencontainers.image.description="Stigmer operator: scales runners by Temporal queue depth"
COPY --from=venv-operator /opt/stigmer /opt/stigmer
USER 10001:10001
# 9464 /metrics, 8080 kopf's liveness endpoint /healthz
EXPOSE 9464 8080
ENTRYPOINT ["stigmer-operator"]
