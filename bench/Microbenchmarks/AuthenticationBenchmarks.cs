using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>Every relayed request parses its Authorization header and checks the token (an HMAC and a constant-time compare per configured token).</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class AuthenticationBenchmarks
{
    private const string Token = "rt-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Header = "Bearer " + Token;
    private StaticTokenAuthenticator _oneToken = null!;
    private StaticTokenAuthenticator _threeTokens = null!;

    [GlobalSetup]
    public void Setup()
    {
        _oneToken = new StaticTokenAuthenticator(Options.Create(new RelayOptions { Tokens = [Token] }));
        _threeTokens = new StaticTokenAuthenticator(Options.Create(new RelayOptions { Tokens = ["old-token-1", Token, "new-token-3"] }));
    }

    [Benchmark]
    public bool ParseAuthorization() => BearerToken.TryParseAuthorization(Header, out _);

    [Benchmark]
    public bool AuthenticateOneToken() => _oneToken.TryAuthenticate(Token, out _);

    [Benchmark]
    public bool AuthenticateThreeTokens() => _threeTokens.TryAuthenticate(Token, out _);

    [Benchmark]
    public bool ParseAndAuthenticate() =>
        BearerToken.TryParseAuthorization(Header, out var token) && _oneToken.TryAuthenticate(token, out _);
}
