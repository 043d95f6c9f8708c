namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>The packet types of SFTP v3 (draft-ietf-secsh-filexfer-02, section 3).</summary>
internal enum SftpPacketType : byte
{
    Init = 1,
    Version = 2,
    Open = 3,
    Close = 4,
    Read = 5,
    Write = 6,
    LStat = 7,
    FStat = 8,
    SetStat = 9,
    FSetStat = 10,
    OpenDir = 11,
    ReadDir = 12,
    Remove = 13,
    MkDir = 14,
    RmDir = 15,
    RealPath = 16,
    Stat = 17,
    Rename = 18,
    ReadLink = 19,
    Symlink = 20,
    Status = 101,
    Handle = 102,
    Data = 103,
    Name = 104,
    Attrs = 105,
    Extended = 200,
    ExtendedReply = 201,
}

/// <summary>The status codes of an SSH_FXP_STATUS reply (draft-ietf-secsh-filexfer-02, section 7).</summary>
public enum SftpStatusCode : uint
{
    /// <summary>SSH_FX_OK.</summary>
    Ok = 0,

    /// <summary>SSH_FX_EOF: end of file, or no more directory entries.</summary>
    Eof = 1,

    /// <summary>SSH_FX_NO_SUCH_FILE.</summary>
    NoSuchFile = 2,

    /// <summary>SSH_FX_PERMISSION_DENIED.</summary>
    PermissionDenied = 3,

    /// <summary>SSH_FX_FAILURE: any other error (an existing directory, a non-empty one, a full disk...).</summary>
    Failure = 4,

    /// <summary>SSH_FX_BAD_MESSAGE.</summary>
    BadMessage = 5,

    /// <summary>SSH_FX_NO_CONNECTION.</summary>
    NoConnection = 6,

    /// <summary>SSH_FX_CONNECTION_LOST.</summary>
    ConnectionLost = 7,

    /// <summary>SSH_FX_OP_UNSUPPORTED.</summary>
    OpUnsupported = 8,
}

/// <summary>The pflags of SSH_FXP_OPEN.</summary>
[Flags]
public enum SftpOpenFlags : uint
{
    /// <summary>SSH_FXF_READ.</summary>
    Read = 0x01,

    /// <summary>SSH_FXF_WRITE.</summary>
    Write = 0x02,

    /// <summary>SSH_FXF_APPEND.</summary>
    Append = 0x04,

    /// <summary>SSH_FXF_CREAT.</summary>
    Create = 0x08,

    /// <summary>SSH_FXF_TRUNC.</summary>
    Truncate = 0x10,

    /// <summary>SSH_FXF_EXCL.</summary>
    Exclusive = 0x20,
}

/// <summary>The names of the OpenSSH extensions this client uses (OpenSSH's PROTOCOL file, section 4).</summary>
public static class SftpExtensions
{
    /// <summary>A rename that replaces an existing target atomically (rename(2)).</summary>
    public const string PosixRename = "posix-rename@openssh.com";

    /// <summary>The server's packet, read, write and open-handle limits.</summary>
    public const string Limits = "limits@openssh.com";

    /// <summary>fsync(2) on an open handle.</summary>
    public const string Fsync = "fsync@openssh.com";
}
