/*
 * fernet.c: Fernet tokens over OpenSSL's EVP (AES-128-CBC) and HMAC-SHA256, byte for byte
 * what Python's `cryptography.fernet.Fernet` writes and reads.
 *
 *     token = b64url( 0x80 | timestamp (8, big-endian) | IV (16) | ciphertext | HMAC (32) )
 *
 * The file has three parts: a strict URL-safe base64 codec, keys, and tokens.
 *
 * Why our own base64: OpenSSL's EVP_DecodeBlock knows only the standard alphabet, skips
 * whitespace and ignores the unused low bits of the last character, so several spellings
 * decode to the same bytes. A token or key here has exactly one spelling: the padded,
 * canonical one that Python writes. The codec computes character values with arithmetic
 * rather than a table lookup, so that decoding a key does not leak it through the cache.
 *
 * Order of checks when decrypting (the specification's): shape, then time, then the MAC
 * in constant time, and only then AES. Padding errors can only be seen by someone who
 * holds the signing key, so they give no padding oracle.
 */
#include "fernet.h"
#include "hash.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FERNET_VERSION 0x80
#define TS_OFFSET 1
#define IV_OFFSET 9
#define HEADER_LEN 25 /* version, timestamp, IV */
#define BLOCK_LEN 16
#define MAC_LEN 32
#define KEY_RAW_LEN 32
#define MIN_RAW_LEN (HEADER_LEN + BLOCK_LEN + MAC_LEN) /* 73: one block of ciphertext */
/* OpenSSL counts in int; a token must stay well inside that (API keys are tiny anyway). */
#define MAX_CIPHER_LEN ((size_t)INT_MAX - 2 * BLOCK_LEN)

/* --- strict URL-safe base64 ------------------------------------------------------------ */

/* Comparisons over small unsigned values (x, y <= 256) that give 0xFF for true and 0 for
 * false without a branch: x - y wraps to a huge value exactly when x < y. */
static unsigned ct_lt(unsigned x, unsigned y)
{
    return ((x - y) >> 8) & 0xFF;
}

static unsigned ct_ge(unsigned x, unsigned y)
{
    return ct_lt(x, y) ^ 0xFF;
}

static unsigned ct_eq(unsigned x, unsigned y)
{
    return ct_lt(x ^ y, 1);
}

static unsigned ct_in(unsigned x, unsigned lo, unsigned hi)
{
    return ct_ge(x, lo) & ct_lt(x, hi + 1);
}

/* The 6-bit value of a URL-safe base64 character, or 0xFF when it is not one. */
static unsigned b64_value(unsigned char ch)
{
    unsigned c = ch;
    unsigned upper = ct_in(c, 'A', 'Z'), lower = ct_in(c, 'a', 'z'), digit = ct_in(c, '0', '9');
    unsigned dash = ct_eq(c, '-'), under = ct_eq(c, '_');
    unsigned v = (upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c + 52 - '0')) |
                 (dash & 62) | (under & 63);
    return v | ((upper | lower | digit | dash | under) ^ 0xFF);
}

/* The URL-safe base64 character of a 6-bit value. */
static char b64_char(unsigned v)
{
    unsigned c = (ct_lt(v, 26) & (v + 'A')) | (ct_in(v, 26, 51) & (v + 'a' - 26)) |
                 (ct_in(v, 52, 61) & (v + '0' - 52)) | (ct_eq(v, 62) & '-') | (ct_eq(v, 63) & '_');
    return (char)c;
}

static size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes b64_encoded_len(n) characters (no NUL) to out, with '=' padding. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_char(w >> 18);
        out[o++] = b64_char((w >> 12) & 63);
        out[o++] = b64_char((w >> 6) & 63);
        out[o++] = b64_char(w & 63);
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        out[o++] = b64_char(w >> 18);
        out[o++] = b64_char((w >> 12) & 63);
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_char(w >> 18);
        out[o++] = b64_char((w >> 12) & 63);
        out[o++] = b64_char((w >> 6) & 63);
        out[o++] = '=';
    }
}

/* Decodes n characters of padded, canonical URL-safe base64 into out (room for n / 4 * 3
 * bytes). Rejects a length that is not a multiple of 4, any character outside the
 * alphabet (whitespace included), '=' anywhere but the last one or two places, and unused
 * bits that are not zero. Returns 0 or -1; on -1, out holds nothing meaningful. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    if (n % 4 != 0)
        return -1;
    size_t pad = 0;
    if (n > 0 && in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;

    unsigned bad = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        unsigned a = b64_value((unsigned char)in[i]);
        unsigned b = b64_value((unsigned char)in[i + 1]);
        unsigned c = last && pad == 2 ? 0 : b64_value((unsigned char)in[i + 2]);
        unsigned d = last && pad >= 1 ? 0 : b64_value((unsigned char)in[i + 3]);
        bad |= (a | b | c | d) & 0xC0; /* only the 0xFF marker has these bits */
        if (last && pad == 2)
            bad |= b & 0x0F; /* 'xy==' carries 8 bits: y's low 4 are unused */
        else if (last && pad == 1)
            bad |= c & 0x03; /* 'xyz=' carries 16 bits: z's low 2 are unused */
        uint32_t w = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6 |
                     (d & 63);
        out[o++] = (uint8_t)(w >> 16);
        if (!(last && pad == 2))
            out[o++] = (uint8_t)(w >> 8);
        if (!(last && pad >= 1))
            out[o++] = (uint8_t)w;
    }
    if (bad)
        return -1;
    *out_len = o;
    return 0;
}

