using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OpenAiRelay.Admin;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Authentication;

public sealed class KeyAuthenticatorTests : IAsyncLifetime
{
    private readonly TempDataDirectory _directory = new();
    private static readonly OpenAiRelay.Admin.AdminActor TestActor = new("test", null);
    private readonly ManualClock _clock = new();
    private ClientKeyStore _store = null!;
    private KeyPepper _pepper = null!;
    private KeyAdministration _admin = null!;
    private KeyAuthenticator _authenticator = null!;

    public async Task InitializeAsync()
    {
        var database = new SqliteRelayDatabase(_directory.File("relay.db"), TimeSpan.FromSeconds(2));
        await database.PrepareAsync(default);
        await SchemaMigrator.MigrateAsync(database, _clock, default);
        _store = new ClientKeyStore(database);
        _pepper = KeyPepper.Load(null, _directory.Path);
        _admin = new KeyAdministration(_store, _pepper, new AdminAuditStore(database), _clock);
        _authenticator = new KeyAuthenticator(_store, _pepper, Options.Create(new KeyOptions { CacheTtl = TimeSpan.FromSeconds(5) }), _clock);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ValidKey_IsIdentifiedByItsLabel_AndStoredOnlyAsAHash()
    {
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        var identity = await _authenticator.AuthenticateAsync(created.Token, default);

        Assert.Equal(new ClientIdentity(ClientKeyToken.LabelFor(created.Key.KeyId), created.Key.KeyId), identity);
        var stored = (await _store.FindAsync(created.Key.KeyId, default))!;
        Assert.Equal(32, stored.SecretHash.Length);
        // The row may still sit in the WAL rather than the main file: scan both, and check the scan sees the row at
        // all (its key id is there), so the absence of the secret means something.
        var bytes = new List<byte>(await File.ReadAllBytesAsync(_directory.File("relay.db")));
        if (File.Exists(_directory.File("relay.db-wal")))
        {
            await using var wal = new FileStream(_directory.File("relay.db-wal"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var copy = new MemoryStream();
            await wal.CopyToAsync(copy);
            bytes.AddRange(copy.ToArray());
        }

        var text = System.Text.Encoding.ASCII.GetString(bytes.ToArray());
        Assert.Contains(created.Key.KeyId, text, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Token[20..], text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForgedSecretWithTheSameKeyId_AfterTheRealKeyWasCached_IsRejected()
    {
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        Assert.NotNull(await _authenticator.AuthenticateAsync(created.Token, default));

        var forged = created.Token[..^1] + (created.Token[^1] == 'a' ? 'b' : 'a');
        Assert.Null(await _authenticator.AuthenticateAsync(forged, default));
        Assert.Null(await _authenticator.AuthenticateAsync(ClientKeyToken.LabelFor(created.Key.KeyId) + "_" + new string('A', 40), default));
    }

    [Fact]
    public async Task RevokedElsewhere_StillCachedWithinTtl_RejectedAfterIt()
    {
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        Assert.NotNull(await _authenticator.AuthenticateAsync(created.Token, default));

        // Another instance (or the CLI) revokes: this process learns it when its cache entry expires.
        await _store.RevokeAsync("alice", _clock.GetUtcNow(), default);
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.NotNull(await _authenticator.AuthenticateAsync(created.Token, default));
        _clock.Advance(TimeSpan.FromSeconds(1.1));
        Assert.Null(await _authenticator.AuthenticateAsync(created.Token, default));
    }

    [Fact]
    public async Task RevokedHere_IsRejectedAtOnce()
    {
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        Assert.NotNull(await _authenticator.AuthenticateAsync(created.Token, default));
        var revoked = Assert.Single(await _admin.RevokeAsync("alice", TestActor, default));
        _authenticator.Invalidate(revoked.KeyId);
        Assert.Null(await _authenticator.AuthenticateAsync(created.Token, default));
    }

    [Fact]
    public async Task ExpiredKey_IsRejected_EvenFromTheCache()
    {
        var created = await _admin.CreateAsync("short-lived", TimeSpan.FromSeconds(3), OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        Assert.NotNull(await _authenticator.AuthenticateAsync(created.Token, default));
        _clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Null(await _authenticator.AuthenticateAsync(created.Token, default));
    }

    [Theory]
    [MemberData(nameof(ClientKeyTokenTests.Malformed), MemberType = typeof(ClientKeyTokenTests))]
    public async Task MalformedToken_NeverReachesTheDatabase(string token)
    {
        Assert.Null(await _authenticator.AuthenticateAsync(token, default));
        Assert.Equal(0, _authenticator.Lookups);
    }

    [Fact]
    public async Task UnknownKeyId_AndWrongSecret_GiveTheSameAnswer()
    {
        var created = await _admin.CreateAsync("alice", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        var (_, unknown) = ClientKeyToken.Generate();
        var wrongSecret = created.Token[..19] + new string('Z', 40);
        Assert.Null(await _authenticator.AuthenticateAsync(unknown, default));
        Assert.Null(await _authenticator.AuthenticateAsync(wrongSecret, default));
        Assert.Equal(2, _authenticator.Lookups);
    }

    [Fact]
    public async Task Revoke_ByAKeyId_RevokesThatKeyOnly_EvenWhenAnotherKeyIsNamedLikeIt()
    {
        var victim = await _admin.CreateAsync("victim", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        // Anyone who can create a key may name it after another key's id (it is printed in every log line).
        var decoy = await _admin.CreateAsync(victim.Key.KeyId, null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);

        var first = await _admin.RevokeAsync(victim.Key.KeyId, TestActor, default);
        Assert.Equal([victim.Key.KeyId], first.Select(k => k.KeyId));
        Assert.NotNull(await _authenticator.AuthenticateAsync(decoy.Token, default));

        // With no live key of that id left, the value is a name.
        var second = await _admin.RevokeAsync(victim.Key.KeyId, TestActor, default);
        Assert.Equal([decoy.Key.KeyId], second.Select(k => k.KeyId));

        var third = await _admin.CreateAsync("third", null, OpenAiRelay.Policy.KeyPolicy.Unlimited, TestActor, default);
        Assert.Equal([third.Key.KeyId], (await _admin.RevokeAsync(OpenAiRelay.Authentication.ClientKeyToken.LabelFor(third.Key.KeyId), TestActor, default)).Select(k => k.KeyId));
    }

    [Theory]
    [InlineData("10675199.00:00:00")]
    [InlineData("36526d")]
    [InlineData("100000w")]
    public void AnExpiryPastAHundredYears_IsRefused_NotAnOverflow(string text)
    {
        Assert.False(OpenAiRelay.Admin.DurationText.TryParse(text, out _));
        Assert.True(OpenAiRelay.Admin.DurationText.TryParse("36525d", out var longest));
        Assert.Equal(OpenAiRelay.Admin.DurationText.Max, longest);
    }
}
