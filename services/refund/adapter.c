/*
 * adapter.c: platform adapters that execute a refund. The embedded default
 * is the sandbox: it records each call in sandbox_calls (a second call with
 * the same idempotency key is counted, never a second refund), answers with
 * a reference that says it is a sandbox, and fails calls of exactly
 * RF_REFUND_SANDBOX_FAIL_AMOUNT_FEN so the retry and failure paths can be
 * exercised. Real platform adapters (Kuaishou, Douyin) plug in here.
 */
#include <stdio.h>

#include "refund.h"

int64_t refund_sandbox_fail_amount_fen = 0;

/* Returns 0 (done), -1 (the platform refused: retry later) or -2 (our own
 * database write failed: roll back). */
static int sandbox_execute(rf_db_t *db, const refund_call_t *call, char *ref, size_t refcap,
                           char *err, size_t errcap) {
    if (refund_sandbox_fail_amount_fen > 0 && call->amount_fen == refund_sandbox_fail_amount_fen) {
        snprintf(err, errcap, "sandbox: refusing %lld fen (RF_REFUND_SANDBOX_FAIL_AMOUNT_FEN)",
                 (long long)call->amount_fen);
        return -1;
    }
    snprintf(ref, refcap, "sandbox-%s", call->idempotency_key);
    if (refund_db_sandbox_call(db, call, ref) != 0) {
        snprintf(err, errcap, "sandbox: could not record the call");
        return -2;
    }
    return 0;
}

const refund_adapter_t refund_sandbox_adapter = {"sandbox", true, sandbox_execute};
