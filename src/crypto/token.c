/*
 * token.c: making and hashing tokens. A plain SHA-256 (no salt, no stretching) is right
 * here, unlike for passwords: a token has 256 bits of randomness, so there is nothing
 * to guess, and a lookup by hash must be one indexed query.
 */
#include "token.h"
#include "hash.h"

#include "../core/buf.h"

#include <stdint.h>
#include <string.h>

#define RAW_LEN 32

/* URL-safe base64 without padding of 32 bytes: 43 characters and a NUL. */
static void b64url_32(const uint8_t in[RAW_LEN], char out[44])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= RAW_LEN; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[w >> 18];
        out[o++] = alphabet[(w >> 12) & 63];
        out[o++] = alphabet[(w >> 6) & 63];
        out[o++] = alphabet[w & 63];
    }
    /* 32 = 30 + 2: two bytes left, three characters */
    uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = alphabet[w >> 18];
    out[o++] = alphabet[(w >> 12) & 63];
    out[o++] = alphabet[(w >> 6) & 63];
    out[o] = '\0';
}

int wf_token_new(char out[WF_TOKEN_LEN + 1], char hash_hex[65], wf_err *err)
{
    uint8_t raw[RAW_LEN];
    out[0] = '\0';
    hash_hex[0] = '\0';
    int rc = wf_random_bytes(raw, sizeof raw, err);
    if (rc == 0) {
        memcpy(out, WF_TOKEN_PREFIX, strlen(WF_TOKEN_PREFIX));
        b64url_32(raw, out + strlen(WF_TOKEN_PREFIX));
        wf_token_hash(out, WF_TOKEN_LEN, hash_hex);
    }
    wf_secure_zero(raw, sizeof raw);
    return rc;
}

void wf_token_hash(const char *token, size_t len, char hash_hex[65])
{
    wf_sha256_hex(token, len, hash_hex);
}
