using System.Runtime.CompilerServices;
using PublicApiGenerator;

namespace Onitu.Core.Tests.PublicApi;

/// <summary>
/// The public surface of the library's packages, kept on purpose: any change to it (a type made public by accident,
/// a renamed member, a removed overload) fails here and shows as a diff of the approved file in review.
/// </summary>
/// <remarks>
/// When a change is intended, the test writes <c>&lt;Assembly&gt;.received.txt</c> beside the approved file: review it
/// and move it over <c>&lt;Assembly&gt;.approved.txt</c> (or run with <c>ONITU_APPROVE_API=1</c> to do that directly).
/// </remarks>
public sealed class PublicApiTests
{
    private static readonly ApiGeneratorOptions Options = new()
    {
        // Build metadata and friend assemblies say nothing about the API a user sees.
        ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute", "System.Reflection.AssemblyMetadataAttribute",
            "System.Runtime.CompilerServices.InternalsVisibleToAttribute"],
    };

    [TestCase(typeof(SyncEngine), TestName = "Onitu.Core's public API is the approved one")]
    [TestCase(typeof(IDriverFactory), TestName = "Onitu.Abstractions' public API (the driver contract) is the approved one")]
    public void Public_api_is_approved(Type typeInAssembly)
    {
        var assembly = typeInAssembly.Assembly;
        var name = assembly.GetName().Name!;
        var actual = Normalize(assembly.GeneratePublicApi(Options));
        var directory = ApprovalDirectory();
        var approvedPath = Path.Combine(directory, name + ".approved.txt");
        var receivedPath = Path.Combine(directory, name + ".received.txt");
        var approved = File.Exists(approvedPath) ? Normalize(File.ReadAllText(approvedPath)) : null;

        if (approved == actual)
        {
            File.Delete(receivedPath);
            return;
        }
        if (Environment.GetEnvironmentVariable("ONITU_APPROVE_API") == "1")
        {
            File.WriteAllText(approvedPath, actual);
            File.Delete(receivedPath);
            Assert.Inconclusive($"{name}'s public API was approved anew: review the diff of {approvedPath}.");
        }
        File.WriteAllText(receivedPath, actual);
        Assert.Fail($"{name}'s public API differs from {approvedPath}.{Environment.NewLine}" +
            $"First difference: {FirstDifference(approved ?? string.Empty, actual)}{Environment.NewLine}" +
            $"If the change is intended, move {receivedPath} over the approved file (or run with ONITU_APPROVE_API=1).");
    }

    private static string Normalize(string api) => api.ReplaceLineEndings("\n").TrimEnd() + "\n";

    private static string FirstDifference(string approved, string actual)
    {
        var a = approved.Split('\n');
        var b = actual.Split('\n');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var left = i < a.Length ? a[i] : "<end>";
            var right = i < b.Length ? b[i] : "<end>";
            if (left != right)
                return $"line {i + 1}: approved '{left.Trim()}', now '{right.Trim()}'";
        }
        return "none (line endings only)";
    }

    // The approved files live beside this source file, so an approval is a reviewed change to the repository; a build
    // whose source paths are mapped (deterministic CI builds) reads the copies in the output folder instead.
    private static string ApprovalDirectory([CallerFilePath] string path = "")
    {
        var source = Path.GetDirectoryName(path);
        return source is not null && Directory.Exists(source) ? source : Path.Combine(AppContext.BaseDirectory, "PublicApi");
    }
}
