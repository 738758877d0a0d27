/*
 * The SQLite back end of the store interface: the embedded default.
 * WAL, synchronous=FULL (a commit survives power loss), foreign keys on,
 * a checkpoint every CHECKPOINT_FRAMES WAL frames (below),
 * BEGIN IMMEDIATE for writes (taken by the engine through exec()).
 * Prepared statements are cached by the address of their SQL text, since
 * the engine runs the same few dozen statements for every command.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcm/jcm.h"
#include "store/store.h"

#define CACHE_SLOTS 512
/* WAL frames (pages) between automatic checkpoints; SQLite's default is
 * 1,000. A checkpoint copies each page once however often it was written
 * since the last one, and the writes of a registry fall again and again on
 * the same pages (the accounts' blocks and movements), so fewer, larger
 * checkpoints copy far fewer pages: committed transfers over HTTP went from
 * about 3,000 to 4,900 a second at 32,000, and the engine's row writes for
 * a million batched transfers from 8,571 to 11,209 a second at 128,000
 * (12,164 at 256,000; docs/benchmarks.md). The price is a WAL file of up to
 * 128,000 x 4 KiB = 500 MiB beside the database while a process writes (the
 * last connection to close checkpoints it and removes it), a longer pause
 * for the commit that checkpoints, and a longer WAL to read at the next
 * open after a crash. */
#ifndef CHECKPOINT_FRAMES /* a build may set another, to measure */
#define CHECKPOINT_FRAMES "128000"
#endif

typedef struct {
  jcm_store base;
  sqlite3 *db;
  const char *keys[CACHE_SLOTS];
  sqlite3_stmt *stmts[CACHE_SLOTS];
} sq_store;

static sq_store *S(jcm_store *st) { return (sq_store *)st; }
static sqlite3_stmt *T(jcm_stmt *s) { return (sqlite3_stmt *)s; }

static int sq_exec(jcm_store *st, const char *sql) {
  return sqlite3_exec(S(st)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static size_t slot_of(const char *sql) {
  uintptr_t h = (uintptr_t)sql;
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15u;
  return (size_t)(h >> 7) % CACHE_SLOTS;
}

static jcm_stmt *sq_prepare(jcm_store *st, const char *sql) {
  sq_store *q = S(st);
  size_t i = slot_of(sql);
  for (size_t n = 0; n < CACHE_SLOTS; n++, i = (i + 1) % CACHE_SLOTS) {
    if (q->keys[i] == sql) {
      /* Bindings are not cleared: every use binds all placeholders
       * (bind_all checks). In SQLite 3.54.1 (not 3.52.0) clearing them
       * expires a statement whose plan looked at a bound value, and the next
       * step prepares it again: two of a transfer's statements were
       * recompiled on every transfer (docs/benchmarks.md, "SQLite built in"). */
      sqlite3_reset(q->stmts[i]);
      return (jcm_stmt *)q->stmts[i];
    }
    if (q->keys[i] == NULL) {
      sqlite3_stmt *s = NULL;
      if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) return NULL;
      q->keys[i] = sql;
      q->stmts[i] = s;
      return (jcm_stmt *)s;
    }
  }
  return NULL; /* cache full: a programming error, the statement set is fixed */
}

static jcm_stmt *sq_prepare_temp(jcm_store *st, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(S(st)->db, sql, -1, &s, NULL) != SQLITE_OK) return NULL;
  return (jcm_stmt *)s;
}

static void sq_finalize(jcm_stmt *s) { sqlite3_finalize(T(s)); }
static void sq_reset(jcm_stmt *s) { sqlite3_reset(T(s)); }
static int sq_bind_int(jcm_stmt *s, int i, int64_t v) { return sqlite3_bind_int64(T(s), i, v); }
static int sq_bind_text(jcm_stmt *s, int i, const char *v, int n) {
  return sqlite3_bind_text(T(s), i, v, n, SQLITE_TRANSIENT);
}
static int sq_bind_blob(jcm_stmt *s, int i, const void *v, int n) {
  return sqlite3_bind_blob(T(s), i, v, n, SQLITE_TRANSIENT);
}
static int sq_bind_null(jcm_stmt *s, int i) { return sqlite3_bind_null(T(s), i); }
static int sq_param_count(jcm_stmt *s) { return sqlite3_bind_parameter_count(T(s)); }

static int sq_step(jcm_stmt *s) {
  int rc = sqlite3_step(T(s));
  if (rc == SQLITE_ROW) return JCM_ROW;
  if (rc == SQLITE_DONE) return JCM_DONE;
  return JCM_STEP_ERROR;
}

