/*
 * jcm_setup: the library's SQLite settings take only before SQLite starts
 * (include/jcm/jcm.h). Each case runs in a child process of its own, since
 * both the library's setup and SQLite's start happen once a process; this
 * parent touches neither.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "jcm/jcm.h"

/* The child's exit status of case(): 0 when every expectation held. */
static int in_child(int (*case_fn)(void)) {
  pid_t pid = fork();
  if (pid == 0) _exit(case_fn());
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Setup first: it takes, says so, and says the same when called again;
 * a store then opens. */
static int setup_first(void) {
  if (jcm_setup() != JCM_OK || jcm_setup() != JCM_OK) return 1;
  jcm *j = NULL;
  char err[256];
  if (jcm_open(":memory:", NULL, &j, err, sizeof err) != JCM_OK) return 2;
  jcm_close(j);
  return 0;
}

/* SQLite started first (as bench_engine's auto extension did): setup is
 * refused and says so; the store still opens, on SQLite's defaults. */
static int sqlite_first(void) {
  if (sqlite3_initialize() != SQLITE_OK) return 1;
  if (jcm_setup() != JCM_ERROR) return 2;
  jcm *j = NULL;
  char err[256];
  if (jcm_open(":memory:", NULL, &j, err, sizeof err) != JCM_OK) return 3;
  jcm_close(j);
  return 0;
}

static void setup_takes_before_sqlite_starts(void **state) {
  (void)state;
  assert_int_equal(in_child(setup_first), 0);
}

static void setup_is_refused_after_sqlite_started(void **state) {
  (void)state;
  assert_int_equal(in_child(sqlite_first), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(setup_takes_before_sqlite_starts),
                                     cmocka_unit_test(setup_is_refused_after_sqlite_started)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
