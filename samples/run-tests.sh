#!/usr/bin/env bash
# Packs Onitu's packages into artifacts/packages with a version unique to this run (so a stale package from an
# earlier run, in the feed or in the NuGet caches, can never be used), then, as a third-party driver author would:
#  1. builds and tests the samples against those packages, packs the sample driver (with Onitu.Driver.Sdk's targets
#     only) and installs that package with the real `onitu drivers install`;
#  2. installs the packed `dotnet new` template (in a private template hive), creates a driver outside the
#     repository, and checks that it passes the conformance kit, packs, installs, and syncs with `onitu sync`.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
version="0.1.0-local.$(date -u +%Y%m%d%H%M%S).$$"
feed=artifacts/packages

mkdir -p "$feed"
packages="Onitu.Abstractions Onitu.Driver.Sdk Onitu.Core Onitu.Drivers.LocalStorage Onitu.Testing Onitu.Templates"
for id in $packages; do
  rm -f "$feed/$id".[0-9]*.nupkg
done

for project in $packages; do
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

# 2. The template, used from outside the repository against the same feed.
echo "Creating a driver from the onitu-driver template"
hive="$work/template-hive"
dotnet new install "$PWD/$feed/Onitu.Templates.$version.nupkg" --debug:custom-hive "$hive"
dotnet new onitu-driver -n Acme.Onitu.Demo -o "$work/demo" --driver-id acme_onitu_demo --debug:custom-hive "$hive"
grep -q "\"Onitu.Abstractions\" Version=\"$version\"" "$work/demo/Acme.Onitu.Demo/Acme.Onitu.Demo.csproj" \
  || { echo "the template did not default to the Onitu version it was packed with ($version)" >&2; exit 1; }
cat > "$work/demo/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="onitu-local" value="$PWD/$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="onitu-local"><package pattern="Onitu.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
CONFIG
(
  cd "$work/demo"
  dotnet test Acme.Onitu.Demo.Tests --nologo
  # A prerelease version: a stable package may not depend on this run's prerelease Onitu packages (NU5104).
  dotnet pack Acme.Onitu.Demo -c Release -o feed -p:Version=0.1.0-ci --nologo
  onitu drivers install feed/Acme.Onitu.Demo.0.1.0-ci.nupkg --plugins "$work/plugins"
  onitu drivers --plugins "$work/plugins" | grep -E '^acme_onitu_demo 0\.1\.0-ci '
  onitu sync try/setup.yml --plugins "$work/plugins"
  cmp try/here/hello.txt try/there/hello.txt

  # Onitu.Driver.Sdk without PrivateAssets="all" would become a dependency of the driver's package: the build refuses.
  sed -i 's/ PrivateAssets="all"//' Acme.Onitu.Demo/Acme.Onitu.Demo.csproj
  if dotnet build Acme.Onitu.Demo --nologo -v:q > sdk-not-private.log 2>&1; then
    echo "a driver referencing Onitu.Driver.Sdk without PrivateAssets=\"all\" built" >&2; exit 1
  fi
  grep -q 'Reference Onitu.Driver.Sdk with PrivateAssets="all"' sdk-not-private.log \
    || { cat sdk-not-private.log >&2; echo "the build failed without naming PrivateAssets" >&2; exit 1; }
)
echo "The onitu-driver template builds, passes the kit, packs, installs and syncs; Onitu.Driver.Sdk must be private."
