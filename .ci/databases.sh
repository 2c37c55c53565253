# Sourced by .ci/run (step 3): find or start the PostgreSQL and MariaDB servers
# the tests use, and export QFILTER_TEST_POSTGRES_URL and QFILTER_TEST_MYSQL_URL.
#
# A URL set by the caller must answer, or the run fails. When unset, the
# default URL (local server on 5432 / 3306) is used if it answers; if not, a
# throwaway server is started from the installed binaries (apt-get installs
# just the binaries when missing) in a temporary directory on a free port, and
# is stopped and deleted when the sourcing script exits (an EXIT trap).
# Existing clusters and their configuration (/etc/postgresql, /etc/mysql) are
# never touched. Expects say, die and in_ci from .ci/run, and the venv's
# python (with SQLAlchemy and the drivers) first on PATH.
# shellcheck shell=bash

# --- database servers --------------------------------------------------------
PG_DEFAULT_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
MYSQL_DEFAULT_URL=mysql+pymysql://root@127.0.0.1:3306/test

# What the EXIT trap has to undo; empty means nothing to do.
PG_DIR='' PG_BIN='' PG_USER=''
MY_DIR='' MY_PID=''
DROPIN='' DROPIN_DIR=''

# Is a process alive (a zombie child does not count)?
alive() {
    local state
    state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$PG_DIR" ]; then
        if [ -f "$PG_DIR/data/postmaster.pid" ]; then
            as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
                as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
        fi
        rm -rf "$PG_DIR"
    fi
    if [ -n "$MY_PID" ]; then
        kill -TERM "$MY_PID" 2>/dev/null
        for _ in $(seq 1 60); do alive "$MY_PID" || break; sleep 0.5; done
        alive "$MY_PID" && kill -KILL "$MY_PID" 2>/dev/null
        wait "$MY_PID" 2>/dev/null
    fi
    [ -n "$MY_DIR" ] && rm -rf "$MY_DIR"
    [ -n "$DROPIN" ] && rm -f "$DROPIN"
    [ -n "$DROPIN_DIR" ] && rmdir "$DROPIN_DIR" 2>/dev/null
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# db_probe URL [--create]: does the server answer `select 1`? With --create,
# first make the URL's database. Exit 0: yes; 1: no answer; 2: unusable setup
# (driver not installed, bad URL), which no server can fix.
db_probe() {
    python - "$@" <<'PY'
import sys

import sqlalchemy as sa

url = sa.make_url(sys.argv[1])
create = "--create" in sys.argv[2:]
args = {"connect_args": {"connect_timeout": 5}}
try:
    if create:
        backend = url.get_backend_name()
        admin_db = "postgres" if backend == "postgresql" else "mysql"  # always there
        admin = sa.create_engine(url.set(database=admin_db), isolation_level="AUTOCOMMIT", **args)
        with admin.connect() as conn:
            if backend == "postgresql":
                if conn.scalar(sa.text("select 1 from pg_database where datname = :n"), {"n": url.database}) is None:
                    conn.execute(sa.text(f'create database "{url.database}"'))
            else:
                conn.execute(sa.text(f"create database if not exists `{url.database}`"))
        admin.dispose()
    engine = sa.create_engine(url, **args)
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    engine.dispose()
except (ImportError, sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
    print(f"ci: cannot use {url!r}: {error.__class__.__name__}: {error}", file=sys.stderr)
    sys.exit(2)
except Exception as error:
    print(f"ci: {url!r} does not answer: {error.__class__.__name__}", file=sys.stderr)
    sys.exit(1)
PY
}

free_port() {
    python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Servers refuse to run as root: as root, run them as an unprivileged account.
# run_as USER: prints nothing, sets AS=(command prefix) for running as USER.
run_as() {
    if [ "$(id -u)" -ne 0 ]; then
        AS=()
    else
        AS=(setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --reset-env --)
    fi
}
as_user() {
    local AS
    run_as "$1"
    shift
    (cd / && exec "${AS[@]}" "$@")
}
# service_user PREFERRED: the account to run a throwaway server as. As root:
# PREFERRED (postgres, mysql) if it exists, else a system user qfilter-ci,
# created the first time it is needed.
service_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
    elif getent passwd "$1" >/dev/null; then
        echo "$1"
    else
        if ! getent passwd qfilter-ci >/dev/null; then
            say "creating system user qfilter-ci: database servers refuse to run as root"
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin qfilter-ci >&2
        fi
        echo qfilter-ci
    fi
}
# private_dir USER NAME: a new temporary directory owned by USER.
private_dir() {
    local dir
    dir=$(mktemp -d -t "$2.XXXXXX")
    chown "$1:" "$dir"
    echo "$dir"
}

APT_UPDATED=
apt_install() {
    [ "$(id -u)" -eq 0 ] || die "need root to apt-get install $*; install it or set the URL"
    command -v apt-get >/dev/null || die "no apt-get to install $*; install it or set the URL"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL

# The newest bin directory holding initdb, pg_ctl and postgres, or nothing.
postgres_bindir() {
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    if [ ! -x "$initdb" ]; then
        initdb=$(command -v initdb || true) # not Debian: from PATH
    fi
    if [ -n "$initdb" ] && [ -x "$(dirname "$initdb")/pg_ctl" ] && [ -x "$(dirname "$initdb")/postgres" ]; then
        dirname "$initdb"
    fi
}

# Debian's postgresql-NN package creates and starts a cluster "main" on
# install unless createcluster.conf says create_main_cluster = false. That
# file belongs to postgresql-common (ucf-managed, so we do not write it) and
# reads drop-ins from createcluster.d: install postgresql-common first, add a
# drop-in just for the install of the server, and delete it right after.
install_postgres_binaries() {
    local conf=/etc/postgresql-common/createcluster.conf
    [ -f "$conf" ] || apt_install postgresql-common
    local dir=/etc/postgresql-common/createcluster.d
    if [ ! -d "$dir" ]; then
        mkdir "$dir"
        DROPIN_DIR=$dir
    fi
    if [ ! -e "$dir/zz-qfilter-ci.conf" ]; then
        DROPIN=$dir/zz-qfilter-ci.conf
        echo "create_main_cluster = false # temporary, by qfilter .ci/run" >"$DROPIN"
    fi
    if [ "$(pg_conftool "$conf" show -bs create_main_cluster 2>/dev/null || true)" != off ]; then
        say "warning: $conf ignores createcluster.d; Debian will create cluster main (left alone)"
    fi
    apt_install postgresql
    if [ -n "$DROPIN" ]; then rm -f "$DROPIN" && DROPIN=; fi
    if [ -n "$DROPIN_DIR" ]; then rmdir "$DROPIN_DIR" && DROPIN_DIR=; fi
}

start_throwaway_postgres() {
    PG_BIN=$(postgres_bindir)
    if [ -z "$PG_BIN" ]; then
        install_postgres_binaries
        PG_BIN=$(postgres_bindir)
        [ -n "$PG_BIN" ] || die "apt-get installed postgresql but found no initdb"
    fi
    PG_USER=$(service_user postgres)
    PG_DIR=$(private_dir "$PG_USER" qfilter-postgres)
    local port locale=C
    port=$(free_port)
    # C.UTF-8, like Debian's default cluster, when the system has it.
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
    say "starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port in $PG_DIR"
    as_user "$PG_USER" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale="$locale" >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    # Loopback only, socket in our directory; durability is pointless here.
    as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k '$PG_DIR' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null ||
        { tail -n 30 "$PG_DIR/postgres.log" >&2; die "PostgreSQL did not start within 60 s"; }
    QFILTER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/test
    db_probe "$QFILTER_TEST_POSTGRES_URL" --create || die "throwaway PostgreSQL does not answer"
}

# --- MariaDB

mariadb_binary() { # mariadb_binary NAME: its path, or nothing
    command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}

start_throwaway_mariadb() {
    local mariadbd install_db
    mariadbd=$(mariadb_binary mariadbd)
    install_db=$(mariadb_binary mariadb-install-db)
    if [ -z "$mariadbd" ] || [ -z "$install_db" ]; then
        # Just the binaries: mariadb-server would also create and start a
        # system server. mariadb-install-db needs my_print_defaults (client-core).
        apt_install mariadb-server-core mariadb-client-core
        mariadbd=$(mariadb_binary mariadbd)
        install_db=$(mariadb_binary mariadb-install-db)
        [ -n "$mariadbd" ] && [ -n "$install_db" ] || die "apt-get installed MariaDB but found no mariadbd"
    fi
    local user port
    user=$(service_user mysql)
    MY_DIR=$(private_dir "$user" qfilter-mariadb)
    port=$(free_port)
    say "starting a throwaway MariaDB ($mariadbd) on 127.0.0.1:$port in $MY_DIR"
    # --no-defaults: ignore /etc/mysql. root@localhost/127.0.0.1, no password.
    as_user "$user" "$install_db" --no-defaults --datadir="$MY_DIR/data" \
        --auth-root-authentication-method=normal --skip-name-resolve --skip-test-db \
        >"$MY_DIR/install.log" 2>&1 ||
        { cat "$MY_DIR/install.log" >&2; die "mariadb-install-db failed"; }
    # utf8mb4 like Debian's packaged server (the compiled-in default is latin1).
    local AS
    run_as "$user"
    (cd / && exec "${AS[@]}" "$mariadbd" --no-defaults --datadir="$MY_DIR/data" \
        --socket="$MY_DIR/mariadbd.sock" --pid-file="$MY_DIR/mariadbd.pid" \
        --log-error="$MY_DIR/mariadbd.log" --tmpdir="$MY_DIR" \
        --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --innodb-flush-log-at-trx-commit=0 >"$MY_DIR/mariadbd.out" 2>&1) &
    MY_PID=$!
    QFILTER_TEST_MYSQL_URL=mysql+pymysql://root@127.0.0.1:$port/test
    # Wait for it (bounded), making the database `test` as soon as it answers.
    local deadline=$((SECONDS + 60)) status
    while :; do
        status=0
        db_probe "$QFILTER_TEST_MYSQL_URL" --create 2>/dev/null || status=$?
        case $status in
            0) break ;;
            1) ;; # not up yet
            *) db_probe "$QFILTER_TEST_MYSQL_URL" || die "cannot probe MariaDB (see above)" ;;
        esac
        if ! alive "$MY_PID"; then
            tail -n 30 "$MY_DIR/mariadbd.out" "$MY_DIR/mariadbd.log" >&2
            die "MariaDB exited during startup"
        elif [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$MY_DIR/mariadbd.out" "$MY_DIR/mariadbd.log" >&2
            die "MariaDB did not answer within 60 s"
        fi
        sleep 1
    done
}

# use_database NAME VAR DEFAULT_URL START: point VAR at a server that answers.
use_database() {
    local name=$1 var=$2 default=$3 start=$4 status=0
    local url=${!var:-}
    if [ "${QFILTER_FORCE_THROWAWAY:-}" = 1 ]; then
        [ -z "$url" ] || say "QFILTER_FORCE_THROWAWAY=1: ignoring $var=$(redact "$url")"
        "$start"
    elif [ -n "$url" ]; then
        # Given explicitly: it is what the caller wants tested, no substitute.
        db_probe "$url" || die "$var=$(redact "$url") does not answer"
    else
        db_probe "$default" || status=$?
        case $status in
            0) printf -v "$var" %s "$default" ;;
            1) say "no $name at $default: using a throwaway server"; "$start" ;;
            *) die "cannot probe $name (see above)" ;;
        esac
    fi
    export "${var?}" # the variable named by $var
    say "$var=$(redact "${!var}")"
}

use_database PostgreSQL QFILTER_TEST_POSTGRES_URL "$PG_DEFAULT_URL" start_throwaway_postgres
use_database MariaDB QFILTER_TEST_MYSQL_URL "$MYSQL_DEFAULT_URL" start_throwaway_mariadb
