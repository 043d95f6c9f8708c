using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Hosting.Tests;

/// <summary>
/// Every route of the REST API 1.0 against a real engine on real folders, through ASP.NET Core's in-memory server:
/// the seed's JSON shapes, its error bodies, the token rules.
/// </summary>
public class ApiTests
{
    private sealed class Api : IAsyncDisposable
    {
        private Api(Workspace workspace, WebApplication app)
        {
            Workspace = workspace;
            App = app;
            Client = app.GetTestClient();
            Token = app.Services.GetRequiredService<OnituApiToken>().Value;
            Engine = app.Services.GetRequiredService<SyncEngine>();
        }

        public Workspace Workspace { get; }
        public WebApplication App { get; }
        public HttpClient Client { get; }
        public string Token { get; }
        public SyncEngine Engine { get; }

        public static async Task<Api> StartAsync(string yaml = Workspace.TwoServices, Action<OnituApiOptions>? options = null,
            Action<IServiceCollection>? services = null)
        {
            var workspace = new Workspace(yaml);
            var app = workspace.BuildApp(options, services: services);
            await app.StartAsync();
            var api = new Api(workspace, app);
            await api.Engine.WaitUntilIdleAsync(new CancellationTokenSource(Workspace.Timeout()).Token);
            return api;
        }

        public async Task<(HttpStatusCode Status, JsonNode Body)> GetAsync(string path, string? token = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1.0/" + path);
            if (token is not null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await SendAsync(request);
        }

        public async Task<(HttpStatusCode Status, JsonNode Body)> PutAsync(string path, object? body = null, bool withToken = true, string? token = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1.0/" + path);
            if (withToken)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Token);
            if (body is not null)
                request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            return await SendAsync(request);
        }

