/*
 * forge_check STORE: forges a store's journal one value at a time, as
 * someone with write access to the file would, and checks that `jcm verify`
 * survives every forgery. For every entry and every value inside its args
 * and out (nested objects and arrays too), a copy of the store gets that
 * value removed, nulled, or replaced by one of another type, empty, out of
 * range or overlong; the chain is re-linked after it and verify runs in a
 * child process. Verify may report problems or find the forged history
 * consistent (the value changed nothing it compares), but it must run to
 * its end: no crash, no sanitizer report, no hang, no store error.
 * Each (command, place, forgery) is tried once, at its first entry.
 * Exit status: 0 all survived, 1 some did not (each printed), 2 usage.
 */
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

enum { CHILD_CLEAN = 10, CHILD_PROBLEMS = 11, CHILD_ERROR = 12, CHILD_NO_OPEN = 13 };
enum { F_DROP, F_NULL, F_TYPE, F_EMPTY, F_ZERO, F_NEGATIVE, F_HUGE, F_LONG, F_KINDS };
static const char *const forgery_name[F_KINDS] = {"removed", "null",     "of another type", "empty",
                                                  "zero",    "negative", "2^63-1",          "overlong"};

typedef struct {
  const char *store;
  char work[4096];
  json_t *event; /* the entry being forged, changed in place and restored */
  json_t *tried; /* "cmd path forgery" already tried */
  /* a JSON object held in a text value (a link message): forged inside,
   * written back into inner_owner.inner_key before each try */
  json_t *inner, *inner_owner;
  char inner_key[128];
  int64_t seq;
  const char *cmd;
  int verbose;
  long runs, reported, consistent, broken;
} forger;

/* The forged value for kind, or NULL when the kind does not apply to v
 * (F_DROP is not a value). */
static json_t *forged(json_t *v, int kind) {
  switch (kind) {
  case F_NULL: return json_is_null(v) ? NULL : json_null();
  case F_TYPE:
    if (json_is_string(v)) return json_integer(7);
    if (json_is_number(v)) return json_string("7");
    if (json_is_object(v)) return json_array();
    if (json_is_array(v)) return json_object();
    return json_string("x");
  case F_EMPTY:
    if (json_is_string(v) && json_string_length(v) > 0) return json_string("");
    if (json_is_array(v) && json_array_size(v) > 0) return json_array();
    if (json_is_object(v) && json_object_size(v) > 0) return json_object();
    return NULL;
  case F_ZERO: return json_is_integer(v) && json_integer_value(v) != 0 ? json_integer(0) : NULL;
  case F_NEGATIVE: return json_is_integer(v) ? json_integer(-1 - json_integer_value(v) % 1000) : NULL;
  case F_HUGE: return json_is_integer(v) ? json_integer(INT64_MAX) : NULL;
  case F_LONG: {
    if (!json_is_string(v)) return NULL;
    char *s = malloc(5001);
    memset(s, 'A', 5000);
    s[5000] = 0;
    json_t *r = json_string(s);
    free(s);
    return r;
  }
  default: return NULL;
  }
}

/* Runs verify on the forged copy in a child; returns its CHILD_ code, or
 * -1 with how it died. */
static int verify_in_child(const char *path, char *how, size_t n) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(120); /* a hang is reported as death by SIGALRM */
    jcm *j = NULL;
    char err[256];
    if (jcm_open(path, NULL, &j, err, sizeof err) != JCM_OK) _exit(CHILD_NO_OPEN);
    json_t *report = NULL;
    int rc = jcm_verify(j, &report);
    _exit(rc == JCM_OK ? CHILD_CLEAN : rc == JCM_REFUSED ? CHILD_PROBLEMS : CHILD_ERROR);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) >= CHILD_CLEAN && WEXITSTATUS(status) <= CHILD_NO_OPEN)
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    snprintf(how, n, "died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    snprintf(how, n, "exited %d (a sanitizer report?)", WEXITSTATUS(status));
  return -1;
}

