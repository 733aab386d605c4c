/*
 * runtime/watchdog.h: end the process when its event loop stops turning.
 *
 * A handler stuck in an endless loop, or a call blocked with no timeout,
 * stops the whole worker while it still holds its port: nothing else would
 * notice. The watchdog is a thread of its own that expects the loop to beat
 * (a uv_timer) and aborts the process when no beat came for limit_s. The
 * supervisor (docker compose, deploy/run.sh) restarts it; an event it was
 * applying counts as a crash then, and one that keeps hanging its consumer
 * is dead-lettered like any poison (bus/bus.h).
 *
 * A process that did not run at all (SIGSTOP, a suspended machine) is not
 * hung: a gap in the watchdog's own wake-ups restarts its count.
 */
#ifndef RF_WATCHDOG_H
#define RF_WATCHDOG_H

#include <stdint.h>

#include <uv.h>

typedef struct rf_watchdog rf_watchdog_t;

/* rf_watchdog_start: beat on loop and watch from a thread; limit_s >= 1.
 * NULL on failure (logged). */
rf_watchdog_t *rf_watchdog_start(uv_loop_t *loop, int64_t limit_s);

/* rf_watchdog_stop: stop the thread and close the timer (run the loop once
 * more to finish closing it); *wd becomes NULL. */
void rf_watchdog_stop(rf_watchdog_t **wd);

#endif
