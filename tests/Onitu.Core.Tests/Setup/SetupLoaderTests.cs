namespace Onitu.Core.Tests.Setup;

using Onitu.Rules;
using Onitu.Setup;

public class SetupLoaderTests
{
    private const string Example = """
        name: "My setup"
        folders:
          docs:
            blacklist: ["*.tmp"]
          music:
            type: ["audio/*"]
            max-size: 10MiB
          photos:
        services:
          laptop:
            driver: local_storage
            options:
              root: ./laptop
              fsync: true
            folders:
              docs: docs
              music:
                path: Music
                mode: r
                min-size: 1k
          nas:
            driver: ssh
            folders:
              docs:
              photos: {}
        """;

    [Test]
    public void Reads_the_documented_layout()
    {
        var setup = SetupLoader.Parse(Example);

        Assert.That(setup.Name, Is.EqualTo("My setup"));
        Assert.That(setup.FolderNames, Is.EqualTo(new[] { "docs", "music", "photos" }));
        Assert.That(setup.Folders.Keys, Is.EqualTo(new[] { "docs", "music", "photos" }), "the dictionary keeps file order");
        Assert.That(setup.Folders["docs"], Is.EqualTo(new FolderRules { Blacklist = ["*.tmp"] }));
        Assert.That(setup.Folders["music"], Is.EqualTo(new FolderRules { Types = ["audio/*"], MaxSize = 10 * 1024 * 1024 }));
        Assert.That(setup.Folders["photos"], Is.EqualTo(FolderRules.Empty));

        Assert.That(setup.Services.Select(s => s.Name), Is.EqualTo(new[] { "laptop", "nas" }));
        var laptop = setup.Services[0];
        Assert.That(laptop.Driver, Is.EqualTo("local_storage"));
        Assert.That(laptop.Line, Is.EqualTo(10));
        Assert.That(laptop.DriverLine, Is.EqualTo(11));
        Assert.That(laptop.OptionsLine, Is.EqualTo(12));
        Assert.That(laptop.Options["root"], Is.EqualTo("./laptop"));
        Assert.That(laptop.Options["fsync"], Is.EqualTo(true));
        Assert.That(laptop.OptionLines["fsync"], Is.EqualTo(14));
        Assert.That(laptop.Folders.Select(f => (f.Folder, f.Path)), Is.EqualTo(new[] { ("docs", "docs"), ("music", "Music") }));
        Assert.That(laptop.Folders[1].Rules, Is.EqualTo(new FolderRules { Mode = AccessMode.Read, MinSize = 1000 }));
        Assert.That(laptop.Folders[1].Line, Is.EqualTo(17));
    }

    [Test]
    public void A_mapping_without_path_lives_at_the_folder_name()
    {
        var nas = SetupLoader.Parse(Example).Services[1];
        Assert.That(nas.Folders.Select(f => (f.Folder, f.Path)), Is.EqualTo(new[] { ("docs", "docs"), ("photos", "photos") }));
        Assert.That(nas.Folders.Select(f => f.Rules), Is.All.EqualTo(FolderRules.Empty));
        Assert.That(nas.Options, Is.Empty);
    }

    [Test]
    public void Reads_json_with_the_same_parser()
    {
        const string json = """
            {
              "name": "From JSON",
              "folders": { "docs": { "max-size": "2 GB", "whitelist": "*.md" }, "music": null },
              "services": {
                "laptop": {
                  "driver": "local_storage",
                  "options": { "root": "/data", "port": 22, "ratio": 0.5, "flag": false, "none": null, "list": [1, "two"] },
                  "folders": { "docs": "Documents", "music": { "path": "Music", "mode": "w" } }
                }
              }
            }
            """;
        var setup = SetupLoader.Parse(json);
        Assert.That(setup.Name, Is.EqualTo("From JSON"));
        Assert.That(setup.Folders["docs"], Is.EqualTo(new FolderRules { MaxSize = 2_000_000_000, Whitelist = ["*.md"] }));
        var laptop = setup.Services.Single();
        Assert.That(laptop.Options["root"], Is.EqualTo("/data"));
        Assert.That(laptop.Options["port"], Is.EqualTo(22L));
        Assert.That(laptop.Options["ratio"], Is.EqualTo(0.5));
        Assert.That(laptop.Options["flag"], Is.EqualTo(false));
        Assert.That(laptop.Options["none"], Is.Null);
        Assert.That(laptop.Options["list"], Is.EqualTo(new object?[] { 1L, "two" }));
        Assert.That(laptop.Folders.Select(f => (f.Folder, f.Path)), Is.EqualTo(new[] { ("docs", "Documents"), ("music", "Music") }));
        Assert.That(laptop.Folders[1].Rules.Mode, Is.EqualTo(AccessMode.Write));
        Assert.That(laptop.OptionLines["port"], Is.EqualTo(7));
    }

