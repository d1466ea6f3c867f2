using OpenAiRelay.Hosting;
using OpenAiRelay.Pricing;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Metering;

public sealed class PriceTableTests
{
    private static readonly PriceTable s_shipped = PriceTable.Load(null);

    [Theory]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano")]
    [InlineData("o3-mini-2025-01-31", "o3-mini")]
    [InlineData("gpt-4-0613", "gpt-4")]
    [InlineData("GPT-5", "gpt-5")]
    public void DatedSnapshot_TakesTheLongestListedBaseName(string model, string baseName)
        => Assert.Equal(s_shipped.Find(baseName), s_shipped.Find(model));

    [Theory]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o")]
    [InlineData("o3-mini", "o3")]
    public void LongerNameWins_OverItsShorterPrefix(string model, string shorter)
        => Assert.NotEqual(s_shipped.Find(shorter), s_shipped.Find(model));

    [Theory]
    [InlineData("my-finetune")]
    [InlineData("gpt-4o-something-new")]
    [InlineData("gpt-5.9")]
    [InlineData("")]
    [InlineData(null)]
    public void UnknownModel_CostsNull_NeverAGuess(string? model)
        => Assert.Null(s_shipped.CostMicros(model, 1000, 0, 1000));

    [Fact]
    public void Cost_CachedInputAtCachedPrice_ReasoningInsideOutput()
    {
        // gpt-4.1: $2 input, $0.50 cached, $8 output per 1M tokens.
        var cost = s_shipped.CostMicros("gpt-4.1-2025-04-14", inputTokens: 10_000, cachedTokens: 4_000, outputTokens: 2_000);
        Assert.Equal((6_000 * 2) + (4_000 / 2) + (2_000 * 8), cost);
    }

    [Fact]
    public void ShippedTable_CoversTheCommonModels()
    {
        foreach (var model in new[] { "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano", "text-embedding-3-small", "text-embedding-3-large", "gpt-image-1", "gpt-realtime", "gpt-4o-transcribe" })
        {
            Assert.NotNull(s_shipped.Find(model));
        }

        Assert.Matches(@"^\d{4}-\d{2}-\d{2}$", s_shipped.Updated);
    }

    [Fact]
    public void OverrideFile_IsMergedOverTheShippedTable()
    {
        using var directory = new TempDataDirectory();
        var path = directory.File("prices.json");
        File.WriteAllText(path, """{"updated":"2027-01-01","models":{"gpt-4o":{"input":1,"output":2},"house-model":{"input":3,"cached_input":1,"output":4}}}""");
        var table = PriceTable.Load(path);

        Assert.Equal(new ModelPrice(1, 1, 2), table.Find("gpt-4o-2024-08-06"));
        Assert.Equal(new ModelPrice(3, 1, 4), table.Find("house-model"));
        Assert.Equal(s_shipped.Find("gpt-5"), table.Find("gpt-5"));
        Assert.Equal("2027-01-01", table.Updated);
    }

    [Fact]
    public void BrokenOverrideFile_StopsStartup()
    {
        using var directory = new TempDataDirectory();
        var path = directory.File("prices.json");
        File.WriteAllText(path, """{"models":{"gpt-4o":{"input":"cheap"}}}""");
        Assert.Throws<RelayConfigurationException>(() => PriceTable.Load(path));
        Assert.Throws<RelayConfigurationException>(() => PriceTable.Load(directory.File("missing.json")));
    }
}
