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

#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

#include "engine.h" /* the token memo's version, to show its time limit */
#include "support.h"

/* The journal still replays to the same state (jcm verify). */
static void verify_and_close(jcm *j) {
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

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

static int query_code(jcm *j, const jcm_actor *a, const char *name, const char *params);

/* Submits text (with its secrets) as actor a and wants code (0: done);
 * a refusal must leave every table as it was, credentials included. */
static void as(jcm *j, const char *path, const jcm_actor *a, const char *text, int want_code) {
  json_t *cmd = json_loads(text, 0, NULL), *result = NULL;
  assert_non_null(cmd);
  char *before = want_code ? t_dump(path) : NULL;
  int rc = jcm_submit_secret(j, cmd, a, &result);
  json_decref(cmd);
  int code = (int)json_integer_value(json_object_get(json_object_get(result, "error"), "code"));
  json_decref(result);
  if (code != want_code) fail_msg("%s as %s: code %d, want %d", text, a->name, code, want_code);
  assert_int_equal(rc == JCM_OK, want_code == 0);
  if (!before) return;
  char *after = t_dump(path);
  if (strcmp(before, after) != 0) fail_msg("%s as %s: refused, yet the store changed", text, a->name);
  free(before);
  free(after);
}

static int login(jcm *j, const char *name, const char *password, const char **why) {
  jcm_user u;
  return jcm_password_login(j, name, password, &u, why);
}

static const char *new_token(jcm *j, const char *user, char out[JCM_TOKEN_LEN + 1]) {
  char text[128];
  snprintf(text, sizeof text, "{\"cmd\":\"token.create\",\"user\":\"%s\"}", user);
  json_t *r = secret_cmd(j, text, 0);
  snprintf(out, JCM_TOKEN_LEN + 1, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "token")));
  json_decref(r);
  return out;
}

static const jcm_actor ROOT = {"root", "admin"}, ROOT2 = {"root2", "admin"}, HOLD = {"org-a/hold", "holder"};

/* A store with admin root (its only administrator, with a password) and holder hold of org-a (tokens only). */
static jcm *users_store(char *path, size_t n, const char *name) {
  t_accounts acc;
  t_db_path(path, n, name);
  jcm *j = t_registry(path, &acc);
  json_decref(
      secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\",\"password\":\"root password 1\"}", 0));
  json_decref(secret_cmd(
      j,
      "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\",\"password\":\"hold password 1\"}",
      0));
  return j;
}

/* Inside a caller's batch (POST /api/v1/batch, the server's group), a
 * command whose credential cannot be stored after the command itself was
 * applied is refused, and its rows must not commit with the batch: a user
 * without a password, a token nobody holds. The batch breaks (lib/users.c),
 * its commit fails and the store is as it was. */
