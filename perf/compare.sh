#!/usr/bin/env bash
# Side-by-side load comparison on loopback: Actors.Mta, a private Postfix instance, and the SmtpServer reference
# (accepts and discards), all delivering to one smtp-sink in LMTP mode, each driven by smtp-source (Postfix's
# test client) and by perf/Actors.Mta.LoadRunner with the same load. Prints a Markdown table with end-to-end
# messages/s, transaction latency, server CPU time per message and the ratio to Postfix, plus the ceiling of
# smtp-source straight into smtp-sink, transaction latency at half of the peak rate (open model), an
# idle-concurrency case and a 100 MB streaming case.
#
# Usage: perf/compare.sh [--idle-sessions N] [--quick] [--out DIR] [--skip-build] [--keep]
#   --idle-sessions N  sessions the idle case opens and keeps open (default 5000)
#   --warmup N         unrecorded 5 KB messages each server gets first, within 90 s (default 20000; --quick 2000)
#   --quick            a tenth of the messages in each case, to check that the script runs (the latency case
#                      at half of the peak rate keeps its 3 s warm-up and 15 s measured)
#   --out DIR          where results.md, results.tsv, latency.tsv and the runner's reports go (default: a new
#                      folder in /tmp)
#   --skip-build       use the Release builds already there
#   --keep             keep the working folder (spools, Postfix queue and logs) after the run
#
# Needs: root (Postfix's master and smtp-sink -u nobody start as root), the postfix package (postfix,
# smtp-source, smtp-sink), python3 and the .NET SDK. Every process it starts listens on 127.0.0.1 only and is
# stopped by PID on exit. Every load is bounded in messages and in time.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
idle_sessions=5000
warmup_messages=""
scale=1
out_dir=""
skip_build=0
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --idle-sessions) idle_sessions="${2:?--idle-sessions needs a number}"; shift 2 ;;
        --warmup) warmup_messages="${2:?--warmup needs a number}"; shift 2 ;;
        --quick) scale=10; shift ;;
        --out) out_dir="${2:?--out needs a folder}"; shift 2 ;;
        --skip-build) skip_build=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "error: unknown argument '$1'; see --help." >&2; exit 2 ;;
    esac
done

if [[ ! "$idle_sessions" =~ ^[0-9]+$ ]] || [[ "$idle_sessions" -lt 1 ]]; then
    echo "error: --idle-sessions must be a positive whole number, not '$idle_sessions'." >&2
    exit 2
fi

if [[ -n "$warmup_messages" ]] && [[ ! "$warmup_messages" =~ ^[0-9]+$ ]]; then
    echo "error: --warmup must be a whole number of messages, not '$warmup_messages'." >&2
    exit 2
fi

work="$(mktemp -d /tmp/actors-mta-compare.XXXXXX)"
# Postfix's daemons run as the postfix user and smtp-sink as nobody: they must reach their folders in here.
chmod 755 "$work"
out_dir="${out_dir:-$work/out}"
mkdir -p "$out_dir/reports"
out_dir="$(cd "$out_dir" && pwd)"
results_tsv="$out_dir/results.tsv"
results_md="$out_dir/results.md"
latency_tsv="$out_dir/latency.tsv"
log="$out_dir/compare.log"
: >"$results_tsv"
: >"$latency_tsv"

clock_ticks="$(getconf CLK_TCK)"
sender="loadrunner@example.org"
recipient="alice@example.com"
host_dll="$repo_root/src/Actors.Mta.Host/bin/Release/net10.0/actors-mta.dll"
runner_dll="$repo_root/perf/Actors.Mta.LoadRunner/bin/Release/net10.0/actors-mta-loadrunner.dll"
reference_dll="$repo_root/perf/reference/SmtpServerReference/bin/Release/net10.0/smtpserver-reference.dll"

say() { printf '=== %s\n' "$*" | tee -a "$log" >&2; }
note() { printf '    %s\n' "$*" | tee -a "$log" >&2; }
now() { date +%s.%N; }

# ---------------------------------------------------------------------------------------------------------------
# Processes: every PID this script starts is recorded and stopped on exit (SIGTERM, then SIGKILL after 10 s).

started_pids=()
postfix_config=""

stop_pid() {
    local pid="$1" waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [[ $waited -lt 100 ]]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

stop_postfix() {
    [[ -n "$postfix_config" ]] || return 0
    postfix -c "$postfix_config" stop >/dev/null 2>&1
    local master_pid_file="$work/postfix/queue/pid/master.pid" waited=0 pid
    if [[ -f "$master_pid_file" ]]; then
        pid="$(tr -d ' \n' <"$master_pid_file")"
        while [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ $waited -lt 100 ]]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && postfix -c "$postfix_config" abort >/dev/null 2>&1
    fi
    postfix_config=""
}

