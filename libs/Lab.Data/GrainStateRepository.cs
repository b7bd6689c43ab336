using Dapper;
using Lab.Shop;

namespace Lab.Data;

/// <summary>
/// Grain state rows in the shop's database (table grain_state): the state as JSON and an ETag. A write lands only over the
/// ETag it read, so two writers of one row cannot both win: the second is told, not silently overwritten.
/// </summary>
public sealed class GrainStateRepository(LabDb db)
{
    private static readonly DbOperation Read = new(ShopOperations.GrainStateRead, "grain_state", "SELECT",
        "SELECT state, etag FROM grain_state WHERE grain_type = @type AND grain_id = @id");

    private static readonly DbOperation Insert = new(ShopOperations.GrainStateWrite, "grain_state", "INSERT",
        "INSERT INTO grain_state (grain_type, grain_id, state, etag, updated_at) VALUES (@type, @id, @state, @etag, @now) ON CONFLICT (grain_type, grain_id) DO NOTHING");

    private static readonly DbOperation Update = new(ShopOperations.GrainStateWrite, "grain_state", "UPDATE",
        "UPDATE grain_state SET state = @state, etag = @etag, updated_at = @now WHERE grain_type = @type AND grain_id = @id AND etag = @expected");

    private static readonly DbOperation Delete = new(ShopOperations.GrainStateClear, "grain_state", "DELETE",
        "DELETE FROM grain_state WHERE grain_type = @type AND grain_id = @id AND etag = @expected");

    /// <summary>The stored state and its ETag, or null when there is none.</summary>
    public Task<StoredGrainState?> ReadAsync(string type, string id, CancellationToken cancellationToken = default) =>
        db.RunAsync(Read, connection => connection.QuerySingleOrDefaultAsync<StoredGrainState>(
            new CommandDefinition(Read.Statement, new { type, id }, cancellationToken: cancellationToken)), cancellationToken);

    /// <summary>
    /// Writes <paramref name="state"/> over the row whose ETag is <paramref name="expected"/> (null: there must be no row yet),
    /// under the new ETag <paramref name="etag"/>.
    /// </summary>
    /// <returns>False when the row's ETag was not <paramref name="expected"/>: someone else wrote it since it was read.</returns>
    public Task<bool> WriteAsync(string type, string id, string state, string? expected, string etag, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var operation = expected is null ? Insert : Update;
        return db.RunAsync(operation, async connection => await connection.ExecuteAsync(new CommandDefinition(operation.Statement,
            new { type, id, state, etag, expected, now = ShopKeys.ToUnixMs(now) }, cancellationToken: cancellationToken)) == 1, cancellationToken);
    }

    /// <returns>False when the row's ETag was not <paramref name="expected"/>.</returns>
    public Task<bool> DeleteAsync(string type, string id, string expected, CancellationToken cancellationToken = default) =>
        db.RunAsync(Delete, async connection => await connection.ExecuteAsync(new CommandDefinition(Delete.Statement,
            new { type, id, expected }, cancellationToken: cancellationToken)) == 1, cancellationToken);
}

/// <summary>One stored grain state: its JSON and its ETag (Dapper maps the columns state and etag by name).</summary>
public sealed record StoredGrainState(string State, string ETag);
