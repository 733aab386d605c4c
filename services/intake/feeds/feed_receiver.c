/*
 * feed_receiver.c: the platforms' push endpoints (POST /v1/feeds/kuaishou,
 * POST /v1/feeds/douyin) on a thread of their own, with their own libuv loop
 * and HTTP server on RF_INTAKE_FEED_LISTEN.
 *
 * Record first, process after: a push is checked (Kuaishou: AES decrypt and
 * parse; Douyin: event-sign and parse), written with its verdict to the
 * local spool and made durable (one fsync for every request read in the same
 * loop turn), and only then answered. Nothing here touches PostgreSQL, so
 * the platform's 3 s answer deadline holds while the database is slow or
 * stalled; the worker's loop drains the spool (feed_worker.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "feeds/feeds_internal.h"
#include "platform/ks_client.h"
#include "platform/douyin.h"
#include "runtime/ids.h"
#include "platform/kuaishou.h"
#include "runtime/log.h"

#define AUDIT_BODY_MAX (64 * 1024)

intake_feed_counters_t intake_feed_counters;

/* An answer waiting for its lines to be durable. */
typedef struct held_answer {
    rf_http_exchange_t *x;
    int status;
    char *body;
    struct held_answer *next;
} held_answer_t;

static struct {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_check_t check;
    uv_async_t stop;
    rf_http_server_t *http;
    intake_spool_t *spool;
    const intake_feed_settings_t *s;
    held_answer_t *held, **held_tail;
    bool running;
} rx;

static void answer_json(rf_http_exchange_t *x, int status, const char *body) {
    rf_http_reply(x, status, "application/json", body, strlen(body));
}

/* The raw body as a JSON string: as is when it is UTF-8 text, else with
 * every byte outside printable ASCII written as \xNN. */
static json_t *raw_text(const char *body, size_t len) {
    if (len > AUDIT_BODY_MAX) len = AUDIT_BODY_MAX;
    json_t *s = json_stringn(body, len);
    if (s) return s;
    char *esc = malloc(4 * len + 1);
    if (!esc) return json_string("");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') esc[n++] = (char)c;
        else n += (size_t)sprintf(esc + n, "\\x%02x", c);
    }
    s = json_stringn(esc, n);
    free(esc);
    return s ? s : json_string("");
}

/* Append one spool line built from doc (consumed). 0 or -1. */
static int spool_doc(json_t *doc) {
    char *line = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    int rc = line ? intake_spool_append(rx.spool, line, strlen(line)) : -1;
    free(line);
    if (rc != 0) atomic_fetch_add(&intake_feed_counters.spool_errors, 1);
    return rc;
}

static json_t *line_base(const char *platform, const char *verdict, rf_http_exchange_t *x) {
    return json_pack("{s:s, s:s, s:s, s:I}", "platform", platform, "verdict", verdict, "source",
                     rf_http_peer(x), "received_at", (json_int_t)rf_now_ms());
}

/* Hold x's answer until the next sync; it is sent once the lines are durable. */
static void hold(rf_http_exchange_t *x, int status, const char *body) {
    held_answer_t *h = calloc(1, sizeof *h);
    char *copy = h ? strdup(body) : NULL;
    if (!copy) {
        free(h);
        answer_json(x, 503, "{\"error\":\"out_of_memory\",\"message\":\"retry\"}");
        return;
    }
    h->x = x;
    h->status = status;
    h->body = copy;
    *rx.held_tail = h;
    rx.held_tail = &h->next;
}

/* Record a refused message and hold its error answer. */
static void refuse(rf_http_exchange_t *x, int pi, int status, const char *reason, const char *body,
                   size_t len) {
    const char *platform = pi == 0 ? "kuaishou" : "douyin";
    atomic_fetch_add(&intake_feed_counters.refused[pi], 1);
    rf_warn("event=feed_push_refused platform=%s source=%s reason=\"%s\"", platform,
            rf_http_peer(x), reason);
    json_t *doc = line_base(platform, "refused", x);
    json_object_set_new(doc, "reason", json_string(reason));
    json_object_set_new(doc, "body", raw_text(body, len));
    char answer[600];
    json_t *ans = pi == 0 ? json_pack("{s:i, s:s, s:s}", "result", 0, "error", "push_refused",
                                      "error_msg", reason)
                          : json_pack("{s:i, s:s}", "code", 40004, "msg", reason);
    char *text = json_dumps(ans, JSON_COMPACT);
    snprintf(answer, sizeof answer, "%s", text ? text : "{}");
    free(text);
    json_decref(ans);
    if (spool_doc(doc) != 0) answer_json(x, 503, "{\"error\":\"spool_unavailable\"}");
    else hold(x, status, answer);
}

