# monitor as a container: the daemon, as an unprivileged user, with its
# archive on the /data volume and its config mounted read-only.
#   docker build -t monitor .
#   docker run -d --name monitor -v monitor-data:/data \
#       -v "$PWD/config.toml:/etc/monitor/config.toml:ro" \
#       -e MONITOR_SMTP_PASSWORD monitor
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /etc/monitor \
    && chown monitor /data
COPY config.toml /etc/monitor/config.toml

USER monitor
VOLUME ["/data"]
# The archive goes to the volume whatever the config says.
ENTRYPOINT ["monitor", "--config", "/etc/monitor/config.toml", "--db", "/data/monitor.db"]
CMD ["run"]
# Healthy when the archive opens and answers; `monitor status` exits non-zero otherwise.
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s --retries=3 CMD ["monitor", "--config", "/etc/monitor/config.toml", "--db", "/data/monitor.db", "-q", "status"]
