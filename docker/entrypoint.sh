#!/bin/sh
# Container entry point for a Maillage node.
#
# First start (no $MAILLAGE_HOME/node.key yet): create the node with `maillage init`,
# named after $MAILLAGE_NAME. Every start: `maillage run` on 0.0.0.0:8470, with one
# --seed per word of $MAILLAGE_SEEDS (each URL#node-id) and --public-url from
# $MAILLAGE_PUBLIC_URL when it is set. Extra arguments are passed on to `maillage run`;
# a first argument that is not an option is run as a command instead (e.g. `sh`).
set -eu

home="${MAILLAGE_HOME:-/data}"

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

if [ ! -f "$home/node.key" ]; then
    if [ -z "${MAILLAGE_NAME:-}" ]; then
        echo "maillage: set MAILLAGE_NAME (the association's name) for the first start," \
             "when the node is created in $home" >&2
        exit 2
    fi
    maillage init --home "$home" --name "$MAILLAGE_NAME"
fi

# Word splitting is wanted here (one seed per word); globbing is not.
set -f
for seed in ${MAILLAGE_SEEDS:-}; do
    set -- "$@" --seed "$seed"
done
set +f

if [ -n "${MAILLAGE_PUBLIC_URL:-}" ]; then
    set -- "$@" --public-url "$MAILLAGE_PUBLIC_URL"
fi

exec maillage run --home "$home" --host 0.0.0.0 --port 8470 "$@"
