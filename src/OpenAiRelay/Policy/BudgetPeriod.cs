namespace OpenAiRelay.Policy;

/// <summary>The span a budget applies to: a UTC calendar day, ISO week (from Monday) or month, or the key's whole life.</summary>
internal enum BudgetPeriod
{
    Day,
    Week,
    Month,
    Total,
}
