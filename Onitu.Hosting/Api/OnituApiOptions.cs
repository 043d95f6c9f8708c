namespace Onitu.Hosting;

/// <summary>How the REST API guards itself.</summary>
public sealed class OnituApiOptions
{
    /// <summary>
    /// Whether every request needs the token, reads included. Set it when the server listens beyond loopback
    /// (<c>onitu run --api</c> does). Whatever this says, every <c>PUT</c> needs the token, and so does any request
    /// that does not come from a loopback address.
    /// </summary>
    public bool RequireTokenForReads { get; set; }

    /// <summary>
    /// The file holding the token; default: <c>&lt;state database&gt;.api-token</c> beside the engine's state database.
    /// It is created with a new random token (readable by its owner only) when missing.
    /// </summary>
    public string? TokenFile { get; set; }
}
