using FakeOpenAi.Endpoints;

namespace FakeOpenAi.Stored;

/// <summary>One request to a stored-object route: its method, the path after <c>/v1/</c> split on '/', the exchange.</summary>
internal readonly record struct StoredCall(string Method, string[] Path, FakeExchange X)
{
    public bool Get => HttpMethods.IsGet(Method);

    public bool Post => HttpMethods.IsPost(Method);

    public bool Delete => HttpMethods.IsDelete(Method);
}
