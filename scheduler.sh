#!/usr/bin/env bash
# crawlops: start, stop and drive the product on one machine.
#
#   ./scheduler.sh up [--prod]   set up .venv if needed, start luigid, the demo site,
#                                the webmon monitor and the trigger daemon, create the
#                                default schedules, run the demo crawl once,
#                                print what to open. --prod: DEBUG off, webmon under
#                                gunicorn (2 workers); needs SECRET_KEY (docs/operations.md)
#   ./scheduler.sh down          stop what `up` started (and nothing else)
#   ./scheduler.sh status        what is running, and where
#   ./scheduler.sh crawl NAME [--at 2026-11-21T0730]
#                                run one crawl tick through luigid (default: this minute, UTC)
#   ./scheduler.sh test [ARGS]   set up .venv if needed (with the Scrapy extra, requirements-scrapy.txt)
#                                and run the test suite (ARGS go to pytest)
#   ./scheduler.sh crontab       print crontab lines equivalent to the enabled schedules in
#                                webmon's DB (for cron instead of the trigger daemon)
#
# Environment: PYTHON (interpreter for the venv, 3.11+), CRAWLOPS_VENV (use
# this venv instead of .venv), LUIGID_PORT (8082), DEMO_SITE_PORT (8090),
# DEMO_SITE_PRODUCTS (1000), WEBMON_PORT (8000), WEBMON_BASE_URL (where
# notices and luigid's run links point; http://127.0.0.1:$WEBMON_PORT),
# WEBMON_ADMIN_PASSWORD (the password of webmon's first user `admin`; unset:
# one is generated and printed once). Everything binds to 127.0.0.1.
# `up` records the ports it used in var/run/stack.env; while that stack runs,
# every later command (and the plain luigi CLI, see pipelines/stack.py) uses
# them: a variable you set > the running stack's record > the default.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

VENV=${CRAWLOPS_VENV:-$ROOT/.venv}
VPY=$VENV/bin/python
VAR=$ROOT/var
RUN=$VAR/run
LOGS=$VAR/log
STACK_FILE=$RUN/stack.env
DEMO_SITE_PRODUCTS=${DEMO_SITE_PRODUCTS:-1000}
# The addresses the caller gave, apart from those in force (resolve_addresses).
GIVEN_LUIGID_PORT=${LUIGID_PORT:-}
GIVEN_DEMO_SITE_PORT=${DEMO_SITE_PORT:-}
GIVEN_WEBMON_PORT=${WEBMON_PORT:-}
GIVEN_WEBMON_BASE_URL=${WEBMON_BASE_URL:-}
export TZ=UTC  # luigid writes naive local timestamps into task history
export LUIGI_CONFIG_PATH=${LUIGI_CONFIG_PATH:-$ROOT/luigi.cfg}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

say() { printf '%s\n' "$*"; }
die() { printf 'scheduler.sh: %s\n' "$*" >&2; exit 1; }

pick_python() {
    local candidates=("${PYTHON:-}" python3.11 python3.12 python3.13 python3)
    for py in "${candidates[@]}"; do
        [ -n "$py" ] || continue
        command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    die "needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"
}

ensure_venv() {
    local stamp=$VENV/.requirements.sha256
    local want
    want=$(sha256sum requirements.txt | cut -d' ' -f1)
    if [ ! -x "$VPY" ]; then
        local py
        py=$(pick_python)
        say "creating $VENV with $py"
        "$py" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing requirements into $VENV (once; takes a minute)"
        "$VPY" -m pip install --quiet --disable-pip-version-check -r requirements.txt
        echo "$want" >"$stamp"
    fi
    [ "${1:-}" = scrapy ] || return 0
    # The optional Scrapy extra (pipelines/external/, docs/external-crawlers.md): `test`
    # installs it so its tests run; `up` never needs it.
    local extra=$VENV/.requirements-scrapy.sha256
    want=$(cat requirements.txt requirements-scrapy.txt | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$extra" 2>/dev/null)" != "$want" ]; then
        say "installing the Scrapy extra (requirements-scrapy.txt) into $VENV"
        "$VPY" -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-scrapy.txt
        echo "$want" >"$extra"
    fi
}

# -- processes ---------------------------------------------------------------

pid_of() {  # prints the pid of service $1 if it is alive
    local file=$RUN/$1.pid pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
        return 0
    fi
    rm -f "$file"  # stale: the process died
    return 1
}

