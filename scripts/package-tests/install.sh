# Install, run, remove, reinstall, purge: the amd64 package in a throwaway Debian 12 root.
scenario_install() {
  local root deb=$1
  root=$(scenario_root amd64 install)
  cp "$deb" "$root/tmp/homeunit.deb"
  check "dpkg -i installs the package and its maintainer scripts succeed" in_root "$root" dpkg -i /tmp/homeunit.deb
  check "dpkg says installed" sh -c "chroot '$root' dpkg-query -W -f='\${Status}' homeunit | grep -qx 'install ok installed'"

  # Files, owners and modes.
  check "/usr/lib/homeunit/homeunit is the apphost, root:root 0755" \
    sh -c "[ \"\$(stat -c '%U:%G %a' '$root/usr/lib/homeunit/homeunit')\" = 'root:root 755' ] && head -c4 '$root/usr/lib/homeunit/homeunit' | grep -q ELF"
  check "/usr/bin/homeunit runs the apphost" grep -q 'exec /usr/lib/homeunit/homeunit' "$root/usr/bin/homeunit"
  check "no dump writer or debugger library in the package" \
    sh -c "! ls '$root/usr/lib/homeunit' | grep -qE '^(createdump|libmscordbi.so|libmscordaccore.so)$'"
  local unit=$root/lib/systemd/system/homeunit.service
  check "the unit runs the apphost" grep -qx 'ExecStart=/usr/lib/homeunit/homeunit run' "$unit"
  check "the unit's stop leaves the safe state through the apphost" grep -qx 'ExecStopPost=/usr/lib/homeunit/homeunit safe-state' "$unit"
  check "no dotnet in ExecStart or ExecStopPost" sh -c "! grep -E '^Exec' '$unit' | grep -q dotnet"
  check "the unit turns the .NET diagnostics IPC off" grep -q 'DOTNET_EnableDiagnostics=0' "$unit"
  check "the unit turns core files off" grep -qx 'LimitCORE=0' "$unit"
  check "udev rules in /lib/udev/rules.d" test -f "$root/lib/udev/rules.d/99-homeunit.rules"
  check "/etc/homeunit/homeunit.json is a conffile" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' homeunit | grep -q /etc/homeunit/homeunit.json"
  check "licence and copyright" grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$root/usr/share/doc/homeunit/copyright"

  # The service account and the directories it owns.
  check "system user homeunit with no login shell" \
    sh -c "chroot '$root' getent passwd homeunit | awk -F: '\$3 < 1000 && \$7 == \"/usr/sbin/nologin\"' | grep -q ."
  # (this root has no input group; Raspberry Pi OS has one)
  check "homeunit is in gpio and video (and input where the group exists)" \
    sh -c "g=\$(chroot '$root' id -nG homeunit); for x in gpio video \$(chroot '$root' getent group input | cut -d: -f1); do echo \" \$g \" | grep -q \" \$x \" || exit 1; done"
  check "/var/lib/homeunit homeunit:homeunit 0700" sh -c "[ \"\$(chroot '$root' stat -c '%U:%G %a' /var/lib/homeunit)\" = 'homeunit:homeunit 700' ]"
  check "/etc/homeunit root:homeunit 0750" sh -c "[ \"\$(chroot '$root' stat -c '%U:%G %a' /etc/homeunit)\" = 'root:homeunit 750' ]"

  # /proc hidepid: another account sees neither the process nor its command line.
  check "/proc is mounted with hidepid=invisible" sh -c "findmnt -no OPTIONS '$root/proc' | grep -q hidepid=invisible"
  in_root "$root" sh -c 'sleep 300; : passphrase-on-the-command-line' &
  local sleeper=$!
  wait_for 10 pgrep -f passphrase-on-the-command-line || true
  local pid; pid=$(pgrep -f passphrase-on-the-command-line | head -1)
  check "another account cannot read a root process's command line" sh -c "! chroot --userspec=nobody:nogroup '$root' cat /proc/$pid/cmdline"
  check "another account does not see it in /proc" sh -c "! chroot --userspec=nobody:nogroup '$root' ls /proc | grep -qx $pid"
  kill "$sleeper" 2>/dev/null; wait "$sleeper" 2>/dev/null || true

  # The installed program runs.
  check "homeunit --help" sh -c "chroot '$root' /usr/bin/homeunit --help | grep -q safe-state"
  # As the service runs it (its user, its state directory), without a broker: the safe state, then the link retries.
  chroot --userspec=homeunit:homeunit "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/lib/homeunit \
    /usr/bin/homeunit run --simulate --timeline --set Mqtt:Port=1 \
    --set State:Directory=/var/lib/homeunit --set Hardware:Root=/var/lib/homeunit/simulated-kernel >"$WORK/run-simulate.log" 2>&1 &
  local agent=$!
  if wait_for 180 grep -q 'servo .*lens-up pwm-off' "$WORK/run-simulate.log"; then ok "run --simulate as homeunit: the lens up and silent"; else bad "run --simulate as homeunit (see $WORK/run-simulate.log)"; fi
  local apid; apid=$(pgrep -f '/usr/lib/homeunit/homeunit run' | head -1)
  check "the installed command runs with no core limit (ulimit -c 0)" grep -Eq '^Max core file size +0 +' "/proc/$apid/limits"
  check "the installed command runs with the .NET diagnostics IPC off" sh -c "tr '\\0' '\\n' </proc/$apid/environ | grep -qx DOTNET_EnableDiagnostics=0"
  check "no .NET diagnostics socket or debugger pipe in the root's /tmp" \
    sh -c "! ls '$root/tmp' | grep -qE '^(dotnet-diagnostic-|clr-debug-pipe-)'"
  kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
  check "state written by the service user" test -f "$root/var/lib/homeunit/homeunit.db"
  if run_demo "$root" amd64; then ok "a look end to end with the installed package (demo-amd64.log)"; else bad "a look end to end (see $WORK/demo-amd64.log)"; fi

  # remove keeps keys and state; purge erases them.
  mkdir -p "$root/etc/homeunit/tls" && echo key >"$root/etc/homeunit/tls/device.key"
  check "dpkg -r removes the package" in_root "$root" dpkg -r homeunit
  check "remove took the program away" test ! -e "$root/usr/lib/homeunit/homeunit"
  check "remove kept the keys" test -f "$root/etc/homeunit/tls/device.key"
  check "remove kept the state" test -f "$root/var/lib/homeunit/homeunit.db"
  check "remove kept the configuration" test -f "$root/etc/homeunit/homeunit.json"
  check "reinstall after remove" in_root "$root" dpkg -i /tmp/homeunit.deb
  check "reinstall found the keys and state" sh -c "test -f '$root/etc/homeunit/tls/device.key' && test -f '$root/var/lib/homeunit/homeunit.db'"
  check "dpkg -P purges the package" in_root "$root" dpkg -P homeunit
  check "purge erased keys and configuration" test ! -e "$root/etc/homeunit"
  check "purge erased the state" test ! -e "$root/var/lib/homeunit"
  check "dpkg forgot the package" sh -c "! chroot '$root' dpkg-query -W homeunit"
  scenario_unmount "$root"
}
