using OpenAiRelay.Errors;

namespace OpenAiRelay.Limits;

/// <summary>A request's demand on its key's limits, or why a budget cannot hold it.</summary>
internal readonly record struct ReservationPlan(KeyLimiter.Demand Demand, RelayError? Refusal);