port_busy() {
    "$VPY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

wait_port() {  # service port seconds
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        port_busy "$2" && return 0
        pid_of "$1" >/dev/null || die "$1 exited during start-up; see $LOGS/$1.log"
        sleep 0.1
    done
    die "$1 did not answer on 127.0.0.1:$2 within $3 s; see $LOGS/$1.log"
}

start() {  # name port command...
    local name=$1 port=$2
    shift 2
    if pid=$(pid_of "$name"); then
        say "$name already running (pid $pid)"
        return 0
    fi
    port_busy "$port" && die "port $port is taken by another program; set the port variable (see ./scheduler.sh help)"
    # setsid: the service outlives this shell and gets its own process group.
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    wait_port "$name" "$port" 30
    say "started $name (pid $(cat "$RUN/$name.pid")) on 127.0.0.1:$port"
}

start_daemon() {  # name command... (a service without a port: alive after a second is up)
    local name=$1
    shift
    if pid=$(pid_of "$name"); then
        say "$name already running (pid $pid)"
        return 0
    fi
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    sleep 1
    pid_of "$name" >/dev/null || die "$name exited during start-up; see $LOGS/$name.log"
    say "started $name (pid $(cat "$RUN/$name.pid"))"
}

stop_one() {
    local name=$1 pid i
    if ! pid=$(pid_of "$name"); then
        say "$name not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        say "$name did not stop within 10 s: killed"
    else
        say "stopped $name (pid $pid)"
    fi
    rm -f "$RUN/$name.pid"
}

# -- addresses: a variable you set > the running stack's record > the default ---

is_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

stack_alive() {  # the record is there and a service `up` started still runs
    local name
    [ -f "$STACK_FILE" ] || return 1
    for name in luigid demo-site webmon trigger; do
        pid_of "$name" >/dev/null && return 0
    done
    return 1
}

read_stack() {  # REC_<KEY> from the record; 1 (with a sentence) when it is not one `up` wrote
    local key value
    REC_LUIGID_PID='' REC_LUIGID_PORT='' REC_DEMO_SITE_PORT='' REC_WEBMON_PORT='' REC_WEBMON_BASE_URL=''
    while IFS='=' read -r key value || [ -n "$key" ]; do
        case $key in
            LUIGID_PID | LUIGID_PORT | DEMO_SITE_PORT | WEBMON_PORT | WEBMON_BASE_URL) printf -v "REC_$key" '%s' "$value" ;;
        esac
    done <"$STACK_FILE"
    for key in LUIGID_PORT DEMO_SITE_PORT WEBMON_PORT; do
        value=REC_$key
        is_port "${!value}" && continue
        printf 'scheduler.sh: ignoring %s: %s=%q is not a port\n' "$STACK_FILE" "$key" "${!value}" >&2
        return 1
    done
    case $REC_WEBMON_BASE_URL in
        http://?* | https://?*) ;;
        *) REC_WEBMON_BASE_URL=http://127.0.0.1:$REC_WEBMON_PORT ;;
    esac
}

pick() {  # NAME DEFAULT: NAME as given, else as the running stack recorded it, else DEFAULT
    local given=GIVEN_$1 recorded=REC_$1
    if [ -n "${!given}" ]; then
        printf -v "$1" '%s' "${!given}"
    elif [ "$STACK_LIVE" = 1 ]; then
        printf -v "$1" '%s' "${!recorded}"
    else
        printf -v "$1" '%s' "$2"
    fi
}

