#!/usr/bin/env bash
# Packs Onitu's packages into artifacts/packages with a version unique to this run (so a stale package from an
# earlier run, in the feed or in the NuGet caches, can never be used), then, as a third-party driver author would:
# builds and tests the samples against those packages, packs the sample driver (with Onitu.Driver.Sdk's targets
# only) and installs that package with the real `onitu drivers install`.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
version="0.1.0-local.$(date -u +%Y%m%d%H%M%S).$$"
feed=artifacts/packages

mkdir -p "$feed"
for id in Onitu.Abstractions Onitu.Driver.Sdk Onitu.Core Onitu.Drivers.LocalStorage Onitu.Testing; do
  rm -f "$feed/$id".[0-9]*.nupkg
done

for project in Onitu.Abstractions Onitu.Driver.Sdk Onitu.Core Onitu.Drivers.LocalStorage Onitu.Testing; do
  dotnet pack "$project" -c Release -o "$feed" -p:Version="$version" --nologo
done

echo "Testing the samples against Onitu $version"
dotnet test samples/Onitu.Samples.sln -p:OnituVersion="$version" "$@"

# The sample driver as a package, installed and listed by the real onitu command in a private plugins folder.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet pack samples/Onitu.Samples.MemoryDriver -c Release -o "$work/driver" -p:OnituVersion="$version" -p:Version=1.2.3-sample --nologo
dotnet build Onitu.Cli -c Release --nologo -v:q -o "$work/onitu"
onitu() { dotnet "$work/onitu/onitu.dll" "$@"; }
onitu drivers install "$work/driver/Onitu.Samples.MemoryDriver.1.2.3-sample.nupkg" --plugins "$work/plugins"
onitu drivers --plugins "$work/plugins" | tee "$work/drivers.txt"
grep -Eq '^memory 1\.2\.3-sample ' "$work/drivers.txt" || { echo "onitu drivers does not list the installed memory driver 1.2.3-sample" >&2; exit 1; }
echo "The sample driver package installs and loads."
