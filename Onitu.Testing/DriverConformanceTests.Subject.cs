using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Onitu.Options;

namespace Onitu.Testing;

// The driver under test, called directly: the probe instance and its plug, and putting, reading and deleting files with it.
public abstract partial class DriverConformanceTests
{
    /// <summary>
    /// A new plug for a direct instance of the driver under test, with the area's options validated against its
    /// manifest and the test's shared state store (so a second instance sees what the first stored).
    /// </summary>
    protected ConformancePlug CreateSubjectPlug()
    {
        var result = new OptionsValidator().Validate(SubjectService, Factory.Manifest, Area.Options);
        if (!result.IsValid)
            Assert.Fail($"The area's options are not valid for the driver's manifest:\n  {string.Join("\n  ", result.Errors)}");
        _loggers ??= LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(new TestContextLoggerProvider()));
        return new ConformancePlug(SubjectService, [new FolderMapping(FolderName, Area.FolderPath)], result.Options!, Scratch, _state,
            _loggers.CreateLogger($"Onitu.Testing.{Factory.Manifest.Id}"));
    }

    /// <summary>A new direct instance of the driver under test, disposed after the test.</summary>
    /// <param name="plug">Its plug (see <see cref="CreateSubjectPlug"/>).</param>
    protected IDriver CreateSubjectDriver(ConformancePlug plug)
    {
        var driver = Factory.Create(plug);
        _drivers.Add(driver);
        return driver;
    }

    /// <summary>The direct instance the helpers below use to put, read and delete files on the driver under test.</summary>
    protected IDriver Probe
    {
        get
        {
            if (_probe is null)
            {
                _probePlug = CreateSubjectPlug();
                _probe = CreateSubjectDriver(_probePlug);
            }
            return _probe;
        }
    }

    /// <summary>The plug of <see cref="Probe"/>.</summary>
    protected ConformancePlug ProbePlug
    {
        get
        {
            _ = Probe;
            return _probePlug!;
        }
    }

    /// <summary>
    /// UploadFile reads its content with <c>ReadAsync</c>/<c>CopyToAsync</c> only: the engine hands it streams read
    /// over the network (SFTP) or through the bandwidth limit, which have no synchronous read.
    /// </summary>
    [Test]
    public virtual async Task An_upload_reads_its_content_asynchronously()
    {
        // A small file and a larger one: drivers often copy small files another way.
        foreach (var (path, size) in new[] { ("async/small.bin", 10_007), ("async/large.bin", 300 * 1024 + 7) })
        {
            var content = Content(size, 1150 + size % 7);
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);
            Assert.That(await ReadFromSubjectAsync(path).ConfigureAwait(false), Is.EqualTo(content), $"'{path}' on the driver under test");
        }
    }

    /// <summary>Writes a file on the driver under test through its UploadFile handler.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The content.</param>
    protected async Task PutOnSubjectAsync(string path, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        for (var attempt = 0; ; attempt++)
        {
            var metadata = ProbePlug.Known(FolderName, path);
            metadata.Size = content.Length;
            metadata.ModifiedAt = DateTimeOffset.UtcNow;
            using var stream = new AsyncOnlyContent(content);
            try
            {
                await Probe.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
                if (stream.ReadSynchronously)
                    Assert.Fail(AsyncOnlyContent.Fault(path));
                ProbePlug.Remember(metadata);
                return;
            }
            catch (NotSupportedException) when (stream.ReadSynchronously)
            {
                Assert.Fail(AsyncOnlyContent.Fault(path));
            }
            catch (ContentChangedException) when (attempt < 3)
            {
                // The file changed since the probe knew it (the engine wrote it); the driver reported it: try again.
                await Probe.ScanAsync(Cancellation).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes a file on the driver under test through its DeleteFile handler.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task DeleteOnSubjectAsync(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            var metadata = ProbePlug.Known(FolderName, path);
            try
            {
                await Probe.DeleteFileAsync(metadata, Cancellation).ConfigureAwait(false);
                ProbePlug.Forget(metadata);
                return;
            }
            catch (ContentChangedException) when (attempt < 3)
            {
                await Probe.ScanAsync(Cancellation).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads a whole file from the driver under test (OpenRead), or null when it throws <see cref="RemoteFileNotFoundException"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task<byte[]?> ReadFromSubjectAsync(string path)
    {
        try
        {
            var stream = await Probe.OpenReadAsync(new Metadata(FolderName, path), Cancellation).ConfigureAwait(false);
            await using var disposeStream = stream.ConfigureAwait(false);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
            return copy.ToArray();
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
    }
}
