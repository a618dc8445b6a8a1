#!/usr/bin/env bash
# Measures the server's end-to-end throughput on loopback. Postfix's smtp-source is the SMTP client.
#   a) MDA up: smtp-sink in LMTP mode is the delivery agent. Every message is delivered while its client
#      waits, and the figure counts the messages that reached the sink.
#   b) MDA down: the LMTP route points at a port where nothing listens, so every message is written to the
#      queue and fsynced before its 250. The figure counts the queue files.
# Each case starts a fresh server with its own spool, sends a warm-up batch that is not timed, then the
# timed batch. Prints messages per second and the server's CPU time per message.
#
# Usage: perf/queue-throughput.sh [-m MESSAGES] [-s SESSIONS] [-l BYTES] [-w WARMUP]
#   -m  messages in each timed batch (default 5000)
#   -s  concurrent SMTP sessions of smtp-source (default 20)
#   -l  payload size of each message in bytes, without headers (default 5000)
#   -w  untimed warm-up messages sent first (default 500)
# Environment:
#   ACTORS_MTA_HOST_DLL  server assembly to run; by default src/Actors.Mta.Host is built in Release
#   PERF_WORK_DIR        parent of the temporary spool directories (default /var/tmp, which must be on
#                        a disk, not tmpfs, or fsync costs nothing)
# Requires: dotnet, python3, and smtp-source and smtp-sink from the Debian package postfix.
set -euo pipefail

messages=5000
sessions=20
size=5000
warmup=500
while getopts "m:s:l:w:h" option; do
    case "$option" in
        m) messages="$OPTARG" ;;
        s) sessions="$OPTARG" ;;
        l) size="$OPTARG" ;;
        w) warmup="$OPTARG" ;;
        *) sed -n '2,19p' "$0"; exit 64 ;;
    esac
done

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sender="perf@example.org"
recipient="alice@example.com"

for tool in dotnet python3 smtp-source smtp-sink; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool not found on PATH; smtp-source and smtp-sink are in the Debian package postfix" >&2
        exit 69
    fi
done

host_dll="${ACTORS_MTA_HOST_DLL:-}"
if [[ -z "$host_dll" ]]; then
    echo "=== building src/Actors.Mta.Host in Release" >&2
    dotnet build "$repo_root/src/Actors.Mta.Host" -c Release -nologo -v quiet >&2
    host_dll="$repo_root/src/Actors.Mta.Host/bin/Release/net10.0/actors-mta.dll"
fi
if [[ ! -f "$host_dll" ]]; then
    echo "error: server assembly $host_dll not found; build it or set ACTORS_MTA_HOST_DLL" >&2
    exit 66
fi

work="$(mktemp -d -p "${PERF_WORK_DIR:-/var/tmp}" actors-mta-perf.XXXXXX)"
server_pid=""
sink_pid=""

