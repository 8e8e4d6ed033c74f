/*
 * test_keyring.c: where keys come from (WFREG_FERNET_KEYS over SECRET_KEY, or none), the
 * derivation the Python system used, several keys, rotation, and errors that name a key's
 * position but never its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crypto/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Computed independently with
 *   python3 -c 'import hashlib,base64;print(base64.urlsafe_b64encode(
 *       hashlib.sha256(b"wfreg-test-secret").digest()).decode())'
 * and likewise for b"correct horse battery staple". */
#define SECRET "wfreg-test-secret"
#define SECRET_KEY_DERIVED "_CDLvnNtSazmMzfFS3j5NLSzmKq9Nd5ea5DjoEOmna8="
#define SECRET2 "correct horse battery staple"
#define SECRET2_KEY_DERIVED "xLvLH77JnWW_WdhcjLYu4tuWPw_hBvSD2a-nO9Tjmoo="

/* Made by Python cryptography 48.0.0 under SECRET_KEY_DERIVED:
 *   Fernet(key).encrypt_at_time(b"n8n-api-key-0123456789", 1700000000) */
#define PY_TOKEN                                                                                   \
    "gAAAAABlU_EAMwFkRkDM125A7LvHa9J4bjkjS2hygVkfgsVrjDV5ysmZkPo5PcwKwSP7KI9KBSyH28id4rkYg005v"    \
    "BRpKy1yyM0XAPAbaF-9TKIvoXDP8Xw="
#define PY_PLAIN "n8n-api-key-0123456789"

/* The specification's key (tests/data/fernet) and two from Python's Fernet.generate_key(). */
#define KEY_A "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
#define KEY_B "S1qBlpHRAecTGrGgsUGcuqtsBMk0twxAh3MbxqMNJo8="
#define KEY_C "O8Qg60qlvoetFiPDl9OfXc1yZqw-ZIC0erzkguXCHoQ="

/* --- helpers ----------------------------------------------------------------------------- */

static wf_keyring *ring(const char *secret, const char *list)
{
    wf_keyring *kr = NULL;
    wf_err err;
    wf_err_init(&err);
    if (wf_keyring_new(secret, list, &kr, &err) != 0)
        fail_msg("keyring: %s", err.msg);
    assert_non_null(kr);
    return kr;
}

/* A token for plain under one key (given in base64), at time `now`. */
static void token_under(const char *key_b64, const char *plain, uint64_t now, wf_buf *out)
{
    wf_fernet_key key;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_fernet_key_decode(key_b64, &key, &err), 0);
    assert_int_equal(wf_fernet_encrypt(&key, plain, strlen(plain), now, NULL, out, &err), 0);
    wf_fernet_key_wipe(&key);
}

/* Opens token with the keyring; returns the code and the key index. */
static int open_with(const wf_keyring *kr, const char *token, wf_buf *out, int *idx, wf_err *err)
{
    wf_err_init(err);
    int rc = wf_keyring_decrypt(kr, token, out, idx, err);
    if (rc < 0) {
        assert_int_equal(err->code, rc);
        assert_int_equal(*idx, -1);
    }
    return rc;
}

