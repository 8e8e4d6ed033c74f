/*
 * test_router.c: the route table against the embedded openapi.json (the same routes,
 * methods and status codes, both ways), and path matching with decoded parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/internal.h"
#include "core/embed.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static json_t *openapi(void)
{
    for (size_t i = 0; i < wf_embed_api_count; i++) {
        if (!strcmp(wf_embed_api[i].name, "openapi.json"))
            return json_loadb((const char *)wf_embed_api[i].data, wf_embed_api[i].len, 0, NULL);
    }
    return NULL;
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void test_every_route_is_documented(void **state)
{
    (void)state;
    json_t *doc = openapi();
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < wf_nroutes; i++) {
        const wf_route *r = &wf_routes[i];
        if (r->page)
            continue; /* the admin page is not part of the API */
        char m[16];
        lower(r->method, m, sizeof m);
        json_t *op = json_object_get(json_object_get(paths, r->pattern), m);
        if (!op)
            fail_msg("%s %s is not in openapi.json", r->method, r->pattern);
        json_t *responses = json_object_get(op, "responses");
        size_t n = 0;
        for (const int *s = r->statuses; *s; s++, n++) {
            char code[8];
            snprintf(code, sizeof code, "%d", *s);
            if (!json_object_get(responses, code))
                fail_msg("%s %s: status %s is not documented", r->method, r->pattern, code);
        }
        if (json_object_size(responses) != n)
            fail_msg("%s %s: openapi.json documents %zu statuses, the route %zu", r->method,
                     r->pattern, json_object_size(responses), n);
    }
    json_decref(doc);
}

static void test_every_documented_operation_is_routed(void **state)
{
    (void)state;
    json_t *doc = openapi();
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *key;
        json_t *op;
        json_object_foreach(item, key, op)
        {
            if (!strcmp(key, "parameters"))
                continue;
            bool found = false;
            for (size_t i = 0; i < wf_nroutes; i++) {
                char m[16];
                lower(wf_routes[i].method, m, sizeof m);
                found |= !strcmp(wf_routes[i].pattern, path) && !strcmp(m, key);
            }
            if (!found)
                fail_msg("openapi.json documents %s %s, which no route serves", key, path);
        }
    }
    json_decref(doc);
}

static void test_match(void **state)
{
    (void)state;
    char *params[2] = {NULL, NULL};
    bool known = false;
    const wf_route *r = wf_route_match("GET", "/api/v1/engines/My%20Engine", params, &known);
    assert_non_null(r);
    assert_string_equal(r->pattern, "/api/v1/engines/{name}");
    assert_string_equal(params[0], "My Engine");
    free(params[0]);
    params[0] = NULL;

    r = wf_route_match("GET", "/api/v1/engines/n1/history", params, &known);
    assert_non_null(r);
    assert_string_equal(params[0], "n1");
    free(params[0]);
    params[0] = NULL;

    assert_null(wf_route_match("PUT", "/api/v1/engines/n1", params, &known));
    assert_true(known); /* 405, not 404 */
    assert_null(params[0]);
    assert_null(wf_route_match("GET", "/api/v1/engines/a/b/c", params, &known));
    assert_false(known);
    assert_null(wf_route_match("GET", "/api/v1/engines/", params, &known));
    assert_null(wf_route_match("GET", "/healthz/", params, &known));
    assert_null(wf_route_match("GET", "", params, &known));
    assert_null(params[0]);
    assert_null(params[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_is_routed),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
