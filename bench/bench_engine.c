/*
 * bench_engine: throughput of the registry engine through the public API,
 * against a hand-written baseline doing the same row writes with SQLite.
 * A benchmark program, not a test: it prints its figures.
 *
 *   bench_engine [PATH] [--transfers N] [--accounts N] [--issuances N]
 *                [--single N] [--seed N] [--verify-timeout S] [--quick]
 *                [--profile] [--tune SQL] [--default-malloc]
 *
 * PATH (default bench-engine.db in the current directory) is the engine's
 * store; STEM-baseline.db and STEM-issuance.db sit next to it. Old files are
 * removed first. Phases:
 *   1. issuance size independence: one issuance of 10 units vs one of 10^12
 *      (time committed alone and inside a batch, memory, blocks created), on
 *      a fresh store;
 *   2. a registry THA01 with organisations, holding accounts and issuances
 *      (project.import registered, monitoring.submit + monitoring.verify by a
 *      TPE + issue, each allocated across 10 accounts) so every account holds
 *      units;
 *   3. random internal transfers by quantity (fixed seed), submitted by the
 *      source account's holder: the first --single committed one per
 *      transaction waiting for each fsync (the disk's latency), the next
 *      --single one per transaction committed early as `jcm apply` commits
 *      (the next applied while the last one's fsync runs on the syncer's
 *      thread), then jcm_verify at that checkpoint, then the rest in
 *      batches of 1,000 per transaction, committed early too. The baseline replays
 *      the same transfer sequence right after the engine in each mode, on a
 *      second file with the same pragmas and table definitions. (Since
 *      migration 16 the store has no index by size: the engine picks from
 *      lists it keeps in memory, the baseline's pick reads and sorts the
 *      account's blocks, so the batched ratio overstates the engine;
 *      bench_layout times the row writes alone.);
 *   4. jcm_verify of the final store (its report must be ok). Verify runs in
 *      a forked child with a time limit, since its cost grows faster than
 *      the journal;
 *   5. peak memory (ru_maxrss) of the transfers and of verify.
 * It prints a report, then one `name: value unit` line per figure. Targets
 * are printed next to the figures, not asserted. --profile times every SQL
 * statement of every connection (an auto-extension with a trace hook, so the
 * library is untouched) and prints where each phase's time goes.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jcm/jcm.h"

#define BATCH 1000
#define MAX_ORGS 100
#define PERIODS_PER_PROJECT 100
#define UNITS_PER_ALLOCATION 1000000
#define MAX_QTY 100

#define TARGET_BATCHED 30000.0
#define TARGET_SINGLE 3000.0
#define TARGET_RATIO 50.0
#define TARGET_VERIFY 100000.0

static const jcm_actor ADMIN = {"bench-admin", "admin"};
static const jcm_actor JCS = {"bench-secretariat", "jc_secretariat"};
static const jcm_actor TPE = {"bench-tpe", "tpe"};

typedef struct {
  const char *path;
  int64_t transfers, accounts, issuances, single;
  uint64_t seed;
  double verify_timeout; /* seconds, 0: none */
  const char *tune;      /* SQL run on every connection, for experiments */
  int quick, profile, default_malloc;
} opts;

/* ---- small helpers ---- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_engine: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

/* Peak resident set size in MB (ru_maxrss is in KB on Linux). */
static double peak_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

/* Current resident set size in MB. */
static double rss_mb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static void remove_db(const char *path) {
  char side[1100];
  remove(path);
  snprintf(side, sizeof side, "%s-wal", path);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", path);
  remove(side);
  snprintf(side, sizeof side, "%s-journal", path);
  remove(side);
}

static double file_mb(const char *path) {
  struct stat sb;
  char side[1100];
  double total = 0;
  if (stat(path, &sb) == 0) total += (double)sb.st_size;
  snprintf(side, sizeof side, "%s-wal", path);
  if (stat(side, &sb) == 0) total += (double)sb.st_size;
  return total / (1024.0 * 1024.0);
}

static double rate(int64_t n, double secs) { return secs > 0 ? (double)n / secs : 0; }

static const char *meets(double value, double target) { return value >= target ? "met" : "NOT met"; }

/* splitmix64: the same seed gives the engine and the baseline the same
 * transfer sequence. */
typedef struct {
  uint64_t s;
} rng;
static uint64_t rnd(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct {
  size_t from, to;
  int64_t qty;
} xfer;

static xfer next_xfer(rng *r, size_t accounts) {
  xfer x;
  x.from = (size_t)(rnd(r) % accounts);
  x.to = (size_t)(rnd(r) % (accounts - 1));
  if (x.to >= x.from) x.to++;
  x.qty = 1 + (int64_t)(rnd(r) % MAX_QTY);
  return x;
}

/* ---- the registry's population, shared by the engine and the baseline ---- */

typedef struct {
  size_t n;
  char (*id)[32];     /* account ids, as the engine assigned them */
  char (*holder)[32]; /* the organisation holding each */
  size_t norgs;
} population;

/* Issuance i: project TH001 + i/100, monthly period i%100 from 2010-01. */
static void period_of(int64_t i, int *project, char first[16], char last[16], int *year) {
  int k = (int)(i % PERIODS_PER_PROJECT);
  *project = 1 + (int)(i / PERIODS_PER_PROJECT);
  *year = 2010 + k / 12;
  snprintf(first, 16, "%04d-%02d-01", *year, k % 12 + 1);
  snprintf(last, 16, "%04d-%02d-28", *year, k % 12 + 1);
}

/* How many accounts each issuance is allocated to (at most 100 per issue). */
static size_t alloc_per_issuance(const opts *o) {
  int64_t per = (o->accounts + o->issuances - 1) / o->issuances;
  if (per < 1) per = 1;
  if (per > 100) per = 100;
  return (size_t)per;
}

/* ---- engine ---- */

/* Submits cmd (consumed), dies unless it is accepted; returns the result
 * when keep, else NULL. */
static json_t *must(jcm *j, const jcm_actor *a, json_t *cmd, int keep) {
  json_t *res = NULL;
  if (!cmd) die("cannot build a command");
  int rc = jcm_submit(j, cmd, a, &res);
  if (rc != JCM_OK) {
    char *c = json_dumps(cmd, JSON_COMPACT), *r = json_dumps(res, JSON_COMPACT);
    die("setup command refused or failed:\n  %s\n  -> %s", c ? c : "?", r ? r : "?");
  }
  json_decref(cmd);
  if (keep) return res;
  json_decref(res);
  return NULL;
}

static void batch_begin(jcm *j) {
  if (jcm_batch_begin(j) != JCM_OK) die("jcm_batch_begin failed");
}
static void batch_commit(jcm *j) {
  if (jcm_batch_commit(j) != JCM_OK) die("jcm_batch_commit failed");
}

static jcm *open_fresh(const char *path) {
  jcm *j = NULL;
  char err[512] = "";
  remove_db(path);
  if (jcm_open(path, NULL, &j, err, sizeof err) != JCM_OK) die("cannot open %s: %s", path, err);
  return j;
}

static void init_registry(jcm *j) {
  must(j, &ADMIN,
       json_pack("{s:s,s:s,s:s,s:s}", "cmd", "init", "registry", "THA01", "party", "THA", "name",
                 "Thailand JCM registry (benchmark)"),
       0);
}

static void import_project(jcm *j, int p) {
  char id[16], title[64];
  snprintf(id, sizeof id, "TH%03d", p);
  snprintf(title, sizeof title, "Benchmark project %d", p);
  must(j, &ADMIN,
       json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "cmd", "project.import", "project", id, "title", title, "host", "THA",
                 "status", "registered", "source", "bench_engine"),
       0);
}

/* monitoring.submit + monitoring.verify of a period with `units` verified. */
static void verified_period(jcm *j, const char *project, const char *first, const char *last, int64_t units) {
  char report[64];
  snprintf(report, sizeof report, "verification %s %s", project, first);
  must(j, &JCS,
       json_pack("{s:s,s:s,s:s,s:s,s:I}", "cmd", "monitoring.submit", "project", project, "first_day", first,
                 "last_day", last, "calculated", (json_int_t)units),
       0);
  must(j, &TPE,
       json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "cmd", "monitoring.verify", "project", project, "first_day", first,
                 "last_day", last, "verified", (json_int_t)units, "report", report),
       0);
}

