namespace Onitu.Setup;

/// <summary>
/// A setup cannot be used: it is missing, is not YAML/JSON, or has wrong keys or values. <see cref="Errors"/> holds
/// every problem found; the message lists them, one per line.
/// </summary>
public sealed class SetupException : OnituException
{
    /// <summary>Creates the exception from the problems found.</summary>
    public SetupException(IReadOnlyList<SetupError> errors, Exception? innerException = null)
        : base(FormatMessage(errors), innerException) => Errors = errors;

    /// <summary>Every problem found, in the order of the file.</summary>
    public IReadOnlyList<SetupError> Errors { get; }

    /// <summary>
    /// What the loader could still read of a setup with problems: the services whose driver it could read, for
    /// <c>SetupValidator</c> to check their options against the drivers in the same pass. Null when the exception
    /// did not come from reading a setup's text (a missing file), or the text was not a setup at all.
    /// </summary>
    internal PartialSetup? Partial { get; init; }

    private static string FormatMessage(IReadOnlyList<SetupError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 0 ? "The setup is not valid." : string.Join(Environment.NewLine, errors);
    }
}

/// <summary>What <see cref="SetupReader"/> could read of a setup with problems (see <see cref="SetupException.Partial"/>).</summary>
/// <param name="SourceFile">The setup file, or null.</param>
/// <param name="BaseDirectory">The directory relative paths are resolved against, as <see cref="OnituSetup.BaseDirectory"/>.</param>
/// <param name="Services">The services whose driver could be read, in file order, with the folder mappings that could be read.</param>
internal sealed record PartialSetup(string? SourceFile, string BaseDirectory, IReadOnlyList<ServiceSetup> Services);