cleanup() {
    local pid
    stop_postfix
    for pid in "${started_pids[@]}"; do
        stop_pid "$pid"
    done
    if [[ $keep -eq 0 ]]; then
        # The results folder may sit inside the working folder: keep it, remove the rest.
        find "$work" -mindepth 1 -maxdepth 1 ! -path "$out_dir" ! -path "$work/out" -exec rm -rf {} + 2>/dev/null
        rmdir "$work" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something on 127.0.0.1:PORT sends a 220 greeting; returns non-zero after TIMEOUT seconds.
wait_for_greeting() {
    local port="$1" timeout="${2:-30}" deadline
    deadline=$(( $(date +%s) + timeout ))
    while [[ $(date +%s) -lt $deadline ]]; do
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 3 <&3 | grep -q 220 && printf 'QUIT\r\n' >&3" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------------------------------------------------------
# Figures from /proc: CPU time in clock ticks (utime + stime), resident memory in KB.

proc_stat_fields() {
    # Fields after the command name, which may contain spaces: index 11 utime, 12 stime, 13 cutime, 14 cstime.
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    echo "${stat##*) }"
}

cpu_ticks_of() {
    local -a fields
    read -ra fields <<<"$(proc_stat_fields "$1")" || { echo 0; return; }
    echo $(( ${fields[11]:-0} + ${fields[12]:-0} ))
}

# Postfix is many processes: the master's own time and that of its reaped children, plus every live child.
postfix_cpu_ticks() {
    local master_pid total child
    master_pid="$(tr -d ' \n' <"$work/postfix/queue/pid/master.pid" 2>/dev/null)"
    [[ -n "$master_pid" ]] || { echo 0; return; }
    local -a fields
    read -ra fields <<<"$(proc_stat_fields "$master_pid")" || { echo 0; return; }
    total=$(( fields[11] + fields[12] + fields[13] + fields[14] ))
    for child in $(ps -o pid= --ppid "$master_pid"); do
        total=$(( total + $(cpu_ticks_of "$child") ))
    done
    echo "$total"
}

memory_kb() {
    awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------------------------------------------------------
# The MDA: smtp-sink in LMTP mode, counting each completed transaction ("mesg=N" with -c).

sink_pid=""
sink_port=""
sink_out=""

start_sink() {
    sink_out="$work/sink-$(date +%s%N).out"
    # -m 512: sessions served at once (the default, 256, could queue the MTAs' LMTP connections).
    smtp-sink -L -u nobody -c -m 512 "127.0.0.1:$sink_port" 1024 >"$sink_out" 2>>"$log" &
    sink_pid=$!
    started_pids+=("$sink_pid")
    sleep 0.3
    kill -0 "$sink_pid" 2>/dev/null
}

stop_sink() {
    [[ -n "$sink_pid" ]] && stop_pid "$sink_pid"
    sink_pid=""
}

# Prints the number of messages the current sink has received (0 before the first).
sink_count() {
    local file="${1:-$sink_out}"
    tail -c 200 "$file" 2>/dev/null | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | grep . || echo 0
}

# ---------------------------------------------------------------------------------------------------------------
# The servers under test.

actors_pid=""
actors_port=""
actors_spool=""
reference_pid=""
reference_port=""
postfix_port=""
ceiling_pid=""
ceiling_port=""
ceiling_out="$work/ceiling.out"

# Returns whether the root akka.hocon defines KEY in the section "SECTION { ... }" of actors-mta, so overrides
# name only keys that this version of the server reads.
hocon_has_key() {
    awk -v section="$1" '
        $0 ~ "^[[:space:]]*" section "[[:space:]]*[{]" { inside = 1; next }
        inside && /^[[:space:]]*[}]/ { inside = 0 }
        inside { print }
    ' "$repo_root/akka.hocon" | grep -qE "^[[:space:]]*$2[[:space:]]*="
}

start_actors() {
    local dir="$work/actors-$(date +%s%N)"
    mkdir -p "$dir"
    actors_spool="$dir/spool"
    {
        cat "$repo_root/akka.hocon"
        printf '\n# Overrides appended by perf/compare.sh\n'
        printf 'actors-mta.server-name = "actors.compare.test"\n'
        printf 'actors-mta.listen.endpoints = ["127.0.0.1:%s"]\n' "$actors_port"
        printf 'actors-mta.accepted-domains = ["example.com"]\n'
        printf 'actors-mta.routes = [{ domains = ["*"], destination = "lmtp:127.0.0.1:%s" }]\n' "$sink_port"
        printf 'actors-mta.spool-directory = "%s"\n' "$actors_spool"
        # smtp-sink accepts every recipient, so checking each one at RCPT time would only add a round trip.
        printf 'actors-mta.verification.enabled = off\n'
        # Room for the 100 MB streaming case.
        printf 'actors-mta.limits.max-message-size = 209715200\n'
        if hocon_has_key metrics endpoint; then
            printf 'actors-mta.metrics.endpoint = ""\n'
        fi
        # All the load comes from 127.0.0.1. Postfix exempts it from its per-client limits (mynetworks is the
        # default of smtpd_client_event_limit_exceptions), so these are lifted too; the idle case needs the rest.
        hocon_has_key limits max-connections-per-client && printf 'actors-mta.limits.max-connections-per-client = 0\n'
        hocon_has_key limits max-connection-rate-per-client && printf 'actors-mta.limits.max-connection-rate-per-client = 0\n'
        hocon_has_key limits max-connections && printf 'actors-mta.limits.max-connections = 30000\n'
    } >"$dir/compare.hocon"
    (cd "$dir" && exec dotnet "$host_dll" --config "$dir/compare.hocon") >"$dir/server.log" 2>&1 &
    actors_pid=$!
    started_pids+=("$actors_pid")
    if ! wait_for_greeting "$actors_port" 60; then
        note "Actors.Mta did not greet on 127.0.0.1:$actors_port; last lines of its log:"
        tail -5 "$dir/server.log" | sed 's/^/      /' | tee -a "$log" >&2
        stop_pid "$actors_pid"
        actors_pid=""
        return 1
    fi
}

stop_actors() {
    [[ -n "$actors_pid" ]] && stop_pid "$actors_pid"
    actors_pid=""
}

start_reference() {
    dotnet "$reference_dll" --listen "127.0.0.1:$reference_port" >>"$work/reference.log" 2>&1 &
    reference_pid=$!
    started_pids+=("$reference_pid")
    if ! wait_for_greeting "$reference_port" 30; then
        note "The SmtpServer reference did not greet on 127.0.0.1:$reference_port."
        stop_pid "$reference_pid"
        reference_pid=""
        return 1
    fi
}

stop_reference() {
    [[ -n "$reference_pid" ]] && stop_pid "$reference_pid"
    reference_pid=""
}

start_ceiling_sink() {
    smtp-sink -u nobody -c -m 512 "127.0.0.1:$ceiling_port" 1024 >"$ceiling_out" 2>>"$log" &
    ceiling_pid=$!
    started_pids+=("$ceiling_pid")
    sleep 0.3
    kill -0 "$ceiling_pid" 2>/dev/null
}

# A private Postfix instance: its own config, queue and data folders, smtpd on a loopback port, relaying
# example.com to the sink over LMTP. Postfix's default_process_limit (100) caps it at 100 smtpd processes, so
# at 100 concurrent sessions; default_destination_concurrency_limit (20) matches Actors.Mta's 20 LMTP connections.
start_postfix() {
    local base="$work/postfix"
    mkdir -p "$base/etc" "$base/queue" "$base/data"
    chown postfix "$base/data"
    cat >"$base/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $base/queue
data_directory = $base/data
maillog_file = $base/maillog
maillog_file_prefixes = $base
myhostname = postfix.compare.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.com
transport_maps = inline:{ example.com=lmtp:[127.0.0.1]:$sink_port }
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
biff = no
message_size_limit = 209715200
EOF
    cat >"$base/etc/master.cf" <<EOF
127.0.0.1:$postfix_port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    if ! postfix -c "$base/etc" start >>"$log" 2>&1; then
        note "Postfix did not start: postfix -c $base/etc start failed (its output is in $log; --keep keeps $base/maillog)."
        return 1
    fi
    postfix_config="$base/etc"
    if ! wait_for_greeting "$postfix_port" 30; then
        note "Postfix did not greet on 127.0.0.1:$postfix_port."
        stop_postfix
        return 1
    fi
    note "Postfix $(postconf -h mail_version) private instance, default_process_limit=$(postconf -c "$base/etc" -h default_process_limit)"
}

postfix_queue_files() {
    find "$work/postfix/queue/incoming" "$work/postfix/queue/active" "$work/postfix/queue/deferred" \
        "$work/postfix/queue/maildrop" "$work/postfix/queue/hold" -type f 2>/dev/null | wc -l
}

actors_queue_files() {
    find "$actors_spool/queue" -name '*.env' 2>/dev/null | wc -l
}

# ---------------------------------------------------------------------------------------------------------------
# Loads. A message file for smtp-source -F with the same shape and wire size as the runner's generated message.

message_file() {
    local size="$1" file="$work/message-$1.txt"
    if [[ ! -f "$file" ]]; then
        python3 - "$size" "$file" "$sender" "$recipient" <<'EOF'
import random, sys
size, path, sender, recipient = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
header = [f"From: <{sender}>", f"To: <{recipient}>", "Subject: Load runner message",
          "Date: Thu, 01 Jan 2026 00:00:00 +0000", "Message-ID: <compare@loadrunner.test>",
          "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
# smtp-source sends each line of the file with CRLF: the wire size counts 2 bytes per line ending.
remaining = size - sum(len(line) + 2 for line in header)
rng = random.Random(5321)
body = []
while remaining > 0:
    length = remaining - 2 if remaining - 78 <= 2 else 76
    body.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(max(length, 0))))
    remaining -= max(length, 0) + 2
with open(path, "w") as f:
    f.write("\n".join(header + body) + "\n")
EOF
    fi
    echo "$file"
}

# Prints "accepted failed p50 p99 start elapsed" from a runner report: p50 and p99 of the transaction step in ms,
# the start of the load as Unix time and its length in seconds, so the runner's own start-up is not counted.
runner_figures() {
    python3 - "$1" <<'EOF'
import datetime, json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("0 0 - - 0 0")
    sys.exit()
totals = report["totals"]
steps = {step["name"]: step for step in report["scenarios"][0]["steps"]}
main = steps.get("transaction") or steps["connect"]
started = datetime.datetime.fromisoformat(report["startedAt"].replace("Z", "+00:00")).timestamp()
print(totals["messagesAccepted"], totals["messagesFailed"], main["latencyMs"]["p50"], main["latencyMs"]["p99"],
      f"{started:.3f}", f"{report['elapsedSeconds']:.3f}")
EOF
}

# Records "UNIX_TIME COUNT" each time the count of a sink's output file changes, every 20 ms, so the time of the
# last delivery is known even when it came before the client exited.
sampler_pid=""
sampler_out=""
start_sink_sampler() {
    sampler_out="$work/sampler-$(date +%s%N).txt"
    python3 - "$1" "$sampler_out" <<'EOF' &
import re, sys, time
source, output = sys.argv[1], sys.argv[2]
last = None
with open(output, "w") as out:
    while True:
        try:
            with open(source, "rb") as f:
                f.seek(0, 2)
                f.seek(max(f.tell() - 200, 0))
                counts = re.findall(rb"mesg=(\d+)", f.read())
        except OSError:
            counts = []
        count = int(counts[-1]) if counts else 0
        if count != last:
            out.write(f"{time.time():.3f} {count}\n")
            out.flush()
            last = count
        time.sleep(0.02)
EOF
    sampler_pid=$!
    started_pids+=("$sampler_pid")
}

stop_sink_sampler() {
    [[ -n "$sampler_pid" ]] && stop_pid "$sampler_pid"
    sampler_pid=""
}

# Prints the time at which the sampled count last changed.
last_sink_change() {
    tail -1 "$sampler_out" 2>/dev/null | cut -d' ' -f1
}

server_cpu_ticks() {
    case "$1" in
        actors) cpu_ticks_of "$actors_pid" ;;
        reference) cpu_ticks_of "$reference_pid" ;;
        postfix) postfix_cpu_ticks ;;
        ceiling) cpu_ticks_of "$ceiling_pid" ;;
    esac
}

