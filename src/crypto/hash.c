/*
 * hash.c: SHA-256, randomness and constant-time comparison over OpenSSL's libcrypto.
 */
#include "hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>

void wf_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

int wf_random_bytes(void *buf, size_t len, wf_err *err)
{
    if (len > (size_t)INT32_MAX || RAND_bytes(buf, (int)len) != 1)
        return wf_err_set(err, WF_ERR_INTERNAL, "the random number generator failed");
    return 0;
}

int wf_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
