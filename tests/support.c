#include "support.h"

#include "engine.h"

#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every test program that uses this file picks with the writer's lists of
 * free blocks checked against the store at each pick (lib/free_blocks.c):
 * a list left stale by any write or rollback stops the test there. */
extern int jcm__free_audit;
__attribute__((constructor)) static void audit_free_lists(void) { jcm__free_audit = 1; }

const jcm_actor T_ADMIN = {"test-admin", "admin"};
const jcm_actor T_JCS = {"test-secretariat", "jc_secretariat"};
const jcm_actor T_TPE = {"test-tpe", "tpe"};
const jcm_actor T_AUDITOR = {"test-auditor", "auditor"};
const jcm_actor T_ADMIN2 = {"test-admin-2", "admin"};

static void die(const char *what, const char *detail) {
  fprintf(stderr, "test support: %s: %s\n", what, detail);
  abort();
}

void t_db_path(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s.db", TEST_TMP_DIR, name);
  char side[600];
  remove(out);
  snprintf(side, sizeof side, "%s-wal", out);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", out);
  remove(side);
}

jcm *t_open(const char *path) {
  jcm *j = NULL;
  char err[256] = "";
  if (jcm_open(path, NULL, &j, err, sizeof err) != JCM_OK) die("open", err);
  return j;
}

/* A command held for a second administrator (a government account is its
 * source), approved by T_ADMIN2, or by T_ADMIN when T_ADMIN2 proposed it:
 * the approval's result is the command's own result. */
static int approve_held(jcm *j, const jcm_actor *a, json_t **r) {
  const char *status = json_string_value(json_object_get(json_object_get(*r, "result"), "status"));
  if (!status || strcmp(status, "awaiting approval") != 0) return JCM_OK;
  json_t *cmd = json_pack("{s:s,s:O}", "cmd", "tx.approve", "tx", json_object_get(json_object_get(*r, "result"), "tx"));
  json_decref(*r);
  *r = NULL;
  int rc = jcm_submit(j, cmd, strcmp(a->name, T_ADMIN2.name) == 0 ? &T_ADMIN : &T_ADMIN2, r);
  json_decref(cmd);
  return rc;
}

int t_submit_held(jcm *j, const jcm_actor *a, const char *text, int *code, json_t **out) {
  json_t *r = NULL;
  int rc = jcm_submit_text(j, text, strlen(text), a, &r);
  if (code) *code = rc == JCM_OK ? 0 : (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
  if (out)
    *out = r;
  else
    json_decref(r);
  return rc;
}

int t_submit(jcm *j, const jcm_actor *a, const char *text, int *code, json_t **out) {
  json_t *r = NULL;
  int rc = jcm_submit_text(j, text, strlen(text), a, &r);
  if (rc == JCM_OK) rc = approve_held(j, a, &r);
  if (code) *code = rc == JCM_OK ? 0 : (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
  if (out)
    *out = r;
  else
    json_decref(r);
  return rc;
}

int t_submitf(jcm *j, const jcm_actor *a, int *code, json_t **out, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return t_submit(j, a, buf, code, out);
}

static void must(jcm *j, const char *text, char *account_out) {
  json_t *r = NULL;
  int code = 0;
  if (t_submit(j, &T_ADMIN, text, &code, &r) != JCM_OK) {
    char *s = json_dumps(r, 0);
    die(text, s);
  }
  if (account_out)
    snprintf(account_out, 32, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "account")));
  json_decref(r);
}

