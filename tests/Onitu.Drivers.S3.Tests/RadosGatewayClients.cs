using Amazon.S3;

namespace Onitu.Drivers.S3.Tests;

/// <summary>The SDK side of the shared store (tests/Shared/RadosGateway.cs), which the plugin tests must not have.</summary>
internal static class RadosGatewayClients
{
    /// <summary>An SDK client of its own, as another program using the store would have.</summary>
    public static AmazonS3Client CreateClient(this RadosGateway store) => S3Options.From(new DriverOptions(store.Options(""))).CreateClient();
}
