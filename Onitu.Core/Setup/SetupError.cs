using System.Globalization;
using System.Text;

namespace Onitu.Setup;

/// <summary>One problem of a setup: where it is (file, line, key path) and what is wrong.</summary>
/// <param name="File">The setup file, or <see langword="null"/> for a setup given as text.</param>
/// <param name="Line">The 1-based line, or <see langword="null"/> when unknown.</param>
/// <param name="Key">The key path, such as <c>services.laptop.folders.music.min-size</c>, or <see langword="null"/>.</param>
/// <param name="Message">What is wrong and, where it helps, what was expected.</param>
public sealed record SetupError(string? File, int? Line, string? Key, string Message)
{
    /// <summary>Renders <c>file:line: key: message</c>, leaving out the parts that are missing.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        if (!string.IsNullOrEmpty(File))
            text.Append(File);
        if (Line is { } line)
            text.Append(text.Length > 0 ? ":" : "line ").Append(line.ToString(CultureInfo.InvariantCulture));
        if (text.Length > 0)
            text.Append(": ");
        if (!string.IsNullOrEmpty(Key))
            text.Append(Key).Append(": ");
        return text.Append(Message).ToString();
    }
}
