using Onitu.Drivers.Ssh.Sftp;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// Where things are on the server: each folder's directory, a file's remote path, and the names of this service's
/// temporary files. Known once the first connection has resolved the root and read the writer id from the driver
/// state.
/// </summary>
/// <remarks>
/// Temporary files sit beside their targets, named by <see cref="TempNames"/>: <c>.onitu-{fid}.{writer}…</c>, where
/// the writer id is this service's own (kept in the driver state), so two Onitu instances syncing the same server
/// never share one. Whole-file uploads also carry this driver instance's id and a random part; a chunked upload's
/// <c>.part</c> name is stable so that it can be resumed after a restart.
/// </remarks>
internal sealed class RemoteLayout
{
    private const string WriterIdKey = "writer-id";

    private Dictionary<string, string>? _folders;

    /// <summary>This service's writer id (in the driver state, the same across restarts).</summary>
    public string WriterId { get; private set; } = "";

    /// <summary>This process's id: whole-file temporary names carrying another one are leftovers of an earlier run.</summary>
    public string InstanceId { get; } = TempNames.NewId();

    /// <summary>Reads (or creates) the writer id and maps each folder to its absolute directory on the server.</summary>
    public async Task InitializeAsync(IPlug plug, string optionsRoot, SftpClient client, CancellationToken cancellationToken)
    {
        var writerId = await plug.State.GetAsync(WriterIdKey, cancellationToken).ConfigureAwait(false);
        if (writerId is null)
        {
            writerId = TempNames.NewId();
            await plug.State.SetAsync(WriterIdKey, writerId, cancellationToken).ConfigureAwait(false);
        }
        WriterId = writerId;
        var root = optionsRoot.StartsWith('/') ? optionsRoot : Join(await client.RealPathAsync(".", cancellationToken).ConfigureAwait(false), optionsRoot);
        Volatile.Write(ref _folders, plug.Folders.ToDictionary(f => f.Name, f => Normalize(f.Path.StartsWith('/') ? f.Path : Join(root, f.Path)), StringComparer.Ordinal));
    }

    internal static string Join(string a, string b) => a.EndsWith('/') ? a + b : a + "/" + b;

    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == ".." && parts.Count > 0) parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }

    public static string Parent(string path) => path[..path.LastIndexOf('/')] is { Length: > 0 } p ? p : "/";

    /// <summary>The directory of a folder on the server.</summary>
    /// <exception cref="DriverException">The folder is not one of this service's.</exception>
    public string FolderDirectory(string folder) =>
        _folders!.TryGetValue(folder, out var directory) ? directory : throw new DriverException($"The folder '{folder}' is not mapped on this service.");

    /// <summary>A file's path on the server.</summary>
    public string PathOf(Metadata metadata) => Join(FolderDirectory(metadata.Folder), metadata.Path);

    /// <summary>A whole-file upload's temporary file: unique to the call.</summary>
    public string TempFor(string target, Metadata metadata) =>
        Join(Parent(target), TempNames.Whole(metadata.Fid, WriterId, InstanceId));

    /// <summary>A chunked upload's temporary file: the same across restarts, so that the upload can resume.</summary>
    public string PartFor(string target, Metadata metadata) =>
        Join(Parent(target), TempNames.Chunked(metadata.Fid, WriterId));

    /// <summary>
    /// Whether a temporary file is a leftover to remove: a whole-file upload of this service's earlier run (one never
    /// resumes), or any temporary file, of any writer, older than <paramref name="abandonedAge"/>. A chunked upload's
    /// may still resume until then.
    /// </summary>
    public bool IsLeftover(string name, DateTimeOffset? modifiedAt, DateTimeOffset now, TimeSpan abandonedAge)
    {
        if (!TempNames.IsTemporary(name)) return false;
        return TempNames.IsStaleWhole(name, WriterId, InstanceId) || (modifiedAt is { } modified && now - modified > abandonedAge);
    }
}