target_port() {
    case "$1" in
        actors) echo "$actors_port" ;;
        reference) echo "$reference_port" ;;
        postfix) echo "$postfix_port" ;;
        ceiling) echo "$ceiling_port" ;;
    esac
}

target_available() {
    case "$1" in
        actors) [[ -n "$actors_pid" ]] ;;
        reference) [[ -n "$reference_pid" ]] ;;
        postfix) [[ -n "$postfix_config" ]] ;;
        ceiling) [[ -n "$ceiling_pid" ]] ;;
    esac
}

# Waits until the sink's count reaches TARGET or stops rising for 15 s (120 s at most).
wait_for_sink() {
    local target="$1" file="$2" last_count last_change count deadline
    last_count="$(sink_count "$file")"
    last_change="$(date +%s)"
    deadline=$(( last_change + 120 ))
    while [[ "$last_count" -lt "$target" ]] && [[ $(date +%s) -lt $deadline ]]; do
        sleep 0.1
        count="$(sink_count "$file")"
        if [[ "$count" -ne "$last_count" ]]; then
            last_count="$count"
            last_change="$(date +%s)"
        elif (( $(date +%s) - last_change > 15 )); then
            break
        fi
    done
}

# run_load CASE TARGET CLIENT SIZE SESSIONS MESSAGES DURATION_S RECIPIENTS MODE
# MODE: deliver (count at the sink), queue (MDA stopped: count accepted replies and queue files).
# Appends one row to results.tsv. For Postfix, Actors.Mta and the ceiling the rate is messages counted at the sink
# from the start of the load to the last one received. For the reference and the queue case, which deliver
# nothing, it is accepted replies over the client's run time.
run_load() {
    local case_name="$1" target="$2" client="$3" size="$4" sessions="$5" messages="$6" duration="$7" recipients="$8" mode="$9"
    local port sink_file sink_before cpu_before cpu_after queue_before t0 t1 client_seconds seconds
    local accepted failed p50="-" p99="-" delivered="-" detail="" report_dir
    if ! target_available "$target"; then
        note "$case_name / $target / $client: skipped, $target is not running."
        printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n' "$case_name" "$target" "$client" "not run: $target is not running" >>"$results_tsv"
        return
    fi

    port="$(target_port "$target")"
    sink_file="$sink_out"
    [[ "$target" == ceiling ]] && sink_file="$ceiling_out"
    local counts_at_sink=0
    [[ "$mode" == deliver && "$target" != reference ]] && counts_at_sink=1
    sink_before="$(sink_count "$sink_file")"
    [[ $counts_at_sink -eq 1 ]] && start_sink_sampler "$sink_file"
    queue_before=0
    if [[ "$mode" == queue ]]; then
        queue_before="$([[ "$target" == postfix ]] && postfix_queue_files || actors_queue_files)"
    fi
    cpu_before="$(server_cpu_ticks "$target")"

    case "$client" in
        smtp-source)
            local source_out="$work/source-$(date +%s%N).out" status
            t0="$(now)"
            # -d: one connection per session for all its messages, like the runner. smtp-source has no time
            # limit of its own: timeout(1) bounds it.
            timeout "$((duration + 30))" smtp-source -c -d -s "$sessions" -m "$messages" -r "$recipients" \
                -F "$(message_file "$size")" -f "$sender" -t "$recipient" -M loadrunner.test \
                "127.0.0.1:$port" >"$source_out" 2>"$source_out.err"
            status=$?
            t1="$(now)"
            client_seconds="$(python3 -c "print($t1 - $t0)")"
            accepted="$(tr '\r' '\n' <"$source_out" | grep -E '^[0-9]+$' | tail -1)"
            accepted="${accepted:-0}"
            failed=$(( messages - accepted ))
            if [[ $status -ne 0 ]]; then
                detail="smtp-source exit $status: $(head -c 160 "$source_out.err" | tr '\n' ' ')"
            fi
            ;;
        runner|runner-pipelining)
            report_dir="$out_dir/reports/$(printf '%s' "$case_name-$target-$client" | tr -c 'A-Za-z0-9-' '-' | tr -s '-')"
            local -a extra=()
            [[ "$client" == runner-pipelining ]] && extra+=(--pipelining)
            timeout "$((duration + 120))" dotnet "$runner_dll" --target "127.0.0.1:$port" --sessions "$sessions" \
                --messages "$messages" --duration "${duration}s" --size "$size" --recipients "$recipients" \
                --to "$recipient" --from "$sender" --timeout 60s --no-progress --report-dir "$report_dir" \
                --title "$case_name: $target, $client" "${extra[@]}" >>"$log" 2>&1
            read -r accepted failed p50 p99 t0 client_seconds <<<"$(runner_figures "$report_dir/report.json")"
            [[ "$failed" != 0 ]] && detail="failures: see $report_dir/report.md"
            ;;
    esac

    seconds="$client_seconds"
    if [[ $counts_at_sink -eq 1 ]]; then
        wait_for_sink $(( sink_before + accepted )) "$sink_file"
        sleep 0.1
        delivered=$(( $(sink_count "$sink_file") - sink_before ))
        seconds="$(python3 -c "print(max($(last_sink_change) - $t0, 1e-3))")"
        stop_sink_sampler
    elif [[ "$mode" == queue ]]; then
        local queue_after
        queue_after="$([[ "$target" == postfix ]] && postfix_queue_files || actors_queue_files)"
        detail="${detail:+$detail; }queue files +$(( queue_after - queue_before ))"
    fi

    cpu_after="$(server_cpu_ticks "$target")"
    python3 - "$case_name" "$target" "$client" "$accepted" "$failed" "$delivered" "$seconds" "$p50" "$p99" \
        "$cpu_before" "$cpu_after" "$clock_ticks" "$detail" >>"$results_tsv" <<'EOF'
