using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OpenAiRelay.AdminConsole;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Policy;
using OpenAiRelay.Isolation;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// The admin HTTP API under <c>/admin/</c>, guarded by its own bearer token (<c>RELAY_ADMIN_TOKEN</c>, never a client
/// key), compared in constant time. Without that token the routes are not mapped at all, so every <c>/admin</c> path is
/// the relay's ordinary 404.
/// </summary>
internal static partial class AdminEndpoints
{
    private const int MaxBodyBytes = 16 * 1024;

    /// <summary>The fields of a create call that are the key's, not its policy's.</summary>
    private static readonly HashSet<string> s_keyFields = ["name", "expires_in"];

    public static void MapAdminEndpoints(this IEndpointRouteBuilder endpoints, string? adminToken)
    {
        if (string.IsNullOrEmpty(adminToken))
        {
            return;
        }

        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(adminToken));
        endpoints.MapConsolePages();
        MapSessionEndpoints(endpoints, expected);
        var admin = endpoints.MapGroup("/admin");
        admin.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            // The console's browser: a live session cookie (and no Authorization header, which would decide instead),
            // with the anti-forgery checks on anything that changes state.
            if (http.Request.Headers.Authorization.Count == 0
                && http.RequestServices.GetRequiredService<ConsoleSessionStore>().Find(ConsoleRequests.SessionId(http.Request)) is { } session)
            {
                return ConsoleRequests.Forgery(http.Request, session) is { } forgery ? Error(http, AdminErrors.Forbidden(forgery)) : await next(context);
            }

            // Failed admin tokens count against the same per-address allowance as failed client tokens: a throttled
            // address is refused before its token is looked at, and a guess past the allowance gets 429 too.
            var throttle = http.RequestServices.GetRequiredService<FailedAuthThrottle>();
            var address = http.Connection.RemoteIpAddress;
            if (throttle.RetryAfter(address) is { } throttled)
            {
                return Throttled(http, throttled);
            }

            if (IsAdmin(http.Request, expected))
            {
                return await next(context);
            }

