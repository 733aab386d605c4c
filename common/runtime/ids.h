/*
 * runtime/ids.h: identifiers and clocks.
 *
 * Event ids and return ids are ULIDs: 26 characters of Crockford base32, a
 * 48-bit millisecond timestamp then 80 random bits, so they sort by creation
 * time and are unique without coordination. Within one process, ids made in
 * the same millisecond still increase.
 */
#ifndef RF_IDS_H
#define RF_IDS_H

#include <stdint.h>

#define RF_ULID_LEN 26
#define RF_ID_MAX 64 /* room for any id we keep in a fixed buffer, with its NUL */

/* rf_ulid_new: write a new ULID and its NUL into out[RF_ULID_LEN + 1]. */
void rf_ulid_new(char out[RF_ULID_LEN + 1]);

/* rf_now_ms: wall-clock time, milliseconds since the epoch (UTC). */
int64_t rf_now_ms(void);

/* rf_mono_ms: monotonic milliseconds, for timeouts and durations. */
int64_t rf_mono_ms(void);

#endif