jcm *t_registry(const char *path, t_accounts *acc) {
  jcm *j = t_open(path);
  must(j, "{\"cmd\":\"init\",\"registry\":\"THA01\",\"party\":\"THA\",\"name\":\"Thailand registry\"}", NULL);
  must(j, "{\"cmd\":\"org.add\",\"id\":\"org-a\",\"name\":\"Org A\",\"country\":\"THA\"}", NULL);
  must(j, "{\"cmd\":\"org.add\",\"id\":\"org-b\",\"name\":\"Org B\",\"country\":\"JPN\"}", NULL);
  must(j, "{\"cmd\":\"org.add\",\"id\":\"tgo\",\"name\":\"TGO\",\"country\":\"THA\"}", NULL);
  must(j, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"A\"}", acc->hold_a);
  must(j, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-b\",\"name\":\"B\"}", acc->hold_b);
  must(j, "{\"cmd\":\"account.open\",\"type\":\"government-holding\",\"holder\":\"tgo\",\"name\":\"G\"}", acc->gov);
  must(j, "{\"cmd\":\"account.open\",\"type\":\"cancellation\",\"holder\":\"tgo\",\"name\":\"C\"}", acc->cancel);
  must(j, "{\"cmd\":\"account.open\",\"type\":\"retirement\",\"holder\":\"tgo\",\"name\":\"R\"}", acc->retire);
  must(j,
       "{\"cmd\":\"project.import\",\"project\":\"TH014\",\"title\":\"Floating solar\",\"host\":\"THA\","
       "\"status\":\"registered\",\"source\":\"test\"}",
       NULL);
  return j;
}

jcm *t_issued_registry(const char *name, char *path, size_t n, t_accounts *a) {
  t_db_path(path, n, name);
  jcm *j = t_registry(path, a);
  const char *accts[] = {a->gov, a->hold_a, NULL};
  const int64_t qty[] = {1009, 1008};
  if (t_issue(j, 2021, 2017, 2017, accts, qty) != JCM_OK) die("t_issued_registry", "the issuance was refused");
  return j;
}

int t_issue(jcm *j, int year, int64_t verified, int64_t total, const char *const *accounts, const int64_t *quantities) {
  return t_issue_keyed(j, year, verified, total, accounts, quantities, NULL);
}

int t_issue_keyed(jcm *j, int year, int64_t verified, int64_t total, const char *const *accounts,
                  const int64_t *quantities, const char *key) {
  int code = 0;
  t_submitf(j, &T_ADMIN, &code, NULL,
            "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\","
            "\"last_day\":\"%d-12-31\",\"calculated\":%lld}",
            year, year, (long long)verified);
  t_submitf(j, &T_TPE, &code, NULL,
            "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\","
            "\"last_day\":\"%d-12-31\",\"verified\":%lld,\"report\":\"report %d\"}",
            year, year, (long long)verified, year);
  char alloc[4096] = "";
  for (int i = 0; accounts[i]; i++) {
    size_t n = strlen(alloc);
    snprintf(alloc + n, sizeof alloc - n, "%s{\"account\":\"%s\",\"quantity\":%lld}", i ? "," : "", accounts[i],
             (long long)quantities[i]);
  }
  return t_submitf(j, &T_ADMIN, &code, NULL,
                   "{\"cmd\":\"issue\",\"meeting\":7,\"date\":\"2025-10-30\",\"project\":\"TH014\","
                   "\"first_day\":\"%d-01-01\",\"last_day\":\"%d-12-31\",\"total\":%lld,\"allocation\":[%s]%s%s%s}",
                   year, year, (long long)total, alloc, key ? ",\"key\":\"" : "", key ? key : "", key ? "\"" : "");
}

static void append(char **buf, size_t *len, size_t *cap, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *buf = realloc(*buf, *cap);
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
}

char *t_dump(const char *path) {
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("dump open", path);
  sqlite3_stmt *t;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &t, NULL);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  append(&buf, &len, &cap, "");
  while (sqlite3_step(t) == SQLITE_ROW) {
    char sql[300];
    const char *name = (const char *)sqlite3_column_text(t, 0);
    sqlite3_stmt *s;
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1, 2", name);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
      snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", name);
      sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    }
    append(&buf, &len, &cap, name);
    append(&buf, &len, &cap, ":\n");
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(s); i++) {
        char cell[64];
        if (sqlite3_column_type(s, i) == SQLITE_BLOB) {
          snprintf(cell, sizeof cell, "<blob %d>", sqlite3_column_bytes(s, i));
          append(&buf, &len, &cap, cell);
          const unsigned char *b = sqlite3_column_blob(s, i);
          for (int k = 0; k < sqlite3_column_bytes(s, i); k++) {
            snprintf(cell, sizeof cell, "%02x", b[k]);
            append(&buf, &len, &cap, cell);
          }
        } else {
          const char *v = (const char *)sqlite3_column_text(s, i);
          append(&buf, &len, &cap, v ? v : "NULL");
        }
        append(&buf, &len, &cap, "|");
      }
      append(&buf, &len, &cap, "\n");
    }
    sqlite3_finalize(s);
  }
  sqlite3_finalize(t);
  sqlite3_close(db);
  return buf;
}

