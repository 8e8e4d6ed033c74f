/*
 * keyring.c: the Fernet keys of this process, in the order they are tried (DESIGN.md
 * "Keys"). It behaves like Python's MultiFernet: the first key encrypts, every key
 * decrypts, and the first that opens a token wins.
 *
 * Keys come from WFREG_FERNET_KEYS, or else are derived from SECRET_KEY exactly as the
 * Python system did (urlsafe_b64(SHA-256(SECRET_KEY))), so its database stays readable.
 * The keys live in one array that is wiped when the keyring is freed; messages name a
 * key by its position in the list, never by its value.
 */
#include "keyring.h"
#include "../core/text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORIGIN_LIST "WFREG_FERNET_KEYS"
#define ORIGIN_SECRET "SECRET_KEY"
#define ORIGIN_NONE "none"
#define MSG_UNREADABLE "API key unreadable with the configured keys"

struct wf_keyring {
    const char *origin; /* one of the ORIGIN_ strings */
    size_t count;
    wf_fernet_key *keys; /* keys[0] encrypts; all decrypt */
};

/* The Python system's derivation, as raw key bytes: SHA-256(secret) split 16 + 16. */
static int derive_key(const char *secret, wf_fernet_key *key)
{
    uint8_t md[32];
    unsigned int md_len = 0;
    int rc = 0;
    if (!EVP_Digest(secret, strlen(secret), md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        rc = WF_ERR_INTERNAL;
        goto done;
    }
    memcpy(key->signing, md, sizeof key->signing);
    memcpy(key->encryption, md + sizeof key->signing, sizeof key->encryption);
done:
    OPENSSL_cleanse(md, sizeof md);
    return rc;
}

void wf_keyring_derive(const char *secret_key, char out[WF_FERNET_KEY_B64_LEN + 1])
{
    wf_fernet_key key;
    out[0] = '\0';
    if (secret_key && derive_key(secret_key, &key) == 0)
        wf_fernet_key_encode(&key, out);
    wf_fernet_key_wipe(&key);
}

/* Decodes one entry of the list, [p, p + n) with blanks around it. 0, or a WF_ERR_KEY
 * with the reason in *why ("is empty", "is not a valid Fernet key"). */
static int decode_entry(const char *p, size_t n, wf_fernet_key *key, const char **why)
{
    char text[WF_FERNET_KEY_B64_LEN + 1];
    int rc = 0;
    wf_text_trim(&p, &n);
    if (n == 0) {
        *why = "is empty";
        return WF_ERR_KEY;
    }
    if (n != WF_FERNET_KEY_B64_LEN) {
        *why = "is not a valid Fernet key";
        return WF_ERR_KEY;
    }
    memcpy(text, p, n);
    text[n] = '\0';
    if (wf_fernet_key_decode(text, key, NULL) < 0) {
        *why = "is not a valid Fernet key";
        rc = WF_ERR_KEY;
    }
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* Fills kr from a comma-separated list. Every bad entry is reported, by position, in one
 * message, so that an operator fixes the list in one go. */
static int load_list(wf_keyring *kr, const char *list, wf_err *err)
{
    int rc = 0;
    wf_buf why = WF_BUF_INIT;
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    kr->keys = calloc(n, sizeof *kr->keys);
    if (!kr->keys)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory loading " ORIGIN_LIST);
    kr->count = n;

    const char *p = list;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *reason = NULL;
        if (decode_entry(p, len, &kr->keys[i], &reason) < 0) {
            wf_buf_printf(&why, "%skey %zu %s", why.len ? "; " : "", i + 1, reason);
            rc = WF_ERR_KEY;
        }
        p += len + (end ? 1 : 0);
    }
    if (rc < 0)
        wf_err_set(err, rc, ORIGIN_LIST ": %s",
                   wf_buf_ok(&why) ? wf_buf_cstr(&why) : "a key is not a valid Fernet key");
    wf_buf_free(&why);
    return rc;
}

int wf_keyring_new(const char *secret_key, const char *fernet_keys, wf_keyring **out, wf_err *err)
{
    int rc = 0;
    *out = NULL;
    wf_keyring *kr = calloc(1, sizeof *kr);
    if (!kr)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory creating the keyring");
    kr->origin = ORIGIN_NONE;

    if (fernet_keys && *fernet_keys) {
        kr->origin = ORIGIN_LIST;
        rc = load_list(kr, fernet_keys, err);
    } else if (secret_key && *secret_key) {
        kr->origin = ORIGIN_SECRET;
        kr->keys = calloc(1, sizeof *kr->keys);
        if (!kr->keys)
            rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory creating the keyring");
        else if (derive_key(secret_key, &kr->keys[0]) < 0)
            rc = wf_err_set(err, WF_ERR_INTERNAL, "SHA-256 failed deriving the key");
        else
            kr->count = 1;
    }

    if (rc < 0)
        wf_keyring_free(kr);
    else
        *out = kr;
    return rc;
}

void wf_keyring_free(wf_keyring *kr)
{
    if (!kr)
        return;
    if (kr->keys) {
        OPENSSL_cleanse(kr->keys, kr->count * sizeof *kr->keys);
        free(kr->keys);
    }
    free(kr);
}

size_t wf_keyring_count(const wf_keyring *kr)
{
    return kr ? kr->count : 0;
}

bool wf_keyring_can_encrypt(const wf_keyring *kr)
{
    return wf_keyring_count(kr) > 0;
}

const char *wf_keyring_origin(const wf_keyring *kr)
{
    return kr ? kr->origin : ORIGIN_NONE;
}

int wf_keyring_encrypt(const wf_keyring *kr, const void *plain, size_t len, wf_buf *out,
                       wf_err *err)
{
    if (!wf_keyring_can_encrypt(kr))
        return wf_err_set(err, WF_ERR_KEY, WF_KEYRING_NO_KEY_MSG);
    time_t now = time(NULL);
    if (now < 0)
        return wf_err_set(err, WF_ERR_INTERNAL, "the system clock is unreadable");
    return wf_fernet_encrypt(&kr->keys[0], plain, len, (uint64_t)now, NULL, out, err);
}

/*
 * Stored API keys do not expire, so there is no TTL, and (as with Python's
 * MultiFernet.decrypt without a ttl) no time check at all (WF_FERNET_NO_EXPIRY), so a
 * token written by a host whose clock ran ahead still opens. Refusing it would make an
 * engine's key unreadable for a reason that has nothing to do with keys.
 */
int wf_keyring_decrypt(const wf_keyring *kr, const char *token, wf_buf *out, int *key_index,
                       wf_err *err)
{
    if (key_index)
        *key_index = -1;
    if (!token || !wf_fernet_token_is_wellformed(token))
        return wf_err_set(err, WF_ERR_INVALID, "not a Fernet token");

    size_t len = strlen(token);
    for (size_t i = 0; i < wf_keyring_count(kr); i++) {
        wf_err one;
        wf_err_init(&one);
        int rc = wf_fernet_decrypt(&kr->keys[i], token, len, WF_FERNET_NO_EXPIRY, 0, out, &one);
        if (rc == 0) {
            if (key_index)
                *key_index = (int)i;
            return 0;
        }
        if (rc != WF_ERR_KEY) /* this key's MAC matched, yet the token is bad, or no memory */
            return wf_err_set(err, rc, "%s", one.msg);
    }
    return wf_err_set(err, WF_ERR_KEY, MSG_UNREADABLE);
}
