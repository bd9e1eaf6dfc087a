#!/bin/bash
# Runs once, when the ClickHouse container creates its data directory (docker-entrypoint-initdb.d).
# Three users, least privilege:
#   llmpulse_admin   applies migrations (DDL on the llmpulse database, CREATE FUNCTION, ON CLUSTER)
#   llmpulse_writer  the stream workers: SELECT + INSERT on llmpulse tables only (no DDL, no ALTER, no DROP);
#                    inserts into Distributed tables (a cluster) are synchronous: a worker commits its Kafka
#                    offsets only once every shard has the rows, and reads what it wrote (in_order replicas)
#   llmpulse_reader  BI (Superset, Metabase) and `llmpulse query`: SELECT only, read-only profile
# Passwords come from the environment (docker-compose passes them from .env); none is written here.
set -euo pipefail
: "${LLMPULSE_ADMIN_PASSWORD:?set LLMPULSE_ADMIN_PASSWORD}"
: "${LLMPULSE_WRITER_PASSWORD:?set LLMPULSE_WRITER_PASSWORD}"
: "${LLMPULSE_READER_PASSWORD:?set LLMPULSE_READER_PASSWORD}"
clickhouse client -n <<SQL
CREATE DATABASE IF NOT EXISTS llmpulse;
CREATE SETTINGS PROFILE IF NOT EXISTS llmpulse_bi SETTINGS readonly = 1, max_execution_time = 60;
CREATE SETTINGS PROFILE IF NOT EXISTS llmpulse_writes SETTINGS insert_distributed_sync = 1,
    load_balancing = 'in_order';
CREATE USER IF NOT EXISTS llmpulse_admin IDENTIFIED WITH sha256_password BY '${LLMPULSE_ADMIN_PASSWORD}'
    DEFAULT DATABASE llmpulse;
CREATE USER IF NOT EXISTS llmpulse_writer IDENTIFIED WITH sha256_password BY '${LLMPULSE_WRITER_PASSWORD}'
    DEFAULT DATABASE llmpulse SETTINGS PROFILE llmpulse_writes;
CREATE USER IF NOT EXISTS llmpulse_reader IDENTIFIED WITH sha256_password BY '${LLMPULSE_READER_PASSWORD}'
    DEFAULT DATABASE llmpulse SETTINGS PROFILE llmpulse_bi;
GRANT CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW, ALTER, SELECT, INSERT ON llmpulse.* TO llmpulse_admin;
GRANT CREATE FUNCTION, CLUSTER ON *.* TO llmpulse_admin;
GRANT SELECT, INSERT ON llmpulse.* TO llmpulse_writer;
GRANT SELECT ON llmpulse.* TO llmpulse_reader;
SQL
