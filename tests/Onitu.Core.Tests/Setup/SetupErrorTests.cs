namespace Onitu.Core.Tests.Setup;

using Onitu.Setup;

public class SetupErrorTests
{
    private static IReadOnlyList<SetupError> Errors(string yaml)
    {
        var exception = Assert.Throws<SetupException>(() => SetupLoader.Parse(yaml, "setup.yml"))!;
        Assert.That(exception.Message.Split(Environment.NewLine), Has.Length.EqualTo(exception.Errors.Count), "one line per error");
        Assert.That(exception.Errors.Select(e => e.File), Is.All.EqualTo("setup.yml"));
        return exception.Errors;
    }

    private static SetupError SingleError(string yaml)
    {
        var errors = Errors(yaml);
        Assert.That(errors, Has.Count.EqualTo(1), string.Join(Environment.NewLine, errors));
        return errors[0];
    }

    private static void AssertError(SetupError error, int line, string key, params string[] fragments)
    {
        Assert.That(error.Line, Is.EqualTo(line), error.ToString());
        Assert.That(error.Key, Is.EqualTo(key), error.ToString());
        foreach (var fragment in fragments)
            Assert.That(error.Message, Does.Contain(fragment));
        Assert.That(error.ToString(), Does.StartWith($"setup.yml:{line}: {key}: "));
    }

