#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite: installs Debian's server if missing, starts it
# on 127.0.0.1 with a fresh data directory, prints nothing on success.
#   scripts/pg.sh start DIR  -> prints the database URL   |   scripts/pg.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2
# a free port, so a server already running on this machine never collides with ours
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "installing PostgreSQL from Debian's packages…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  echo "$d"
}

# initdb refuses to run as root; use the postgres system user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    bin=$(pg_bin)
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$dir"; }
    as_pg "$bin/initdb" -D "$dir/data" -U hub --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U hub hub_test
    echo "postgresql+asyncpg://hub@127.0.0.1:$port/hub_test"
    ;;
  stop)
    bin=$(pg_bin)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
esac
