using System.Collections.Concurrent;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>A chunked upload's temporary file, kept open between chunks on the session that opened it.</summary>
internal sealed record OpenUpload(SftpClient Client, SftpHandle Handle);

/// <summary>
/// The chunked uploads in progress, by temporary file: each keeps its handle open between chunks, and is opened again
/// (after a restart, or when the session that held it was lost) when a chunk finds none.
/// </summary>
internal sealed class UploadSessions(SshConnectionPool pool)
{
    private readonly ConcurrentDictionary<string, OpenUpload> _uploads = new(StringComparer.Ordinal);

    /// <summary>Keeps the handle a new upload opened.</summary>
    public void Add(string temp, SftpClient client, SftpHandle handle) => _uploads[temp] = new OpenUpload(client, handle);

    /// <summary>
    /// The open handle of a chunked upload: kept from an earlier chunk, or the temporary file opened again (after a
    /// restart, or when the session that held it was lost).
    /// </summary>
    /// <param name="temp">The partial file's path.</param>
    /// <param name="metadata">The file uploaded, for messages.</param>
    /// <param name="beforeOpening">Runs on the session before the file is opened again by path (it may refuse by throwing).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="UploadNotResumableException">The temporary file is gone.</exception>
    public async Task<OpenUpload> OpenAsync(string temp, Metadata metadata, Func<SftpClient, Task> beforeOpening, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(temp, out var upload))
        {
            if (upload.Client.IsOpen) return upload;
            _uploads.TryRemove(new KeyValuePair<string, OpenUpload>(temp, upload));
        }
        return await pool.RunAsync(async client =>
        {
            SftpHandle handle;
            await beforeOpening(client).ConfigureAwait(false);
            try
            {
                handle = await client.OpenAsync(temp, SftpOpenFlags.Write, null, cancellationToken).ConfigureAwait(false);
            }
            catch (RemoteFileNotFoundException e)
            {
                throw new UploadNotResumableException($"The partial upload of {metadata} is gone.", e);
            }
            var opened = new OpenUpload(client, handle);
            _uploads[temp] = opened;
            return opened;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets an upload that is being committed (its handle is the commit's to close).</summary>
    public void Remove(string temp, OpenUpload upload) => _uploads.TryRemove(new KeyValuePair<string, OpenUpload>(temp, upload));

    /// <summary>Closes an upload's handle, if it has one open.</summary>
    public async Task CloseAsync(string temp)
    {
        if (_uploads.TryRemove(temp, out var upload) && upload.Client.IsOpen)
            await upload.Client.CloseQuietlyAsync(upload.Handle).ConfigureAwait(false);
    }

    /// <summary>Closes every open upload (the partial files stay, so that the uploads can resume).</summary>
    public async Task CloseAllAsync()
    {
        foreach (var temp in _uploads.Keys) await CloseAsync(temp).ConfigureAwait(false);
    }
}
