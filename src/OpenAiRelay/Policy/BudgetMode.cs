namespace OpenAiRelay.Policy;

/// <summary>How a budget treats a request whose worst-case cost is not known at admission.</summary>
internal enum BudgetMode
{
    /// <summary>Reserve a configured output (<c>Relay:Limits:DefaultOutputReservationTokens</c>) and settle to the real cost.</summary>
    Reserve,

    /// <summary>Refuse it (400), so the budget can never be overshot.</summary>
    Strict,
}
