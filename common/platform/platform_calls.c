/*
 * platform_calls.c: decisions told to the platform once, after a crash too,
 * and on the record (platform/platform_calls.h).
 *
 * A due call is leased (its next_attempt_at pushed past the request's
 * timeout) before it is sent, so the timer does not send it twice while it
 * is in flight; a crash leaves the lease to expire (or start-up clears it)
 * and the call goes out again with the same idempotency key. Each answer is
 * handled in one bus transaction: the attempt's record, the call's new state
 * and whatever the worker's settle callback writes and emits.
 *
 * A call goes out by its platform: Kuaishou's with rf_ks_call_keyed, Douyin's
 * with rf_dy_call (an afterSale.operate answered 10000 whose items are not
 * all done is a refusal: platform/pcalls_douyin.h); both answers then take
 * the same path (recorded, backed off, retried, refetched, settled). Each
 * request carries the token of the call's shop, read at send time
 * (platform/shop_tokens.h: the shop's own, or the fixed
 * RF_KUAISHOU_ACCESS_TOKEN for a Kuaishou shop intake never told of), held
 * only in the request's flight and wiped with it; the record keeps the param
 * JSON, never the token. What each platform's calls say is
 * platform_calls_terms.c's; what is seen of them platform_calls_view.c's.
 */
#include "platform/platform_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/pcalls_douyin.h"
#include "platform/shop_tokens.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/secrets.h"

int64_t rf_pcalls_timeout_ms = 10000;
int64_t rf_pcalls_retry_max = 8;
int64_t rf_pcalls_retry_base_ms = 1000;

#define POLL_MS 250                /* how often due calls are looked for */
#define BATCH 16                   /* calls leased per look */
#define MAX_IN_FLIGHT 64           /* requests outstanding at once */
#define ANSWER_KEEP 8000           /* bytes of an answer kept in the record */
#define NO_TOKEN_WAIT_MS 3000      /* a call with no token to carry is looked at again */
#define TOKEN_INVALID_RETRY_MS 500 /* a refused token: read again, tried once more */

struct rf_pcalls {
    rf_worker_t *worker;
    rf_httpc_t *http; /* NULL when calls are off */
    rf_ks_config_t ks;
    rf_dy_config_t dy;
    rf_pcall_settle_fn settle;
    void *arg;
    uv_timer_t timer;
};

/* One request on the wire: the call itself (stage 0), or the record fetched
 * again after a refusal (stage 1). */
typedef struct flight {
    rf_pcalls_t *p;
    int64_t call_id;
    int stage;
    char method[128];      /* what is being sent now */
    char call_method[128]; /* the call's own method */
    char key[256];
    char platform_return_id[64];
    char platform[16], shop_id[128];
    bool douyin;                   /* sent with rf_dy_call, answered in Douyin's terms */
    int op_type;                   /* Douyin: the call's afterSale.operate type */
    char token[RF_SHOP_TOKEN_MAX]; /* the shop's access token, plain: wiped with the flight */
    char *param_json;              /* what is being sent now */
    int64_t started_wall, started_mono;
    int refused_code; /* stage 1: the refusal of stage 0 */
    char refused_error[320];
} flight_t;

/* ---- the record ---------------------------------------------------------------------- */

/* The tables (platform_calls_schema.c). */
extern const rf_migration_t rf_pcalls_migrations[];
extern const size_t rf_pcalls_migrations_count;

/* ---- the calls ---------------------------------------------------------------------- */

