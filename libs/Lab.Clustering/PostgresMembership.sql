-- Orleans cluster membership on PostgreSQL for Microsoft.Orleans.Clustering.AdoNet (invariant "Npgsql").
-- The provider reads its statements by key from OrleansQuery and binds @DeploymentId, @Address, @Port, @Generation,
-- @SiloName, @HostName, @Status, @ProxyPort, @SuspectTimes, @StartTime, @IAmAliveTime and @Version; columns are
-- returned under the names it reads. Writes that change membership succeed only while the table version is still
-- the one the silo read (@Version), and bump it: the membership protocol's optimistic concurrency.
-- Applied by the lab at start-up when the tables are missing (Lab.Clustering.PostgresMembershipSchema).

CREATE TABLE OrleansQuery (
    QueryKey varchar(64) NOT NULL PRIMARY KEY,
    QueryText varchar(8000) NOT NULL);

CREATE TABLE orleans_membership_version (
    deployment_id varchar(150) NOT NULL PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 0);

CREATE TABLE orleans_membership (
    deployment_id varchar(150) NOT NULL REFERENCES orleans_membership_version (deployment_id),
    address varchar(45) NOT NULL,
    port integer NOT NULL,
    generation integer NOT NULL,
    silo_name varchar(150) NOT NULL,
    host_name varchar(150) NOT NULL,
    status integer NOT NULL,
    proxy_port integer NULL,
    suspect_times varchar(8000) NULL,
    start_time timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation));

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', '
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId::varchar)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT COUNT(*)::integer FROM created'),

('InsertMembershipKey', '
WITH expected AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId::varchar AND version = @Version::integer
    FOR UPDATE),
added AS (
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port,
        start_time, i_am_alive_time)
    SELECT deployment_id, @Address::varchar, @Port::integer, @Generation::integer, @SiloName::varchar, @HostName::varchar,
        @Status::integer, @ProxyPort::integer, @StartTime::timestamptz, @IAmAliveTime::timestamptz
    FROM expected
    ON CONFLICT DO NOTHING
    RETURNING deployment_id),
bumped AS (
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now()
    WHERE deployment_id IN (SELECT deployment_id FROM added)
    RETURNING 1)
SELECT COUNT(*)::integer FROM bumped'),

('UpdateMembershipKey', '
WITH expected AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId::varchar AND version = @Version::integer
    FOR UPDATE),
changed AS (
    UPDATE orleans_membership SET status = @Status::integer, suspect_times = @SuspectTimes::varchar,
        i_am_alive_time = @IAmAliveTime::timestamptz
    WHERE deployment_id IN (SELECT deployment_id FROM expected)
        AND address = @Address::varchar AND port = @Port::integer AND generation = @Generation::integer
    RETURNING deployment_id),
bumped AS (
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now()
    WHERE deployment_id IN (SELECT deployment_id FROM changed)
    RETURNING 1)
SELECT COUNT(*)::integer FROM bumped'),

('UpdateIAmAlivetimeKey', '
UPDATE orleans_membership SET i_am_alive_time = @IAmAliveTime::timestamptz
WHERE deployment_id = @DeploymentId::varchar AND address = @Address::varchar AND port = @Port::integer
    AND generation = @Generation::integer'),

('MembershipReadRowKey', '
SELECT v.deployment_id AS "DeploymentId", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
    m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status", m.proxy_port AS "ProxyPort",
    m.suspect_times AS "SuspectTimes", m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime", v.version AS "Version"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
    AND m.address = @Address::varchar AND m.port = @Port::integer AND m.generation = @Generation::integer
WHERE v.deployment_id = @DeploymentId::varchar'),

('MembershipReadAllKey', '
SELECT v.deployment_id AS "DeploymentId", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
    m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status", m.proxy_port AS "ProxyPort",
    m.suspect_times AS "SuspectTimes", m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime", v.version AS "Version"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId::varchar'),

('DeleteMembershipTableEntriesKey', '
DELETE FROM orleans_membership WHERE deployment_id = @DeploymentId::varchar;
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId::varchar'),

('GatewaysQueryKey', '
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar AND status = @Status::integer AND proxy_port > 0'),

-- Dead silos (status 6) whose last heartbeat is older than the cut-off; live and suspected rows stay.
('CleanupDefunctSiloEntriesKey', '
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar AND status = 6
    AND i_am_alive_time < @IAmAliveTime::timestamptz AND start_time < @IAmAliveTime::timestamptz'),

-- One dead silo's row, only while it is still exactly as the caller read it.
('CleanupDefunctSiloEntryKey', '
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar AND status = 6
    AND address = @Address::varchar AND port = @Port::integer AND generation = @Generation::integer
    AND i_am_alive_time = @IAmAliveTime::timestamptz AND start_time = @StartTime::timestamptz
    AND suspect_times IS NOT DISTINCT FROM @SuspectTimes::varchar');