            return throttle.Failed(address) is { } wait ? Throttled(http, wait) : Error(http, AdminErrors.Unauthorized);
        });

        admin.MapPost("/keys", CreateKeyAsync);
        admin.MapGet("/keys", ListKeysAsync);
        admin.MapPatch("/keys/{nameOrKeyId}", SetPolicyAsync);
        admin.MapDelete("/keys/{nameOrKeyId}", RevokeKeyAsync);
        admin.MapGet("/usage", UsageAsync);
        admin.MapGet("/audit", AuditAsync);
        admin.MapGet("/objects", ListObjectsAsync);
        admin.MapPost("/objects/{objectId}/assign", AssignObjectAsync);
        admin.MapPost("/objects/{objectId}/release", ReleaseObjectAsync);
        MapConsoleApi(admin);
    }

    private static bool IsAdmin(HttpRequest request, byte[] expected)
    {
        if (!BearerToken.TryParseAuthorization(request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0] : null, out var token))
        {
            return false;
        }

        return IsAdminToken(token, expected);
    }

    private static bool IsAdminToken(ReadOnlySpan<char> token, byte[] expected)
    {
        if (token.Length > BearerToken.MaxLength)
        {
            return false;
        }

        // Digests have a fixed length, so the comparison time says nothing about the token's length or content.
        Span<byte> candidate = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> utf8 = stackalloc byte[BearerToken.MaxLength * 3];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(token, utf8)], candidate);
        return CryptographicOperations.FixedTimeEquals(candidate, expected);
    }

    private static async Task<IResult> CreateKeyAsync(HttpContext context, KeyAdministration keys, ClientAuthenticator authenticator, TimeProvider time)
    {
        string? name = null, expiresIn = null;
        KeyPolicy policy;
        try
        {
            var body = await ReadBodyAsync(context);
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Error(context, AdminErrors.BadRequest("The body must be a JSON object: {\"name\": \"alice\", \"expires_in\": \"30d\"}"));
            }

            if (document.RootElement.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
            {
                name = n.GetString();
            }

            if (document.RootElement.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.String)
            {
                expiresIn = e.GetString();
            }

            policy = KeyPolicyJson.Read(document.RootElement, KeyPolicy.Unlimited, s_keyFields);
        }
        catch (FormatException e)
        {
            return Error(context, AdminErrors.BadRequest(e.Message + "."));
        }
        catch (JsonException)
        {
            return Error(context, AdminErrors.BadRequest("The body must be JSON: {\"name\": \"alice\", \"expires_in\": \"30d\"}"));
        }
        catch (InvalidDataException)
        {
            return Error(context, AdminErrors.BadRequest("The body is too large."));
        }

        if (!KeyNames.IsValid(name))
        {
            return Error(context, AdminErrors.BadRequest("name: " + KeyNames.Rule + "."));
        }

        TimeSpan? lifetime = null;
        if (expiresIn is not null)
        {
            if (!DurationText.TryParse(expiresIn, out var parsed))
            {
                return Error(context, AdminErrors.BadRequest("expires_in must look like 90m, 12h, 30d or 4w, at most 100 years."));
            }

            lifetime = parsed;
        }

        try
        {
            var created = await keys.CreateAsync(name!, lifetime, policy, AdminActor.Api(context), context.RequestAborted);
            authenticator.KeyCreated();
            return Json(StatusCodes.Status201Created, writer => AdminJson.WriteKey(writer, created.Key, time.GetUtcNow(), created.Token));
        }
        catch (DuplicateKeyNameException e)
        {
            return Error(context, AdminErrors.Conflict(e.Message + "."));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    /// <summary>
    /// <c>PATCH /admin/keys/{name}</c>: the policy fields present in the body are set (a number or list), or cleared
    /// (<c>null</c> or <c>"none"</c>); absent fields stay as they were.
    /// </summary>
    private static async Task<IResult> SetPolicyAsync(HttpContext context, string nameOrKeyId, KeyAdministration keys, ClientAuthenticator authenticator, TimeProvider time)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(await ReadBodyAsync(context));
        }
        catch (JsonException)
        {
            return Error(context, AdminErrors.BadRequest("The body must be JSON: {\"rpm\": 60, \"max_concurrent\": null}"));
        }
        catch (InvalidDataException)
        {
            return Error(context, AdminErrors.BadRequest("The body is too large."));
        }

        using (document)
        {
            var changes = document.RootElement;
            if (changes.ValueKind != JsonValueKind.Object || !changes.EnumerateObject().Any())
            {
                return Error(context, AdminErrors.BadRequest("The body must be a JSON object with at least one policy field: {\"rpm\": 60}"));
            }

            try
            {
                var changed = await keys.SetPolicyAsync(nameOrKeyId, policy => KeyPolicyJson.Read(changes, policy), AdminActor.Api(context), context.RequestAborted);
                if (changed is null)
                {
                    return Error(context, AdminErrors.KeyNotFound);
                }

                // This process applies it at once; other instances within their key cache TTL.
                authenticator.KeyChanged(changed.KeyId);
                return Json(StatusCodes.Status200OK, writer => AdminJson.WriteKey(writer, changed, time.GetUtcNow()));
            }
            catch (FormatException e)
            {
                return Error(context, AdminErrors.BadRequest(e.Message + "."));
            }
            catch (DbException)
            {
                return Error(context, AdminErrors.StorageUnavailable);
            }
        }
    }

    private static async Task<IResult> ListKeysAsync(HttpContext context, KeyAdministration keys, UsageStore usage, IOptions<LimitOptions> limits, TimeProvider time)
    {
        try
        {
            var all = await keys.ListAsync(context.RequestAborted);
            var now = time.GetUtcNow();
            var spends = await KeySpend.ReadAsync(all, limits.Value.DefaultPolicy, usage, now, context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteKeys(writer, all, now, spends));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> RevokeKeyAsync(HttpContext context, string nameOrKeyId, KeyAdministration keys, ClientAuthenticator authenticator, TimeProvider time)
    {
        try
        {
            var revoked = await keys.RevokeAsync(nameOrKeyId, AdminActor.Api(context), context.RequestAborted);
            if (revoked.Count == 0)
            {
                return Error(context, AdminErrors.KeyNotFound);
            }

            foreach (var key in revoked)
            {
                authenticator.KeyChanged(key.KeyId);
            }

            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteKeys(writer, revoked, time.GetUtcNow()));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> UsageAsync(HttpContext context, UsageStore usage, string? since, string? until, string? by)
    {
        if (!UsageQueryText.TryParse(since, until, by, out var query, out var error))
        {
            return Error(context, AdminErrors.BadRequest(error! + "."));
        }

        try
        {
            var rows = await usage.SummarizeAsync(query, context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteUsage(writer, query, rows));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> AuditAsync(HttpContext context, KeyAdministration keys, string? since)
    {
        if (!UsageQueryText.TryParseSince(since, out var from, out var error))
        {
            return Error(context, AdminErrors.BadRequest(error! + "."));
        }

        try
        {
            var entries = await keys.AuditAsync(from, context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteAudit(writer, entries));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> ListObjectsAsync(HttpContext context, ObjectAdministration objects, string? key, string? kind, bool? unowned, int? limit)
    {
        try
        {
            string? owner = null;
            if (key is not null)
            {
                owner = (await objects.FindKeyAsync(key, context.RequestAborted))?.KeyId;
                if (owner is null)
                {
                    return Error(context, AdminErrors.KeyNotFound);
                }
            }

            var found = await objects.ListAsync(owner, unowned == true, kind, Math.Clamp(limit ?? 100, 1, 10_000), context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteObjects(writer, found));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    /// <summary><c>{"key": "name or key id", "kind": "file"}</c> (the kind only for an object the relay never saw).</summary>
    private static async Task<IResult> AssignObjectAsync(HttpContext context, string objectId, ObjectAdministration objects, ObjectOwnership ownership)
    {
        string? key, kind;
        try
        {
            using var body = JsonDocument.Parse(await ReadBodyAsync(context));
            key = body.RootElement.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            kind = body.RootElement.TryGetProperty("kind", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException)
        {
            return Error(context, AdminErrors.BadRequest("The body must be a JSON object such as {\"key\": \"alice\"} (with \"kind\" for an object the relay never saw)."));
        }

        if (string.IsNullOrEmpty(key))
        {
            return Error(context, AdminErrors.BadRequest("'key' is required: the name or key id of the key that owns the object from now on."));
        }

        try
        {
            var owner = await objects.FindKeyAsync(key, context.RequestAborted);
            if (owner is null)
            {
                return Error(context, AdminErrors.KeyNotFound);
            }

            if (!await objects.AssignAsync(objectId, owner, kind, AdminActor.Api(context), context.RequestAborted))
            {
                return Error(context, AdminErrors.ObjectNotFound);
            }

            // This instance at once; the others within their cache's minute.
            ownership.Invalidate(objectId);
            var assigned = await objects.GetAsync(objectId, context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer => AdminJson.WriteObjects(writer, assigned is null ? [] : [assigned]));
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> ReleaseObjectAsync(HttpContext context, string objectId, ObjectAdministration objects, ObjectOwnership ownership)
    {
        try
        {
            if (!await objects.ReleaseAsync(objectId, AdminActor.Api(context), context.RequestAborted))
            {
                return Error(context, AdminErrors.ObjectNotFound);
            }

            ownership.Invalidate(objectId);
            return Results.NoContent();
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static Task<byte[]> ReadBodyAsync(HttpContext context) => ReadBodyAsync(context, MaxBodyBytes);

    private static async Task<byte[]> ReadBodyAsync(HttpContext context, int maxBytes)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw new InvalidDataException("body too large");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static IResult Json(int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Results.Text(Encoding.UTF8.GetString(buffer.WrittenSpan), "application/json", Encoding.UTF8, status);
    }

    private static IResult Throttled(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Error(context, RelayError.AuthThrottled);
    }

    private static IResult Error(HttpContext context, RelayError error)
    {
        if (error.StatusCode == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"openai-relay-admin\"";
        }

        if (error.ShouldRetry is { } retry)
        {
            context.Response.Headers["x-should-retry"] = retry ? "true" : "false";
        }

        return Results.Text(Encoding.UTF8.GetString(RelayErrorWriter.Serialize(error)), "application/json", Encoding.UTF8, error.StatusCode);
    }
}