/* Opens token with one key (base64), to see which key a keyring encrypted with. */
static int opens_under(const char *key_b64, const char *token)
{
    wf_fernet_key key;
    wf_buf out;
    wf_buf_init_secret(&out);
    assert_int_equal(wf_fernet_key_decode(key_b64, &key, NULL), 0);
    int rc = wf_fernet_decrypt(&key, token, strlen(token), (uint64_t)time(NULL), 60, &out, NULL);
    wf_fernet_key_wipe(&key);
    wf_buf_wipe(&out);
    return rc == 0;
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_derive(void **state)
{
    (void)state;
    char out[WF_FERNET_KEY_B64_LEN + 1];
    wf_keyring_derive(SECRET, out);
    assert_string_equal(out, SECRET_KEY_DERIVED);
    wf_keyring_derive(SECRET2, out);
    assert_string_equal(out, SECRET2_KEY_DERIVED);
    assert_int_equal(strlen(out), WF_FERNET_KEY_B64_LEN);
}

static void test_secret_key(void **state)
{
    (void)state;
    wf_keyring *kr = ring(SECRET, NULL);
    assert_int_equal(wf_keyring_count(kr), 1);
    assert_true(wf_keyring_can_encrypt(kr));
    assert_string_equal(wf_keyring_origin(kr), "SECRET_KEY");

    wf_buf token = WF_BUF_INIT, out;
    wf_buf_init_secret(&out);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_keyring_encrypt(kr, "s3cret", 6, &token, &err), 0);
    assert_true(opens_under(SECRET_KEY_DERIVED, token.ptr)); /* dated now, so TTL 60 passes */
    int idx = 99;
    assert_int_equal(open_with(kr, token.ptr, &out, &idx, &err), 0);
    assert_int_equal(idx, 0);
    assert_string_equal(out.ptr, "s3cret");

    /* what the Python system stored opens, however old (no TTL) */
    wf_buf_clear(&out);
    assert_int_equal(open_with(kr, PY_TOKEN, &out, &idx, &err), 0);
    assert_string_equal(out.ptr, PY_PLAIN);
    assert_int_equal(idx, 0);

    wf_buf_wipe(&out);
    wf_buf_free(&token);
    wf_keyring_free(kr);
}

static void test_list_wins_over_secret(void **state)
{
    (void)state;
    wf_keyring *kr = ring(SECRET, KEY_A);
    assert_string_equal(wf_keyring_origin(kr), "WFREG_FERNET_KEYS");
    assert_int_equal(wf_keyring_count(kr), 1);
    wf_buf token = WF_BUF_INIT, out;
    wf_buf_init_secret(&out);
    wf_err err;
    int idx;
    assert_int_equal(wf_keyring_encrypt(kr, "x", 1, &token, NULL), 0);
    assert_true(opens_under(KEY_A, token.ptr));
    assert_false(opens_under(SECRET_KEY_DERIVED, token.ptr));
    /* and SECRET_KEY is not a fallback for decrypting either */
    assert_int_equal(open_with(kr, PY_TOKEN, &out, &idx, &err), WF_ERR_KEY);
    wf_buf_wipe(&out);
    wf_buf_free(&token);
    wf_keyring_free(kr);

    /* an empty list counts as unset */
    kr = ring(SECRET, "");
    assert_string_equal(wf_keyring_origin(kr), "SECRET_KEY");
    wf_keyring_free(kr);
}

static void test_several_keys(void **state)
{
    (void)state;
    /* blanks around entries are trimmed */
    wf_keyring *kr = ring(NULL, "  " KEY_A " ,\t" KEY_B "," KEY_C "  ");
    assert_int_equal(wf_keyring_count(kr), 3);
    assert_string_equal(wf_keyring_origin(kr), "WFREG_FERNET_KEYS");

    wf_buf token = WF_BUF_INIT, out;
    wf_buf_init_secret(&out);
    wf_err err;
    int idx;

    /* the first key encrypts */
    assert_int_equal(wf_keyring_encrypt(kr, "first", 5, &token, &err), 0);
    assert_true(opens_under(KEY_A, token.ptr));
    assert_false(opens_under(KEY_B, token.ptr));
    assert_false(opens_under(KEY_C, token.ptr));

    /* every key decrypts, and says which it was */
    static const char *keys[] = {KEY_A, KEY_B, KEY_C};
    for (int i = 0; i < 3; i++) {
        wf_buf_clear(&token);
        wf_buf_clear(&out);
        token_under(keys[i], "api-key", 1700000000u, &token);
        assert_int_equal(open_with(kr, token.ptr, &out, &idx, &err), 0);
        assert_int_equal(idx, i);
        assert_string_equal(out.ptr, "api-key");
    }
    /* key_index may be NULL */
    wf_buf_clear(&out);
    assert_int_equal(wf_keyring_decrypt(kr, token.ptr, &out, NULL, NULL), 0);

    /* a key not in the ring: unreadable, nothing appended */
    wf_buf_clear(&token);
    wf_buf_clear(&out);
    token_under(SECRET2_KEY_DERIVED, "other", 1700000000u, &token);
    assert_int_equal(open_with(kr, token.ptr, &out, &idx, &err), WF_ERR_KEY);
    assert_string_equal(err.msg, "API key unreadable with the configured keys");
    assert_int_equal(out.len, 0);

    /* not a token at all */
    assert_int_equal(open_with(kr, "not-a-token", &out, &idx, &err), WF_ERR_INVALID);
    assert_int_equal(open_with(kr, "", &out, &idx, &err), WF_ERR_INVALID);
    assert_int_equal(open_with(kr, NULL, &out, &idx, &err), WF_ERR_INVALID);
    assert_int_equal(out.len, 0);

    wf_buf_wipe(&out);
    wf_buf_free(&token);
    wf_keyring_free(kr);
}