int64_t t_balance(jcm *j, const char *account) {
  json_t *params = json_pack("{s:s}", "account", account), *r = NULL;
  jcm_check chk;
  int64_t sum = 0;
  if (jcm_query(j, "balance", params, &r, &chk) == JCM_OK) {
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "rows"), i, row) sum += json_integer_value(json_object_get(row, "quantity"));
  }
  json_decref(r);
  json_decref(params);
  return sum;
}

int t_run_isolated(jcm **jp, const char *path, t_isolated_fn fn, const void *ud, t_outcome *o, char *how, size_t n) {
  int fds[2];
  jcm_close(*jp);
  *jp = NULL;
  if (pipe(fds) != 0) abort();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    /* the test framework's crash handlers must not run in the child */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
      signal(sigs[i], SIG_DFL);
    close(fds[0]);
    t_outcome mine = {.rc = -1};
    jcm *j = NULL;
    char err[256] = "";
    if (jcm_open(path, NULL, &j, err, sizeof err) != JCM_OK) _exit(3);
    fn(j, ud, &mine);
    jcm_close(j);
    ssize_t wrote = write(fds[1], &mine, sizeof mine);
    _exit(wrote == (ssize_t)sizeof mine ? 0 : 4);
  }
  close(fds[1]);
  ssize_t got = read(fds[0], o, sizeof *o);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *jp = t_open(path);
  if (WIFSIGNALED(status)) {
    snprintf(how, n, "the library crashed (signal %d)", WTERMSIG(status));
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof *o) {
    snprintf(how, n, "the library aborted (exit status %d: a sanitizer error?)", WEXITSTATUS(status));
    return -1;
  }
  return 0;
}

/* One well-formed instance of every command; "@A"/"@B" stand for accounts
 * the tests substitute. */
