using Amazon;
using Amazon.Runtime;
using Amazon.S3;

namespace Onitu.Drivers.S3;

/// <summary>How a write that must not overwrite an unseen version is guarded (option <c>conditional-writes</c>).</summary>
internal enum ConditionalWrites
{
    /// <summary>If-None-Match / If-Match headers; check-then-write when the store answers NotImplemented.</summary>
    Auto,

    /// <summary>Always the headers: a store that refuses them fails the write.</summary>
    Headers,

    /// <summary>A HEAD just before the write (a window of one round trip remains).</summary>
    Check,
}

/// <summary>The options of an S3 service (see manifest.json), read once when the driver is created.</summary>
internal sealed record S3Options
{
    /// <summary>S3's smallest part (but the last).</summary>
    public const long MinPartSize = 5L * 1024 * 1024;

    /// <summary>S3's largest part, and the largest object one PUT or one CopyObject may write.</summary>
    public const long MaxPartSize = 5L * 1024 * 1024 * 1024;

    public required string Bucket { get; init; }

    /// <summary>The key prefix, empty or ending with '/'.</summary>
    public required string Prefix { get; init; }

    public string? Endpoint { get; init; }

    public string? Region { get; init; }

    public bool PathStyle { get; init; }

    public string? AccessKey { get; init; }

    public string? SecretKey { get; init; }

    public string? SessionToken { get; init; }

    public long PartSize { get; init; } = 16L * 1024 * 1024;

    public int Concurrency { get; init; } = 16;

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    public string? StorageClass { get; init; }

    public ConditionalWrites ConditionalWrites { get; init; } = ConditionalWrites.Auto;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public int MaxRetries { get; init; } = 5;

    /// <summary>
    /// Whether requests go over TLS (Amazon S3, or an https endpoint): the payload is then not hashed for the signature
    /// (TLS protects it), which saves a SHA-256 pass over every byte sent.
    /// </summary>
    public bool IsHttps => Endpoint is null || Endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Where the bucket is, for messages: the bucket name and the endpoint or AWS region, never a secret.</summary>
    public string Describe() => $"bucket '{Bucket}' at {Endpoint ?? "Amazon S3" + (Region is null ? "" : " (" + Region + ")")}";

    /// <summary>Reads the options.</summary>
    /// <exception cref="DriverException">An option is unusable (every problem in the message).</exception>
    public static S3Options From(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = Check(options).Select(p => p.Option is null ? p.Message : $"The option '{p.Option}' {p.Message}").ToList();
        if (problems.Count > 0) throw new DriverException(string.Join(" ", problems.Select(p => p.EndsWith('.') ? p : p + ".")));
        var endpoint = options.GetString("endpoint");
        var prefix = options.GetString("prefix") ?? "";
        return new S3Options
        {
            Bucket = options.GetRequiredString("bucket"),
            Prefix = prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/",
            Endpoint = endpoint,
            Region = options.GetString("region"),
            PathStyle = options.TryGetValue("path-style", out var style) && style is not null ? options.GetBoolean("path-style") : endpoint is not null,
            AccessKey = options.GetString("access-key"),
            SecretKey = options.GetString("secret-key"),
            SessionToken = options.GetString("session-token"),
            PartSize = options.GetInt64("part-size", 16L * 1024 * 1024),
            Concurrency = (int)options.GetInt64("concurrency", 16),
            PollInterval = TimeSpan.FromMilliseconds(options.GetInt64("poll-interval-ms", 10_000)),
            StorageClass = options.GetString("storage-class"),
            ConditionalWrites = options.GetString("conditional-writes") switch
            {
                "headers" => ConditionalWrites.Headers,
                "check" => ConditionalWrites.Check,
                _ => ConditionalWrites.Auto,
            },
            Timeout = TimeSpan.FromSeconds(options.GetInt64("timeout-s", 300)),
            MaxRetries = (int)options.GetInt64("max-retries", 5),
        };
    }

    /// <summary>
    /// Every problem of the options a manifest cannot express: credentials given by halves, an archive storage class,
    /// and the ranges it declares (for a caller that bypassed its validation). Never names a secret's value.
    /// </summary>
    public static IEnumerable<DriverOptionProblem> Check(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.GetString("bucket")))
            yield return new DriverOptionProblem("bucket", "is required");
        foreach (var (key, low, high, fallback) in new (string, long, long, long)[]
        {
            ("part-size", MinPartSize, MaxPartSize, 16L * 1024 * 1024), ("concurrency", 1, 256, 16),
            ("poll-interval-ms", 10, 86_400_000, 10_000), ("timeout-s", 5, 86_400, 300), ("max-retries", 0, 20, 5),
        })
        {
            var value = options.GetInt64(key, fallback);
            if (value < low || value > high) yield return new DriverOptionProblem(key, $"must be between {low} and {high}, got {value}");
        }
        var access = options.GetString("access-key");
        var secret = options.GetString("secret-key");
        if ((access is null) != (secret is null))
            yield return new DriverOptionProblem(access is null ? "access-key" : "secret-key",
                "must be given together with '" + (access is null ? "secret-key" : "access-key") + "' (or neither, for the SDK's credential chain)");
        if (options.GetString("session-token") is not null && access is null)
            yield return new DriverOptionProblem("session-token", "needs 'access-key' and 'secret-key'");
        if (options.GetString("storage-class") is { } storageClass && storageClass is "GLACIER" or "DEEP_ARCHIVE")
            yield return new DriverOptionProblem("storage-class", $"is an archive class ({storageClass}): its objects cannot be read back without a restore, so Onitu could not sync them");
        if (options.GetString("endpoint") is { } endpoint && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
            yield return new DriverOptionProblem("endpoint", $"is not a URL: {endpoint}");
    }

    /// <summary>The SDK client these options describe.</summary>
    public AmazonS3Client CreateClient()
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = PathStyle,
            // Stores other than AWS (radosgw among them) reject the SDK's default aws-chunked CRC32 trailers
            // (XAmzContentSHA256Mismatch); a checksum only where the API requires one works everywhere.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = Timeout,
            MaxErrorRetry = MaxRetries,
            RetryMode = RequestRetryMode.Standard,
            MaxConnectionsPerServer = Concurrency,
        };
        if (Endpoint is not null)
        {
            config.ServiceURL = Endpoint;
            config.AuthenticationRegion = Region ?? "us-east-1";
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Region ?? FallbackRegion());
        }
        if (AccessKey is not null && SecretKey is not null)
        {
            AWSCredentials credentials = SessionToken is null
                ? new BasicAWSCredentials(AccessKey, SecretKey)
                : new SessionAWSCredentials(AccessKey, SecretKey, SessionToken);
            return new AmazonS3Client(credentials, config);
        }
        return new AmazonS3Client(config);
    }

    private static string FallbackRegion() =>
        Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
}
