/* Users, tokens and reads by role (lib/users.c, lib/access.c): secrets stay
 * out of the journal, a weak password is refused, tokens check, the public
 * reads only public reports, a holder only its own accounts (8002 alike for
 * another's and an unknown one), and verify still replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static json_t *secret_cmd(jcm *j, const char *text, int want_code) {
  json_t *cmd = json_loads(text, 0, NULL), *result = NULL;
  assert_non_null(cmd);
  int rc = jcm_submit_secret(j, cmd, &T_ADMIN, &result);
  json_decref(cmd);
  int code = (int)json_integer_value(json_object_get(json_object_get(result, "error"), "code"));
  if (code != want_code) fail_msg("%s: code %d, want %d", text, code, want_code);
  assert_int_equal(rc == JCM_OK, want_code == 0);
  return result;
}

static int query_code(jcm *j, const jcm_actor *a, const char *name, const char *params) {
  json_t *p = params ? json_loads(params, 0, NULL) : NULL, *r = NULL;
  jcm_check chk;
  int rc = jcm_query_as(j, a, name, p, &r, &chk);
  json_decref(p);
  json_decref(r);
  return rc == JCM_OK ? 0 : chk.code;
}

static void users_and_tokens(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "users");
  jcm *j = t_registry(path, &acc);
  json_decref(
      secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\",\"password\":\"short\"}", 1025));
  json_decref(secret_cmd(
      j, "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\",\"password\":\"aaaaaaaaaaaaaaaa\"}", 1025));
  json_decref(secret_cmd(
      j, "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\",\"password\":\"x\"}", 1025));
  json_decref(secret_cmd(
      j,
      "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\",\"password\":\"correct horse\"}",
      8004));
  json_decref(
      secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\",\"password\":\"correct horse\"}", 0));
  json_decref(secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\"}", 1002));
  json_decref(secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\"}", 0));
  json_t *r = secret_cmd(j, "{\"cmd\":\"token.create\",\"user\":\"hold\"}", 0);
  const char *token = json_string_value(json_object_get(json_object_get(r, "result"), "token"));
  assert_non_null(token);
  assert_int_equal(strlen(token), JCM_TOKEN_LEN);
  jcm_user u;
  assert_int_equal(jcm_token_check(j, token, &u), JCM_OK);
  assert_string_equal(u.name, "hold");
  assert_string_equal(u.org, "org-a");
  char bad[JCM_TOKEN_LEN + 1];
  memcpy(bad, token, sizeof bad);
  bad[JCM_TOKEN_LEN - 1] = bad[JCM_TOKEN_LEN - 1] == '0' ? '1' : '0';
  assert_int_equal(jcm_token_check(j, bad, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, "jcm_", &u), JCM_REFUSED);
  char hash[JCM_PWHASH_LEN];
  assert_int_equal(jcm_password_hash(j, "root", hash), JCM_OK);
  assert_int_equal(jcm_password_verify(hash, "correct horse"), JCM_OK);
  assert_int_equal(jcm_password_verify(hash, "correct horsf"), JCM_REFUSED);
  assert_int_equal(jcm_password_hash(j, "hold", hash), JCM_REFUSED); /* tokens only */
  assert_int_equal(jcm_password_verify(NULL, "correct horse"), JCM_REFUSED);
  /* no secret in the journal */
  char *dump = t_dump(path);
  char *journal = strstr(dump, "journal");
  assert_non_null(journal);
  assert_null(strstr(journal, "correct horse"));
  assert_null(strstr(journal, token + 20));
  free(dump);
  json_decref(r);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

static void reads_by_role(void **state) {
  (void)state;
  char path[512], p[128];
  t_accounts acc;
  t_db_path(path, sizeof path, "users-reads");
  jcm *j = t_registry(path, &acc);
  const jcm_actor a = {"org-a/hold", "holder"}, b = {"org-b", "holder"}, peer = {"p", "peer"};
  assert_int_equal(query_code(j, NULL, "projects", NULL), 0);
  assert_int_equal(query_code(j, NULL, "head", NULL), 0);
  assert_int_equal(query_code(j, NULL, "accounts", NULL), 8005);
  assert_int_equal(query_code(j, NULL, "journal", NULL), 8005);
  assert_int_equal(query_code(j, &peer, "journal", NULL), 8001);
  assert_int_equal(query_code(j, &T_AUDITOR, "journal", NULL), 0);
  assert_int_equal(query_code(j, &a, "journal", NULL), 8001);
  assert_int_equal(query_code(j, &a, "accounts", NULL), 0);
  assert_int_equal(query_code(j, &a, "accounts", "{\"holder\":\"org-b\"}"), 8002);
  snprintf(p, sizeof p, "{\"account\":\"%s\"}", acc.hold_a);
  assert_int_equal(query_code(j, &a, "balance", p), 0);
  assert_int_equal(query_code(j, &a, "statement", p), 0);
  assert_int_equal(query_code(j, &b, "balance", p), 8002);
  assert_int_equal(query_code(j, &b, "statement", p), 8002);
  assert_int_equal(query_code(j, &b, "blocks", p), 8002);
  assert_int_equal(query_code(j, &b, "balance", NULL), 1002);
  assert_int_equal(query_code(j, &b, "balance", "{\"account\":\"THA01-100-000099-99\"}"), 8002);
  assert_int_equal(query_code(j, &b, "tx", "{\"id\":\"THA01-T-000001\"}"), 8002);
  /* the holder's own accounts, and only those */
  json_t *r = NULL;
  jcm_check chk;
  assert_int_equal(jcm_query_as(j, &a, "accounts", NULL, &r, &chk), JCM_OK);
  assert_int_equal(json_array_size(json_object_get(r, "rows")), 1);
  json_decref(r);
  size_t n;
  const jcm_query_info *q = jcm_queries(&n);
  for (size_t i = 0; i < n; i++) { /* an auditor may read every query (its answer may still refuse) */
    int code = query_code(j, &T_AUDITOR, q[i].name, q[i].params[0] && q[i].params[0][0] == '!' ? p : NULL);
    if (code >= 8000) fail_msg("the auditor may not read %s: %d", q[i].name, code);
  }
  jcm_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(users_and_tokens),
      cmocka_unit_test(reads_by_role),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
