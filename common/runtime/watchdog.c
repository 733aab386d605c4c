/*
 * watchdog.c: a thread that aborts the process when its event loop stops
 * turning (see runtime/watchdog.h).
 */
#include "runtime/watchdog.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "runtime/ids.h"
#include "runtime/log.h"

struct rf_watchdog {
    uv_timer_t beat_timer;   /* on the watched loop */
    _Atomic int64_t beat_ms; /* rf_mono_ms() of the loop's last beat */
    int64_t limit_ms;
    int64_t interval_ms; /* between beats, and between the thread's checks */
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;
    bool stopping; /* under lock */
};

static void on_beat(uv_timer_t *h) {
    rf_watchdog_t *wd = h->data;
    atomic_store(&wd->beat_ms, rf_mono_ms());
}

static void free_on_close(uv_handle_t *h) { free(h->data); }

static void watch(void *arg) {
    rf_watchdog_t *wd = arg;
    int64_t last_check = rf_mono_ms();
    int64_t counting_from = last_check; /* a stop of the whole process restarts the count */
    uv_mutex_lock(&wd->lock);
    while (!wd->stopping) {
        uv_cond_timedwait(&wd->wake, &wd->lock, (uint64_t)wd->interval_ms * 1000000u);
        if (wd->stopping) break;
        int64_t now = rf_mono_ms();
        if (now - last_check > 2 * wd->interval_ms + 1000) counting_from = now;
        last_check = now;
        int64_t beat = atomic_load(&wd->beat_ms);
        int64_t since = now - (beat > counting_from ? beat : counting_from);
        if (since > wd->limit_ms) {
            rf_error("event=watchdog_expired stalled_ms=%lld limit_ms=%lld action=abort"
                     " detail=\"the event loop has not turned: a handler is stuck; the event"
                     " being applied, if any, counts as a crash when the worker restarts\"",
                     (long long)since, (long long)wd->limit_ms);
            abort();
        }
    }
    uv_mutex_unlock(&wd->lock);
}

rf_watchdog_t *rf_watchdog_start(uv_loop_t *loop, int64_t limit_s) {
    rf_watchdog_t *wd = calloc(1, sizeof *wd);
    if (!wd) return NULL;
    wd->limit_ms = (limit_s < 1 ? 1 : limit_s) * 1000;
    wd->interval_ms = wd->limit_ms / 4 < 1000 ? wd->limit_ms / 4 : 1000;
    atomic_store(&wd->beat_ms, rf_mono_ms());
    uv_mutex_init(&wd->lock);
    uv_cond_init(&wd->wake);
    uv_timer_init(loop, &wd->beat_timer);
    wd->beat_timer.data = wd;
    uv_timer_start(&wd->beat_timer, on_beat, (uint64_t)wd->interval_ms, (uint64_t)wd->interval_ms);
    uv_unref((uv_handle_t *)&wd->beat_timer); /* the loop ends when its work does */
    int rc = uv_thread_create(&wd->thread, watch, wd);
    if (rc != 0) {
        rf_error("event=watchdog_failed error=\"%s\"", uv_strerror(rc));
        uv_timer_stop(&wd->beat_timer);
        uv_close((uv_handle_t *)&wd->beat_timer, free_on_close);
        uv_cond_destroy(&wd->wake);
        uv_mutex_destroy(&wd->lock);
        return NULL;
    }
    return wd;
}

void rf_watchdog_stop(rf_watchdog_t **wd_p) {
    rf_watchdog_t *wd = *wd_p;
    if (!wd) return;
    *wd_p = NULL;
    uv_mutex_lock(&wd->lock);
    wd->stopping = true;
    uv_cond_signal(&wd->wake);
    uv_mutex_unlock(&wd->lock);
    uv_thread_join(&wd->thread);
    uv_cond_destroy(&wd->wake);
    uv_mutex_destroy(&wd->lock);
    uv_timer_stop(&wd->beat_timer);
    uv_close((uv_handle_t *)&wd->beat_timer, free_on_close);
}
