# syntax=docker/dockerfile:1
#
# The Customer Portal image: the `api` and `worker` binaries, one image for
# every role (deploy/docker-entrypoint.sh picks it from the first argument:
# api (default), worker, migrate).
#
#   docker build -t customer-portal .
#   docker run --rm -e DATABASE_URL=postgres://… customer-portal migrate
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgres://… customer-portal
#
# Not built in CI (no Docker engine there); deploy/validate lints it.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- build -----------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

# Node.js and npm: scripts/fetch-graphiql.sh takes GraphiQL's bundles from
# the npm registry (checked against the sha512 pinned in the script).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

RUN scripts/fetch-graphiql.sh

# The bundles are in api/vendor/graphiql now: the build never runs npm itself.
ENV PORTAL_GRAPHIQL_OFFLINE=1 \
    CARGO_TERM_COLOR=never
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p api -p worker \
    && install -D -m 0755 -t /out target/release/api target/release/worker

# --- run -------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates: TLS to PostgreSQL, Redis and the SMTP relay.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --no-create-home \
        --home-dir /var/lib/customer-portal --shell /usr/sbin/nologin portal \
    && install -d -o portal -g portal -m 0750 /var/lib/customer-portal

COPY --from=builder /out/api /out/worker /usr/local/bin/
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

# All interfaces in a container (the binary's own default is loopback only).
ENV LISTEN_ADDR=0.0.0.0:8000
WORKDIR /var/lib/customer-portal
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM

ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["api"]
