/*
 * keyring.h: the Fernet keys this process may use (DESIGN.md "Keys").
 *
 * From WFREG_FERNET_KEYS (comma-separated Fernet keys: the first encrypts, all decrypt,
 * which is how rotation works) or else from SECRET_KEY, whose Fernet key is
 * urlsafe_b64(SHA-256(SECRET_KEY)) as the Python system derived it. With neither, the
 * keyring is empty: it opens nothing and refuses to encrypt, so two instances can never
 * silently encrypt with different keys. wfreg never generates a key by itself.
 */
#ifndef WF_CRYPTO_KEYRING_H
#define WF_CRYPTO_KEYRING_H

#include "../core/buf.h"
#include "../core/err.h"
#include "fernet.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wf_keyring wf_keyring;

/* What every refusal to store a key for want of one says (keyring, write path, import). */
#define WF_KEYRING_NO_KEY_MSG "no encryption key configured: set SECRET_KEY or WFREG_FERNET_KEYS"

/* Builds a keyring. fernet_keys wins over secret_key when both are set (non-empty).
 * A malformed key in the list is WF_ERR_KEY naming its position ("WFREG_FERNET_KEYS:
 * key 2 is not a valid Fernet key"), never its value. Free with wf_keyring_free. */
int wf_keyring_new(const char *secret_key, const char *fernet_keys, wf_keyring **out, wf_err *err);
void wf_keyring_free(wf_keyring *kr); /* wipes the keys; accepts NULL */

size_t wf_keyring_count(const wf_keyring *kr);
bool wf_keyring_can_encrypt(const wf_keyring *kr);
/* "WFREG_FERNET_KEYS", "SECRET_KEY" or "none": where the keys came from. */
const char *wf_keyring_origin(const wf_keyring *kr);

/* Encrypts with the first key; appends the token to out. WF_ERR_KEY with a clear message
 * when the keyring is empty. */
int wf_keyring_encrypt(const wf_keyring *kr, const void *plain, size_t len, wf_buf *out,
                       wf_err *err);

/* Tries every key in order; appends the plaintext to out (a secret buffer) and sets
 * *key_index (may be NULL) to the key that opened it. WF_ERR_KEY when no key opens it
 * ("API key unreadable with the configured keys"), WF_ERR_INVALID when it is no token. */
int wf_keyring_decrypt(const wf_keyring *kr, const char *token, wf_buf *out, int *key_index,
                       wf_err *err);

/* The Fernet key (44 characters + NUL) the Python system derived from a SECRET_KEY. */
void wf_keyring_derive(const char *secret_key, char out[WF_FERNET_KEY_B64_LEN + 1]);

#endif
