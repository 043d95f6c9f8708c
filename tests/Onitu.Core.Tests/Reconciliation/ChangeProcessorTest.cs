using Onitu.Core.Tests.State;
using Onitu.Rules;
using Onitu.Setup;
using Onitu.Sync;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>
/// A test of the <see cref="ChangeProcessor"/> on a state database of its own: one folder, <c>docs</c>, on every
/// service, with no rule.
/// </summary>
public abstract class ChangeProcessorTest : StateDatabaseTest
{
    /// <summary>The processor of a setup whose services are <paramref name="services"/>, each holding <c>docs</c>.</summary>
    internal static ChangeProcessor ProcessorFor(params string[] services) =>
        ProcessorFor([.. services.Select(s => (s, "."))]);

    /// <summary>
    /// The processor of a setup whose services map <c>docs</c> as given (a setup's mapping: <c>.</c>, or
    /// <c>{ path: ., mode: r }</c>).
    /// </summary>
    internal static ChangeProcessor ProcessorFor(params (string Service, string Mapping)[] services)
    {
        var setup = "name: test\nfolders:\n  docs: {}\nservices:\n" +
                    string.Concat(services.Select(s => $"  {s.Service}: {{ driver: d, folders: {{ docs: {s.Mapping} }} }}\n"));
        return new ChangeProcessor(new Referee(SetupLoader.Parse(setup)), TimeProvider.System);
    }
}