/* DESIGN.md "Keys": add the new key first, re-encrypt, then drop the old one. */
static void test_rotation(void **state)
{
    (void)state;
    wf_buf old_token = WF_BUF_INIT, new_token = WF_BUF_INIT, out;
    wf_buf_init_secret(&out);
    wf_err err;
    int idx;

    wf_keyring *old_ring = ring(NULL, KEY_A);
    assert_int_equal(wf_keyring_encrypt(old_ring, "n8n-key", 7, &old_token, &err), 0);

    wf_keyring *both = ring(NULL, KEY_B "," KEY_A);
    assert_int_equal(open_with(both, old_token.ptr, &out, &idx, &err), 0);
    assert_int_equal(idx, 1); /* opened by the old key: needs re-encrypting */
    assert_int_equal(wf_keyring_encrypt(both, out.ptr, out.len, &new_token, &err), 0);
    wf_buf_clear(&out);
    assert_int_equal(open_with(both, new_token.ptr, &out, &idx, &err), 0);
    assert_int_equal(idx, 0);

    wf_keyring *new_ring = ring(NULL, KEY_B);
    wf_buf_clear(&out);
    assert_int_equal(open_with(new_ring, new_token.ptr, &out, &idx, &err), 0);
    assert_int_equal(idx, 0);
    assert_string_equal(out.ptr, "n8n-key");
    /* the old token is now unreadable, the old ring cannot read the new one */
    wf_buf_clear(&out);
    assert_int_equal(open_with(new_ring, old_token.ptr, &out, &idx, &err), WF_ERR_KEY);
    assert_int_equal(open_with(old_ring, new_token.ptr, &out, &idx, &err), WF_ERR_KEY);

    wf_keyring_free(new_ring);
    wf_keyring_free(both);
    wf_keyring_free(old_ring);
    wf_buf_wipe(&out);
    wf_buf_free(&old_token);
    wf_buf_free(&new_token);
}

static void test_empty(void **state)
{
    (void)state;
    static const char *secrets[] = {NULL, ""};
    static const char *lists[] = {NULL, ""};
    for (int s = 0; s < 2; s++) {
        for (int l = 0; l < 2; l++) {
            wf_keyring *kr = ring(secrets[s], lists[l]);
            assert_int_equal(wf_keyring_count(kr), 0);
            assert_false(wf_keyring_can_encrypt(kr));
            assert_string_equal(wf_keyring_origin(kr), "none");

            wf_buf token = WF_BUF_INIT, out;
            wf_buf_init_secret(&out);
            wf_err err;
            int idx;
            wf_err_init(&err);
            assert_int_equal(wf_keyring_encrypt(kr, "x", 1, &token, &err), WF_ERR_KEY);
            assert_int_equal(err.code, WF_ERR_KEY);
            assert_string_equal(err.msg, "no encryption key configured: set SECRET_KEY or "
                                         "WFREG_FERNET_KEYS");
            assert_int_equal(token.len, 0);

            assert_int_equal(open_with(kr, PY_TOKEN, &out, &idx, &err), WF_ERR_KEY);
            assert_string_equal(err.msg, "API key unreadable with the configured keys");
            assert_int_equal(out.len, 0);
            assert_int_equal(open_with(kr, "garbage", &out, &idx, &err), WF_ERR_INVALID);
            wf_buf_wipe(&out);
            wf_keyring_free(kr);
        }
    }
    /* NULL is the empty keyring too */
    assert_int_equal(wf_keyring_count(NULL), 0);
    assert_false(wf_keyring_can_encrypt(NULL));
    assert_string_equal(wf_keyring_origin(NULL), "none");
    wf_keyring_free(NULL);
}