static json_t *issue_cmd(const char *project, const char *first, const char *last, int64_t total, json_t *alloc) {
  return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:o}", "cmd", "issue", "meeting", 50, "date", "2025-10-30", "project",
                   project, "first_day", first, "last_day", last, "total", (json_int_t)total, "allocation", alloc);
}

/* Builds the registry: orgs, accounts, projects, issuances. */
static void engine_setup(jcm *j, const opts *o, population *pop) {
  init_registry(j);
  pop->n = (size_t)o->accounts;
  pop->norgs = pop->n < MAX_ORGS ? pop->n : MAX_ORGS;
  pop->id = calloc(pop->n, sizeof *pop->id);
  pop->holder = calloc(pop->n, sizeof *pop->holder);
  if (!pop->id || !pop->holder) die("out of memory");

  batch_begin(j);
  for (size_t k = 0; k < pop->norgs; k++) {
    char id[32], name[64];
    snprintf(id, sizeof id, "org-%03zu", k);
    snprintf(name, sizeof name, "Organisation %zu", k);
    must(j, &ADMIN, json_pack("{s:s,s:s,s:s,s:s}", "cmd", "org.add", "id", id, "name", name, "country", "THA"), 0);
  }
  batch_commit(j);

  for (size_t i = 0; i < pop->n; i += BATCH) {
    batch_begin(j);
    for (size_t k = i; k < pop->n && k < i + BATCH; k++) {
      char name[32];
      snprintf(pop->holder[k], sizeof pop->holder[k], "org-%03zu", k % pop->norgs);
      snprintf(name, sizeof name, "Account %zu", k);
      json_t *r = must(j, &ADMIN,
                       json_pack("{s:s,s:s,s:s,s:s}", "cmd", "account.open", "type", "holding", "holder",
                                 pop->holder[k], "name", name),
                       1);
      const char *id = json_string_value(json_object_get(json_object_get(r, "result"), "account"));
      if (!id) die("account.open returned no account id");
      snprintf(pop->id[k], sizeof pop->id[k], "%s", id);
      json_decref(r);
    }
    batch_commit(j);
  }

  int nproj = (int)((o->issuances + PERIODS_PER_PROJECT - 1) / PERIODS_PER_PROJECT);
  batch_begin(j);
  for (int p = 1; p <= nproj; p++)
    import_project(j, p);
  batch_commit(j);

  size_t per = alloc_per_issuance(o);
  for (int64_t i = 0; i < o->issuances; i += 100) {
    batch_begin(j);
    for (int64_t k = i; k < o->issuances && k < i + 100; k++) {
      int p, year;
      char project[16], first[16], last[16];
      period_of(k, &p, first, last, &year);
      snprintf(project, sizeof project, "TH%03d", p);
      int64_t total = (int64_t)per * UNITS_PER_ALLOCATION;
      verified_period(j, project, first, last, total);
      json_t *alloc = json_array();
      for (size_t m = 0; m < per; m++) {
        size_t a = ((size_t)k * per + m) % pop->n;
        json_array_append_new(
            alloc, json_pack("{s:s,s:I}", "account", pop->id[a], "quantity", (json_int_t)UNITS_PER_ALLOCATION));
      }
      must(j, &JCS, issue_cmd(project, first, last, total, alloc), 0);
    }
    batch_commit(j);
  }
}

typedef struct {
  int64_t done, refused, ranges; /* ranges: serial ranges moved */
  double wall, cpu;
  char first_refusal[300];
} phase;

static void engine_transfer(jcm *j, const population *pop, xfer x, phase *ph) {
  json_t *cmd = json_pack("{s:s,s:s,s:s,s:I}", "cmd", "transfer", "from", pop->id[x.from], "to", pop->id[x.to],
                          "quantity", (json_int_t)x.qty);
  jcm_actor a = {pop->holder[x.from], "holder"};
  json_t *res = NULL;
  int rc = jcm_submit(j, cmd, &a, &res);
  if (rc == JCM_ERROR) {
    char *r = json_dumps(res, JSON_COMPACT);
    die("transfer failed: %s", r ? r : "?");
  }
  if (rc == JCM_OK) ph->ranges += (int64_t)json_array_size(json_object_get(json_object_get(res, "result"), "ranges"));
  if (rc == JCM_REFUSED) {
    if (!ph->refused) {
      char *r = json_dumps(json_object_get(res, "error"), JSON_COMPACT);
      snprintf(ph->first_refusal, sizeof ph->first_refusal, "%s", r ? r : "?");
      free(r);
    }
    ph->refused++;
  }
  ph->done++;
  json_decref(res);
  json_decref(cmd);
}

/* ---- baseline: the same row writes, directly with SQLite ---- */

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *begin, *commit, *pick, *copy, *cut, *move, *tx, *movement, *journal;
  unsigned char head[crypto_hash_sha256_BYTES];
  int64_t seq, txn;
  int64_t journal_bytes, journal_rows;
  char *buf;
  size_t bufcap;
} baseline;

static void bx(baseline *b, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(b->db, sql, NULL, NULL, &err) != SQLITE_OK) die("baseline: %s: %s", sql, err ? err : "?");
}

static sqlite3_stmt *bprep(baseline *b, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
    die("baseline: prepare %s: %s", sql, sqlite3_errmsg(b->db));
  return s;
}

static void bdone(baseline *b, sqlite3_stmt *s) {
  if (sqlite3_step(s) != SQLITE_DONE) die("baseline: %s: %s", sqlite3_sql(s), sqlite3_errmsg(b->db));
  sqlite3_reset(s);
}

/* The engine's tables that a transfer writes or checks, and their indexes:
 * their definitions are copied from the engine's store, so the baseline
 * follows the library's schema as it changes. */
static const char baseline_tables[] = "'party', 'org', 'account', 'journal', 'block', 'tx', 'movement'";

static void copy_schema(baseline *b, const char *engine_path) {
  sqlite3 *src = NULL;
  sqlite3_stmt *s = NULL;
  char sql[300];
  snprintf(sql, sizeof sql,
           "SELECT sql FROM sqlite_master WHERE tbl_name IN (%s) AND sql IS NOT NULL"
           " ORDER BY type = 'index', rowid",
           baseline_tables);
  if (sqlite3_open_v2(engine_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(src, sql, -1, &s, NULL) != SQLITE_OK)
    die("baseline: cannot read the engine's schema from %s", engine_path);
  int n = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    bx(b, (const char *)sqlite3_column_text(s, 0));
    n++;
  }
  sqlite3_finalize(s);
  sqlite3_close(src);
  if (n < 7) die("baseline: the engine's store lacks some of the tables %s", baseline_tables);
}

