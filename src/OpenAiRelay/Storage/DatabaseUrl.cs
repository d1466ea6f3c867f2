using Npgsql;

namespace OpenAiRelay.Storage;

/// <summary>Converts the <c>DATABASE_URL</c> form (<c>postgres://user:pass@host:port/db?sslmode=require</c>) to an Npgsql connection string.</summary>
internal static class DatabaseUrl
{
    public static bool TryConvert(string url, out string? connectionString, out string? error)
    {
        connectionString = null;
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != "postgres" && uri.Scheme != "postgresql"))
        {
            // The URL holds a password: the message never repeats it.
            error = "DATABASE_URL must look like postgres://user:password@host:5432/database";
            return false;
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }

        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(parts[0]);
            var value = parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : string.Empty;
            if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) && Enum.TryParse<SslMode>(value.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var sslMode))
            {
                builder.SslMode = sslMode;
            }
            else
            {
                error = $"DATABASE_URL: unsupported query parameter '{key}' (only sslmode is understood)";
                return false;
            }
        }

        if (string.IsNullOrEmpty(builder.Host) || string.IsNullOrEmpty(builder.Database))
        {
            error = "DATABASE_URL must name a host and a database: postgres://user:password@host:5432/database";
            return false;
        }

        connectionString = builder.ConnectionString;
        error = null;
        return true;
    }
}
