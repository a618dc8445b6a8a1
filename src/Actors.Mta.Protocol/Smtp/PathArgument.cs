using System.Text;

namespace Actors.Mta.Protocol.Smtp;

/// <summary>
/// The argument of MAIL or RCPT split into the path in angle brackets and its ESMTP parameters
/// (RFC 5321 section 4.1.2: Mail-parameters and Rcpt-parameters). Both are slices of the argument, so the
/// result is only valid while the argument's buffer is.
/// </summary>
public readonly ref struct PathArgument
{
    private readonly ReadOnlySpan<char> _parameterText;

    private PathArgument(ReadOnlySpan<char> path, ReadOnlySpan<char> parameterText)
    {
        Path = path;
        _parameterText = parameterText;
    }

    /// <summary>The path, brackets included, for the address parser.</summary>
    public ReadOnlySpan<char> Path { get; }

    /// <summary>The ESMTP parameters in the order given. Enumerating them allocates nothing.</summary>
    public EsmtpParameterEnumerator Parameters => new(_parameterText);

    /// <summary>True when the argument has at least one ESMTP parameter.</summary>
    public bool HasParameters => _parameterText.ContainsAnyExcept(' ');

    /// <summary>Finds a parameter by keyword, without regard to case.</summary>
    public bool TryGetParameter(string keyword, out EsmtpParameter parameter)
    {
        foreach (EsmtpParameter candidate in Parameters)
        {
            if (Ascii.EqualsIgnoreCase(candidate.Keyword, keyword))
            {
                parameter = candidate;
                return true;
            }
        }

        parameter = default;
        return false;
    }

    /// <summary>
    /// Copies the parameters into a list that outlives the argument's buffer: keywords upper-cased, and a null
    /// value for a parameter given without one.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string?>> ToList()
    {
        if (!HasParameters)
        {
            return [];
        }

        var list = new List<KeyValuePair<string, string?>>();
        foreach (EsmtpParameter parameter in Parameters)
        {
            list.Add(new(parameter.GetKeyword(), parameter.HasValue ? parameter.Value.ToString() : null));
        }

        return list;
    }

    /// <summary>
    /// Splits "FROM:&lt;path&gt; PARAM=value ..." after the given prefix ("FROM:" or "TO:", matched without
    /// regard to case). One space after the colon is tolerated because widely used clients send it.
    /// Checks the syntax of every parameter and rejects a keyword given twice. Allocates only for an error message
    /// that names the prefix or a keyword.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> argument, string prefix, out PathArgument result, out string error)
    {
        result = default;
        if (!argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            error = $"Syntax: expected {prefix}<address>";
            return false;
        }

        ReadOnlySpan<char> rest = argument[prefix.Length..];
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

        ReadOnlySpan<char> parameterText = rest[(end + 1)..];
        if (!CheckParameters(parameterText, out error))
        {
            return false;
        }

        result = new PathArgument(rest[..(end + 1)], parameterText);
        return true;
    }

    // The closing '>' is the first one outside a quoted string; a quoted local part may contain '>'.
    private static int FindPathEnd(ReadOnlySpan<char> text)
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

    // Checks each parameter against every earlier one, so a line of n parameters costs n²/2 keyword comparisons.
    // The command line length limit (at most 65536 octets) bounds n.
    private static bool CheckParameters(ReadOnlySpan<char> parameterText, out string error)
    {
        var parameters = new EsmtpParameterEnumerator(parameterText);
        while (parameters.MoveNext())
        {
            EsmtpParameter parameter = parameters.Current;
            if (!parameter.IsValid)
            {
                error = "Invalid parameter syntax";
                return false;
            }

            var earlier = new EsmtpParameterEnumerator(parameterText[..parameters.CurrentStart]);
            while (earlier.MoveNext())
            {
                if (Ascii.EqualsIgnoreCase(earlier.Current.Keyword, parameter.Keyword))
                {
                    error = $"Parameter {parameter.GetKeyword()} given twice";
                    return false;
                }
            }
        }

        error = "";
        return true;
    }
}

/// <summary>
/// One ESMTP parameter: esmtp-keyword ["=" esmtp-value] (RFC 5321 section 4.1.2), as slices of the argument.
/// </summary>
public readonly ref struct EsmtpParameter
{
    // Shared strings for the keywords this server supports, so that storing them allocates nothing.
    private static readonly string[] KnownKeywords = ["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "NOTIFY", "ORCPT"];

    internal EsmtpParameter(ReadOnlySpan<char> token)
    {
        int equals = token.IndexOf('=');
        Keyword = equals < 0 ? token : token[..equals];
        Value = equals < 0 ? [] : token[(equals + 1)..];
        HasValue = equals >= 0;
    }

    /// <summary>The keyword as the client wrote it.</summary>
    public ReadOnlySpan<char> Keyword { get; }

    /// <summary>The value after "=", or empty when <see cref="HasValue"/> is false.</summary>
    public ReadOnlySpan<char> Value { get; }

    /// <summary>True when the keyword is followed by "=". The value is then never empty in a parsed argument.</summary>
    public bool HasValue { get; }

    /// <summary>
    /// True when the keyword is (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") and the value, if any, is
    /// 1*(%d33-60 / %d62-126), which RFC 6531 extends with UTF-8.
    /// </summary>
    internal bool IsValid
    {
        get
        {
            if (Keyword.IsEmpty || !char.IsAsciiLetterOrDigit(Keyword[0]))
            {
                return false;
            }

            foreach (char c in Keyword)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }

            if (!HasValue)
            {
                return true;
            }

            if (Value.IsEmpty)
            {
                return false;
            }

            foreach (char c in Value)
            {
                if (c < 33 || c == '=' || c == 127)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Returns the keyword upper-cased. The keywords this server supports come back as shared strings, which
    /// allocates nothing, and any other keyword as a new string.
    /// </summary>
    public string GetKeyword()
    {
        foreach (string known in KnownKeywords)
        {
            if (Ascii.EqualsIgnoreCase(Keyword, known))
            {
                return known;
            }
        }

        return Keyword.ToString().ToUpperInvariant();
    }
}

/// <summary>Enumerator over the space-separated ESMTP parameters of an argument. A run of spaces is one separator.</summary>
public ref struct EsmtpParameterEnumerator
{
    private readonly ReadOnlySpan<char> _text;
    private int _next;

    internal EsmtpParameterEnumerator(ReadOnlySpan<char> text)
    {
        _text = text;
    }

    public EsmtpParameter Current { get; private set; }

    /// <summary>The index in the parameter text where <see cref="Current"/> starts.</summary>
    internal int CurrentStart { get; private set; }

    public readonly EsmtpParameterEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_next < _text.Length && _text[_next] == ' ')
        {
            _next++;
        }

        if (_next == _text.Length)
        {
            return false;
        }

        int length = _text[_next..].IndexOf(' ');
        if (length < 0)
        {
            length = _text.Length - _next;
        }

        CurrentStart = _next;
        Current = new EsmtpParameter(_text.Slice(_next, length));
        _next += length;
        return true;
    }
}
