/*
 * password.c: argon2id over libargon2 (the reference implementation). Hashes carry their
 * own parameters in the PHC string, so the costs can be raised later without breaking
 * stored hashes; verification reads them back, after checking they are within bounds.
 */
#include "password.h"
#include "hash.h"

#include <argon2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T_COST 2
#define M_COST 19456 /* KiB */
#define PARALLELISM 1
#define SALT_LEN 16
#define HASH_LEN 32

/* The most a stored hash may ask for at verification: 256 MiB, 16 passes, 8 lanes. */
#define VERIFY_M_MAX (256u * 1024u)
#define VERIFY_T_MAX 16u
#define VERIFY_P_MAX 8u
#define VERIFY_PHC_MAX 512

int wf_password_hash(const char *password, size_t len, wf_buf *phc_out, wf_err *err)
{
    uint8_t salt[SALT_LEN];
    char *encoded = NULL;
    int rc = 0;
    if (len > WF_PASSWORD_MAX) {
        rc = wf_err_field(err, "password", "too_long", "must be at most %d bytes", WF_PASSWORD_MAX);
        goto done;
    }
    if ((rc = wf_random_bytes(salt, sizeof salt, err)) < 0)
        goto done;
    size_t enclen = argon2_encodedlen(T_COST, M_COST, PARALLELISM, SALT_LEN, HASH_LEN, Argon2_id);
    if (!(encoded = calloc(1, enclen))) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory hashing a password");
        goto done;
    }
    int a = argon2id_hash_encoded(T_COST, M_COST, PARALLELISM, password, len, salt, SALT_LEN,
                                  HASH_LEN, encoded, enclen);
    if (a != ARGON2_OK) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "password hashing failed: %s",
                        argon2_error_message(a));
        goto done;
    }
    if (wf_buf_puts(phc_out, encoded) < 0)
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory hashing a password");
done:
    wf_secure_zero(salt, sizeof salt);
    free(encoded);
    return rc;
}

/* The unsigned number after key (e.g. "m=") in the parameter part of a PHC string;
 * false when it is missing or not a number within bounds. */
static bool read_param(const char *params, const char *key, uint32_t max, uint32_t *out)
{
    const char *p = strstr(params, key);
    if (!p)
        return false;
    p += strlen(key);
    uint64_t v = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 10) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (digits == 0 || v == 0 || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Which argon2 variant a PHC string names, and whether its costs are sane. */
static bool parse_phc(const char *phc, argon2_type *type)
{
    static const struct {
        const char *prefix;
        argon2_type type;
    } kinds[] = {{"$argon2id$", Argon2_id}, {"$argon2i$", Argon2_i}, {"$argon2d$", Argon2_d}};
    const char *params = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!strncmp(phc, kinds[i].prefix, strlen(kinds[i].prefix))) {
            *type = kinds[i].type;
            params = phc + strlen(kinds[i].prefix);
        }
    }
    uint32_t m, t, p;
    return params && read_param(params, "m=", VERIFY_M_MAX, &m) &&
           read_param(params, "t=", VERIFY_T_MAX, &t) && read_param(params, "p=", VERIFY_P_MAX, &p);
}

int wf_password_verify(const char *phc, const char *password, size_t len)
{
    argon2_type type;
    if (!phc || !password || len > WF_PASSWORD_MAX ||
        strnlen(phc, VERIFY_PHC_MAX) >= VERIFY_PHC_MAX)
        return 0;
    if (!parse_phc(phc, &type))
        return 0;
    /* argon2_verify compares in constant time; any decoding error is a mismatch */
    return argon2_verify(phc, password, len, type) == ARGON2_OK ? 1 : 0;
}

int wf_password_check_policy(const char *password, size_t len, wf_err *err)
{
    if (!password || len == 0)
        return wf_err_field(err, "password", "missing", "is required");
    if (len < WF_PASSWORD_MIN)
        return wf_err_field(err, "password", "too_short", "must be at least %d bytes",
                            WF_PASSWORD_MIN);
    if (len > WF_PASSWORD_MAX)
        return wf_err_field(err, "password", "too_long", "must be at most %d bytes",
                            WF_PASSWORD_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)password[i];
        if (ch < 0x20 || ch == 0x7f)
            return wf_err_field(err, "password", "control_char",
                                "must not contain NUL or control characters");
    }
    return 0;
}
