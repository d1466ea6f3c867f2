namespace OpenAiRelay.Storage;

/// <summary>
/// One admin action. <see cref="Actor"/> is a label (<c>admin-token</c>, <c>cli:root</c>), <see cref="Target"/> the key's
/// name and label: nothing here is a secret, so the table can be shown as it is.
/// </summary>
internal sealed record AdminAuditEntry(DateTimeOffset At, string Actor, string? Address, string Action, string Target);
