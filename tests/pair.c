/* Two registries for the tests of the link (pair.h). */
#include "pair.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

const jcm_actor T_PEER = {"link", "peer"};

json_t *t_must(jcm *j, const jcm_actor *a, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  int code = 0;
  if (t_submit(j, a, buf, &code, &r) != JCM_OK) {
    char *s = json_dumps(r, 0);
    fail_msg("%s -> %s", buf, s);
  }
  json_t *out = json_incref(json_object_get(r, "result"));
  json_decref(r);
  return out;
}

static void key_exchange(jcm *a, const char *a_id, jcm *b, const char *b_id) {
  json_t *ka = t_must(a, &T_ADMIN, "{\"cmd\":\"key.generate\"}"),
         *kb = t_must(b, &T_ADMIN, "{\"cmd\":\"key.generate\"}");
  json_decref(t_must(a, &T_ADMIN, "{\"cmd\":\"registry.key\",\"id\":\"%s\",\"public_key\":\"%s\"}", b_id,
                     json_string_value(json_object_get(kb, "public_key"))));
  json_decref(t_must(b, &T_ADMIN, "{\"cmd\":\"registry.key\",\"id\":\"%s\",\"public_key\":\"%s\"}", a_id,
                     json_string_value(json_object_get(ka, "public_key"))));
  json_decref(ka);
  json_decref(kb);
}

void t_account_of(jcm *j, const char *fmt, char out[32]) {
  json_t *r = t_must(j, &T_ADMIN, "%s", fmt);
  snprintf(out, 32, "%s", json_string_value(json_object_get(r, "account")));
  json_decref(r);
}

void pair_open(pair *p, const char *name) {
  char n[64];
  snprintf(n, sizeof n, "%s-tha", name);
  t_db_path(p->tha_path, sizeof p->tha_path, n);
  snprintf(n, sizeof n, "%s-jpn", name);
  t_db_path(p->jpn_path, sizeof p->jpn_path, n);
  p->tha = t_registry(p->tha_path, &p->acc);
  p->jpn = t_open(p->jpn_path);
  jcm *t = p->tha, *j = p->jpn;
  json_decref(t_must(j, &T_ADMIN, "{\"cmd\":\"init\",\"registry\":\"JPN01\",\"party\":\"JPN\",\"name\":\"Japan\"}"));
  json_decref(
      t_must(j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"goj\",\"name\":\"Government of Japan\",\"country\":\"JPN\"}"));
  json_decref(
      t_must(j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"tsb\",\"name\":\"TSB Green Nex\",\"country\":\"JPN\"}"));
  t_account_of(j, "{\"cmd\":\"account.open\",\"type\":\"government-holding\",\"holder\":\"goj\",\"name\":\"GoJ\"}",
               p->jpn_gov);
  t_account_of(j, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"tsb\",\"name\":\"TSB\"}", p->jpn_hold);
  t_account_of(j, "{\"cmd\":\"account.open\",\"type\":\"retirement\",\"holder\":\"goj\",\"name\":\"NDC use\"}",
               p->jpn_retire);
  const char *coop = "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"JCM\",\"parties\":[\"JPN\",\"THA\"]}";
  json_decref(t_must(t, &T_ADMIN, "%s", coop));
  json_decref(t_must(j, &T_ADMIN, "%s", coop));
  json_decref(
      t_must(t, &T_ADMIN,
             "{\"cmd\":\"registry.add\",\"id\":\"JPN01\",\"party\":\"JPN\",\"name\":\"J\",\"role\":\"national\"}"));
  json_decref(
      t_must(j, &T_ADMIN,
             "{\"cmd\":\"registry.add\",\"id\":\"THA01\",\"party\":\"THA\",\"name\":\"T\",\"role\":\"national\"}"));
  key_exchange(t, "THA01", j, "JPN01");
  const char *acc[] = {p->acc.gov, p->acc.hold_a, NULL};
  const int64_t q[] = {1009, 1008};
  assert_int_equal(t_issue(t, 2021, 2017, 2017, acc, q), JCM_OK);
}

void pair_close(pair *p) {
  jcm_close(p->tha);
  jcm_close(p->jpn);
}

void pair_authorize(pair *p, const char *parties, const char *scope) {
  json_decref(t_must(p->tha, &T_ADMIN,
                     "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0001\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                     "\"quantity\":1009,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":%s,"
                     "\"first_year\":2021,\"last_year\":2030,%s}",
                     parties, scope));
}

void pair_sync(pair *p) {
  for (int round = 0; round < 10; round++) {
    int a = 0, b = 0;
    json_t *ref = NULL;
    if (jcm_link_deliver(p->tha, p->jpn, &T_PEER, &a, &ref) != JCM_OK ||
        jcm_link_deliver(p->jpn, p->tha, &T_PEER, &b, &ref) != JCM_OK) {
      char *s = json_dumps(ref, 0);
      fail_msg("delivery refused: %s", s ? s : "(store error)");
    }
    if (!a && !b) return;
  }
  fail_msg("the link does not settle");
}

void t_verify_ok(jcm *j) {
  json_t *rep = NULL;
  int rc = jcm_verify(j, &rep);
  if (rc != JCM_OK) {
    char *s = json_dumps(rep, 0);
    fail_msg("verify: %s", s);
  }
  json_decref(rep);
}

json_t *t_rows(jcm *j, const char *name, const char *param, const char *value) {
  json_t *params = param ? json_pack("{s:s}", param, value) : json_object(), *r = NULL;
  if (strcmp(name, "a6.balance") != 0) json_object_set_new(params, "limit", json_integer(1000));
  jcm_check chk;
  if (jcm_query(j, name, params, &r, &chk) != JCM_OK) fail_msg("query %s: %s", name, chk.message);
  json_decref(params);
  json_t *rows = json_incref(json_object_get(r, "rows"));
  json_decref(r);
  return rows;
}

int64_t t_action_units(jcm *j, const char *type) {
  json_t *rows = t_rows(j, "actions", "type", type);
  int64_t n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) n += json_integer_value(json_object_get(r, "quantity"));
  json_decref(rows);
  return n;
}

int t_receive(jcm *j, const char *msg, const char *sig) {
  json_t *cmd = json_pack("{s:s,s:s,s:s}", "cmd", "link.receive", "msg", msg, "sig", sig), *r = NULL;
  int rc = jcm_submit(j, cmd, &T_PEER, &r);
  int code = rc == JCM_OK ? 0 : (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
  json_decref(cmd);
  json_decref(r);
  return code;
}

void t_sign_as(const char *path, const char *text, char sig_hex[129]) {
  sqlite3 *db;
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM node_secret", -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sqlite3_column_blob(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  sodium_bin2hex(sig_hex, 129, sig, sizeof sig);
}
