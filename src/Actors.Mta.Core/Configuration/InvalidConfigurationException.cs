namespace Actors.Mta.Core.Configuration;

/// <summary>A configuration key is missing or has an invalid value. The message names the key.</summary>
public sealed class InvalidConfigurationException(string key, string problem)
    : Exception($"Configuration key {key}: {problem}")
{
    public string Key { get; } = key;
}
