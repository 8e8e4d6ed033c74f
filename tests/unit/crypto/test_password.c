/*
 * test_password.c: argon2id password hashes: the PHC format and parameters, a known
 * answer from the reference implementation's own tests, random salts, verification of
 * right and wrong passwords, garbage and absurd-cost hashes, and the password policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crypto/password.h"

#include <stdlib.h>
#include <string.h>

/* From the argon2 reference implementation's test.c (Argon2id, t=2, m=64 MiB, p=1,
 * password "password", salt "somesalt"). */
#define REF_PHC                                                                                    \
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

static char *hash_of(const char *pw)
{
    wf_buf b = WF_BUF_INIT;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_password_hash(pw, strlen(pw), &b, &err), 0);
    return wf_buf_detach(&b);
}

static void test_hash_format(void **state)
{
    (void)state;
    char *h = hash_of("correct horse battery");
    assert_non_null(h);
    const char prefix[] = "$argon2id$v=19$m=19456,t=2,p=1$";
    assert_memory_equal(h, prefix, strlen(prefix));
    /* 16-byte salt: 22 characters of unpadded base64, then the 32-byte hash: 43 */
    const char *salt = h + strlen(prefix);
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    assert_int_equal(dollar - salt, 22);
    assert_int_equal(strlen(dollar + 1), 43);
    assert_null(strstr(h, "correct horse"));
    free(h);
}

static void test_verify(void **state)
{
    (void)state;
    char *h = hash_of("s3cret-pass");
    assert_int_equal(wf_password_verify(h, "s3cret-pass", 11), 1);
    assert_int_equal(wf_password_verify(h, "s3cret-pasS", 11), 0);
    assert_int_equal(wf_password_verify(h, "s3cret-pass", 10), 0);
    assert_int_equal(wf_password_verify(h, "s3cret-pass!", 12), 0);
    assert_int_equal(wf_password_verify(h, "", 0), 0);
    free(h);
}

static void test_salts_differ(void **state)
{
    (void)state;
    char *a = hash_of("same password"), *b = hash_of("same password");
    assert_string_not_equal(a, b);
    assert_int_equal(wf_password_verify(a, "same password", 13), 1);
    assert_int_equal(wf_password_verify(b, "same password", 13), 1);
    free(a);
    free(b);
}

static void test_reference_vector(void **state)
{
    (void)state;
    assert_int_equal(wf_password_verify(REF_PHC, "password", 8), 1);
    assert_int_equal(wf_password_verify(REF_PHC, "Password", 8), 0);
}

static void test_garbage_never_matches(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "x",
        "$",
        "$argon2id$",
        "$argon2id$v=19$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=0,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPP",
        "$argon2x$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$2b$12$abcdefghijklmnopqrstuuN8Yq3kDj1mYkJ6u9v3x3yYzZ0a1b2c3", /* bcrypt */
        "pbkdf2_sha256$260000$salt$hash",
        /* costs a stored row must not be allowed to ask for */
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        ("$argon2id$v=19$m=65536,t=100000,p=1$c29tZXNhbHQ$"
         "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"), /* one hash, split */
        "$argon2id$v=19$m=65536,t=2,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=99999999999999999999,t=2,p=1$c29tZXNhbHQ$CTFh",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wf_password_verify(bad[i], "password", 8) != 0)
            fail_msg("garbage hash %zu matched", i);
    }
    assert_int_equal(wf_password_verify(NULL, "password", 8), 0);
    assert_int_equal(wf_password_verify(REF_PHC, NULL, 0), 0);
    /* a very long string is refused without being parsed */
    char *huge = malloc(100000);
    assert_non_null(huge);
    memset(huge, 'a', 99999);
    memcpy(huge, "$argon2id$", 10);
    huge[99999] = '\0';
    assert_int_equal(wf_password_verify(huge, "password", 8), 0);
    free(huge);
}

static void test_policy(void **state)
{
    (void)state;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_password_check_policy("12345678", 8, &err), 0);
    assert_int_equal(
        wf_password_check_policy("unicode ünïcødé ok", strlen("unicode ünïcødé ok"), &err), 0);

    wf_err_init(&err);
    assert_int_equal(wf_password_check_policy("1234567", 7, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 1);
    assert_string_equal(err.fields[0].field, "password");
    assert_string_equal(err.fields[0].type, "too_short");
    assert_null(strstr(err.msg, "1234567"));

    wf_err_init(&err);
    assert_int_equal(wf_password_check_policy("", 0, &err), WF_ERR_INVALID);
    assert_string_equal(err.fields[0].field, "password");

    char *big = malloc(WF_PASSWORD_MAX + 2);
    assert_non_null(big);
    memset(big, 'p', WF_PASSWORD_MAX + 1);
    big[WF_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(wf_password_check_policy(big, WF_PASSWORD_MAX, NULL), 0);
    wf_err_init(&err);
    assert_int_equal(wf_password_check_policy(big, WF_PASSWORD_MAX + 1, &err), WF_ERR_INVALID);
    assert_string_equal(err.fields[0].type, "too_long");
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_password_hash(big, WF_PASSWORD_MAX + 1, &b, NULL), WF_ERR_INVALID);
    wf_buf_free(&b);
    free(big);

    static const char nul[] = "abcd\0efgh";
    wf_err_init(&err);
    assert_int_equal(wf_password_check_policy(nul, sizeof nul - 1, &err), WF_ERR_INVALID);
    assert_string_equal(err.fields[0].type, "control_char");
    assert_int_equal(wf_password_check_policy("tab\there-ok?", 12, NULL), WF_ERR_INVALID);
    assert_int_equal(wf_password_check_policy("newline\nin it", 13, NULL), WF_ERR_INVALID);
    assert_int_equal(wf_password_check_policy("del\x7f char here", 14, NULL), WF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_format),           cmocka_unit_test(test_verify),
        cmocka_unit_test(test_salts_differ),          cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_garbage_never_matches), cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