/* A stored token is not refused for its date: neither very old nor from a host whose
 * clock ran ahead (keyring.c explains why). */
static void test_no_time_limits(void **state)
{
    (void)state;
    wf_keyring *kr = ring(NULL, KEY_A);
    wf_buf token = WF_BUF_INIT, out;
    wf_buf_init_secret(&out);
    wf_err err;
    int idx;
    token_under(KEY_A, "old", 499162800u, &token);
    assert_int_equal(open_with(kr, token.ptr, &out, &idx, &err), 0);
    wf_buf_clear(&token);
    token_under(KEY_A, "ahead", (uint64_t)time(NULL) + 86400u, &token);
    assert_int_equal(open_with(kr, token.ptr, &out, &idx, &err), 0);
    assert_string_equal(out.ptr, "oldahead");
    wf_buf_wipe(&out);
    wf_buf_free(&token);
    wf_keyring_free(kr);
}

static void expect_list_error(const char *list, const char *message)
{
    wf_keyring *kr = (wf_keyring *)(uintptr_t)1;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_keyring_new(SECRET, list, &kr, &err), WF_ERR_KEY);
    assert_null(kr);
    assert_int_equal(err.code, WF_ERR_KEY);
    assert_string_equal(err.msg, message);
}

static void test_malformed_list(void **state)
{
    (void)state;
    expect_list_error(KEY_A ",," KEY_B, "WFREG_FERNET_KEYS: key 2 is empty");
    expect_list_error(KEY_A ",", "WFREG_FERNET_KEYS: key 2 is empty");
    expect_list_error("," KEY_A, "WFREG_FERNET_KEYS: key 1 is empty");
    expect_list_error(KEY_A ",  ," KEY_B, "WFREG_FERNET_KEYS: key 2 is empty");
    expect_list_error("   ", "WFREG_FERNET_KEYS: key 1 is empty");
    expect_list_error(",", "WFREG_FERNET_KEYS: key 1 is empty; key 2 is empty");
    /* a SECRET_KEY is not a Fernet key: the list does not silently fall back to it */
    expect_list_error(SECRET, "WFREG_FERNET_KEYS: key 1 is not a valid Fernet key");

    /* Near-misses of real keys: 43 characters, a standard-alphabet '/', unused bits set,
     * a Python-style b'...' wrapper. Every bad entry is named by position, none by value. */
    static const char *bad[] = {
        "S1qBlpHRAecTGrGgsUGcuqtsBMk0twxAh3MbxqMNJo8",
        "S1qBlpHRAecTGrGgsUGcuqtsBMk0twxAh3MbxqMN/o8=",
        "S1qBlpHRAecTGrGgsUGcuqtsBMk0twxAh3MbxqMNJo9=",
        "b'S1qBlpHRAecTGrGgsUGcuqtsBMk0twxAh3MbxqMNJo8='",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char list[256];
        int n = snprintf(list, sizeof list, "%s,%s,%s", KEY_A, bad[i], KEY_C);
        assert_true(n > 0 && (size_t)n < sizeof list);
        wf_keyring *kr = NULL;
        wf_err err;
        wf_err_init(&err);
        assert_int_equal(wf_keyring_new(NULL, list, &kr, &err), WF_ERR_KEY);
        assert_null(kr);
        assert_string_equal(err.msg, "WFREG_FERNET_KEYS: key 2 is not a valid Fernet key");
        /* no 6-character piece of any key in the message */
        static const char *all[] = {KEY_A, KEY_C};
        for (size_t k = 0; k < 2; k++) {
            for (size_t j = 0; j + 6 <= strlen(all[k]); j++) {
                char piece[7];
                memcpy(piece, all[k] + j, 6);
                piece[6] = '\0';
                assert_null(strstr(err.msg, piece));
            }
        }
        assert_null(strstr(err.msg, "S1qBlp"));
    }
    expect_list_error(KEY_A ",bad1,,bad2",
                      "WFREG_FERNET_KEYS: key 2 is not a valid Fernet key; key 3 is empty; "
                      "key 4 is not a valid Fernet key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_secret_key),
        cmocka_unit_test(test_list_wins_over_secret),
        cmocka_unit_test(test_several_keys),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_no_time_limits),
        cmocka_unit_test(test_malformed_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
