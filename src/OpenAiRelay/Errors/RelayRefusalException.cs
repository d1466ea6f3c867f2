namespace OpenAiRelay.Errors;

/// <summary>
/// Thrown from inside a request body that is already streaming to the upstream when the relay finds, in that body, a
/// reason to refuse the request (a form's model the key may not use). Failing the read stops the upload before it is
/// whole, so the upstream never has a complete request; the forwarder then answers the client with <see cref="Error"/>.
/// </summary>
internal sealed class RelayRefusalException(RelayError error) : IOException(error.Message)
{
    public RelayError Error { get; } = error;
}
