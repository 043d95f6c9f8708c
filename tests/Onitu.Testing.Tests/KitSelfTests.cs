using System.Reflection;
using System.Reflection.Emit;
using NUnit.Framework.Internal;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Testing.Tests;

/// <summary>
/// The kit catches the faults it is meant to catch: each broken driver makes the right conformance test fail with a
/// message that points at the fault, a correct wrapped driver passes, and missing capabilities are skipped with a reason.
/// </summary>
public class KitSelfTests
{
    /// <summary>
    /// A conformance fixture over any factory. Abstract, so NUnit does not run it as a suite of its own against the
    /// broken drivers; <see cref="NewFixture"/> instantiates it through a subclass emitted at run time.
    /// </summary>
    public abstract class Fixture : DriverConformanceTests
    {
        internal IDriverFactory? DriverFactory { get; set; }

        internal DriverCapabilities? DeclaredCapabilities { get; set; }

        internal bool WithoutView { get; set; }

        protected override IDriverFactory CreateFactory() => DriverFactory!;

        protected override DriverCapabilities Capabilities => DeclaredCapabilities ?? DriverCapabilities.Default;

        protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
        {
            // The folder's directory is made here, as a scan or the engine's marker would: local_storage's writes never
            // make it.
            Directory.CreateDirectory(Path.Combine(scratchDirectory, "docs"));
            return ValueTask.FromResult(new DriverTestArea(new Dictionary<string, object?> { ["root"] = scratchDirectory }, "docs")
            {
                View = WithoutView ? null : new DirectoryStoreView(Path.Combine(scratchDirectory, "docs")),
            });
        }
    }

