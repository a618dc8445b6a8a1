namespace Actors.Mta.Core.Delivery;

/// <summary>
/// A circuit breaker's states for one destination, kept inside its actor: Closed lets every delivery through;
/// after maxFailures failures in a row it is Open and rejects deliveries until resetTimeout has passed; then
/// HalfOpen lets one delivery test the destination, whose success closes the circuit and whose failure opens it again.
/// </summary>
public sealed class CircuitState(int maxFailures, TimeSpan resetTimeout)
{
    public enum State
    {
        Closed,
        Open,
        HalfOpen,
    }

    private int _failures;
    private DateTime _openUntil;

    public State Current { get; private set; } = State.Closed;

    /// <summary>Whether a delivery may start now; in HalfOpen only while no other delivery is running.</summary>
    public bool AllowsAttempt(DateTime now, int running)
    {
        if (Current == State.Open && now >= _openUntil)
        {
            Current = State.HalfOpen;
        }

        return Current switch
        {
            State.Closed => true,
            State.HalfOpen => running == 0,
            _ => false,
        };
    }

    /// <summary>Records a successful delivery. Returns true when this closed an open or half-open circuit.</summary>
    public bool RecordSuccess()
    {
        _failures = 0;
        bool wasOpen = Current != State.Closed;
        Current = State.Closed;
        return wasOpen;
    }

    /// <summary>Records a failed delivery. Returns true when this opened the circuit.</summary>
    public bool RecordFailure(DateTime now)
    {
        _failures++;
        if (Current == State.HalfOpen || (Current == State.Closed && _failures >= maxFailures))
        {
            Current = State.Open;
            _openUntil = now + resetTimeout;
            return true;
        }

        return false;
    }
}