import sys
(case, target, client, accepted, failed, delivered, seconds, p50, p99, cpu_before, cpu_after, ticks, detail) = sys.argv[1:]
accepted = int(accepted)
seconds = max(float(seconds), 1e-9)
counted = int(delivered) if delivered != "-" else accepted
rate = counted / seconds
cpu_ms = (int(cpu_after) - int(cpu_before)) * 1000 / int(ticks) / accepted if accepted else 0
fmt = lambda value: value if value == "-" else f"{float(value):.2f}"
print("\t".join([case, target, client, str(accepted), failed, delivered, f"{seconds:.2f}", f"{rate:.0f}",
                 fmt(p50), fmt(p99), f"{cpu_ms:.3f}", detail]))
EOF
    note "$(tail -1 "$results_tsv" | tr '\t' ' ')"
    sleep 1
}

# ---------------------------------------------------------------------------------------------------------------
# Transaction latency at half of the peak rate, in the runner's open model. It starts --rate new sessions per
# second, each one connection with EHLO, one message and QUIT. So a slow server does not slow the offered load
# down, as it does in the closed model. The latency is the runner's transaction step, from MAIL to the reply
# after the data.

latency_warmup_seconds=3
latency_measured_seconds=15

# Prints the end-to-end msg/s of TARGET in the "5 KB x 20 sessions" case with the runner (closed model), taken
# from results.tsv, or nothing when that row is missing.
peak_rate() {
    awk -F'\t' -v target="$1" '$1 == "5 KB x 20 sessions" && $2 == target && $3 == "runner" && $8 ~ /^[0-9]+$/ { print $8 }' \
        "$results_tsv" | tail -1
}

