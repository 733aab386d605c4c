/*
 * platform_calls_schema.c: the tables of the decision calls
 * (platform/platform_calls.h), platform_calls and platform_call_attempts, in
 * the schema of each worker that calls the platform; applied by rf_pcalls_new
 * like the bus's own tables.
 */
#include <stddef.h>

#include "db/db.h"

/* The two tables, in the schema of each worker that calls the platform
 * (applied by rf_pcalls_new, like the bus's own tables). */
const rf_migration_t rf_pcalls_migrations[] = {
    {"pcalls_001_platform_calls",
     "-- every decision call (one row) and every request sent for it (attempts)\n"
     "CREATE TABLE platform_calls (\n"
     "    call_id            bigserial PRIMARY KEY,\n"
     "    return_id          text NOT NULL,\n"
     "    platform           text NOT NULL,\n"
     "    platform_return_id text NOT NULL,\n"
     "    purpose            text NOT NULL,                  -- the worker's name for it\n"
     "    method             text NOT NULL,                  -- the platform API method\n"
     "    param              jsonb NOT NULL,                 -- the business parameters sent\n"
     "    idempotency_key    text NOT NULL UNIQUE,           -- sent as Idempotency-Key\n"
     "    platform_version   bigint NOT NULL DEFAULT 0,      -- record version the decision saw\n"
     "    context            jsonb NOT NULL DEFAULT '{}',    -- the decision (who, amount, "
     "reason)\n"
     "    state              text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed',\n"
     "                                                      'superseded', 'not_sent')),\n"
     "    attempts           integer NOT NULL DEFAULT 0,     -- failures (rate limits not "
     "counted)\n"
     "    rate_limited       integer NOT NULL DEFAULT 0,\n"
     "    next_attempt_at    timestamptz,\n"
     "    outcome            text,                           -- what the final answer meant\n"
     "    error              text,\n"
     "    created_at         timestamptz NOT NULL DEFAULT now(),\n"
     "    done_at            timestamptz\n"
     ");\n"
     "CREATE INDEX platform_calls_due ON platform_calls (next_attempt_at) WHERE state = "
     "'pending';\n"
     "CREATE INDEX platform_calls_return ON platform_calls (return_id);\n"
     "\n"
     "CREATE TABLE platform_call_attempts (\n"
     "    id              bigserial PRIMARY KEY,\n"
     "    call_id         bigint NOT NULL REFERENCES platform_calls,\n"
     "    method          text NOT NULL,\n"
     "    param           jsonb NOT NULL,\n"
     "    idempotency_key text NOT NULL,\n"
     "    started_at      timestamptz NOT NULL,\n"
     "    duration_ms     integer NOT NULL,\n"
     "    outcome         text NOT NULL,                     -- ok | refused | rate_limited | "
     "transport\n"
     "    result_code     integer NOT NULL DEFAULT 0,\n"
     "    answer          text,                              -- the platform's answer, as sent\n"
     "    error           text\n"
     ");\n"
     "CREATE INDEX platform_call_attempts_call ON platform_call_attempts (call_id);\n"},
    {"pcalls_002_shop_id",
     "-- the shop a call is for: its request carries that shop's token (shop_tokens);\n"
     "-- '' for calls written before (they carry the fixed RF_KUAISHOU_ACCESS_TOKEN)\n"
     "ALTER TABLE platform_calls ADD COLUMN shop_id text NOT NULL DEFAULT '';\n"}};

const size_t rf_pcalls_migrations_count =
    sizeof rf_pcalls_migrations / sizeof rf_pcalls_migrations[0];
