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

    /// <summary>A generation that produces output tokens (every one but embeddings), so an output cap applies to it.</summary>
    bool GeneratesOutput { get; }

    /// <summary>A multipart form whose model is read only while the body streams (<see cref="FormModelCheck"/>).</summary>
    bool IsForm { get; }

    /// <summary>The tokenizer's estimate of the prompt, 0 when there is no body to read.</summary>
    long PromptEstimate { get; }

    /// <summary>The output cap the request sets (<c>max_tokens</c>, <c>max_completion_tokens</c>, <c>max_output_tokens</c>), or null.</summary>
    long? OutputCap { get; }

    /// <summary>Choices asked for (<c>n</c>); each may produce up to <see cref="OutputCap"/> tokens.</summary>
    int Choices { get; }

    /// <summary>
    /// For a multipart form, whose <c>model</c> field is found only while the body streams to the upstream: called with
    /// the model when it is found; returning an error stops the body there, so the upstream never receives a whole
    /// request, and the client gets the error. Null accepts every model.
    /// </summary>
    Func<string, Errors.RelayError?>? FormModelCheck { get; set; }

    /// <summary>
    /// For a WebSocket session: called with each response's usage (and the session's model) as the response is done;
    /// returning false ends the session after that response's frame (its key's budget is spent). Null ends none.
    /// </summary>
    Func<TokenUsage, string?, bool>? OnSessionResponse { get; set; }
}