# run_open_load LOAD TARGET RATE: offers RATE new sessions per second to TARGET for the warm-up and the measured
# period, then appends one row to latency.tsv. LOAD names the rate in the table ("half of Postfix's peak").
run_open_load() {
    local load="$1" target="$2" rate="$3" report_dir sink_before accepted total_seconds max_messages
    if ! target_available "$target"; then
        note "$load / $target: skipped, $target is not running."
        printf '%s\t%s\t%s\tnot run: %s is not running\n' "$load" "$target" "$rate" "$target" >>"$latency_tsv"
        return
    fi

    report_dir="$out_dir/reports/latency-$target-$rate"
    total_seconds=$(( latency_warmup_seconds + latency_measured_seconds ))
    # The duration ends the run. The message cap is 10 % above what the rate offers in that time, so it is only
    # the bound in messages that every load of this script has.
    max_messages=$(( rate * total_seconds * 11 / 10 + 10 ))
    sink_before="$(sink_count)"
    start_sink_sampler "$sink_out"
    # --max-sessions 1000: a server that stalls makes the runner skip starts (counted as failures) rather than
    # open connections without bound.
    timeout "$((total_seconds + 120))" dotnet "$runner_dll" --target "127.0.0.1:$(target_port "$target")" \
        --rate "$rate" --max-sessions 1000 --warmup "${latency_warmup_seconds}s" --duration "${total_seconds}s" \
        --messages "$max_messages" --size 5120 --to "$recipient" --from "$sender" --timeout 60s --no-progress \
        --report-dir "$report_dir" --title "latency: $target at $rate sessions/s ($load)" >>"$log" 2>&1
    read -r accepted _ <<<"$(runner_figures "$report_dir/report.json")"
    wait_for_sink $(( sink_before + accepted )) "$sink_out"
    sleep 0.1
    stop_sink_sampler

    python3 - "$load" "$target" "$rate" "$report_dir" "$sampler_out" "$sink_before" >>"$latency_tsv" <<'EOF'
import datetime, json, sys
load, target, rate, report_dir, sampler_path, sink_before = sys.argv[1:7]
try:
    report = json.load(open(f"{report_dir}/report.json"))
except (OSError, ValueError):
    print(f"{load}\t{target}\t{rate}\tno report from the runner: see {report_dir} and compare.log")
    sys.exit()
totals = report["totals"]
steps = {step["name"]: step for step in report["scenarios"][0]["steps"]}
latency = steps["transaction"]["latencyMs"]
started = datetime.datetime.fromisoformat(report["startedAt"].replace("Z", "+00:00")).timestamp()
measured_from = started + report["warmupSeconds"]

# The sampler writes "UNIX_TIME COUNT" at each change of the sink's total. The rate at the sink counts what
# arrived from the end of the warm-up to the last delivery.
samples = [tuple(float(field) for field in line.split()) for line in open(sampler_path) if line.strip()]
count_at_start = int(sink_before)
for time, count in samples:
    if time <= measured_from:
        count_at_start = int(count)
last_time, last_count = samples[-1] if samples else (measured_from, count_at_start)
window = last_time - measured_from
at_sink_rate = (last_count - count_at_start) / window if window > 0 else 0
delivered = int(last_count) - int(sink_before)

failures = []
if totals["messagesFailed"]:
    failures.append(f"{totals['messagesFailed']} transactions")
opening_failures = totals["sessionsStarted"] - totals["sessionsOpened"]
if opening_failures:
    failures.append(f"{opening_failures} sessions failed at connect or EHLO")
if totals["sessionsNotStarted"]:
    failures.append(f"{totals['sessionsNotStarted']} starts skipped at --max-sessions")
notes = list(report["warnings"])
if delivered != totals["messagesAccepted"]:
    notes.append(f"{delivered} of {totals['messagesAccepted']} accepted at the sink")
print("\t".join([load, target, rate, "", f"{at_sink_rate:.0f}", str(totals["measuredMessagesAccepted"]),
                 f"{latency['p50']:.2f}", f"{latency['p95']:.2f}", f"{latency['p99']:.2f}", f"{latency['max']:.2f}",
                 f"{steps['connect']['latencyMs']['p99']:.2f}", ", ".join(failures) or "none", "; ".join(notes)]))
EOF
    note "$(tail -1 "$latency_tsv" | tr '\t' ' ')"
    sleep 1
}