static int sq_column_count(jcm_stmt *s) { return sqlite3_column_count(T(s)); }
static int sq_column_type(jcm_stmt *s, int i) {
  switch (sqlite3_column_type(T(s), i)) {
  case SQLITE_INTEGER: return JCM_INT;
  case SQLITE_TEXT: return JCM_TEXT;
  case SQLITE_BLOB: return JCM_BLOB;
  case SQLITE_FLOAT: return JCM_REAL;
  default: return JCM_NULL;
  }
}
static int64_t sq_column_int(jcm_stmt *s, int i) { return sqlite3_column_int64(T(s), i); }
static const char *sq_column_text(jcm_stmt *s, int i) { return (const char *)sqlite3_column_text(T(s), i); }
static const void *sq_column_blob(jcm_stmt *s, int i) { return sqlite3_column_blob(T(s), i); }
static int sq_column_bytes(jcm_stmt *s, int i) { return sqlite3_column_bytes(T(s), i); }
static const char *sq_column_name(jcm_stmt *s, int i) { return sqlite3_column_name(T(s), i); }
static const char *sq_errmsg(jcm_store *st) { return sqlite3_errmsg(S(st)->db); }

static void sq_close(jcm_store *st) {
  if (!st) return;
  sq_store *q = S(st);
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (q->stmts[i]) sqlite3_finalize(q->stmts[i]);
  /* an open transaction rolls back here, not inside sqlite3_close, which
   * calls no rollback hook (on_rollback below) */
  if (!sqlite3_get_autocommit(q->db)) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(q->db);
  free(q);
}

/* data_version moves when another connection commits (and starts the read
 * transaction it reads in); this connection's own writes move its change
 * count instead. Inside a write transaction it cannot tell: what is read
 * there may yet be rolled back, and a rollback moves neither number. */
static int sq_version(jcm_store *st, int64_t out[2]) {
  static const char q[] = "PRAGMA data_version";
  if (sqlite3_txn_state(S(st)->db, "main") == SQLITE_TXN_WRITE) return -1;
  jcm_stmt *s = sq_prepare(st, q);
  if (!s) return -1;
  int rc = sq_step(s) == JCM_ROW ? 0 : -1;
  if (rc == 0) out[0] = sq_column_int(s, 0);
  sq_reset(s);
  out[1] = (int64_t)sqlite3_total_changes64(S(st)->db);
  return rc;
}

static int sq_in_transaction(jcm_store *st) { return !sqlite3_get_autocommit(S(st)->db); }
static int64_t sq_changes(jcm_store *st) { return (int64_t)sqlite3_total_changes64(S(st)->db); }

static jcm_store *sq_open_reader(jcm_store *st, char *err, size_t errlen);

static const jcm_store_ops sq_ops = {
    "sqlite",      sq_exec,           sq_prepare,     sq_prepare_temp, sq_finalize,    sq_reset,        sq_bind_int,
    sq_bind_text,  sq_bind_blob,      sq_bind_null,   sq_param_count,  sq_step,        sq_column_count, sq_column_type,
    sq_column_int, sq_column_text,    sq_column_blob, sq_column_bytes, sq_column_name, sq_errmsg,       sq_close,
    sq_version,    sq_in_transaction, sq_changes,     sq_open_reader,
};

/* Process-wide, once, before SQLite initializes (later it is refused with
 * SQLITE_MISUSE and the default stays): no global memory accounting, a
 * mutex and statistics kept on every allocation, 9 % of a transfer's
 * instructions (callgrind); the page cache of pcache.c. */
static int configured = JCM_ERROR;

static void sq_configure(void) {
  int memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  int pcache = jcm__pcache_install(); /* fails if SQLite was already used: then only slower */
  configured = memstatus == SQLITE_OK && pcache == 0 ? JCM_OK : JCM_ERROR;
}

int jcm_setup(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sq_configure);
  return configured;
}

/* Every rollback, explicit or SQLite's own after an error: the WAL shim
 * drops the frames it still buffers for the transaction (walvfs.c). */
static void on_rollback(void *db) { jcm__wal_discard(db); }

static sq_store *sq_connect(const char *path, int flags, int file, char *err, size_t errlen) {
  jcm_setup();
  sq_store *q = calloc(1, sizeof *q);
  if (!q) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  q->base.ops = &sq_ops;
  if (sqlite3_open_v2(path, &q->db, flags | SQLITE_OPEN_NOMUTEX, file ? jcm__wal_vfs() : NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path, q->db ? sqlite3_errmsg(q->db) : "no memory");
    sqlite3_close(q->db);
    free(q);
    return NULL;
  }
  sqlite3_busy_timeout(q->db, 5000);
  return q;
}

