# One image for the demo shop and the exporter; docker-compose.yml runs it twice with different commands.
# Build stage: mysqlclient compiles against the MySQL/MariaDB client library, so the build tools live here only.
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends default-libmysqlclient-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
COPY django_integration/ django_integration/
COPY synthetic/ synthetic/
COPY demo_shop/ demo_shop/
# The shop and the exporter both run from this image: the shop's extra, the exporter's, and the MySQL driver.
RUN pip install '.[shop,exporter,mysql]'

# Runtime stage: the virtualenv, the client library mysqlclient links (libmariadb.so.3), the shop's workflows.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY synthetic/workflows/ synthetic/workflows/

USER app
EXPOSE 8000 9716
# The demo shop; one worker with threads, because exemplars need one process and faults are per process.
CMD ["gunicorn", "demo_shop.wsgi", "--bind", "0.0.0.0:8000", "--workers", "1", "--threads", "8", \
     "--graceful-timeout", "5", "--access-logfile", "-"]
