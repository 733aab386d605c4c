/*
 * platform/dy_oauth.h: Douyin's shop authorisation (抖店开放平台, a tool-type
 * app), as the platform's SDKs describe it. Pure functions: the authorise
 * page's address, the parameters of the two token methods, their answer, and
 * when a token is due for renewal.
 *
 *   authorise page: {page}?response_type=code&app_id&redirect_uri&state
 *                   (page: https://fxg.jinritemai.com/index.html#/ffa/open/
 *                   applicationAuthorize, gaigeshen/doudian Constants.java); the
 *                   shop's consent comes back as {redirect_uri}?code&state
 *   code -> tokens: token.create  {code, grant_type: "authorization_code"}
 *   renew:          token.refresh {grant_type: "refresh_token", refresh_token}
 *                   (both signed API calls without an access token,
 *                   platform/dy_client.h; doudian-sdk-golang
 *                   core/access_token_builder.go)
 *   answer data:    {access_token, expires_in, refresh_token, scope, shop_id,
 *                    shop_name, authority_id, auth_subject_type}; code 10000
 *                   is success, anything else a refusal (50001
 *                   dop.token-generate-failed:code-expired, ...:token-invalid).
 *
 * expires_in is documented both as the token's life in seconds
 * (core/create_token_request.go: 7 days by default) and as the second it
 * expires (api/token_create/response): a value past 10^9 is taken as the
 * latter. A refresh earlier than an hour before the access token expires
 * answers the same pair; within that hour a new pair (the old one lasting one
 * more hour); after it, a new pair and the old one is void
 * (api/token_create/response/token_create_response.go). So renewal waits for
 * the last hour (or the last third of a shorter life). Tokens never appear in
 * an error message these functions write.
 */
#ifndef RF_DY_OAUTH_H
#define RF_DY_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RF_DY_TOKEN_MAX 1024

typedef struct rf_dy_tokens {
    char access_token[RF_DY_TOKEN_MAX];
    char refresh_token[RF_DY_TOKEN_MAX];
    int64_t expires_in_s;         /* the access token's life from now */
    int64_t refresh_expires_in_s; /* the refresh token's (0: not said; the SDKs say 14 days) */
    char shop_id[32];             /* the shop's id, as text (a number in the answer) */
    char shop_name[256];
    char authority_id[64]; /* the authorising subject ("" when not given) */
    char scope[256];
} rf_dy_tokens_t;

typedef enum rf_dy_token_answer {
    RF_DY_TOKENS_OK = 0,  /* code 10000 with both tokens, a positive life and a shop */
    RF_DY_TOKENS_REFUSED, /* the platform said no (a used, expired or unknown code or token) */
    RF_DY_TOKENS_BAD,     /* not the platform's answer */
} rf_dy_token_answer_t;

/* rf_dy_authorize_url: the authorise page's address for one authorisation,
 * every value URL-encoded, joined to page with '?' (or '&' when page
 * already has a query after its '#' route). Returns its length, or -1 (out
 * too small). */
int rf_dy_authorize_url(const char *page, const char *app_id, const char *redirect_uri,
                        const char *state, char *out, size_t cap);

/* rf_dy_code_param / rf_dy_refresh_param: the parameters of token.create and
 * token.refresh (a new object the caller owns; NULL on allocation failure). */
json_t *rf_dy_code_param(const char *code);
json_t *rf_dy_refresh_param(const char *refresh_token);

/* rf_dy_tokens_parse: the answer of either method, at now_s (seconds since
 * the epoch, to read an expires_in given as a moment). *code is the answer's
 * code (0 when absent). On a refusal or a bad answer err says why (code,
 * sub_code and the platform's words, or what is missing). */
rf_dy_token_answer_t rf_dy_tokens_parse(const char *body, size_t len, int64_t now_s,
                                        rf_dy_tokens_t *t, int *code, char *err, size_t errlen);

/* rf_dy_renewal_due: whether a token obtained at obtained_ms and living
 * life_s seconds has less than an hour, or a third of its life when that is
 * shorter, left at now_ms. */
bool rf_dy_renewal_due(int64_t now_ms, int64_t obtained_ms, int64_t life_s);

#endif
