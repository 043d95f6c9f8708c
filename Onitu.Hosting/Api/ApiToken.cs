using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Onitu.Hosting;

/// <summary>
/// The REST API's bearer token: read from its file, or generated (256 random bits) and written there, readable by
/// its owner only, when the application starts and the file is missing. Clients send it as
/// <c>Authorization: Bearer &lt;token&gt;</c>.
/// </summary>
public sealed class OnituApiToken
{
    private readonly byte[] _bytes;

    /// <summary>Loads the token of the engine's state database, creating it when missing.</summary>
    public OnituApiToken(SyncEngine engine, IOptions<OnituApiOptions> options)
        : this(options?.Value.TokenFile ?? DefaultFile(engine ?? throw new ArgumentNullException(nameof(engine))))
    {
    }

    /// <summary>Loads the token stored in <paramref name="file"/>, creating it when missing.</summary>
    public OnituApiToken(string file)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        File = Path.GetFullPath(file);
        Value = LoadOrCreate(File);
        _bytes = Encoding.UTF8.GetBytes(Value);
    }

    /// <summary>The token file.</summary>
    public string File { get; }

    /// <summary>The token.</summary>
    public string Value { get; }

    /// <summary>The token file of a state database: <c>&lt;database&gt;.api-token</c> beside it.</summary>
    public static string DefaultFile(SyncEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return engine.DatabasePath + ".api-token";
    }

    /// <summary>Compares <paramref name="candidate"/> with the token in constant time.</summary>
    public bool Matches(string? candidate) =>
        candidate is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _bytes);

    private static string LoadOrCreate(string file)
    {
        if (System.IO.File.Exists(file))
        {
            var existing = System.IO.File.ReadAllText(file).Trim();
            if (existing.Length >= 16)
                return existing;
        }
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        // Written to a temporary file created owner-only, then renamed: the token is never readable by others, and a
        // crash never leaves a half-written file.
        var temporary = file + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        var streamOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            streamOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, streamOptions))
        using (var writer = new StreamWriter(stream))
            writer.WriteLine(token);
        try
        {
            // Another process may have created it meanwhile: theirs wins.
            System.IO.File.Move(temporary, file, overwrite: false);
        }
        catch (IOException) when (System.IO.File.Exists(file))
        {
            System.IO.File.Delete(temporary);
            return System.IO.File.ReadAllText(file).Trim();
        }
        return token;
    }
}

/// <summary>
/// Loads the token when the application starts, creating its file if missing: an operator finds it as soon as the
/// application runs (<c>onitu run --api</c> prints it then), not only after a first request needed it.
/// </summary>
internal sealed class ApiTokenAtStart(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<OnituApiToken>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
