using Lab.Contracts;
using Lab.Data;
using Orleans.Concurrency;

namespace Lab.Grains;

/// <summary>
/// Replays the dead letters: each goes back to its order's outbox, and the order publishes its outbox again, so the
/// projection applies what it parked (a replay of an event it has since passed is skipped, as any replay is).
/// </summary>
[StatelessWorker]
public sealed class DeadLetterGrain(ProjectionRepository projections) : Grain, IDeadLetterGrain
{
    public async Task<DeadLetterReplay> ReplayAsync()
    {
        var orders = await projections.ReplayDeadLettersAsync();
        foreach (var orderId in orders)
        {
            await GrainFactory.GetGrain<IOrderGrain>(orderId).RecoverAsync();
        }

        return new DeadLetterReplay(orders.Count);
    }
}
