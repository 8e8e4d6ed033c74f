/*
 * fuzz_fernet.c: Fernet tokens and keys, through decoding and verification (fernet.c)
 * and the keyring that stored API keys go through (keyring.c).
 *
 * Input: one mode byte, then the rest. The modes are ASCII digits in the seeds
 * (corpus/fuzz_fernet/), any byte works (mode = byte % 4):
 *   '0' a token (text): decrypted under the specification's key at the vectors' time
 *       with a 60 s TTL, and again with no expiry, as stored keys are read;
 *   '1' a token's bytes before the MAC (version, time, IV, ciphertext): the target signs
 *       them with the key and encodes them, so that the input reaches what a random token
 *       never does: AES and the padding check after a matching MAC;
 *   '2' a key (text): decoded; a key that decodes must encode back to the same text;
 *   '3' WFREG_FERNET_KEYS (text): a keyring is built from it, then opens a token.
 *
 * Decoding is strict: a token has exactly one spelling. So a token that opens must be the
 * very token that encrypting its plaintext again (same key, time and IV) gives.
 */
#include "crypto/fernet.h"
#include "crypto/keyring.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tests/data/fernet: the key of every vector, and their "now" (1985-10-26T01:20:01-07:00) */
#define SPEC_KEY "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
#define SPEC_NOW 499162801u
/* verify.json's token: "hello" under SPEC_KEY */
#define SPEC_TOKEN                                                                                 \
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU" \
    "4IwqDA=="

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_fernet: %s\n", what);
        abort();
    }
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* URL-safe base64 with padding, as Python writes it (OpenSSL's codec, alphabet swapped). */
static char *b64url(const uint8_t *raw, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    must(out != NULL, "out of memory");
    EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

/* A token that opened: encrypting its plaintext again (with the time and IV of its
 * header) must give it back, byte for byte. */
static void check_reencrypts(const wf_fernet_key *key, const char *token, size_t len,
                             const wf_buf *plain)
{
    /* the header from the token, decoded with OpenSSL's codec (standard alphabet) */
    char *std = strndup(token, len);
    uint8_t *raw = malloc(len / 4 * 3 + 3);
    must(std && raw, "out of memory");
    for (char *c = std; *c; c++)
        *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
    must(EVP_DecodeBlock(raw, (const unsigned char *)std, (int)len) >= 25,
         "a token that opened does not decode");
    wf_buf again = WF_BUF_INIT;
    must(wf_fernet_encrypt(key, plain->ptr, plain->len, be64(raw + 1), raw + 9, &again, NULL) == 0,
         "encrypting an opened token's plaintext failed");
    must(again.len == len && !memcmp(again.ptr, token, len),
         "a token that opened is not the one its plaintext encrypts to (two spellings?)");
    wf_buf_free(&again);
    free(raw);
    free(std);
}

/* token: len bytes, then a NUL (it may hold others before) */
static void open_token(const wf_fernet_key *key, const char *token, size_t len)
{
    wf_buf plain;
    wf_buf_init_secret(&plain);
    int rc = wf_fernet_decrypt(key, token, len, SPEC_NOW, 60, &plain, NULL);
    wf_buf_clear(&plain);
    int rc2 = wf_fernet_decrypt(key, token, len, WF_FERNET_NO_EXPIRY, 0, &plain, NULL);
    must(rc < 0 || rc2 == 0, "a token that opens with a TTL does not open without one");
    if (rc2 == 0) {
        must(memchr(token, 0, len) || wf_fernet_token_is_wellformed(token),
             "a token that opens is not well-formed");
        check_reencrypts(key, token, len, &plain);
    }
    wf_buf_wipe(&plain);
}

static void signed_token(const wf_fernet_key *key, const uint8_t *raw, size_t n)
{
    uint8_t *all = malloc(n + 32);
    must(all != NULL, "out of memory");
    memcpy(all, raw, n);
    unsigned int maclen = 0;
    must(HMAC(EVP_sha256(), key->signing, 16, raw, n, all + n, &maclen) != NULL, "HMAC");
    char *token = b64url(all, n + 32);
    open_token(key, token, strlen(token));
    free(token);
    free(all);
}

static void key_text(const char *text)
{
    wf_fernet_key k;
    if (wf_fernet_key_decode(text, &k, NULL) == 0) {
        char back[WF_FERNET_KEY_B64_LEN + 1];
        wf_fernet_key_encode(&k, back);
        must(!strcmp(back, text), "a key that decodes has another spelling");
    }
    wf_fernet_key_wipe(&k);
}

static void keyring_text(const char *text)
{
    wf_keyring *kr = NULL;
    if (wf_keyring_new(NULL, text, &kr, NULL) == 0) {
        wf_buf plain, token = WF_BUF_INIT;
        wf_buf_init_secret(&plain);
        int idx = 0;
        wf_keyring_decrypt(kr, SPEC_TOKEN, &plain, &idx, NULL);
        wf_buf_clear(&plain);
        if (wf_keyring_can_encrypt(kr)) { /* the first key encrypts; all decrypt */
            must(wf_keyring_encrypt(kr, "k", 1, &token, NULL) == 0, "keyring encrypt");
            must(wf_keyring_decrypt(kr, wf_buf_cstr(&token), &plain, &idx, NULL) == 0 &&
                     !strcmp(wf_buf_cstr(&plain), "k"),
                 "the keyring does not open its own token");
        }
        wf_buf_free(&token);
        wf_buf_wipe(&plain);
    }
    wf_keyring_free(kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wf_fernet_key key;
    static bool have_key;
    if (!have_key)
        have_key = wf_fernet_key_decode(SPEC_KEY, &key, NULL) == 0;
    if (size < 1 || !have_key)
        return 0;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    char *text = malloc(n + 1); /* NUL-terminated for the C-string interfaces */
    if (!text)
        return 0;
    memcpy(text, rest, n);
    text[n] = '\0';
    switch (data[0] % 4) {
    case 0: open_token(&key, text, n); break;
    case 1: signed_token(&key, rest, n); break;
    case 2: key_text(text); break;
    default: keyring_text(text); break;
    }
    free(text);
    return 0;
}