/* Writes the event as it now is into a fresh copy, re-links, verifies. */
static void try_forgery(forger *f, const char *path, int kind) {
  char key[1024];
  snprintf(key, sizeof key, "%s %s %s", f->cmd, path, forgery_name[kind]);
  if (json_object_get(f->tried, key)) return;
  json_object_set_new(f->tried, key, json_true());
  char side[4200];
  snprintf(side, sizeof side, "%s-wal", f->work);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", f->work);
  remove(side);
  t_copy_file(f->store, f->work);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(f->work, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    fprintf(stderr, "forge_check: cannot open %s: %s\n", f->work, sqlite3_errmsg(db));
    exit(2);
  }
  sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
  if (f->inner) {
    char *text = json_dumps(f->inner, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_object_set_new(f->inner_owner, f->inner_key, json_string(text));
    free(text);
  }
  t_write_event(db, f->seq, f->event);
  sqlite3_close(db);
  char how[128] = "";
  int got = verify_in_child(f->work, how, sizeof how);
  f->runs++;
  if (got == CHILD_CLEAN) f->consistent++;
  if (got == CHILD_PROBLEMS) f->reported++;
  if (got == CHILD_ERROR) snprintf(how, sizeof how, "verify failed with a store error");
  if (got == CHILD_NO_OPEN) snprintf(how, sizeof how, "the store could not be opened");
  if (got < CHILD_CLEAN || got >= CHILD_ERROR) {
    f->broken++;
    printf("BROKE: entry %lld (%s), %s %s: %s\n", (long long)f->seq, f->cmd, path, forgery_name[kind], how);
  } else if (f->verbose) {
    printf("entry %lld (%s), %s %s: %s\n", (long long)f->seq, f->cmd, path, forgery_name[kind],
           got == CHILD_CLEAN ? "consistent" : "reported");
  }
}

static void visit(forger *f, json_t *v, const char *path);

/* A text member that holds a JSON object (a peer's signed message, which
 * link.receive journals as text) is forged inside too, one level deep. */
static void forge_inside_text(forger *f, json_t *o, const char *key, json_t *text, const char *place) {
  const char *s = json_string_value(text);
  if (f->inner || !s || s[0] != '{' || strlen(key) >= sizeof f->inner_key) return;
  json_t *inner = json_loads(s, 0, NULL);
  if (json_is_object(inner)) {
    char path[1100];
    snprintf(path, sizeof path, "%.1000s{}", place);
    f->inner = inner, f->inner_owner = o;
    snprintf(f->inner_key, sizeof f->inner_key, "%s", key);
    visit(f, inner, path);
    f->inner = NULL;
    json_object_set(o, key, text);
  }
  json_decref(inner);
}

/* Forges member key of object o in every way, then visits inside it. */
static void forge_member(forger *f, json_t *o, const char *key, const char *path) {
  char place[1024];
  snprintf(place, sizeof place, "%s.%s", path, key);
  json_t *old = json_incref(json_object_get(o, key));
  json_object_del(o, key);
  try_forgery(f, place, F_DROP);
  /* a null member reads as a missing one (jcm__s, jcm__i, validation) */
  for (int kind = F_TYPE; kind < F_KINDS; kind++) {
    json_t *fake = forged(old, kind);
    if (!fake) continue;
    json_object_set_new(o, key, fake);
    try_forgery(f, place, kind);
  }
  json_object_set(o, key, old);
  visit(f, old, place);
  forge_inside_text(f, o, key, old, place);
  json_decref(old);
}

/* Forges element i of array a in every way ("[]" in the place: the first
 * and the last element stand for all), then visits inside it. */
static void forge_element(forger *f, json_t *a, size_t i, const char *path) {
  char place[1024];
  snprintf(place, sizeof place, "%s[%s]", path, i == 0 ? "first" : "last");
  json_t *old = json_incref(json_array_get(a, i));
  json_array_remove(a, i);
  try_forgery(f, place, F_DROP);
  json_array_insert(a, i, old);
  for (int kind = F_NULL; kind < F_KINDS; kind++) {
    json_t *fake = forged(old, kind);
    if (!fake) continue;
    json_array_set_new(a, i, fake);
    try_forgery(f, place, kind);
  }
  json_array_set(a, i, old);
  visit(f, old, place);
  json_decref(old);
}

static void visit(forger *f, json_t *v, const char *path) {
  if (json_is_object(v)) {
    /* the keys first: forging re-inserts a member, which would move it */
    json_t *keys = json_array();
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m) json_array_append_new(keys, json_string(k));
    for (size_t i = 0; i < json_array_size(keys); i++)
      forge_member(f, v, json_string_value(json_array_get(keys, i)), path);
    json_decref(keys);
  } else if (json_is_array(v) && json_array_size(v) > 0) {
    forge_element(f, v, 0, path);
    if (json_array_size(v) > 1) forge_element(f, v, json_array_size(v) - 1, path);
  }
}

static int usage(void) {
  fprintf(stderr, "usage: forge_check [--verbose] STORE\n"
                  "Forges each value of each journal entry's args and out in a copy of STORE\n"
                  "(STORE.forge) and checks that jcm verify runs to its end every time.\n");
  return 2;
}

int main(int argc, char **argv) {
  forger f = {0};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--verbose") == 0)
      f.verbose = 1;
    else if (argv[i][0] == '-' || f.store)
      return usage();
    else
      f.store = argv[i];
  }
  if (!f.store) return usage();
  snprintf(f.work, sizeof f.work, "%s.forge", f.store);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(f.store, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    fprintf(stderr, "forge_check: cannot open %s: %s\n", f.store, sqlite3_errmsg(db));
    return 2;
  }
  /* everything into the main file, which is what gets copied */
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  int64_t last = t_query_int(db, "SELECT COALESCE(MAX(seq), 0) FROM journal");
  f.tried = json_object();
  for (f.seq = 1; f.seq <= last; f.seq++) {
    f.event = t_read_event(db, f.seq);
    f.cmd = json_string_value(json_object_get(f.event, "cmd"));
    if (!f.cmd) {
      fprintf(stderr, "forge_check: entry %lld of %s is not an event\n", (long long)f.seq, f.store);
      return 2;
    }
    visit(&f, json_object_get(f.event, "args"), "args");
    visit(&f, json_object_get(f.event, "out"), "out");
    json_decref(f.event);
  }
  sqlite3_close(db);
  json_decref(f.tried);
  remove(f.work);
  printf("forge_check %s: %ld forgeries of %lld entries: %ld reported by verify, %ld consistent, %ld broke verify\n",
         f.store, f.runs, (long long)last, f.reported, f.consistent, f.broken);
  return f.broken ? 1 : 0;
}