static void a_credential_not_stored_breaks_the_batch(void **state) {
  (void)state;
  char path[512];
  jcm *j = users_store(path, sizeof path, "users-batch-secret");
  jcm_store *st = jcm__store(j);
  assert_int_equal(st->ops->exec(st, "CREATE TRIGGER no_credential BEFORE INSERT ON credential"
                                     " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
                   0);
  char *before = t_dump(path);
  assert_int_equal(jcm_batch_begin(j), JCM_OK);
  json_t *cmd = json_loads("{\"cmd\":\"token.create\",\"user\":\"hold\"}", 0, NULL), *result = NULL;
  assert_int_not_equal(jcm_submit_secret(j, cmd, &T_ADMIN, &result), JCM_OK);
  json_decref(cmd);
  json_decref(result);
  assert_int_equal(jcm_batch_commit(j), JCM_REFUSED);
  char *after = t_dump(path);
  if (strcmp(before, after) != 0) fail_msg("a token without its credential was committed with the batch");
  free(before);
  free(after);
  assert_int_equal(st->ops->exec(st, "DROP TRIGGER no_credential"), 0);
  verify_and_close(j);
}

/* Disabling: no sign-in (refused as a wrong password is), sessions and
 * tokens refused; enabling again: tokens work, old sessions stay ended; the
 * last enabled administrator stays. */
static void disable_and_enable(void **state) {
  (void)state;
  char path[512], tok[JCM_TOKEN_LEN + 1];
  const char *why;
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-disable");
  new_token(j, "hold", tok);
  assert_int_equal(jcm_user_get(j, "hold", &u), JCM_OK);
  int64_t signed_in_at = u.cred_seq;
  assert_int_equal(jcm_session_user(j, "hold", signed_in_at, &u), JCM_OK);
  as(j, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"ghost\"}", 1026);
  as(j, path, &HOLD, "{\"cmd\":\"user.disable\",\"name\":\"hold\"}", 8001);
  as(j, path, &ROOT, "{\"cmd\":\"user.enable\",\"name\":\"hold\"}", 1028);
  as(j, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"hold\",\"reason\":\"left the company\"}", 0);
  as(j, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"hold\"}", 1028);
  assert_int_equal(login(j, "hold", "hold password 1", &why), JCM_REFUSED);
  assert_string_equal(why, "the user is disabled");
  assert_int_equal(login(j, "hold", "a wrong password", &why), JCM_REFUSED);
  assert_string_equal(why, "wrong name or password");
  assert_int_equal(jcm_session_user(j, "hold", signed_in_at, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED);
  as(j, path, &ROOT, "{\"cmd\":\"user.enable\",\"name\":\"hold\"}", 0);
  assert_int_equal(login(j, "hold", "hold password 1", &why), JCM_OK);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_int_equal(jcm_session_user(j, "hold", signed_in_at, &u), JCM_REFUSED); /* ended for good */
  /* the last enabled administrator, by itself or by the CLI's actor */
  as(j, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"root\"}", 8010);
  as(j, path, &T_ADMIN, "{\"cmd\":\"user.disable\",\"name\":\"root\"}", 8010);
  json_decref(secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"root2\",\"role\":\"admin\"}", 0));
  as(j, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"root\"}", 0);
  as(j, path, &ROOT2, "{\"cmd\":\"user.disable\",\"name\":\"root2\"}", 8010);
  verify_and_close(j);
}

/* Changing a role: admins only; a holder needs a known organisation; the
 * same role is 1028; the last enabled administrator keeps its role (8010);
 * sessions end, tokens act with the new role; refusals change nothing. */
static void change_role(void **state) {
  (void)state;
  char path[512], tok[JCM_TOKEN_LEN + 1];
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-role");
  new_token(j, "hold", tok);
  assert_int_equal(jcm_user_get(j, "hold", &u), JCM_OK);
  int64_t signed_in_at = u.cred_seq;
  as(j, path, &HOLD, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"admin\"}", 8001);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"ghost\",\"role\":\"auditor\"}", 1026);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"king\"}", 1012);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\"}", 1028);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"root\",\"role\":\"holder\"}", 1002);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"root\",\"role\":\"holder\",\"org\":\"org-z\"}", 1017);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"root\",\"role\":\"auditor\"}", 8010);
  /* another organisation is a change too; then an auditor, whose token reads as one */
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-b\"}", 0);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.org, "org-b");
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"auditor\",\"org\":\"org-b\"}", 0);
  assert_int_equal(jcm_session_user(j, "hold", signed_in_at, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.role, "auditor");
  assert_string_equal(u.org, "");
  /* with a second administrator the first may step down */
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"hold\",\"role\":\"admin\"}", 0);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"root\",\"role\":\"auditor\"}", 0);
  assert_int_equal(jcm_user_get(j, "root", &u), JCM_OK);
  assert_string_equal(u.role, "auditor");
  verify_and_close(j);
}

/* Changing a password: one's own with the current one, anyone's as an
 * administrator; weak ones refused; only the hash kept, never journaled;
 * sessions opened before end. */
