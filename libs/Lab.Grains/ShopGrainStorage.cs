using System.Text.Json;
using Lab.Data;
using Orleans.Storage;

namespace Lab.Grains;

/// <summary>
/// Orleans grain storage in the shop's own database (SQLite or PostgreSQL, table grain_state), state as JSON. Optimistic
/// like every Orleans storage: a write carries the ETag the activation last read or wrote, and a row that has another one
/// (a second writer, a second activation) is not overwritten: Orleans' InconsistentStateException says so.
/// </summary>
public sealed class ShopGrainStorage(GrainStateRepository states, TimeProvider time) : IGrainStorage
{
    /// <summary>The storage's name, as grains name it in [PersistentState(..., ShopGrainStorage.Name)].</summary>
    public const string Name = "shop";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A state as this storage stores it (for code that reads or writes the rows itself).</summary>
    public static string Serialize<T>(T state) => JsonSerializer.Serialize(state, Json);

    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Json)!;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = await states.ReadAsync(stateName, grainId.ToString());
        grainState.State = stored is null ? Activator.CreateInstance<T>() : Deserialize<T>(stored.State);
        grainState.ETag = stored?.ETag;
        grainState.RecordExists = stored is not null;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var etag = Guid.NewGuid().ToString("N");
        if (!await states.WriteAsync(stateName, grainId.ToString(), Serialize(grainState.State), grainState.ETag, etag, time.GetUtcNow()))
        {
            var current = (await states.ReadAsync(stateName, grainId.ToString()))?.ETag;
            throw new InconsistentStateException($"The {stateName} state of {grainId} was written by someone else since this activation read it " +
                                                 $"(it holds ETag {grainState.ETag ?? "none"}, the row {current ?? "none"}).", current, grainState.ETag);
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (grainState.ETag is { } expected && !await states.DeleteAsync(stateName, grainId.ToString(), expected))
        {
            var current = (await states.ReadAsync(stateName, grainId.ToString()))?.ETag;
            throw new InconsistentStateException($"The {stateName} state of {grainId} changed since this activation read it.", current, expected);
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }
}
