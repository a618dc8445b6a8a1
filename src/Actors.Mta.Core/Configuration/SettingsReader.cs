using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Actors.Mta.Core.Configuration;

/// <summary>Reads required keys under one section, turning every missing or invalid value into a <see cref="InvalidConfigurationException"/>.</summary>
internal sealed class SettingsReader(Config config, string section)
{
    private string FullKey(string key) => section + "." + key;

    private HoconValue Value(string key, string expected)
    {
        string full = FullKey(key);
        if (!config.HasPath(full))
        {
            throw new InvalidConfigurationException(full, $"missing; expected {expected}");
        }

        return config.GetValue(full);
    }

    public string String(string key, bool allowEmpty = false)
    {
        var value = Value(key, "a string");
        if (!value.IsString())
        {
            throw new InvalidConfigurationException(FullKey(key), "expected a string");
        }

        string text = value.GetString();
        if (!allowEmpty && string.IsNullOrWhiteSpace(text))
        {
            throw new InvalidConfigurationException(FullKey(key), "must not be empty");
        }

        return text;
    }

    public long Long(string key, long min, long max)
    {
        var value = Value(key, $"an integer from {min} to {max}");
        if (!long.TryParse(value.GetString(), out long number) || number < min || number > max)
        {
            throw new InvalidConfigurationException(FullKey(key), $"invalid value \"{value.GetString()}\", expected an integer from {min} to {max}");
        }

        return number;
    }

    public int Int(string key, int min, int max) => (int)Long(key, min, max);

    public bool Boolean(string key)
    {
        var value = Value(key, "on or off");
        return value.GetString().ToLowerInvariant() switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            string other => throw new InvalidConfigurationException(FullKey(key), $"invalid value \"{other}\", expected on or off"),
        };
    }

    public double Double(string key, double min, double max)
    {
        var value = Value(key, $"a number from {min} to {max}");
        if (!double.TryParse(value.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double number) ||
            number < min || number > max)
        {
            throw new InvalidConfigurationException(FullKey(key), $"invalid value \"{value.GetString()}\", expected a number from {min} to {max}");
        }

        return number;
    }

    /// <param name="allowZero">Whether 0s is valid, where zero turns a feature off.</param>
    public TimeSpan Duration(string key, bool allowZero = false)
    {
        var value = Value(key, "a duration such as 30s or 5m");
        TimeSpan duration;
        try
        {
            duration = value.GetTimeSpan(allowInfinite: false);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or Akka.Configuration.ConfigurationException)
        {
            throw new InvalidConfigurationException(FullKey(key), $"invalid duration \"{value.GetString()}\", expected a value such as 30s or 5m");
        }

        if (duration < TimeSpan.Zero || (duration == TimeSpan.Zero && !allowZero))
        {
            throw new InvalidConfigurationException(FullKey(key), allowZero ? "must not be negative" : "must be greater than zero");
        }

        return duration;
    }

    public IReadOnlyList<string> StringList(string key, int minCount)
    {
        var value = Value(key, "a list of strings");

        // IsArray() is false for an empty list, [], whose single element is an empty HoconArray.
        if (value.Values is [HoconArray] && minCount == 0)
        {
            return value.GetStringList().ToList();
        }

        if (!value.IsArray())
        {
            throw new InvalidConfigurationException(FullKey(key), "expected a list of strings, for example [\"a\", \"b\"]");
        }

        var items = value.GetStringList();
        if (items.Count < minCount || items.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidConfigurationException(FullKey(key), $"expected at least {minCount} non-empty strings");
        }

        return items.ToList();
    }

    public IEnumerable<Config> ObjectList(string key)
    {
        var value = Value(key, "a list of objects");
        if (!value.IsArray())
        {
            throw new InvalidConfigurationException(FullKey(key), "expected a list of objects");
        }

        foreach (HoconValue item in value.GetArray())
        {
            if (!item.IsObject())
            {
                throw new InvalidConfigurationException(FullKey(key), "expected a list of objects");
            }

            yield return new Config(new HoconRoot(item));
        }
    }

    /// <summary>Returns the fields of an object, such as { "a" = 1, "b.c" = 2 }. A quoted key that contains dots stays one field.</summary>
    public IReadOnlyDictionary<string, HoconValue> Object(string key)
    {
        var value = Value(key, "an object");
        if (!value.IsObject())
        {
            throw new InvalidConfigurationException(FullKey(key), "expected an object, for example { \"name\" = value }");
        }

        return value.GetObject().Items;
    }

    public T Enum<T>(string key, IReadOnlyDictionary<string, T> choices)
    {
        string text = String(key);
        if (!choices.TryGetValue(text, out T? result))
        {
            throw new InvalidConfigurationException(FullKey(key), $"invalid value \"{text}\", expected one of {string.Join(", ", choices.Keys)}");
        }

        return result;
    }
}