static void change_password(void **state) {
  (void)state;
  char path[512];
  const char *why;
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-password");
  assert_int_equal(jcm_user_get(j, "hold", &u), JCM_OK);
  int64_t signed_in_at = u.cred_seq;
  as(j, path, &HOLD, "{\"cmd\":\"user.password\",\"name\":\"hold\",\"password\":\"hold password 2\"}", 1002);
  as(j, path, &HOLD,
     "{\"cmd\":\"user.password\",\"name\":\"hold\",\"current\":\"not my password\",\"password\":\"hold password 2\"}",
     8009);
  as(j, path, &HOLD,
     "{\"cmd\":\"user.password\",\"name\":\"hold\",\"current\":\"hold password 1\",\"password\":\"short\"}", 1025);
  as(j, path, &HOLD, "{\"cmd\":\"user.password\",\"name\":\"hold\",\"current\":\"hold password 1\"}", 1002);
  as(j, path, &HOLD, "{\"cmd\":\"user.password\",\"name\":\"root\",\"password\":\"taken over root\"}", 8011);
  as(j, path, &HOLD, "{\"cmd\":\"user.password\",\"name\":\"ghost\",\"password\":\"taken over root\"}", 1026);
  as(j, path, &ROOT, "{\"cmd\":\"user.password\",\"name\":\"root\",\"password\":\"root password 2\"}", 1002);
  as(j, path, &HOLD,
     "{\"cmd\":\"user.password\",\"name\":\"hold\",\"current\":\"hold password 1\",\"password\":\"hold password 2\"}",
     0);
  assert_int_equal(login(j, "hold", "hold password 1", &why), JCM_REFUSED);
  assert_int_equal(login(j, "hold", "hold password 2", &why), JCM_OK);
  assert_int_equal(jcm_session_user(j, "hold", signed_in_at, &u), JCM_REFUSED);
  /* an administrator sets another user's password without knowing it */
  as(j, path, &ROOT, "{\"cmd\":\"user.password\",\"name\":\"hold\",\"password\":\"hold password 3\"}", 0);
  assert_int_equal(login(j, "hold", "hold password 3", &why), JCM_OK);
  /* through jcm_submit, which stores no secret, the command would change nothing: refused */
  json_t *cmd = json_pack("{s:s,s:s}", "cmd", "user.password", "name", "hold"), *r = NULL;
  assert_int_equal(jcm_submit(j, cmd, &ROOT, &r), JCM_REFUSED);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")), 1002);
  json_decref(r);
  json_decref(cmd);
  char *dump = t_dump(path), *journal = strstr(dump, "journal");
  assert_null(strstr(journal, "hold password"));
  free(dump);
  verify_and_close(j);
}

/* Revoking a token: by its owner or an administrator; refused afterwards. */
static void revoke_token(void **state) {
  (void)state;
  char path[512], mine[JCM_TOKEN_LEN + 1], roots[JCM_TOKEN_LEN + 1], text[160];
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-revoke");
  new_token(j, "hold", mine);
  new_token(j, "root", roots);
  snprintf(text, sizeof text, "{\"cmd\":\"token.revoke\",\"id\":\"%.16s\"}", roots + 4);
  as(j, path, &HOLD, text, 8011);
  as(j, path, &HOLD, "{\"cmd\":\"token.revoke\",\"id\":\"0123456789abcdef\"}", 8011); /* alike: nothing told */
  as(j, path, &ROOT, "{\"cmd\":\"token.revoke\",\"id\":\"0123456789abcdef\"}", 1029);
  snprintf(text, sizeof text, "{\"cmd\":\"token.revoke\",\"id\":\"%.16s\"}", mine + 4);
  as(j, path, &HOLD, text, 0);
  as(j, path, &HOLD, text, 1028);
  assert_int_equal(jcm_token_check(j, mine, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, roots, &u), JCM_OK);
  snprintf(text, sizeof text, "{\"cmd\":\"token.revoke\",\"id\":\"%.16s\"}", roots + 4);
  as(j, path, &ROOT2, text, 0); /* any administrator */
  assert_int_equal(jcm_token_check(j, roots, &u), JCM_REFUSED);
  /* the list: ids, owners, when; never a secret */
  json_t *rows = NULL;
  jcm_check chk;
  assert_int_equal(jcm_query_as(j, &ROOT, "tokens", NULL, &rows, &chk), JCM_OK);
  assert_int_equal(json_array_size(json_object_get(rows, "rows")), 2);
  char *text_rows = json_dumps(rows, 0);
  assert_null(strstr(text_rows, mine + 20));
  assert_non_null(strstr(text_rows, "revoked_seq"));
  free(text_rows);
  json_decref(rows);
  assert_int_equal(query_code(j, &HOLD, "tokens", NULL), 8001);
  assert_int_equal(query_code(j, &HOLD, "users", NULL), 8001);
  assert_int_equal(query_code(j, &T_JCS, "tokens", NULL), 8001);
  assert_int_equal(query_code(j, NULL, "users", NULL), 8005);
  verify_and_close(j);
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
  verify_and_close(j);
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

static int64_t test_clock(void *ud) { return *(int64_t *)ud; }

/* A registry on the clock of opt, with the administrator root and the
 * auditor `user`. */
static jcm *clocked_store(char *path, size_t n, const char *name, const jcm_options *opt, const char *user) {
  t_accounts acc;
  char err[256], text[128];
  t_db_path(path, n, name);
  jcm_close(t_registry(path, &acc));
  jcm *j = NULL;
  assert_int_equal(jcm_open(path, opt, &j, err, sizeof err), JCM_OK);
  json_decref(
      secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\",\"password\":\"correct horse\"}", 0));
  snprintf(text, sizeof text, "{\"cmd\":\"user.add\",\"name\":\"%s\",\"role\":\"auditor\"}", user);
  json_decref(secret_cmd(j, text, 0));
  return j;
}

