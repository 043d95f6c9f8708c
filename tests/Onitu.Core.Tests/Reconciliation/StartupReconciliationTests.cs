using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Onitu.Core.Tests.Engine;
using Onitu.Setup;
using Onitu.Sync;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>
/// A setup that changes between runs (a service added, a rule relaxed) gets the files the engine already knows; a
/// write-only mirror's own edits and deletions are undone; conflict copies never nest.
/// </summary>
public class StartupReconciliationTests
{
    [Test]
    public async Task A_service_added_to_the_setup_receives_every_known_file()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        for (var i = 0; i < 12; i++)
            h.Write(i % 2 == 0 ? "A" : "B", $"docs/f{i}.txt", $"file {i}");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        File.WriteAllText(h.SetupFile, SyncHarness.ThreeLocalServices);
        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(report.FilesSynced, Is.EqualTo(12), "the new service's copies are counted");
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(h.Tree("A", "docs")));
        Assert.That(h.Tree("C", "docs"), Has.Count.EqualTo(12));
    }

    [Test]
    public async Task A_pattern_removed_from_a_blacklist_sends_the_files_it_held_back()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(extraServiceB: "blacklist: ['*.log']"));
        h.Write("A", "docs/keep.txt", "kept");
        h.Write("A", "docs/run.log", "held back");
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Exists("B", "docs/run.log"), Is.False);
        await h.RestartAsync();

        File.WriteAllText(h.SetupFile, SyncHarness.TwoLocalServices());
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("B", "docs/run.log"), Is.EqualTo("held back"));
    }

    [Test]
    public async Task An_unchanged_setup_schedules_nothing_at_start()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/a.txt", "a");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        var report = await h.SyncAsync();

        Assert.That(report.FilesSynced, Is.Zero);
        Assert.That(report.Succeeded, Is.True);
    }

    [Test]
    public async Task A_setup_fingerprinted_by_an_earlier_version_is_recognised_and_a_different_one_is_not()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/a.txt", "a");
        await h.SyncExpectingSuccessAsync();
        var database = h.Engine.DatabasePath;
        await h.RestartAsync();

        // An earlier version's fingerprint (SHA-256) of the three-service setup: as if that setup had run already,
        // so the third service is not reconciled (and stays without the file the engine knows).
        File.WriteAllText(h.SetupFile, SyncHarness.ThreeLocalServices);
        StoreFingerprint(database, LegacyFingerprint(h.SetupFile));
        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(h.Exists("C", "docs/a.txt"), Is.False, "the same setup: nothing reconciled");
        Assert.That(StoredFingerprint(database), Is.EqualTo(Reconciler.Fingerprint(SetupLoader.LoadFile(h.SetupFile))), "kept in the new form");
        await h.RestartAsync();

        // An earlier version's fingerprint of another setup: reconciled, the third service gets the file.
        StoreFingerprint(database, LegacyFingerprint(h.SetupFile) + "0");
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("C", "docs/a.txt"), Is.EqualTo("a"));
    }

    private static string LegacyFingerprint(string setupFile) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Reconciler.FingerprintText(SetupLoader.LoadFile(setupFile)))));

    private static void StoreFingerprint(string database, string value)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE meta SET value = $v WHERE key = 'setup-fingerprint'";
        command.Parameters.AddWithValue("$v", value);
        Assert.That(command.ExecuteNonQuery(), Is.EqualTo(1));
    }

    private static string StoredFingerprint(string database)
    {
        using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = 'setup-fingerprint'";
        return (string)command.ExecuteScalar()!;
    }

    [Test]
    public async Task A_write_only_mirror_gets_its_own_edits_and_deletions_undone()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(extraServiceB: "mode: w"));
        h.Write("A", "docs/edited.txt", "the original");
        h.Write("A", "docs/deleted.txt", "still wanted");
        await h.SyncExpectingSuccessAsync();

        h.Write("B", "docs/edited.txt", "an edit on the mirror", DateTime.UtcNow.AddSeconds(5));
        File.Delete(h.PathOf("B", "docs/deleted.txt"));
        h.Write("B", "docs/mirror-only.txt", "only here");
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("B", "docs/edited.txt"), Is.EqualTo("the original"), "the mirror's edit is overwritten");
        Assert.That(h.Read("B", "docs/deleted.txt"), Is.EqualTo("still wanted"), "the mirror's deletion is undone");
        Assert.That(h.Read("A", "docs/edited.txt"), Is.EqualTo("the original"), "nothing is read from the mirror");
        Assert.That(h.Exists("A", "docs/mirror-only.txt"), Is.False);
        Assert.That(h.Read("B", "docs/mirror-only.txt"), Is.EqualTo("only here"), "a file only on the mirror is left alone");
    }

    [TestCase("p3.conflict-B-20260101-101010.txt")]
    [TestCase("p3.conflict-B-20260101-101010")] // of a file without an extension: the marker is no extension
    public async Task A_conflict_on_a_conflict_copy_gets_a_suffix_not_a_nested_name(string name)
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        var copy = "docs/" + name;
        h.Write("A", copy, "from A", DateTime.UtcNow.AddMinutes(-2));
        h.Write("B", copy, "from B, later", DateTime.UtcNow.AddMinutes(-1));

        await h.SyncExpectingSuccessAsync();

        var names = h.Tree("A", "docs").Keys.ToList();
        Assert.That(names, Has.Count.EqualTo(2), string.Join(", ", names));
        Assert.That(names.Count(n => n.Split(".conflict-").Length > 2), Is.Zero, "no nested conflict name: " + string.Join(", ", names));
        Assert.That(names, Has.Some.StartsWith("p3.conflict-A-"));
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }
}
