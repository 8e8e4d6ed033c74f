/*
 * password.h: password hashing for app_users, argon2id in the PHC string format
 * ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", OWASP's recommended minimum). The only
 * place in wfreg that touches libargon2.
 *
 * A password is passed with its length and never copied, logged or put into a message.
 */
#ifndef WF_CRYPTO_PASSWORD_H
#define WF_CRYPTO_PASSWORD_H

#include "../core/buf.h"
#include "../core/err.h"

#include <stddef.h>

#define WF_PASSWORD_MIN 8    /* bytes */
#define WF_PASSWORD_MAX 1024 /* bytes: long enough for any passphrase, short enough to hash */

/* Hashes password with argon2id (m=19456 KiB, t=2, p=1) and a 16-byte random salt, and
 * appends the PHC string to phc_out. WF_ERR_INVALID over WF_PASSWORD_MAX bytes,
 * WF_ERR_INTERNAL when the library or the random generator fails. Does not apply the
 * rest of the policy (wf_password_check_policy does, for new passwords). */
int wf_password_hash(const char *password, size_t len, wf_buf *phc_out, wf_err *err);

/* 1 when password matches the PHC string phc, 0 when it does not, and also 0 for any
 * hash that is malformed, of another algorithm, or asks for absurd costs (a row edited
 * by hand must not make a login allocate gigabytes). Never crashes on garbage. */
int wf_password_verify(const char *phc, const char *password, size_t len);

/* What a new password must be: WF_PASSWORD_MIN..WF_PASSWORD_MAX bytes, without NUL or
 * control characters. WF_ERR_INVALID with one field error on "password". */
int wf_password_check_policy(const char *password, size_t len, wf_err *err);

#endif
