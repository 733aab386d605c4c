/*
 * migrations.c: the bus's tables, in the schema of every worker (see
 * bus/bus.h): outbox and dead_letter (producer side), inbox, inbox_started
 * and inbox_batches (consumer side), replica_lease (replicas).
 */
#include "bus/bus_internal.h"

const rf_migration_t rf_bus_migrations[] = {
    {.name = "000_bus",
     .sql = "CREATE TABLE IF NOT EXISTS outbox (\n"
            "  seq bigserial NOT NULL,\n"
            "  event_id text NOT NULL,\n"
            "  dest text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  payload bytea NOT NULL,\n"
            "  attempts integer NOT NULL DEFAULT 0,\n"
            "  deferrals integer NOT NULL DEFAULT 0,\n"
            "  next_attempt_at timestamptz NOT NULL DEFAULT now(),\n"
            "  last_error text,\n"
            "  created_at timestamptz NOT NULL DEFAULT now(),\n"
            "  PRIMARY KEY (event_id, dest));\n"
            "CREATE INDEX IF NOT EXISTS outbox_dest_return ON outbox (dest, return_id, seq);\n"
            "CREATE TABLE IF NOT EXISTS inbox (\n"
            "  event_id text PRIMARY KEY,\n"
            "  producer text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  applied_at timestamptz NOT NULL DEFAULT now());\n"
            "CREATE TABLE IF NOT EXISTS dead_letter (\n"
            "  id bigserial PRIMARY KEY,\n"
            "  event_id text NOT NULL,\n"
            "  dest text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  payload bytea NOT NULL,\n"
            "  attempts integer NOT NULL,\n"
            "  reason text NOT NULL,\n"
            "  created_at timestamptz NOT NULL,\n"
            "  failed_at timestamptz NOT NULL DEFAULT now());\n"},
    /* Replicas: who sends each row, and who is alive (bus/bus.h). */
    {.name = "000_bus_replicas",
     .sql = "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS owner integer NOT NULL DEFAULT 0;\n"
            "CREATE TABLE IF NOT EXISTS replica_lease (\n"
            "  replica_id integer PRIMARY KEY,\n"
            "  pid integer NOT NULL,\n"
            "  heartbeat_at timestamptz NOT NULL DEFAULT now());\n"},
    /* Events being applied, and by which process: what a consumer that died
     * mid-apply finds on its next start (see poison.c). */
    {.name = "000_bus_inbox_started",
     .sql = "CREATE TABLE IF NOT EXISTS inbox_started (\n"
            "  event_id text PRIMARY KEY,\n"
            "  instance text NOT NULL,\n"
            "  crashes integer NOT NULL DEFAULT 0,\n"
            "  started_at timestamptz NOT NULL DEFAULT now());\n"},
    /* The same, one row per batch being applied (inbox_started keeps only
     * the crash counts). */
    {.name = "000_bus_inbox_batches",
     .sql = "CREATE TABLE IF NOT EXISTS inbox_batches (\n"
            "  instance text NOT NULL,\n"
            "  batch bigint NOT NULL,\n"
            "  event_ids text[] NOT NULL,\n"
            "  started_at timestamptz NOT NULL DEFAULT now(),\n"
            "  PRIMARY KEY (instance, batch));\n"},
    /* The poll reads due heads in seq order and stops at its limit. */
    {.name = "000_bus_outbox_dest_seq",
     .sql = "CREATE INDEX IF NOT EXISTS outbox_dest_seq ON outbox (dest, seq);\n"},
};

const size_t rf_bus_migrations_count = sizeof rf_bus_migrations / sizeof rf_bus_migrations[0];
