# Throwaway Debian 12 roots for the package tests, made by debootstrap once and cached under
# $HOMEUNIT_TEST_ROOTS (default /var/cache/homeunit-test-roots). Each scenario runs in an overlay on
# top of the cached root, so it starts from a pristine root in no time and leaves the cache untouched.
# Sourced by scripts/test-package.

ROOTS=${HOMEUNIT_TEST_ROOTS:-/var/cache/homeunit-test-roots}
MIRROR=${HOMEUNIT_TEST_MIRROR:-http://deb.debian.org/debian}

# What the package depends on, already in the root so that dpkg -i needs no network. libmosquitto1 is
# for the previous release (0.1.0, its MQTT link was native), which the upgrade rehearsal installs first.
ROOT_PACKAGES_amd64=ffmpeg,libmosquitto1,libicu72,libssl3,adduser,ca-certificates,procps
# arm64: only what one look with this release needs (the root is made under emulation, so every package
# costs time); without libmosquitto1, so the look there shows the package needs no native MQTT library.
ROOT_PACKAGES_arm64=ffmpeg,libicu72,libssl3,adduser

# Lets the kernel run aarch64 binaries through qemu-user (a foreign root's programs, the arm64 package).
enable_arm64_emulation() {
  if [ "$(uname -m)" = aarch64 ]; then return; fi
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
    || { echo "qemu-aarch64 is not registered with binfmt_misc (qemu-user-static, binfmt-support)" >&2; return 1; }
}

# cached_root ARCH → prints the cached root's path, making it first if missing or made from another package list.
cached_root() {
  local arch=$1 list dir
  list=$(eval echo "\$ROOT_PACKAGES_$arch")
  dir=$ROOTS/bookworm-$arch
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "$list" ]; then
    [ "$arch" = amd64 ] || enable_arm64_emulation
    rm -rf "$dir" "$dir.stamp"
    mkdir -p "$ROOTS"
    echo "making the Debian 12 $arch root (once; cached in $dir)" >&2
    debootstrap --arch="$arch" --variant=minbase --include="$list" bookworm "$dir" "$MIRROR" >"$dir.log" 2>&1 \
      || { tail -20 "$dir.log" >&2; return 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*_Packages
    # A minimal root has no /etc/hosts: without it "localhost" does not resolve.
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' >"$dir/etc/hosts"
    echo "$list" >"$dir.stamp"
  fi
  echo "$dir"
}

# scenario_root ARCH NAME → mounts a fresh overlay of the cached root (with /proc, /dev, /sys, /tmp)
# and prints its path; scenario_unmount undoes it.
scenario_root() {
  local arch=$1 name=$2 lower base
  lower=$(cached_root "$arch") || return 1
  mkdir -p "${WORK:-/tmp}/roots"
  base=$(mktemp -d "${WORK:-/tmp}/roots/$name-XXXX")
  mkdir -p "$base/upper" "$base/work" "$base/root"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$base/upper,workdir=$base/work" "$base/root"
  mount -t proc proc "$base/root/proc"
  mount --rbind /dev "$base/root/dev" && mount --make-rslave "$base/root/dev"
  mount -t sysfs sysfs "$base/root/sys"
  mount -t tmpfs tmpfs "$base/root/tmp"
  echo "$base/root"
}

# Unmounts every scenario root left under $WORK (a scenario that stopped half-way).
unmount_all_scenarios() {
  local root
  for root in "${WORK:-/nonexistent}"/roots/*/root; do
    [ -d "$root" ] && scenario_unmount "$root"
  done
  return 0
}

scenario_unmount() {
  local root=$1
  # Everything started inside the root must be gone before its mounts are.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null
  done
  umount -R "$root" 2>/dev/null || umount -lR "$root"
  rm -rf "$(dirname "$root")"
}
