namespace OpenAiRelay.Admin;

/// <summary>An admin request the operator must correct (bad argument, unknown key); its message is shown as is.</summary>
internal sealed class AdminUsageException(string message) : Exception(message);
