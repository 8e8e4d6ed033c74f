/*
 * token.h: API and session tokens. A token is "wfr_" followed by 43 characters of
 * URL-safe base64 (no padding) of 32 random bytes: 256 bits, recognisable by its prefix
 * (secret scanners, logs), safe in a URL or a header. The database keeps only its
 * SHA-256 in hex, so a leaked database does not leak usable tokens; a token is shown to
 * its owner once, when it is made.
 */
#ifndef WF_CRYPTO_TOKEN_H
#define WF_CRYPTO_TOKEN_H

#include "../core/err.h"

#include <stddef.h>

#define WF_TOKEN_PREFIX "wfr_"
#define WF_TOKEN_LEN 47 /* "wfr_" + 43 */

/* A new random token into out (NUL-terminated) and its SHA-256 hex into hash_hex.
 * WF_ERR_INTERNAL when the random generator fails (out is then empty). The caller
 * wipes out (wf_secure_zero) once it has handed the token over. */
int wf_token_new(char out[WF_TOKEN_LEN + 1], char hash_hex[65], wf_err *err);

/* The lower-case hex SHA-256 of the len bytes of token: what is stored and looked up. */
void wf_token_hash(const char *token, size_t len, char hash_hex[65]);

#endif
