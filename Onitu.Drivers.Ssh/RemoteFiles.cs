using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>What the driver reads from SFTP attributes, and the small SFTP steps its handlers share.</summary>
internal static class RemoteFiles
{
    /// <summary>A file's revision: <c>{size}-{mtime in seconds}</c>.</summary>
    internal static string Revision(SftpAttributes attributes) =>
        string.Create(CultureInfo.InvariantCulture, $"{attributes.Size ?? 0}-{attributes.ModifiedTime ?? 0}");

    public static Metadata ToMetadata(string folder, string path, SftpAttributes attributes)
    {
        var metadata = new Metadata(folder, path);
        Apply(attributes, metadata);
        return metadata;
    }

    public static void Apply(SftpAttributes attributes, Metadata metadata)
    {
        metadata.Revision = Revision(attributes);
        metadata.Size = (long)(attributes.Size ?? 0);
        metadata.ModifiedAt = attributes.ModifiedAt;
    }

    // The engine's paths stay inside their folder: a name it refuses (a '..' segment sent by the server) is skipped.
    public static bool TryMetadata(string folder, string path, SftpAttributes? attributes, [NotNullWhen(true)] out Metadata? metadata, out string refusal)
    {
        try
        {
            metadata = attributes is null ? new Metadata(folder, path) : ToMetadata(folder, path, attributes);
            refusal = "";
            return true;
        }
        catch (ArgumentException e)
        {
            metadata = null;
            refusal = "not a valid path in a folder: " + e.Message;
            return false;
        }
    }

    /// <summary>The attributes of a regular file at <paramref name="path"/>; null when nothing (or no file) is there.</summary>
    public static async Task<SftpAttributes?> TryStatAsync(SftpClient client, string path, CancellationToken cancellationToken) =>
        await client.TryLStatAsync(path, cancellationToken).ConfigureAwait(false) is { IsRegularFile: true } attributes ? attributes : null;

    public static async Task MakeDirectoriesAsync(SftpClient client, string directory, CancellationToken cancellationToken)
    {
        try
        {
            if ((await client.StatAsync(directory, cancellationToken).ConfigureAwait(false)).IsDirectory) return;
            throw new ServiceException($"{directory} exists on the server and is not a directory.", isTransient: false);
        }
        catch (RemoteFileNotFoundException)
        {
        }
        if (directory != "/") await MakeDirectoriesAsync(client, RemoteLayout.Parent(directory), cancellationToken).ConfigureAwait(false);
        try
        {
            await client.MakeDirectoryAsync(directory, null, cancellationToken).ConfigureAwait(false);
        }
        catch (SftpStatusException e) when (e.Code == SftpStatusCode.Failure)
        {
            // Created meanwhile by a concurrent call.
        }
    }

    public static async Task TryRemoveAsync(SftpClient client, string path)
    {
        try
        {
            await client.RemoveAsync(path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ServiceException)
        {
            // Best effort: a leftover temporary file is hidden and reused.
        }
    }
}
