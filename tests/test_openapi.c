/* The OpenAPI document lists every command of the command table (with its
 * roles and required fields) and every query (with its parameters): it is
 * generated from them, and this says so. tests/sh_api.sh walks it against a
 * running server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"
#include "spec.h"
#include "support.h"

static void every_command_and_query(void **state) {
  (void)state;
  char *text = srv_openapi();
  assert_non_null(text);
  json_t *doc = json_loads(text, 0, NULL), *paths = json_object_get(doc, "paths");
  free(text);
  assert_non_null(paths);
  size_t n, listed = 0;
  const cmd_spec *specs = jcm__specs(&n);
  char p[96];
  for (size_t i = 0; i < n; i++, listed++) {
    snprintf(p, sizeof p, "/api/v1/commands/%s", specs[i].name);
    json_t *op = json_object_get(json_object_get(paths, p), "post");
    if (!op) fail_msg("%s is not in the OpenAPI document", p);
    json_t *schema = json_object_get(
        json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"), "application/json"), "schema");
    for (const field_spec *f = specs[i].fields; f->name; f++)
      if (!json_object_get(json_object_get(schema, "properties"), f->name)) fail_msg("%s lacks %s", p, f->name);
    assert_true(json_array_size(json_object_get(op, "x-roles")) > 0);
  }
  const jcm_query_info *q = jcm_queries(&n);
  for (size_t i = 0; i < n; i++, listed++) {
    snprintf(p, sizeof p, "/api/v1/queries/%s", q[i].name);
    json_t *op = json_object_get(json_object_get(paths, p), "get");
    if (!op) fail_msg("%s is not in the OpenAPI document", p);
    size_t k = 0;
    while (k < 8 && q[i].params[k])
      k++;
    assert_int_equal(json_array_size(json_object_get(op, "parameters")), k);
  }
  /* nothing else but the eight fixed routes */
  assert_int_equal(json_object_size(paths), listed + 8);
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_command_and_query)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
