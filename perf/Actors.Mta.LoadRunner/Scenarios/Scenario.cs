namespace Actors.Mta.LoadRunner.Scenarios;

/// <summary>
/// A named sequence of timed steps that one SMTP session runs: the opening steps once, the transaction steps
/// once for each message the session sends, then the closing steps. When a transaction fails on a live
/// connection, <see cref="ResetStep"/> (RSET) runs before the next one.
/// </summary>
public sealed record Scenario(
    string Name,
    IReadOnlyList<ScenarioStep> OpeningSteps,
    IReadOnlyList<ScenarioStep> TransactionSteps,
    IReadOnlyList<ScenarioStep> ClosingSteps,
    ScenarioStep? ResetStep)
{
    /// <summary>Name of the step that times a whole transaction, from its first step to the reply to its data.</summary>
    public const string TransactionStepName = "transaction";

    public bool SendsMessages => TransactionSteps.Count > 0;

    /// <summary>Step names in the order of the reports: steps of the same name (RCPT for each recipient) share one entry.</summary>
    public IReadOnlyList<string> StepNames()
    {
        var names = new List<string>();
        var steps = OpeningSteps.Concat(TransactionSteps).Concat(ClosingSteps)
            .Concat(ResetStep is null ? [] : [ResetStep])
            .Where(step => step.Recorded);
        foreach (var step in steps)
        {
            if (!names.Contains(step.Name))
            {
                names.Add(step.Name);
            }
        }

        if (SendsMessages)
        {
            names.Add(TransactionStepName);
        }

        return names;
    }
}

/// <summary>One step of a <see cref="Scenario"/>. A step that is not <see cref="Recorded"/> (waiting, say) is run but not timed.</summary>
public sealed record ScenarioStep(string Name, Func<SessionContext, ValueTask<StepOutcome>> Action, bool Recorded = true);

/// <summary>What happened in a step, and what the session does next.</summary>
public readonly record struct StepOutcome(bool Ok, string? FailureKey, StepFollowUp FollowUp)
{
    public static readonly StepOutcome Success = new(true, null, StepFollowUp.Continue);

    /// <summary>A rejection the transaction can survive, such as one refused recipient among several.</summary>
    public static StepOutcome Rejected(string failureKey) => new(false, failureKey, StepFollowUp.Continue);

    /// <summary>A failure after which this transaction cannot go on but the connection can.</summary>
    public static StepOutcome TransactionFailed(string failureKey) => new(false, failureKey, StepFollowUp.EndTransaction);

    /// <summary>A failure after which the connection is unusable or the server asked to close it.</summary>
    public static StepOutcome SessionFailed(string failureKey) => new(false, failureKey, StepFollowUp.EndSession);
}

public enum StepFollowUp
{
    Continue,
    EndTransaction,
    EndSession,
}
