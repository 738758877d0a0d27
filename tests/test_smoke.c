/* The smallest end-to-end path: issue, transfer, verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>

#include "support.h"

static void issue_transfer_verify(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "smoke");
  jcm *j = t_registry(path, &a);
  const char *accts[] = {a.gov, a.hold_a, NULL};
  const int64_t qty[] = {1009, 1008};
  assert_int_equal(t_issue(j, 2021, 2017, 2017, accts, qty), JCM_OK);
  assert_int_equal(t_balance(j, a.gov), 1009);
  assert_int_equal(t_balance(j, a.hold_a), 1008);
  int code = 0;
  assert_int_equal(t_submitf(j, &T_ADMIN, &code, NULL,
                             "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":8}", a.hold_a, a.hold_b),
                   JCM_OK);
  assert_int_equal(t_balance(j, a.hold_b), 8);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

/* A store whose schema is current opens while another handle holds the
 * write lock (jcm serve's writer nearly always does under load): opening
 * only reads the schema version. */
static void opens_while_another_writes(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "smoke-busy");
  jcm *writer = t_registry(path, &a);
  assert_int_equal(jcm_batch_begin(writer), JCM_OK); /* BEGIN IMMEDIATE: holds the write lock */
  jcm *reader = NULL;
  char err[256] = "";
  assert_int_equal(jcm_open(path, NULL, &reader, err, sizeof err), JCM_OK);
  assert_int_equal(t_balance(reader, a.hold_a), 0);
  jcm_close(reader);
  assert_int_equal(jcm_batch_commit(writer), JCM_OK);
  jcm_close(writer);
}

static int64_t journal_count(sqlite3 *db) {
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM journal", -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

/* The store gathers WAL writes in a buffer (lib/store/walvfs.c). Another
 * connection, through SQLite's own VFS, must see every commit the moment it
 * returns: one small command, then a batch whose WAL frames overflow the
 * buffer many times. */
static void other_connections_see_each_commit(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "smoke-wal");
  jcm *j = t_registry(path, &a);
  sqlite3 *plain = NULL;
  assert_int_equal(sqlite3_open_v2(path, &plain, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  int64_t before = journal_count(plain);
  int code = 0;
  assert_int_equal(
      t_submitf(j, &T_ADMIN, &code, NULL, "{\"cmd\":\"org.add\",\"id\":\"org-w\",\"name\":\"W\",\"country\":\"THA\"}"),
      JCM_OK);
  assert_int_equal(journal_count(plain), before + 1);
  assert_int_equal(jcm_batch_begin(j), JCM_OK);
  for (int i = 0; i < 2000; i++)
    assert_int_equal(t_submitf(j, &T_ADMIN, &code, NULL,
                               "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-w\",\"name\":\"W %d\"}",
                               i),
                     JCM_OK);
  assert_int_equal(journal_count(plain), before + 1); /* not yet committed */
  assert_int_equal(jcm_batch_commit(j), JCM_OK);
  assert_int_equal(journal_count(plain), before + 2001);
  sqlite3_close(plain);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(issue_transfer_verify),
                                     cmocka_unit_test(opens_while_another_writes),
                                     cmocka_unit_test(other_connections_see_each_commit)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
