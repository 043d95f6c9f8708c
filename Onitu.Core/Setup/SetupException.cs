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

    private static string FormatMessage(IReadOnlyList<SetupError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 0 ? "The setup is not valid." : string.Join(Environment.NewLine, errors);
    }
}