# Runs Postfix and Actors.Mta at the same rate, half of Postfix's peak, then Actors.Mta at half of its own peak.
run_latency_case() {
    local postfix_peak actors_peak same_rate own_rate
    postfix_peak="$(peak_rate postfix)"
    actors_peak="$(peak_rate actors)"
    # Half of a peak below 2 msg/s rounds to 0, which is no rate at all.
    if [[ -z "$postfix_peak" ]] || (( postfix_peak < 2 )); then
        note "No Postfix peak of 2 msg/s or more from the 5 KB x 20 sessions runner case: the latency case is not run."
        printf '%s\t%s\t%s\tnot run: no Postfix peak from the 5 KB x 20 sessions runner case\n' \
            "half of Postfix's peak" postfix - >>"$latency_tsv"
        return
    fi

    # NOTE: with --quick the peaks come from 300-message runs of about a second, so they can be far off. One quick
    # run on a busy machine measured Postfix at 220 msg/s, against 443 in a full run on a quiet one.
    same_rate=$(( (postfix_peak + 1) / 2 ))
    run_open_load "half of Postfix's peak" postfix "$same_rate"
    run_open_load "half of Postfix's peak" actors "$same_rate"
    if [[ -n "$actors_peak" ]] && (( actors_peak >= 2 )); then
        own_rate=$(( (actors_peak + 1) / 2 ))
        run_open_load "half of Actors.Mta's peak" actors "$own_rate"
    fi
}

# ---------------------------------------------------------------------------------------------------------------
# Cases beyond throughput: idle sessions held past EHLO, and one 100 MB message.

idle_rows=()
stream_rows=()

run_idle() {
    local target="$1" sessions="$2" pid port rss_before rss_after ready="$work/ready-$1" report_dir ramp duration
    pid="$([[ "$target" == actors ]] && echo "$actors_pid" || echo "$reference_pid")"
    port="$(target_port "$target")"
    if [[ -z "$pid" ]]; then
        idle_rows+=("| $target | $sessions | not run: the server is not running | | | | | | |")
        return
    fi
    # Ramp at 500 new sessions a second: thousands at once would overflow the listen backlog (512), and the
    # clients' SYN retries would then make up most of the greeting latency.
    ramp=$(( (sessions + 499) / 500 ))
    duration=$(( ramp + 20 ))
    report_dir="$out_dir/reports/idle-$target"
    rm -f "$ready"
    sleep 2
    rss_before="$(memory_kb "$pid" VmRSS)"
    timeout "$((duration + 120))" dotnet "$runner_dll" --scenario hold --target "127.0.0.1:$port" --sessions "$sessions" \
        --ramp "${ramp}s" --duration "${duration}s" --timeout 60s --ready-file "$ready" --no-progress \
        --report-dir "$report_dir" --title "idle: $target, $sessions sessions" >>"$log" 2>&1 &
    local runner_pid=$!
    started_pids+=("$runner_pid")
    local waited=0
    while [[ ! -f "$ready" ]] && kill -0 "$runner_pid" 2>/dev/null && [[ $waited -lt $(( (ramp + 60) * 10 )) ]]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    sleep 2
    rss_after="$(memory_kb "$pid" VmRSS)"
    wait "$runner_pid"

    # The first hold runs on a fresh server, so its greeting latency includes the JIT compiling the session's
    # code for the first connections. After the server has closed those sessions, a second hold measures the
    # greeting again with that code compiled; its memory is not measured. Skipped above 10,000 sessions, where
    # the first hold's client ports, still in TIME_WAIT, leave too few for a second one.
    local second_report="$report_dir-second/report.json"
    if (( sessions <= 10000 )); then
        sleep 10
        timeout "$((ramp + 130))" dotnet "$runner_dll" --scenario hold --target "127.0.0.1:$port" --sessions "$sessions" \
            --ramp "${ramp}s" --duration "$((ramp + 5))s" --timeout 60s --no-progress \
            --report-dir "$report_dir-second" --title "idle, second hold: $target, $sessions sessions" >>"$log" 2>&1
    fi
    local row
    row="$(python3 - "$target" "$sessions" "$report_dir/report.json" "$rss_before" "$rss_after" "$second_report" <<'EOF'
import json, sys
target, sessions, path, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4] or 0), int(sys.argv[5] or 0)
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print(f"| {target} | {sessions} | no report from the runner | | | | | | |")
    sys.exit()
try:
    second = json.load(open(sys.argv[6]))
    second_connect = {step["name"]: step for step in second["scenarios"][0]["steps"]}["connect"]
    second_greeting = f"{second_connect['latencyMs']['p50']:.2f} | {second_connect['latencyMs']['p99']:.2f}"
except (OSError, ValueError, KeyError, IndexError):
    second_greeting = "not run | not run"
steps = {step["name"]: step for step in report["scenarios"][0]["steps"]}
opened = report["totals"]["sessionsOpened"]
connect = steps["connect"]
failures = ", ".join(f"{key}: {value}" for key, value in connect["failures"].items()) or "none"
per_session = (after - before) / opened if opened else 0
print(f"| {target} | {sessions} | {opened} | {connect['latencyMs']['p50']:.2f} | {connect['latencyMs']['p99']:.2f} "
      f"| {second_greeting} | {before / 1024:.0f} → {after / 1024:.0f} | {per_session:.1f} | {failures} |")
EOF
)"
    note "$row"
    idle_rows+=("$row")
}

