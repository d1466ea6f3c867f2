using System.Data.Common;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Metering;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Isolation;

/// <summary>
/// Keeps client keys apart (<c>Relay:Isolation:Mode=per-key</c>): a key reaches by id only the upstream objects it
/// created through the relay, and may name in a request body (<c>previous_response_id</c>, <c>file_id</c>, ...) only
/// those; anything else is answered 404 as if it did not exist, and the upstream sees nothing. What a key creates is
/// recorded as its own before the response that names it reaches it (<see cref="OwnershipCaptureStream"/>); what it
/// deletes is forgotten. A shared <c>RELAY_TOKEN</c> reaches every object, as without isolation.
/// </summary>
internal sealed partial class ObjectIsolationStage(
    RequestDelegate next, ObjectOwnership ownership, ObjectOwnershipStore store, IOptions<IsolationOptions> options, TimeProvider time, ILogger<ObjectIsolationStage> logger)
{
    private readonly bool _perKey = options.Value.IsPerKey;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!_perKey || context.Features.GetRequiredFeature<IClientFeature>().Client.KeyId is not { } keyId)
        {
            await next(context);
            return;
        }

        var request = context.Request;
        var route = ObjectRoute.Parse(RelayPaths.Remainder(request));
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            // A WebSocket session: its events are checked as they pass. Responses WebSocket mode creates responses,
            // recorded as the key's; a Realtime session's responses are not stored objects.
            var recordsResponses = route.Family?.Collection == "responses";
            var clock = time;
            context.Features.Set<IHttpUpgradeFeature>(new IsolatedUpgradeFeature(upgrade, stream => new IsolatedUpgradedStream(stream, keyId, recordsResponses, ownership, clock)));
            await next(context);
            return;
        }

        bool? stores = null;
        try
        {
            if (route.ObjectId is { } named && !await ownership.IsOwnedByAsync(named, keyId, context.RequestAborted))
            {
                await RelayErrorWriter.RefuseAsync(context, RelayError.NoSuchObject(route.Family!.Missing(named), route.Family.MissingCode));
                return;
            }

            if (HttpMethods.IsPost(request.Method) && await RequestBodyInspector.BufferJsonAsync(request, context.RequestAborted) is { } body)
            {
                stores = route.IsCollection ? StoreOption.Read(body.Span) : null;
                foreach (var (_, id) in ObjectReferences.Find(body.Span))
                {
                    if (!await ownership.IsOwnedByAsync(id, keyId, context.RequestAborted))
                    {
                        await RelayErrorWriter.RefuseAsync(context, MissingOf(id));
                        return;
                    }
                }
            }
        }
        catch (DbException e)
        {
            LogOwnershipUnavailable(logger, e.GetType().Name);
            await RelayErrorWriter.RefuseAsync(context, RelayError.OwnershipUnavailable, TimeSpan.FromSeconds(1));
            return;
        }

        if (HttpMethods.IsGet(request.Method) && route.IsCollection && route.Family!.Listed is not null)
        {
            try
            {
                await OwnedObjectList.WriteAsync(context, route.Family, keyId, store);
            }
            catch (DbException e)
            {
                LogOwnershipUnavailable(logger, e.GetType().Name);
                await RelayErrorWriter.RefuseAsync(context, RelayError.OwnershipUnavailable, TimeSpan.FromSeconds(1));
            }

            return;
        }

        // A chat completion is an object only when stored (store: true); a response unless store: false.
        var creates = Creates(request.Method, route) && (!route.IsCollection || StoreOption.Keeps(route, stores));
        var refreshes = Refreshes(request.Method, route);
        // A delete of an object forgets it before its answer reaches the client (a JSON answer is held for that, as a
        // create's is), so the list the client asks for next no longer shows it.
        var deletes = HttpMethods.IsDelete(request.Method) && route.IsObject;
        var forgotten = false;
        // The list of models names every fine-tuned model of the account: a key sees only its own among them.
        var filtersModels = HttpMethods.IsGet(request.Method) && route.IsCollection && route.Family!.OnlyOwnIds;
        if (!creates && !refreshes && !deletes && !filtersModels)
        {
            await next(context);
            return;
        }

        // The relay reads this answer, so it asks for it uncompressed, as metering does for usage (RFC 9110 12.5.3): a
        // compressed create could not be read, and its object would belong to no one, not even its creator.
        request.Headers.AcceptEncoding = "identity";
        var now = time.GetUtcNow();
        var capture = new OwnershipCaptureStream(context.Response.Body, context.Response, async root =>
        {
            if (refreshes && root.ValueKind == System.Text.Json.JsonValueKind.Object && root.TryGetProperty("id", out var id) && id.ValueEquals(route.ObjectId))
            {
                await ownership.RefreshAsync(route.ObjectId!, root.GetRawText(), CancellationToken.None);
            }

            if (creates)
            {
                // The object the path names is recorded already: only what it made (a batch's files, a job's model).
                var created = CreatedObjects.Read(root, keyId, now, route.IsCollection ? route.Family : null);
                await ownership.RecordAsync(route.ObjectId is { } self ? created.Where(o => o.ObjectId != self).ToList() : created, CancellationToken.None);
            }

            if (deletes)
            {
                forgotten = true;
                await ForgetAsync(route.ObjectId!);
            }

            return filtersModels ? await OwnModelsAsync(root, route.Family!, keyId) : null;
        });
        context.Response.Body = capture;
        await next(context);
        try
        {
            await capture.CompleteAsync(context.RequestAborted);
            if (deletes && !forgotten && context.Response.StatusCode is >= 200 and < 300)
            {
                // An answer that was not held (not JSON): forgotten just after it.
                await ForgetAsync(route.ObjectId!);
            }
        }
        catch (DbException e)
        {
            // The object exists upstream but could not be recorded: the client does not learn its id, and it belongs
            // to no key (the operator can assign it).
            LogOwnershipUnavailable(logger, e.GetType().Name);
            if (!context.Response.HasStarted)
            {
                await RelayErrorWriter.WriteAsync(context, RelayError.OwnershipUnavailable);
            }
            else
            {
                context.Abort();
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client left before the held body was sent; what it created is recorded all the same.
        }
    }

    /// <summary>
    /// A request whose response may name objects made for the caller: a create on a collection (a stream's first event
    /// included), a thread created with its run, an upload completed into a file, a batch read back with its files, a
    /// fine-tuning job read back with its model.
    /// </summary>
    private static bool Creates(string method, ObjectRoute route)
    {
        if (route.Family is not { } family)
        {
            return false;
        }

        if (HttpMethods.IsPost(method))
        {
            if (family.Collection is "videos" && route.Depth == 1)
            {
                // POST /v1/videos/{id}/remix makes a new video: the caller's, as any create.
                return true;
            }

            return route.ObjectId is null || (family.Collection is "uploads" or "batches" or "fine_tuning/jobs" && route.Depth == 1);
        }

        // A batch read back names its output files; a fine-tuning job, its fine-tuned model.
        return HttpMethods.IsGet(method) && family.Collection is "batches" or "fine_tuning/jobs" && route.IsObject;
    }

    /// <summary>
    /// A request whose answer is the current state of an object its owner reaches (a read, an update, a cancel): kept
    /// as the object's snapshot, so the owner's lists show what it last saw.
    /// </summary>
    private static bool Refreshes(string method, ObjectRoute route) =>
        route.Family?.Listed is not null && route.ObjectId is not null
        && (route.IsObject ? HttpMethods.IsGet(method) || HttpMethods.IsPost(method) : HttpMethods.IsPost(method) && route.Depth == 1);

    /// <summary>The list of models without the fine-tuned ones another key owns (or none does); null when it names none.</summary>
    private async Task<byte[]?> OwnModelsAsync(System.Text.Json.JsonElement root, ObjectFamily family, string keyId)
    {
        if (root.ValueKind != System.Text.Json.JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != System.Text.Json.JsonValueKind.Array)
        {
            return null;
        }

        var kept = new List<System.Text.Json.JsonElement>();
        var dropped = false;
        foreach (var model in data.EnumerateArray())
        {
            var id = model.TryGetProperty("id", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString() : null;
            if (id is not null && family.Owns(id) && !await ownership.IsOwnedByAsync(id, keyId, CancellationToken.None))
            {
                dropped = true;
                continue;
            }

            kept.Add(model);
        }

        if (!dropped)
        {
            return null;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("data"))
                {
                    writer.WriteStartArray("data");
                    kept.ForEach(model => model.WriteTo(writer));
                    writer.WriteEndArray();
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static RelayError MissingOf(string id)
    {
        foreach (var family in ObjectFamily.All)
        {
            if (family.Owns(id))
            {
                return RelayError.NoSuchObject(family.Missing(id), family.MissingCode);
            }
        }

        return RelayError.NoSuchObject($"No object found with id '{id}'.");
    }

    private async Task ForgetAsync(string id)
    {
        try
        {
            await ownership.ForgetAsync(id, CancellationToken.None);
        }
        catch (DbException e)
        {
            // Left recorded: the owner still reaches it, and the upstream answers that it is gone.
            LogOwnershipUnavailable(logger, e.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 1200, EventName = "OwnershipUnavailable", Level = LogLevel.Warning,
        Message = "Object ownership could not be read or recorded ({Error}); the request was refused with 503 ownership_unavailable")]
    private static partial void LogOwnershipUnavailable(ILogger logger, string error);
}
