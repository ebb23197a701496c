# syntax=docker/dockerfile:1
# Itemsense API image. Two stages: the builder installs the locked dependencies into a
# virtualenv and trains the sentiment model from data/; the runtime stage receives only the
# virtualenv, the serving code, the migrations and the trained model (no compilers, no pip, no
# uv, no training code or data, no tests, no .env: see .dockerignore, which is an allow-list).

# The one place that names the Python of the image: both stages use it, because the virtualenv
# only works on the interpreter that built it (optionally pin its digest: ...@sha256:...).
ARG PYTHON_IMAGE=python:3.13.9-slim-bookworm
# checkov:skip=CKV_DOCKER_7: the FROM lines name PYTHON_IMAGE, whose default above pins the tag

# uv, pinned: it installs exactly what uv.lock lists, hashes checked.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /build

# Dependencies first so that code changes reuse this layer: the runtime ones only, from the
# lock, compiled to bytecode (the root filesystem is read-only at run time). Every locked
# wheel is binary for linux/amd64 and arm64, so no compiler is needed. Then out go what
# serving never uses: the packages' own test suites, C headers and Cython sources.
COPY --from=uv /uv /usr/local/bin/uv
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-default-groups --no-cache \
    && find /opt/venv -depth -type d \( -name tests -o -name test -o -name include \) \
       -exec rm -rf {} + \
    && find /opt/venv -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \
       -o -name '*.h' -o -name '*.c' -o -name '*.cpp' -o -name '*.pyi' \) -delete

COPY app/ ./app/
COPY data/ ./data/
# Same command as `make model`: writes models/sentiment.joblib and models/sentiment.json
# (metadata with the sha256 and scikit-learn version the service verifies at start-up).
# Training in the slimmed environment also proves it still has all the model needs. The
# offline training code is then removed from what the runtime stage copies.
RUN python -m app.sentiment.training.train \
    && rm -rf app/sentiment/training


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="itemsense" \
      org.opencontainers.image.description="Items CRUD and sentiment prediction API" \
      org.opencontainers.image.source="https://github.com/itemsense/itemsense" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    MODEL_PATH=/app/models/sentiment.joblib

# Fixed UID/GID so Kubernetes runAsUser/fsGroup and file ownership agree everywhere.
RUN groupadd --system --gid 10001 itemsense \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin itemsense

WORKDIR /app

# Files stay owned by root and read-only for the service user: the process cannot modify
# its own code or model, and the root filesystem can be mounted read-only.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /build/app/ ./app/
COPY migrations/ ./migrations/
COPY alembic.ini ./
COPY --from=builder /build/models/ ./models/

USER 10001:10001

EXPOSE 8000

# Liveness only (never the database): python's urllib because slim images have no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=3).status == 200 else 1)"]

# One process per container (scale with replicas). Graceful shutdown must finish within the
# Kubernetes terminationGracePeriodSeconds minus the preStop sleep (see k8s/deployment.yaml).
CMD ["python", "-m", "app.server", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--forwarded-allow-ips=*", "--timeout-graceful-shutdown", "20", "--no-server-header"]
