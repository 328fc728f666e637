# Updates from the operator's signed apt repository (deploy/publish-repository), taken by the unit's
# update script (/usr/lib/homeunit/update) in a throwaway root: a signed upgrade succeeds; an unsigned
# repository, a repository signed by another key and a package whose checksum does not match the
# signed index are refused, and the installed version stays.

# repack DEB VERSION OUT: the same package under another version (a stand-in for the next release).
repack() {
  local dir; dir=$(mktemp -d "$WORK/repack-XXXX")
  dpkg-deb -R "$1" "$dir/p"
  sed -i "s/^Version: .*/Version: $2/" "$dir/p/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 -b "$dir/p" "$3" >/dev/null
  rm -rf "$dir"
}

scenario_apt() {
  local root deb=$1 version base
  version=$(dpkg-deb -f "$deb" Version)
  export GNUPGHOME=$WORK/gnupg
  mkdir -p -m 0700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key "HomeUnit operator <updates@operator.example>" ed25519 sign never
  gpg --batch --quiet --passphrase '' --quick-gen-key "Someone else <other@elsewhere.example>" ed25519 sign never
  root=$(scenario_root amd64 apt)
  cp "$deb" "$root/tmp/homeunit.deb"
  in_root "$root" dpkg -i /tmp/homeunit.deb >/dev/null
  gpg --batch --armor --export updates@operator.example >"$root/tmp/operator.asc"
  check "provision updates refuses a private key" sh -c "gpg --batch --armor --pinentry-mode loopback --passphrase '' --export-secret-keys updates@operator.example >'$root/tmp/secret.asc'; ! chroot '$root' homeunit provision updates --repository file:/srv/homeunit --key /tmp/secret.asc; rm -f '$root/tmp/secret.asc'"
  check "provision updates: the operator's key and repository" in_root "$root" homeunit provision updates --repository file:/srv/homeunit --key /tmp/operator.asc
  check "the source trusts only the operator's key" grep -q '^deb \[signed-by=/etc/apt/keyrings/homeunit-archive.asc\] file:/srv/homeunit stable main$' "$root/etc/apt/sources.list.d/homeunit.list"

  # attempt NAME VERSION SETUP...: publishes the package as VERSION in a fresh repository, runs SETUP
  # to spoil it (or not), runs the unit's update and prints the version installed afterwards.
  attempt() {
    local name=$1 next=$2; shift 2
    rm -rf "$root/srv/homeunit" "$root"/var/lib/apt/lists/*
    repack "$deb" "$next" "$WORK/homeunit_${next}_amd64.deb"
    deploy/publish-repository --repo "$root/srv/homeunit" --key "${SIGNER:-updates@operator.example}" "$WORK/homeunit_${next}_amd64.deb" >/dev/null
    "$@"
    in_root "$root" /usr/lib/homeunit/update >"$WORK/update-$name.log" 2>&1 || true
    chroot "$root" dpkg-query -W -f='${Version}' homeunit
  }
  unsigned() { rm -f "$root/srv/homeunit/dists/stable/InRelease" "$root/srv/homeunit/dists/stable/Release.gpg"; }
  tampered() { local f; f=$(ls "$root"/srv/homeunit/pool/main/h/homeunit/*.deb); printf 'tampered' >>"$f"; }

  local got
  got=$(SIGNER=other@elsewhere.example attempt other-key "$version+u1" true)
  if [ "$got" = "$version" ]; then ok "a repository signed by another key is refused (still $got)"; else bad "another key's repository installed $got"; fi
  got=$(attempt unsigned "$version+u2" unsigned)
  if [ "$got" = "$version" ]; then ok "an unsigned repository is refused (still $got)"; else bad "an unsigned repository installed $got"; fi
  got=$(attempt tampered "$version+u3" tampered)
  if [ "$got" = "$version" ]; then ok "a package whose checksum does not match the signed index is refused (still $got)"; else bad "a tampered package installed $got"; fi
  got=$(attempt signed "$version+u4" true)
  if [ "$got" = "$version+u4" ]; then ok "an upgrade from the signed repository succeeds ($version → $got)"; else bad "the signed upgrade left $got (see $WORK/update-signed.log)"; fi
  check "the upgrade kept the unit's configuration" test -f "$root/etc/homeunit/homeunit.json"
  scenario_unmount "$root"
  unset GNUPGHOME
}
