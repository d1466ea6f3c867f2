using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>A plain HTTP client for the fake's <c>/v1</c> API that returns parsed bodies and checks statuses.</summary>
public sealed class FakeStoredApi(FakeOpenAiServer fake) : IDisposable
{
    private readonly HttpClient _client = new() { BaseAddress = fake.ApiBaseAddress, DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", fake.ApiKey) } };

    public async Task<JsonElement> PostJsonAsync(string path, string json, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await SendAsync(HttpMethod.Post, path, content, expected);
    }

    public async Task<JsonElement> PostMultipartAsync(string path, params object[] parts)
    {
        using var form = new MultipartFormDataContent();
        foreach (var part in parts)
        {
            switch (part)
            {
                case (string name, string value):
                    form.Add(new StringContent(value), name);
                    break;
                case (string name, string fileName, int size):
                    form.Add(new ByteArrayContent(new byte[size]), name, fileName);
                    break;
            }
        }

        return await SendAsync(HttpMethod.Post, path, form, HttpStatusCode.OK);
    }

    public async Task<string> CreateIdAsync(string path, string json, HttpStatusCode expected = HttpStatusCode.OK) =>
        (await PostJsonAsync(path, json, expected)).GetProperty("id").GetString()!;

    public Task<JsonElement> GetAsync(string path, HttpStatusCode expected = HttpStatusCode.OK) => SendAsync(HttpMethod.Get, path, null, expected);

    public Task<JsonElement> DeleteAsync(string path, HttpStatusCode expected = HttpStatusCode.OK) => SendAsync(HttpMethod.Delete, path, null, expected);

    public async Task<(HttpStatusCode Status, string? ContentType, byte[] Body)> GetBytesAsync(string path)
    {
        using var response = await _client.GetAsync(new Uri(path, UriKind.Relative)).DefaultTimeout();
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
    }

    public void Dispose() => _client.Dispose();

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, HttpContent? content, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        using var response = await _client.SendAsync(request).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync().DefaultTimeout();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
