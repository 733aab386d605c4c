/*
 * httpc.c: libcurl multi on libuv (http/httpc.h). The pattern is curl's own
 * "multi-uv" one: curl tells us which sockets to watch (socket callback) and
 * when to wake it (timer callback); we tell curl what happened through
 * curl_multi_socket_action, then collect finished transfers.
 */
#include "http/httpc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "runtime/log.h"

#define MAX_ANSWER (4u << 20)

typedef struct request request_t;

struct rf_httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    size_t pending;
    request_t *requests; /* pending, newest first */
};

/* One watched socket. */
typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    rf_httpc_t *c;
} sock_ctx_t;

/* One request. */
struct request {
    request_t *prev, *next; /* in rf_httpc.requests */
    CURL *easy;
    struct curl_slist *headers;
    char *body;   /* request body (copied) */
    char *answer; /* answer body so far */
    size_t alen, acap;
    bool too_big;
    char error[CURL_ERROR_SIZE];
    rf_httpc_done_fn cb;
    void *arg;
};

static void unlink_request(rf_httpc_t *c, request_t *r) {
    if (r->prev) r->prev->next = r->next;
    else c->requests = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->pending--;
}

static void free_request(request_t *r) {
    if (r->headers) curl_slist_free_all(r->headers);
    if (r->easy) curl_easy_cleanup(r->easy);
    free(r->body);
    free(r->answer);
    free(r);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
    request_t *r = userdata;
    size_t n = size * nmemb;
    if (r->alen + n + 1 > MAX_ANSWER) {
        r->too_big = true;
        return 0; /* makes curl stop with a write error */
    }
    if (r->alen + n + 1 > r->acap) {
        size_t cap = (r->alen + n + 1) * 2;
        char *na = realloc(r->answer, cap);
        if (!na) return 0;
        r->answer = na;
        r->acap = cap;
    }
    memcpy(r->answer + r->alen, ptr, n);
    r->alen += n;
    r->answer[r->alen] = '\0';
    return n;
}

static void collect_done(rf_httpc_t *c) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        request_t *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(c->multi, msg->easy_handle);
        unlink_request(c, r);
        long status = 0;
        const char *error = NULL;
        if (msg->data.result == CURLE_OK) {
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        } else {
            error = r->too_big    ? "answer larger than 4 MiB"
                    : r->error[0] ? r->error
                                  : curl_easy_strerror(msg->data.result);
        }
        r->cb(r->arg, status, r->answer ? r->answer : "", r->alen, error);
        free_request(r);
    }
}

static void on_timer(uv_timer_t *t) {
    rf_httpc_t *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    rf_httpc_t *c = userp;
    if (timeout_ms < 0) uv_timer_stop(&c->timer);
    else uv_timer_start(&c->timer, on_timer, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_poll(uv_poll_t *p, int status, int events) {
    sock_ctx_t *s = p->data;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    rf_httpc_t *c = s->c;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    collect_done(c);
}

static void free_sock(uv_handle_t *h) { free(h->data); }

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    rf_httpc_t *c = userp;
    sock_ctx_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, free_sock);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return -1;
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

rf_httpc_t *rf_httpc_new(uv_loop_t *loop) {
    static bool global_done = false;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return NULL;
        global_done = true;
    }
    rf_httpc_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

int rf_httpc_post(rf_httpc_t *c, const char *url, const char *content_type, const char *body,
                  size_t len, long timeout_ms, rf_httpc_done_fn cb, void *arg) {
    return rf_httpc_post_headers(c, url, content_type, NULL, body, len, timeout_ms, cb, arg);
}

/* Start a request: a POST of body when content_type is set, else a GET. */
static int start(rf_httpc_t *c, const char *url, const char *content_type,
                 const char *const *headers, const char *body, size_t len, long timeout_ms,
                 rf_httpc_done_fn cb, void *arg) {
    request_t *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->cb = cb;
    r->arg = arg;
    r->easy = curl_easy_init();
    r->body = malloc(len + 1);
    char ct[256] = "Accept: application/json"; /* a GET sends no body to type */
    if (content_type) snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    r->headers = curl_slist_append(NULL, ct);
    for (size_t i = 0; headers && headers[i] && r->headers; i++) {
        struct curl_slist *more = curl_slist_append(r->headers, headers[i]);
        if (!more) {
            curl_slist_free_all(r->headers);
            r->headers = NULL;
        } else {
            r->headers = more;
        }
    }
    if (!r->easy || !r->body || !r->headers) {
        free_request(r);
        return -1;
    }
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (content_type) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        free_request(r);
        return -1;
    }
    r->next = c->requests;
    if (c->requests) c->requests->prev = r;
    c->requests = r;
    c->pending++;
    return 0;
}

int rf_httpc_post_headers(rf_httpc_t *c, const char *url, const char *content_type,
                          const char *const *headers, const char *body, size_t len, long timeout_ms,
                          rf_httpc_done_fn cb, void *arg) {
    if (!content_type) return -1;
    return start(c, url, content_type, headers, body, len, timeout_ms, cb, arg);
}

int rf_httpc_get_headers(rf_httpc_t *c, const char *url, const char *const *headers,
                         long timeout_ms, rf_httpc_done_fn cb, void *arg) {
    return start(c, url, NULL, headers, "", 0, timeout_ms, cb, arg);
}

size_t rf_httpc_pending(const rf_httpc_t *c) { return c->pending; }

static void free_client(uv_handle_t *h) { free(h->data); }

void rf_httpc_destroy(rf_httpc_t **c_p) {
    if (!c_p || !*c_p) return;
    rf_httpc_t *c = *c_p;
    *c_p = NULL;
    /* Drop pending transfers (their sockets' polls are closed by socket_cb). */
    request_t *r = c->requests;
    c->requests = NULL;
    c->pending = 0;
    while (r) {
        request_t *next = r->next;
        curl_multi_remove_handle(c->multi, r->easy);
        free_request(r);
        r = next;
    }
    curl_multi_cleanup(c->multi);
    uv_close((uv_handle_t *)&c->timer, free_client);
}
