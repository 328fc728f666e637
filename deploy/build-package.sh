#!/usr/bin/env bash
# Builds the Pi package into artifacts/homeunit: self-contained linux-arm64 where its runtime
# packs can be restored, else framework-dependent (the same DLLs run on arm64 with the .NET 10 runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/homeunit
rm -rf "$out"
if dotnet publish src/HomeUnit.Agent -c Release -r linux-arm64 --self-contained -o "$out" >/tmp/homeunit-publish.log 2>&1; then
  echo "built self-contained linux-arm64 package in $out"
else
  echo "linux-arm64 runtime packs not obtainable here; building framework-dependent"
  dotnet publish src/HomeUnit.Agent -c Release -p:UseAppHost=false -o "$out"
fi
mkdir -p "$out/deploy" "$out/docs"
cp -r deploy/systemd deploy/udev deploy/boot deploy/mosquitto deploy/install.sh "$out/deploy/"
cp docs/*.md "$out/docs/"
cp -r provisioning "$out/"
tar -C artifacts -czf artifacts/homeunit.tar.gz homeunit
echo "package: artifacts/homeunit.tar.gz"