static void kuaishou_push(rf_http_exchange_t *x, const char *body, size_t len) {
    char err[300];
    char *plain = NULL;
    size_t plain_len = 0;
    rf_ks_push_t push;
    if (rf_ks_push_decrypt(body, len, rx.s->ks_message_key, &plain, &plain_len, err, sizeof err) !=
        0) {
        refuse(x, 0, 400, err, body, len);
        return;
    }
    if (rf_ks_push_parse(plain, plain_len, &push, err, sizeof err) != 0) {
        refuse(x, 0, 400, err, body, len);
        free(plain);
        return;
    }
    /* A message for another app (its appKey is not ours) is not ours to act on,
     * even if it decrypts: refused when our app key is known. */
    if (!push.test && *rf_ks_app_key && *push.app_key && strcmp(push.app_key, rf_ks_app_key) != 0) {
        snprintf(err, sizeof err, "appKey %.96s is not this app's", push.app_key);
        refuse(x, 0, 400, err, body, len);
        free(plain);
        rf_ks_push_clear(&push);
        return;
    }
    if (push.test) {
        atomic_fetch_add(&intake_feed_counters.heartbeats, 1);
        answer_json(x, 200, "{\"result\":1}");
        free(plain);
        rf_ks_push_clear(&push);
        return;
    }
    atomic_fetch_add(&intake_feed_counters.received[0], 1);
    json_t *doc = line_base("kuaishou", "accepted", x);
    json_t *info_version = json_object_get(push.info, "updateTime");
    json_object_set_new(doc, "event_id", json_string(push.event_id));
    json_object_set_new(doc, "topic", json_string(push.event));
    json_object_set_new(doc, "biz_id", json_string(push.biz_id));
    json_object_set_new(
        doc, "version",
        json_integer(json_is_integer(info_version) ? json_integer_value(info_version) : 0));
    json_object_set_new(doc, "message", json_loadb(plain, plain_len, 0, NULL));
    free(plain);
    rf_ks_push_clear(&push);
    if (spool_doc(doc) != 0)
        answer_json(x, 503, "{\"result\":0,\"error_msg\":\"spool unavailable\"}");
    else hold(x, 200, "{\"result\":1}");
}

static void douyin_push(rf_http_exchange_t *x, const char *body, size_t len) {
    char err[300];
    if (!rf_dy_push_verify(rx.s->dy_app_key, rx.s->dy_app_secret, body, len,
                           rf_http_header(x, "event-sign"))) {
        refuse(x, 1, 401, "event-sign does not match the body", body, len);
        return;
    }
    rf_dy_message_t *msgs = NULL;
    size_t n = 0;
    if (rf_dy_push_parse(body, len, &msgs, &n, err, sizeof err) != 0) {
        refuse(x, 1, 400, err, body, len);
        return;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        atomic_fetch_add(&intake_feed_counters.received[1], 1);
        intake_feed_record_t rec;
        bool mapped = intake_feed_from_douyin(msgs[i].data, &rec, err, sizeof err) == 0;
        json_t *doc = line_base("douyin", "accepted", x);
        char tag[16];
        snprintf(tag, sizeof tag, "%d", msgs[i].tag);
        json_object_set_new(doc, "event_id", json_string(msgs[i].msg_id));
        json_object_set_new(doc, "topic", json_string(tag));
        json_object_set_new(doc, "biz_id", json_string(mapped ? rec.platform_return_id : ""));
        json_object_set_new(doc, "version", json_integer(mapped ? rec.version : 0));
        json_object_set_new(doc, "message",
                            json_pack("{s:i, s:s, s:O}", "tag", msgs[i].tag, "msg_id",
                                      msgs[i].msg_id, "data", msgs[i].data));
        rc = spool_doc(doc);
    }
    rf_dy_messages_free(msgs, n);
    if (rc != 0) answer_json(x, 503, "{\"code\":50000,\"msg\":\"spool unavailable\"}");
    else hold(x, 200, "{\"code\":0,\"msg\":\"success\"}");
}

