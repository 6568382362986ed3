#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite: installs Debian's server if missing, starts it
# on 127.0.0.1 with a fresh data directory, prints nothing on success.
#   scripts/pg.sh start DIR  -> prints the database URL   |   scripts/pg.sh stop DIR
#
# As root the server runs as the `postgres` user, which may not be able to reach DIR (a
# clone under `mktemp -d` is mode 700): the data directory, socket and log then live in
# /tmp/hubpg.XXXXXX (owned by postgres), whose path is kept in DIR/pgroot for `stop`.
set -euo pipefail
cmd=$1 dir=$2
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac  # absolute: the commands below run from /
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

is_root() { [ "$(id -u)" = 0 ]; }

# initdb refuses to run as root; use the postgres system user then, from a directory it
# can enter (runuser keeps the caller's cwd, which postgres may not be allowed into).
as_pg() {
  if is_root; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# where the server's files are: DIR itself, or the /tmp directory recorded in DIR/pgroot
pg_root() {
  local root
  if [ -f "$dir/pgroot" ]; then
    root=$(cat "$dir/pgroot")
    case "$root" in /tmp/hubpg.*) echo "$root"; return ;; esac
    echo "pg.sh: ignoring $dir/pgroot ($root is not a /tmp/hubpg.* directory)" >&2
  fi
  echo "$dir"
}

case "$cmd" in
  start)
    bin=$(pg_bin)
    rm -rf "$dir"; mkdir -p "$dir"
    root=$dir
    if is_root; then
      id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
      root=$(mktemp -d /tmp/hubpg.XXXXXX)
      chown postgres "$root"
      echo "$root" >"$dir/pgroot"
    fi
    as_pg "$bin/initdb" -D "$root/data" -U hub --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    if ! as_pg "$bin/pg_ctl" -D "$root/data" -l "$root/log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $root -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
      echo "pg.sh: the server did not start; its log ($root/log):" >&2
      cat "$root/log" >&2 || true
      exit 1
    fi
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U hub hub_test
    echo "postgresql+asyncpg://hub@127.0.0.1:$port/hub_test"
    ;;
  stop)
    bin=$(pg_bin)
    root=$(pg_root)
    [ -d "$root/data" ] && as_pg "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null || true
    [ "$root" != "$dir" ] && rm -rf "$root"
    rm -rf "$dir"
    ;;
esac
