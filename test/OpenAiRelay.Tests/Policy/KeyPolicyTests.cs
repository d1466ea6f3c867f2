using System.Text.Json;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Tests.Policy;

/// <summary>What a policy allows, and the one JSON form the CLI, the admin API and the store share.</summary>
public sealed class KeyPolicyTests
{
    [Theory]
    [InlineData("/v1/chat/completions", true)]
    [InlineData("/v1/chat", true)]
    [InlineData("/V1/Chat/Completions", true)]
    [InlineData("/v1/chatx", false)]
    [InlineData("/v1/embeddings", false)]
    [InlineData("/v1/responses/resp_1/input_items", true)]
    [InlineData("/v1/responsesx", false)]
    public void AnAllowList_MatchesWholeSegments(string path, bool allowed)
    {
        var policy = new KeyPolicy { Endpoints = ["/v1/chat", "/v1/responses"] };
        Assert.Equal(allowed, policy.AllowsEndpoint(path));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(new[] { "/v1" }, false)]
    [InlineData(new[] { "/v1/organization" }, true)]
    [InlineData(new[] { "/v1/organization/users" }, true)]
    public void TheOrganizationAdminApi_IsRefused_UnlessTheListNamesIt(string[]? endpoints, bool allowed)
    {
        var policy = new KeyPolicy { Endpoints = endpoints };
        Assert.Equal(allowed, policy.AllowsEndpoint("/v1/organization/users"));
        Assert.False(KeyPolicy.Unlimited.AllowsEndpoint("/v1/organization"));
        Assert.False(KeyPolicy.Unlimited.AllowsEndpoint("/v1/Organization/api_keys"));
        Assert.True(KeyPolicy.Unlimited.AllowsEndpoint("/v1/organizations"));
    }

    [Theory]
    [InlineData("/v1/realtime/sessions")]
    [InlineData("/v1/realtime/transcription_sessions")]
    [InlineData("/v1/chatkit/sessions")]
    public void EveryOtherCredentialMintingEndpoint_IsRefusedForALimitedKey_UnlessNamed(string path)
    {
        Assert.True(KeyPolicy.Unlimited.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { BudgetMicros = 1_000 }.AllowsEndpoint(path));
        Assert.True(new KeyPolicy { BudgetMicros = 1_000, Endpoints = [path] }.AllowsEndpoint(path));
    }

    [Fact]
    public void ACredentialMintingEndpoint_IsRefusedForALimitedKey_UnlessNamed()
    {
        const string path = "/v1/realtime/client_secrets";
        Assert.True(KeyPolicy.Unlimited.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { Rpm = 60 }.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { MaxConcurrent = 2 }.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { Rpm = 60, Endpoints = ["/v1/realtime"] }.AllowsEndpoint(path));
        Assert.True(new KeyPolicy { Rpm = 60, Endpoints = ["/v1/realtime/client_secrets"] }.AllowsEndpoint(path));
        Assert.True(new KeyPolicy { Rpm = 60, Endpoints = ["/v1/realtime"] }.AllowsEndpoint("/v1/realtime"));
    }

    [Fact]
    public void Json_RoundTrips_AndAnUnlimitedPolicyIsStoredAsNothing()
    {
        var policy = new KeyPolicy { Rpm = 60, MaxConcurrent = 2, Endpoints = ["/v1/chat", "/v1/responses"] };
        var json = KeyPolicyJson.Serialize(policy);
        Assert.Equal("""{"rpm":60,"max_concurrent":2,"endpoints":["/v1/chat","/v1/responses"]}""", json);
        var back = KeyPolicyJson.Parse(json);
        Assert.Equal(policy.Rpm, back.Rpm);
        Assert.Equal(policy.MaxConcurrent, back.MaxConcurrent);
        Assert.Equal(policy.Endpoints, back.Endpoints);
        Assert.Null(KeyPolicyJson.Serialize(KeyPolicy.Unlimited));
        Assert.True(KeyPolicyJson.Parse(null).IsUnlimited);
    }

    [Fact]
    public void Changes_SetClearOrLeaveEachField()
    {
        var policy = new KeyPolicy { Rpm = 60, MaxConcurrent = 2, Endpoints = ["/v1/chat"] };
        using var changes = JsonDocument.Parse("""{"rpm": null, "max_concurrent": "none", "endpoints": ["/v1/embeddings/", "/v1/embeddings"]}""");
        var changed = KeyPolicyJson.Read(changes.RootElement, policy);
        Assert.Null(changed.Rpm);
        Assert.Null(changed.MaxConcurrent);
        Assert.Equal(["/v1/embeddings"], changed.Endpoints);

        using var none = JsonDocument.Parse("{}");
        Assert.Equal(policy, KeyPolicyJson.Read(none.RootElement, policy));
    }

