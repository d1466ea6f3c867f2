namespace OpenAiRelay.Storage;

internal enum UsageGrouping
{
    Total,
    Key,
    Model,
    Day,
}
