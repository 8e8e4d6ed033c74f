/*
 * test_token.c: API tokens: the format ("wfr_" + 43 URL-safe base64 characters), that
 * each is new, and that the hash is the SHA-256 hex of the whole token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crypto/token.h"

#include <string.h>

static void test_format(void **state)
{
    (void)state;
    char tok[WF_TOKEN_LEN + 1], hash[65];
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_token_new(tok, hash, &err), 0);
    assert_int_equal(strlen(tok), WF_TOKEN_LEN);
    assert_memory_equal(tok, "wfr_", 4);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_int_equal(strspn(tok + 4, alphabet), 43);
    /* 32 bytes: the last character carries 4 bits and 2 zero bits */
    assert_non_null(strchr("AEIMQUYcgkosw048", tok[WF_TOKEN_LEN - 1]));
    assert_int_equal(strlen(hash), 64);
    assert_int_equal(strspn(hash, "0123456789abcdef"), 64);
}

static void test_hash_is_sha256_of_the_token(void **state)
{
    (void)state;
    char hash[65];
    /* echo -n abc | sha256sum */
    wf_token_hash("abc", 3, hash);
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char tok[WF_TOKEN_LEN + 1], made[65], again[65];
    assert_int_equal(wf_token_new(tok, made, NULL), 0);
    wf_token_hash(tok, strlen(tok), again);
    assert_string_equal(made, again);
    wf_token_hash(tok, strlen(tok) - 1, again);
    assert_string_not_equal(made, again);
}

static void test_tokens_are_new(void **state)
{
    (void)state;
    char a[WF_TOKEN_LEN + 1], b[WF_TOKEN_LEN + 1], ha[65], hb[65];
    assert_int_equal(wf_token_new(a, ha, NULL), 0);
    assert_int_equal(wf_token_new(b, hb, NULL), 0);
    assert_string_not_equal(a, b);
    assert_string_not_equal(ha, hb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_hash_is_sha256_of_the_token),
        cmocka_unit_test(test_tokens_are_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