    [Fact]
    public void EveryField_RoundTripsThroughJson_BudgetAsDecimalDollarsOutside_IntegerMicrosInside()
    {
        using var changes = JsonDocument.Parse(
            """{"rpm": 60, "tpm": 40000, "max_concurrent": 2, "budget_usd": 20.5, "budget_period": "week", "budget_mode": "strict", "models": ["gpt-4o-mini*", "GPT-4.1", "gpt-4.1"], "endpoints": ["/v1/chat"]}""");
        var policy = KeyPolicyJson.Read(changes.RootElement, KeyPolicy.Unlimited);
        Assert.Equal(20_500_000, policy.BudgetMicros);
        Assert.Equal(BudgetPeriod.Week, policy.BudgetPeriod);
        Assert.Equal(BudgetMode.Strict, policy.BudgetMode);
        Assert.Equal(["gpt-4o-mini*", "GPT-4.1"], policy.Models);
        var json = KeyPolicyJson.Serialize(policy);
        Assert.Equal("""{"rpm":60,"tpm":40000,"max_concurrent":2,"budget_usd":20.5,"budget_period":"week","budget_mode":"strict","models":["gpt-4o-mini*","GPT-4.1"],"endpoints":["/v1/chat"]}""", json);
        Assert.Equal(json, KeyPolicyJson.Serialize(KeyPolicyJson.Parse(json)));

        // A budget without a period is monthly; a micro-dollar is the finest step.
        using var monthly = JsonDocument.Parse("""{"budget_usd": 0.000001}""");
        var small = KeyPolicyJson.Read(monthly.RootElement, KeyPolicy.Unlimited);
        Assert.Equal(1, small.BudgetMicros);
        Assert.Equal("""{"budget_usd":0.000001,"budget_period":"month"}""", KeyPolicyJson.Serialize(small));
    }

    [Theory]
    [InlineData("gpt-4o-mini", true)]
    [InlineData("GPT-4o-Mini-2024-07-18", true)]
    [InlineData("gpt-4.1", true)]
    [InlineData("gpt-4.1-mini", false)]
    [InlineData("gpt-4o", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void AModelAllowList_MatchesNamesAndStarPrefixes(string? model, bool allowed)
    {
        var policy = new KeyPolicy { Models = ["gpt-4o-mini*", "gpt-4.1"] };
        Assert.Equal(allowed, policy.AllowsModel(model));
        Assert.True(KeyPolicy.Unlimited.AllowsModel(model));
    }

    [Theory]
    [InlineData("/v1/batches")]
    [InlineData("/v1/batches/batch_1/cancel")]
    [InlineData("/v1/fine_tuning/jobs")]
    [InlineData("/v1/evals/eval_1/runs")]
    [InlineData("/v1/containers")]
    public void WorkBilledOutsideTheLedger_IsRefusedForABudgetedKey_UnlessNamed(string path)
    {
        Assert.True(new KeyPolicy { Rpm = 60 }.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { BudgetMicros = 1_000_000 }.AllowsEndpoint(path));
        Assert.False(new KeyPolicy { BudgetMicros = 1_000_000, Endpoints = ["/v1"] }.AllowsEndpoint(path));
        var root = "/" + string.Join('/', path.Split('/')[1..3]);
        Assert.True(new KeyPolicy { BudgetMicros = 1_000_000, Endpoints = [root] }.AllowsEndpoint(path));
    }

    [Theory]
    [InlineData("""{"rpm": 0}""", "between 1 and")]
    [InlineData("""{"rpm": -5}""", "between 1 and")]
    [InlineData("""{"rpm": 1.5}""", "whole number")]
    [InlineData("""{"rpm": "60"}""", "whole number")]
    [InlineData("""{"max_concurrent": 1000000001}""", "between 1 and")]
    [InlineData("""{"endpoints": "/v1/chat"}""", "array of strings")]
    [InlineData("""{"endpoints": []}""", "at least one")]
    [InlineData("""{"endpoints": ["/v2/chat"]}""", "/v1 path prefix")]
    [InlineData("""{"endpoints": ["/v1/chat?x=1"]}""", "/v1 path prefix")]
    [InlineData("""{"endpoints": ["/v1//chat"]}""", "/v1 path prefix")]
    [InlineData("""{"endpoints": ["/v1/chat/%2e%2e"]}""", "/v1 path prefix")]
    [InlineData("""{"rpn": 60}""", "unknown policy field 'rpn'")]
    [InlineData("""{"tpm": 0}""", "between 1 and")]
    [InlineData("""{"budget_usd": 0}""", "more than 0")]
    [InlineData("""{"budget_usd": -1}""", "more than 0")]
    [InlineData("""{"budget_usd": 1000000001}""", "at most 1000000000")]
    [InlineData("""{"budget_usd": 0.0000005}""", "finer than a micro-dollar")]
    [InlineData("""{"budget_usd": true}""", "number of dollars")]
    [InlineData("""{"budget_period": "year"}""", "day, week, month or total")]
    [InlineData("""{"budget_period": 7}""", "must be a string")]
    [InlineData("""{"budget_mode": "soft"}""", "reserve or strict")]
    [InlineData("""{"models": []}""", "at least one model")]
    [InlineData("""{"models": ["gpt 4"]}""", "prefix ending in *")]
    [InlineData("""{"models": ["*gpt"]}""", "prefix ending in *")]
    [InlineData("""[1]""", "JSON object")]
    public void BadChanges_AreRefusedWithTheRule(string json, string message)
    {
        using var changes = JsonDocument.Parse(json);
        var error = Assert.Throws<FormatException>(() => KeyPolicyJson.Read(changes.RootElement, KeyPolicy.Unlimited));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldsOfTheKeyItself_CanBeSkipped()
    {
        using var create = JsonDocument.Parse("""{"name": "alice", "expires_in": "30d", "rpm": 5}""");
        Assert.Equal(5, KeyPolicyJson.Read(create.RootElement, KeyPolicy.Unlimited, new HashSet<string> { "name", "expires_in" }).Rpm);
        Assert.Throws<FormatException>(() => KeyPolicyJson.Read(create.RootElement, KeyPolicy.Unlimited));
    }
}