resolve_addresses() {  # sets and exports LUIGID_PORT DEMO_SITE_PORT WEBMON_PORT WEBMON_BASE_URL
    local name value
    for name in LUIGID_PORT DEMO_SITE_PORT WEBMON_PORT; do
        value=GIVEN_$name
        [ -z "${!value}" ] || is_port "${!value}" || die "$name=${!value} is not a port: expected a whole number from 1 to 65535"
    done
    case $GIVEN_WEBMON_BASE_URL in
        '' | http://?* | https://?*) ;;
        *) die "WEBMON_BASE_URL=$GIVEN_WEBMON_BASE_URL is not a URL: expected http://host:port or https://host" ;;
    esac
    STACK_LIVE=0
    REC_LUIGID_PID='' REC_LUIGID_PORT='' REC_DEMO_SITE_PORT='' REC_WEBMON_PORT='' REC_WEBMON_BASE_URL=''
    if stack_alive && read_stack; then STACK_LIVE=1; fi
    pick LUIGID_PORT 8082
    pick DEMO_SITE_PORT 8090
    pick WEBMON_PORT 8000
    if [ -n "$GIVEN_WEBMON_BASE_URL" ]; then
        WEBMON_BASE_URL=${GIVEN_WEBMON_BASE_URL%/}
    elif [ "$STACK_LIVE" = 1 ] && [ "$WEBMON_PORT" = "$REC_WEBMON_PORT" ]; then
        WEBMON_BASE_URL=$REC_WEBMON_BASE_URL
    else
        WEBMON_BASE_URL=http://127.0.0.1:$WEBMON_PORT
    fi
    # The services and luigi commands started from here read them (pipelines/stack.py).
    export LUIGID_PORT DEMO_SITE_PORT WEBMON_PORT WEBMON_BASE_URL
}

where_stack_runs() {  # the running stack's services and where they are, one line each
    local pid
    if pid=$(pid_of luigid); then say "  luigid     http://127.0.0.1:$REC_LUIGID_PORT/ (pid $pid)"; fi
    if pid=$(pid_of demo-site); then say "  demo site  http://127.0.0.1:$REC_DEMO_SITE_PORT/ (pid $pid)"; fi
    if pid=$(pid_of webmon); then say "  webmon     http://127.0.0.1:$REC_WEBMON_PORT/ (pid $pid; links to $REC_WEBMON_BASE_URL)"; fi
    if pid=$(pid_of trigger); then say "  trigger    pid $pid (links to $REC_WEBMON_BASE_URL)"; fi
    return 0
}

