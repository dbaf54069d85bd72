#!/usr/bin/env bash
# The Dockerfile, without a Docker engine (there is none here or on CI): runs its build
# stage's RUN steps on this host in a fresh copy of the build context, then checks what the
# runtime stage would get and runs the built server as its ENTRYPOINT would:
#   - stages: debian:bookworm build stage, bookworm(-slim) runtime stage; non-root USER,
#     VOLUME /data, EXPOSE 6379, HEALTHCHECK with redis-cli ping, exec-form ENTRYPOINT;
#   - the context (.dockerignore applied) carries no build/; the build stage's packages
#     are a subset of scripts/deps.sh's, so its RUN steps need no network here
#     (OX_DEPS_NO_INSTALL=1 makes deps.sh fail rather than install); the file the runtime
#     stage copies from the build stage exists afterwards;
#   - every shared library the binary loads (ldd, mapped to packages by dpkg -S) comes
#     from a package in every Debian image (Essential or Priority required, with what
#     they depend on) or from the runtime stage's packages and what they depend on;
#     redis-cli comes from a runtime-stage package; each runtime-stage package provides
#     one of those directly (nothing unneeded: no -dev, no compiler);
#   - the binary started with the ENTRYPOINT's arguments plus "--port P" (as
#     `docker run oxistore --port P`), container paths mapped into a scratch root,
#     answers PING on 127.0.0.1, and the HEALTHCHECK command passes (and fails once the
#     server is gone); a client from this host's non-loopback address gets -DENIED
#     (protected mode) until --requirepass is given; an appended --bind 127.0.0.1
#     overrides the ENTRYPOINT's "--bind 0.0.0.0 -::" (the last one wins, as in
#     redis-server).
# Not checked: that the image builds in Docker (FROM, apt inside the image), file
# ownership inside the image (this test runs as whoever runs it).
# Prints "ok"/"FAIL"/"SKIP" lines and "RESULT <passed> <failed>" for scripts/run-tests.sh.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${OX_TEST_DIR:-${TMPDIR:-/tmp}}/dockerfile.XXXXXX")
passed=0; failed=0; srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ]; then kill -KILL "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
finish() { echo "RESULT $passed $failed"; [ "$failed" -eq 0 ]; exit; }

# ---- the Dockerfile as instructions: "<stage> <INSTRUCTION> <arguments>" per line -------
# Continuation lines joined, comments dropped; stage 0 is the first FROM.
instrs=$(awk '
  /^[[:space:]]*#/ { next }
  { line = cont ? line " " $0 : $0 }
  /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, "", line); cont = 1; next }
  { cont = 0; gsub(/[[:space:]]+/, " ", line); sub(/^ /, "", line)
    if (line == "") next
    split(line, w, " "); op = toupper(w[1])
    if (op == "FROM") stage++
    print stage - 1, op, substr(line, length(w[1]) + 2); line = "" }
' "$top/Dockerfile")
nstages=$(printf '%s\n' "$instrs" | awk '{print $1}' | sort -u | wc -l)
last=$((nstages - 1))
in_stage() { printf '%s\n' "$instrs" | awk -v s="$1" -v op="$2" '$1 == s && $2 == op {
  sub(/^[^ ]+ [^ ]+ /, ""); print }'; }

build_from=$(in_stage 0 FROM)
check "build stage is debian:bookworm AS build" [ "$build_from" = "debian:bookworm AS build" ]
run_from=$(in_stage "$last" FROM)
check "runtime stage is debian:bookworm(-slim)" \
  eval '[ "$nstages" -eq 2 ] && [[ "$run_from" =~ ^debian:bookworm(-slim)?$ ]]'
user=$(in_stage "$last" USER | tail -n 1)
check "runtime USER is not root" eval '[ -n "$user" ] && [ "$user" != root ] && [ "${user%%:*}" != 0 ]'
check "VOLUME /data" eval 'in_stage "$last" VOLUME | grep -Eq "^(/data|\\[ *\"/data\" *\\])$"'
check "EXPOSE 6379" eval 'in_stage "$last" EXPOSE | grep -qw 6379'
health=$(in_stage "$last" HEALTHCHECK | sed -n 's/.*CMD //p')
check "HEALTHCHECK runs redis-cli … ping" eval '[[ "$health" =~ redis-cli.*\ ping ]]'
entry_json=$(in_stage "$last" ENTRYPOINT)
check "ENTRYPOINT in exec form" eval '[[ "$entry_json" =~ ^\[.*\]$ ]]'
entry=()
while IFS= read -r tok; do entry+=("$tok"); done < <(printf '%s\n' "$entry_json" | grep -o '"[^"]*"' | sed 's/^"//; s/"$//')
check "ENTRYPOINT passes --bind" eval 'printf "%s\n" "${entry[@]}" | grep -qx -- --bind'

