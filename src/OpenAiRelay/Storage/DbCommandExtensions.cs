using System.Data.Common;
using System.Globalization;

namespace OpenAiRelay.Storage;

internal static class DbCommandExtensions
{
    public static DbCommand With(this DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }

    public static void Set(this DbCommand command, string name, object? value) => command.Parameters[name].Value = value ?? DBNull.Value;

    /// <summary>PostgreSQL's SUM over bigint is numeric, SQLite's is an integer: both become a long here.</summary>
    public static long ReadLong(this DbDataReader reader, int ordinal)
        => reader.IsDBNull(ordinal) ? 0 : Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    /// <summary>A SUM that may exceed Int64 on PostgreSQL (numeric), saturated; SQLite's partial sums always fit.</summary>
    public static Int128 ReadDecimalOrLong(this DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return 0;
        }

        var value = Convert.ToDecimal(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
        return (Int128)decimal.Truncate(value);
    }

    public static long? ReadNullableLong(this DbDataReader reader, int ordinal)
        => reader.IsDBNull(ordinal) ? null : Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    public static string? ReadNullableString(this DbDataReader reader, int ordinal)
        => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
