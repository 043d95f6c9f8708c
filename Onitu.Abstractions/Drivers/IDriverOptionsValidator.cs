namespace Onitu;

/// <summary>
/// Implemented by an <see cref="IDriverFactory"/> whose options need checks a manifest cannot express (a file that
/// must exist, quotes that must balance, two options that exclude each other, two folders mapped to one place). The
/// host calls it before anything starts, once the options passed the manifest's schema — <c>onitu validate</c> and
/// engine creation report its problems like the manifest's, naming the service and the option or folder mapping.
/// </summary>
/// <remarks>
/// Let <see cref="IDriverFactory.Create"/> refuse through the same code (throwing a <see cref="DriverException"/> with
/// these problems), so that what creation refuses is exactly what validation reports. When the manifest refused some
/// options of a service, the host still calls the check, with the refused options at their defaults (a mandatory one
/// absent), and reports only its problems with options the manifest accepted.
/// </remarks>
public interface IDriverOptionsValidator
{
    /// <summary>Checks a service's options; must not touch the store (no network).</summary>
    /// <param name="options">The options as the manifest accepted them, typed, defaults filled in (see the remarks of the interface).</param>
    /// <param name="baseDirectory">The directory relative paths in options are resolved against (see <see cref="IPlug.BaseDirectory"/>).</param>
    /// <returns>Every problem found; empty when the options are usable.</returns>
    IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory);

    /// <summary>
    /// Checks a service's options together with its folder mappings (what only both can tell: two folders that land
    /// in one place on the store); must not touch the store. The host calls this one; by default it checks the options
    /// only (<see cref="ValidateOptions(DriverOptions, string)"/>).
    /// </summary>
    /// <param name="options">The options as the manifest accepted them, typed, defaults filled in (see the remarks of the interface).</param>
    /// <param name="baseDirectory">The directory relative paths in options and mappings are resolved against (see <see cref="IPlug.BaseDirectory"/>).</param>
    /// <param name="folders">The folders mapped on the service, as <see cref="IPlug.Folders"/> will give them.</param>
    /// <returns>Every problem found; empty when the options and mappings are usable.</returns>
    IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory, IReadOnlyList<FolderMapping> folders) =>
        ValidateOptions(options, baseDirectory);
}

/// <summary>A problem with a service's options or folder mappings found by <see cref="IDriverOptionsValidator"/>.</summary>
/// <param name="Option">The option at fault, or <see langword="null"/> for the options as a whole or for a <see cref="Folder"/>.</param>
/// <param name="Message">
/// What is wrong, for a person, following the option's name: <c>names a file that does not exist: /home/me/key</c>
/// is shown as <c>option 'identity-file' names a file that does not exist: /home/me/key</c>. A problem with a
/// <see cref="Folder"/> (or with the options as a whole) is shown as written. Never include a secret.
/// </param>
public sealed record DriverOptionProblem(string? Option, string Message)
{
    /// <summary>
    /// The folder whose mapping on the service is at fault (such as a folder whose directory lies inside another's),
    /// or <see langword="null"/>; the host then reports the problem at that mapping's line and key.
    /// </summary>
    public string? Folder { get; init; }
}
