/* The smallest end-to-end path: issue, transfer, verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(issue_transfer_verify),
                                     cmocka_unit_test(opens_while_another_writes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
