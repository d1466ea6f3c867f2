namespace OpenAiRelay.Metering;

/// <summary>
/// What the relay read of a request before forwarding it, as the inspection stage decided it: the model asked for and
/// the prompt estimate. Read by the key policy and limits (a model allow-list, reservations) and by metering.
/// </summary>
internal interface IRequestBodyFeature
{
    /// <summary>The <c>model</c> of a JSON body or a multipart form, or null when the request names none.</summary>
    string? Model { get; }

    /// <summary>True for a request on an endpoint that reports usage (a generation).</summary>
    bool ExpectsUsage { get; }

    /// <summary>The tokenizer's estimate of the prompt, 0 when there is no body to read.</summary>
    long PromptEstimate { get; }
}
