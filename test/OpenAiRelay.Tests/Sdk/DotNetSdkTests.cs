using System.ClientModel;
using System.Security.Cryptography;
using FakeOpenAi;
using OpenAI;
using OpenAI.Audio;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Files;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>The official OpenAI .NET SDK, configured only with the relay's base URL and a relay token.</summary>
public sealed class DotNetSdkTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    private OpenAIClient Client => new(
        new ApiKeyCredential(RelayServer.ClientToken),
        new OpenAIClientOptions { Endpoint = fixture.Relay.ApiBase, RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    [Fact]
    public async Task Chat_CompletesThroughTheRelay()
    {
        ChatCompletion completion = await Client.GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("What is 2+2?")]).DefaultTimeout();
        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.True(completion.Usage.TotalTokenCount > 0);
    }

    [Fact]
    public async Task StreamingChat_DeliversDeltasAndUsage()
    {
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in Client.GetChatClient("gpt-4o-mini").CompleteChatStreamingAsync([new UserChatMessage("Stream please")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
        }

        Assert.True(updates > 2);
        Assert.False(string.IsNullOrEmpty(text.ToString()));
        Assert.NotNull(usage);
        Assert.True(usage!.OutputTokenCount > 0);
    }

    [Fact]
    public async Task Embeddings_AreDecoded()
    {
        OpenAIEmbedding embedding = await Client.GetEmbeddingClient("text-embedding-3-small").GenerateEmbeddingAsync("hello relay").DefaultTimeout();
        Assert.True(embedding.ToFloats().Length > 0);
    }

    [Fact]
    public async Task Transcription_UploadsTheFileIntact()
    {
        var audio = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        using var stream = new MemoryStream(audio);
        AudioTranscription transcription = await Client.GetAudioClient("gpt-4o-transcribe").TranscribeAudioAsync(stream, "speech.mp3").DefaultTimeout();
        Assert.Contains($"received {audio.Length} bytes sha256 {Convert.ToHexStringLower(SHA256.HashData(audio))}", transcription.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Speech_DownloadsBinaryAudio()
    {
        BinaryData speech = await Client.GetAudioClient("gpt-4o-mini-tts").GenerateSpeechAsync("hello", GeneratedSpeechVoice.Alloy).DefaultTimeout();
        Assert.True(speech.ToArray().Length > 1000);
    }

    [Fact]
    public async Task FileContent_DownloadsByteForByte()
    {
        const int Size = 3 * 1024 * 1024;
        BinaryData content = await Client.GetOpenAIFileClient().DownloadFileAsync($"file-size-{Size}").DefaultTimeout();
        Assert.Equal(FakeContent.Sha256(Size), Convert.ToHexStringLower(SHA256.HashData(content.ToArray())));
    }

    [Fact]
    public async Task WrongToken_SurfacesAsA401ClientResultException()
    {
        var client = new OpenAIClient(new ApiKeyCredential("not-a-relay-token"), new OpenAIClientOptions { Endpoint = fixture.Relay.ApiBase });
        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, error.Status);
    }
}
