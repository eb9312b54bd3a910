# The semsync worker (and the operator CLI: `python -m starter …`), for docker-compose.yml or any
# container platform. The project is installed without its dev extras: no embedded PostgreSQL, no
# Temporal CLI, no test tools, and not the `devstack/` package (the embedded stack, the demo, the Cube test
# server: the CLI goes without its `dev` and `demo` commands).
FROM python:3.12.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY semsync ./semsync
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
RUN pip install . && useradd --system --uid 10001 --home-dir /app semsync
COPY worker.py ./

USER semsync
# SEMSYNC_WORKER__METRICS_PORT (docker-compose.yml sets 9464) serves /metrics
EXPOSE 9464
# `python worker.py --queue sync|patterns` serves one task queue
CMD ["python", "worker.py"]
