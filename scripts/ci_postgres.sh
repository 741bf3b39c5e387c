#!/usr/bin/env bash
# Make a local PostgreSQL available for the storage tests, idempotently.
#
# Installs Debian's postgresql package if it is missing (needs root and apt-get), starts the first
# cluster (creating one if there is none), creates the role and database `trionode`/`trionode_test`
# and prints the SQLAlchemy URL to put in TRIONODE_TEST_POSTGRES_URL on stdout (nothing else goes
# to stdout). If PostgreSQL cannot be made to run, it says why on stderr, prints nothing on stdout
# and exits 1, so CI (.ci/run) stops instead of skipping the PostgreSQL cases. A developer who
# does not want them simply leaves TRIONODE_TEST_POSTGRES_URL unset: those cases then skip.
#
#   export TRIONODE_TEST_POSTGRES_URL="$(scripts/ci_postgres.sh)"
set -u

say() { echo "ci_postgres: $*" >&2; }

ROLE=trionode
PASSWORD=trionode
DB=trionode_test

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL is not installed and I cannot install it (need root and apt-get)"
        exit 1
    fi
    say "installing postgresql from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq postgresql; } >/dev/null 2>&1; then
        say "apt-get install postgresql failed"
        exit 1
    fi
fi

if [ "$(id -u)" = 0 ]; then
    as_postgres() { runuser -u postgres -- "$@"; }
elif [ "$(id -un)" = postgres ]; then
    as_postgres() { "$@"; }
else
    as_postgres() { sudo -n -u postgres -- "$@"; }
fi

cluster=$(pg_lsclusters --no-header 2>/dev/null | head -n 1)
if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    if [ -z "$version" ]; then
        say "no PostgreSQL server binaries under /usr/lib/postgresql"
        exit 1
    fi
    say "creating cluster $version/main"
    if ! pg_createcluster "$version" main >/dev/null 2>&1; then
        say "pg_createcluster $version main failed"
        exit 1
    fi
    cluster=$(pg_lsclusters --no-header | head -n 1)
fi
read -r version name port status _ <<<"$cluster"

if [ "$status" != online ]; then
    say "starting cluster $version/$name on port $port"
    if ! pg_ctlcluster "$version" "$name" start >/dev/null 2>&1; then
        say "pg_ctlcluster $version $name start failed (see /var/log/postgresql)"
        exit 1
    fi
fi

for _ in $(seq 1 30); do
    if as_postgres psql -p "$port" -qAtc "SELECT 1" >/dev/null 2>&1; then
        break
    fi
    sleep 1
done
if ! as_postgres psql -p "$port" -qAtc "SELECT 1" >/dev/null 2>&1; then
    say "PostgreSQL did not accept connections on port $port"
    exit 1
fi

as_postgres psql -p "$port" -qAt -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SQL
if [ "$(as_postgres psql -p "$port" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    if ! as_postgres createdb -p "$port" -O "$ROLE" "$DB" >/dev/null 2>&1; then
        say "createdb $DB failed"
        exit 1
    fi
fi

url="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
if ! python3 - "$url" >/dev/null 2>&1 <<'PY'
import sys

import psycopg

with psycopg.connect(sys.argv[1].replace("postgresql+psycopg", "postgresql")) as conn:
    conn.execute("SELECT 1")
PY
then
    say "cannot log in as $ROLE over TCP on 127.0.0.1:$port"
    exit 1
fi
say "PostgreSQL ready"
echo "$url"
