#!/bin/sh
# Entrypoint of the Customer Portal image. The first argument is the role:
#
#   api [ARGS]      (the default) the GraphQL api: `api serve [ARGS]`; an api
#                   subcommand runs as given (`api create-organization …`)
#   worker [ARGS]   the email worker: `worker [ARGS]`
#   migrate         apply the database migrations and exit: `api migrate`
#   anything else   run as given (`sh`, `env`, …)
#
# LISTEN_ADDR defaults to 0.0.0.0:8000 (all interfaces) when it is unset.
# The api, worker and migrate roles need DATABASE_URL: the binaries' own
# default is an SQLite file inside the container, lost with it, so they are
# refused here (exit 64) instead. Programs are `exec`ed, so SIGTERM reaches
# them directly. The binaries are looked up on PATH, or in PORTAL_BIN_DIR
# when that is set.
set -eu

EX_USAGE=64

say() { printf 'docker-entrypoint: %s\n' "$*" >&2; }

require_database_url() {
    if [ -z "${DATABASE_URL:-}" ]; then
        say "DATABASE_URL is not set: the $role role needs the production database" \
            "(e.g. postgres://portal:PASSWORD@postgres:5432/portal); the binaries' default," \
            "an SQLite file inside the container, would be lost with it"
        exit "$EX_USAGE"
    fi
}

run() { # program, arguments...
    program=$1
    shift
    if [ -n "${PORTAL_BIN_DIR:-}" ]; then
        program="$PORTAL_BIN_DIR/$program"
    fi
    exec "$program" "$@"
}

if [ -z "${LISTEN_ADDR+set}" ]; then
    LISTEN_ADDR=0.0.0.0:8000
fi
export LISTEN_ADDR

role=${1:-api}
if [ "$#" -gt 0 ]; then
    shift
fi

case $role in
    api)
        if [ "$#" -eq 0 ]; then
            set -- serve
        fi
        case $1 in
            -h | --help | -V | --version | help | print-schema) run api "$@" ;;
            -*) require_database_url; run api serve "$@" ;; # api --seed-demo
            *) require_database_url; run api "$@" ;;        # serve, migrate, create-organization
        esac
        ;;
    worker)
        require_database_url
        run worker "$@"
        ;;
    migrate)
        require_database_url
        run api migrate "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