static const struct {
  const char *cmd, *tmpl;
} samples[] = {
    {"init", "{\"cmd\":\"init\",\"registry\":\"THA01\",\"party\":\"THA\",\"name\":\"Thailand registry\"}"},
    {"party.add", "{\"cmd\":\"party.add\",\"code\":\"USA\",\"name_en\":\"United States\"}"},
    {"registry.add",
     "{\"cmd\":\"registry.add\",\"id\":\"JPN01\",\"party\":\"JPN\",\"name\":\"J\",\"role\":\"national\"}"},
    {"coop.add", "{\"cmd\":\"coop.add\",\"id\":\"CA0001\",\"name\":\"c\",\"parties\":[\"JPN\",\"THA\"]}"},
    {"org.add", "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}"},
    {"account.open", "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"X\"}"},
    {"account.status", "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"blocked\",\"reason\":\"r\"}"},
    {"methodology.add", "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM009\",\"version\":\"ver01.0\",\"title\":\"m\"}"},
    {"pin.submit", "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN009\",\"title\":\"p\",\"host\":\"THA\"}"},
    {"project.pdd", "{\"cmd\":\"project.pdd\",\"pin\":\"TH_PIN001\",\"project\":\"TH031\",\"methodology\":\"TH_AM002\","
                    "\"version\":\"ver01.0\"}"},
    {"project.validate", "{\"cmd\":\"project.validate\",\"project\":\"TH014\",\"report\":\"v\"}"},
    {"project.import", "{\"cmd\":\"project.import\",\"project\":\"TH032\",\"title\":\"t\",\"host\":\"THA\","
                       "\"status\":\"registered\",\"source\":\"s\"}"},
    {"project.withdraw", "{\"cmd\":\"project.withdraw\",\"project\":\"TH014\",\"reason\":\"r\"}"},
    {"decide",
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}"},
    {"monitoring.submit", "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2025-01-01\","
                          "\"last_day\":\"2025-12-31\",\"calculated\":10}"},
    {"monitoring.verify", "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\","
                          "\"last_day\":\"2022-12-31\",\"verified\":10,\"report\":\"r\"}"},
    {"issue",
     "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
     "\"last_day\":\"2023-12-31\",\"total\":10,\"allocation\":[{\"account\":\"@A\",\"quantity\":10}]}"},
    {"transfer", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1}"},
    {"cancel", "{\"cmd\":\"cancel\",\"from\":\"@A\",\"kind\":\"voluntary\",\"reason\":\"r\",\"quantity\":1}"},
    {"retire", "{\"cmd\":\"retire\",\"from\":\"@A\",\"quantity\":1}"},
    {"authorize", "{\"cmd\":\"authorize\",\"id\":\"THA-A-1\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                  "\"quantity\":10,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":[\"JPN\"],"
                  "\"project\":\"TH014\"}"},
    {"use", "{\"cmd\":\"use\",\"from\":\"@A\",\"year\":2030,\"quantity\":1}"},
    {"key.generate", "{\"cmd\":\"key.generate\"}"},
    {"registry.key", "{\"cmd\":\"registry.key\",\"id\":\"JPN01\",\"public_key\":"
                     "\"00000000000000000000000000000000000000000000000000000000000000aa\"}"},
    {"xfer.propose", "{\"cmd\":\"xfer.propose\",\"from\":\"@A\",\"to\":\"JPN01-110-000001-46\",\"quantity\":1}"},
    {"xfer.terminate", "{\"cmd\":\"xfer.terminate\",\"tx\":\"THA01-X-000001\",\"reason\":\"r\"}"},
    {"tx.approve", "{\"cmd\":\"tx.approve\",\"tx\":\"THA01-T-000001\"}"},
    {"tx.reject", "{\"cmd\":\"tx.reject\",\"tx\":\"THA01-T-000001\",\"reason\":\"r\"}"},
    {"tx.cancel", "{\"cmd\":\"tx.cancel\",\"tx\":\"THA01-X-000001\",\"reason\":\"r\"}"},
    {"link.receive", "{\"cmd\":\"link.receive\",\"msg\":\"{}\",\"sig\":"
                     "\"0000000000000000000000000000000000000000000000000000000000000000"
                     "0000000000000000000000000000000000000000000000000000000000000000\"}"},
    {"ndc.set", "{\"cmd\":\"ndc.set\",\"party\":\"THA\",\"kind\":\"single-year\",\"first_year\":2021,"
                "\"last_year\":2030,\"method\":\"averaging\",\"fiscal_start_month\":1}"},
    {"emissions.report", "{\"cmd\":\"emissions.report\",\"party\":\"THA\",\"year\":2021,\"quantity\":1000}"},
    {"year.finalize", "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2021}"},
    {"user.add", "{\"cmd\":\"user.add\",\"name\":\"alice\",\"role\":\"admin\"}"},
    {"token.create", "{\"cmd\":\"token.create\",\"user\":\"alice\",\"id\":\"0123456789abcdef\"}"},
    {"user.password", "{\"cmd\":\"user.password\",\"name\":\"alice\"}"},
    {"user.disable", "{\"cmd\":\"user.disable\",\"name\":\"alice\"}"},
    {"user.enable", "{\"cmd\":\"user.enable\",\"name\":\"alice\"}"},
    {"user.role", "{\"cmd\":\"user.role\",\"name\":\"alice\",\"role\":\"auditor\"}"},
    {"token.revoke", "{\"cmd\":\"token.revoke\",\"id\":\"0123456789abcdef\"}"},
    {"security.event", "{\"cmd\":\"security.event\",\"kind\":\"login\",\"user\":\"alice\",\"detail\":\"d\"}"},
};

const char *t_sample(const char *cmd) {
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
    if (strcmp(samples[i].cmd, cmd) == 0) return samples[i].tmpl;
  return NULL;
}

char *t_expand(const char *tmpl, const char *(*token)(const void *ud, char t), const void *ud) {
  size_t cap = strlen(tmpl) + 1;
  for (const char *p = tmpl; *p; p++)
    if (*p == '@' && token(ud, p[1])) cap += strlen(token(ud, p[1]));
  char *out = malloc(cap), *o = out;
  if (!out) abort();
  for (const char *p = tmpl; *p; p++) {
    const char *v = *p == '@' ? token(ud, p[1]) : NULL;
    if (v) {
      size_t n = strlen(v);
      memcpy(o, v, n);
      o += n;
      p++;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return out;
}

void t_account_id(const char *registry, int type, int seq, char out[32]) {
  char body[24];
  snprintf(body, sizeof body, "%.5s-%03d-%06d", registry, type, seq);
  int r = 0;
  for (const char *p = body; *p; p++) {
    if (*p == '-') continue;
    int v = *p >= 'A' && *p <= 'Z' ? *p - 'A' + 10 : *p - '0';
    r = v >= 10 ? (r * 100 + v) % 97 : (r * 10 + v) % 97;
  }
  r = (r * 100) % 97;
  snprintf(out, 32, "%s-%02d", body, (98 - r) % 100);
}

/* ---- tampering with a closed store as a forger would ---- */

void t_copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) die("cannot copy", from);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) die("cannot write", to);
  fclose(in);
  if (fclose(out) != 0) die("cannot write", to);
}

