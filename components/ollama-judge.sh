# shellcheck shell=sh
# Keeps the judge's models present, and loaded, on an Ollama server. POSIX sh: it runs in
# the Ollama image and in small test images alike.
#
#   sh -c "$SCRIPT" ollama-judge serve MODEL...  run `ollama serve`, then pull; PID 1 on Docker
#   sh -c "$SCRIPT" ollama-judge pull MODEL...   wait for the server, pull missing models,
#                                                load every model
#   sh -c "$SCRIPT" ollama-judge check MODEL...  exit 0 only once every model was pulled and
#                                                loaded, and the server still has each
#
# A MODEL may be pinned, NAME@sha256:<hex> (its manifest's digest): NAME is pulled, and the
# pull must bring that manifest. Once every model is present and loaded, the script says
# each model's digest and the server's version, then "ready:"; `up` reads them.
#
# Settings (environment):
#   OLLAMA_JUDGE_SERVER_WAIT_SECONDS  how long the server may take to answer (120)
#   OLLAMA_JUDGE_PULL_SECONDS         budget for all pulls together (1800)
#   OLLAMA_JUDGE_PULL_ATTEMPTS        tries per model (5)
#   OLLAMA_JUDGE_RETRY_PAUSE_SECONDS  pause after the first failed try, doubled after
#                                     each further one (5: 5, 10, 20, 40 s)
#   OLLAMA_JUDGE_CALL_SECONDS         limit for one `ollama list` or `ollama show` (10)
#   OLLAMA_JUDGE_LOG                  file to write progress to, e.g. /proc/1/fd/1 so that
#                                     a Kubernetes hook's output reaches the container log;
#                                     the reason for giving up then goes to the caller's
#                                     stderr too, since that is all the kubelet reports of a
#                                     failed hook
#   OLLAMA_JUDGE_INSECURE_REGISTRIES  registry hosts (host:port, space-separated) reached
#                                     over plain HTTP: their models are pulled --insecure
#   OLLAMA_JUDGE_READY_FILE           written once every model is pulled and loaded
#                                     (/tmp/ollama-judge-ready)
#   OLLAMA_JUDGE_PULL_LOCK            a directory to create on the models' volume while
#                                     pulling, so that judges sharing the volume pull one
#                                     at a time (none: no lock)
#   OLLAMA_JUDGE_LOCK_STALE_SECONDS   a lock whose holder's heartbeat has not changed for
#                                     this long is taken over (60)
set -u

server_wait=${OLLAMA_JUDGE_SERVER_WAIT_SECONDS:-120}
pull_budget=${OLLAMA_JUDGE_PULL_SECONDS:-1800}
attempts=${OLLAMA_JUDGE_PULL_ATTEMPTS:-5}
retry_pause=${OLLAMA_JUDGE_RETRY_PAUSE_SECONDS:-5}
call_limit=${OLLAMA_JUDGE_CALL_SECONDS:-10}
insecure_registries=${OLLAMA_JUDGE_INSECURE_REGISTRIES:-}
ready_file=${OLLAMA_JUDGE_READY_FILE:-/tmp/ollama-judge-ready}
pull_lock=${OLLAMA_JUDGE_PULL_LOCK:-}
lock_stale=${OLLAMA_JUDGE_LOCK_STALE_SECONDS:-60}
beat_every=$((lock_stale / 4))
[ "$beat_every" -ge 1 ] || beat_every=1
# Who holds the lock: the host name (a Kubernetes pod's name) and this script's PID.
holder_name="$(uname -n) $$"
heartbeat=

say() {
    echo "ollama-judge: $*"
}

# The script's last word before it fails: to the log like every message, and to fd 3,
# the caller's own stderr when the log is elsewhere (see the end of the script).
give_up() {
    say "$*"
    say "$*" >&3
}

now() {
    date +%s
}

# Each call is bounded: a server that accepts connections but never answers must not
# hang a hook or a probe. Not with fd 3, the hook's own stderr: busybox's `timeout` (an
# image's only one, maybe) leaves a watcher that looks once a second whether the command
# ended, and a hook ends when its output closes, so the judge would be ready that second
# late.
bounded() {
    timeout "$@" 3>&-
}

server_answers() {
    bounded "$call_limit" ollama list >/dev/null 2>&1
}

has_model() {
    bounded "$call_limit" ollama show "$1" >/dev/null 2>&1
}

# A server usually answers within a second of its start, so it is asked every 0.2 s at
# first (the judge is ready that much sooner), then every second: each question starts
# the `ollama` client, and a GPU's start can take much longer.
wait_for_server() {
    deadline=$(($(now) + server_wait))
    asked=0
    until server_answers; do
        if [ "$(now)" -ge "$deadline" ]; then
            give_up "ollama serve did not answer within ${server_wait}s"
            return 1
        fi
        asked=$((asked + 1))
        if [ "$asked" -le 10 ]; then sleep 0.2; else sleep 1; fi
    done
}