refuse_moving_a_running_stack() {  # a second `up` asking a running service for another address
    [ "$STACK_LIVE" = 1 ] || return 0
    local clashes=()
    if [ "$LUIGID_PORT" != "$REC_LUIGID_PORT" ] && pid_of luigid >/dev/null; then
        clashes+=("LUIGID_PORT=$LUIGID_PORT")
    fi
    if [ "$DEMO_SITE_PORT" != "$REC_DEMO_SITE_PORT" ] && pid_of demo-site >/dev/null; then
        clashes+=("DEMO_SITE_PORT=$DEMO_SITE_PORT")
    fi
    if [ "$WEBMON_PORT" != "$REC_WEBMON_PORT" ] && pid_of webmon >/dev/null; then
        clashes+=("WEBMON_PORT=$WEBMON_PORT")
    fi
    if [ "$WEBMON_BASE_URL" != "$REC_WEBMON_BASE_URL" ] && { pid_of webmon || pid_of trigger; } >/dev/null; then
        clashes+=("WEBMON_BASE_URL=$WEBMON_BASE_URL")
    fi
    [ ${#clashes[@]} -gt 0 ] || return 0
    {
        say "scheduler.sh: the stack an earlier \`./scheduler.sh up\` started runs here:"
        where_stack_runs
        say "and ${clashes[*]} asks for another address. Nothing was started or changed."
        say "Run ./scheduler.sh down first to move it, or unset those variables to use the running stack."
    } >&2
    exit 1
}

record_stack() {  # var/run/stack.env, replaced atomically: later commands and luigi read it
    local pid tmp=$STACK_FILE.tmp.$$
    pid=$(pid_of luigid) || return 0
    cat >"$tmp" <<EOF
# What ./scheduler.sh up started, read by scheduler.sh and pipelines/stack.py while
# luigid (pid below) runs. Rewritten by every up, removed by down: do not edit.
LUIGID_PID=$pid
LUIGID_PORT=$LUIGID_PORT
DEMO_SITE_PORT=$DEMO_SITE_PORT
WEBMON_PORT=$WEBMON_PORT
WEBMON_BASE_URL=$WEBMON_BASE_URL
EOF
    mv -f "$tmp" "$STACK_FILE"
    STACK_LIVE=1 REC_LUIGID_PID=$pid REC_LUIGID_PORT=$LUIGID_PORT REC_DEMO_SITE_PORT=$DEMO_SITE_PORT
    REC_WEBMON_PORT=$WEBMON_PORT REC_WEBMON_BASE_URL=$WEBMON_BASE_URL
}

note_not_the_stack() {  # a port given here that is not the running stack's: said, then used
    [ "$STACK_LIVE" = 1 ] || return 0
    if [ -n "$GIVEN_LUIGID_PORT" ] && [ "$LUIGID_PORT" != "$REC_LUIGID_PORT" ]; then
        say "scheduler.sh: note: LUIGID_PORT=$LUIGID_PORT is set; the luigid \`up\` started runs on $REC_LUIGID_PORT" >&2
    fi
    if [ -n "$GIVEN_DEMO_SITE_PORT" ] && [ "$DEMO_SITE_PORT" != "$REC_DEMO_SITE_PORT" ]; then
        say "scheduler.sh: note: DEMO_SITE_PORT=$DEMO_SITE_PORT is set; the demo site \`up\` started runs on $REC_DEMO_SITE_PORT" >&2
    fi
    return 0
}

# -- commands ----------------------------------------------------------------

cmd_up() {
    local prod=0
    case $# in
        0) ;;
        1) [ "$1" = --prod ] || usage; prod=1 ;;
        *) usage ;;
    esac
    if [ $prod -eq 1 ]; then
        [ -n "${SECRET_KEY:-}" ] || die "up --prod needs SECRET_KEY in the environment: set it to a long random string (see docs/operations.md); it is never generated in production"
        export DEBUG=false
    fi
    ensure_venv
    mkdir -p "$RUN" "$LOGS" "$VAR/luigid" "$VAR/data"
    resolve_addresses
    refuse_moving_a_running_stack
    start luigid "$LUIGID_PORT" "$VPY" -c 'import luigi.cmdline; luigi.cmdline.luigid()' \
        --address 127.0.0.1 --port "$LUIGID_PORT"
    record_stack
    start demo-site "$DEMO_SITE_PORT" "$VPY" -m pipelines.demo.server \
        --host 127.0.0.1 --port "$DEMO_SITE_PORT" --products "$DEMO_SITE_PRODUCTS"
    local admin_note
    "$VPY" manage.py migrate --noinput -v 0
    # Our run tables and the indexes webmon's pages need on Luigi's tables (idempotent).
    "$VPY" manage.py prepare_history -v 0
    # Prints a generated password once, on first start only: to this terminal, never to a log.
    admin_note=$("$VPY" manage.py ensure_admin)
    # Django's development server, single process: fine for one machine; `up --prod`
    # serves webmon with gunicorn instead.
    # The token Prometheus sends (deploy/prometheus/crawlops_metrics_token), unless one is given.
    if [ -z "${METRICS_TOKEN:-}" ] && [ -s deploy/prometheus/crawlops_metrics_token ]; then
        METRICS_TOKEN=$(cat deploy/prometheus/crawlops_metrics_token)
        export METRICS_TOKEN
    fi
    if [ $prod -eq 1 ]; then
        # gunicorn's workers share login-limiter counts in the database cache; WhiteNoise
        # serves the collected static files.
        "$VPY" manage.py createcachetable
        "$VPY" manage.py collectstatic --noinput -v 0
        LUIGID_URL=${LUIGID_URL:-http://127.0.0.1:$LUIGID_PORT} \
            start webmon "$WEBMON_PORT" "$VPY" -m gunicorn webmon.wsgi:application \
            --bind "127.0.0.1:$WEBMON_PORT" --workers 2 --access-logfile -
    else
        LUIGID_URL=${LUIGID_URL:-http://127.0.0.1:$LUIGID_PORT} \
            start webmon "$WEBMON_PORT" "$VPY" manage.py runserver --noreload --skip-checks "127.0.0.1:$WEBMON_PORT"
    fi
    "$VPY" manage.py ensure_demo_schedule  # before the maintenance ones: only on an empty table
    "$VPY" manage.py ensure_maintenance_schedules
    LUIGID_URL=${LUIGID_URL:-http://127.0.0.1:$LUIGID_PORT} start_daemon trigger "$VPY" manage.py trigger
    say "running the demo crawl once through luigid"
    cmd_crawl demo
    cat <<EOF

crawlops is up.
  webmon monitor      http://127.0.0.1:$WEBMON_PORT/   (log in as admin)
  schedules           http://127.0.0.1:$WEBMON_PORT/schedules/   (the trigger daemon fires them)
  luigid visualiser   http://127.0.0.1:$LUIGID_PORT/
  demo site           http://127.0.0.1:$DEMO_SITE_PORT/
  notice, run links   $WEBMON_BASE_URL/
  these addresses     $STACK_FILE   (later commands and the luigi CLI use them)
  crawled items       $VAR/items.db (table crawl_items)
  raw pages, outcomes $VAR/data/demo/
  task history        $VAR/history.db
  logs                $LOGS/
Run a crawl:  ./scheduler.sh crawl demo      Stop:  ./scheduler.sh down
EOF
    [ -z "$admin_note" ] || say "$admin_note"
}

cmd_down() {
    [ $# -eq 0 ] || usage
    stop_one trigger
    stop_one webmon
    stop_one demo-site
    stop_one luigid
    rm -f "$STACK_FILE"  # nothing it records runs any more
}

cmd_status() {
    [ $# -eq 0 ] || usage
    local name pid where
    resolve_addresses
    for name in luigid demo-site webmon trigger; do
        if pid=$(pid_of "$name"); then
            case $name in  # the record's addresses; for a stack without one, those in force here
                luigid) where=" on http://127.0.0.1:${REC_LUIGID_PORT:-$LUIGID_PORT}/" ;;
                demo-site) where=" on http://127.0.0.1:${REC_DEMO_SITE_PORT:-$DEMO_SITE_PORT}/" ;;
                webmon) where=" on http://127.0.0.1:${REC_WEBMON_PORT:-$WEBMON_PORT}/, links to ${REC_WEBMON_BASE_URL:-$WEBMON_BASE_URL}/" ;;
                trigger) where=", links to ${REC_WEBMON_BASE_URL:-$WEBMON_BASE_URL}/" ;;
            esac
            say "$name: running (pid $pid)$where"
        else
            say "$name: stopped"
        fi
    done
    note_not_the_stack
}