run_stream() {
    local target="$1" pid port rss_before hwm report_dir sink_before accepted failed p50 p99 t0 client_seconds
    pid="$([[ "$target" == actors ]] && echo "$actors_pid" || echo "$reference_pid")"
    port="$(target_port "$target")"
    if [[ -z "$pid" ]]; then
        stream_rows+=("| $target | not run: the server is not running | | | | |")
        return
    fi
    report_dir="$out_dir/reports/stream-$target"
    sleep 2
    rss_before="$(memory_kb "$pid" VmRSS)"
    sink_before="$(sink_count)"
    start_sink_sampler "$sink_out"
    timeout 400 dotnet "$runner_dll" --target "127.0.0.1:$port" --sessions 1 --messages 1 --size 104857600 \
        --duration 300s --timeout 300s --to "$recipient" --from "$sender" --no-progress --report-dir "$report_dir" \
        --title "streaming: $target, one 100 MB message" >>"$log" 2>&1
    read -r accepted failed p50 p99 t0 client_seconds <<<"$(runner_figures "$report_dir/report.json")"
    local delivered="none (the reference discards)"
    if [[ "$target" == actors ]]; then
        wait_for_sink $(( sink_before + 1 )) "$sink_out"
        sleep 0.1
        delivered="$(( $(sink_count) - sink_before )) at the sink $(python3 -c "print(f'{$(last_sink_change) - $t0:.1f}')") s after the start"
    fi
    stop_sink_sampler
    hwm="$(memory_kb "$pid" VmHWM)"
    stream_rows+=("| $target | $accepted accepted, $failed failed | $(python3 -c "print(f'{$client_seconds:.1f}')") s; delivered: $delivered | $(( rss_before / 1024 )) MB | $(( hwm / 1024 )) MB | $(( (hwm - rss_before) / 1024 )) MB |")
    note "${stream_rows[-1]}"
}

# ---------------------------------------------------------------------------------------------------------------

say "perf/compare.sh: results in $out_dir"
load_before="$(uptime)"
note "uptime before: $load_before"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "error: run as root: Postfix's master and smtp-sink -u nobody need it." >&2
    exit 1
fi
for tool in postfix postconf smtp-source smtp-sink python3 dotnet; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool not found; install the postfix and python3 packages and the .NET SDK (see .ci/run)." >&2
        exit 1
    fi
done

# The idle case needs one descriptor per session in the runner and in the server, plus their own files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
open_files="$(ulimit -n)"
if [[ "$open_files" != unlimited ]] && (( idle_sessions > open_files - 500 )); then
    note "--idle-sessions $idle_sessions needs more open files than this shell's hard limit ($open_files)," \
         "which only a process with CAP_SYS_RESOURCE can raise: holding $(( open_files - 500 )) instead."
    idle_sessions=$(( open_files - 500 ))
fi

if [[ $skip_build -eq 0 ]]; then
    say "building Release"
    for project in src/Actors.Mta.Host perf/Actors.Mta.LoadRunner perf/reference/SmtpServerReference; do
        if ! dotnet build "$repo_root/$project" -c Release -nologo -v quiet >>"$log" 2>&1; then
            echo "error: dotnet build $project -c Release failed; see $log." >&2
            exit 1
        fi
    done
fi

sink_port="$(free_port)"
actors_port="$(free_port)"
reference_port="$(free_port)"
postfix_port="$(free_port)"
ceiling_port="$(free_port)"

say "starting the sink, the ceiling sink, Postfix, Actors.Mta and the SmtpServer reference"
start_sink || note "smtp-sink (LMTP) did not start: no end-to-end figures."
start_ceiling_sink || { note "smtp-sink (SMTP) for the ceiling did not start."; ceiling_pid=""; }
start_postfix || note "Postfix rows will be missing."
start_actors || note "Actors.Mta rows will be missing."
start_reference || note "SmtpServer reference rows will be missing."

# The .NET servers compile their code in tiers while they run (quick code first, then code optimised with the
# profile it gathered), so their CPU per message keeps falling for the first several thousand messages. A
# long-running MTA is measured in that steady state: every server gets the same warm-up, Postfix included.
warmup_messages="${warmup_messages:-$(( scale == 1 ? 20000 : 2000 ))}"
say "warm-up: $warmup_messages messages of 5 KB to each server (at most 90 s each), not recorded"
for target in postfix actors reference; do
    if (( warmup_messages > 0 )) && target_available "$target"; then
        timeout 150 dotnet "$runner_dll" --target "127.0.0.1:$(target_port "$target")" --sessions 20 --messages "$warmup_messages" \
            --duration 90s --size 5120 --to "$recipient" --no-progress --report-dir "$work/warmup-$target" >>"$log" 2>&1
    fi
done
sleep 3

# Case table: name, size, sessions, messages, duration (s), recipients, clients.
cases=(
    "5 KB x 20 sessions|5120|20|3000|20|1|smtp-source runner runner-pipelining"
    "5 KB x 100 sessions|5120|100|3000|20|1|smtp-source runner"
    "1 MB x 10 sessions|1048576|10|300|20|1|smtp-source runner"
    "5 KB x 20 sessions, 10 recipients|5120|20|2000|20|10|smtp-source runner"
)
for entry in "${cases[@]}"; do
    IFS='|' read -r name size sessions messages duration recipients clients <<<"$entry"
    messages=$(( messages / scale ))
    say "case: $name ($messages messages or $duration s)"
    for client in $clients; do
        for target in ceiling postfix actors reference; do
            if [[ "$target" == ceiling && "$client" == runner-pipelining ]]; then
                continue
            fi
            run_load "$name" "$target" "$client" "$size" "$sessions" "$messages" "$duration" "$recipients" deliver
        done
    done
done

say "case: transaction latency at half of the peak rate (open model, ${latency_warmup_seconds} s warm-up, ${latency_measured_seconds} s measured)"
run_latency_case