int64_t t_query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
    die(sql, sqlite3_errmsg(db));
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

void t_query_text(const char *path, const char *sql, char *out, size_t n) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
    die(sql, sqlite3_errmsg(db));
  snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
  if (sqlite3_step(s) != SQLITE_DONE) die(sql, "more than one row");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

void t_read_blob(sqlite3 *db, const char *column, int64_t seq, unsigned char **out, size_t *n) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT %s FROM journal WHERE seq = ?", column);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) die(sql, sqlite3_errmsg(db));
  sqlite3_bind_int64(s, 1, seq);
  if (sqlite3_step(s) != SQLITE_ROW) die(sql, "no such journal entry");
  *n = (size_t)sqlite3_column_bytes(s, 0);
  *out = malloc(*n + 1);
  memcpy(*out, sqlite3_column_blob(s, 0), *n);
  (*out)[*n] = 0;
  sqlite3_finalize(s);
}

void t_write_blob(sqlite3 *db, const char *column, int64_t seq, const void *b, size_t n) {
  char sql[128];
  snprintf(sql, sizeof sql, "UPDATE journal SET %s = ? WHERE seq = ?", column);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) die(sql, sqlite3_errmsg(db));
  sqlite3_bind_blob(s, 1, b, (int)n, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, seq);
  if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(db) != 1) die(sql, sqlite3_errmsg(db));
  sqlite3_finalize(s);
}

void t_event_hash(const unsigned char prev[T_HASH_LEN], const void *bytes, size_t n, unsigned char out[T_HASH_LEN]) {
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  crypto_hash_sha256_update(&h, prev, T_HASH_LEN);
  crypto_hash_sha256_update(&h, bytes, n);
  crypto_hash_sha256_final(&h, out);
}

json_t *t_read_event(sqlite3 *db, int64_t seq) {
  unsigned char *b;
  size_t n;
  t_read_blob(db, "bytes", seq, &b, &n);
  json_t *ev = json_loadb((const char *)b, n, 0, NULL);
  free(b);
  if (!ev) die("journal entry is not JSON", "t_read_event");
  return ev;
}

void t_write_event(sqlite3 *db, int64_t seq, json_t *ev) {
  static const char q[] = "UPDATE journal SET bytes = ?, time = COALESCE(?, time), actor = COALESCE(?, actor),"
                          " role = COALESCE(?, role), cmd = COALESCE(?, cmd) WHERE seq = ?";
  char *bytes = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
  sqlite3_stmt *s = NULL;
  if (!bytes || sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) die(q, sqlite3_errmsg(db));
  sqlite3_bind_blob(s, 1, bytes, (int)strlen(bytes), SQLITE_TRANSIENT);
  static const char *const columns[] = {"time", "actor", "role", "cmd"};
  for (int i = 0; i < 4; i++)
    sqlite3_bind_text(s, i + 2, json_string_value(json_object_get(ev, columns[i])), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 6, seq);
  if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(db) != 1) die(q, sqlite3_errmsg(db));
  sqlite3_finalize(s);
  free(bytes);
  t_rehash_from(db, seq);
}