# --insecure (plain HTTP) for a model whose registry the user opted in; a reference names
# a registry when it has three parts: host/namespace/model.
insecure_flag() {
    case "$1" in
    */*/*)
        for host in $insecure_registries; do
            if [ "${1%%/*}" = "$host" ]; then
                echo --insecure
                return
            fi
        done
        ;;
    esac
}

# Errors no retry can fix: the registry has no such model, refuses us, or is plain
# HTTP without the opt-in. Anything else (no route, a refused connection, a cut
# transfer) may pass, so it is tried again after a pause.
is_permanent() {
    grep -q -e 'file does not exist' -e 'unauthorized' -e 'insecure protocol' \
        -e 'invalid model name' "$1"
}

# The last error line `ollama pull` printed, for the judge's log and for `up`.
last_error() {
    grep -o 'Error: .*' "$1" | tail -n 1
}

pull_one() {
    model=$1
    deadline=$2
    attempt=1
    pause=$retry_pause
    output=$(mktemp)
    while :; do
        remaining=$((deadline - $(now)))
        if [ "$remaining" -le 0 ]; then
            give_up "could not pull $model: no time left in the pull budget of ${pull_budget}s"
            return 1
        fi
        say "pulling $model (attempt $attempt of $attempts)"
        # The pull's output goes to the log as it comes and to a file, to read its
        # error; its exit status is kept through the pipe in a second file.
        # shellcheck disable=SC2046 # the flag is one word, or none
        { bounded "$remaining" ollama pull $(insecure_flag "$model") "$model" 2>&1; echo $? >"$output.status"; } |
            tee "$output"
        if [ "$(cat "$output.status")" = 0 ]; then
            say "pulled $model"
            rm -f "$output" "$output.status"
            return 0
        fi
        error=$(last_error "$output")
        if is_permanent "$output"; then
            give_up "could not pull $model: ${error:-ollama pull failed} (retrying cannot help)"
            return 1
        fi
        if [ "$attempt" -ge "$attempts" ]; then
            give_up "could not pull $model after $attempts attempts: ${error:-ollama pull failed}"
            return 1
        fi
        say "pull of $model failed (${error:-ollama pull failed}); trying again in ${pause}s"
        sleep "$pause"
        attempt=$((attempt + 1))
        pause=$((pause * 2))
    done
}

# Loads a model into memory, so that the evaluation's first request does not wait for
# it; how long it stays is the server's OLLAMA_KEEP_ALIVE.
load_one() {
    model=$1
    remaining=$(($2 - $(now)))
    [ "$remaining" -gt 0 ] || remaining=1
    say "loading $model"
    if ! load_output=$(bounded "$remaining" ollama run "$model" "" </dev/null 2>&1); then
        give_up "could not load $model: $(echo "$load_output" | grep -o 'Error: .*' | tail -n 1)"
        return 1
    fi
    say "loaded $model"
}

# Ollama's download is safe within one server, not between servers sharing a models
# directory (replicas on one ReadWriteMany claim): each would write the same partial
# files, and one could rename its unfinished blob over the other's finished one. So the
# judges on one volume pull one at a time. The lock is a directory (mkdir is atomic, on
# network file systems too) holding its holder's name and a heartbeat that changes while
# the holder runs. A waiter takes the lock over when the holder was an earlier start of
# this very container (same host, its process gone), or when the heartbeat has not
# changed for OLLAMA_JUDGE_LOCK_STALE_SECONDS by the waiter's own clock (so the nodes'
# clocks need not agree). Two waiters taking over one dead lock within the same few
# milliseconds could both pull, as without a lock: rare enough (a holder died, and two
# waiters judged it so at once) to be left to Ollama's digest check and the retries.
lock_pulls() {
    [ -n "$pull_lock" ] || return 0
    seen=
    seen_at=$(now)
    waiting=
    while ! made=$(mkdir "$pull_lock" 2>&1); do
        case "$made" in
        *"File exists"*) ;;
        *)
            # Not a volume this judge shares (nor one it could pull into, most likely).
            say "pulling without a lock: $made"
            return 0
            ;;
        esac
        holder=$(cat "$pull_lock/holder" 2>/dev/null)
        state="$holder $(cat "$pull_lock/beat" 2>/dev/null)"
        if [ "$state" != "$seen" ]; then
            seen=$state
            seen_at=$(now)
        fi
        silent=$(($(now) - seen_at))
        # Whole seconds: a count of N may be just over N-1 real ones, so more than the
        # stale time it must be.
        if earlier_start "$holder" || [ "$silent" -gt "$lock_stale" ]; then
            say "taking over the pull lock of ${holder:-a judge that never wrote its name} (silent for ${silent}s)"
            # A lock that is there again needs a silence of its own.
            seen=
            rm -rf "$pull_lock" && continue
        fi
        if [ "$(now)" -ge "$1" ]; then
            give_up "could not pull $2: no time left in the pull budget of ${pull_budget}s while ${holder:-another judge} pulled into the same volume"
            return 1
        fi
        if [ -z "$waiting" ]; then
            say "waiting for ${holder:-another judge}, which pulls models into the same volume"
            waiting=1
        fi
        sleep 1
    done
    echo "$holder_name" >"$pull_lock/holder"
    # The heartbeat ends with this script ($$ is the script's PID in the subshell too).
    # It holds none of the caller's output (fd 3 included): a hook ends when its output
    # closes, and its last `sleep` outlives the kill.
    (
        beat=0
        while kill -0 $$ 2>/dev/null; do
            beat=$((beat + 1))
            echo "$beat" >"$pull_lock/beat"
            sleep "$beat_every"
        done
    ) >/dev/null 2>&1 3>&- &
    heartbeat=$!
}

unlock_pulls() {
    [ -n "$heartbeat" ] || return 0
    kill "$heartbeat" 2>/dev/null
    heartbeat=
    rm -rf "$pull_lock"
}

# A holder "HOST PID" that was an earlier start of this container: the same host name,
# and its process gone (a restarted container's PIDs start again: PID 1 may be this).
earlier_start() {
    [ "${1% *}" = "$(uname -n)" ] || return 1
    pid=${1##* }
    [ "$pid" = $$ ] || ! kill -0 "$pid" 2>/dev/null
}

# The digest Ollama's /api/tags gives a model: the sha256 of its manifest, which a pull
# writes as the registry served it, under [host/][namespace/]model[:tag] with Ollama's
# defaults for the parts left out.
manifest_digest() {
    path=$1
    case "$path" in */*/*) ;; */*) path="registry.ollama.ai/$path" ;; *) path="registry.ollama.ai/library/$path" ;; esac
    case "${path##*/}" in *:*) path="${path%:*}/${path##*:}" ;; *) path="$path/latest" ;; esac
    sum=$(sha256sum "${OLLAMA_MODELS:-$HOME/.ollama/models}/manifests/$path" 2>/dev/null) || return 1
    echo "sha256:${sum%% *}"
}

