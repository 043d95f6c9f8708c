namespace Onitu.Plugins;

/// <summary>A driver package cannot be installed, or an installed plugin cannot be loaded; the message says why.</summary>
public class PluginException : OnituException
{
    /// <summary>Creates the exception.</summary>
    public PluginException(string message, Exception? innerException = null) : base(message, innerException) { }
}
