/*
 * fernet.h: Fernet tokens (https://github.com/fernet/spec), byte-compatible with Python
 * `cryptography.fernet.Fernet`: version 0x80, 64-bit big-endian timestamp, 128-bit IV,
 * AES-128-CBC with PKCS#7 padding, HMAC-SHA256 over everything before the MAC, the whole
 * encoded in URL-safe base64 with padding.
 *
 * Decoding is strict: a token or key that is not canonical URL-safe base64 is rejected.
 * The MAC is checked in constant time before anything is decrypted. Key material lives
 * only in wf_fernet_key, which callers wipe with wf_fernet_key_wipe.
 */
#ifndef WF_CRYPTO_FERNET_H
#define WF_CRYPTO_FERNET_H

#include "../core/buf.h"
#include "../core/err.h"

#include <stddef.h>
#include <stdint.h>

#define WF_FERNET_KEY_B64_LEN 44 /* URL-safe base64 of 32 bytes, with one '=' */
#define WF_FERNET_MAX_CLOCK_SKEW 60

typedef struct wf_fernet_key {
    uint8_t signing[16];
    uint8_t encryption[16];
} wf_fernet_key;

/* Decodes a 44-character URL-safe base64 key. WF_ERR_INVALID (message without the key)
 * when it is not exactly 32 bytes of strict base64. */
int wf_fernet_key_decode(const char *b64, wf_fernet_key *key, wf_err *err);
/* Encodes a key: out receives 44 characters and a NUL. */
void wf_fernet_key_encode(const wf_fernet_key *key, char out[WF_FERNET_KEY_B64_LEN + 1]);
/* A new random key from the OS's generator. */
int wf_fernet_key_generate(wf_fernet_key *key, wf_err *err);
void wf_fernet_key_wipe(wf_fernet_key *key);

/* Encrypts msg at time `now` (seconds since the epoch). iv NULL draws a random IV (as
 * production must); a fixed iv is for the specification's test vectors. The token is
 * appended to out. */
int wf_fernet_encrypt(const wf_fernet_key *key, const void *msg, size_t len, uint64_t now,
                      const uint8_t iv[16], wf_buf *out, wf_err *err);

/* Verifies and decrypts a token at time `now`. ttl > 0 rejects tokens older than ttl
 * seconds; any token from more than 60 s in the future is rejected (clock skew).
 * The plaintext is appended to out (use a secret wf_buf). WF_ERR_KEY for a token that is
 * well-formed but whose MAC this key does not match; WF_ERR_INVALID for anything
 * malformed, expired or from the future. */
int wf_fernet_decrypt(const wf_fernet_key *key, const char *token, size_t token_len, uint64_t now,
                      int64_t ttl, wf_buf *out, wf_err *err);

/* `now` for tokens that do not expire (stored API keys, keys wrapped in an export): with
 * ttl 0, no time check at all, as Python's Fernet.decrypt without a ttl. A token written
 * by a host whose clock ran ahead must still open; see keyring.c. */
#define WF_FERNET_NO_EXPIRY UINT64_MAX

/* True when s looks like a Fernet token (strict base64 of a version-0x80 token of a
 * possible length); does not check any MAC. */
int wf_fernet_token_is_wellformed(const char *s);

#endif
