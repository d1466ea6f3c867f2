namespace OpenAiRelay.Streams;

/// <summary>
/// A <see cref="DelegatingStream"/> that owns its inner stream: disposing it disposes that stream too. For the wrappers
/// of an upgraded connection (a WebSocket tunnel), whose holder is the only one left to close it.
/// </summary>
internal abstract class OwningDelegatingStream(Stream inner) : DelegatingStream(inner)
{
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync();
        await base.DisposeAsync();
    }
}
