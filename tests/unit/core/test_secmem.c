/*
 * test_secmem.c: the wiping allocator (realloc's edge cases, contents kept on growth, a
 * freed block taken again holding nothing of what it held), jansson on it, and the
 * process protection (core size limit 0, soft and hard; not dumpable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/secmem.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Reading a block fresh from malloc is what these tests do on purpose: valgrind is told
 * that it is defined (its allocator never hands a freed block back at once anyway). */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

static const char secret[] = "a-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789";

static void test_realloc_edges(void **state)
{
    (void)state;
    char *p = wf_secmem_realloc(NULL, 16); /* NULL: malloc */
    assert_non_null(p);
    memcpy(p, "0123456789abcde", 16);
    char *same = wf_secmem_realloc(p, 8); /* smaller: in place */
    assert_ptr_equal(same, p);
    char *big = wf_secmem_realloc(p, 4096); /* larger: moved, contents kept */
    assert_non_null(big);
    assert_memory_equal(big, "0123456789abcde", 16);
    assert_null(wf_secmem_realloc(big, 0)); /* 0: freed, as glibc's realloc */
    char *d = wf_secmem_strdup(secret);
    assert_string_equal(d, secret);
    wf_secmem_free(d);
    int *z = wf_secmem_calloc(8, sizeof *z);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(z[i], 0);
    wf_secmem_free(z);
    wf_secmem_free(NULL);
    /* a block from libc's malloc is freed as well (libraries may mix them) */
    wf_secmem_free(malloc(100));
}

/* A freed block that malloc hands out again holds nothing of the secret. With glibc the
 * same block comes back at once (its tcache); under ASan it never does (quarantine), and
 * the test proves nothing there, but fails nothing either. */
static void test_freed_block_is_wiped(void **state)
{
    (void)state;
    size_t n = sizeof secret;
    char *p = wf_secmem_malloc(n);
    assert_non_null(p);
    memcpy(p, secret, n);
    wf_secmem_free(p);
    unsigned char *q = malloc(n);
    assert_non_null(q);
    size_t usable = malloc_usable_size(q);
    VALGRIND_MAKE_MEM_DEFINED(q, usable);
    /* the first 16 bytes may hold the allocator's own pointers: look past them */
    for (size_t i = 16; i + 8 <= usable && i + 8 <= n; i++)
        assert_false(memcmp(q + i, secret + i, 8) == 0);
    free(q);
}

static void test_json(void **state)
{
    (void)state;
    wf_secmem_use_for_json();
    json_error_t jerr;
    json_t *j = json_loads("{\"api_key\": \"k-123\", \"n\": [1, 2, 3]}", 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "api_key")), "k-123");
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"api_key\":\"k-123\",\"n\":[1,2,3]}");
    free(text); /* jansson's memory, freed by libc's free: they mix */
    json_decref(j);
}

static void test_protect_process(void **state)
{
    (void)state;
    assert_int_equal(wf_secmem_protect_process(), 0);
    struct rlimit r;
    assert_int_equal(getrlimit(RLIMIT_CORE, &r), 0);
    assert_true(r.rlim_cur == 0 && r.rlim_max == 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realloc_edges),
        cmocka_unit_test(test_freed_block_is_wiped),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_protect_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
