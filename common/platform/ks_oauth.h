/*
 * platform/ks_oauth.h: Kuaishou's OAuth, as the platform's own client
 * (kuaishou-merchant-open-api, main.js) and PLATFORMS.md describe it. Pure
 * functions: the authorise page's address, the token requests' parameters,
 * the token answer, and when a token is due for renewal.
 *
 *   authorise page:  {page}?app_id&redirect_uri&scope&response_type=code&state
 *   code -> tokens:  GET  {api}/oauth2/access_token?app_id&app_secret&code&grant_type=code
 *   renew:           POST {api}/oauth2/refresh_token?app_id&app_secret&grant_type=refresh_token
 *                         &refresh_token
 *   answer:          {"result": 1, "access_token", "expires_in" (s), "refresh_token",
 *                     "refresh_token_expires_in" (s), "open_id", "scopes": [...]};
 *                    any other result is a refusal with "error" and "error_msg".
 *
 * A renewal rotates the refresh token: the old one is refused from then on, so
 * the new pair must be stored durably before it is used. Tokens never appear
 * in an error message these functions write.
 */
#ifndef RF_KS_OAUTH_H
#define RF_KS_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RF_KS_TOKEN_MAX 1024

typedef struct rf_ks_tokens {
    char access_token[RF_KS_TOKEN_MAX];
    char refresh_token[RF_KS_TOKEN_MAX];
    int64_t expires_in_s;         /* the access token's life */
    int64_t refresh_expires_in_s; /* the refresh token's (0: not said) */
    char open_id[128];            /* the shop's id for this app */
    char scopes[512];             /* comma-separated */
} rf_ks_tokens_t;

typedef enum rf_ks_token_answer {
    RF_KS_TOKENS_OK = 0,  /* result 1 with both tokens and a positive life */
    RF_KS_TOKENS_REFUSED, /* the platform said no (a used or expired refresh token, a bad code) */
    RF_KS_TOKENS_BAD,     /* not the platform's answer */
} rf_ks_token_answer_t;

/* rf_ks_authorize_url: the authorise page's address for one authorisation,
 * every value URL-encoded. Returns its length, or -1 (out too small). */
int rf_ks_authorize_url(const char *page, const char *app_id, const char *redirect_uri,
                        const char *scope, const char *state, char *out, size_t cap);

/* rf_ks_code_query / rf_ks_refresh_query: the query string of the two token
 * requests (no leading '?'). Returns its length, or -1. */
int rf_ks_code_query(const char *app_id, const char *app_secret, const char *code, char *out,
                     size_t cap);
int rf_ks_refresh_query(const char *app_id, const char *app_secret, const char *refresh_token,
                        char *out, size_t cap);

/* rf_ks_tokens_parse: the answer of either request. *result is the answer's
 * result (0 when absent). On a refusal or a bad answer err says why (the
 * platform's error and error_msg, or what is missing). */
rf_ks_token_answer_t rf_ks_tokens_parse(const char *body, size_t len, rf_ks_tokens_t *t,
                                        int *result, char *err, size_t errlen);

/* rf_ks_renewal_due: whether a token obtained at obtained_ms and living
 * life_s seconds has less than a third of its life left at now_ms. */
bool rf_ks_renewal_due(int64_t now_ms, int64_t obtained_ms, int64_t life_s);

#endif
