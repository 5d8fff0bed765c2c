# syntax=docker/dockerfile:1
# Image with the two deployable executables of cleaning-queue:
#   jobsctl       admin CLI (migrations, enqueue, jobs, queues, stats, cron)
#   queue-worker  the platform's worker (also runs the periodic jobs while it leads)
# and the migrations under /opt/cleaning-queue/sql (MIGRATIONS_DIR).
#
#   docker build -t cleaning-queue:0.1.0 .
#
# Both base images are pinned to exact tags and to the same distribution, Debian 12
# (bookworm): the binaries link the Swift runtime statically but libpq, libcurl
# (FoundationNetworking, used by the HTTP notification provider) and glibc
# dynamically, so the runtime stage must have the same Debian release's libraries.
# scripts/check-compose.sh checks that every FROM is pinned and that the binaries
# copied below are executable products of Package.swift.

# ---- build ---------------------------------------------------------------------
# swift:6.3.1-bookworm: the toolchain that CI and developers use (Swift 6.3.1),
# on Debian 12. Its image already has pkg-config and libcurl4-openssl-dev; they
# are listed anyway so the stage does not silently depend on the base image.
FROM swift:6.3.1-bookworm AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libpq-dev pkg-config libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the package needs (SwiftPM loads every target of the manifest, tests
# included, so Tests/ comes too); .dockerignore keeps build folders, clusters and
# secrets out of the context anyway.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product jobsctl \
    && swift build -c release --static-swift-stdlib --product queue-worker \
    && mkdir -p /out \
    && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && cp "$bin/jobsctl" "$bin/queue-worker" /out/ \
    && /out/jobsctl --help >/dev/null \
    && /out/queue-worker --help >/dev/null

# ---- runtime -------------------------------------------------------------------
# debian:12.15-slim: the bookworm point release matching the build stage.
FROM debian:12.15-slim AS runtime
# libpq5: the PostgreSQL client library; libcurl4: FoundationNetworking (the HTTP
# notification provider; the binaries do not start without it); ca-certificates:
# TLS to the gateway and sslmode=verify-full; tzdata: the system's time-zone
# database (TZ, /etc/localtime). Nothing else: no compiler, no shell tools added.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libpq5 libcurl4 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 queue \
    && useradd --uid 10001 --gid queue --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin queue

COPY --from=build /out/jobsctl /out/queue-worker /usr/local/bin/
COPY sql /opt/cleaning-queue/sql

# No credentials here: DATABASE_URL_FILE (or DATABASE_URL / PG* variables),
# NOTIFY_HTTP_TOKEN_FILE and PAYOUT_HTTP_TOKEN_FILE are given at run time, normally
# as mounted secrets.
ENV MIGRATIONS_DIR=/opt/cleaning-queue/sql
WORKDIR /opt/cleaning-queue
USER 10001:10001

LABEL org.opencontainers.image.title="cleaning-queue" \
      org.opencontainers.image.description="PostgreSQL job queue: jobsctl and queue-worker"

# queue-worker exits 0 after SIGTERM once running jobs finished or were released
# (--grace); give it longer than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["queue-worker"]
