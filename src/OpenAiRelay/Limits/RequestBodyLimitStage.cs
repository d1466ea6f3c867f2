using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Limits;

/// <summary>
/// Sets the request body limit by endpoint family (files and uploads get their own) and refuses, with 413 before a
/// byte is read, a body whose declared length is over it. A chunked body over the limit is cut by Kestrel as it
/// streams, whichever stage is reading it.
/// </summary>
internal sealed class RequestBodyLimitStage(RequestDelegate next, IOptions<LimitOptions> options)
{
    private readonly long _default = options.Value.DefaultMaxRequestBodySize;
    private readonly long _files = options.Value.FilesMaxRequestBodySize;

    public Task InvokeAsync(HttpContext context)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = EndpointFamilies.Classify(RelayPaths.Remainder(context.Request)) == EndpointFamily.Files ? _files : _default;
        }

        return context.Request.ContentLength > sizeFeature?.MaxRequestBodySize
            ? RelayErrorWriter.RefuseAsync(context, RelayError.RequestTooLarge)
            : next(context);
    }
}