    [Test]
    public void Option_scalars_are_typed_by_the_yaml_core_schema()
    {
        var setup = SetupLoader.Parse("""
            name: types
            folders: { f: }
            services:
              s:
                driver: d
                options:
                  int: 42
                  negative: -7
                  hex: 0x1F
                  octal: 0o17
                  float: 1.5
                  exponent: 1e3
                  yes: true
                  no: False
                  tilde: ~
                  null: null
                  empty:
                  quoted: "10"
                  single: 'true'
                  tagged: !!str 12
                  text: hello world
                  version: 1.10
                  big: 99999999999999999999
                  list: [a, 1, ~]
                  nested: { a: 1 }
                folders: { f: }
            """);
        var options = setup.Services[0].Options;
        Assert.Multiple(() =>
        {
            Assert.That(options["int"], Is.EqualTo(42L));
            Assert.That(options["negative"], Is.EqualTo(-7L));
            Assert.That(options["hex"], Is.EqualTo(31L));
            Assert.That(options["octal"], Is.EqualTo(15L));
            Assert.That(options["float"], Is.EqualTo(1.5));
            Assert.That(options["exponent"], Is.EqualTo(1000.0));
            Assert.That(options["yes"], Is.EqualTo(true));
            Assert.That(options["no"], Is.EqualTo(false));
            Assert.That(options["tilde"], Is.Null);
            Assert.That(options["null"], Is.Null);
            Assert.That(options["empty"], Is.Null);
            Assert.That(options["quoted"], Is.EqualTo("10"));
            Assert.That(options["single"], Is.EqualTo("true"));
            Assert.That(options["tagged"], Is.EqualTo("12"));
            Assert.That(options["text"], Is.EqualTo("hello world"));
            Assert.That(options["version"], Is.EqualTo(1.1));
            Assert.That(options["big"], Is.TypeOf<double>());
            Assert.That(options["list"], Is.EqualTo(new object?[] { "a", 1L, null }));
            Assert.That(options["nested"], Is.InstanceOf<IReadOnlyDictionary<string, object?>>());
            Assert.That(((IReadOnlyDictionary<string, object?>)options["nested"]!)["a"], Is.EqualTo(1L));
            Assert.That(options.Keys.First(), Is.EqualTo("int"), "file order");
            Assert.That(setup.Services[0].OptionTexts!["version"], Is.EqualTo("1.10"));
            Assert.That(setup.Services[0].OptionTexts!["hex"], Is.EqualTo("0x1F"));
        });
    }

    [Test]
    public void Parse_resolves_against_the_current_directory_unless_told()
    {
        var setup = SetupLoader.Parse(Example);
        Assert.That(setup.SourceFile, Is.Null);
        Assert.That(setup.BaseDirectory, Is.EqualTo(Directory.GetCurrentDirectory()));
        Assert.That(SetupLoader.Parse(Example, "x.yml", "/somewhere").BaseDirectory, Is.EqualTo("/somewhere"));
        var file = Path.Combine(Path.GetTempPath(), "onitu", "setup.yml");
        Assert.That(SetupLoader.Parse(Example, file).BaseDirectory, Is.EqualTo(Path.GetDirectoryName(file)));
    }

