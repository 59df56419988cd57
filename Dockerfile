ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE} AS build
# The virtualenv is built here and copied whole into the final stage, so pip, its caches and
# anything a wheel build leaves behind never reach the image that runs. Both stages use the same
# base, so the venv's interpreter symlinks resolve identically in both.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
# Only the runtime requirements: the dev list (test servers, linters, the client) stays out.
COPY requirements.txt /tmp/requirements.txt
# pip itself is not needed at run time; removing it keeps it out of the attack surface.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools


FROM ${PYTHON_IMAGE}
# HOST is 0.0.0.0 so the port is reachable from outside the container (the config's own default,
# 127.0.0.1, suits `make run`). Bytecode is compiled at build time; the non-root user could not
# write it next to the root-owned code anyway.
# /dev/shm for the worker heartbeat files: gunicorn's docs warn that /tmp on an overlay filesystem
# can block the heartbeat and get healthy workers killed.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    GUNICORN_CMD_ARGS="--worker-tmp-dir /dev/shm"
# A fixed numeric uid lets orchestrators verify runAsNonRoot.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY service/ service/
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
RUN python3 -m compileall -q service
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz): a storage outage shows on /readyz and must not get the API restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/healthz', timeout=4)"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
