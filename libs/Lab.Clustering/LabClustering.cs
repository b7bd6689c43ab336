using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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

    /// <summary>
    /// Hosts this process's Orleans silo in the lab's cluster as <see cref="LabClusterOptions"/> (section "Orleans") says:
    /// clustering, endpoints, response timeout, and Orleans:Scheduling / Orleans:Membership passed to Orleans' own
    /// options; then <paramref name="configure"/> adds the rest.
    /// </summary>
    public static IHostApplicationBuilder AddLabSilo(this IHostApplicationBuilder builder, Action<ISiloBuilder> configure)
    {
        var options = Read(builder.Services, builder.Configuration);
        builder.UseOrleans(silo =>
        {
            if (options.Clustering == ClusteringMode.AdoNet)
            {
                silo.UsePostgresClustering(options.ClusteringConnectionString!);
                silo.Configure<ClusterOptions>(cluster => (cluster.ClusterId, cluster.ServiceId) = (options.ClusterId, options.ServiceId));
                // Listen on the advertised address only: loopback for the embedded lab, the container's address in compose.
                silo.ConfigureEndpoints(ResolveAdvertisedAddress(options.AdvertisedHost), options.SiloPort, options.GatewayPort);
            }
            else
            {
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort,
                    new IPEndPoint(IPAddress.Loopback, options.PrimarySiloPort), options.ServiceId, options.ClusterId);
            }

            // The silo's name in the membership table and the dashboard: the lab's name for the process (silo-1), not a random one.
            if (builder.Configuration["Lab:ServiceName"] is { Length: > 0 } name)
            {
                silo.Configure<SiloOptions>(silo => silo.SiloName = name);
            }

            silo.Configure<SiloMessagingOptions>(messaging => messaging.ResponseTimeout = options.ResponseTimeout);
            // When a turn counts as long-running (orleans-scheduler-long-running-turns), and how fast a dead silo is declared dead.
            silo.Services.Configure<SchedulingOptions>(builder.Configuration.GetSection($"{LabClusterOptions.Section}:Scheduling"));
            silo.Services.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection($"{LabClusterOptions.Section}:Membership"));
            configure(silo);
        });
        return builder;
    }

    /// <summary>
    /// Makes this process an Orleans client of the lab's cluster (the storefront), finding the silos' gateways as
    /// <see cref="LabClusterOptions"/> (section "Orleans") says; then <paramref name="configure"/> adds the rest.
    /// </summary>
    public static IHostApplicationBuilder AddLabClusterClient(this IHostApplicationBuilder builder, Action<IClientBuilder> configure)
    {
        var options = Read(builder.Services, builder.Configuration);
        builder.UseOrleansClient(client =>
        {
            if (options.Clustering == ClusteringMode.AdoNet)
            {
                client.UsePostgresClustering(options.ClusteringConnectionString!);
            }
            else
            {
                client.UseStaticClustering(options.GatewayPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port)).ToArray());
            }

            client.Configure<ClusterOptions>(cluster => (cluster.ClusterId, cluster.ServiceId) = (options.ClusterId, options.ServiceId));
            client.Configure<ClientMessagingOptions>(messaging => messaging.ResponseTimeout = options.ResponseTimeout);
            configure(client);
        });
        return builder;
    }

    /// <summary>
    /// Reads and validates the options now (the clustering must be chosen while the host is built), and applies the PostgreSQL membership schema before Orleans starts when it is missing. Before Orleans
    /// is added: it reads the section "Orleans" itself, where the lab's scalar "Clustering" would name a provider.
    /// </summary>
    private static LabClusterOptions Read(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(LabClusterOptions.Section);
        var options = new LabClusterOptions();
        section.Bind(options, binder => binder.ErrorOnUnknownConfiguration = false);
        options.ClusteringConnectionString ??= configuration["Database:ConnectionString"];
        var errors = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), errors, validateAllProperties: true))
        {
            throw new OptionsValidationException(LabClusterOptions.Section, typeof(LabClusterOptions),
                errors.Select(e => $"{LabClusterOptions.Section}:{string.Join(",", e.MemberNames)}: {e.ErrorMessage}"));
        }

        configuration[$"{LabClusterOptions.Section}:Clustering"] = null;
        if (options.Clustering == ClusteringMode.AdoNet)
        {
            services.AddSingleton<IHostedService>(sp => new MembershipSchemaStartup(options.ClusteringConnectionString!,
                sp.GetRequiredService<ILogger<MembershipSchemaStartup>>()));
        }

        return options;
    }

    /// <summary>Membership in PostgreSQL for a silo (<see cref="AddLabSilo"/> applies the schema before Orleans starts).</summary>
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

/// <summary>Applies the membership schema while the host is starting, before Orleans' own start looks for its table.</summary>
internal sealed class MembershipSchemaStartup(string connectionString, ILogger<MembershipSchemaStartup> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => PostgresMembershipSchema.EnsureAsync(connectionString, logger, cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
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