# ---- build context: the worktree minus .dockerignore (its simple root patterns) --------
ctx="$scratch/src"
mkdir -p "$ctx"
pat="$scratch/dockerignore"
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's|^/||' -e '/^$/d' "$top/.dockerignore" > "$pat" 2>/dev/null
(cd "$top" && ls -A | tar --anchored --exclude-from="$pat" -cf - -T -) | tar -C "$ctx" -xf -
check "context carries no build/ (.dockerignore)" eval '[ ! -e "$ctx/build" ] && [ -e "$ctx/Makefile" ]'

# ---- the build stage's packages are installed here by scripts/deps.sh ---------------
dev=$("$top/scripts/deps.sh" --list dev)
notdev=$("$top/scripts/deps.sh" --list image-build | grep -vxF "$dev")
check "build-stage packages are among deps.sh's (${notdev:-all})" [ -z "$notdev" ]

# ---- run the build stage's RUN steps in the copy (WORKDIR /src is the copy) -----------
workdir=$(in_stage 0 WORKDIR | tail -n 1)
start=$(date +%s)
build_ok=1
while IFS= read -r step; do
  [ -n "$step" ] || continue
  echo "     build stage: RUN $step"
  if ! (cd "$ctx" && OX_DEPS_NO_INSTALL=1 sh -c "$step") > "$scratch/build.log" 2>&1; then
    tail -n 30 "$scratch/build.log"; build_ok=0; break
  fi
done < <(in_stage 0 RUN)
check "build stage's RUN steps succeed ($(( $(date +%s) - start ))s)" [ "$build_ok" = 1 ]

# Container paths: what a COPY put there, else the same path under a scratch root.
root="$scratch/root"
copies=$(in_stage "$last" COPY)
host_path() {
  local p=$1 src
  src=$(printf '%s\n' "$copies" | awk -v d="$1" '$NF == d { print ($1 ~ /^--from=/) ? $2 : $1 }' | tail -n 1)
  if [ -n "$src" ]; then
    if printf '%s\n' "$copies" | grep -q -- "--from=build .* $p\$"; then
      echo "$ctx${src#"$workdir"}"
    else
      echo "$ctx/$src"
    fi
  else
    echo "$root$p"
  fi
}
bin_dest=$(printf '%s\n' "$copies" | awk -v b="${entry[0]}" '$1 == "--from=build" && ($NF == b || $NF ~ "/" b "$") { print $NF }')
bin=$(host_path "${bin_dest:-/nonexistent}")
check "runtime stage's copy of ${entry[0]} was built ($bin_dest)" [ -x "$bin" ]
[ -x "$bin" ] || finish

# ---- runtime packages: ldd → dpkg -S ----------------------------------------------
runtime_pkgs=$("$top/scripts/deps.sh" --list image-runtime)
codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
pkg_of() {
  local f=$1 p
  for cand in "$f" "$(readlink -f "$f")" "${f#/usr}" "/usr$f"; do
    p=$(dpkg -S "$cand" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1)
    [ -n "$p" ] && { echo "$p"; return; }
  done
}
# The packages apt installs along with the given ones: their Depends and Pre-Depends,
# recursively, as installed here (every alternative of an "a | b" counted).
closure() {
  local -A seen=()
  local queue=("$@") p d
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    for d in $(dpkg-query -W -f='${Depends}, ${Pre-Depends}\n' "$p" 2>/dev/null |
               tr ',|' '\n\n' | sed -e 's/([^)]*)//g' -e 's/:any//' -e 's/[[:space:]]//g'); do
      [ -n "${seen[$d]:-}" ] || queue+=("$d")
    done
  done
  printf '%s\n' "${!seen[@]}"
}
if [ "$codename" != bookworm ] || ! command -v dpkg >/dev/null; then
  skip "runtime packages" "this host is not Debian bookworm ('$codename'): package names differ"
else
  # Every Debian image has the Essential and Priority required packages and what they
  # depend on (libc6, libgcc-s1… are not "required" themselves but come with them).
  base=$(closure $(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
                   awk '$2 == "yes" || $3 == "required" { print $1 }'))
  runtime_all=$(closure $runtime_pkgs)
  libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  bad=""; used=""
  for lib in $libs; do
    p=$(pkg_of "$lib")
    if printf '%s\n' "$base" | grep -qxF "$p"; then from="base image"
    elif printf '%s\n' "$runtime_all" | grep -qxF "$p"; then from="runtime stage"; used="$used $p"
    else from="MISSING"; bad="$bad $lib(${p:-no package})"; fi
    echo "     $lib: ${p:-?} ($from)"
  done
  check "every library the server loads is in the runtime stage${bad:+, not:$bad}" [ -z "$bad" ]
  cli_pkg=$(pkg_of "$(command -v redis-cli)")
  check "HEALTHCHECK's redis-cli comes from a runtime package ($cli_pkg)" \
    eval 'printf "%s\n" "$runtime_pkgs" | grep -qxF "$cli_pkg"'
  used="$used $cli_pkg"
  extra=""
  for p in $runtime_pkgs; do
    printf '%s\n' $used | grep -qxF "$p" || extra="$extra $p"
  done
  check "no runtime package is unneeded${extra:+:$extra}" [ -z "$extra" ]