jcm_store *jcm__sqlite_open(const char *path, char *err, size_t errlen) {
  int file = strcmp(path, ":memory:") != 0;
  sq_store *q = sq_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, file, err, errlen);
  if (!q) return NULL;
  if (file) sqlite3_rollback_hook(q->db, on_rollback, q->db);
  /* An in-memory store is a replay's (verify, the AEF report): with pages
   * of 16 KiB a search in its trees looks up fewer pages. jcm verify of a
   * million events, six alternating pairs: 15.9-23.5 s (mean 18.7) against
   * 19.3-23.6 s (mean 21.2) with 4 KiB (docs/benchmarks.md). */
  const char *pragmas = !file ? "PRAGMA page_size=16384; PRAGMA foreign_keys=ON; PRAGMA journal_mode=MEMORY;"
                                " PRAGMA synchronous=OFF;"
                                " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-131072;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-131072;"
                                " PRAGMA wal_autocheckpoint=" CHECKPOINT_FRAMES ";"
                                /* a checkpoint's WAL sync is never deferred (walvfs.c): same fsync on Linux */
                                " PRAGMA checkpoint_fullfsync=ON;";
  if (sqlite3_exec(q->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot set up %s: %s", path, sqlite3_errmsg(q->db));
    sq_close(&q->base);
    return NULL;
  }
  return &q->base;
}

/* The file by its own (absolute) name, not the address it was opened by,
 * read-only (it creates and writes nothing), with a smaller cache: it reads
 * each table once, in order. The snapshot is handed over by SQLite's
 * snapshot interface (SQLITE_ENABLE_SNAPSHOT), so the two connections read
 * the same state whatever commits in between. */
static jcm_store *sq_open_reader(jcm_store *st, char *err, size_t errlen) {
  const char *path = sqlite3_db_filename(S(st)->db, "main");
  if (!path || !*path) {
    snprintf(err, errlen, "an in-memory store has no second connection");
    return NULL;
  }
  sqlite3_snapshot *snap = NULL;
  if (sqlite3_snapshot_get(S(st)->db, "main", &snap) != SQLITE_OK) {
    snprintf(err, errlen, "no read snapshot to share: %s", sqlite3_errmsg(S(st)->db));
    return NULL;
  }
  sq_store *q = sq_connect(path, SQLITE_OPEN_READONLY, 1, err, errlen);
  int ok = q && sqlite3_exec(q->db, "PRAGMA query_only=1; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384; BEGIN",
                             NULL, NULL, NULL) == SQLITE_OK;
  ok = ok && sqlite3_snapshot_open(q->db, "main", snap) == SQLITE_OK;
  if (q && !ok) snprintf(err, errlen, "cannot read in the same snapshot: %s", sqlite3_errmsg(q->db));
  sqlite3_snapshot_free(snap);
  if (!ok && q) {
    sq_close(&q->base);
    q = NULL;
  }
  return q ? &q->base : NULL;
}

jcm_store *jcm_store_open(const char *address, char *err, size_t errlen) {
  if (strncmp(address, "sqlite:", 7) == 0) return jcm__sqlite_open(address + 7, err, errlen);
  if (strncmp(address, "postgres://", 11) == 0 || strncmp(address, "postgresql://", 13) == 0) {
    snprintf(err, errlen, "this build has no PostgreSQL store yet; use a SQLite path");
    return NULL;
  }
  return jcm__sqlite_open(address, err, errlen);
}

/* ---- helpers shared by every back end ---- */

/* Binds fmt's values to all of the statement's placeholders: a cached
 * statement keeps its last use's values otherwise (sq_prepare). */
static int bind_all(jcm_store *st, jcm_stmt *s, const char *fmt, va_list ap) {
  const jcm_store_ops *o = st->ops;
  int rc = 0, count = fmt ? (int)strlen(fmt) : 0;
  if (count != o->param_count(s)) return -1; /* a programming error */
  for (int i = 1; i <= count && rc == 0; i++) {
    switch (fmt[i - 1]) {
    case 's': {
      const char *v = va_arg(ap, const char *);
      rc = v ? o->bind_text(s, i, v, -1) : o->bind_null(s, i);
      break;
    }
    case 'i': rc = o->bind_int(s, i, va_arg(ap, int64_t)); break;
    case 'b': {
      const void *v = va_arg(ap, const void *);
      int n = va_arg(ap, int);
      rc = o->bind_blob(s, i, v, n);
      break;
    }
    case 'n': rc = o->bind_null(s, i); break;
    default: rc = -1;
    }
  }
  return rc;
}

jcm_stmt *db_q(jcm_store *st, const char *sql, const char *fmt, ...) {
  jcm_stmt *s = st->ops->prepare(st, sql);
  if (!s) return NULL;
  va_list ap;
  va_start(ap, fmt);
  int rc = bind_all(st, s, fmt, ap);
  va_end(ap);
  return rc == 0 ? s : NULL;
}

int db_x(jcm_store *st, const char *sql, const char *fmt, ...) {
  jcm_stmt *s = st->ops->prepare(st, sql);
  if (!s) return -1;
  va_list ap;
  va_start(ap, fmt);
  int rc = bind_all(st, s, fmt, ap);
  va_end(ap);
  if (rc == 0) rc = st->ops->step(s) == JCM_DONE ? 0 : -1;
  st->ops->reset(s);
  return rc;
}