    private static readonly Lazy<Type> ConcreteFixture = new(() =>
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Onitu.Testing.Tests.Fixtures"), AssemblyBuilderAccess.Run);
        var type = assembly.DefineDynamicModule("Fixtures").DefineType("ConcreteFixture", TypeAttributes.Public | TypeAttributes.Sealed, typeof(Fixture));
        type.DefineDefaultConstructor(MethodAttributes.Public);
        return type.CreateType();
    });

    internal static Fixture NewFixture(IDriverFactory factory, DriverCapabilities? capabilities = null, bool withoutView = false)
    {
        var fixture = (Fixture)Activator.CreateInstance(ConcreteFixture.Value)!;
        fixture.DriverFactory = factory;
        fixture.DeclaredCapabilities = capabilities;
        fixture.WithoutView = withoutView;
        return fixture;
    }

    internal enum Outcome
    {
        Passed,
        Failed,
        Skipped,
    }

    /// <summary>Runs one kit test as NUnit would (set up, test, tear down), isolated from this test's result.</summary>
    internal static async Task<(Outcome Outcome, string Message)> RunAsync(IDriverFactory factory, Func<DriverConformanceTests, Task> test,
        DriverCapabilities? capabilities = null, bool withoutView = false)
    {
        var fixture = NewFixture(factory, capabilities, withoutView);
        using (new TestExecutionContext.IsolatedContext())
        {
            try
            {
                await fixture.SetUpConformanceAsync();
                await test(fixture);
                return (Outcome.Passed, "");
            }
            catch (AssertionException e)
            {
                return (Outcome.Failed, e.Message);
            }
            catch (IgnoreException e)
            {
                return (Outcome.Skipped, e.Message);
            }
            finally
            {
                await fixture.TearDownConformanceAsync();
            }
        }
    }

    private static async Task AssertFailsAsync(IDriverFactory factory, Func<DriverConformanceTests, Task> test, params string[] mentions)
    {
        var (outcome, message) = await RunAsync(factory, test);
        TestContext.Out.WriteLine($"{outcome}: {message}");
        Assert.That(outcome, Is.EqualTo(Outcome.Failed), $"the kit should have failed this broken driver; it said: {message}");
        foreach (var mention in mentions)
            Assert.That(message, Does.Contain(mention), "the failure message should point at the fault");
    }

    [Test]
    public async Task A_correct_driver_under_another_id_passes_the_copy_tests_both_ways()
    {
        var factory = WrappedFactory.Create("wrapped_local", d => new WrappedDriver(d));
        foreach (var test in new Func<DriverConformanceTests, Task>[]
                 {
                     f => f.Copies_a_10_MiB_file_in_odd_chunks_to_the_driver(), f => f.Copies_a_10_MiB_file_in_odd_chunks_from_the_driver(),
                     f => f.Deletion_on_the_driver_reaches_the_reference(), f => f.Scan_reports_each_file_with_its_size(),
                     f => f.Concurrent_handler_calls_on_different_files(), f => f.Reads_chunks_at_odd_offsets(),
                     f => f.A_write_over_a_changed_file_is_refused_and_the_change_reported(),
                     f => f.A_write_where_the_engine_expects_no_file_does_not_replace_one_it_never_saw(),
                     f => f.A_chunked_upload_over_a_changed_file_is_refused_at_its_end(),
                     f => f.A_move_of_a_changed_file_is_refused_and_the_change_reported(),
                     f => f.A_delete_of_a_changed_file_is_refused_and_the_change_reported(), f => f.Deleting_a_missing_file_is_not_an_error(),
                     f => f.A_restarted_upload_discards_bytes_past_its_offset(), f => f.Every_write_and_move_sets_the_revision_a_scan_reports(),
                     f => f.Modification_times_round_trip(),
                 })
        {
            var (outcome, message) = await RunAsync(factory, test);
            Assert.That(outcome, Is.EqualTo(Outcome.Passed), message);
        }
    }

    [Test]
    public Task Dropping_the_last_chunk_fails_the_multipart_copy_to_the_driver_with_the_sizes() =>
        AssertFailsAsync(WrappedFactory.Create("drops_last_chunk", d => new DropsLastChunkDriver(d, DriverConformanceTests.OddChunkSize)),
            f => f.Copies_a_10_MiB_file_in_odd_chunks_to_the_driver(),
            "'large.bin' on the driver under test", "expected 10485760 bytes", "end is missing");

    [Test]
    public Task Dropping_the_last_chunk_fails_the_resumed_upload() =>
        AssertFailsAsync(WrappedFactory.Create("drops_last_chunk", d => new DropsLastChunkDriver(d, 65_537)),
            f => f.Interrupted_upload_restarts_at_its_offset(), "resumed/file.bin", "end is missing");

    [Test]
    public Task Ignoring_read_offsets_fails_the_chunk_reads_with_the_first_differing_offset() =>
        AssertFailsAsync(WrappedFactory.Create("ignores_offsets", d => new IgnoresOffsetsDriver(d)),
            f => f.Reads_chunks_at_odd_offsets(), "chunks.bin [1, 2)", "first differing byte at offset 0");

    [Test]
    public Task Ignoring_read_offsets_fails_the_multipart_copy_from_the_driver() =>
        AssertFailsAsync(WrappedFactory.Create("ignores_offsets", d => new IgnoresOffsetsDriver(d)),
            f => f.Copies_a_10_MiB_file_in_odd_chunks_from_the_driver(), "'large.bin' on the reference", "first differing byte at offset 262147");

    [Test]
    public Task A_shared_upload_buffer_fails_the_concurrency_test() =>
        AssertFailsAsync(WrappedFactory.Create("not_thread_safe", d => new NotThreadSafeDriver(d)),
            f => f.Concurrent_handler_calls_on_different_files(), "concurrent uploads and reads of different files", "concurrent/file-");

    [Test]
    public Task A_driver_reading_its_upload_synchronously_fails_the_async_upload_test() =>
        AssertFailsAsync(WrappedFactory.Create("sync_reader", d => new SyncReadingDriver(d)),
            f => f.An_upload_reads_its_content_asynchronously(), "UploadFileAsync of 'async/small.bin' read its content synchronously", "ReadAsync");

    [Test]
    public Task Wrong_sizes_fail_the_scan_test_naming_the_file() =>
        AssertFailsAsync(WrappedFactory.Create("wrong_sizes", d => new WrappedDriver(d), p => new WrongSizesPlug(p)),
            f => f.Scan_reports_each_file_with_its_size(), "The scan reported 'sizes/empty' with the wrong size", "Expected: 0");

    [Test]
    public Task A_driver_that_never_signals_a_deletion_fails_the_deletion_test() =>
        AssertFailsAsync(WrappedFactory.Create("no_deletions", d => new WrappedDriver(d), p => new NoDeletionsPlug(p)),
            f => f.Deletion_on_the_driver_reaches_the_reference(), "'gone.txt' is still on the reference");

    private static LocalStorageVariantFactory NoCompareAndSwap() => WrappedFactory.Create("no_cas", (d, plug) => new NoCompareAndSwapDriver(d, plug));

    [Test]
    public Task A_write_without_compare_and_swap_fails_the_write_test() =>
        AssertFailsAsync(NoCompareAndSwap(), f => f.A_write_over_a_changed_file_is_refused_and_the_change_reported(),
            "UploadFileAsync of 'cas/write.txt'", "returned normally", "ContentChangedException");

    [Test]
    public Task A_write_without_compare_and_swap_fails_the_test_of_a_file_the_engine_never_saw() =>
        AssertFailsAsync(NoCompareAndSwap(), f => f.A_write_where_the_engine_expects_no_file_does_not_replace_one_it_never_saw(),
            "UploadFileAsync (with no revision) of 'cas/unseen.txt'", "no revision", "returned normally");

    [Test]
    public Task An_upload_end_without_compare_and_swap_fails_the_chunked_test() =>
        AssertFailsAsync(NoCompareAndSwap(), f => f.A_chunked_upload_over_a_changed_file_is_refused_at_its_end(),
            "EndUploadAsync of 'cas/chunked.bin'", "returned normally");

    [Test]
    public Task A_move_without_compare_and_swap_fails_the_move_test() =>
        AssertFailsAsync(NoCompareAndSwap(), f => f.A_move_of_a_changed_file_is_refused_and_the_change_reported(),
            "MoveFileAsync of 'cas/move-me.txt'", "returned normally");

    [Test]
    public Task A_delete_without_compare_and_swap_fails_the_delete_test() =>
        AssertFailsAsync(NoCompareAndSwap(), f => f.A_delete_of_a_changed_file_is_refused_and_the_change_reported(),
            "DeleteFileAsync of 'cas/delete-me.txt'", "returned normally");

    [Test]
    public Task A_refusal_without_a_report_fails_the_compare_and_swap_test() =>
        AssertFailsAsync(WrappedFactory.Create("silent_refusal", d => new WrappedDriver(d), p => new NoUpdatesPlug(p)),
            f => f.A_delete_of_a_changed_file_is_refused_and_the_change_reported(), "did not report the file's new revision");

    [Test]
    public Task Keeping_bytes_past_the_restart_offset_fails_the_restart_test() =>
        AssertFailsAsync(WrappedFactory.Create("keeps_bytes", d => new KeepsBytesPastTheOffsetDriver(d)),
            f => f.A_restarted_upload_discards_bytes_past_its_offset(), "resumed/shorter.bin", "file has extra bytes");

    [Test]
    public Task A_driver_that_never_sets_the_revision_fails_the_revision_test() =>
        AssertFailsAsync(WrappedFactory.Create("no_revision", d => new NoRevisionDriver(d)),
            f => f.Every_write_and_move_sets_the_revision_a_scan_reports(), "UploadFileAsync left Metadata.Revision of 'revisions/uploaded.bin' unset");

    [Test]
    public Task A_driver_that_never_sets_the_revision_is_refused_by_the_engine_naming_the_method() =>
        AssertFailsAsync(WrappedFactory.Create("no_revision", d => new NoRevisionDriver(d)),
            f => f.Copies_a_1_KiB_file_to_the_driver(), "did not succeed", "UploadFileAsync returned without setting Metadata.Revision of docs:kilo.bin");

    [Test]
    public Task Shifted_modification_times_fail_the_round_trip_test() =>
        AssertFailsAsync(WrappedFactory.Create("shifted_times", d => new ShiftedTimesDriver(d)),
            f => f.Modification_times_round_trip(), "neither the time given", "times/file.txt");

    [Test]
    public async Task A_driver_whose_reads_undo_its_write_damage_fails_only_through_the_independent_view()
    {
        var factory = WrappedFactory.Create("scrambling", d => new ScramblingDriver(d));
        var (outcome, message) = await RunAsync(factory, f => f.Copies_a_1_KiB_file_to_the_driver(), withoutView: true);
        Assert.That(outcome, Is.EqualTo(Outcome.Passed), "without a view, the driver's own reads hide the damage: " + message);
        await AssertFailsAsync(factory, f => f.Copies_a_1_KiB_file_to_the_driver(), "'kilo.bin' on the store of the driver under test, read through the area's independent view");
    }

    [Test]
    public async Task A_driver_without_chunked_writes_is_skipped_with_the_reason_not_passed()
    {
        var factory = WrappedFactory.Create("bare", d => new BareDriver(d));
        var (outcome, message) = await RunAsync(factory, f => f.Interrupted_upload_restarts_at_its_offset());
        Assert.That(outcome, Is.EqualTo(Outcome.Skipped));
        Assert.That(message, Does.Contain("does not implement IChunkedWriter"));
        (outcome, message) = await RunAsync(factory, f => f.Reads_chunks_at_odd_offsets());
        Assert.That((outcome, message), Is.EqualTo((Outcome.Skipped, "The driver under test (BareDriver) does not implement IChunkedReader.")));
        (outcome, message) = await RunAsync(factory, f => f.Copies_a_1_KiB_file_from_the_driver());
        Assert.That(outcome, Is.EqualTo(Outcome.Passed), message);
    }

    [Test]
    public async Task A_driver_without_change_notifications_has_its_live_tests_skipped()
    {
        var (outcome, message) = await RunAsync(new LocalStorageDriverFactory(), f => f.Move_reaches_the_driver(),
            new DriverCapabilities { ChangeNotifications = false });
        Assert.That(outcome, Is.EqualTo(Outcome.Skipped));
        Assert.That(message, Does.Contain("no change notifications"));
    }

    [Test]
    public void Content_differences_name_the_sizes_and_the_first_differing_byte()
    {
        Assert.That(DriverConformanceTests.Describe([1, 2, 3], [1, 2, 3]), Is.Null);
        Assert.That(DriverConformanceTests.Describe([1, 2, 3], null), Is.EqualTo("missing (expected 3 bytes)"));
        Assert.That(DriverConformanceTests.Describe([1, 2, 3], [1, 9, 3]),
            Is.EqualTo("expected 3 bytes, found 3 bytes; first differing byte at offset 1 (expected 0x02, found 0x09)"));
        Assert.That(DriverConformanceTests.Describe([1, 2, 3], [1, 2]), Does.Contain("end is missing"));
    }
}
