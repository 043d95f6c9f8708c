namespace Onitu.Core.Tests.Options;

using Onitu.Options;
using Onitu.Setup;

public class SetupValidatorTests
{
    private static readonly DriverManifest Local = DriverManifest.Parse("""
        { "id": "local_storage", "name": "Local", "description": "Disk",
          "options": {
            "root": { "description": "Root", "type": "string", "default": "." },
            "fsync": { "description": "Flush", "type": "boolean", "default": false }
          } }
        """);

    private static readonly DriverManifest Ssh = DriverManifest.Parse("""
        { "id": "ssh", "name": "SSH", "description": "SFTP",
          "options": {
            "host": { "name": "Remote host name", "description": "Host", "type": "string" },
            "port": { "description": "Port", "type": "integer", "default": 22 },
            "password": { "description": "Password", "type": "string", "default": null, "secret": true }
          } }
        """);

    private static IReadOnlyList<SetupError> Validate(string yaml, out IReadOnlyDictionary<string, DriverOptions> options) =>
        SetupValidator.Validate(SetupLoader.Parse(yaml, "setup.yml"), [Local, Ssh], out options);

    [Test]
    public void A_valid_setup_yields_typed_options_per_service()
    {
        var errors = Validate("""
            name: ok
            folders: { docs: }
            services:
              laptop:
                driver: local_storage
                options: { root: ./laptop }
                folders: { docs: }
              nas:
                driver: ssh
                options: { host: nas.local, password: s3cret }
                folders: { docs: }
            """, out var options);
        Assert.That(errors, Is.Empty, string.Join(Environment.NewLine, errors));
        Assert.That(options["laptop"]["root"], Is.EqualTo("./laptop"));
        Assert.That(options["laptop"]["fsync"], Is.EqualTo(false));
        Assert.That(options["nas"]["port"], Is.EqualTo(22L));
        Assert.That(options["nas"].IsSecret("password"), Is.True);
    }

    [Test]
    public void An_unknown_driver_names_the_service_the_driver_and_the_known_drivers()
    {
        var errors = Validate("""
            name: x
            folders: { docs: }
            services:
              laptop:
                driver: local_storag
                folders: { docs: }
            """, out var options);
        var error = errors.Single();
        Assert.That(error.ToString(), Is.EqualTo(
            "setup.yml:5: services.laptop.driver: the service 'laptop' uses the unknown driver 'local_storag' (did you mean 'local_storage'?); known drivers: local_storage, ssh"));
        Assert.That(options, Is.Empty);
    }

    [Test]
    public void Option_errors_carry_file_line_and_key_and_all_are_reported()
    {
        var errors = Validate("""
            name: x
            folders: { docs: }
            services:
              laptop:
                driver: local_storage
                options:
                  root: ./laptop
                  fsync: sometimes
                  rooot: ./typo
                folders: { docs: }
              nas:
                driver: ssh
                options:
                  port: twenty-two
                folders: { docs: }
              box:
                driver: ssh
                folders: { docs: }
            """, out var options);
        Assert.That(errors.Select(e => e.ToString()), Is.EqualTo(new[]
        {
            "setup.yml:8: services.laptop.options.fsync: option 'fsync' must be true or false, got \"sometimes\"",
            "setup.yml:9: services.laptop.options.rooot: unknown option 'rooot' (did you mean 'root'?; known options: root, fsync)",
            "setup.yml:13: services.nas.options: missing mandatory option 'host' (Remote host name)",
            "setup.yml:14: services.nas.options.port: option 'port' must be an integer, got \"twenty-two\"",
            "setup.yml:16: services.box.options: missing mandatory option 'host' (Remote host name)",
        }).AsCollection, string.Join(Environment.NewLine, errors));
        Assert.That(options, Is.Empty);
    }