/* The expiry a token.create made at `now` for `days` would give. */
static void expiry_of(int64_t now, int64_t days, char out[32]) {
  char buf[24];
  int64_t ms = now + days * 86400000;
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%.19s.%03dZ", buf, (int)(ms % 1000));
}

/* Tokens expire: "days" after they are made (default JCM_TOKEN_DAYS), by
 * the registry's clock; out of range is refused; the expiry is in the event,
 * so the replay agrees; a token of a store from before expiries has none. */
static void tokens_expire(void **state) {
  (void)state;
  char path[512];
  int64_t now = 1764892800000; /* 2025-12-05T00:00:00Z */
  jcm_options opt = {test_clock, &now};
  char err[256];
  jcm *j = clocked_store(path, sizeof path, "users-expire", &opt, "bot");
  as(j, path, &T_ADMIN, "{\"cmd\":\"token.create\",\"user\":\"bot\",\"days\":0}", 1004);
  as(j, path, &T_ADMIN, "{\"cmd\":\"token.create\",\"user\":\"bot\",\"days\":3651}", 1004);
  as(j, path, &T_ADMIN, "{\"cmd\":\"token.create\",\"user\":\"bot\",\"days\":\"2\"}", 1003);
  char two[JCM_TOKEN_LEN + 1], dflt[JCM_TOKEN_LEN + 1], legacy[JCM_TOKEN_LEN + 1];
  json_t *r = secret_cmd(j, "{\"cmd\":\"token.create\",\"user\":\"bot\",\"days\":2}", 0);
  snprintf(two, sizeof two, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "token")));
  json_decref(r);
  new_token(j, "bot", dflt);
  new_token(j, "bot", legacy);
  char want[32], *dump = t_dump(path);
  expiry_of(now, 2, want);
  assert_non_null(strstr(dump, want));
  expiry_of(now, JCM_TOKEN_DAYS, want);
  assert_non_null(strstr(dump, want));
  free(dump);
  jcm_close(j);
  /* as a token made before tokens expired: no expiry */
  sqlite3 *db = NULL;
  char sql[200];
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "UPDATE app_token SET expires = NULL WHERE id = '%.16s'", legacy + 4);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(jcm_open(path, &opt, &j, err, sizeof err), JCM_OK);
  jcm_user u;
  now += 2 * 86400000 - 1; /* the last millisecond of the two days */
  assert_int_equal(jcm_token_check(j, two, &u), JCM_OK);
  now += 1;
  assert_int_equal(jcm_token_check(j, two, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, dflt, &u), JCM_OK);
  now += (JCM_TOKEN_DAYS - 2) * (int64_t)86400000;
  assert_int_equal(jcm_token_check(j, dflt, &u), JCM_REFUSED);
  assert_int_equal(jcm_token_check(j, legacy, &u), JCM_OK);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_REFUSED);
  json_decref(report);
  jcm_close(j);
  /* the journal has the legacy token's expiry, the store no longer: verify
   * names the difference; with it put back the replay agrees */
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  expiry_of(1764892800000, JCM_TOKEN_DAYS, want);
  snprintf(sql, sizeof sql, "UPDATE app_token SET expires = '%s' WHERE id = '%.16s'", want, legacy + 4);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(jcm_open(path, &opt, &j, err, sizeof err), JCM_OK);
  verify_and_close(j);
}

/* A token that passed is remembered by its handle only while the store is
 * unchanged (users.c, the memo): a revocation, a disabled user or a role
 * changed through another handle, or by a plain SQLite connection as another
 * program would, takes effect on the next check. */