int rf_pcalls_enqueue(rf_db_t *db, const rf_pcall_new_t *c) {
    char *param = json_dumps(c->param, JSON_COMPACT | JSON_SORT_KEYS);
    char *context = c->context ? json_dumps(c->context, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    rf_num_t version = rf_i64(c->platform_version);
    bool on = rf_pcalls_platform_enabled(c->platform);
    char off[200];
    snprintf(off, sizeof off, "calls are off (no %s): do this in %s",
             rf_pcalls_api_setting(c->platform), rf_pcalls_console(c->platform));
    const char *p[] = {c->return_id,
                       c->platform,
                       c->platform_return_id,
                       c->purpose,
                       c->method,
                       param,
                       c->idempotency_key,
                       version.s,
                       context ? context : "{}",
                       on ? "pending" : "not_sent",
                       on ? NULL : off,
                       c->shop_id ? c->shop_id : ""};
    int rc = -1;
    if (param)
        rc = (int)rf_db_exec_count(
            db,
            "INSERT INTO platform_calls (return_id, platform, platform_return_id, purpose, method,"
            " param, idempotency_key, platform_version, context, state, next_attempt_at, error,"
            " shop_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb, $10,"
            " CASE WHEN $10 = 'pending' THEN now() END, $11, $12)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            12, p);
    if (rc == 1)
        rf_info("event=platform_call_%s return_id=%s shop_id=%s purpose=%s method=%s"
                " idempotency_key=%s",
                on ? "queued" : "not_sent", c->return_id, c->shop_id ? c->shop_id : "", c->purpose,
                c->method, c->idempotency_key);
    free(param);
    free(context);
    return rc;
}

int rf_pcalls_alert(rf_bus_t *bus, const char *return_id, const char *kind, const char *subject,
                    const char *detail) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_OPS_ALERT, return_id, NULL) != 0) return -1;
    int rc = rf_event_set_str(&ev.body.ops_alert.kind, kind) |
             rf_event_set_str(&ev.body.ops_alert.subject, subject) |
             rf_event_set_str(&ev.body.ops_alert.detail, detail ? detail : "");
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* The answer as text the database takes: at most ANSWER_KEEP bytes of valid
 * UTF-8 (an invalid byte becomes '?'). malloc'd; NULL for none. */
static char *answer_text(const char *raw) {
    if (!raw) return NULL;
    size_t n = strlen(raw);
    if (n > ANSWER_KEEP) n = ANSWER_KEEP;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)raw[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)raw[i + k] >> 6) == 2;
        if (ok) {
            memcpy(out + i, raw + i, len);
            i += len;
        } else {
            out[i++] = '?';
        }
    }
    out[n] = '\0';
    return out;
}

static int record_attempt(rf_db_t *db, const flight_t *f, const char *outcome, int code,
                          const char *raw, const char *error) {
    char *answer = answer_text(raw);
    rf_num_t id = rf_i64(f->call_id), at = rf_i64(f->started_wall),
             took = rf_i64(rf_mono_ms() - f->started_mono), rc = rf_i64(code);
    const char *p[] = {id.s,   f->method, f->param_json, f->stage == 0 ? f->key : "",
                       at.s,   took.s,    outcome,       rc.s,
                       answer, error};
    int r = rf_db_exec(db,
                       "INSERT INTO platform_call_attempts (call_id, method, param,"
                       " idempotency_key, started_at, duration_ms, outcome, result_code, answer,"
                       " error) VALUES ($1, $2, $3::jsonb, $4, to_timestamp($5::bigint / 1000.0),"
                       " $6, $7, $8, $9, $10)",
                       10, p);
    free(answer);
    return r;
}

/* ---- sending --------------------------------------------------------------------------- */

static void send_due(rf_pcalls_t *p);
static void on_ks_answer(void *arg, rf_ks_outcome_t outcome, int code, json_t *data,
                         const char *raw, const char *error);
static void on_dy_answer(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                         json_t *data, const char *raw, const char *error);

static void flight_free(flight_t *f) {
    if (!f) return;
    free(f->param_json);
    rf_secrets_wipe(f->token, sizeof f->token);
    free(f);
}

/* Send f's current request; -1 when it could not be started. */
static int flight_send(flight_t *f) {
    json_t *param = json_loads(f->param_json, 0, NULL);
    f->started_wall = rf_now_ms();
    f->started_mono = rf_mono_ms();
    const char *key = f->stage == 0 ? f->key : NULL;
    int rc = -1;
    if (param && f->douyin) {
        rc = rf_dy_call(f->p->http, &f->p->dy, f->method, param, f->token, key, f->started_wall,
                        (long)rf_pcalls_timeout_ms, on_dy_answer, f);
    } else if (param) {
        rf_ks_config_t cfg = f->p->ks; /* with the flight's token */
        snprintf(cfg.access_token, sizeof cfg.access_token, "%s", f->token);
        rc = rf_ks_call_keyed(f->p->http, &cfg, f->method, param, key, f->started_wall,
                              (long)rf_pcalls_timeout_ms, on_ks_answer, f);
        rf_secrets_wipe(&cfg, sizeof cfg);
    }
    json_decref(param);
    return rc;
}

static void on_timer(uv_timer_t *t) { send_due(t->data); }

