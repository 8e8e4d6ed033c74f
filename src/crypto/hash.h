/*
 * hash.h: digests and randomness for the rest of wfreg, so that only crypto/ touches
 * OpenSSL.
 */
#ifndef WF_CRYPTO_HASH_H
#define WF_CRYPTO_HASH_H

#include "../core/err.h"

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex SHA-256 of data: 64 characters and a NUL. */
void wf_sha256_hex(const void *data, size_t len, char out[65]);
/* Fills buf with bytes from the OS's generator; WF_ERR_INTERNAL if it fails. */
int wf_random_bytes(void *buf, size_t len, wf_err *err);
/* Constant-time comparison of two equal-length byte strings: 1 when equal. */
int wf_ct_equal(const void *a, const void *b, size_t len);

#endif