static void token_memo_follows_other_handles(void **state) {
  (void)state;
  char path[512], tok[JCM_TOKEN_LEN + 1], text[160];
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-memo");
  json_decref(secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"aud\",\"role\":\"auditor\"}", 0));
  jcm *other = t_open(path);
  new_token(j, "hold", tok);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK); /* from the memo */
  snprintf(text, sizeof text, "{\"cmd\":\"token.revoke\",\"id\":\"%.16s\"}", tok + 4);
  as(other, path, &ROOT, text, 0);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED);

  new_token(j, "hold", tok);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  as(other, path, &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"hold\",\"reason\":\"left\"}", 0);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED);

  new_token(j, "aud", tok);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.role, "auditor");
  as(other, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"aud\",\"role\":\"tpe\"}", 0);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.role, "tpe");

  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK); /* in the memo again */
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE app_user SET disabled = 1 WHERE name = 'aud'", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED);
  jcm_close(other);
  jcm_close(j);
}

/* What a check sees inside a write transaction may be rolled back: such a
 * check neither uses nor fills the memo (a rollback moves no version). */
static void token_memo_ignores_rolled_back_writes(void **state) {
  (void)state;
  char path[512], tok[JCM_TOKEN_LEN + 1];
  jcm_user u;
  jcm *j = users_store(path, sizeof path, "users-memo-rollback");
  json_decref(secret_cmd(j, "{\"cmd\":\"user.add\",\"name\":\"aud\",\"role\":\"auditor\"}", 0));
  assert_int_equal(jcm_batch_begin(j), JCM_OK); /* a token made, checked, rolled back */
  new_token(j, "aud", tok);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  jcm_batch_rollback(j);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED);

  new_token(j, "aud", tok); /* a role changed, checked, rolled back */
  assert_int_equal(jcm_batch_begin(j), JCM_OK);
  as(j, path, &ROOT, "{\"cmd\":\"user.role\",\"name\":\"aud\",\"role\":\"admin\"}", 0);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.role, "admin");
  jcm_batch_rollback(j);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  assert_string_equal(u.role, "auditor");
  jcm_close(j);
}

/* A remembered token serves JCM_TOKEN_MEMO_MS at most, even were the store's
 * version to come round to the same numbers after a change (shown here by
 * putting the old version back by hand after removing the token). */
static void token_memo_has_a_time_limit(void **state) {
  (void)state;
  char path[512], tok[JCM_TOKEN_LEN + 1], sql[160];
  int64_t now = 1764892800000;
  jcm_options opt = {test_clock, &now};
  jcm *j = clocked_store(path, sizeof path, "users-memo-time", &opt, "aud");
  new_token(j, "aud", tok);
  jcm_user u;
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "DELETE FROM credential WHERE kind = 'token' AND id = '%.16s'", tok + 4);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED); /* the version moved */
  json_t *r = secret_cmd(j, "{\"cmd\":\"token.create\",\"user\":\"aud\"}", 0);
  snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "token")));
  json_decref(r);
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK); /* remembered */
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "DELETE FROM credential WHERE kind = 'token' AND id = '%.16s'", tok + 4);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  jcm_store *st = jcm__store(j);
  int64_t v[2];
  assert_int_equal(st->ops->version(st, v), 0); /* the store's version now, then the old one put back */
  memcpy(j->memo_version, v, sizeof v);
  now += JCM_TOKEN_MEMO_MS - 1;
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_OK); /* within its life: the (now stale) memo */
  now += 1;
  assert_int_equal(jcm_token_check(j, tok, &u), JCM_REFUSED); /* past it: looked up again */
  jcm_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(users_and_tokens),
      cmocka_unit_test(reads_by_role),
      cmocka_unit_test(disable_and_enable),
      cmocka_unit_test(change_password),
      cmocka_unit_test(revoke_token),
      cmocka_unit_test(tokens_expire),
      cmocka_unit_test(change_role),
      cmocka_unit_test(token_memo_follows_other_handles),
      cmocka_unit_test(token_memo_ignores_rolled_back_writes),
      cmocka_unit_test(token_memo_has_a_time_limit),
      cmocka_unit_test(a_credential_not_stored_breaks_the_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
