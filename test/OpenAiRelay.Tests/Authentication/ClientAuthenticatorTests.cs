using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OpenAiRelay.Admin;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Authentication;

public sealed class ClientAuthenticatorTests : IAsyncLifetime
{
    private readonly TempDataDirectory _directory = new();
    private static readonly OpenAiRelay.Admin.AdminActor TestActor = new("test", null);
    private readonly ManualClock _clock = new();
    private ClientKeyStore _store = null!;
    private KeyAdministration _admin = null!;
    private KeyPepper _pepper = null!;

    public async Task InitializeAsync()
    {
        var database = new SqliteRelayDatabase(_directory.File("relay.db"), TimeSpan.FromSeconds(2));
        await database.PrepareAsync(default);
        await SchemaMigrator.MigrateAsync(database, _clock, default);
        _store = new ClientKeyStore(database);
        _pepper = KeyPepper.Load(null, _directory.Path);
        _admin = new KeyAdministration(_store, _pepper, new AdminAuditStore(database), _clock);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task SharedTokensAndKeys_AreBothAccepted()
    {
        var authenticator = await CreateAsync("first-token,second-token");
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);

        Assert.Equal(new ClientIdentity("relay-token"), await authenticator.AuthenticateAsync("first-token", default));
        Assert.Equal(new ClientIdentity("relay-token-2"), await authenticator.AuthenticateAsync("second-token", default));
        Assert.Equal(created.Key.KeyId, (await authenticator.AuthenticateAsync(created.Token, default))!.KeyId);
        Assert.Null(await authenticator.AuthenticateAsync("third-token", default));
        Assert.Null(await authenticator.AuthenticateAsync("", default));
    }

    [Fact]
    public async Task NoTokenAndNoKey_IsOpen_UntilTheFirstKeyIsCreatedAnywhere()
    {
        var authenticator = await CreateAsync(null);
        Assert.True(authenticator.WasOpenAtLastCheck);
        Assert.Equal(ClientIdentity.Anonymous, await authenticator.AuthenticateAsync("", default));

        // Created by the CLI or another instance: seen within the re-check interval (the cache TTL).
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await authenticator.AuthenticateAsync("", default));
        Assert.Null(await authenticator.AuthenticateAsync("anything", default));
        Assert.NotNull(await authenticator.AuthenticateAsync(created.Token, default));

        // Revoking every key does not reopen the relay.
        await _admin.RevokeAsync("alice", TestActor, default);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await authenticator.AuthenticateAsync("", default));
    }

    [Fact]
    public async Task KeyCreatedThroughThisProcess_ClosesAtOnce()
    {
        var authenticator = await CreateAsync(null);
        authenticator.KeyCreated();
        Assert.Null(await authenticator.AuthenticateAsync("", default));
    }

    [Fact]
    public async Task SharedTokenSet_IsNeverOpen_EvenWithAnEmptyKeyTable()
    {
        var authenticator = await CreateAsync("only-token");
        Assert.False(authenticator.WasOpenAtLastCheck);
        Assert.Null(await authenticator.AuthenticateAsync("", default));
    }

    private async Task<ClientAuthenticator> CreateAsync(string? tokens)
    {
        var options = Options.Create(new RelayOptions { Tokens = (tokens ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) });
        var keys = Options.Create(new KeyOptions { CacheTtl = TimeSpan.FromSeconds(5) });
        var authenticator = new ClientAuthenticator(new StaticTokenAuthenticator(options), new KeyAuthenticator(_store, _pepper, keys, _clock), _store, keys, _clock);
        await authenticator.RefreshAsync(default);
        return authenticator;
    }
}
