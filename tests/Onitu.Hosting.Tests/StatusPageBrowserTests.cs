using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Onitu.Hosting.Tests;

/// <summary>
/// The status page in a real headless browser: Debian's Chromium driven by Selenium through chromium-driver, against
/// the API on a real Kestrel socket and a real engine syncing real folders.
/// </summary>
[NonParallelizable]
public class StatusPageBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string ChromeDriver = "/usr/bin/chromedriver";

    [OneTimeSetUp]
    public static async Task EnsureChromiumAsync()
    {
        if (File.Exists(Chromium) && File.Exists(ChromeDriver))
            return;
        if (Environment.UserName != "root")
            Assert.Ignore($"{Chromium} or {ChromeDriver} is missing and the tests do not run as root to install chromium and chromium-driver.");
        using var install = Process.Start(new ProcessStartInfo("/bin/sh",
            ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = install.StandardOutput.ReadToEndAsync();
        var errors = install.StandardError.ReadToEndAsync();
        await install.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token);
        if (install.ExitCode != 0 || !File.Exists(ChromeDriver))
            throw new InvalidOperationException($"Installing chromium failed ({install.ExitCode}):\n{await output}\n{await errors}");
    }

    private static ChromeDriver StartBrowser()
    {
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60 * Workspace.TimeUnit));
    }

    private static string ServiceState(IWebDriver browser, string service) =>
        browser.FindElement(By.CssSelector($"#services tr[data-service='{service}'] .state")).GetAttribute("data-state") ?? "";

    [Test]
    public async Task The_page_shows_the_services_a_new_file_synced_without_reload_and_its_stop_button_stops_a_service()
    {
        using var workspace = new Workspace();
        workspace.Write("A", "docs/already-there.txt", "from before the start");
        await using var app = workspace.BuildApp(kestrelUrl: "http://127.0.0.1:0");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var token = app.Services.GetRequiredService<OnituApiToken>().Value;
        var engine = app.Services.GetRequiredService<SyncEngine>();

        using var browser = StartBrowser();
        var wait = new WebDriverWait(browser, Workspace.Timeout(20)) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            browser.Navigate().GoToUrl($"{address}/#token={token}");

            // The services, with their state.
            wait.Until(b => ServiceState(b, "A") == "running" && ServiceState(b, "B") == "running");
            Assert.That(browser.FindElement(By.Id("setup-name")).Text, Is.EqualTo("web"));
            Assert.That(browser.Url, Does.Not.Contain(token), "the token is taken out of the address bar");

            // A file created on disk appears as synced on both services, without reloading the page.
            var loads = browser.ExecuteScript("return performance.getEntriesByType('navigation').length");
            workspace.Write("A", "docs/made-in-the-test.txt", "hello browser");
            wait.Until(b => b.FindElement(By.CssSelector("#files tr[data-file='made-in-the-test.txt'] .uptodate")).Text == "A, B");
            wait.Until(b => b.FindElement(By.Id("events")).Text.Contains("made-in-the-test.txt synced to B from A", StringComparison.Ordinal));
            // Shown at the time of day it happened (the API gives seconds since the epoch, not a date string).
            var shownAtItsTime = browser.ExecuteScript("""
                const line = [...document.querySelectorAll("#events li")].find(li => li.textContent.includes("made-in-the-test.txt synced to B"));
                const now = Date.now();
                for (let s = 0; s <= 120; s++)
                  if (line.textContent.startsWith(new Date(now - s * 1000).toLocaleTimeString() + " ")) return true;
                return line.textContent;
                """);
            Assert.That(shownAtItsTime, Is.True);
            Assert.That(browser.ExecuteScript("return performance.getEntriesByType('navigation').length"), Is.EqualTo(loads), "no reload");
            Assert.That(workspace.Exists("B", "docs/made-in-the-test.txt"), Is.True);

            // The stop button stops the service, and the page shows it.
            browser.FindElement(By.CssSelector("#services tr[data-service='B'] button[data-action='stop']")).Click();
            wait.Until(b => ServiceState(b, "B") == "stopped");
            Assert.That(engine.GetServiceStatuses().Single(s => s.Name == "B").State, Is.EqualTo(Onitu.ServiceState.Stopped));
            Assert.That(browser.FindElement(By.Id("message")).Text, Is.EqualTo("B: stop done"));
            wait.Until(b => b.FindElements(By.CssSelector("#services tr[data-service='B'] button[data-action='start']")).Count == 1);

            // While B is stopped, a new file waits for it: the page shows it not yet on B.
            workspace.Write("A", "docs/waiting.txt", "for B");
            wait.Until(b => b.FindElement(By.CssSelector("#files tr[data-file='waiting.txt'] .missing")).Text == "B");
        }
        finally
        {
            var screenshot = Path.Combine(TestContext.CurrentContext.WorkDirectory, "status-page.png");
            ((ITakesScreenshot)browser).GetScreenshot().SaveAsFile(screenshot);
            TestContext.AddTestAttachment(screenshot, "The status page at the end of the test");
            TestContext.Progress.WriteLine($"Screenshot: {screenshot}");
            await app.StopAsync();
        }
    }

    [Test]
    public async Task A_transfer_in_flight_is_shown_with_its_offset()
    {
        using var workspace = new Workspace();
        var content = new byte[3 * 1024 * 1024];
        new Random(3).NextBytes(content);
        await using var app = workspace.BuildApp(kestrelUrl: "http://127.0.0.1:0", settings: new()
        {
            ["Onitu:ChunkSize"] = "262144",
            ["Onitu:BandwidthLimit"] = "524288", // 6 s for the file
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        using var browser = StartBrowser();
        var wait = new WebDriverWait(browser, Workspace.Timeout(20)) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            browser.Navigate().GoToUrl(address + "/");
            wait.Until(b => ServiceState(b, "B") == "running");
            File.WriteAllBytes(workspace.PathOf("A", "docs/big.bin"), content);

            var offset = wait.Until(b =>
            {
                var progress = b.FindElements(By.CssSelector("#transfers progress"));
                return progress.Count == 1 && long.TryParse(progress[0].GetAttribute("value"), out var value) && value > 0 ? (object)value : null;
            }) is long seen ? seen : 0;
            var row = browser.FindElement(By.CssSelector("#transfers tbody tr")).Text;
            Assert.That(row, Does.Contain("docs:big.bin").And.Contain("upload").And.Contain("B").And.Contain("/ 3.0 MiB"));
            Assert.That(offset, Is.GreaterThan(0).And.LessThan(content.Length));
            var shot = Path.Combine(TestContext.CurrentContext.WorkDirectory, "status-page-transfer.png");
            ((ITakesScreenshot)browser).GetScreenshot().SaveAsFile(shot);
            TestContext.AddTestAttachment(shot, "A transfer in flight");
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Test]
    public async Task Without_the_token_the_page_says_why_a_button_did_nothing()
    {
        using var workspace = new Workspace();
        await using var app = workspace.BuildApp(kestrelUrl: "http://127.0.0.1:0");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var engine = app.Services.GetRequiredService<SyncEngine>();

        using var browser = StartBrowser();
        var wait = new WebDriverWait(browser, Workspace.Timeout(20)) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            browser.Navigate().GoToUrl(address + "/");
            wait.Until(b => ServiceState(b, "A") == "running");
            browser.FindElement(By.CssSelector("#services tr[data-service='A'] button[data-action='stop']")).Click();
            wait.Until(b => b.FindElement(By.Id("message")).Text.Contains("token", StringComparison.Ordinal));
            Assert.That(engine.GetServiceStatuses().Single(s => s.Name == "A").State, Is.Not.EqualTo(Onitu.ServiceState.Stopped));
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