/* The engine connection's settings, as PRAGMA statements for the baseline. */
static void engine_pragmas(sqlite3 *db, char *out, size_t n) {
  static const char *const names[] = {"journal_mode", "synchronous", "foreign_keys", "temp_store", "cache_size"};
  size_t used = 0;
  out[0] = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char q[64];
    sqlite3_stmt *s = NULL;
    snprintf(q, sizeof q, "PRAGMA %s", names[i]);
    if (!db || sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
      die("cannot read PRAGMA %s of the engine's connection", names[i]);
    used += (size_t)snprintf(out + used, n - used, "%sPRAGMA %s=%s;", i ? " " : "", names[i],
                             (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (used >= n) die("pragma text too long");
  }
}

/* A fresh file with the engine's pragmas and tables, the same accounts and
 * the same blocks as the engine's store holds after its issuances (same
 * serials). */
static void baseline_open(baseline *b, const char *path, const char *engine_path, const char *pragmas, const opts *o,
                          const population *pop) {
  memset(b, 0, sizeof *b);
  remove_db(path);
  if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK)
    die("baseline: cannot open %s", path);
  bx(b, pragmas);
  bx(b, "BEGIN IMMEDIATE");
  copy_schema(b, engine_path);
  bx(b, "INSERT INTO party(code, name_en) VALUES ('THA', 'Thailand')");
  sqlite3_stmt *org = bprep(b, "INSERT INTO org(id, name, country) VALUES (?, ?, 'THA')");
  for (size_t k = 0; k < pop->norgs; k++) {
    sqlite3_bind_text(org, 1, pop->holder[k], -1, SQLITE_STATIC);
    sqlite3_bind_text(org, 2, "Organisation", -1, SQLITE_STATIC);
    bdone(b, org);
  }
  sqlite3_finalize(org);
  sqlite3_stmt *acc = bprep(b, "INSERT INTO account(id, type, holder, name, status, opened_seq)"
                               " VALUES (?, 'holding', ?, 'Account', 'open', ?)");
  for (size_t k = 0; k < pop->n; k++) {
    sqlite3_bind_text(acc, 1, pop->id[k], -1, SQLITE_STATIC);
    sqlite3_bind_text(acc, 2, pop->holder[k], -1, SQLITE_STATIC);
    sqlite3_bind_int64(acc, 3, (sqlite3_int64)k + 1);
    bdone(b, acc);
  }
  sqlite3_finalize(acc);
  sqlite3_stmt *blk = bprep(b, "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type, account)"
                               " VALUES ('THA01', ?, ?, ?, ?, ?, 'JCM credit', ?)");
  size_t per = alloc_per_issuance(o);
  int64_t next = 1;
  for (int64_t i = 0; i < o->issuances; i++) {
    int p, year;
    char first[16], last[16], project[16], iss[32];
    period_of(i, &p, first, last, &year);
    snprintf(project, sizeof project, "TH%03d", p);
    snprintf(iss, sizeof iss, "THA01-I-%06lld", (long long)i + 1);
    for (size_t m = 0; m < per; m++) {
      sqlite3_bind_int64(blk, 1, next);
      sqlite3_bind_int64(blk, 2, next + UNITS_PER_ALLOCATION - 1);
      sqlite3_bind_text(blk, 3, iss, -1, SQLITE_STATIC);
      sqlite3_bind_text(blk, 4, project, -1, SQLITE_STATIC);
      sqlite3_bind_int64(blk, 5, year);
      sqlite3_bind_text(blk, 6, pop->id[((size_t)i * per + m) % pop->n], -1, SQLITE_STATIC);
      bdone(b, blk);
      next += UNITS_PER_ALLOCATION;
    }
  }
  sqlite3_finalize(blk);
  bx(b, "COMMIT");

  b->begin = bprep(b, "BEGIN IMMEDIATE");
  b->commit = bprep(b, "COMMIT");
  b->pick = bprep(b, "SELECT origin, first, last FROM block WHERE account = ? AND reserved_tx IS NULL"
                     " ORDER BY last - first DESC, origin DESC, first DESC");
  /* the upper part of a split block goes straight to the destination */
  b->copy =
      bprep(b, "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type, account, reserved_tx)"
               " SELECT origin, ?, last, issuance, project, vintage, unit_type, ?, reserved_tx"
               " FROM block WHERE origin = ? AND first = ?");
  b->cut = bprep(b, "UPDATE block SET last = ? WHERE origin = ? AND first = ?");
  b->move = bprep(b, "UPDATE block SET account = ? WHERE origin = 'THA01' AND first = ?");
  b->tx = bprep(b, "INSERT INTO tx(id, seq, type, status, from_account, to_account, quantity, kind, reason, idem_key)"
                   " VALUES (?, ?, 'transfer', 'completed', ?, ?, ?, NULL, NULL, NULL)");
  b->movement = bprep(b, "INSERT INTO movement(account, seq, dir, tx, quantity, ranges) VALUES (?, ?, ?, ?, ?, ?)");
  b->journal = bprep(b, "INSERT INTO journal(seq, time, actor, role, cmd, bytes, prev_hash, hash)"
                        " VALUES (?, ?, ?, 'holder', 'transfer', ?, ?, ?)");
  b->bufcap = 64 * 1024;
  b->buf = malloc(b->bufcap);
  if (!b->buf) die("out of memory");
}

static void baseline_close(baseline *b) {
  sqlite3_stmt *all[] = {b->begin, b->commit, b->pick, b->copy, b->cut, b->move, b->tx, b->movement, b->journal};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    sqlite3_finalize(all[i]);
  sqlite3_close(b->db);
  free(b->buf);
}

typedef struct {
  int64_t first, last;
} brange;

static int brange_cmp(const void *x, const void *y) {
  const brange *a = x, *b = y;
  return a->first < b->first ? -1 : a->first > b->first;
}

/* One movement row per side: the account, the entry, the quantity and the
 * serial ranges as JSON text (the engine's movement table). */
static void baseline_movement(baseline *b, const char *account, int dir, const char *tx, int64_t qty,
                              const char *ranges, int len) {
  sqlite3_bind_text(b->movement, 1, account, -1, SQLITE_STATIC);
  sqlite3_bind_int64(b->movement, 2, b->seq);
  sqlite3_bind_int64(b->movement, 3, dir);
  sqlite3_bind_text(b->movement, 4, tx, -1, SQLITE_STATIC);
  sqlite3_bind_int64(b->movement, 5, qty);
  sqlite3_bind_text(b->movement, 6, ranges, len, SQLITE_STATIC);
  bdone(b, b->movement);
}

/* One transfer, as a hand-written registry would do it: pick the source's
 * largest blocks, split the last one if only part of it moves (its upper
 * part written to the destination), re-assign the blocks taken whole one by
 * one, a tx row, a movement row per side
 * (its ranges as JSON text) and a journal row whose bytes look like the
 * engine's event, SHA-256 chained.
 * Returns the number of serial ranges moved, or -1 when the source holds
 * too few units. */
static int baseline_transfer(baseline *b, const population *pop, xfer x) {
  const char *from = pop->id[x.from], *to = pop->id[x.to];
  brange r[MAX_QTY + 1];
  size_t n = 0;
  int64_t need = x.qty, split = 0, split_block = 0;
  sqlite3_bind_text(b->pick, 1, from, -1, SQLITE_STATIC);
  while (need > 0 && sqlite3_step(b->pick) == SQLITE_ROW) {
    int64_t f = sqlite3_column_int64(b->pick, 1), l = sqlite3_column_int64(b->pick, 2);
    if (l - f + 1 > need) {
      split_block = f;
      f = l - need + 1;
      split = f;
    }
    r[n].first = f;
    r[n].last = l;
    n++;
    need -= l - f + 1;
  }
  sqlite3_reset(b->pick);
  if (need > 0) return -1;
  for (size_t i = 0; i + (split != 0) < n; i++) { /* the blocks taken whole */
    sqlite3_bind_text(b->move, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(b->move, 2, r[i].first);
    bdone(b, b->move);
  }
  if (split) {
    sqlite3_bind_int64(b->copy, 1, split);
    sqlite3_bind_text(b->copy, 2, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->copy, 3, "THA01", -1, SQLITE_STATIC);
    sqlite3_bind_int64(b->copy, 4, split_block);
    bdone(b, b->copy);
    sqlite3_bind_int64(b->cut, 1, split - 1);
    sqlite3_bind_text(b->cut, 2, "THA01", -1, SQLITE_STATIC);
    sqlite3_bind_int64(b->cut, 3, split_block);
    bdone(b, b->cut);
  }
  qsort(r, n, sizeof r[0], brange_cmp);
  size_t m = 0; /* join adjacent ranges, as the engine does */
  for (size_t i = 0; i < n; i++) {
    if (m && r[m - 1].last + 1 == r[i].first)
      r[m - 1].last = r[i].last;
    else
      r[m++] = r[i];
  }
  b->seq++;
  b->txn++;
  char tx[40];
  snprintf(tx, sizeof tx, "THA01-T-%06lld", (long long)b->txn);
  sqlite3_bind_text(b->tx, 1, tx, -1, SQLITE_STATIC);
  sqlite3_bind_int64(b->tx, 2, b->seq);
  sqlite3_bind_text(b->tx, 3, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(b->tx, 4, to, -1, SQLITE_STATIC);
  sqlite3_bind_int64(b->tx, 5, x.qty);
  bdone(b, b->tx);
  /* the ranges as JSON text, written to both movement rows and the event */
  char ranges[MAX_QTY * 72 + 8];
  int rl = 0;
  ranges[rl++] = '[';
  for (size_t i = 0; i < m; i++)
    rl += snprintf(ranges + rl, sizeof ranges - (size_t)rl, "%s{\"first\":%lld,\"last\":%lld,\"origin\":\"THA01\"}",
                   i ? "," : "", (long long)r[i].first, (long long)r[i].last);
  rl += snprintf(ranges + rl, sizeof ranges - (size_t)rl, "]");
  baseline_movement(b, from, -1, tx, x.qty, ranges, rl);
  baseline_movement(b, to, +1, tx, x.qty, ranges, rl);

  /* the event, shaped like the engine's canonical JSON */
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char when[96];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
  char *p = b->buf, *end = b->buf + b->bufcap;
  p += snprintf(p, (size_t)(end - p),
                "{\"actor\":\"%s\",\"args\":{\"from\":\"%s\",\"quantity\":%lld,\"to\":\"%s\"},\"cmd\":\"transfer\","
                "\"out\":{\"quantity\":%lld,\"ranges\":%s,\"to\":\"%s\","
                "\"tx\":\"%s\",\"tx_number\":%lld},"
                "\"role\":\"holder\",\"seq\":%lld,\"time\":\"%s\"}",
                pop->holder[x.from], from, (long long)x.qty, to, (long long)x.qty, ranges, to, tx, (long long)b->txn,
                (long long)b->seq, when);
  size_t len = (size_t)(p - b->buf);
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  crypto_hash_sha256_update(&h, b->head, sizeof b->head);
  crypto_hash_sha256_update(&h, (const unsigned char *)b->buf, len);
  crypto_hash_sha256_final(&h, hash);
  sqlite3_bind_int64(b->journal, 1, b->seq);
  sqlite3_bind_text(b->journal, 2, when, -1, SQLITE_STATIC);
  sqlite3_bind_text(b->journal, 3, pop->holder[x.from], -1, SQLITE_STATIC);
  sqlite3_bind_blob(b->journal, 4, b->buf, (int)len, SQLITE_STATIC);
  sqlite3_bind_blob(b->journal, 5, b->head, (int)sizeof b->head, SQLITE_STATIC);
  sqlite3_bind_blob(b->journal, 6, hash, (int)sizeof hash, SQLITE_STATIC);
  bdone(b, b->journal);
  memcpy(b->head, hash, sizeof hash);
  b->journal_bytes += (int64_t)len;
  b->journal_rows++;
  return (int)m;
}

/* ---- statement profile (--profile) ----
 * An auto-extension installs a SQLITE_TRACE_PROFILE hook on every
 * connection the process opens (the engine's, the baseline's, verify's
 * in-memory replay store), so the time of each SQL statement is summed by
 * connection kind and statement text without touching the library. */

#define PROF_SLOTS 1024

typedef struct {
  char *sql; /* NULL: free slot */
  int kind;  /* 0 engine, 1 baseline, 2 in-memory (verify's replay), 3 other */
  int64_t calls, ns;
} prof_entry;

static prof_entry prof[PROF_SLOTS];
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER; /* verify's threads each run statements */
static int prof_on;
static const char *const prof_kinds[] = {"engine", "baseline", "memory", "other"};

static int prof_kind(sqlite3 *db) {
  const char *f = sqlite3_db_filename(db, "main");
  if (!f || !f[0]) return 2;
  size_t n = strlen(f);
  if (n >= 12 && strcmp(f + n - 12, "-baseline.db") == 0) return 1;
  if (n >= 12 && strcmp(f + n - 12, "-issuance.db") == 0) return 3;
  return 0;
}

static int prof_hook(unsigned type, void *ctx, void *p, void *x) {
  (void)ctx;
  if (type != SQLITE_TRACE_PROFILE || !prof_on) return 0;
  sqlite3_stmt *st = p;
  const char *sql = sqlite3_sql(st);
  if (!sql) return 0;
  int kind = prof_kind(sqlite3_db_handle(st));
  uint64_t h = UINT64_C(1469598103934665603) + (uint64_t)(unsigned)kind;
  for (const char *c = sql; *c; c++) {
    h ^= (uint64_t)(unsigned char)*c;
    h *= UINT64_C(1099511628211);
  }
  pthread_mutex_lock(&prof_lock);
  for (size_t n = 0, i = (size_t)(h % PROF_SLOTS); n < PROF_SLOTS; n++, i = (i + 1) % PROF_SLOTS) {
    prof_entry *e = &prof[i];
    if (!e->sql) {
      size_t len = strlen(sql);
      e->sql = malloc(len + 1);
      if (!e->sql) break;
      memcpy(e->sql, sql, len + 1);
      e->kind = kind;
    } else if (e->kind != kind || strcmp(e->sql, sql) != 0) {
      continue;
    }
    e->calls++;
    e->ns += (int64_t) * (sqlite3_int64 *)x;
    break;
  }
  pthread_mutex_unlock(&prof_lock);
  return 0;
}

/* The first connection of each kind (the engine's store, the baseline's). */
static sqlite3 *prof_db[4];
static const char *tune_sql;   /* --tune */
static double verify_deadline; /* CLOCK_MONOTONIC seconds; 0: none */

static int deadline_passed(void *ud) {
  (void)ud;
  return verify_deadline > 0 && now_s() > verify_deadline;
}

static int prof_attach(sqlite3 *db, char **err, const struct sqlite3_api_routines *api) {
  (void)err;
  (void)api;
  int kind = prof_kind(db);
  if (kind < 2 && !prof_db[kind]) prof_db[kind] = db;
  if (prof_on) /* a profile hook makes SQLite read the clock around every statement */
    sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, prof_hook, NULL);
  if (verify_deadline > 0) sqlite3_progress_handler(db, 10000, deadline_passed, NULL);
  if (tune_sql && sqlite3_exec(db, tune_sql, NULL, NULL, NULL) != SQLITE_OK)
    fprintf(stderr, "bench_engine: --tune: %s\n", sqlite3_errmsg(db));
  return SQLITE_OK;
}

/* Page cache counters of a connection since the last call. */
static void prof_cache(int kind, int64_t per_op) {
  if (!prof_on || !prof_db[kind]) return;
  static const struct {
    int op;
    const char *name;
  } ops[] = {{SQLITE_DBSTATUS_CACHE_HIT, "hits"},
             {SQLITE_DBSTATUS_CACHE_MISS, "misses"},
             {SQLITE_DBSTATUS_CACHE_WRITE, "writes"},
             {SQLITE_DBSTATUS_CACHE_SPILL, "spills"}};
  printf("    page cache (%s):", prof_kinds[kind]);
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    int cur = 0, hi = 0;
    sqlite3_db_status(prof_db[kind], ops[i].op, &cur, &hi, 1);
    printf(" %s %.1f/op", ops[i].name, per_op ? (double)cur / (double)per_op : 0.0);
  }
  printf("\n");
}

static void prof_reset(void) {
  for (int k = 0; k < 2; k++)
    if (prof_on && prof_db[k])
      for (int op = SQLITE_DBSTATUS_CACHE_HIT; op <= SQLITE_DBSTATUS_CACHE_SPILL; op++) {
        int cur = 0, hi = 0;
        sqlite3_db_status(prof_db[k], op, &cur, &hi, 1);
      }
  for (size_t i = 0; i < PROF_SLOTS; i++) {
    free(prof[i].sql);
    prof[i].sql = NULL;
    prof[i].calls = prof[i].ns = 0;
  }
}

static int prof_cmp(const void *a, const void *b) {
  const prof_entry *x = *(const prof_entry *const *)a, *y = *(const prof_entry *const *)b;
  return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

/* Prints the statements of one connection kind by total time; per_op
 * divides the calls (transfers, events). */
static void prof_print(int kind, const char *label, double wall, int64_t per_op, int top) {
  if (!prof_on) return;
  prof_entry *list[PROF_SLOTS];
  size_t n = 0;
  int64_t total = 0;
  for (size_t i = 0; i < PROF_SLOTS; i++)
    if (prof[i].sql && prof[i].kind == kind) {
      list[n++] = &prof[i];
      total += prof[i].ns;
    }
  qsort(list, n, sizeof list[0], prof_cmp);
  printf("  profile, %s (%s connection): SQL %.2f s of %.2f s wall (%.0f%%); the rest is outside SQLite\n", label,
         prof_kinds[kind], (double)total / 1e9, wall, wall > 0 ? 100.0 * (double)total / 1e9 / wall : 0.0);
  printf("    %8s %8s %9s %6s  %s\n", "total s", "calls/op", "us/call", "share",
         "statement (its time runs from first step to reset: a long walk includes the work done between steps)");
  for (size_t i = 0; i < n && i < (size_t)top; i++) {
    prof_entry *e = list[i];
    printf("    %8.2f %8.2f %9.1f %5.1f%%  %.150s\n", (double)e->ns / 1e9,
           per_op ? (double)e->calls / (double)per_op : 0.0, (double)e->ns / 1e3 / (double)e->calls,
           total ? 100.0 * (double)e->ns / (double)total : 0.0, e->sql);
  }
}

/* ---- phases ---- */

typedef enum { ENGINE, BASELINE } who;

/* How a phase commits: one per transaction waiting for each fdatasync in
 * line; one per transaction in a pipeline (committed early, the sync on
 * the syncer's thread while the next applies, as `jcm apply` commits); or
 * batches of BATCH in the same pipeline. The baseline has one way: its
 * COMMIT waits for the disk. */
typedef enum { SINGLE, SINGLE_PIPELINED, BATCHED } commit_mode;

static jcm_syncer *syncer;

static void synced(void *arg, int ok) { (void)arg, (void)ok; } /* jcm_syncer_failed is read after the drain */

static void engine_chunk(jcm *j, const population *pop, rng *g, int64_t chunk, commit_mode mode, phase *ph) {
  if (mode != SINGLE) batch_begin(j);
  for (int64_t k = 0; k < chunk; k++)
    engine_transfer(j, pop, next_xfer(g, pop->n), ph);
  if (mode == SINGLE) return;
  int durable = -1;
  if (jcm_batch_commit_early(j, &durable) != JCM_OK) die("jcm_batch_commit_early failed");
  if (jcm_syncer_add(syncer, durable, synced, NULL) != JCM_OK) die("jcm_syncer_add failed");
}

static void baseline_chunk(baseline *b, const population *pop, rng *g, int64_t chunk, phase *ph) {
  if (sqlite3_step(b->begin) != SQLITE_DONE) die("baseline: begin: %s", sqlite3_errmsg(b->db));
  sqlite3_reset(b->begin);
  for (int64_t k = 0; k < chunk; k++) {
    int moved = baseline_transfer(b, pop, next_xfer(g, pop->n));
    if (moved < 0)
      ph->refused++;
    else
      ph->ranges += moved;
    ph->done++;
  }
  if (sqlite3_step(b->commit) != SQLITE_DONE) die("baseline: commit: %s", sqlite3_errmsg(b->db));
  sqlite3_reset(b->commit);
}

/* Runs n transfers from the generator, committed as mode says (the
 * baseline: one per transaction unless BATCHED). The phase ends when the
 * last commit is durable. Prints progress every `every`. */
static void run_transfers(who w, jcm *j, baseline *b, const population *pop, rng *g, int64_t n, commit_mode mode,
                          int64_t every, phase *ph) {
  memset(ph, 0, sizeof *ph);
  double w0 = now_s(), c0 = cpu_s(), wlast = w0;
  int64_t last = 0, last_ranges = 0;
  for (int64_t i = 0; i < n;) {
    int64_t chunk = mode == BATCHED ? (n - i < BATCH ? n - i : BATCH) : 1;
    if (w == ENGINE)
      engine_chunk(j, pop, g, chunk, mode, ph);
    else
      baseline_chunk(b, pop, g, chunk, ph);
    i += chunk;
    if (every && (i - last >= every || i == n)) {
      double t = now_s();
      printf("    %-8s %9lld / %lld  %7.0f transfers/s over the last %lld (%.2f serial ranges each), peak RSS "
             "%.1f MB\n",
             w == ENGINE ? "engine" : "baseline", (long long)i, (long long)n, rate(i - last, t - wlast),
             (long long)(i - last), (double)(ph->ranges - last_ranges) / (double)(i - last), peak_mb());
      last_ranges = ph->ranges;
      fflush(stdout);
      wlast = t;
      last = i;
    }
  }
  if (w == ENGINE && mode != SINGLE) {
    jcm_syncer_drain(syncer);
    if (jcm_syncer_failed(syncer)) die("an fdatasync of the engine's WAL failed");
  }
  ph->wall = now_s() - w0;
  ph->cpu = cpu_s() - c0;
  if (prof_on) /* CLOCK_MONOTONIC, to slice a `perf record -k CLOCK_MONOTONIC` profile */
    printf("    (%s %s: monotonic %.3f .. %.3f s)\n", w == ENGINE ? "engine" : "baseline",
           mode == BATCHED  ? "batched"
           : mode == SINGLE ? "single"
                            : "single, pipelined",
           w0, w0 + ph->wall);
}

static void print_phase(const char *label, const phase *ph) {
  printf("  %-30s %9lld transfers in %8.2f s wall (%7.2f s CPU): %9.0f /s wall, %9.0f /s per CPU-second;"
         " %.2f serial ranges each; %lld refused\n",
         label, (long long)ph->done, ph->wall, ph->cpu, rate(ph->done, ph->wall), rate(ph->done, ph->cpu),
         ph->done ? (double)ph->ranges / (double)ph->done : 0.0, (long long)ph->refused);
  if (ph->refused && ph->first_refusal[0]) printf("  %30s first refusal: %s\n", "", ph->first_refusal);
}

/* Reads a figure from a store file directly (a second, read-only
 * connection: it sees what is committed). */
static double sql_number(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  double v = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_double(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* ---- issuance size independence ---- */

typedef struct {
  int64_t units;
  int runs;
  double committed_ms, in_batch_us; /* averages */
  int64_t blocks_min, blocks_max;
  double peak_before, peak_after, rss_before, rss_after;
} size_result;

static const char *unit_label(int64_t units) { return units >= 1000000000000LL ? "10^12" : "10"; }

static void size_test(const char *path, int runs, size_result out[2]) {
  jcm *j = open_fresh(path);
  init_registry(j);
  must(j, &ADMIN, json_pack("{s:s,s:s,s:s,s:s}", "cmd", "org.add", "id", "org-000", "name", "Org", "country", "THA"),
       0);
  json_t *r = must(j, &ADMIN,
                   json_pack("{s:s,s:s,s:s,s:s}", "cmd", "account.open", "type", "holding", "holder", "org-000", "name",
                             "Issuance target"),
                   1);
  char account[32];
  snprintf(account, sizeof account, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "account")));
  json_decref(r);
  import_project(j, 1);

  int period = 0;
  const int64_t sizes[2] = {10, 1000000000000LL};
  /* warm-up: statements prepared, pages cached */
  for (int k = 0; k < 2; k++) {
    int p, year;
    char first[16], last[16];
    period_of(period++, &p, first, last, &year);
    verified_period(j, "TH001", first, last, 5);
    must(j, &JCS, issue_cmd("TH001", first, last, 5, json_pack("[{s:s,s:I}]", "account", account, "quantity", 5)), 0);
  }
  for (int s = 0; s < 2; s++) {
    size_result *res = &out[s];
    memset(res, 0, sizeof *res);
    res->units = sizes[s];
    res->runs = runs;
    res->blocks_min = INT64_MAX;
    res->peak_before = peak_mb();
    res->rss_before = rss_mb();
    double committed = 0, in_batch = 0;
    for (int k = 0; k < runs; k++) {
      for (int mode = 0; mode < 2; mode++) {
        int p, year;
        char first[16], last[16];
        period_of(period++, &p, first, last, &year);
        batch_begin(j);
        verified_period(j, "TH001", first, last, sizes[s]);
        batch_commit(j);
        json_t *cmd = issue_cmd("TH001", first, last, sizes[s],
                                json_pack("[{s:s,s:I}]", "account", account, "quantity", (json_int_t)sizes[s]));
        double before = sql_number(path, "SELECT COUNT(*) FROM block");
        if (mode == 0) {
          double t0 = now_s();
          must(j, &JCS, cmd, 0);
          committed += now_s() - t0;
        } else {
          batch_begin(j);
          double t0 = now_s();
          must(j, &JCS, cmd, 0);
          in_batch += now_s() - t0;
          batch_commit(j);
        }
        int64_t created = (int64_t)(sql_number(path, "SELECT COUNT(*) FROM block") - before);
        if (created < res->blocks_min) res->blocks_min = created;
        if (created > res->blocks_max) res->blocks_max = created;
      }
    }
    res->committed_ms = committed * 1000.0 / runs;
    res->in_batch_us = in_batch * 1e6 / runs;
    res->peak_after = peak_mb();
    res->rss_after = rss_mb();
  }
  json_t *report = NULL;
  if (jcm_verify(j, &report) != JCM_OK) {
    char *t = json_dumps(report, JSON_INDENT(2));
    die("verify of the issuance store failed: %s", t ? t : "?");
  }
  json_decref(report);
  jcm_close(j);
}

/* ---- verify, in a child process with a deadline ----
 * jcm_verify's cost grows faster than the journal (see the report), so it
 * runs in a forked child: the child opens the store itself (the parent's
 * connection is never used across fork), interrupts its SQL at the deadline
 * through a progress handler, and reports through a pipe. The statement
 * profile splits its time into the journal walk (hash chain and replay),
 * the reads of the stored tables (which overlap the walk: lib/verify.c)
 * and the invariant queries. */

typedef struct {
  int ran, finished, timed_out, ok;
  int64_t events, problems;
  double wall, cpu, peak, walk, compare, invariants, slowest_s;
  char slowest[120], problem[300];
} verify_result;

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void verify_child(const char *path, double timeout, int fd, int print_profile) {
  verify_result r;
  memset(&r, 0, sizeof r);
  r.ran = 1;
  prof_reset();
  prof_on = 1;
  prof_db[0] = prof_db[1] = NULL;
  verify_deadline = timeout > 0 ? now_s() + timeout : 0;
  jcm *j = NULL;
  char err[512] = "";
  json_t *report = NULL;
  double w0 = now_s(), c0 = cpu_s();
  int rc = jcm_open(path, NULL, &j, err, sizeof err) == JCM_OK ? jcm_verify(j, &report) : JCM_ERROR;
  r.wall = now_s() - w0;
  r.cpu = cpu_s() - c0;
  r.timed_out = verify_deadline > 0 && now_s() > verify_deadline;
  r.finished = rc != JCM_ERROR && !r.timed_out;
  r.ok = json_is_true(json_object_get(report, "ok"));
  r.events = (int64_t)json_integer_value(json_object_get(report, "events"));
  r.problems = (int64_t)json_array_size(json_object_get(report, "problems"));
  json_t *p0 = json_array_get(json_object_get(report, "problems"), 0);
  if (p0) {
    char *t = json_dumps(p0, JSON_COMPACT);
    snprintf(r.problem, sizeof r.problem, "%s", t ? t : "?");
    free(t);
  } else if (rc == JCM_ERROR) {
    snprintf(r.problem, sizeof r.problem, "verify could not run: %.200s", err[0] ? err : "store error");
  }
  for (size_t i = 0; i < PROF_SLOTS; i++) {
    const prof_entry *e = &prof[i];
    if (!e->sql || e->kind != 0) continue;
    double t = (double)e->ns / 1e9;
    if (starts(e->sql, "SELECT seq, time, actor, role, cmd, bytes, prev_hash, hash FROM journal"))
      r.walk += t;
    else if (starts(e->sql, "SELECT * FROM "))
      r.compare += t;
    else if (starts(e->sql, "SELECT"))
      r.invariants += t;
    if (t > r.slowest_s) {
      r.slowest_s = t;
      snprintf(r.slowest, sizeof r.slowest, "%.119s", e->sql);
    }
  }
  r.peak = peak_mb();
  if (print_profile) {
    prof_print(0, "verify, reading the store", r.wall, r.events, 10);
    prof_print(2, "verify, replay store", r.wall, r.events, 10);
  }
  fflush(stdout);
  if (write(fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(2);
  _exit(0);
}

static verify_result run_verify(const char *path, double timeout, int print_profile) {
  verify_result r;
  memset(&r, 0, sizeof r);
  int fds[2];
  fflush(stdout);
  fflush(stderr);
  if (pipe(fds) != 0) die("pipe failed");
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    verify_child(path, timeout, fds[1], print_profile);
  }
  close(fds[1]);
  /* backstop: the child interrupts itself at the deadline; kill it if a
   * long step between SQL statements keeps it past a margin */
  double limit = timeout > 0 ? now_s() + timeout + 300 : 0;
  int status = 0, killed = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) die("waitpid failed");
    if (limit > 0 && now_s() > limit) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = 1;
      break;
    }
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  ssize_t n = read(fds[0], &r, sizeof r);
  close(fds[0]);
  if (n != (ssize_t)sizeof r) {
    memset(&r, 0, sizeof r);
    r.timed_out = killed;
    snprintf(r.problem, sizeof r.problem, "the verify process %s", killed ? "was killed at the deadline" : "died");
  }
  return r;
}

static void print_verify(const char *label, const verify_result *v, double timeout) {
  if (v->finished)
    printf("  %s: %lld events in %.2f s wall (%.2f s CPU): %.0f events/s; report ok: %s; peak RSS %.1f MB\n", label,
           (long long)v->events, v->wall, v->cpu, rate(v->events, v->wall), v->ok ? "true" : "false", v->peak);
  else if (v->timed_out)
    printf("  %s: did NOT finish within the %.0f s limit (--verify-timeout); %lld events walked; peak RSS %.1f MB\n",
           label, timeout, (long long)v->events, v->peak);
  else
    printf("  %s: could not run: %s\n", label, v->problem);
  if (v->ran)
    printf("    where its time went: journal walk (hash chain + replay) %.2f s = %.0f events/s; stored tables read "
           "%.2f s (beside the walk, on a second connection, unless it could not open); invariant queries %.2f s\n"
           "    slowest statement %.2f s: %s\n",
           v->walk, rate(v->events, v->walk), v->compare, v->invariants, v->slowest_s, v->slowest);
  if (v->finished && !v->ok) printf("    first problem: %s\n", v->problem);
}

/* ---- main ---- */

static int64_t parse_count(const char *flag, const char *v, int64_t min) {
  char *end = NULL;
  if (!v) die("%s needs a number", flag);
  long long x = strtoll(v, &end, 10);
  if (!end || *end || x < min) die("%s: '%s' is not a number >= %lld", flag, v, (long long)min);
  return (int64_t)x;
}

static void usage(void) {
  printf("usage: bench_engine [PATH] [--transfers N] [--accounts N] [--issuances N] [--single N] [--seed N]\n"
         "                    [--verify-timeout SECONDS] [--quick] [--profile] [--tune SQL] [--default-malloc]\n"
         "  PATH               the engine's store (default bench-engine.db); STEM-baseline.db and\n"
         "                     STEM-issuance.db are created next to it; old files are removed\n"
         "  --transfers N      random transfers in all (default 1000000)\n"
         "  --accounts N       holding accounts (default 10000)\n"
         "  --issuances N      issuances (default 1000)\n"
         "  --single N         of the transfers, how many are committed one per transaction waiting for\n"
         "                     each fsync, and as many again pipelined (default 20000, at most half)\n"
         "  --verify-timeout S limit for each jcm_verify run (default 600; 0: none)\n"
         "  --quick            small sizes, a smoke run of a few seconds\n"
         "  --profile          time every SQL statement (by connection) and print where the time goes\n"
         "  --tune SQL         run SQL on every connection opened (engine and baseline alike), for\n"
         "                     experiments such as \"PRAGMA mmap_size=1073741824\"; it runs at open,\n"
         "                     so the store's own pragmas (journal_mode, synchronous, foreign_keys,\n"
         "                     temp_store, cache_size) follow it and win: change those in the source\n"
         "  --default-malloc   keep glibc's heap trimming (see the report's note)\n");
}

static opts parse(int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof o);
  o.path = "bench-engine.db";
  o.transfers = 1000000;
  o.accounts = 10000;
  o.issuances = 1000;
  o.single = 20000;
  o.seed = 42;
  o.verify_timeout = 600;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--quick") == 0) {
      o.quick = 1;
      o.transfers = 3000;
      o.accounts = 200;
      o.issuances = 20;
      o.single = 100;
      o.verify_timeout = 60;
    }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quick") == 0) continue;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      exit(0);
    }
    if (strcmp(a, "--profile") == 0)
      o.profile = 1;
    else if (strcmp(a, "--default-malloc") == 0)
      o.default_malloc = 1;
    else if (strcmp(a, "--transfers") == 0)
      o.transfers = parse_count(a, v, 0), i++;
    else if (strcmp(a, "--accounts") == 0)
      o.accounts = parse_count(a, v, 2), i++;
    else if (strcmp(a, "--issuances") == 0)
      o.issuances = parse_count(a, v, 1), i++;
    else if (strcmp(a, "--single") == 0)
      o.single = parse_count(a, v, 0), i++;
    else if (strcmp(a, "--seed") == 0)
      o.seed = (uint64_t)parse_count(a, v, 0), i++;
    else if (strcmp(a, "--verify-timeout") == 0)
      o.verify_timeout = (double)parse_count(a, v, 0), i++;
    else if (strcmp(a, "--tune") == 0) {
      if (!v) die("--tune needs SQL");
      o.tune = v;
      i++;
    } else if (a[0] == '-') {
      usage();
      die("unknown option %s", a);
    } else
      o.path = a;
  }
  if (o.accounts > 999999) die("--accounts: at most 999,999 accounts per registry");
  if (o.issuances > 999 * PERIODS_PER_PROJECT) die("--issuances: at most %d", 999 * PERIODS_PER_PROJECT);
  if (o.single > o.transfers / 2) o.single = o.transfers / 2; /* twice: in line, then pipelined */
  return o;
}