# Whether the model on the volume is the one NAME@sha256:<hex> pins (any is, unpinned);
# `found` holds what is there.
is_pinned_one() {
    found=$(manifest_digest "${1%%@*}") || found="no manifest"
    case "$1" in *@sha256:*) [ "$found" = "${1#*@}" ] ;; esac
}

# Only missing models, and pinned ones that are not the pinned manifest, are pulled: a
# restart with a kept volume needs no registry.
pull_models() {
    rm -f "$ready_file"
    wait_for_server || return 1
    deadline=$(($(now) + pull_budget))
    locked=
    for wanted in "$@"; do
        name=${wanted%%@*}
        if has_model "$name" && is_pinned_one "$wanted"; then
            say "$name is present"
            continue
        fi
        if [ -z "$locked" ]; then
            lock_pulls "$deadline" "$name" || return 1
            locked=1
            # Another judge on the same volume may have pulled it while this one waited.
            if has_model "$name" && is_pinned_one "$wanted"; then
                say "$name is present"
                continue
            fi
        fi
        found=
        pull_one "$name" "$deadline" && is_pinned_one "$wanted" || {
            [ -n "$found" ] && give_up "could not pull $name: its registry gave $found, but it is pinned to ${wanted#*@} (retrying cannot help: pin what the registry has now, or push the pinned model back under that name)"
            unlock_pulls
            return 1
        }
    done
    [ -z "$locked" ] || unlock_pulls
    for wanted in "$@"; do
        load_one "${wanted%%@*}" "$deadline" || return 1
    done
    for wanted in "$@"; do
        say "digest ${wanted%%@*} $(manifest_digest "${wanted%%@*}")"
    done
    version=$(bounded "$call_limit" ollama -v 2>/dev/null | head -n 1)
    say "ollama version ${version##* }"
    touch "$ready_file"
    say "ready: ${*:-no models configured}"
}

check_models() {
    [ -e "$ready_file" ] || {
        say "the models are not all pulled and loaded yet"
        return 1
    }
    server_answers || {
        say "the server does not answer"
        return 1
    }
    for model in "$@"; do
        has_model "${model%%@*}" || {
            say "${model%%@*} is missing"
            return 1
        }
    done
}

serve() {
    ollama serve &
    server=$!
    trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; exit 143' TERM INT
    if ! pull_models "$@"; then
        say "stopping: the judge cannot work without its models"
        kill -TERM "$server" 2>/dev/null
        wait "$server"
        exit 1
    fi
    wait "$server"
}

mode=${1:-}
[ "$#" -gt 0 ] && shift
# A check's answer is for its caller (Docker keeps it with the container's health), not the
# log: the health check asks every 10 s for as long as the judge runs.
if [ -n "${OLLAMA_JUDGE_LOG:-}" ] && [ "$mode" != check ]; then
    # fd 3 keeps the caller's stderr: a failed hook's own output is the only part of it
    # that the kubelet reports (in the container's status), so the reason goes there too.
    exec 3>&2 >>"$OLLAMA_JUDGE_LOG" 2>&1
else
    # Everything already reaches the caller: the reason once is enough.
    exec 3>/dev/null
fi
case "$mode" in
serve) serve "$@" ;;
pull) pull_models "$@" ;;
check) check_models "$@" ;;
*)
    say "usage: ollama-judge serve|pull|check MODEL..."
    exit 2
    ;;
esac