/* --- keys ------------------------------------------------------------------------------ */

int wf_fernet_key_decode(const char *b64, wf_fernet_key *key, wf_err *err)
{
    uint8_t raw[WF_FERNET_KEY_B64_LEN / 4 * 3];
    size_t n = 0;
    int rc = 0;
    /* strnlen: a key is short, and a long string is wrong however long it is */
    if (!b64 || strnlen(b64, WF_FERNET_KEY_B64_LEN + 1) != WF_FERNET_KEY_B64_LEN ||
        b64_decode(b64, WF_FERNET_KEY_B64_LEN, raw, &n) < 0 || n != KEY_RAW_LEN) {
        rc = wf_err_set(err, WF_ERR_INVALID,
                        "not a valid Fernet key (32 bytes of URL-safe base64, 44 characters)");
        goto done;
    }
    memcpy(key->signing, raw, sizeof key->signing);
    memcpy(key->encryption, raw + sizeof key->signing, sizeof key->encryption);
done:
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

void wf_fernet_key_encode(const wf_fernet_key *key, char out[WF_FERNET_KEY_B64_LEN + 1])
{
    uint8_t raw[KEY_RAW_LEN];
    memcpy(raw, key->signing, sizeof key->signing);
    memcpy(raw + sizeof key->signing, key->encryption, sizeof key->encryption);
    b64_encode(raw, sizeof raw, out);
    out[WF_FERNET_KEY_B64_LEN] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
}

int wf_fernet_key_generate(wf_fernet_key *key, wf_err *err)
{
    int rc = wf_random_bytes(key->signing, sizeof key->signing, err);
    if (rc == 0)
        rc = wf_random_bytes(key->encryption, sizeof key->encryption, err);
    if (rc < 0)
        wf_fernet_key_wipe(key);
    return rc;
}

void wf_fernet_key_wipe(wf_fernet_key *key)
{
    if (key)
        OPENSSL_cleanse(key, sizeof *key);
}

/* --- tokens ---------------------------------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* HMAC-SHA256 under the 16-byte signing key. */
static int sign(const wf_fernet_key *key, const uint8_t *data, size_t len, uint8_t mac[MAC_LEN])
{
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key->signing, (int)sizeof key->signing, data, len, mac, &mac_len) ||
        mac_len != MAC_LEN)
        return -1;
    return 0;
}

/* True for the decoded bytes of a token of a possible shape. */
static bool shape_ok(const uint8_t *raw, size_t len)
{
    if (len < MIN_RAW_LEN || raw[0] != FERNET_VERSION)
        return false;
    size_t ct_len = len - HEADER_LEN - MAC_LEN;
    return ct_len % BLOCK_LEN == 0 && ct_len <= MAX_CIPHER_LEN;
}

/* Decodes a token into a new buffer (free() it) when it has a possible shape. */
static uint8_t *token_decode(const char *token, size_t token_len, size_t *raw_len)
{
    *raw_len = 0;
    if (!token || token_len % 4 != 0)
        return NULL;
    uint8_t *raw = malloc(token_len / 4 * 3 + 1);
    if (!raw)
        return NULL;
    if (b64_decode(token, token_len, raw, raw_len) < 0 || !shape_ok(raw, *raw_len)) {
        free(raw);
        return NULL;
    }
    return raw;
}

int wf_fernet_token_is_wellformed(const char *s)
{
    size_t raw_len;
    uint8_t *raw = s ? token_decode(s, strlen(s), &raw_len) : NULL;
    int is_wellformed = raw != NULL;
    free(raw);
    return is_wellformed;
}