/* Look for due calls on the next loop turn (never from inside a callback). */
void rf_pcalls_kick(rf_pcalls_t *p) {
    if (p && p->http) uv_timer_start(&p->timer, on_timer, 0, POLL_MS);
}

/* The token f carries, into f->token: true to send it now. Without one the
 * call waits NO_TOKEN_WAIT_MS (not counted as a failure); when the database
 * does not answer the lease expires and the call is looked at again. */
static bool pick_token(flight_t *f) {
    rf_db_t *db = rf_worker_db(f->p->worker);
    const char *why = "";
    /* a fixed token is Kuaishou's alone (RF_KUAISHOU_ACCESS_TOKEN) */
    const char *fixed = f->douyin ? "" : f->p->ks.access_token;
    rf_token_choice_t c =
        rf_shop_tokens_pick(db, f->platform, f->shop_id, fixed, f->token, sizeof f->token, &why);
    if (c == RF_TOKEN_USE_SHOP || c == RF_TOKEN_USE_FIXED) return true;
    if (c == RF_TOKEN_LATER) return false;
    char error[300];
    snprintf(error, sizeof error, "no access token for shop %s:%s (%s): waiting for intake's",
             f->platform, f->shop_id, why);
    rf_num_t id = rf_i64(f->call_id), wait = rf_i64(NO_TOKEN_WAIT_MS);
    const char *p[] = {id.s, wait.s, error};
    rf_db_exec(db,
               "UPDATE platform_calls SET error = $3,"
               " next_attempt_at = now() + $2::bigint * interval '1 millisecond'"
               " WHERE call_id = $1 AND state = 'pending'",
               3, p);
    rf_warn("event=platform_call_no_token call_id=%lld method=%s platform=%s shop_id=%s"
            " reason=%s retry_in_ms=%d",
            (long long)f->call_id, f->call_method, f->platform, f->shop_id, why, NO_TOKEN_WAIT_MS);
    return false;
}

static void send_due(rf_pcalls_t *p) {
    rf_db_t *db = rf_worker_db(p->worker);
    if (!p->http || !rf_db_connected(db) || rf_httpc_pending(p->http) >= MAX_IN_FLIGHT) return;
    /* the lease outlives the request and its refetch */
    rf_num_t lease = rf_i64(2 * rf_pcalls_timeout_ms + 1000), batch = rf_i64(BATCH);
    /* only the calls of platforms whose calls are on */
    const char *on = rf_ks_enabled() && rf_dy_enabled() ? "{kuaishou,douyin}"
                     : rf_dy_enabled()                  ? "{douyin}"
                                                        : "{kuaishou}";
    const char *params[] = {lease.s, batch.s, on};
    PGresult *res = rf_db_query(
        db,
        "UPDATE platform_calls SET next_attempt_at = now() + $1::bigint * interval '1 millisecond'"
        " WHERE call_id IN (SELECT call_id FROM platform_calls WHERE state = 'pending'"
        "   AND next_attempt_at <= now() AND platform = ANY($3::text[])"
        "   ORDER BY next_attempt_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"
        " RETURNING call_id, method, param::text, idempotency_key, platform_return_id, platform,"
        " shop_id",
        3, params);
    if (!res) return;
    for (int i = 0; i < PQntuples(res); i++) {
        flight_t *f = calloc(1, sizeof *f);
        if (!f) break;
        f->p = p;
        f->call_id = rf_get_i64(res, i, 0);
        snprintf(f->method, sizeof f->method, "%s", rf_get_str(res, i, 1));
        snprintf(f->call_method, sizeof f->call_method, "%s", rf_get_str(res, i, 1));
        f->param_json = strdup(rf_get_str(res, i, 2));
        snprintf(f->key, sizeof f->key, "%s", rf_get_str(res, i, 3));
        snprintf(f->platform_return_id, sizeof f->platform_return_id, "%s", rf_get_str(res, i, 4));
        snprintf(f->platform, sizeof f->platform, "%s", rf_get_str(res, i, 5));
        snprintf(f->shop_id, sizeof f->shop_id, "%s", rf_get_str(res, i, 6));
        f->douyin = strcmp(f->platform, "douyin") == 0;
        if (f->douyin) {
            json_t *param = json_loads(f->param_json ? f->param_json : "", 0, NULL);
            f->op_type = rf_pcalls_dy_operate_type(param);
            json_decref(param);
        }
        if (!pick_token(f)) {
            flight_free(f);
            continue;
        }
        if (!f->param_json || flight_send(f) != 0) {
            rf_warn("event=platform_call_not_started call_id=%lld method=%s", (long long)f->call_id,
                    f->method);
            flight_free(f); /* the lease expires and it is tried again */
        }
    }
    PQclear(res);
}

