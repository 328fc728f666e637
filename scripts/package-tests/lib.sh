# Helpers shared by the package scenarios (sourced by scripts/test-package).

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
# check DESCRIPTION COMMAND...: runs the command quietly; ok when it succeeds.
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
# in ROOT COMMAND...: runs a command inside a throwaway root.
in_root() { local root=$1; shift; chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

stage_started=0
stage() { stage_started=$(date +%s); echo "== $*"; }
stage_done() { local s=$(( $(date +%s) - stage_started )); timings+=("$1: ${s} s"); echo "   ($1: ${s} s)"; }
timings=()

# wait_for SECONDS COMMAND...: polls until the command succeeds or the deadline passes.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# run_demo ROOT NAME [ENV=VALUE...]: one look end to end by homeunit-sim demo (broker, central
# and receiver on this machine) with the unit's agent being the package installed in ROOT. The
# demo's temporary files are bind-mounted into the root at the same path, so both see one tree.
run_demo() {
  local root=$1 name=$2; shift 2
  local shared log status=0
  shared=$(mktemp -d "/tmp/homeunit-demo-$name-XXXX")
  mkdir -p "$root$shared"
  mount --bind "$shared" "$root$shared"
  cat >"$shared/agent" <<AGENT
#!/bin/sh
exec chroot "$root" /usr/bin/env $* /usr/bin/homeunit "\$@"
AGENT
  chmod +x "$shared/agent"
  log=$shared/demo.log
  TMPDIR=$shared timeout 600 dotnet "$SIM" demo --fast --seconds 4 --agent "$shared/agent" >"$log" 2>&1 || status=$?
  umount "$root$shared"
  sed 's/\x1b\[[0-9;]*m//g' "$log" >"$WORK/demo-$name.log"
  rm -rf "$shared"
  return $status
}
