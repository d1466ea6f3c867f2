namespace OpenAiRelay.Authentication;

/// <summary>Who sent the request, as the authentication stage decided it; read by every later stage.</summary>
internal interface IClientFeature
{
    ClientIdentity Client { get; }
}
