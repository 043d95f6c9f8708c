#!/usr/bin/env bash
# Packs Onitu's packages into artifacts/packages with a version unique to this run (so a stale package from an
# earlier run, in the feed or in the NuGet caches, can never be used), then builds and tests the samples against
# those packages, as a third-party driver author would.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
version="0.1.0-local.$(date -u +%Y%m%d%H%M%S).$$"
feed=artifacts/packages

mkdir -p "$feed"
rm -f "$feed"/Onitu.Abstractions.*.nupkg "$feed"/Onitu.Core.*.nupkg "$feed"/Onitu.Drivers.LocalStorage.*.nupkg "$feed"/Onitu.Testing.*.nupkg

for project in Onitu.Abstractions Onitu.Core Onitu.Drivers.LocalStorage Onitu.Testing; do
  dotnet pack "$project" -c Release -o "$feed" -p:Version="$version" --nologo
done

echo "Testing the samples against Onitu $version"
dotnet test samples/Onitu.Samples.sln -p:OnituVersion="$version" "$@"
