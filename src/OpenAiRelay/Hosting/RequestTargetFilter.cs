using Microsoft.AspNetCore.Http.Features;
using OpenAiRelay.Errors;

namespace OpenAiRelay.Hosting;

/// <summary>
/// Refuses request targets whose path no honest client sends and that path tricks rely on (security.md B5): an
/// encoded slash, backslash, NUL or dot (<c>%2F</c>, <c>%5C</c>, <c>%00</c>, <c>%2E</c>, any case), a literal
/// backslash, or a dot segment (<c>/./</c>, <c>/../</c>). Kestrel would decode or normalise some of these into a
/// different path than the one a proxy in front checked (<c>/v1/../admin</c> becomes <c>/admin</c>), and YARP
/// forwards <c>%2F</c> as is, so an upstream could see a path the relay never routed. The check reads the raw target
/// as it came on the request line, runs before routing, and answers 400 in OpenAI's shape. Under <c>/v1</c> it also
/// refuses empty segments, a trailing slash and <c>;</c> parameters (see <see cref="IsRefused"/>). The query is not checked:
/// encoded slashes are ordinary there (cursors, URLs).
/// </summary>
internal static class RequestTargetFilter
{
    public static IApplicationBuilder UseRequestTargetFilter(this IApplicationBuilder app)
        => app.Use(static (context, next) =>
        {
            // TRACE (and IIS's TRACK) would come back from an upstream that honours it with the server's key in the
            // echoed headers; CONNECT is no API call. None is forwarded.
            if (IsRefusedMethod(context.Request.Method))
            {
                return RelayErrorWriter.RefuseAsync(context, RelayError.MethodNotAllowed);
            }

            var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
            return rawTarget is not null && IsRefused(rawTarget)
                ? RelayErrorWriter.RefuseAsync(context, RelayError.BadRequestTarget)
                : next(context);
        });

    public static bool IsRefusedMethod(string method)
        => HttpMethods.IsTrace(method) || HttpMethods.IsConnect(method) || method.Equals("TRACK", StringComparison.OrdinalIgnoreCase);

    public static bool IsRefused(ReadOnlySpan<char> rawTarget)
    {
        var query = rawTarget.IndexOf('?');
        var path = query < 0 ? rawTarget : rawTarget[..query];
        if (path.Contains('\\'))
        {
            return true;
        }

        for (var i = path.IndexOf('%'); i >= 0 && i + 2 < path.Length; i = NextPercent(path, i))
        {
            if (path[i + 1] == '0' && path[i + 2] == '0')
            {
                return true;
            }

            if (path[i + 1] is '2' && path[i + 2] is 'f' or 'F' or 'e' or 'E')
            {
                return true;
            }

            if (path[i + 1] is '5' && path[i + 2] is 'c' or 'C')
            {
                return true;
            }
        }

        foreach (var range in path.Split('/'))
        {
            // A dot segment, also with a matrix parameter (/..;/ is /../ to servers that strip parameters first).
            var segment = path[range];
            var parameter = segment.IndexOf(';');
            if ((parameter < 0 ? segment : segment[..parameter]) is "." or "..")
            {
                return true;
            }
        }

        // Under /v1 the relay classifies the path to meter it, so the upstream must not see a spelling the relay did
        // not classify: an empty segment (/v1//chat/completions), a trailing slash, or a matrix parameter (;x=1),
        // which some servers strip before routing. None is sent by an SDK; all are refused rather than guessed at.
        if (path.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase) || path.Equals("/v1", StringComparison.OrdinalIgnoreCase))
        {
            return path.Contains(';') || path.Contains("//", StringComparison.Ordinal) || (path.Length > 3 && path[^1] == '/');
        }

        return false;
    }

    private static int NextPercent(ReadOnlySpan<char> path, int current)
    {
        var next = path[(current + 1)..].IndexOf('%');
        return next < 0 ? -1 : current + 1 + next;
    }
}