        private async Task<(HttpStatusCode, JsonNode)> SendAsync(HttpRequestMessage request)
        {
            using var response = await Client.SendAsync(request);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), $"{request.Method} {request.RequestUri}");
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        }

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
            Workspace.Dispose();
        }
    }

    private static string[] Strings(JsonNode? array) => [.. array!.AsArray().Select(n => n!.GetValue<string>())];

    [Test]
    public async Task Files_lists_files_with_the_seeds_fields_a_page_at_a_time()
    {
        await using var api = await Api.StartAsync();
        foreach (var name in new[] { "toto", "photos/foo.jpg", "zed.txt" })
            api.Workspace.Write("A", "docs/" + name, name);
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/zed.txt") && api.Workspace.Exists("B", "docs/toto")
            && api.Workspace.Exists("B", "docs/photos/foo.jpg"), "the files on B");
        await Workspace.EventuallyAsync(async () => (await api.GetAsync("files")).Body["files"]!.AsArray()
            .All(f => f!["uptodate"]!.AsArray().Count == 2), "every file up to date on both");

        var (status, body) = await api.GetAsync("files");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        var files = body["files"]!.AsArray();
        Assert.That(files.Select(f => f!["filename"]!.GetValue<string>()), Is.EqualTo(new[] { "photos/foo.jpg", "toto", "zed.txt" }));
        var toto = files[1]!;
        Assert.That(toto["fid"]!.GetValue<string>(), Is.EqualTo(FileId.Compute("docs", "toto").ToString()));
        Assert.That(toto["size"]!.GetValue<long>(), Is.EqualTo(4));
        Assert.That(Strings(toto["owners"]), Is.EqualTo(new[] { "A", "B" }));
        Assert.That(Strings(toto["uptodate"]), Is.EqualTo(new[] { "A", "B" }));

        var page = (await api.GetAsync("files?offset=1&limit=1")).Body["files"]!.AsArray();
        Assert.That(page.Single()!["filename"]!.GetValue<string>(), Is.EqualTo("toto"));
        Assert.That((await api.GetAsync("files?limit=0")).Status, Is.EqualTo(HttpStatusCode.BadRequest));
        var (badOffset, reason) = await api.GetAsync("files?offset=abc");
        Assert.That(badOffset, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(reason["reason"]!.GetValue<string>(), Does.Contain("offset"));
        var (unknown, noRoute) = await api.GetAsync("nothing/here");
        Assert.That(unknown, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(noRoute.ToJsonString(), Is.EqualTo("""{"reason":"no route GET /api/v1.0/nothing/here","status":"error"}"""));
    }

    [Test]
    public async Task A_files_metadata_is_found_by_fid_and_an_unknown_fid_is_a_404_with_a_reason()
    {
        await using var api = await Api.StartAsync();
        api.Workspace.Write("A", "docs/photos/foo.jpg", "jpeg");
        var fid = FileId.Compute("docs", "photos/foo.jpg");
        await Workspace.EventuallyAsync(async () => (await api.GetAsync($"files/{fid}/metadata")).Status == HttpStatusCode.OK, "the file is known");

        var (_, body) = await api.GetAsync($"files/{fid}/metadata");
        Assert.That(body["fid"]!.GetValue<string>(), Is.EqualTo(fid.ToString()));
        Assert.That(body["filename"]!.GetValue<string>(), Is.EqualTo("photos/foo.jpg"));
        Assert.That(body["mime"]!.GetValue<string>(), Is.EqualTo("image/jpeg"));

        var unknown = Guid.NewGuid();
        var (status, error) = await api.GetAsync($"files/{unknown}/metadata");
        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(error.ToJsonString(), Is.EqualTo($$"""{"reason":"file {{unknown}} not found","status":"error"}"""));
        Assert.That((await api.GetAsync("files/not-a-fid/metadata")).Status, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task Entries_describe_the_services_without_their_secret_options()
    {
        await using var api = await Api.StartAsync("""
            name: web
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
              vault: { driver: vault_storage, options: { root: V, password: hunter2-secret }, folders: { docs: docs } }
            """, services: s => s.AddSingleton<IDriverFactory>(VaultStorageDriverFactory.Create()));

        using var raw = await api.Client.GetAsync("/api/v1.0/entries");
        var text = await raw.Content.ReadAsStringAsync();
        Assert.That(text, Does.Not.Contain("hunter2"), "a secret option is never returned");

        var entries = JsonNode.Parse(text)!["entries"]!.AsArray();
        Assert.That(entries.Select(e => e!["name"]!.GetValue<string>()), Is.EqualTo(new[] { "A", "B", "vault" }));
        Assert.That(entries[0]!.ToJsonString(), Is.EqualTo("""{"name":"A","driver":"local_storage","options":{"root":"A"},"folders":{"docs":"docs"}}"""));
        Assert.That(entries[2]!["options"]!.ToJsonString(), Is.EqualTo("""{"root":"V"}"""));

        var (status, vault) = await api.GetAsync("entries/vault");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(vault.ToJsonString(), Does.Not.Contain("hunter2").And.Contain("\"driver\":\"vault_storage\""));
        var (missing, error) = await api.GetAsync("entries/nope");
        Assert.That(missing, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(error.ToJsonString(), Is.EqualTo("""{"reason":"entry nope not found","status":"error"}"""));
    }

    [Test]
    public async Task Status_and_stats_follow_the_service_and_stats_of_a_stopped_entry_is_a_409()
    {
        await using var api = await Api.StartAsync();
        api.Workspace.Write("A", "docs/one.txt", "12345");
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/one.txt"), "one.txt on B");

        var (_, status) = await api.GetAsync("entries/A/status");
        Assert.That(status["name"]!.GetValue<string>(), Is.EqualTo("A"));
        Assert.That(status["status"]!.GetValue<string>(), Is.EqualTo("active"));
        Assert.That(status["state"]!.GetValue<string>(), Is.EqualTo("running"));
        Assert.That(status["time"]!.GetValue<double>(), Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Within(60));

        await Workspace.EventuallyAsync(async () => (await api.GetAsync("entries/B/stats")).Body["info"]!["transfers_done"]!.GetValue<long>() == 1,
            "B's stats count the transfer");
        var (_, stats) = await api.GetAsync("entries/B/stats");
        Assert.That(stats["name"]!.GetValue<string>(), Is.EqualTo("B"));
        Assert.That(stats["status"]!.GetValue<string>(), Is.EqualTo("ok"));
        Assert.That(stats["info"]!["files"]!.GetValue<long>(), Is.EqualTo(1));
        Assert.That(stats["info"]!["bytes_written"]!.GetValue<long>(), Is.EqualTo(5));
        Assert.That(stats["info"]!["age"]!.GetValue<double>(), Is.GreaterThan(0));
        Assert.That(stats["info"]!["started"], Is.Not.Null);

        Assert.That((await api.PutAsync("entries/B/stop")).Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await api.GetAsync("entries/B/status")).Body["status"]!.GetValue<string>(), Is.EqualTo("stopped"));
        var (conflict, error) = await api.GetAsync("entries/B/stats");
        Assert.That(conflict, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(error.ToJsonString(), Is.EqualTo("""{"reason":"entry B is not running","status":"error"}"""));
        Assert.That((await api.GetAsync("entries/nope/stats")).Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await api.GetAsync("entries/nope/status")).Status, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task Stop_start_and_restart_control_one_service_with_the_seeds_409s()
    {
        await using var api = await Api.StartAsync();

        var (stopped, body) = await api.PutAsync("entries/A/stop");
        Assert.That(stopped, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body["name"]!.GetValue<string>(), Is.EqualTo("A"));
        Assert.That(body["status"]!.GetValue<string>(), Is.EqualTo("ok"));
        Assert.That(body["time"], Is.Not.Null);
        var (again, error) = await api.PutAsync("entries/A/stop");
        Assert.That(again, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(error.ToJsonString(), Is.EqualTo("""{"reason":"entry A is already stopped","status":"error"}"""));
        Assert.That((await api.PutAsync("entries/A/restart")).Body["reason"]!.GetValue<string>(), Is.EqualTo("entry A is not running"));

        api.Workspace.Write("B", "docs/for-a.txt", "waits for A");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.That(api.Workspace.Exists("A", "docs/for-a.txt"), Is.False, "a stopped service receives nothing");

        Assert.That((await api.PutAsync("entries/A/start")).Status, Is.EqualTo(HttpStatusCode.OK));
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("A", "docs/for-a.txt"), "the file reaches A once started");
        var (running, reason) = await api.PutAsync("entries/A/start");
        Assert.That(running, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(reason["reason"]!.GetValue<string>(), Is.EqualTo("entry A is already running"));

        Assert.That((await api.PutAsync("entries/A/restart")).Status, Is.EqualTo(HttpStatusCode.OK));
        await Workspace.EventuallyAsync(async () => (await api.GetAsync("entries/A/status")).Body["state"]!.GetValue<string>() == "running",
            "A runs again after the restart");
        var (rescan, rescanned) = await api.PutAsync("entries/A/rescan");
        Assert.That(rescan, Is.EqualTo(HttpStatusCode.OK), rescanned.ToJsonString());
        var (missing, notFound) = await api.PutAsync("entries/nope/stop");
        Assert.That(missing, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(notFound.ToJsonString(), Is.EqualTo("""{"reason":"entry nope not found","status":"error"}"""));
    }

    [Test]
    public async Task Every_put_needs_the_token_stored_beside_the_state_database()
    {
        await using var api = await Api.StartAsync();
        var tokenFile = api.Workspace.DatabasePath + ".api-token";
        Assert.That(File.ReadAllText(tokenFile).Trim(), Is.EqualTo(api.Token));
        Assert.That(api.Token, Has.Length.GreaterThanOrEqualTo(40));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(tokenFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "readable by its owner only");

        var (none, body) = await api.PutAsync("entries/A/stop", withToken: false);
        Assert.That(none, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(body["status"]!.GetValue<string>(), Is.EqualTo("error"));
        Assert.That(body["reason"]!.GetValue<string>(), Does.Contain("token").And.Not.Contain(api.Token));
        Assert.That((await api.PutAsync("entries/A/stop", token: "wrong-token-wrong-token")).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await api.PutAsync("rules/reload", withToken: false)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(api.Engine.GetServiceStatuses().Single(s => s.Name == "A").State, Is.Not.EqualTo(ServiceState.Stopped), "nothing was done");
        Assert.That((await api.GetAsync("entries")).Status, Is.EqualTo(HttpStatusCode.OK), "a local read needs no token");

        // A page that rebinds its own name to 127.0.0.1 still sends its own host name: it gets nothing without the token.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/v1.0/entries");
        rebound.Headers.Host = "attacker.example";
        using var refused = await api.Client.SendAsync(rebound);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task The_token_file_is_created_when_the_application_starts()
    {
        using var workspace = new Workspace();
        var tokenFile = workspace.DatabasePath + ".api-token";
        await using var app = workspace.BuildApp();
        Assert.That(File.Exists(tokenFile), Is.False, "nothing is written before the start");

        await app.StartAsync();

        // No request yet: an operator can read the token as soon as the application runs, as onitu run --api prints it.
        Assert.That(File.Exists(tokenFile), Is.True, "the token file exists once the application started");
        Assert.That(File.ReadAllText(tokenFile).Trim(), Is.EqualTo(app.Services.GetRequiredService<OnituApiToken>().Value));
        await app.StopAsync();
    }

    [Test]
    public async Task Bound_beyond_loopback_every_request_needs_the_token_and_the_token_file_is_read_back()
    {
        string first;
        await using (var api = await Api.StartAsync(options: o => o.RequireTokenForReads = true))
        {
            Assert.That((await api.GetAsync("entries")).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That((await api.GetAsync("entries", api.Token)).Status, Is.EqualTo(HttpStatusCode.OK));
            using var inUrl = await api.Client.GetAsync("/api/v1.0/events/recent?access_token=" + api.Token);
            Assert.That(inUrl.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a token in a URL (and so in request logs) is not accepted");
            first = api.Token;
            Assert.That(new OnituApiToken(api.Workspace.DatabasePath + ".api-token").Value, Is.EqualTo(first), "read back, not regenerated");
        }
    }

    [Test]
    public async Task Rules_are_read_replaced_and_applied_on_reload()
    {
        await using var api = await Api.StartAsync("""
            name: web
            folders:
              docs: { blacklist: ['*.tmp'] }
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: local_storage, options: { root: B }, folders: { docs: { path: docs, max-size: 1MiB } } }
            """);
        api.Workspace.Write("A", "docs/held.tmp", "held back by the blacklist");
        api.Workspace.Write("A", "docs/sent.txt", "sent");
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/sent.txt"), "sent.txt on B");

        var (_, rules) = await api.GetAsync("rules");
        Assert.That(rules["rules"]!.ToJsonString(), Is.EqualTo(
            """[{"folder":"docs","options":{"blacklist":["*.tmp"]},"services":[{"name":"A","path":"docs","options":{}},{"name":"B","path":"docs","options":{"max-size":1048576}}]}]"""));
        Assert.That(rules["pending"]!.GetValue<bool>(), Is.False);

        var (bad, error) = await api.PutAsync("rules", new { rules = new[] { new { folder = "docs", options = new { blacklist = new[] { "*.bak" }, mode = "x" } } } });
        Assert.That(bad, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(error["reason"]!.GetValue<string>(), Does.Contain("rules[0].options.mode"));

        var open = new { rules = new object[] { new { folder = "docs", options = new { }, services = new object[] { new { name = "B", path = "docs", options = new Dictionary<string, object> { ["max-size"] = "2MiB" } } } } } };
        Assert.That((await api.PutAsync("rules", open)).Body.ToJsonString(), Is.EqualTo("""{"status":"ok"}"""));
        var (_, pending) = await api.GetAsync("rules");
        Assert.That(pending["pending"]!.GetValue<bool>(), Is.True);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.That(api.Workspace.Exists("B", "docs/held.tmp"), Is.False, "PUT /rules alone applies nothing (seed: reload applies)");

        var (status, reloaded) = await api.PutAsync("rules/reload");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(reloaded["status"]!.GetValue<string>(), Is.EqualTo("ok"));
        Assert.That(reloaded["added"]!.GetValue<long>(), Is.EqualTo(1));
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/held.tmp"), "held.tmp reaches B under the new rules");
        var (_, after) = await api.GetAsync("rules");
        Assert.That(after["rules"]![0]!["services"]![1]!["options"]!.ToJsonString(), Is.EqualTo("""{"max-size":2097152}"""));
        Assert.That(after["pending"]!.GetValue<bool>(), Is.False);
    }

    [Test]
    public async Task Reload_rereads_the_setup_file_when_no_rules_were_put()
    {
        await using var api = await Api.StartAsync(Workspace.TwoServices.Replace("docs: {}", "docs: { blacklist: ['*.log'] }", StringComparison.Ordinal));
        api.Workspace.Write("A", "docs/app.log", "log");
        api.Workspace.Write("A", "docs/marker.txt", "m");
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/marker.txt"), "marker on B");
        Assert.That(api.Workspace.Exists("B", "docs/app.log"), Is.False);

        File.WriteAllText(api.Workspace.SetupFile, Workspace.TwoServices);
        var (status, body) = await api.PutAsync("rules/reload");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        await Workspace.EventuallyAsync(() => api.Workspace.Exists("B", "docs/app.log"), "app.log on B after the setup file changed");
    }

    [Test]
    public async Task Transfers_progress_and_recent_events_have_their_shapes()
    {
        await using var api = await Api.StartAsync();
        await api.PutAsync("entries/B/stop");
        api.Workspace.Write("A", "docs/queued.txt", "queued for B");
        await Workspace.EventuallyAsync(async () => (await api.GetAsync("transfers")).Body["transfers"]!.AsArray().Count == 1, "a pending transfer");

        var transfer = (await api.GetAsync("transfers")).Body["transfers"]![0]!;
        Assert.That(transfer["filename"]!.GetValue<string>(), Is.EqualTo("queued.txt"));
        Assert.That(transfer["target"]!.GetValue<string>(), Is.EqualTo("B"));
        Assert.That(transfer["origin"]!.GetValue<string>(), Is.EqualTo("A"));
        Assert.That(transfer["kind"]!.GetValue<string>(), Is.EqualTo("upload"));
        Assert.That(transfer["offset"]!.GetValue<long>(), Is.Zero);
        Assert.That(transfer["active"]!.GetValue<bool>(), Is.False);
        Assert.That((await api.GetAsync("transfers?active=true")).Body["transfers"]!.AsArray(), Is.Empty);

        var (_, progress) = await api.GetAsync("progress");
        Assert.That(progress["setup"]!.GetValue<string>(), Is.EqualTo("web"));
        Assert.That(progress["running"]!.GetValue<bool>(), Is.True);
        Assert.That(progress["pending"]!.GetValue<long>(), Is.EqualTo(1));

        var events = (await api.GetAsync("events/recent")).Body["events"]!.AsArray();
        Assert.That(events.Any(e => e!["type"]!.GetValue<string>() == "serviceStateChanged" && e["service"]!.GetValue<string>() == "B"
            && e["state"]!.GetValue<string>() == "stopped"), Is.True, events.ToJsonString());
        foreach (var e in events)
            AssertEpochSecondsOfNow(e!["time"], e.ToJsonString());
    }

    /// <summary>A time as every route gives it: seconds since the Unix epoch (a JSON number), as in the original API.</summary>
    private static void AssertEpochSecondsOfNow(JsonNode? time, string what)
    {
        Assert.That(time?.GetValueKind(), Is.EqualTo(JsonValueKind.Number), what);
        Assert.That(time!.GetValue<double>(), Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).Within(120), what);
    }

    [Test]
    public async Task Recent_events_include_those_of_the_start_up_scan()
    {
        using var workspace = new Workspace();
        workspace.Write("A", "docs/at-start.txt", "synced by the start-up scan");
        await using var app = workspace.BuildApp();
        await app.StartAsync();
        var client = app.GetTestClient();

        await Workspace.EventuallyAsync(async () => (await client.GetStringAsync("/api/v1.0/events/recent")).Contains("at-start.txt", StringComparison.Ordinal),
            "the start-up scan's sync among the recent events");
        var events = JsonNode.Parse(await client.GetStringAsync("/api/v1.0/events/recent"))!["events"]!.AsArray();
        Assert.That(events[0]!["type"]!.GetValue<string>(), Is.EqualTo("serviceStateChanged"), "from the first event on: " + events.ToJsonString());
        Assert.That(events.Any(e => e!["type"]!.GetValue<string>() == "fileSynced" && e["path"]!.GetValue<string>() == "at-start.txt"), Is.True);
        await app.StopAsync();
    }

    [Test]
    public async Task The_event_stream_sends_sync_events_as_they_happen_and_ends_when_the_engine_stops()
    {
        await using var api = await Api.StartAsync();
        using var response = await api.Client.GetAsync("/api/v1.0/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var lines = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync() is { } line)
                lock (lines) lines.Add(line);
        });

        api.Workspace.Write("A", "docs/streamed.txt", "s");
        await Workspace.EventuallyAsync(() => { lock (lines) return lines.Any(l => l.StartsWith("data:", StringComparison.Ordinal) && l.Contains("streamed.txt", StringComparison.Ordinal)); },
            "the sync event on the stream");
        string[] snapshot;
        lock (lines) snapshot = [.. lines];
        var index = Array.FindIndex(snapshot, l => l.Contains("streamed.txt", StringComparison.Ordinal) && l.Contains("fileSynced", StringComparison.Ordinal));
        Assert.That(index, Is.GreaterThan(0), string.Join("\n", snapshot));
        Assert.That(snapshot[index - 1], Is.EqualTo("event: fileSynced"));
        var data = JsonNode.Parse(snapshot[index]["data: ".Length..])!;
        Assert.That(data["type"]!.GetValue<string>(), Is.EqualTo("fileSynced"));
        Assert.That(data["service"]!.GetValue<string>(), Is.EqualTo("B"));
        Assert.That(data["source"]!.GetValue<string>(), Is.EqualTo("A"));
        AssertEpochSecondsOfNow(data["time"], snapshot[index]);

        await api.Engine.StopAsync();
        Assert.That(await Task.WhenAny(reading, Task.Delay(Workspace.Timeout(5))), Is.SameAs(reading), "the stream ends with the engine");
    }
}

/// <summary>
/// A driver whose manifest declares a secret option (as a cloud store's password would be): local storage underneath,
/// so the service really runs.
/// </summary>
internal static class VaultStorageDriverFactory
{
    public static LocalStorageVariantFactory Create() => new(DriverManifest.Parse("""
        {
          "id": "vault_storage",
          "name": "Vault storage",
          "description": "Local storage behind a password, for the API's secret-option tests.",
          "options": {
            "root": { "type": "string" },
            "password": { "type": "string", "secret": true }
          }
        }
        """));
}
