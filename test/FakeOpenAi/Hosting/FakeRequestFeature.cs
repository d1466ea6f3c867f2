using FakeOpenAi.Faults;

namespace FakeOpenAi.Hosting;

/// <summary>Per-request state shared by the fake's middleware and endpoints (stored in <c>HttpContext.Features</c>).</summary>
internal sealed class FakeRequestFeature
{
    public RecordedRequest? Recorded { get; set; }

    public FaultPlan Plan { get; set; } = FaultPlan.None;

    /// <summary>A WebSocket client disappeared without a close handshake.</summary>
    public bool ClientVanished { get; set; }

    /// <summary>The fake aborted the connection on purpose, so RequestAborted firing is not the client's doing.</summary>
    public bool ResetByFake { get; set; }

    public bool IsWebSocket { get; set; }
}
