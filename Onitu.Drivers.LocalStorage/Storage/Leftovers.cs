using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Which temporary files can no longer be of use, and their removal at start (as the ssh driver does): a whole-file
/// upload is never resumed, so one of this service's dead driver instances goes at once, and anyone else's once it has
/// not been written to for a day (a write in progress keeps touching it); a chunked upload may resume after a restart,
/// so it is kept for a week unless its upload finishes or is aborted first.
/// </summary>
internal static class Leftovers
{
    /// <summary>How long an untouched chunked upload is kept for resumption.</summary>
    public static readonly TimeSpan AbandonedUploadAge = TimeSpan.FromDays(7);

    /// <summary>How long an untouched whole-file upload of another writer is left alone.</summary>
    public static readonly TimeSpan AbandonedWholeWriteAge = TimeSpan.FromDays(1);

    /// <summary>Whether the temporary file <paramref name="name"/>, last written at <paramref name="modifiedUtc"/>, is of no use.</summary>
    /// <param name="name">What its name says.</param>
    /// <param name="modifiedUtc">Its last write time.</param>
    /// <param name="writerId">This service's writer id, if it has one yet.</param>
    /// <param name="instanceId">This driver instance's id.</param>
    public static bool IsStale(TempName name, DateTime modifiedUtc, string? writerId, string instanceId)
    {
        var age = DateTime.UtcNow - modifiedUtc;
        if (!name.Whole)
            return age > AbandonedUploadAge;
        // Staged: "<fid>.<writer>.<instance>.whole.part"; beside a target: "<fid>.<instance>.whole.part".
        var (writer, instance) = name.SecondId is null ? (null, name.FirstId) : (name.FirstId, name.SecondId);
        if (instance == instanceId)
            return false;
        if (writer is not null && writer == writerId)
            return true; // an earlier instance of this service: one engine per state database, so a dead one
        return age > AbandonedWholeWriteAge;
    }

    /// <summary>Removes the stale files of a folder's staging directory; returns how many.</summary>
    public static int SweepStaging(StorageFolder folder, string? writerId, string instanceId, ILogger logger)
    {
        var staging = folder.StagingDirectory;
        if (!Paths.IsRealDirectory(staging))
            return 0;
        var removed = 0;
        foreach (var file in new DirectoryInfo(staging).EnumerateFiles())
        {
            if (TempFiles.Parse(file.Name) is not { } name || !IsStale(name, file.LastWriteTimeUtc, writerId, instanceId))
                continue;
            if (TryRemove(file.FullName, logger))
                removed++;
        }
        if (removed > 0)
            Log.LeftoversRemoved(logger, removed, folder.Name, staging);
        return removed;
    }

    /// <summary>Removes one stale temporary file; false (logged) when it cannot be removed.</summary>
    public static bool TryRemove(string fullPath, ILogger logger)
    {
        try
        {
            File.Delete(fullPath);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.LeftoverNotRemoved(logger, fullPath, e.Message);
            return false;
        }
    }
}
