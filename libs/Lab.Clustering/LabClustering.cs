using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Lab.Clustering;

/// <summary>How silos find each other and clients find gateways (setting Orleans:Clustering).</summary>
public enum ClusteringMode
{
    /// <summary>Fixed loopback ports: the embedded lab on one machine.</summary>
    Localhost,

    /// <summary>A membership table in PostgreSQL (Microsoft.Orleans.Clustering.AdoNet): silos on any host, e.g. containers.</summary>
    AdoNet,
}

public static class LabClustering
{
    /// <summary>The ADO.NET invariant of Npgsql.</summary>
    public const string PostgresInvariant = "Npgsql";

    /// <summary>Membership in PostgreSQL for a silo; call <see cref="PostgresMembershipSchema.EnsureAsync"/> before the host starts.</summary>
    public static ISiloBuilder UsePostgresClustering(this ISiloBuilder silo, string connectionString) =>
        silo.UseAdoNetClustering(options =>
        {
            options.Invariant = PostgresInvariant;
            options.ConnectionString = connectionString;
        });

    /// <summary>The gateway list from PostgreSQL's membership table for a cluster client.</summary>
    public static IClientBuilder UsePostgresClustering(this IClientBuilder client, string connectionString) =>
        client.UseAdoNetClustering(options =>
        {
            options.Invariant = PostgresInvariant;
            options.ConnectionString = connectionString;
        });

    /// <summary>
    /// The address a silo advertises to the others: an IP as given, or a host name resolved now (its first IPv4
    /// address), e.g. a container's own name in compose.
    /// </summary>
    public static IPAddress ResolveAdvertisedAddress(string hostOrAddress)
    {
        if (IPAddress.TryParse(hostOrAddress, out var address))
        {
            return address;
        }

        var addresses = Dns.GetHostAddresses(hostOrAddress);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"Orleans:AdvertisedHost '{hostOrAddress}' resolves to no address.");
    }
}

/// <summary>
/// Applies the membership schema (PostgresMembership.sql, embedded) when its tables are missing. Idempotent and safe
/// when several silos start at once: they serialise on an advisory lock and only the first creates the tables.
/// </summary>
public static class PostgresMembershipSchema
{
    private const string LockName = "lab.orleans.membership.schema";

    public static async Task EnsureAsync(string connectionString, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext(@name))", connection, transaction))
        {
            command.Parameters.AddWithValue("name", LockName);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var probe = new NpgsqlCommand(
            "SELECT to_regclass('orleansquery') IS NOT NULL AND to_regclass('orleans_membership') IS NOT NULL", connection, transaction))
        {
            if (await probe.ExecuteScalarAsync(cancellationToken) is true)
            {
                await transaction.CommitAsync(cancellationToken);
                return;
            }
        }

        await using (var create = new NpgsqlCommand(ReadScript(), connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        logger?.LogInformation("Created the Orleans membership tables in database {Database}", connection.Database);
    }

    private static string ReadScript()
    {
        using var stream = typeof(PostgresMembershipSchema).Assembly.GetManifestResourceStream("PostgresMembership.sql")
            ?? throw new InvalidOperationException("The embedded PostgresMembership.sql is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