/* The call's final outcome: the worker settles it and the state is stored.
 * Inside the open transaction; 0 or -1 (roll back). */
static int settle(flight_t *f, rf_bus_t *bus, rf_db_t *db, const rf_pcall_outcome_t *o,
                  const char *outcome_name) {
    rf_num_t id = rf_i64(f->call_id);
    const char *p1[] = {id.s};
    PGresult *res = rf_db_query(db,
                                "SELECT call_id, return_id, platform, platform_return_id, purpose,"
                                " method, idempotency_key, platform_version, param::text,"
                                " context::text, shop_id FROM platform_calls"
                                " WHERE call_id = $1 AND state = 'pending' FOR UPDATE",
                                1, p1);
    if (!res) return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0; /* settled already */
    }
    json_t *param = json_loads(rf_get_str(res, 0, 8), 0, NULL);
    json_t *context = json_loads(rf_get_str(res, 0, 9), 0, NULL);
    rf_pcall_t call = {
        .call_id = f->call_id,
        .return_id = rf_get_str(res, 0, 1),
        .platform = rf_get_str(res, 0, 2),
        .platform_return_id = rf_get_str(res, 0, 3),
        .shop_id = rf_get_str(res, 0, 10),
        .purpose = rf_get_str(res, 0, 4),
        .method = rf_get_str(res, 0, 5),
        .idempotency_key = rf_get_str(res, 0, 6),
        .platform_version = rf_get_i64(res, 0, 7),
        .param = param,
        .context = context,
    };
    const char *state = f->p->settle(f->p->arg, bus, db, &call, o);
    int rc = -1;
    if (state) {
        const char *p2[] = {id.s, state, outcome_name, o->accepted ? NULL : o->error};
        rc = rf_db_exec(db,
                        "UPDATE platform_calls SET state = $2, outcome = $3, error = $4,"
                        " done_at = now(), next_attempt_at = NULL WHERE call_id = $1",
                        4, p2);
        rf_log(o->accepted ? RF_LOG_INFO : RF_LOG_WARN,
               "event=platform_call_%s return_id=%s call_id=%lld method=%s idempotency_key=%s"
               " outcome=%s error=\"%s\"",
               state, call.return_id, (long long)f->call_id, call.method, call.idempotency_key,
               outcome_name, o->accepted ? "" : (o->error ? o->error : ""));
    }
    json_decref(param);
    json_decref(context);
    PQclear(res);
    return rc;
}

/* A failed attempt (no usable answer): counted; retried with backoff, or
 * given up after RF_PLATFORM_CALL_RETRY_MAX. Inside the transaction. */
