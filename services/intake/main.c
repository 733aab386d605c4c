/*
 * main.c: the intake worker process: wires its migrations, event handler and
 * HTTP routes into the common worker skeleton.
 */
#include "intake.h"
#include "feeds/feeds.h"
#include "intake_ops.h"
#include "platform/dy_client.h"
#include "platform/ks_client.h"
#include "platform/shop_tokens.h"
#include "shops/shops.h"

extern const rf_migration_t rf_intake_migrations[];
extern const size_t rf_intake_migrations_count;

int main(int argc, char **argv) {
    intake_feed_settings_t *f = &intake_feed_settings;
    intake_shop_settings_t *sh = &intake_shop_settings;
    const rf_config_entry_t config[] = {
        {"RF_INTAKE_POLICY_FILE", RF_CFG_STRING, intake_policy_file, "", 0, 0,
         "JSON return policies {default, shops: {shop_id: ...}} loaded at start; empty: defaults"},
        {"RF_INTAKE_FEED_LISTEN", RF_CFG_HOSTPORT, f->listen, "127.0.0.1:8090", 0, 0,
         "host:port of the platforms' push endpoints (/v1/feeds/kuaishou, /v1/feeds/douyin),"
         " apart from the API; used when a feed key is set"},
        {"RF_INTAKE_FEED_SPOOL_DIR", RF_CFG_STRING, f->spool_dir, "intake-feed-spool", 0, 0,
         "directory of the local spool pushes are recorded to before they are answered"},
        {"RF_KUAISHOU_MESSAGE_KEY", RF_CFG_STRING, f->ks_message_key, "", 0, 0,
         "Base64 AES key of the Kuaishou app's push messages; empty: Kuaishou pushes off"},
        RF_DY_CONFIG,
        {"RF_DOUYIN_POLL_INTERVAL_MS", RF_CFG_INT, &f->dy_poll_interval_ms, "60000", 0, 86400000,
         "how often each Douyin shop's after-sale list is polled once caught up; 0: no polling"},
        {"RF_DOUYIN_POLL_LAG_MS", RF_CFG_INT, &f->dy_poll_lag_ms, "10000", 0, 3600000,
         "a Douyin poll window ends this far behind now"},
        {"RF_DOUYIN_AUTHORIZE_URL", RF_CFG_STRING, sh->dy_authorize_url,
         "https://fxg.jinritemai.com/index.html#/ffa/open/applicationAuthorize", 0, 0,
         "Douyin's authorise page the shop owner is sent to"},
        {"RF_KUAISHOU_REASON_MAP", RF_CFG_STRING, f->ks_reason_map, "", 0, 0,
         "Kuaishou refundReason codes to reasons, \"code:reason,...\"; unmapped: other"},
        {"RF_DOUYIN_REASON_MAP", RF_CFG_STRING, f->dy_reason_map, "", 0, 0,
         "Douyin reason_code values to reasons, \"code:reason,...\"; unmapped: other"},
        {"RF_INTAKE_MAX_BACKLOG", RF_CFG_INT, &intake_max_backlog, "20000", 0, 100000000,
         "new returns are answered 503 busy while this many of intake's events wait for a"
         " consumer (the pipeline is behind); 0: never"},
        RF_KS_CONFIG,
        {"RF_KUAISHOU_POLL_INTERVAL_MS", RF_CFG_INT, &f->poll_interval_ms, "60000", 0, 86400000,
         "how often the refund list is polled once caught up; 0: no polling"},
        {"RF_KUAISHOU_POLL_LAG_MS", RF_CFG_INT, &f->poll_lag_ms, "10000", 0, 3600000,
         "a poll window ends this far behind now, so records updated at the edge are not missed"},
        {"RF_KUAISHOU_POLL_START_MS", RF_CFG_INT, &f->poll_start_ms, "0", 0, INT64_MAX / 2,
         "where the first poll window begins (ms since the epoch); 0: one hour before start-up"},
        {"RF_KUAISHOU_POLL_PAGE_SIZE", RF_CFG_INT, &f->poll_page_size, "100", 1, 100,
         "records per list page"},
        RF_SECRETS_CONFIG,
        {"RF_INTAKE_PUBLIC_URL", RF_CFG_STRING, sh->public_url, "", 0, 0,
         "intake's address as the shop owner's browser reaches it (https://returns.example.com);"
         " the platforms send the owner back to {it}/v1/oauth/{platform}/callback; empty: no"
         " authorisation from the ops page or rfctl"},
        {"RF_KUAISHOU_APP_SECRET", RF_CFG_STRING, sh->ks_app_secret, "", 0, 0,
         "Kuaishou app secret (OAuth: code exchange and token renewal; not the sign secret)"},
        {"RF_KUAISHOU_AUTHORIZE_URL", RF_CFG_STRING, sh->ks_authorize_url,
         "https://open.kwaixiaodian.com/oauth/authorize", 0, 0,
         "Kuaishou's authorise page the shop owner is sent to"},
        {"RF_KUAISHOU_OAUTH_SCOPE", RF_CFG_STRING, sh->ks_scope,
         "merchant_refund,merchant_order,user_info", 0, 0,
         "the scopes asked of a Kuaishou shop (comma-separated)"},
        {"RF_SHOPS_RENEW_CHECK_MS", RF_CFG_INT, &sh->renew_check_ms, "1000", 100, 600000,
         "how often shops' tokens are checked for renewal (a token is renewed with a third of"
         " its life left)"},
        {"RF_SHOPS_RENEW_LEASE_MS", RF_CFG_INT, &sh->renew_lease_ms, "30000", 1000, 3600000,
         "a shop claimed for renewal is left to that process this long; after a crash, the next"
         " renewal waits for it (keep it above the token request's 10 s timeout)"},
    };
    static const rf_route_rule_t rules[] = {
        {"GET", "/v1/shops/authorize", RF_ROLE_ADMIN},
        {"POST", "/v1/shops", RF_ROLE_ADMIN},
        {"POST", "/v1/shops/kuaishou/{}/disable", RF_ROLE_ADMIN},
        {"POST", "/v1/shops/douyin/{}/disable", RF_ROLE_ADMIN},
    };
    rf_worker_spec_t spec = {
        .name = "intake",
        .bit = RF_W_INTAKE,
        .default_http = "127.0.0.1:8080",
        .migrations = rf_intake_migrations,
        .n_migrations = rf_intake_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .apply = intake_apply,
        .route = intake_route,
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .ops_route = intake_ops_route,
        .metrics = intake_metrics, /* intake_report.c */
        .start = intake_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
