using System.Buffers;
using System.Text.Json;

namespace FakeOpenAi.Wire;

/// <summary>The error envelope <c>{"error":{message,type,param,code}}</c> with the exact bodies of wire doc §4.1.</summary>
internal static class OpenAiErrors
{
    public const string ServerErrorMessage = "The server had an error while processing your request. Sorry about that!";

    private static ReadOnlySpan<byte> Forbidden =>
        """{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","param":null,"type":"request_forbidden"}}"""u8;

    private static ReadOnlySpan<byte> InsufficientQuota =>
        """{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"""u8;

    private static ReadOnlySpan<byte> ServerError =>
        """{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"""u8;

    private static ReadOnlySpan<byte> Overloaded =>
        """{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}"""u8;

    public static Task WriteAsync(HttpContext context, int status, string message, string? type, string? param, string? code)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonBuffer.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            WriteNullable(writer, "type", type);
            WriteNullable(writer, "param", param);
            WriteNullable(writer, "code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return WriteRawAsync(context, status, buffer.WrittenMemory);
    }

    public static Task MissingApiKeyAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"OpenAI API\"";
        return WriteAsync(
            context,
            StatusCodes.Status401Unauthorized,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            null,
            "invalid_api_key");
    }

    public static Task IncorrectApiKeyAsync(HttpContext context, string presentedKey)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"OpenAI API\"";
        return WriteAsync(
            context,
            StatusCodes.Status401Unauthorized,
            $"Incorrect API key provided: {Mask(presentedKey)}. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            null,
            "invalid_api_key");
    }

    public static Task InvalidUrlAsync(HttpContext context) =>
        WriteAsync(
            context,
            StatusCodes.Status404NotFound,
            $"Invalid URL ({context.Request.Method} {context.Request.Path})",
            "invalid_request_error",
            null,
            null);

    public static Task InvalidJsonAsync(HttpContext context) =>
        WriteAsync(
            context,
            StatusCodes.Status400BadRequest,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
            "invalid_request_error",
            null,
            null);

    public static Task MissingParameterAsync(HttpContext context, string name) =>
        WriteAsync(context, StatusCodes.Status400BadRequest, $"Missing required parameter: '{name}'.", "invalid_request_error", name, "missing_required_parameter");

    /// <summary>404 for an id the store does not hold, as OpenAI words it.</summary>
    public static Task NotFoundAsync(HttpContext context, string id) =>
        WriteAsync(context, StatusCodes.Status404NotFound, $"No object found with id '{id}'.", "invalid_request_error", null, null);

    public static Task MissingModelAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status400BadRequest, "you must provide a model parameter", "invalid_request_error", null, null);

    public static Task ModelNotFoundAsync(HttpContext context, string model) =>
        WriteAsync(
            context,
            StatusCodes.Status404NotFound,
            $"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            null,
            "model_not_found");

    /// <summary>The body for an injected <c>x-fake-status</c>, chosen by status and <c>x-fake-error-code</c>.</summary>
    public static async Task WriteFaultAsync(HttpContext context, int status, string? code)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        var presented = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..] : authorization;
        switch (code)
        {
            // What a misconfigured or OpenAI-compatible service does: quote the key (masked, as OpenAI does) in an
            // error that is not a 401, or echo the Authorization header whole, in the body and a header.
            case "incorrect_api_key":
                await WriteAsync(
                    context, status, $"Incorrect API key provided: {Mask(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error", null, "invalid_api_key");
                return;
            case "echo_authorization":
                context.Response.Headers["x-echo-authorization"] = authorization;
                await WriteAsync(context, status, $"Malformed request. Headers received: Authorization: {authorization}", "invalid_request_error", null, code);
                return;
        }

        switch (status)
        {
            case StatusCodes.Status401Unauthorized:
                await IncorrectApiKeyAsync(context, presented);
                return;
            case StatusCodes.Status403Forbidden:
                await WriteRawAsync(context, status, Forbidden.ToArray());
                return;
            case StatusCodes.Status404NotFound when code == "model_not_found":
                await ModelNotFoundAsync(context, await PeekModelAsync(context.Request));
                return;
            case StatusCodes.Status404NotFound:
                await InvalidUrlAsync(context);
                return;
            case StatusCodes.Status429TooManyRequests when code == "insufficient_quota":
                await WriteRawAsync(context, status, InsufficientQuota.ToArray());
                return;
            case StatusCodes.Status429TooManyRequests:
                context.Response.Headers["x-ratelimit-remaining-tokens"] = "0";
                context.Response.Headers["x-ratelimit-reset-tokens"] = "1.574s";
                await WriteAsync(
                    context,
                    status,
                    $"Rate limit reached for {await PeekModelAsync(context.Request)} in organization org-fake on tokens per min (TPM): Limit 200000, Used 162960, Requested 42288. Please try again in 1.574s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    "tokens",
                    null,
                    code ?? "rate_limit_exceeded");
                return;
            case StatusCodes.Status500InternalServerError when code is null:
                await WriteRawAsync(context, status, ServerError.ToArray());
                return;
            case StatusCodes.Status503ServiceUnavailable when code is null:
                await WriteRawAsync(context, status, Overloaded.ToArray());
                return;
            default:
                var serverSide = status >= 500;
                await WriteAsync(
                    context,
                    status,
                    serverSide ? ServerErrorMessage : $"Injected error {status} (x-fake-status).",
                    serverSide ? "server_error" : "invalid_request_error",
                    null,
                    code);
                return;
        }
    }

    private static async Task WriteRawAsync(HttpContext context, int status, ReadOnlyMemory<byte> body)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    /// <summary>OpenAI echoes a wrong key masked (<c>sk-abc***...wxyz</c>), never in full.</summary>
    /// <summary>As OpenAI masks a key in its messages: project keys keep their <c>sk-proj-</c> prefix, all keep the last 4.</summary>
    private static string Mask(string key)
    {
        var shown = key.StartsWith("sk-proj-", StringComparison.Ordinal) ? 8 : 3;
        return key.Length <= shown + 4 ? key : string.Concat(key.AsSpan(0, shown), new string('*', key.Length - shown - 4), key.AsSpan(key.Length - 4));
    }

    /// <summary>Reads the <c>model</c> of a small JSON body (which the fault answer replaces anyway) for a realistic message.</summary>
    private static async Task<string> PeekModelAsync(HttpRequest request)
    {
        const string Fallback = "gpt-4o-mini";
        if (request.Query.TryGetValue("model", out var queryModel) && queryModel.Count > 0)
        {
            return queryModel.ToString();
        }

        if (request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true || request.ContentLength is > 1024 * 1024)
        {
            return Fallback;
        }

        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("model", out var model)
                && model.ValueKind == JsonValueKind.String
                ? model.GetString()!
                : Fallback;
        }
        catch (JsonException)
        {
            return Fallback;
        }
    }
}