static int count_failure(flight_t *f, rf_bus_t *bus, rf_db_t *db, const char *error) {
    rf_num_t id = rf_i64(f->call_id), base = rf_i64(rf_pcalls_retry_base_ms),
             max = rf_i64(rf_pcalls_retry_max);
    const char *p[] = {id.s, base.s, max.s, error};
    PGresult *res = rf_db_query(
        db,
        "UPDATE platform_calls SET attempts = attempts + 1, error = $4,"
        " next_attempt_at = now() + least($2::bigint * (2 ^ least(attempts, 30))::bigint,"
        "   3600000) * interval '1 millisecond'"
        " WHERE call_id = $1 AND state = 'pending' RETURNING attempts >= $3::int",
        4, p);
    if (!res) return -1;
    bool give_up = PQntuples(res) == 1 && strcmp(rf_get_str(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!give_up) return 0;
    rf_pcall_outcome_t o = {.accepted = false, .error = error};
    return settle(f, bus, db, &o, "gave_up");
}

/* The platform said the token is not valid (attempt recorded): the first time
 * the call is tried again shortly, not counted, with the token read again
 * (intake may have renewed it); a second token-invalid in a row is a counted
 * failure with the usual backoff. Inside the transaction. */
static int token_invalid(flight_t *f, rf_bus_t *bus, rf_db_t *db, const char *error) {
    rf_num_t id = rf_i64(f->call_id), wait = rf_i64(TOKEN_INVALID_RETRY_MS);
    const char *p1[] = {id.s};
    PGresult *res = rf_db_query(db,
                                "SELECT count(*) FILTER (WHERE outcome = 'token_invalid') FROM"
                                " (SELECT outcome FROM platform_call_attempts WHERE call_id = $1"
                                "   ORDER BY id DESC LIMIT 2) last",
                                1, p1);
    if (!res) return -1;
    bool again = rf_get_i64(res, 0, 0) >= 2;
    PQclear(res);
    rf_warn("event=platform_token_invalid call_id=%lld method=%s platform=%s shop_id=%s"
            " in_a_row=%d detail=\"%s\"",
            (long long)f->call_id, f->method, f->platform, f->shop_id, again ? 2 : 1,
            again ? "counted as a failure"
                  : "the token is read again and the call tried once more");
    if (again) return count_failure(f, bus, db, error ? error : "token invalid");
    const char *p2[] = {id.s, wait.s, error ? error : "token invalid"};
    return rf_db_exec(db,
                      "UPDATE platform_calls SET error = $3,"
                      " next_attempt_at = now() + $2::bigint * interval '1 millisecond'"
                      " WHERE call_id = $1 AND state = 'pending'",
                      3, p2);
}

static const char *outcome_name(rf_ks_outcome_t o) {
    switch (o) {
    case RF_KS_OK: return "ok";
    case RF_KS_RATE_LIMITED: return "rate_limited";
    case RF_KS_REFUSED: return "refused";
    case RF_KS_TOKEN_INVALID: return "token_invalid";
    default: return "transport";
    }
}

/* The next request of a refused call: fetch the record again. */
static void start_refetch(flight_t *f, int code, const char *error) {
    f->stage = 1;
    f->refused_code = code;
    snprintf(f->refused_error, sizeof f->refused_error, "%s", error ? error : "refused");
    json_t *param = NULL;
    snprintf(f->method, sizeof f->method, "%s",
             rf_pcalls_refetch(f->platform, f->platform_return_id, &param));
    free(f->param_json);
    f->param_json = param ? json_dumps(param, JSON_COMPACT) : NULL;
    json_decref(param);
    if (!f->param_json || flight_send(f) != 0) {
        rf_warn("event=platform_refetch_not_started call_id=%lld", (long long)f->call_id);
        flight_free(f); /* the lease expires and the call is tried again */
    }
}

/* An answer of either platform, in Kuaishou's outcome terms. */
static void on_answer(flight_t *f, rf_ks_outcome_t outcome, int code, json_t *data, const char *raw,
                      const char *error) {
    rf_pcalls_t *p = f->p;
    rf_bus_t *bus = rf_worker_bus(p->worker);
    rf_db_t *db = rf_worker_db(p->worker);
    if (rf_bus_tx_begin(bus) != 0) {
        flight_free(f); /* the lease expires and it is tried again */
        return;
    }
    int rc = record_attempt(db, f, outcome_name(outcome), code, raw, error);
    bool refetch = false;
    if (rc == 0) {
        if (outcome == RF_KS_RATE_LIMITED) {
            rf_num_t id = rf_i64(f->call_id), base = rf_i64(rf_pcalls_retry_base_ms);
            const char *q[] = {id.s, base.s};
            rc = rf_db_exec(db,
                            "UPDATE platform_calls SET rate_limited = rate_limited + 1,"
                            " next_attempt_at = now() + least($2::bigint"
                            "   * (2 ^ least(rate_limited, 30))::bigint, 3600000)"
                            "   * interval '1 millisecond'"
                            " WHERE call_id = $1 AND state = 'pending'",
                            2, q);
            rf_warn("event=platform_rate_limited call_id=%lld method=%s", (long long)f->call_id,
                    f->method);
        } else if (outcome == RF_KS_TOKEN_INVALID) {
            rc = token_invalid(f, bus, db, error);
        } else if (f->stage == 0 && outcome == RF_KS_OK) {
            rf_pcall_outcome_t o = {.accepted = true, .result_code = 1};
            rc = settle(f, bus, db, &o, "accepted");
        } else if (f->stage == 0 && outcome == RF_KS_REFUSED) {
            refetch = true; /* the attempt is committed; the record decides */
        } else if (f->stage == 1 && outcome == RF_KS_OK) {
            bool done = rf_pcalls_reached(f->platform, f->call_method, f->op_type, data);
            rf_pcall_outcome_t o = {.accepted = done,
                                    .already_done = done,
                                    .result_code = f->refused_code,
                                    .error = f->refused_error,
                                    .detail = data};
            rc = settle(f, bus, db, &o, done ? "already_done" : "refused");
        } else {
            rc = count_failure(f, bus, db, error ? error : "no answer");
        }
    }
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        rf_warn("event=platform_call_unrecorded call_id=%lld method=%s (retried after the lease)",
                (long long)f->call_id, f->method);
        flight_free(f);
        return;
    }
    if (refetch) {
        start_refetch(f, code, error);
        return;
    }
    flight_free(f);
    rf_pcalls_kick(p); /* a settle may have written a new call */
}