    [Test]
    public void LoadFile_resolves_against_the_file_directory()
    {
        var directory = Directory.CreateTempSubdirectory("onitu-setup-");
        try
        {
            var file = Path.Combine(directory.FullName, "setup.yml");
            File.WriteAllText(file, Example);
            var setup = SetupLoader.LoadFile(file);
            Assert.That(setup.SourceFile, Is.EqualTo(file));
            Assert.That(setup.BaseDirectory, Is.EqualTo(directory.FullName));
            Assert.That(setup.Services, Has.Count.EqualTo(2));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Test]
    public void A_file_larger_than_the_limit_is_refused_before_it_is_read_with_an_error_naming_it()
    {
        var directory = Directory.CreateTempSubdirectory("onitu-setup-");
        try
        {
            var file = Path.Combine(directory.FullName, "huge.yml");
            using (var stream = File.Create(file))
                stream.SetLength(SetupLoader.MaxSetupSize + 1L); // sparse: nothing to read, only the size to check
            var error = Assert.Throws<SetupException>(() => SetupLoader.LoadFile(file))!;
            Assert.That(error.Message, Does.Contain(file).And.Contain("too large").And.Contain("16 MiB"));

            Assert.That(() => SetupLoader.Parse(new string(' ', SetupLoader.MaxSetupSize + 1), "big.yml"),
                Throws.TypeOf<SetupException>().With.Message.Contains("big.yml").And.Message.Contains("too large"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Test]
    public void A_setup_of_the_largest_size_still_loads() =>
        Assert.That(SetupLoader.Parse(Example + new string(' ', SetupLoader.MaxSetupSize - Example.Length)).Services, Has.Count.EqualTo(2));

    [Test]
    public void Loading_stops_when_cancelled()
    {
        var globs = string.Join('\n', Enumerable.Range(0, 50_000).Select(i => $"      - 'x{i}/*.tmp'"));
        var text = "name: big\nfolders:\n  docs:\n    blacklist:\n" + globs + "\nservices: {}\n";
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.That(() => SetupLoader.Parse(text, null, null, cancelled.Token), Throws.InstanceOf<OperationCanceledException>());

        var directory = Directory.CreateTempSubdirectory("onitu-setup-");
        try
        {
            var file = Path.Combine(directory.FullName, "big.yml");
            File.WriteAllText(file, text);
            Assert.That(() => SetupLoader.LoadFile(file, cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Test]
    public void Ten_thousand_globs_load_and_validate()
    {
        var globs = string.Join('\n', Enumerable.Range(0, 10_000).Select(i => (i % 4) switch
        {
            0 => $"      - '*.ext{i}'",
            1 => $"      - 'dir{i}/'",
            2 => $"      - 'logs{i}/**/*.log'",
            _ => $"      - '[Tt]emp{i}*'",
        }));
        var setup = SetupLoader.Parse("name: big\nfolders:\n  docs:\n    blacklist:\n" + globs +
            "\nservices:\n  a:\n    driver: local_storage\n    folders: { docs: {} }\n");
        var rules = setup.Folders["docs"];
        Assert.That(rules.Blacklist, Has.Count.EqualTo(10_000));
        Assert.That(rules.Accepts("a/b.ext9996", 1, "x/y"), Is.False);
        Assert.That(rules.Accepts("x/dir1/y", 1, "x/y"), Is.False);
        Assert.That(rules.Accepts("logs2/a/b/c.log", 1, "x/y"), Is.False);
        Assert.That(rules.Accepts("a/temp3-b", 1, "x/y"), Is.False);
        Assert.That(rules.Accepts("a/temp3-b/c", 1, "x/y"), Is.False);
        Assert.That(rules.Accepts("dir1", 1, "x/y"), Is.True);
        Assert.That(rules.Accepts("x/logs2/c.log", 1, "x/y"), Is.True);
        Assert.That(rules.Accepts("a/b.ext10000", 1, "x/y"), Is.True);
    }

    [Test]
    public void Anchors_and_aliases_are_resolved()
    {
        var setup = SetupLoader.Parse("""
            name: anchors
            folders:
              docs: &rules
                blacklist: ["*.tmp"]
              more: *rules
            services:
              s: { driver: d, folders: { docs: , more: } }
            """);
        Assert.That(setup.Folders["more"], Is.EqualTo(setup.Folders["docs"]));
    }

    [Test]
    public void A_setup_built_in_code_is_checked()
    {
        var service = new ServiceSetup("s", "d", new Dictionary<string, object?>(), [new ServiceFolderSetup("ghost", "g")]);
        Assert.That(() => new OnituSetup("x", [new("f", FolderRules.Empty)], [service]), Throws.ArgumentException.With.Message.Contains("ghost"));
        Assert.That(() => new ServiceSetup("s", "d", new Dictionary<string, object?>(), []), Throws.ArgumentException);
        Assert.That(() => new ServiceSetup("s", "d", new Dictionary<string, object?>(), [new ServiceFolderSetup("f", "a"), new ServiceFolderSetup("f", "b")]),
            Throws.ArgumentException.With.Message.Contains("twice"));
    }
}
