using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Authentication;

/// <summary>The configured tokens must be tokens a client can send: the bearer grammar this folder parses.</summary>
internal sealed class TokenOptionsValidator : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var failures = new List<string>();
        if (options.Tokens.Any(token => !BearerToken.TryParseAuthorization("Bearer " + token, out _)))
        {
            failures.Add($"RELAY_TOKEN: tokens must be 1 to {BearerToken.MaxLength} visible ASCII characters without spaces (generate one with: openssl rand -hex 32)");
        }

        if (!string.IsNullOrEmpty(options.AdminToken) && (options.AdminToken.Length < 16 || !BearerToken.TryParseAuthorization("Bearer " + options.AdminToken, out _)))
        {
            failures.Add("RELAY_ADMIN_TOKEN must be 16 to 512 visible ASCII characters without spaces (generate one with: openssl rand -hex 32)");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
