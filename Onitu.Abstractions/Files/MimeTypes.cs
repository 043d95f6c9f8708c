using System.Collections.Frozen;

namespace Onitu;

/// <summary>
/// Guesses a file's media type from its name, as the original <c>onitu.utils.get_mimetype</c> did with Python's
/// <c>mimetypes</c> table: by extension, case-insensitively, <c>application/octet-stream</c> when unknown
/// (RFC 2046 §4.5.1: arbitrary binary data). The guess never reads the file, so every service agrees on it.
/// </summary>
public static class MimeTypes
{
    /// <summary>The type of a file whose name says nothing of its content.</summary>
    public const string Default = "application/octet-stream";

    private static readonly FrozenDictionary<string, string> ByExtension = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        // text
        [".txt"] = "text/plain", [".text"] = "text/plain", [".log"] = "text/plain", [".conf"] = "text/plain",
        [".md"] = "text/markdown", [".markdown"] = "text/markdown", [".csv"] = "text/csv", [".tsv"] = "text/tab-separated-values",
        [".html"] = "text/html", [".htm"] = "text/html", [".css"] = "text/css", [".js"] = "text/javascript",
        [".mjs"] = "text/javascript", [".xml"] = "text/xml", [".ics"] = "text/calendar", [".vcf"] = "text/vcard",
        [".py"] = "text/x-python", [".c"] = "text/x-c", [".h"] = "text/x-c", [".cs"] = "text/x-csharp",
        [".java"] = "text/x-java", [".sh"] = "application/x-sh", [".rtf"] = "application/rtf",
        // images
        [".jpg"] = "image/jpeg", [".jpeg"] = "image/jpeg", [".jpe"] = "image/jpeg", [".png"] = "image/png",
        [".gif"] = "image/gif", [".bmp"] = "image/bmp", [".webp"] = "image/webp", [".svg"] = "image/svg+xml",
        [".tif"] = "image/tiff", [".tiff"] = "image/tiff", [".ico"] = "image/vnd.microsoft.icon", [".heic"] = "image/heic",
        [".avif"] = "image/avif", [".psd"] = "image/vnd.adobe.photoshop",
        // audio
        [".mp3"] = "audio/mpeg", [".ogg"] = "audio/ogg", [".oga"] = "audio/ogg", [".opus"] = "audio/opus",
        [".wav"] = "audio/x-wav", [".flac"] = "audio/flac", [".aac"] = "audio/aac", [".m4a"] = "audio/mp4",
        [".mid"] = "audio/midi", [".midi"] = "audio/midi", [".wma"] = "audio/x-ms-wma",
        // video
        [".mp4"] = "video/mp4", [".m4v"] = "video/mp4", [".mkv"] = "video/x-matroska", [".webm"] = "video/webm",
        [".avi"] = "video/x-msvideo", [".mov"] = "video/quicktime", [".mpeg"] = "video/mpeg", [".mpg"] = "video/mpeg",
        [".ogv"] = "video/ogg", [".wmv"] = "video/x-ms-wmv", [".flv"] = "video/x-flv",
        // documents
        [".pdf"] = "application/pdf", [".json"] = "application/json", [".yaml"] = "application/yaml",
        [".yml"] = "application/yaml", [".doc"] = "application/msword",
        [".docx"] = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        [".xls"] = "application/vnd.ms-excel",
        [".xlsx"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        [".ppt"] = "application/vnd.ms-powerpoint",
        [".pptx"] = "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        [".odt"] = "application/vnd.oasis.opendocument.text", [".ods"] = "application/vnd.oasis.opendocument.spreadsheet",
        [".odp"] = "application/vnd.oasis.opendocument.presentation", [".epub"] = "application/epub+zip",
        // archives and binaries
        [".zip"] = "application/zip", [".gz"] = "application/gzip", [".tgz"] = "application/gzip",
        [".tar"] = "application/x-tar", [".bz2"] = "application/x-bzip2", [".xz"] = "application/x-xz",
        [".7z"] = "application/x-7z-compressed", [".rar"] = "application/vnd.rar", [".zst"] = "application/zstd",
        [".iso"] = "application/x-iso9660-image", [".exe"] = "application/vnd.microsoft.portable-executable",
        [".dll"] = "application/vnd.microsoft.portable-executable", [".wasm"] = "application/wasm",
        [".bin"] = "application/octet-stream",
        // fonts
        [".ttf"] = "font/ttf", [".otf"] = "font/otf", [".woff"] = "font/woff", [".woff2"] = "font/woff2",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Returns the media type guessed from <paramref name="fileName"/>'s extension.</summary>
    /// <param name="fileName">A file name or a path; only the last extension counts.</param>
    public static string Guess(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        var name = FilePath.GetFileName(fileName.Replace('\\', '/'));
        var dot = name.LastIndexOf('.');
        if (dot <= 0) // no extension, or a dot file such as ".bashrc"
            return Default;
        return ByExtension.TryGetValue(name[dot..], out var type) ? type : Default;
    }
}
