#!/usr/bin/env bash
# Installs the HomeUnit package on a Raspberry Pi (Raspberry Pi OS bookworm, as root), from the
# unpacked artifacts/homeunit directory. Idempotent: running it again updates the files.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)   # the unpacked package
id homeunit >/dev/null 2>&1 || useradd --system --home /var/lib/homeunit --shell /usr/sbin/nologin homeunit
getent group gpio >/dev/null || groupadd --system gpio
usermod -aG gpio,video,input homeunit
install -d -m 0755 /opt/homeunit
cp -r "$here"/. /opt/homeunit/
install -d -m 0750 -o root -g homeunit /etc/homeunit
install -m 0644 "$here/deploy/systemd/homeunit.service" /etc/systemd/system/homeunit.service
install -m 0644 "$here/deploy/udev/99-homeunit.rules" /etc/udev/rules.d/99-homeunit.rules
udevadm control --reload-rules && udevadm trigger
if ! grep -q "label=homeunit-red" /boot/firmware/config.txt; then
  cat "$here/deploy/boot/config.txt.snippet" >> /boot/firmware/config.txt
  echo "overlays added to /boot/firmware/config.txt: reboot before provisioning"
fi
systemctl daemon-reload
# During a look ffmpeg holds the stream passphrase on its command line; other accounts must not read
# /proc/PID/cmdline. hidepid=invisible hides other users' processes from them.
if ! grep -q "hidepid=" /etc/fstab; then
  echo "proc /proc proc defaults,hidepid=invisible 0 0" >> /etc/fstab
fi
mount -o remount,hidepid=invisible /proc
echo "installed; next: homeunit provision init (see /opt/homeunit/provisioning/README.md)"