void t_rehash_from(sqlite3 *db, int64_t from) {
  unsigned char prev[T_HASH_LEN] = {0}, h[T_HASH_LEN];
  if (from > 1) {
    unsigned char *b;
    size_t n;
    t_read_blob(db, "hash", from - 1, &b, &n);
    memcpy(prev, b, T_HASH_LEN);
    free(b);
  }
  int64_t last = t_query_int(db, "SELECT MAX(seq) FROM journal");
  for (int64_t seq = from; seq <= last; seq++) {
    unsigned char *b;
    size_t n;
    t_read_blob(db, "bytes", seq, &b, &n);
    t_event_hash(prev, b, n, h);
    free(b);
    t_write_blob(db, "prev_hash", seq, prev, T_HASH_LEN);
    t_write_blob(db, "hash", seq, h, T_HASH_LEN);
    memcpy(prev, h, T_HASH_LEN);
  }
}

int t_forge_check(const char *name) {
  char from[600], to[600], forged[128], cmd[1400];
  snprintf(forged, sizeof forged, "%s-forge", name);
  t_db_path(to, sizeof to, forged); /* removes what a last run left */
  snprintf(from, sizeof from, "%s/%s.db", TEST_TMP_DIR, name);
  t_copy_file(from, to);
  strcat(from, "-wal");
  strcat(to, "-wal");
  FILE *wal = fopen(from, "rb");
  if (wal) fclose(wal), t_copy_file(from, to);
  to[strlen(to) - 4] = 0;
  snprintf(cmd, sizeof cmd, "'%s' '%s'", FORGE_CHECK, to);
  fflush(stdout);
  int status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- store faults ---- */

/* The store's own ops, with every bind from the fail_from-th on failing,
 * or (t_fault_steps) only the fail_from-th step, as a transient I/O error
 * would: the rollback after it must still work. */
static const jcm_store_ops *real_ops;
static jcm_store_ops failing_ops;
static int bind_calls, fail_from;
int t_fault_steps, t_fault_also, t_fault_step_calls;

static int bind_fails(void) { return !t_fault_steps && ++bind_calls >= fail_from; }
static int failing_step(jcm_stmt *s) {
  ++t_fault_step_calls;
  return t_fault_steps && (t_fault_step_calls == fail_from || t_fault_step_calls == t_fault_also) ? JCM_STEP_ERROR
                                                                                                  : real_ops->step(s);
}
static int failing_int(jcm_stmt *s, int i, int64_t v) { return bind_fails() ? -1 : real_ops->bind_int(s, i, v); }
static int failing_text(jcm_stmt *s, int i, const char *v, int n) {
  return bind_fails() ? -1 : real_ops->bind_text(s, i, v, n);
}
static int failing_blob(jcm_stmt *s, int i, const void *v, int n) {
  return bind_fails() ? -1 : real_ops->bind_blob(s, i, v, n);
}
static int failing_null(jcm_stmt *s, int i) { return bind_fails() ? -1 : real_ops->bind_null(s, i); }

void t_fault_from(jcm *j, int k) { t_fault_store_from(jcm__store(j), k); }

void t_fault_store_from(jcm_store *st, int k) {
  if (!real_ops) real_ops = st->ops;
  failing_ops = *real_ops;
  failing_ops.bind_int = failing_int, failing_ops.bind_text = failing_text;
  failing_ops.bind_blob = failing_blob, failing_ops.bind_null = failing_null;
  failing_ops.step = failing_step;
  bind_calls = t_fault_step_calls = t_fault_also = 0, fail_from = k;
  st->ops = &failing_ops;
}

int t_fault_hit(int k) { return (t_fault_steps ? t_fault_step_calls : bind_calls) >= k; }

void t_fault_end(jcm *j) { jcm__store(j)->ops = real_ops; }