fi

# ---- run it as the ENTRYPOINT would --------------------------------------------------
runtime_run=$(in_stage "$last" RUN)
for d in $(printf '%s\n' "$runtime_run" | grep -o 'mkdir -p[^&;|]*' | sed 's/mkdir -p//'); do
  mkdir -p "$root$d"
done
args=()
for tok in "${entry[@]:1}"; do
  if [[ "$tok" == /* ]]; then args+=("$(host_path "$tok")"); else args+=("$tok"); fi
done
hc=$health
for tok in "${entry[@]:1}"; do [[ "$tok" == /* ]] && hc=${hc//"$tok"/"$(host_path "$tok")"}; done
# Each path the ENTRYPOINT names exists (a COPY, or made by the runtime RUN's mkdir -p),
# or its directory does (a file the server creates), and the RUN line chowns to USER.
paths_prepared() {
  local tok hp
  for tok in "${entry[@]:1}"; do
    [[ "$tok" == /* ]] || continue
    hp=$(host_path "$tok")
    [ -e "$hp" ] || [ -d "$(dirname "$hp")" ] || { echo "     $tok: not prepared"; return 1; }
  done
  [[ "$runtime_run" =~ chown\ $user ]]
}
check "the ENTRYPOINT's paths are made, and chowned to $user, by the runtime RUN" paths_prepared

port=0
# Starts "$bin ENTRYPOINT-args $@ --port P" on a random unprivileged port (another if it
# is taken) and polls (deadline 15 s) until it answers PING, or -NOAUTH, on 127.0.0.1.
start_server() {
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    "$bin" "${args[@]}" "$@" --port "$port" > "$scratch/server.log" 2>&1 &
    srv_pid=$!
    local deadline=$(( $(date +%s) + 15 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
      if ! kill -0 "$srv_pid" 2>/dev/null; then
        wait "$srv_pid"; srv_pid=""
        grep -q "Address already in use" "$scratch/server.log" && continue 2
        cat "$scratch/server.log"; return 1
      fi
      redis-cli -p "$port" ping 2>/dev/null | grep -Eq '^(PONG|NOAUTH)' && return 0
      sleep 0.05 # a poll interval: the loop checks the state
    done
    cat "$scratch/server.log"; return 1
  done
  return 1
}
stop_server() {
  [ -n "$srv_pid" ] || return 1
  kill -TERM "$srv_pid"; wait "$srv_pid"; local rc=$?; srv_pid=""; return $rc
}
cli() { redis-cli -p "$port" "$@" 2>&1; }
healthy() { sh -c "$hc" 2>/dev/null; }

other_ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1)

if start_server; then
  ok "starts with the ENTRYPOINT's arguments and --port $port"
  check "PING on 127.0.0.1 answers PONG" [ "$(cli ping)" = PONG ]
  check "SET then GET through it" eval '[ "$(cli set k v)" = OK ] && [ "$(cli get k)" = v ]'
  check "HEALTHCHECK passes ($hc)" healthy
  if [ -n "$other_ip" ]; then
    check "protected mode: a client from $other_ip gets -DENIED" \
      eval 'redis-cli -h "$other_ip" -p "$port" ping 2>&1 | grep -q "^DENIED Redis is running in protected mode"'
  else
    skip "protected mode" "this host has no non-loopback IPv4 address to connect from"
  fi
  check "SIGTERM: exits 0" stop_server
  check "HEALTHCHECK fails with the server gone" eval '! healthy'
else
  fail "starts with the ENTRYPOINT's arguments" "see the log above"
fi

if start_server --requirepass s3cret; then
  check "with --requirepass: PING without AUTH gets NOAUTH" eval '[[ "$(cli ping)" == NOAUTH* ]]'
  check "with --requirepass: HEALTHCHECK passes" healthy
  if [ -n "$other_ip" ]; then
    check "with --requirepass: $other_ip is served after AUTH" \
      eval '[ "$(REDISCLI_AUTH=s3cret redis-cli -h "$other_ip" -p "$port" ping 2>&1)" = PONG ]'
  fi
  check "with --requirepass: SIGTERM, exit 0" stop_server
else
  fail "starts with --requirepass" "see the log above"
fi

if start_server --bind 127.0.0.1; then
  check "--bind 127.0.0.1 after the ENTRYPOINT's: 127.0.0.1 served" [ "$(cli ping)" = PONG ]
  if [ -n "$other_ip" ]; then
    check "--bind 127.0.0.1 after the ENTRYPOINT's: $other_ip refused (the last bind wins)" \
      eval '! redis-cli -h "$other_ip" -p "$port" ping >/dev/null 2>&1 &&
            redis-cli -h "$other_ip" -p "$port" ping 2>&1 | grep -q "Connection refused"'
  fi
  check "--bind 127.0.0.1: HEALTHCHECK still passes (unix socket)" healthy
  check "--bind 127.0.0.1: SIGTERM, exit 0" stop_server
else
  fail "starts with --bind 127.0.0.1 appended" "see the log above"
fi
finish
