using Lab.Load.Reporting;
using Microsoft.Playwright;
using SkiaSharp;

namespace Lab.Load.Tests;

/// <summary>Debian's Chromium, which .ci/run installs (browser downloads do not work here).</summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static void AssertInstalled() =>
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: apt-get install -y chromium");
}

[Collection("load runs")]
public sealed class HtmlChartScreenshotTests(ReportFixture fixture) : IClassFixture<ReportFixture>
{
    [Fact]
    public async Task Html_report_shows_drawn_charts_in_a_browser()
    {
        Chromium.AssertInstalled();
        var dir = Path.Combine(Path.GetTempPath(), "lab-load-html-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, ReportFiles.Html);
            await File.WriteAllTextAsync(file, HtmlReportWriter.Write(fixture.Report));

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium.ExecutablePath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } });
            await page.GotoAsync(new Uri(file).AbsoluteUri);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), "lab-load-report.png"), FullPage = true });

            foreach (var id in new[] { "latency-chart", "throughput-chart" })
            {
                var svg = page.Locator($"#{id} svg");
                var box = await svg.BoundingBoxAsync();
                Assert.NotNull(box);
                Assert.True(box.Width > 400 && box.Height > 150, $"{id} is {box.Width}x{box.Height}");

                // A drawn chart has axes, tick labels and coloured lines: many non-white pixels in several colours.
                using var bitmap = SKBitmap.Decode(await svg.ScreenshotAsync());
                var (inked, colours) = Ink(bitmap);
                Assert.True(inked > 0.02, $"{id}: only {inked:P2} of the pixels are drawn");
                Assert.True(colours >= 4, $"{id}: only {colours} distinct strong colours");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Share of pixels that are not (near) white, and how many distinct saturated hues appear.</summary>
    private static (double Inked, int Colours) Ink(SKBitmap bitmap)
    {
        long inked = 0;
        var hues = new HashSet<int>();
        for (var y = 0; y < bitmap.Height; y++)
        {
            for (var x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (c.Red < 235 || c.Green < 235 || c.Blue < 235)
                {
                    inked++;
                }

                c.ToHsv(out var h, out var s, out var v);
                if (s > 40 && v > 30)
                {
                    hues.Add((int)(h / 20));
                }
            }
        }

        return (inked / (double)(bitmap.Width * bitmap.Height), hues.Count);
    }
}
