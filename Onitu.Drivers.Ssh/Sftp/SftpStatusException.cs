namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>The SFTP server answered a request with an error status other than "no such file".</summary>
public class SftpStatusException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    public SftpStatusException(SftpStatusCode code, string message, bool isTransient, Exception? innerException = null)
        : base(message, isTransient, innerException) => Code = code;

    /// <summary>The status code the server sent.</summary>
    public SftpStatusCode Code { get; }
}