say "case: MDA stopped (smtp-sink down): every accepted message is queued"
stop_sink
# The queue's code (a deferred delivery, then data and envelope written and fsynced) has not run in the warm-up
# above, so the .NET server would compile it while it is measured. In a trial, CPU per queued message was 1.0 to
# 1.4 ms higher after 500 warm-up messages than after 5,000. Both MTAs therefore first queue the same unrecorded
# messages. Their first retry comes after the case ends (Actors.Mta: queue.first-retry 1m; Postfix:
# minimal_backoff_time 300s).
mda_warmup=$(( 5000 / scale ))
say "warm-up with the MDA stopped: $mda_warmup messages of 5 KB to Postfix and Actors.Mta, not recorded"
for target in postfix actors; do
    if (( mda_warmup > 0 )) && target_available "$target"; then
        timeout 150 dotnet "$runner_dll" --target "127.0.0.1:$(target_port "$target")" --sessions 20 --messages "$mda_warmup" \
            --duration 90s --size 5120 --to "$recipient" --no-progress --report-dir "$work/warmup-queue-$target" >>"$log" 2>&1
    fi
done
mda_messages=$(( 1000 / scale ))
for client in smtp-source runner; do
    for target in postfix actors; do
        run_load "MDA stopped, 5 KB x 20 sessions" "$target" "$client" 5120 20 "$mda_messages" 20 1 queue
    done
done
start_sink || note "smtp-sink (LMTP) did not restart."

say "case: idle sessions past EHLO ($idle_sessions), on fresh servers"
stop_postfix
stop_actors
start_actors || note "Actors.Mta did not restart for the idle case."
stop_reference
start_reference || note "The SmtpServer reference did not restart for the idle case."
run_idle actors "$idle_sessions"
run_idle reference "$idle_sessions"

say "case: one 100 MB message, on fresh servers (VmHWM counts from process start)"
stop_actors
start_actors || note "Actors.Mta did not restart for the streaming case."
stop_reference
start_reference || note "The SmtpServer reference did not restart for the streaming case."
run_stream actors
run_stream reference

load_after="$(uptime)"
say "uptime after: $load_after"

python3 - "$results_tsv" "$idle_sessions" >"$results_md" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
names = {"ceiling": "ceiling: smtp-sink", "postfix": "Postfix", "actors": "Actors.Mta", "reference": "SmtpServer reference"}
postfix = {(r[0], r[2]): r for r in rows if r[1] == "postfix" and r[7] != "-"}
print("| case | server | client | accepted | msg/s | vs Postfix | p50 ms | p99 ms | CPU ms/msg | CPU vs Postfix | notes |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for r in rows:
    case, target, client, accepted, failed, delivered, seconds, rate, p50, p99, cpu, detail = (r + [""] * 12)[:12]
    base = postfix.get((case, client))
    ratio = cpu_ratio = ""
    if base and rate != "-" and float(base[7]) > 0:
        ratio = f"{float(rate) / float(base[7]):.2f}"
    if base and cpu != "-" and float(base[10]) > 0 and target != "ceiling":
        cpu_ratio = f"{float(cpu) / float(base[10]):.2f}"
    notes = []
    if case.startswith("MDA stopped"):
        notes.append("accepted replies/s (queued)")
    elif target == "reference":
        notes.append("accepted replies/s (discarded)")
    elif target == "ceiling":
        notes.append("counted at the SMTP sink")
    elif delivered != "-":
        notes.append(f"{delivered} at the sink in {seconds} s")
    if failed not in ("0", "-", ""):
        notes.append(f"{failed} not accepted")
    if detail:
        notes.append(detail)
    print(f"| {case} | {names.get(target, target)} | {client} | {accepted} | {rate} | {ratio} | {p50} | {p99} | "
          f"{cpu if target != 'ceiling' else '(sink)'} | {cpu_ratio} | {'; '.join(notes)} |")
EOF
{
    echo
    echo "Transaction latency (MAIL to the reply after the data) at half of the peak rate of the 5 KB x 20 sessions"
    echo "runner rows above. The runner's open model starts new sessions at the offered rate, each with one 5 KB"
    echo "message, for ${latency_warmup_seconds} s of warm-up then ${latency_measured_seconds} s measured. p99 vs Postfix divides by Postfix's p99 at half of its peak."
    echo
    python3 - "$latency_tsv" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
names = {"postfix": "Postfix", "actors": "Actors.Mta"}
postfix_p99 = next((float(r[8]) for r in rows if r[1] == "postfix" and len(r) > 8 and not r[3]), 0)
print("| load | server | offered msg/s | msg/s at the sink | measured messages | p50 ms | p95 ms | p99 ms | max ms "
      "| p99 vs Postfix | connect p99 ms | failures | notes |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for r in rows:
    load, target, rate, status = r[:4]
    if status:
        print(f"| {load} | {names.get(target, target)} | {rate} | {status} | | | | | | | | | |")
        continue
    at_sink, measured, p50, p95, p99, max_ms, connect_p99, failures, notes = (r + [""] * 13)[4:13]
    ratio = f"{float(p99) / postfix_p99:.2f}" if postfix_p99 > 0 else ""
    print(f"| {load} | {names.get(target, target)} | {rate} | {at_sink} | {measured} | {p50} | {p95} | {p99} | {max_ms} "
          f"| {ratio} | {connect_p99} | {failures} | {notes} |")
EOF
    echo
    echo "Idle sessions held past EHLO (greeting latency = TCP connect to 220, from the runner's connect step). The"
    echo "first hold runs on a fresh server; the second, 10 s after the first has ended, on the same server:"
    echo
    echo "| server | sessions | greeted | greeting p50 ms | greeting p99 ms | second hold p50 ms | second hold p99 ms | RSS MB before → held | KB per session | connect failures |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
    printf '%s\n' "${idle_rows[@]}"
    echo
    echo "One 100 MB message (peak RSS = VmHWM of a server started for this case):"
    echo
    echo "| server | result | time | idle RSS | peak RSS | peak - idle |"
    echo "| --- | --- | --- | ---: | ---: | ---: |"
    printf '%s\n' "${stream_rows[@]}"
    echo
    echo "uptime before: $load_before"
    echo "uptime after: $load_after"
} >>"$results_md"

cat "$results_md"
say "results: $results_md (raw rows: $results_tsv and $latency_tsv, runner reports: $out_dir/reports, log: $log)"
