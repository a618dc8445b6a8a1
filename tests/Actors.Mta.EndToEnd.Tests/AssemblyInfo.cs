using System.Runtime.Versioning;

// The tests start Dovecot, swaks and python3 as child processes and use POSIX file modes and signals.
[assembly: SupportedOSPlatform("linux")]
