using System.Globalization;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Admin;

/// <summary>A policy in one short line for tables and CLI messages: <c>rpm 60, concurrent 2, budget $20.00/month, endpoints /v1/chat</c>.</summary>
internal static class PolicyText
{
    public static string Describe(KeyPolicy policy)
    {
        if (policy.IsUnlimited)
        {
            return "default";
        }

        var parts = new List<string>();
        if (policy.Rpm is { } rpm)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"rpm {rpm}"));
        }

        if (policy.Tpm is { } tpm)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"tpm {tpm}"));
        }

        if (policy.MaxConcurrent is { } concurrent)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"concurrent {concurrent}"));
        }

        if (policy.BudgetMicros is { } budget)
        {
            parts.Add($"budget {KeySpend.Dollars(budget)}/{policy.BudgetPeriod.Name()}{(policy.BudgetMode == BudgetMode.Strict ? " strict" : string.Empty)}");
        }

        if (policy.Models is { } models)
        {
            parts.Add("models " + string.Join(' ', models));
        }

        if (policy.Endpoints is { } endpoints)
        {
            parts.Add("endpoints " + string.Join(' ', endpoints));
        }

        return string.Join(", ", parts);
    }
}