    [Test]
    public void A_missing_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), "onitu-no-such-dir", "missing.yml");
        var exception = Assert.Throws<SetupException>(() => SetupLoader.LoadFile(path))!;
        Assert.That(exception.Errors.Single().File, Is.EqualTo(path));
        Assert.That(exception.Message, Does.Contain(path).And.Contain("does not exist"));
    }

    [Test]
    public void A_yaml_syntax_error_gives_line_and_column()
    {
        var error = SingleError("name: x\nfolders:\n  docs:\n\tbad: 1\n");
        Assert.That(error.Line, Is.EqualTo(4));
        Assert.That(error.Message, Does.Contain("YAML syntax error at line 4, column 1").And.Contain("tab"));
    }

    [Test]
    public void An_unclosed_quote_is_a_syntax_error_with_its_line()
    {
        var error = SingleError("name: x\nfolders:\n  docs:\nservices: \"oops\n");
        Assert.That(error.Message, Does.Contain("YAML syntax error"));
        Assert.That(error.Line, Is.GreaterThanOrEqualTo(4));
    }

    [Test]
    public void An_unclosed_bracket_is_a_syntax_error_near_its_line()
    {
        var error = SingleError("name: x\nfolders: {a: [1, 2\nservices: 3\n");
        Assert.That(error.Message, Does.Contain("YAML syntax error near line 2"));
        Assert.That(error.Line, Is.EqualTo(2));
    }

    [Test]
    public void Duplicates_found_before_a_syntax_error_are_reported_too()
    {
        var errors = Errors("name: x\nname: y\nfolders: {a: 1\n");
        Assert.That(errors, Has.Count.EqualTo(2));
        Assert.That(errors[0].Message, Does.Contain("duplicate key 'name'"));
        Assert.That(errors[1].Message, Does.Contain("YAML syntax error"));
    }

    [Test]
    public void More_than_one_document_is_refused() =>
        Assert.That(Errors("name: x\nfolders: {a: }\nservices: {s: {driver: d, folders: {a: }}}\n---\nname: y\n").Single().Message,
            Does.Contain("one YAML document"));

    [Test]
    public void An_empty_setup_is_refused() =>
        Assert.That(SingleError("# nothing\n").Message, Does.Contain("empty"));

    [Test]
    public void The_root_must_be_a_mapping()
    {
        var error = SingleError("- a\n- b\n");
        Assert.That(error.Line, Is.EqualTo(1));
        Assert.That(error.Message, Does.Contain("must be a mapping"));
    }

    [Test]
    public void Missing_name_and_services_are_all_reported()
    {
        var errors = Errors("folders:\n  docs:\n");
        Assert.That(errors.Select(e => e.Key), Is.EquivalentTo(new[] { "name", "services" }));
        Assert.That(errors.Select(e => e.Message), Has.Some.Contains("missing 'name'").And.Some.Contains("missing 'services'"));
    }

    [Test]
    public void An_empty_name_is_refused() =>
        AssertError(SingleError("""
            folders: { docs: }
            services:
              s: { driver: d, folders: { docs: } }
            name: " "
            """), 4, "name", "empty");

    [Test]
    public void An_unknown_top_level_key_suggests_the_nearest() =>
        AssertError(SingleError("""
            name: x
            folders: { docs: }
            services:
              s: { driver: d, folders: { docs: } }
            servics: {}
            """), 5, "servics", "unknown key 'servics'", "did you mean 'services'?");

    [Test]
    public void A_service_without_driver_is_reported_at_its_line() =>
        AssertError(SingleError("""
            name: x
            folders:
              docs:
            services:
              laptop:
                folders:
                  docs:
            """), 5, "services.laptop", "missing 'driver'");

    [TestCase("max_size", "max-size")]
    [TestCase("maxsize", "max-size")]
    [TestCase("blacklst", "blacklist")]
    [TestCase("Mode", "mode")]
    public void An_unknown_folder_option_suggests_the_nearest(string written, string meant) =>
        AssertError(SingleError($$"""
            name: x
            folders:
              music:
                {{written}}: 10
            services:
              s: { driver: d, folders: { music: } }
            """), 4, $"folders.music.{written}", $"unknown folder option '{written}'", $"did you mean '{meant}'?");

    [Test]
    public void An_unknown_option_of_a_service_folder_is_reported_with_its_full_key() =>
        AssertError(SingleError("""
            name: x
            folders:
              music:
            services:
              laptop:
                driver: d
                folders:
                  music:
                    path: Music
                    min-siz: 1k
            """), 10, "services.laptop.folders.music.min-siz", "did you mean 'min-size'?");

    [Test]
    public void A_bad_mode_is_reported() =>
        AssertError(SingleError("""
            name: x
            folders:
              music:
            services:
              laptop:
                driver: d
                folders:
                  music:
                    mode: x
            """), 9, "services.laptop.folders.music.mode", "'r'", "'w'", "'rw'", "'x'");

    [Test]
    public void A_bad_size_is_reported_with_its_text() =>
        AssertError(SingleError("""
            name: x
            folders:
              music:
                max-size: 10 XB
            services:
              laptop: { driver: d, folders: { music: } }
            """), 4, "folders.music.max-size", "'10 XB' is not a size");

    [Test]
    public void A_negative_size_is_reported() =>
        AssertError(SingleError("""
            name: x
            folders:
              music:
                min-size: -1
            services:
              laptop: { driver: d, folders: { music: } }
            """), 4, "folders.music.min-size", "negative");

    [Test]
    public void Type_must_be_a_string_or_a_list_of_strings()
    {
        AssertError(SingleError("""
            name: x
            folders:
              music:
                type: { audio: 1 }
            services:
              laptop: { driver: d, folders: { music: } }
            """), 4, "folders.music.type", "a string or a list of strings", "a mapping");
        AssertError(SingleError("""
            name: x
            folders:
              music:
                type:
                  - audio
                  - [nested]
            services:
              laptop: { driver: d, folders: { music: } }
            """), 6, "folders.music.type", "a string or a list of strings", "a list");
    }

    [Test]
    public void A_malformed_media_type_is_reported() =>
        AssertError(SingleError("""
            name: x
            folders:
              music:
                type: "audio/mpeg/x"
            services:
              laptop: { driver: d, folders: { music: } }
            """), 4, "folders.music.type", "'audio/mpeg/x' is not a media type");

    [Test]
    public void Blacklist_and_whitelist_must_be_strings_or_lists_of_strings()
    {
        var errors = Errors("""
            name: x
            folders:
              docs:
                blacklist: { a: 1 }
                whitelist: ["*.md", ~, "[z-a]"]
            services:
              laptop: { driver: d, folders: { docs: } }
            """);
        Assert.That(errors, Has.Count.EqualTo(3), string.Join(Environment.NewLine, errors));
        AssertError(errors[0], 4, "folders.docs.blacklist", "a string or a list of strings");
        AssertError(errors[1], 5, "folders.docs.whitelist", "a string or a list of strings", "null");
        AssertError(errors[2], 5, "folders.docs.whitelist", "'[z-a]' is not valid", "reversed");
    }

    [Test]
    public void Min_size_above_max_size_is_reported_at_either_level()
    {
        AssertError(SingleError("""
            name: x
            folders:
              music:
                min-size: 2k
                max-size: 1k
            services:
              laptop: { driver: d, folders: { music: } }
            """), 5, "folders.music.max-size", "min-size (2000 bytes) is greater than max-size (1000 bytes)");
        AssertError(SingleError("""
            name: x
            folders:
              music:
                max-size: 1k
            services:
              laptop:
                driver: d
                folders:
                  music:
                    min-size: 2k
            """), 9, "services.laptop.folders.music", "with the folder's own options", "min-size (2000 bytes)");
    }

    [Test]
    public void A_service_mapping_an_undeclared_folder_is_reported() =>
        AssertError(SingleError("""
            name: x
            folders:
              docs:
            services:
              laptop:
                driver: d
                folders:
                  docs:
                  doc:
            """), 9, "services.laptop.folders.doc", "the folder 'doc' that is not declared under 'folders'", "did you mean 'docs'?");

    [Test]
    public void Duplicate_keys_are_reported_with_both_lines()
    {
        var errors = Errors("""
            name: x
            folders:
              docs:
              docs:
            services:
              laptop: { driver: d, folders: { docs: } }
              laptop: { driver: e, folders: { docs: } }
            """);
        Assert.That(errors, Has.Count.EqualTo(2), string.Join(Environment.NewLine, errors));
        AssertError(errors[0], 4, "folders.docs", "duplicate key 'docs'", "first written at line 3");
        AssertError(errors[1], 7, "services.laptop", "duplicate key 'laptop'", "first written at line 6");
    }

    [Test]
    public void A_service_with_no_folders_is_reported()
    {
        AssertError(SingleError("""
            name: x
            folders:
              docs:
            services:
              laptop:
                driver: d
            """), 5, "services.laptop", "maps no folder");
        AssertError(SingleError("""
            name: x
            folders:
              docs:
            services:
              laptop:
                driver: d
                folders: {}
            """), 7, "services.laptop.folders", "maps no folder");
    }

    [Test]
    public void Misplaced_folder_and_driver_options_get_a_hint()
    {
        var errors = Errors("""
            name: x
            folders:
              docs:
            services:
              laptop:
                driver: d
                mode: r
                root: /data
                folders: { docs: }
            """);
        Assert.That(errors, Has.Count.EqualTo(2));
        AssertError(errors[0], 7, "services.laptop.mode", "folders.<folder>");
        AssertError(errors[1], 8, "services.laptop.root", "driver options go under 'options'");
    }

    [Test]
    public void A_folder_name_with_a_separator_is_refused() =>
        AssertError(SingleError("""
            name: x
            folders:
              "a/b":
            services:
              s: { driver: d, folders: { "a/b": } }
            """), 3, "folders.a/b", "plain name");

    [Test]
    public void Every_problem_is_reported_at_once_in_file_order()
    {
        var errors = Errors("""
            folders:
              music:
                max-size: huge
                mode: sometimes
            services:
              laptop:
                folders:
                  music:
                  videos:
            extra: 1
            """);
        Assert.That(errors.Select(e => e.Key), Is.EqualTo(new[]
        {
            "name",
            "folders.music.max-size",
            "folders.music.mode",
            "services.laptop",
            "services.laptop.folders.videos",
            "extra",
        }), string.Join(Environment.NewLine, errors));
        Assert.That(errors.Select(e => e.Line), Is.EqualTo(new int?[] { 1, 3, 4, 6, 9, 10 }));
    }

    [Test]
    public void SetupError_renders_the_parts_it_has()
    {
        Assert.That(new SetupError("s.yml", 3, "a.b", "bad").ToString(), Is.EqualTo("s.yml:3: a.b: bad"));
        Assert.That(new SetupError(null, 3, "a.b", "bad").ToString(), Is.EqualTo("line 3: a.b: bad"));
        Assert.That(new SetupError("s.yml", null, null, "bad").ToString(), Is.EqualTo("s.yml: bad"));
        Assert.That(new SetupError(null, null, null, "bad").ToString(), Is.EqualTo("bad"));
    }
}
