namespace Actors.Mta.Protocol.Smtp;

/// <summary>
/// The argument of MAIL or RCPT split into the path in angle brackets and its ESMTP parameters
/// (RFC 5321 section 4.1.2: Mail-parameters and Rcpt-parameters).
/// </summary>
/// <param name="Path">The path, brackets included, for the address parser.</param>
/// <param name="Parameters">Each parameter keyword, upper-cased, with its value or null.</param>
public sealed record PathArgument(string Path, IReadOnlyList<KeyValuePair<string, string?>> Parameters)
{
    /// <summary>Returns the value of a parameter, or null when it is absent or has no value.</summary>
    public string? GetValue(string keyword) =>
        Parameters.FirstOrDefault(p => p.Key == keyword).Value;

    public bool Has(string keyword) => Parameters.Any(p => p.Key == keyword);

    /// <summary>
    /// Splits "FROM:&lt;path&gt; PARAM=value ..." after the given prefix ("FROM:" or "TO:", matched without
    /// regard to case). One space after the colon is tolerated because widely used clients send it.
    /// </summary>
    public static bool TryParse(string argument, string prefix, out PathArgument? result, out string error)
    {
        result = null;
        if (!argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            error = $"Syntax: expected {prefix}<address>";
            return false;
        }

        string rest = argument[prefix.Length..];
        if (rest.StartsWith(' '))
        {
            rest = rest[1..];
        }

        if (!rest.StartsWith('<'))
        {
            error = "Address must be in angle brackets";
            return false;
        }

        int end = FindPathEnd(rest);
        if (end < 0)
        {
            error = "Address is missing its closing angle bracket";
            return false;
        }

        if (rest.Length > end + 1 && rest[end + 1] != ' ')
        {
            error = "Expected a space between the address and its parameters";
            return false;
        }

        string path = rest[..(end + 1)];
        var parameters = new List<KeyValuePair<string, string?>>();
        foreach (string token in rest[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!TryParseParameter(token, out var parameter))
            {
                error = "Invalid parameter syntax";
                return false;
            }

            if (parameters.Any(p => p.Key == parameter.Key))
            {
                error = $"Parameter {parameter.Key} given twice";
                return false;
            }

            parameters.Add(parameter);
        }

        result = new PathArgument(path, parameters);
        error = "";
        return true;
    }

    // The closing '>' is the first one outside a quoted string; a quoted local part may contain '>'.
    private static int FindPathEnd(string text)
    {
        bool quoted = false;
        for (int i = 1; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '>')
            {
                return i;
            }
        }

        return -1;
    }

    // esmtp-param = esmtp-keyword ["=" esmtp-value]; keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
    // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under RFC 6531.
    private static bool TryParseParameter(string token, out KeyValuePair<string, string?> parameter)
    {
        parameter = default;
        int equals = token.IndexOf('=');
        string keyword = equals < 0 ? token : token[..equals];
        string? value = equals < 0 ? null : token[(equals + 1)..];
        if (keyword.Length == 0 || !char.IsAsciiLetterOrDigit(keyword[0]))
        {
            return false;
        }

        foreach (char c in keyword)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }

        if (value is not null)
        {
            if (value.Length == 0)
            {
                return false;
            }

            foreach (char c in value)
            {
                if (c < 33 || c == '=' || c == 127)
                {
                    return false;
                }
            }
        }

        parameter = new(keyword.ToUpperInvariant(), value);
        return true;
    }
}