cmd_crawl() {
    [ $# -ge 1 ] || usage
    local name=$1 at
    shift
    at=$(date -u +%Y-%m-%dT%H%M)
    while [ $# -gt 0 ]; do
        case $1 in
            --at) [ $# -ge 2 ] || usage; at=$2; shift 2 ;;
            --at=*) at=${1#--at=}; shift ;;
            *) usage ;;
        esac
    done
    [ -x "$VPY" ] || die "no virtualenv yet: run ./scheduler.sh up first"
    [ -n "${STACK_LIVE:-}" ] || resolve_addresses  # `up` has resolved them already
    if [ -z "$GIVEN_LUIGID_PORT" ]; then  # a luigid of your own (LUIGID_PORT) is yours to start
        pid_of luigid >/dev/null || die "luigid is not running: run ./scheduler.sh up first"
    fi
    note_not_the_stack
    "$VPY" -m luigi --module pipelines.tasks RunCrawl --crawl "$name" --at "$at" \
        --scheduler-host 127.0.0.1 --scheduler-port "$LUIGID_PORT"
}

cmd_crontab() {
    [ $# -eq 0 ] || usage
    [ -x "$VPY" ] || die "no virtualenv yet: run ./scheduler.sh up first"
    resolve_addresses
    # Cron has none of this shell's variables: the addresses given here become crontab
    # variables. Without them the lines follow the running stack's record, as the plain
    # luigi CLI does (pipelines/stack.py), and luigi.cfg when no stack runs.
    local name value
    for name in LUIGID_PORT DEMO_SITE_PORT WEBMON_BASE_URL; do
        value=GIVEN_$name
        [ -z "${!value}" ] || say "$name=${!value}"
    done
    if [ "$STACK_LIVE" = 1 ]; then
        say "# While the stack ./scheduler.sh up started runs ($STACK_FILE), lines without those variables"
        say "# reach its luigid on 127.0.0.1:$REC_LUIGID_PORT, its demo site on :$REC_DEMO_SITE_PORT and link runs to $REC_WEBMON_BASE_URL."
    fi
    "$VPY" manage.py crontab --python "$VPY" --repo "$ROOT"
}

cmd_test() {
    ensure_venv scrapy
    unset LUIGI_CONFIG_PATH  # tests write their own configs
    unset LUIGID_PORT DEMO_SITE_PORT WEBMON_PORT WEBMON_BASE_URL  # and pick their own ports
    exec "$VPY" -m pytest "$@"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    crawl) cmd_crawl "$@" ;;
    test) cmd_test "$@" ;;
    crontab) cmd_crontab "$@" ;;
    help | -h | --help) usage ;;
    *) printf 'scheduler.sh: unknown command %q\n' "$command" >&2; usage ;;
esac
