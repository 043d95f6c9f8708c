namespace Onitu.Rules;

/// <summary>
/// What Onitu may do with a folder on a service (the seed's folder option <c>mode</c>): read changes from it,
/// write changes to it, or both.
/// </summary>
[Flags]
public enum AccessMode
{
    /// <summary>Neither read from nor written to: the mapping is disabled (setup value <c>""</c>).</summary>
    None = 0,

    /// <summary>New files and changes in the folder are taken into account (setup value <c>r</c>).</summary>
    Read = 1,

    /// <summary>Changes from other services are written to the folder (setup value <c>w</c>).</summary>
    Write = 2,

    /// <summary>Synchronised both ways (setup value <c>rw</c>, the default).</summary>
    ReadWrite = Read | Write,
}

/// <summary>Converts <see cref="AccessMode"/> from and to the setup's spelling.</summary>
public static class AccessModes
{
    /// <summary>The mode of a folder nobody restricted: <see cref="AccessMode.ReadWrite"/>.</summary>
    public const AccessMode Default = AccessMode.ReadWrite;

    /// <summary>
    /// Parses a setup mode: <c>r</c>, <c>w</c>, <c>rw</c> or <c>wr</c> (case-insensitive, surrounding spaces
    /// ignored), or an empty string for <see cref="AccessMode.None"/>.
    /// </summary>
    public static bool TryParse(string? text, out AccessMode mode)
    {
        mode = AccessMode.None;
        if (text is null)
            return false;
        var span = text.AsSpan().Trim();
        if (span.Length > 2)
            return false;
        foreach (var c in span)
        {
            var flag = c switch
            {
                'r' or 'R' => AccessMode.Read,
                'w' or 'W' => AccessMode.Write,
                _ => AccessMode.None,
            };
            if (flag == AccessMode.None || (mode & flag) != 0) // unknown letter, or "rr"
            {
                mode = AccessMode.None;
                return false;
            }
            mode |= flag;
        }
        return true;
    }

    /// <summary>Parses a setup mode (see <see cref="TryParse"/>).</summary>
    /// <exception cref="FormatException">The text is not a mode; the message quotes it.</exception>
    public static AccessMode Parse(string text) =>
        TryParse(text, out var mode) ? mode : throw new FormatException($"'{text}' is not a mode: use 'r', 'w' or 'rw'.");

    /// <summary>Returns the setup spelling of <paramref name="mode"/>: <c>r</c>, <c>w</c>, <c>rw</c> or <c>""</c>.</summary>
    public static string ToSetupString(this AccessMode mode) => mode switch
    {
        AccessMode.Read => "r",
        AccessMode.Write => "w",
        AccessMode.ReadWrite => "rw",
        _ => string.Empty,
    };
}
