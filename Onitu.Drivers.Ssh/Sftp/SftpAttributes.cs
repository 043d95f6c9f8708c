namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>The ATTRS of SFTP v3 (draft-ietf-secsh-filexfer-02, section 5): every field is optional.</summary>
public sealed record SftpAttributes
{
    internal const uint SizeFlag = 0x01;
    internal const uint UidGidFlag = 0x02;
    internal const uint PermissionsFlag = 0x04;
    internal const uint TimesFlag = 0x08;
    internal const uint ExtendedFlag = 0x80000000;

    /// <summary>An empty set of attributes (nothing to change, or nothing known).</summary>
    public static SftpAttributes Empty { get; } = new();

    /// <summary>The size in bytes.</summary>
    public ulong? Size { get; init; }

    /// <summary>The owner's user id.</summary>
    public uint? Uid { get; init; }

    /// <summary>The owner's group id.</summary>
    public uint? Gid { get; init; }

    /// <summary>The mode bits, file type included (as in st_mode).</summary>
    public uint? Permissions { get; init; }

    /// <summary>The access time, in seconds since the Unix epoch.</summary>
    public uint? AccessTime { get; init; }

    /// <summary>The modification time, in seconds since the Unix epoch.</summary>
    public uint? ModifiedTime { get; init; }

    /// <summary>Extended attributes, by type.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Extended { get; init; } = [];

    /// <summary>Whether the mode says directory.</summary>
    public bool IsDirectory => (Permissions & 0xF000) == 0x4000;

    /// <summary>Whether the mode says regular file.</summary>
    public bool IsRegularFile => (Permissions & 0xF000) == 0x8000;

    /// <summary>Whether the mode says symbolic link.</summary>
    public bool IsSymbolicLink => (Permissions & 0xF000) == 0xA000;

    /// <summary>The modification time as a date, if known.</summary>
    public DateTimeOffset? ModifiedAt => ModifiedTime is { } t ? DateTimeOffset.FromUnixTimeSeconds(t) : null;

    internal void WriteTo(SftpPacketBuilder packet)
    {
        uint flags = 0;
        if (Size is not null) flags |= SizeFlag;
        if (Uid is not null && Gid is not null) flags |= UidGidFlag;
        if (Permissions is not null) flags |= PermissionsFlag;
        if (AccessTime is not null && ModifiedTime is not null) flags |= TimesFlag;
        if (Extended.Count > 0) flags |= ExtendedFlag;
        packet.WriteUInt32(flags);
        if (Size is { } size) packet.WriteUInt64(size);
        if ((flags & UidGidFlag) != 0) { packet.WriteUInt32(Uid!.Value); packet.WriteUInt32(Gid!.Value); }
        if (Permissions is { } permissions) packet.WriteUInt32(permissions);
        if ((flags & TimesFlag) != 0) { packet.WriteUInt32(AccessTime!.Value); packet.WriteUInt32(ModifiedTime!.Value); }
        if (Extended.Count > 0)
        {
            packet.WriteUInt32((uint)Extended.Count);
            foreach (var (type, data) in Extended) { packet.WriteString(type); packet.WriteString(data); }
        }
    }

    internal static SftpAttributes ReadFrom(ref SftpPacketReader reader)
    {
        var flags = reader.ReadUInt32();
        ulong? size = (flags & SizeFlag) != 0 ? reader.ReadUInt64() : null;
        uint? uid = null, gid = null, permissions = null, atime = null, mtime = null;
        if ((flags & UidGidFlag) != 0) { uid = reader.ReadUInt32(); gid = reader.ReadUInt32(); }
        if ((flags & PermissionsFlag) != 0) permissions = reader.ReadUInt32();
        if ((flags & TimesFlag) != 0) { atime = reader.ReadUInt32(); mtime = reader.ReadUInt32(); }
        var extended = new List<KeyValuePair<string, string>>();
        if ((flags & ExtendedFlag) != 0)
        {
            var count = reader.ReadUInt32();
            for (var i = 0; i < count; i++) extended.Add(new(reader.ReadString(), reader.ReadString()));
        }
        return new SftpAttributes
        {
            Size = size, Uid = uid, Gid = gid, Permissions = permissions,
            AccessTime = atime, ModifiedTime = mtime, Extended = extended,
        };
    }
}

/// <summary>One entry of a directory listing (SSH_FXP_NAME).</summary>
/// <param name="FileName">The entry's name (no directory part).</param>
/// <param name="LongName">The server's <c>ls -l</c>-style line; informational only.</param>
/// <param name="Attributes">The entry's attributes (of the link itself, as lstat).</param>
public sealed record SftpDirectoryEntry(string FileName, string LongName, SftpAttributes Attributes);

/// <summary>The server's limits (limits@openssh.com); 0 means unknown or unlimited.</summary>
/// <param name="MaxPacketLength">The largest packet the server accepts.</param>
/// <param name="MaxReadLength">The largest READ the server answers in full.</param>
/// <param name="MaxWriteLength">The largest WRITE the server accepts.</param>
/// <param name="MaxOpenHandles">How many handles may be open at once.</param>
public sealed record SftpLimits(ulong MaxPacketLength, ulong MaxReadLength, ulong MaxWriteLength, ulong MaxOpenHandles);
