# An upgrade from the previous release with history, in a throwaway root: the previous release's
# package (built from its own commit by its own build script, scripts/package-tests/previous-release)
# installed, its agent with a care plan, a finished look, a running look and records waiting in the
# outbox; then dpkg -i of this tree's package during the look and the restart systemd would do
# (homeunit-sim upgrade-rehearsal says what it checks).

# build_previous OUT: the previous release's amd64 package into OUT; prints its path.
build_previous() {
  local out=$1 commit version src
  read -r commit version <scripts/package-tests/previous-release
  src=$WORK/previous-src
  mkdir -p "$src"
  git archive "$commit" | tar -x -C "$src" \
    || { echo "the previous release's commit $commit is not in this clone (fetch the full history)" >&2; return 1; }
  (cd "$src" && deploy/build-packages --arch amd64 --version "$version" --out "$out") >"$WORK/previous-build.log" 2>&1 \
    || { cat "$WORK/previous-build.log" >&2; return 1; }
  echo "$out/homeunit_${version}_amd64.deb"
}

scenario_upgrade() {
  local previous=$1 deb=$2 root shared status=0
  root=$(scenario_root amd64 upgrade)
  cp "$previous" "$root/tmp/previous.deb"
  cp "$deb" "$root/tmp/homeunit.deb"
  check "the previous release $(dpkg-deb -f "$previous" Version) installs" in_root "$root" dpkg -i /tmp/previous.deb
  shared=$(mktemp -d "/tmp/homeunit-upgrade-XXXX")
  mkdir -p "$root$shared" && mount --bind "$shared" "$root$shared"
  printf '#!/bin/sh\nexec chroot "%s" /usr/bin/homeunit "$@"\n' "$root" >"$shared/agent" && chmod +x "$shared/agent"
  TMPDIR=$shared timeout 900 dotnet "$SIM" upgrade-rehearsal --agent "$shared/agent" \
    --upgrade "chroot '$root' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg -i /tmp/homeunit.deb" \
    >"$WORK/upgrade.log" 2>&1 || status=$?
  umount "$root$shared"; rm -rf "$shared"
  sed -n 's/^\(ok  \|FAIL\) /     &/p' "$WORK/upgrade.log"
  if [ $status -eq 0 ]; then ok "upgrade during a look from $(dpkg-deb -f "$previous" Version) to $(dpkg-deb -f "$deb" Version) without loss"
  else bad "upgrade rehearsal (see $WORK/upgrade.log)"; tail -30 "$WORK/upgrade.log" | sed 's/^/     /'; fi
  check "dpkg has the new version" sh -c "[ \"\$(chroot '$root' dpkg-query -W -f='\${Version}' homeunit)\" = '$(dpkg-deb -f "$deb" Version)' ]"
  scenario_unmount "$root"
}
