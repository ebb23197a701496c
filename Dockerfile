# syntax=docker/dockerfile:1
# Itemsense API image. Two stages: the builder installs the pinned dependencies into a
# virtualenv and trains the sentiment model from data/; the runtime stage receives only the
# virtualenv, the serving code, the migrations and the trained model (no compilers, no pip, no
# training code or data, no tests, no .env: see .dockerignore, which is an allow-list).
# Bump the base tag (and optionally pin its digest: python:3.11.14-slim-bookworm@sha256:...)
# in both stages together; builder and runtime must share one interpreter for the venv to work.

FROM python:3.11.14-slim-bookworm AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /build

# Dependencies first so that code changes reuse this layer. Every wheel pinned in
# requirements.txt is binary for linux/amd64 and arm64, so no compiler is needed here either.
# Then out go what serving never uses: pip and setuptools, the packages' own test suites,
# C headers and Cython sources (about a quarter of the environment).
COPY requirements.txt ./
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir -r requirements.txt \
    && python -m pip uninstall --yes pip setuptools \
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


FROM python:3.11.14-slim-bookworm AS runtime

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
