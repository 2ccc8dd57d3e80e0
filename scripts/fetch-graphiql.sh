#!/usr/bin/env bash
# Fetch GraphiQL's single-file browser bundles from the npm registry.
#
# Usage: scripts/fetch-graphiql.sh [DEST]
#   DEST defaults to api/vendor/graphiql (relative to the repository root;
#   git-ignored). api/build.rs embeds the files from there, or runs this script
#   itself into its target-dir cache when that folder is empty.
#
# The bundles are third-party code: they come from the registry at setup or
# build time and are never committed. `npm pack` checks each tarball against
# the registry's integrity hash, and this script checks it once more against
# the sha512 pinned below, so a changed tarball fails loudly.
#
# DEST ends up with: graphiql.min.js, graphiql.min.css, react.production.min.js,
# react-dom.production.min.js, the three LICENSE files and VERSIONS (written
# last; api/build.rs uses the folder only when VERSIONS matches its own pins).
#
# Idempotent: exits 0 at once when DEST is already complete for these versions.
# Exit codes: 0 ok, 1 download or check failed, 2 missing tool or bad usage.
set -euo pipefail

# Pins. Keep in step with the constants at the top of api/build.rs.
# GraphiQL 4.1.x is the newest line with a UMD bundle (5.x is ESM only).
GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.3.1
REACT_DOM_VERSION=18.3.1
# sha512 of each tarball, hex (the registry's dist.integrity, base64-decoded).
GRAPHIQL_SHA512=acd9734080339ba8b62815e655058180bbedd13968c45541d9dd7c6ee92f76cbe312e1431ec2b1e4854ea262f55b5a39596fad139e3e8a81dbd8010acced9c52
REACT_SHA512=c12fa1020252851d0a844bcf240adfb8f54dd7e1f3d6dd18ea7e632eb1906e46f8bab80f13fd11bdefb590c075bffa16807826e1621c57e8bb176a53563fb689
REACT_DOM_SHA512=e66e2740aa7ead945bd3d2cd1f9f463380714e1f76e75ff295b2886e97bb4e91b17c9fbd92fe812e42c15c88e3b296e06e720136a948db7b519d3593d2c9d423

ASSETS=(graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js)
VERSIONS_TEXT="graphiql@${GRAPHIQL_VERSION}
react@${REACT_VERSION}
react-dom@${REACT_DOM_VERSION}"

say() { printf 'fetch-graphiql: %s\n' "$*" >&2; }
die() { local code=$1; shift; say "error: $*"; exit "$code"; }

[[ $# -le 1 ]] || die 2 "usage: $0 [DEST]  (default: api/vendor/graphiql)"
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$repo_root/api/vendor/graphiql}

is_complete() {
    local f
    for f in "${ASSETS[@]}"; do [[ -s "$dest/$f" ]] || return 1; done
    [[ -f "$dest/VERSIONS" && "$(cat "$dest/VERSIONS")" == "$VERSIONS_TEXT" ]]
}

if is_complete; then
    say "up to date: $dest (graphiql@$GRAPHIQL_VERSION, react@$REACT_VERSION, react-dom@$REACT_DOM_VERSION)"
    exit 0
fi

command -v npm >/dev/null 2>&1 \
    || die 2 "npm not found. Install Node.js with npm (e.g. apt-get install npm), or copy a complete folder from a machine that has it into $dest."
command -v tar >/dev/null 2>&1 || die 2 "tar not found."
if command -v sha512sum >/dev/null 2>&1; then
    sha512_of() { sha512sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha512_of() { shasum -a 512 "$1" | cut -d' ' -f1; }
else
    die 2 "neither sha512sum nor shasum found."
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-graphiql.XXXXXX") || die 1 "cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT

say "downloading graphiql@$GRAPHIQL_VERSION react@$REACT_VERSION react-dom@$REACT_DOM_VERSION from the npm registry"
# Run in the empty work folder so no project .npmrc or package.json is picked
# up; the user's own npm config (registry mirror, proxy) still applies.
# --prefer-offline reuses npm's cache when it has these tarballs; the retry
# and timeout settings keep a machine without registry access from hanging.
if ! (cd "$work" && npm pack \
        "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_DOM_VERSION" \
        --pack-destination "$work" --ignore-scripts --prefer-offline \
        --no-audit --no-fund --update-notifier=false --loglevel=error \
        --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=10000 \
        --fetch-timeout=60000 >"$work/npm-pack.out" 2>"$work/npm-pack.err"); then
    # npm's first lines name the cause; its stack trace and log path are noise.
    grep -v -e '^npm error *at ' -e '^npm error *$' "$work/npm-pack.err" | head -n 4 | sed 's/^/  /' >&2 || true
    die 1 "npm pack failed (no access to the npm registry?). Nothing was changed in $dest."
fi

check_and_extract() { # name version sha512 dest-subdir tar-member...
    local name=$1 version=$2 sha=$3 sub=$4; shift 4
    local tgz="$work/$name-$version.tgz"
    [[ -f "$tgz" ]] || die 1 "npm pack did not produce $name-$version.tgz"
    local got; got=$(sha512_of "$tgz")
    [[ "$got" == "$sha" ]] || die 1 "$name-$version.tgz has sha512 $got, expected $sha (pinned in $0)"
    mkdir -p "$work/$sub"
    tar -xzf "$tgz" -C "$work/$sub" "$@" || die 1 "cannot extract $* from $name-$version.tgz"
}
check_and_extract graphiql "$GRAPHIQL_VERSION" "$GRAPHIQL_SHA512" graphiql \
    package/graphiql.min.js package/graphiql.min.css package/LICENSE
check_and_extract react "$REACT_VERSION" "$REACT_SHA512" react \
    package/umd/react.production.min.js package/LICENSE
check_and_extract react-dom "$REACT_DOM_VERSION" "$REACT_DOM_SHA512" react-dom \
    package/umd/react-dom.production.min.js package/LICENSE

stage="$work/stage"
mkdir -p "$stage"
cp "$work/graphiql/package/graphiql.min.js" "$work/graphiql/package/graphiql.min.css" "$stage/"
cp "$work/react/package/umd/react.production.min.js" "$stage/"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$stage/"
cp "$work/graphiql/package/LICENSE" "$stage/LICENSE.graphiql"
cp "$work/react/package/LICENSE" "$stage/LICENSE.react"
cp "$work/react-dom/package/LICENSE" "$stage/LICENSE.react-dom"
for f in "${ASSETS[@]}"; do [[ -s "$stage/$f" ]] || die 1 "$f is missing or empty after extraction"; done

# Install: drop the old VERSIONS first and write the new one last, so a build
# reading the folder meanwhile sees it as incomplete rather than mixed.
mkdir -p "$dest" || die 1 "cannot create $dest"
rm -f "$dest/VERSIONS"
for f in "$stage"/*; do
    base=$(basename "$f")
    if ! { cp "$f" "$dest/.$base.tmp" && mv -f "$dest/.$base.tmp" "$dest/$base"; }; then
        die 1 "cannot write $dest/$base"
    fi
done
if ! { printf '%s\n' "$VERSIONS_TEXT" >"$dest/.VERSIONS.tmp" && mv -f "$dest/.VERSIONS.tmp" "$dest/VERSIONS"; }; then
    die 1 "cannot write $dest/VERSIONS"
fi

say "done: $dest"
for f in "${ASSETS[@]}"; do
    say "  $(printf '%9d' "$(wc -c <"$dest/$f")") bytes  $f"
done
