# monitor as a container: the daemon, as an unprivileged user, with its
# archive on the /data volume and its config mounted read-only.
#   docker build -t monitor .
#   docker run -d --name monitor -v monitor-data:/data \
#       -v "$PWD/config.toml:/etc/monitor/config.toml:ro" \
#       -e MONITOR_SMTP_PASSWORD monitor
# An exact Python release on an exact Debian release: a rebuild gets the same base
# (3.12.7 has the fix for CVE-2024-6923, header injection in email).
FROM python:3.12.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The dependencies first, as a layer of their own: a change to the code reuses it.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /etc/monitor \
    && chown monitor /data

# Then the code, without touching the dependencies.
COPY README.md ./
COPY monitor ./monitor
RUN pip install --no-deps . && rm -rf build
COPY config.toml /etc/monitor/config.toml

USER monitor
VOLUME ["/data"]
# The archive goes to the volume whatever the config says.
ENTRYPOINT ["monitor", "--config", "/etc/monitor/config.toml", "--db", "/data/monitor.db"]
CMD ["run"]
# Healthy while the scheduler ticks (a heartbeat within three schedule.heartbeat intervals)
# and not every source is failing: `monitor status --check` exits 1 otherwise. It only reads.
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 CMD ["monitor", "--config", "/etc/monitor/config.toml", "--db", "/data/monitor.db", "-q", "status", "--check"]
