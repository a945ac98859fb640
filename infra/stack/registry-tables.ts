/**
 * The tables Hortonworks Schema Registry 0.9.1's JDBC storage reads and writes in PostgreSQL.
 *
 * Its distribution creates them with bootstrap scripts that are not published to Maven Central, so ciclo
 * writes them itself, from the storables in schema-registry-core 0.9.1 (`javap` on
 * com.hortonworks.registries.schemaregistry.*Storable): the table is the storable's name space, each
 * column is named exactly as the storable's field (the storage quotes them, so camelCase stays), Long is
 * BIGINT, Byte SMALLINT, byte[] BYTEA and enums their names. Ids are SERIAL: the storage inserts without
 * an id and reads back the generated key, so schema_version_info's sequence hands out the ids messages
 * carry in their Confluent header.
 *
 * Every statement is idempotent: the registry service runs them at each start.
 */
export const REGISTRY_DATABASE = 'schema_registry';

export const REGISTRY_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS schema_metadata_info (
  "id"              BIGSERIAL    NOT NULL UNIQUE,
  "type"            VARCHAR(255) NOT NULL,
  "schemaGroup"     VARCHAR(255) NOT NULL,
  "name"            VARCHAR(255) NOT NULL PRIMARY KEY,
  "compatibility"   VARCHAR(255) NOT NULL,
  "validationLevel" VARCHAR(255) NOT NULL,
  "description"     TEXT,
  "evolve"          BOOLEAN      NOT NULL,
  "timestamp"       BIGINT       NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_version_info (
  "id"               BIGSERIAL    NOT NULL PRIMARY KEY,
  "schemaMetadataId" BIGINT       NOT NULL REFERENCES schema_metadata_info ("id") ON DELETE CASCADE,
  "name"             VARCHAR(255) NOT NULL REFERENCES schema_metadata_info ("name") ON DELETE CASCADE ON UPDATE CASCADE,
  "description"      TEXT,
  "schemaText"       TEXT         NOT NULL,
  "version"          INT          NOT NULL,
  "timestamp"        BIGINT       NOT NULL,
  "fingerprint"      TEXT         NOT NULL,
  "state"            SMALLINT     NOT NULL,
  UNIQUE ("schemaMetadataId", "version")
);

CREATE TABLE IF NOT EXISTS schema_version_state (
  "id"              BIGSERIAL NOT NULL PRIMARY KEY,
  "schemaVersionId" BIGINT    NOT NULL REFERENCES schema_version_info ("id") ON DELETE CASCADE,
  "stateId"         SMALLINT  NOT NULL,
  "sequence"        INT       NOT NULL,
  "timestamp"       BIGINT    NOT NULL,
  "details"         BYTEA,
  UNIQUE ("schemaVersionId", "sequence")
);

CREATE TABLE IF NOT EXISTS schema_field_info (
  "id"               BIGSERIAL    NOT NULL PRIMARY KEY,
  "schemaInstanceId" BIGINT       NOT NULL REFERENCES schema_version_info ("id") ON DELETE CASCADE,
  "timestamp"        BIGINT       NOT NULL,
  "name"             VARCHAR(255) NOT NULL,
  "fieldNamespace"   VARCHAR(255),
  "type"             VARCHAR(255) NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_serdes_info (
  "id"                    BIGSERIAL NOT NULL PRIMARY KEY,
  "description"           TEXT,
  "name"                  TEXT      NOT NULL,
  "fileId"                TEXT      NOT NULL,
  "serializerClassName"   TEXT      NOT NULL,
  "deserializerClassName" TEXT      NOT NULL,
  "timestamp"             BIGINT    NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_serdes_mapping (
  "schemaMetadataId" BIGINT NOT NULL,
  "serDesId"         BIGINT NOT NULL,
  UNIQUE ("schemaMetadataId", "serDesId")
);

CREATE TABLE IF NOT EXISTS schema_branch (
  "id"                 BIGSERIAL    NOT NULL PRIMARY KEY,
  "name"               VARCHAR(255) NOT NULL,
  "schemaMetadataName" VARCHAR(255) NOT NULL REFERENCES schema_metadata_info ("name") ON DELETE CASCADE ON UPDATE CASCADE,
  "description"        TEXT,
  "timestamp"          BIGINT       NOT NULL,
  UNIQUE ("name", "schemaMetadataName")
);

CREATE TABLE IF NOT EXISTS schema_branch_version_mapping (
  "schemaBranchId"      BIGINT NOT NULL REFERENCES schema_branch ("id") ON DELETE CASCADE,
  "schemaVersionInfoId" BIGINT NOT NULL REFERENCES schema_version_info ("id") ON DELETE CASCADE,
  PRIMARY KEY ("schemaBranchId", "schemaVersionInfoId")
);

CREATE TABLE IF NOT EXISTS schema_lock (
  "name"      VARCHAR(1024) NOT NULL PRIMARY KEY,
  "timestamp" BIGINT        NOT NULL
);

CREATE TABLE IF NOT EXISTS host_config (
  "id"        BIGSERIAL     NOT NULL PRIMARY KEY,
  "hostUrl"   VARCHAR(1024) NOT NULL UNIQUE,
  "timestamp" BIGINT        NOT NULL
);
`;
