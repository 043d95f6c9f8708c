namespace Onitu;

/// <summary>
/// Implemented by an <see cref="IDriverFactory"/> whose options need checks a manifest cannot express (a file that
/// must exist, quotes that must balance, two options that exclude each other). The host calls it after the options
/// passed the manifest's schema and before anything starts — <c>onitu validate</c> and engine creation report its
/// problems like the manifest's, naming the service and the option.
/// </summary>
public interface IDriverOptionsValidator
{
    /// <summary>Checks a service's options; must not touch the store (no network).</summary>
    /// <param name="options">The options, valid against the manifest, defaults filled in.</param>
    /// <param name="baseDirectory">The directory relative paths in options are resolved against (see <see cref="IPlug.BaseDirectory"/>).</param>
    /// <returns>Every problem found; empty when the options are usable.</returns>
    IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory);
}

/// <summary>A problem with a service's options found by <see cref="IDriverOptionsValidator"/>.</summary>
/// <param name="Option">The option at fault, or <see langword="null"/> for the options as a whole.</param>
/// <param name="Message">
/// What is wrong, for a person, following the option's name: <c>names a file that does not exist: /home/me/key</c>
/// is shown as <c>option 'identity-file' names a file that does not exist: /home/me/key</c>. Never include a secret.
/// </param>
public sealed record DriverOptionProblem(string? Option, string Message);