int main(int argc, char **argv) {
  opts o = parse(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (sodium_init() < 0) die("libsodium failed to initialize");
  /* glibc returns the top of the heap to the kernel whenever more than
   * 128 KB is free there. SQLite frees a statement journal's buffers at the
   * end of every statement inside a transaction, and the baseline's small,
   * tidy heap then shrinks and grows on each statement: a brk() and a TLB
   * shootdown across CPUs each time, which made the baseline 2-4x slower on
   * this VM. The threshold is raised for the whole process, engine included. */
  if (!o.default_malloc) mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  tune_sql = o.tune;
  prof_on = o.profile;
  /* before anything else touches SQLite: the auto extension below
   * initializes it, after which the library's settings would be refused
   * and every figure measured on SQLite's defaults (as they were until
   * 2026-12-07, fifth session: docs/benchmarks.md) */
  int setup = jcm_setup();
  sqlite3_auto_extension((void (*)(void))prof_attach);

  char stem[1024], base_path[1100], size_path[1100];
  size_t sl = strlen(o.path);
  if (sl >= sizeof stem) die("path too long");
  memcpy(stem, o.path, sl + 1);
  if (sl > 3 && strcmp(stem + sl - 3, ".db") == 0) stem[sl - 3] = 0;
  snprintf(base_path, sizeof base_path, "%s-baseline.db", stem);
  snprintf(size_path, sizeof size_path, "%s-issuance.db", stem);

  printf("jcm engine benchmark%s\n", o.quick ? " (--quick: small sizes, a smoke run; figures not meaningful)" : "");
  printf("  stores: %s (engine), %s (baseline), %s (issuance sizes)\n", o.path, base_path, size_path);
  printf("  SQLite %s; the baseline uses the engine's pragmas and table definitions (printed below); with\n"
         "  no index by size its pick sorts the account's blocks; the engine picks from lists kept in memory\n",
         sqlite3_libversion());
  printf("  SQLite configured by jcm_setup (no memory accounting, the library's page cache): %s\n",
         setup == JCM_OK ? "yes" : "NO (SQLite was initialized before; figures are of its defaults)");
  printf("  %lld accounts, %lld issuances, %lld transfers (twice %lld one per transaction, the rest in batches of "
         "%d), seed %llu\n",
         (long long)o.accounts, (long long)o.issuances, (long long)o.transfers, (long long)o.single, BATCH,
         (unsigned long long)o.seed);
  printf("  malloc: %s\n", o.default_malloc ? "glibc defaults (--default-malloc)"
                                            : "heap trim threshold raised to 256 MB for the whole process "
                                              "(--default-malloc to keep glibc's 128 KB)");
  if (o.tune) printf("  --tune: \"%s\" on every connection\n", o.tune);
  if (o.profile) printf("  --profile: every SQL statement is timed (adds overhead; rates are lower than without it)\n");
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0, 0, 0};
  FILE *lf = fopen("/proc/loadavg", "r");
  if (lf) {
    if (fscanf(lf, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    fclose(lf);
  }
  printf("  machine: %ld CPUs online, load average %.2f at start (shared with other builds and tests: figures are "
         "noisy)\n\n",
         cpus, load[0]);

  /* 1. issuance size independence */
  int runs = o.quick ? 3 : 10;
  size_result sz[2];
  printf("[1] Issuance size independence (%d runs per size and mode, fresh store)\n", runs);
  size_test(size_path, runs, sz);
  for (int s = 0; s < 2; s++)
    printf("  issue of %5s units: %7.2f ms committed alone (fsync), %7.1f us inside a batch;"
           " blocks created %lld..%lld; peak RSS %.1f -> %.1f MB, RSS %.1f -> %.1f MB\n",
           unit_label(sz[s].units), sz[s].committed_ms, sz[s].in_batch_us, (long long)sz[s].blocks_min,
           (long long)sz[s].blocks_max, sz[s].peak_before, sz[s].peak_after, sz[s].rss_before, sz[s].rss_after);
  printf("\n");

  /* 2. setup */
  printf("[2] Setup: init THA01, %zu organisations, %lld accounts, %lld issuances (%zu accounts each, %d units per "
         "allocation)\n",
         (size_t)(o.accounts < MAX_ORGS ? o.accounts : MAX_ORGS), (long long)o.accounts, (long long)o.issuances,
         alloc_per_issuance(&o), UNITS_PER_ALLOCATION);
  double t0 = now_s();
  jcm *j = open_fresh(o.path);
  population pop;
  engine_setup(j, &o, &pop);
  double setup_s = now_s() - t0;
  int64_t funded = (int64_t)sql_number(o.path, "SELECT COUNT(DISTINCT account) FROM block");
  int64_t setup_events = (int64_t)sql_number(o.path, "SELECT COUNT(*) FROM journal");
  printf("  %.2f s (%lld journal events); %lld of %lld accounts hold units\n", setup_s, (long long)setup_events,
         (long long)funded, (long long)o.accounts);
  baseline b;
  t0 = now_s();
  char pragmas[400];
  engine_pragmas(prof_db[0], pragmas, sizeof pragmas);
  baseline_open(&b, base_path, o.path, pragmas, &o, &pop);
  printf("  baseline store: the engine's table definitions, the same accounts and blocks, filled in %.2f s\n",
         now_s() - t0);
  printf("  pragmas of both (read from the engine's connection): %s\n\n", pragmas);

  /* 3. transfers */
  int64_t nbatched = o.transfers - 2 * o.single;
  int64_t every = o.quick ? 0 : 100000;
  phase es, bs, ep, bp, eb, bb;
  printf("[3] Transfers (random accounts, 1..%d units each, seed %llu; the baseline replays the same sequence)\n",
         MAX_QTY, (unsigned long long)o.seed);
  printf("  one per transaction: two samples of %lld; each commit is an fsync of the WAL (synchronous=FULL).\n"
         "  The first waits for each fsync before the next transfer (so measures the disk's latency more\n"
         "  than the engine); the second commits as `jcm apply` does, early: the next transfer is applied\n"
         "  while the last one's fsync runs on a second thread, and one fsync covers every commit made\n"
         "  before it (jcm_batch_commit_early, jcm_syncer). The baseline always waits for its fsync.\n",
         (long long)o.single);
  syncer = jcm_syncer_start();
  if (!syncer) die("cannot start the syncer thread");
  rng ge = {o.seed}, gb = {o.seed};
  prof_reset();
  run_transfers(ENGINE, j, NULL, &pop, &ge, o.single, SINGLE, 0, &es);
  run_transfers(BASELINE, NULL, &b, &pop, &gb, o.single, SINGLE, 0, &bs);
  run_transfers(ENGINE, j, NULL, &pop, &ge, o.single, SINGLE_PIPELINED, 0, &ep);
  run_transfers(BASELINE, NULL, &b, &pop, &gb, o.single, SINGLE, 0, &bp);
  print_phase("engine, 1 per transaction", &es);
  print_phase("baseline, 1 per transaction", &bs);
  print_phase("engine, 1 per tx, pipelined", &ep);
  print_phase("baseline, 1 per tx (2nd)", &bp);
  prof_print(0, "engine, 1 per transaction", es.wall, es.done, 8);
  prof_print(1, "baseline, 1 per transaction", bs.wall, bs.done, 8);

  printf("  jcm_verify at this point (after setup + %lld transfers), in a child process:\n",
         (long long)(es.done + ep.done));
  verify_result v_mid = run_verify(o.path, o.verify_timeout, o.profile);
  print_verify("verify (checkpoint)", &v_mid, o.verify_timeout);
  if (v_mid.finished && !v_mid.ok) die("verify at the checkpoint found problems");

  prof_reset();
  printf("  batches of %d per transaction: the remaining %lld; the engine's committed early, as `jcm apply\n"
         "  --batch` commits them (the next batch applied while the last one's fsync runs)\n",
         BATCH, (long long)nbatched);
  run_transfers(ENGINE, j, NULL, &pop, &ge, nbatched, BATCHED, every, &eb);
  run_transfers(BASELINE, NULL, &b, &pop, &gb, nbatched, BATCHED, every, &bb);
  jcm_syncer_stop(syncer);
  print_phase("engine, batches of 1000", &eb);
  print_phase("baseline, batches of 1000", &bb);
  prof_print(0, "engine, batches of 1000", eb.wall, eb.done, 25);
  prof_print(1, "baseline, batches of 1000", bb.wall, bb.done, 12);
  prof_cache(0, eb.done);
  prof_cache(1, bb.done);
  double e_single = rate(es.done, es.wall), b_single = rate(bs.done, bs.wall), e_pipe = rate(ep.done, ep.wall);
  double e_batch = rate(eb.done, eb.wall), b_batch = rate(bb.done, bb.wall);
  double r_single = b_single > 0 ? 100.0 * e_single / b_single : 0;
  double r_batch = b_batch > 0 ? 100.0 * e_batch / b_batch : 0;
  double r_batch_cpu = eb.cpu > 0 && bb.cpu > 0 ? 100.0 * rate(eb.done, eb.cpu) / rate(bb.done, bb.cpu) : 0;
  double e_bytes = sql_number(o.path, "SELECT AVG(LENGTH(bytes)) FROM journal WHERE cmd = 'transfer'");
  double e_blocks = sql_number(o.path, "SELECT COUNT(*) FROM block");
  double b_blocks = sql_number(base_path, "SELECT COUNT(*) FROM block");
  double e_ranges = sql_number(o.path, "SELECT SUM(json_array_length(ranges)) FROM movement WHERE dir = -1");
  printf("  journal bytes per transfer: engine %.0f, baseline %.0f; blocks: engine %.0f, baseline %.0f;"
         " serial ranges per transfer %.2f\n",
         e_bytes, b.journal_rows ? (double)b.journal_bytes / (double)b.journal_rows : 0.0, e_blocks, b_blocks,
         o.transfers ? e_ranges / (double)o.transfers : 0.0);
  printf("  files: engine %.1f MB, baseline %.1f MB\n", file_mb(o.path), file_mb(base_path));
  printf("  engine/baseline: %.1f%% one per transaction, %.1f%% batched (%.1f%% by CPU time)\n", r_single, r_batch,
         r_batch_cpu);
  baseline_close(&b);
  jcm_close(j);
  double peak_transfers = peak_mb();
  printf("  peak RSS of this process after the transfers: %.1f MB\n\n", peak_transfers);

  /* 4. verify */
  printf("[4] jcm_verify of the final store (hash chain, replay into a fresh in-memory store, state comparison,\n"
         "    invariants), in a child process, limit %.0f s\n",
         o.verify_timeout);
  verify_result v = run_verify(o.path, o.verify_timeout, o.profile);
  print_verify("verify (final)", &v, o.verify_timeout);
  if (v.finished && !v.ok) die("verify found problems");
  double peak = peak_transfers > v.peak ? peak_transfers : v.peak;
  printf("\n");

  /* report */
  double v_rate = v.finished ? rate(v.events, v.wall) : 0;
  printf("Figures (targets are goals, not asserted; a shared 2-CPU machine: expect noise)\n");
  printf("  transfers, batches of 1000:     %9.0f /s   target >= %.0f: %s\n", e_batch, TARGET_BATCHED,
         meets(e_batch, TARGET_BATCHED));
  printf("  transfers, 1 per transaction:   %9.0f /s   target >= %.0f: %s (pipelined as jcm apply, sample of %lld)\n",
         e_pipe, TARGET_SINGLE, meets(e_pipe, TARGET_SINGLE), (long long)ep.done);
  printf("    each fsync waited for in line:%9.0f /s   (the disk's latency; sample of %lld)\n", e_single,
         (long long)es.done);
  printf("  engine/baseline, batched:       %9.1f %%   target >= %.0f%%: %s (baseline %.0f /s)\n", r_batch,
         TARGET_RATIO, meets(r_batch, TARGET_RATIO), b_batch);
  printf("  engine/baseline, 1 per tx:      %9.1f %%   target >= %.0f%%: %s (baseline %.0f /s)\n", r_single,
         TARGET_RATIO, meets(r_single, TARGET_RATIO), b_single);
  if (v.finished)
    printf("  verify (final, %lld events):   %9.0f events/s   target >= %.0f: %s\n", (long long)v.events, v_rate,
           TARGET_VERIFY, meets(v_rate, TARGET_VERIFY));
  else
    printf("  verify (final):                 did not finish within %.0f s   target >= %.0f events/s: NOT met\n",
           o.verify_timeout, TARGET_VERIFY);
  if (v_mid.finished)
    printf("  verify (checkpoint, %lld events): %7.0f events/s   target >= %.0f: %s\n", (long long)v_mid.events,
           rate(v_mid.events, v_mid.wall), TARGET_VERIFY, meets(rate(v_mid.events, v_mid.wall), TARGET_VERIFY));
  printf("  peak memory (ru_maxrss):        %9.1f MB (transfers %.1f MB, verify process %.1f MB)\n", peak,
         peak_transfers, v.peak);
  printf("  refused transfers:              %9lld engine, %lld baseline\n",
         (long long)(es.refused + ep.refused + eb.refused), (long long)(bs.refused + bp.refused + bb.refused));
  printf("\n");

  printf("engine_transfers_batched: %.0f transfers/s\n", e_batch);
  printf("engine_transfers_batched_cpu: %.0f transfers/cpu-s\n", rate(eb.done, eb.cpu));
  printf("engine_transfers_single: %.0f transfers/s\n", e_single); /* waiting in line, as before 7bf86a8 */
  printf("engine_transfers_single_pipelined: %.0f transfers/s\n", e_pipe);
  printf("baseline_transfers_batched: %.0f transfers/s\n", b_batch);
  printf("baseline_transfers_batched_cpu: %.0f transfers/cpu-s\n", rate(bb.done, bb.cpu));
  printf("baseline_transfers_single: %.0f transfers/s\n", b_single);
  printf("engine_vs_baseline_batched: %.1f %%\n", r_batch);
  printf("engine_vs_baseline_batched_cpu: %.1f %%\n", r_batch_cpu);
  printf("engine_vs_baseline_single: %.1f %%\n", r_single);
  printf("transfers_refused: %lld transfers\n", (long long)(es.refused + ep.refused + eb.refused));
  printf("serial_ranges_per_transfer: %.2f ranges\n", o.transfers ? e_ranges / (double)o.transfers : 0.0);
  if (v.finished)
    printf("verify_events: %.0f events/s\n", v_rate);
  else
    printf("verify_events: unfinished after %.0f s\n", o.verify_timeout);
  printf("verify_time: %.2f s\n", v.wall);
  printf("verify_journal_events: %lld events\n", (long long)v.events);
  printf("verify_walk_replay: %.0f events/s\n", rate(v.events, v.walk));
  if (v_mid.finished) printf("verify_checkpoint_events: %.0f events/s\n", rate(v_mid.events, v_mid.wall));
  printf("verify_checkpoint_journal_events: %lld events\n", (long long)v_mid.events);
  printf("verify_checkpoint_time: %.2f s\n", v_mid.wall);
  printf("peak_rss: %.1f MB\n", peak);
  printf("peak_rss_transfers: %.1f MB\n", peak_transfers);
  printf("peak_rss_verify: %.1f MB\n", v.peak);
  printf("setup_time: %.2f s\n", setup_s);
  for (int s = 0; s < 2; s++) {
    const char *u = s ? "1e12" : "10";
    printf("issue_%s_units_committed: %.2f ms\n", u, sz[s].committed_ms);
    printf("issue_%s_units_in_batch: %.1f us\n", u, sz[s].in_batch_us);
    printf("issue_%s_units_blocks: %lld blocks\n", u, (long long)sz[s].blocks_max);
    printf("issue_%s_units_peak_rss_growth: %.1f MB\n", u, sz[s].peak_after - sz[s].peak_before);
  }
  free(pop.id);
  free(pop.holder);
  return 0;
}