int wf_fernet_encrypt(const wf_fernet_key *key, const void *msg, size_t len, uint64_t now,
                      const uint8_t iv[16], wf_buf *out, wf_err *err)
{
    int rc = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *raw = NULL;
    if (len > MAX_CIPHER_LEN - BLOCK_LEN)
        return wf_err_set(err, WF_ERR_INVALID, "message too long for a Fernet token");

    size_t ct_len = (len / BLOCK_LEN + 1) * BLOCK_LEN; /* PKCS#7 always adds 1..16 bytes */
    size_t raw_len = HEADER_LEN + ct_len + MAC_LEN;
    raw = malloc(raw_len);
    if (!raw) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory encrypting");
        goto done;
    }
    raw[0] = FERNET_VERSION;
    put_be64(raw + TS_OFFSET, now);
    if (iv)
        memcpy(raw + IV_OFFSET, iv, BLOCK_LEN);
    else if ((rc = wf_random_bytes(raw + IV_OFFSET, BLOCK_LEN, err)) < 0)
        goto done;

    int n1 = 0, n2 = 0;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx ||
        EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->encryption, raw + IV_OFFSET) != 1 ||
        (len > 0 && EVP_EncryptUpdate(ctx, raw + HEADER_LEN, &n1, msg, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, raw + HEADER_LEN + n1, &n2) != 1 ||
        (size_t)n1 + (size_t)n2 != ct_len ||
        sign(key, raw, HEADER_LEN + ct_len, raw + HEADER_LEN + ct_len) < 0) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "AES or HMAC failed in OpenSSL");
        goto done;
    }

    size_t enc_len = b64_encoded_len(raw_len);
    if (wf_buf_grow(out, enc_len) < 0) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory encrypting");
        goto done;
    }
    b64_encode(raw, raw_len, out->ptr + out->len);
    out->len += enc_len;
    out->ptr[out->len] = '\0';
done:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule and any buffered plaintext */
    free(raw);
    return rc;
}

/* The time rules of fernet.h: ttl > 0 bounds the age, and 60 s bounds the future. Written
 * without additions so that no timestamp, however large, can overflow. */
static int check_time(uint64_t ts, uint64_t now, int64_t ttl, wf_err *err)
{
    if (ttl > 0 && now > ts && now - ts > (uint64_t)ttl)
        return wf_err_set(err, WF_ERR_INVALID, "Fernet token has expired");
    if (ts > now && ts - now > WF_FERNET_MAX_CLOCK_SKEW)
        return wf_err_set(err, WF_ERR_INVALID,
                          "Fernet token is dated in the future (beyond the clock skew)");
    return 0;
}

/* AES-128-CBC straight into out's storage, so the plaintext exists in one place only.
 * Nothing is appended unless the padding is right. */
static int decrypt_into(const wf_fernet_key *key, const uint8_t *raw, size_t ct_len, wf_buf *out,
                        wf_err *err)
{
    int rc = 0, n1 = 0, n2 = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    if (wf_buf_grow(out, ct_len) < 0)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory decrypting");
    uint8_t *dst = (uint8_t *)out->ptr + out->len; /* room for ct_len bytes and a NUL */

    ctx = EVP_CIPHER_CTX_new();
    if (!ctx ||
        EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->encryption, raw + IV_OFFSET) != 1 ||
        EVP_DecryptUpdate(ctx, dst, &n1, raw + HEADER_LEN, (int)ct_len) != 1) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "AES failed in OpenSSL");
        goto done;
    }
    if (EVP_DecryptFinal_ex(ctx, dst + n1, &n2) != 1) {
        /* the MAC matched, so this token was made with this key but is wrong inside */
        rc = wf_err_set(err, WF_ERR_INVALID, "not a valid Fernet token (bad padding)");
        goto done;
    }
    size_t plain_len = (size_t)n1 + (size_t)n2;
    out->len += plain_len;
    out->ptr[out->len] = '\0';
    dst += plain_len + 1;
    ct_len -= plain_len; /* bytes past the NUL: cleared below, should EVP have used them */
done:
    if (ct_len > 0)
        OPENSSL_cleanse(dst, rc < 0 ? ct_len + 1 : ct_len);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int wf_fernet_decrypt(const wf_fernet_key *key, const char *token, size_t token_len, uint64_t now,
                      int64_t ttl, wf_buf *out, wf_err *err)
{
    int rc = 0;
    uint8_t mac[MAC_LEN];
    size_t raw_len = 0;
    uint8_t *raw = token_decode(token, token_len, &raw_len);
    if (!raw) {
        rc = wf_err_set(err, WF_ERR_INVALID, "not a valid Fernet token");
        goto done;
    }
    if ((rc = check_time(get_be64(raw + TS_OFFSET), now, ttl, err)) < 0)
        goto done;

    size_t signed_len = raw_len - MAC_LEN;
    if (sign(key, raw, signed_len, mac) < 0) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "HMAC failed in OpenSSL");
        goto done;
    }
    if (!wf_ct_equal(mac, raw + signed_len, MAC_LEN)) {
        rc = wf_err_set(err, WF_ERR_KEY, "Fernet token was not made with this key");
        goto done;
    }
    rc = decrypt_into(key, raw, signed_len - HEADER_LEN, out, err);
done:
    OPENSSL_cleanse(mac, sizeof mac);
    free(raw);
    return rc;
}
