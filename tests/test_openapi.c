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

static const char *const roles[] = {"admin", "jc_secretariat", "holder", "tpe", "auditor", "peer", "server"};

/* The roles op says may call it ("x-jcm-roles"), as text "admin auditor";
 * and its description names each of them. */
static void listed_roles(json_t *op, const char *path, char *out, size_t n) {
  json_t *list = json_object_get(op, "x-jcm-roles"), *r;
  const char *description = json_string_value(json_object_get(op, "description"));
  size_t i, used = 0;
  out[0] = 0;
  if (!json_is_array(list) || !description || !strstr(description, "Only these roles may call it"))
    fail_msg("%s: no x-jcm-roles with its sentence", path);
  json_array_foreach(list, i, r) {
    if (!strstr(description, json_string_value(r)))
      fail_msg("%s: the description omits %s", path, json_string_value(r));
    used += (size_t)snprintf(out + used, n - used, "%s%s", i ? " " : "", json_string_value(r));
  }
}

/* What the library allows, in the same form. */
static void allowed_roles(const char *query, unsigned cmd_roles, char *out, size_t n) {
  size_t used = 0;
  out[0] = 0;
  for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
    const jcm_actor a = {"t", roles[i]};
    jcm_check chk;
    int ok = query ? jcm_may_read(&a, query, &chk) == JCM_OK : (cmd_roles & (1u << i)) != 0;
    if (ok) used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "", roles[i]);
  }
}

/* Every route only some roles may call says which, the same way: commands
 * (the command table's roles) and every query the public may not read
 * (jcm_may_read, role by role); pending and the users' lists by name.
 * tests/sh_api.sh checks the server answers each role as the list says. */
static void roles_marked(void **state) {
  (void)state;
  char *text = srv_openapi(), p[96], doc_roles[200], lib_roles[200];
  json_t *doc = json_loads(text, 0, NULL), *paths = json_object_get(doc, "paths");
  free(text);
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof p, "/api/v1/commands/%s", specs[i].name);
    listed_roles(json_object_get(json_object_get(paths, p), "post"), p, doc_roles, sizeof doc_roles);
    allowed_roles(NULL, specs[i].roles, lib_roles, sizeof lib_roles);
    if (strcmp(doc_roles, lib_roles) != 0) fail_msg("%s: document %s, command table %s", p, doc_roles, lib_roles);
  }
  const jcm_query_info *q = jcm_queries(&n);
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof p, "/api/v1/queries/%s", q[i].name);
    json_t *op = json_object_get(json_object_get(paths, p), "get");
    if (q[i].public_read) {
      assert_null(json_object_get(op, "x-jcm-roles"));
      continue;
    }
    listed_roles(op, p, doc_roles, sizeof doc_roles);
    allowed_roles(q[i].name, 0, lib_roles, sizeof lib_roles);
    if (strcmp(doc_roles, lib_roles) != 0) fail_msg("%s: document %s, library %s", p, doc_roles, lib_roles);
  }
  const char *named[][2] = {{"pending", "admin auditor"},
                            {"users", "admin auditor"},
                            {"tokens", "admin auditor"},
                            {"journal", "admin jc_secretariat tpe auditor"}};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    snprintf(p, sizeof p, "/api/v1/queries/%s", named[i][0]);
    listed_roles(json_object_get(json_object_get(paths, p), "get"), p, doc_roles, sizeof doc_roles);
    assert_string_equal(doc_roles, named[i][1]);
  }
  json_decref(doc);
}

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
    assert_true(json_array_size(json_object_get(op, "x-jcm-roles")) > 0);
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
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_command_and_query), cmocka_unit_test(roles_marked)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
