namespace Lab.Load.Journeys;

/// <summary>What a step got back. <see cref="Body"/> is empty when the step did not ask for it or failed before a response.</summary>
public readonly record struct StepResult(bool Ok, int StatusCode, ReadOnlyMemory<byte> Body);
