using StackExchange.Redis;

namespace OpenAiRelay.Configuration;

/// <summary>Converts <c>REDIS_URL</c> (<c>redis://[user][:password]@host[:port][/db]</c>, <c>rediss://</c> for TLS) to client options.</summary>
internal static class RedisUrl
{
    public static bool TryParse(string url, out ConfigurationOptions? options, out string? error)
    {
        options = null;
        // The URL may hold a password: no message repeats it.
        const string Shape = "REDIS_URL must look like redis://host:6379/0, redis://:password@host:6379/0 or rediss://:password@host:6380/0";
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != "redis" && uri.Scheme != "rediss") || string.IsNullOrEmpty(uri.Host))
        {
            error = Shape;
            return false;
        }

        var database = 0;
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0 && (!int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out database) || database > 15))
        {
            error = "REDIS_URL: the path must be a database number from 0 to 15, such as /0";
            return false;
        }

        if (uri.Query.Length > 0)
        {
            error = "REDIS_URL: query parameters are not understood";
            return false;
        }

        var secure = uri.Scheme == "rediss";
        options = new ConfigurationOptions
        {
            EndPoints = { { uri.IdnHost, uri.IsDefaultPort || uri.Port <= 0 ? (secure ? 6380 : 6379) : uri.Port } },
            DefaultDatabase = database,
            Ssl = secure,
            SslHost = secure ? uri.IdnHost : null,
            ClientName = "openai-relay",
            // Start without Redis and keep trying: admission falls back to the process's own limits meanwhile.
            AbortOnConnectFail = false,
            ConnectTimeout = 2_000,
            SyncTimeout = 2_000,
            AsyncTimeout = 2_000,
            ConnectRetry = 1,
            ReconnectRetryPolicy = new LinearRetry(1_000),
            // A command while disconnected fails at once instead of waiting in a backlog: the request falls back now.
            BacklogPolicy = BacklogPolicy.FailFast,
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo.Length == 2)
        {
            if (userInfo[0].Length > 0)
            {
                options.User = Uri.UnescapeDataString(userInfo[0]);
            }

            options.Password = Uri.UnescapeDataString(userInfo[1]);
        }
        else if (userInfo[0].Length > 0)
        {
            // redis://password@host, as some providers print it.
            options.Password = Uri.UnescapeDataString(userInfo[0]);
        }

        error = null;
        return true;
    }
}