    [Test]
    public void Plain_yaml_scalars_reach_string_options_as_written()
    {
        var errors = Validate("""
            name: x
            folders: { docs: }
            services:
              nas:
                driver: ssh
                options: { host: 0x1F, password: 1.10 }
                folders: { docs: }
            """, out var options);
        Assert.That(errors, Is.Empty, string.Join(Environment.NewLine, errors));
        Assert.That(options["nas"]["host"], Is.EqualTo("0x1F"));
        Assert.That(options["nas"]["password"], Is.EqualTo("1.10"));
    }

    [Test]
    public void Secret_values_stay_out_of_setup_errors()
    {
        var ssh = DriverManifest.Parse("""
            { "id": "ssh", "name": "SSH", "description": "SFTP",
              "options": { "pin": { "description": "PIN", "type": "integer", "secret": true } } }
            """);
        var setup = SetupLoader.Parse("""
            name: x
            folders: { docs: }
            services:
              nas: { driver: ssh, options: { pin: hunter2 }, folders: { docs: } }
            """);
        var errors = SetupValidator.Validate(setup, [ssh], out _);
        Assert.That(errors.Single().ToString(), Does.Not.Contain("hunter2").And.Contain("option 'pin' must be an integer"));
    }

    [Test]
    public void The_finder_overload_lists_the_given_known_drivers()
    {
        var setup = SetupLoader.Parse("""
            name: x
            folders: { docs: }
            services:
              s: { driver: nope, folders: { docs: } }
            """);
        var errors = SetupValidator.Validate(setup, _ => null, [], out _);
        Assert.That(errors.Single().Message, Does.Contain("unknown driver 'nope'").And.Contain("no driver is installed"));
    }

    [Test]
    public void The_engine_refuses_a_setup_file_with_every_problem_of_its_rules_and_of_its_options_at_once()
    {
        var directory = Directory.CreateTempSubdirectory("onitu-setup-").FullName;
        try
        {
            var file = Path.Combine(directory, "setup.yml");
            File.WriteAllText(file, """
                name: x
                folders:
                  docs:
                    max-size: huge
                services:
                  laptop:
                    driver: local_storage
                    options: { root: laptop, debounce-ms: -5 }
                    folders:
                      docs: docs
                  nas:
                    driver: local_storage
                    options: { root: nas, fsync: sometimes }
                    folders: { docs: docs }
                """);
            var exception = Assert.Throws<SetupException>(() => SyncEngine.Create(
                new SyncEngineOptions { SetupFile = file, DatabasePath = Path.Combine(directory, "state.db") }, [new Onitu.Drivers.LocalStorage.LocalStorageDriverFactory()]))!;
            Assert.That(exception.Errors.Select(e => $"{e.Line}: {e.Key}"), Is.EqualTo(new[]
            {
                "4: folders.docs.max-size",
                "8: services.laptop.options.debounce-ms",
                "13: services.nas.options.fsync",
            }), exception.Message);
            Assert.That(File.Exists(Path.Combine(directory, "state.db")), Is.False, "refused before the state database is opened");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Options_refused_by_the_manifest_leave_the_drivers_checks_of_the_others_and_are_not_reported_twice()
    {
        var catalog = new Onitu.Drivers.DriverCatalog([new Onitu.Drivers.LocalStorage.LocalStorageDriverFactory()]);
        var setup = SetupLoader.Parse("""
            name: x
            folders: { a: , b: }
            services:
              laptop:
                driver: local_storage
                options:
                  root: laptop
                  debounce-ms: -5
                  fsync: sometimes
                folders:
                  a: same
                  b: same
            """, "setup.yml");
        var errors = SetupValidator.Validate(setup, catalog, out var options);
        Assert.That(errors.Select(e => e.ToString()), Is.EqualTo(new[]
        {
            "setup.yml:8: services.laptop.options.debounce-ms: option 'debounce-ms' must be between 0 and 60000, got -5",
            "setup.yml:9: services.laptop.options.fsync: option 'fsync' must be true or false, got \"sometimes\"",
        }).AsCollection, "the overlap of the folders is not the driver's own problem with an accepted option: left for when the options pass");
        Assert.That(options, Is.Empty);
    }
}
