namespace Onitu.Core.Tests;

public class FileIdTests
{
    // Expected values computed by CPython: uuid.uuid5(uuid.UUID('bcd336f2-…'), 'folder:path').
    [TestCase("docs", "toto", "4839a75f-aaaa-5fc6-b1a5-43cd8f380260")]
    [TestCase("photos", "été/ñ.jpg", "63f705f3-631d-5f57-b6b9-7c25d3a0f75f")]
    public void Fid_is_the_uuid5_of_folder_colon_path_like_the_original(string folder, string path, string expected) =>
        Assert.That(FileId.Compute(folder, path), Is.EqualTo(new Guid(expected)));

    [Test]
    public void Same_path_in_two_folders_is_two_files() =>
        Assert.That(FileId.Compute("a", "x.txt"), Is.Not.EqualTo(FileId.Compute("b", "x.txt")));

    [Test]
    public void Metadata_normalizes_its_path_before_computing_the_fid() =>
        Assert.That(new Metadata("docs", "/sub\\dir//toto").Fid, Is.EqualTo(new Metadata("docs", "sub/dir/toto").Fid));

    [TestCase("../escape")]
    [TestCase("a/../../b")]
    [TestCase("./")]
    [TestCase("")]
    [TestCase(".")]
    [TestCase("a/..")]
    [TestCase("a/./b")]
    [TestCase("a\0b")]
    public void Paths_escaping_their_folder_are_refused(string path) =>
        Assert.That(() => FilePath.Normalize(path), Throws.ArgumentException);

    [TestCase("a//b", "a/b")]
    [TestCase("/a", "a")]
    [TestCase("a/", "a")]
    [TestCase("a\\b", "a/b")]
    [TestCase("..a/.b/c..", "..a/.b/c..")]
    [TestCase(".hidden", ".hidden")]
    public void Paths_are_normalized_unless_already_normal(string path, string expected)
    {
        var normalized = FilePath.Normalize(path);
        Assert.That(normalized, Is.EqualTo(expected));
        Assert.That(ReferenceEquals(normalized, path), Is.EqualTo(path == expected), "a normal path is returned as it is");
    }

    [TestCase("song.MP3", "audio/mpeg")]
    [TestCase("dir/photo.jpeg", "image/jpeg")]
    [TestCase("README", "application/octet-stream")]
    [TestCase(".bashrc", "application/octet-stream")]
    [TestCase("archive.tar.gz", "application/gzip")]
    [TestCase("notes.txt", "text/plain")]
    public void Mime_type_is_guessed_from_the_extension(string name, string expected) =>
        Assert.That(MimeTypes.Guess(name), Is.EqualTo(expected));
}