static void on_ks_answer(void *arg, rf_ks_outcome_t outcome, int code, json_t *data,
                         const char *raw, const char *error) {
    on_answer(arg, outcome, code, data, raw, error);
}

/* Douyin's answer: its outcomes are Kuaishou's, one for one; an operate
 * answered 10000 is done only when each of its items is. */
static void on_dy_answer(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                         json_t *data, const char *raw, const char *error) {
    flight_t *f = arg;
    (void)sub_code; /* in error and in the recorded answer */
    rf_ks_outcome_t o = outcome == RF_DY_OK              ? RF_KS_OK
                        : outcome == RF_DY_RATE_LIMITED  ? RF_KS_RATE_LIMITED
                        : outcome == RF_DY_TOKEN_INVALID ? RF_KS_TOKEN_INVALID
                        : outcome == RF_DY_REFUSED       ? RF_KS_REFUSED
                                                         : RF_KS_TRANSPORT;
    char why[320];
    int item_code = 0;
    if (o == RF_KS_OK && f->stage == 0 &&
        rf_pcalls_dy_operate_result(data, &item_code, why, sizeof why) != 0) {
        o = RF_KS_REFUSED;
        code = item_code;
        error = why;
    }
    on_answer(f, o, code, data, raw, error);
}

/* ---- set-up -------------------------------------------------------------------------------- */

rf_pcalls_t *rf_pcalls_new(rf_worker_t *w, rf_pcall_settle_fn settle_fn, void *arg) {
    rf_pcalls_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int bad_ks = rf_ks_settings_load(&p->ks), bad_dy = rf_dy_settings_load(&p->dy);
    if (bad_ks != 0 || bad_dy != 0 || rf_shop_tokens_setup(rf_worker_db(w)) != 0) {
        free(p);
        return NULL;
    }
    if (rf_db_migrate(rf_worker_db(w), rf_pcalls_migrations, rf_pcalls_migrations_count) != 0) {
        free(p);
        return NULL;
    }
    p->worker = w;
    p->settle = settle_fn;
    p->arg = arg;
    static const char *const platforms[] = {"kuaishou", "douyin"};
    for (size_t i = 0; i < sizeof platforms / sizeof platforms[0]; i++)
        if (!rf_pcalls_platform_enabled(platforms[i]))
            rf_warn("event=platform_calls_off platform=%s detail=\"no %s: decisions on %s returns"
                    " are recorded as not_sent and alerted; do them in %s\"",
                    platforms[i], rf_pcalls_api_setting(platforms[i]), platforms[i],
                    rf_pcalls_console(platforms[i]));
    if (!rf_pcalls_enabled()) return p;
    p->http = rf_httpc_new(rf_worker_loop(w));
    if (!p->http) {
        free(p);
        return NULL;
    }
    /* calls in flight when the process stopped go out again at once */
    rf_db_exec(rf_worker_db(w),
               "UPDATE platform_calls SET next_attempt_at = now() WHERE state = 'pending'", 0,
               NULL);
    uv_timer_init(rf_worker_loop(w), &p->timer);
    p->timer.data = p;
    uv_unref((uv_handle_t *)&p->timer);
    uv_timer_start(&p->timer, on_timer, 0, POLL_MS);
    if (rf_ks_enabled())
        rf_info("event=platform_calls_on platform=kuaishou api_url=%s sign_method=%s",
                p->ks.api_url, rf_ks_sign_method);
    if (rf_dy_enabled())
        rf_info("event=platform_calls_on platform=douyin api_url=%s sign_method=%s", p->dy.api_url,
                rf_dy_sign_method);
    return p;
}