static void on_request(rf_http_exchange_t *x, void *arg) {
    (void)arg;
    const char *path = rf_http_path(x);
    bool ks = strcmp(path, "/v1/feeds/kuaishou") == 0, dy = strcmp(path, "/v1/feeds/douyin") == 0;
    if (strcmp(path, "/healthz") == 0) {
        answer_json(x, 200, "{\"status\":\"ok\"}");
        return;
    }
    if ((ks && !*rx.s->ks_message_key) || (dy && (!*rx.s->dy_app_key || !*rx.s->dy_app_secret)) ||
        (!ks && !dy)) {
        rf_http_reply_error(x, 404, "not_found", "no such feed (or it is not configured)");
        return;
    }
    if (strcmp(rf_http_method(x), "POST") != 0) {
        rf_http_reply_error(x, 405, "method_not_allowed", "pushes are POSTed");
        return;
    }
    size_t len;
    const char *body = rf_http_body(x, &len);
    if (ks) kuaishou_push(x, body, len);
    else douyin_push(x, body, len);
}

/* After each loop turn's reads: one fsync for every line appended, then the
 * answers held for them. */
static void on_check(uv_check_t *c) {
    (void)c;
    if (!rx.held) return;
    bool durable = intake_spool_sync(rx.spool) == 0;
    if (!durable) {
        atomic_fetch_add(&intake_feed_counters.spool_errors, 1);
        rf_error("event=feed_spool_sync_failed dir=%s", rx.s->spool_dir);
    }
    held_answer_t *h = rx.held;
    rx.held = NULL;
    rx.held_tail = &rx.held;
    while (h) {
        held_answer_t *next = h->next;
        if (durable) answer_json(h->x, h->status, h->body);
        else rf_http_reply_error(h->x, 503, "spool_unavailable", "could not record the push");
        free(h->body);
        free(h);
        h = next;
    }
    if (durable) atomic_fetch_add(&intake_feed_counters.batches_durable, 1);
}

static void close_handle(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_stop(uv_async_t *a) {
    (void)a;
    on_check(NULL); /* what is spooled is synced and answered first */
    rf_http_server_destroy(&rx.http);
    uv_walk(&rx.loop, close_handle, NULL);
}

static void run(void *arg) {
    (void)arg;
    uv_run(&rx.loop, UV_RUN_DEFAULT);
    OPENSSL_thread_stop(); /* this thread's error queue (failed decryptions) */
}

int intake_feed_receiver_start(const intake_feed_settings_t *s, char *err, size_t errlen) {
    rx.s = s;
    /* OpenSSL's one-time set-up on this (the main) thread, not lazily on the
     * feed thread, whose per-thread state would outlive it. */
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    rx.held_tail = &rx.held;
    if (uv_loop_init(&rx.loop) != 0) {
        snprintf(err, errlen, "cannot start the feed loop");
        return -1;
    }
    rx.spool = intake_spool_open(s->spool_dir, err, errlen);
    if (!rx.spool) return -1;
    rx.http = rf_http_server_new(&rx.loop, s->listen, NULL, on_request, NULL, err, errlen);
    if (!rx.http) return -1;
    uv_check_init(&rx.loop, &rx.check);
    uv_check_start(&rx.check, on_check);
    uv_async_init(&rx.loop, &rx.stop, on_stop);
    if (uv_thread_create(&rx.thread, run, NULL) != 0) {
        snprintf(err, errlen, "cannot start the feed thread");
        return -1;
    }
    rx.running = true;
    rf_info("event=feed_receiver_started listen=%s port=%d spool=%s kuaishou=%s douyin=%s",
            s->listen, rf_http_server_port(rx.http), s->spool_dir,
            *s->ks_message_key ? "on" : "off", *s->dy_app_key ? "on" : "off");
    return 0;
}

int intake_feed_receiver_port(void) { return rx.http ? rf_http_server_port(rx.http) : 0; }

void intake_feed_receiver_stop(void) {
    if (!rx.running) return;
    uv_async_send(&rx.stop);
    uv_thread_join(&rx.thread);
    uv_run(&rx.loop, UV_RUN_NOWAIT);
    uv_loop_close(&rx.loop);
    intake_spool_close(&rx.spool);
    rx.running = false;
}
