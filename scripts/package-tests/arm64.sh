# The arm64 package (the Raspberry Pi's) in an arm64 Debian 12 root, run by qemu-user: installed by
# dpkg, then one look end to end (safe state, online, green, frames at the receiver, red, the audit
# chain verified at the central).
#
# DOTNET_EnableWriteXorExecute=0 only here: under qemu-user the .NET JIT's W^X double mapping of code
# pages is not emulated faithfully, and most looks then fail closed with a NullReferenceException
# inside System.Text.Json. That is an emulator artefact (a Pi runs with W^X on, the default); the
# packaged unit and service leave it on.
scenario_arm64() {
  local root deb=$1
  enable_arm64_emulation
  root=$(scenario_root arm64 arm64)
  cp "$deb" "$root/tmp/homeunit.deb"
  check "arm64: dpkg -i installs the package under emulation" in_root "$root" dpkg -i /tmp/homeunit.deb
  check "arm64: the root and the apphost are aarch64" \
    sh -c "[ \"\$(chroot '$root' uname -m)\" = aarch64 ] && [ \"\$(od -An -tx1 -j18 -N2 '$root/usr/lib/homeunit/homeunit' | tr -d ' ')\" = b700 ]"
  check "arm64: homeunit --help" sh -c "chroot '$root' /usr/bin/env DOTNET_EnableWriteXorExecute=0 /usr/bin/homeunit --help | grep -q safe-state"
  if run_demo "$root" arm64 DOTNET_EnableWriteXorExecute=0; then
    ok "arm64: a look end to end: safe state, green before capture, frames at the receiver, red after, chain verified"
  else
    bad "arm64: a look end to end (see $WORK/demo-arm64.log)"; sed 's/^/     /' "$WORK/demo-arm64.log" | tail -40
  fi
  scenario_unmount "$root"
}