stop_pid() {
    local pid="$1"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

cleanup() {
    stop_pid "$server_pid"
    stop_pid "$sink_pid"
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 60 s for a 220 greeting on 127.0.0.1:$1.
wait_for_greeting() {
    python3 - "$1" <<'PYTHON'
import socket, sys, time

port = int(sys.argv[1])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            if connection.recv(512).startswith(b"220"):
                connection.sendall(b"QUIT\r\n")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.25)
sys.exit(f"error: no 220 greeting on 127.0.0.1:{port} within 60 s")
PYTHON
}

# Prints the CPU time (user + system) of process $1 in milliseconds.
cpu_ms() {
    local ticks
    ticks="$(awk '{ print $14 + $15 }' "/proc/$1/stat")"
    echo $(( ticks * 1000 / $(getconf CLK_TCK) ))
}

# Starts the server with its spool in $1 and the LMTP destination 127.0.0.1:$2, with any further override
# lines in $3; sets server_pid and smtp_port.
start_server() {
    local directory="$1" lmtp_port="$2" extra="${3:-}"
    smtp_port="$(free_port)"
    mkdir -p "$directory"
    {
        cat "$repo_root/akka.hocon"
        echo
        echo "# Overrides for perf/queue-throughput.sh"
        echo "actors-mta.server-name = \"perf.test\""
        echo "actors-mta.listen.endpoints = [\"127.0.0.1:$smtp_port\"]"
        echo "actors-mta.spool-directory = \"$directory/spool\""
        echo "actors-mta.accepted-domains = [\"example.com\"]"
        echo "actors-mta.routes = [{ domains = [\"*\"], destination = \"lmtp:127.0.0.1:$lmtp_port\" }]"
        # Queued messages are not retried during the run, so case b measures only the writes.
        echo "actors-mta.queue.first-retry = 1h"
        # All load comes from 127.0.0.1, so the per-client limits would measure themselves, not the server.
        echo "actors-mta.limits.max-connections-per-client = 0"
        echo "actors-mta.limits.max-connection-rate-per-client = 0"
        echo "$extra"
    } >"$directory/perf.hocon"
    (cd "$directory" && exec dotnet "$host_dll" --config "$directory/perf.hocon") >"$directory/server.log" 2>&1 &
    server_pid=$!
    wait_for_greeting "$smtp_port"
}

# Runs smtp-source with $1 messages; prints the elapsed seconds. Exits non-zero on any reply that is not positive.
send_batch() {
    local count="$1" started ended
    started="$(date +%s.%N)"
    smtp-source -d -s "$sessions" -m "$count" -l "$size" -f "$sender" -t "$recipient" "127.0.0.1:$smtp_port"
    ended="$(date +%s.%N)"
    awk -v start="$started" -v end="$ended" 'BEGIN { printf "%.3f\n", end - start }'
}

# Prints the last message count that smtp-sink -c wrote to $1.
sink_count() {
    tr '\r' '\n' <"$1" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1
}

queue_files() {
    find "$1/spool/queue" -name '*.env' | wc -l
}

report() {
    local name="$1" counted="$2" seconds="$3" cpu="$4"
    awk -v name="$name" -v counted="$counted" -v sessions="$sessions" -v size="$size" -v seconds="$seconds" -v cpu="$cpu" \
        'BEGIN { printf "%-34s %8d %8d %6d %9.2f %9.0f %12.2f\n", name, counted, sessions, size, seconds, counted / seconds, cpu / counted }'
}

results=()

echo "=== case a: MDA up (smtp-sink -L)" >&2
sink_port="$(free_port)"
case_a="$work/mda-up"
mkdir -p "$case_a"
# As root, smtp-sink drops its privileges to the user named by -u.
sink_user=()
if [[ "$(id -u)" == 0 ]]; then
    sink_user=(-u nobody)
fi
smtp-sink -L "${sink_user[@]}" -c -m 1000 "127.0.0.1:$sink_port" 1024 >"$case_a/sink.out" 2>&1 &
sink_pid=$!
start_server "$case_a" "$sink_port"
send_batch "$warmup" >/dev/null
before_sink="$(sink_count "$case_a/sink.out")"
before_cpu="$(cpu_ms "$server_pid")"
seconds="$(send_batch "$messages")"
cpu="$(( $(cpu_ms "$server_pid") - before_cpu ))"
delivered="$(( $(sink_count "$case_a/sink.out") - before_sink ))"
queued_a="$(queue_files "$case_a")"
results+=("$(report "a) MDA up, delivered at the sink" "$delivered" "$seconds" "$cpu")")
stop_pid "$server_pid"
stop_pid "$sink_pid"
server_pid=""
sink_pid=""

# Case b twice: with group commit (one syncfs per batch of queue writes, the default) and without it
# (three fsyncs for each message).
for group_commit in on off; do
    echo "=== case b: MDA down (every message queued), group-commit = $group_commit" >&2
    case_b="$work/mda-down-$group_commit"
    start_server "$case_b" "$(free_port)" "actors-mta.queue.group-commit = $group_commit"
    send_batch "$warmup" >/dev/null
    before_queue="$(queue_files "$case_b")"
    before_cpu="$(cpu_ms "$server_pid")"
    seconds="$(send_batch "$messages")"
    cpu="$(( $(cpu_ms "$server_pid") - before_cpu ))"
    queued="$(( $(queue_files "$case_b") - before_queue ))"
    results+=("$(report "b) MDA down, group-commit $group_commit" "$queued" "$seconds" "$cpu")")
    stop_pid "$server_pid"
    server_pid=""
done

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $messages messages of $size payload bytes per case, $sessions sessions"
printf '%-34s %8s %8s %6s %9s %9s %12s\n' "case" "counted" "sessions" "bytes" "seconds" "msg/s" "CPU ms/msg"
printf '%s\n' "${results[@]}"
echo "case a left $queued_a message(s) in the queue (expected 0); each case b sent $messages (the last counted $queued queue files)"
