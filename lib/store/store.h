/*
 * The store interface: the few SQL operations the library needs, as a table
 * of function pointers (in the manner of SQLite's VFS), so that the SQLite
 * back end and a PostgreSQL one can stand behind the same code. SQL given to
 * it is portable: '?' placeholders, no back-end specific syntax in the
 * library. Statements passed to prepare() are static strings and are cached
 * by their address: prepare() is called on every command, so it must be a
 * table look-up, not a parse.
 */
#ifndef JCM_STORE_H
#define JCM_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct jcm_store jcm_store;
typedef struct jcm_stmt jcm_stmt;

enum { JCM_ROW = 100, JCM_DONE = 101, JCM_STEP_ERROR = -1 };
enum { JCM_NULL = 0, JCM_INT = 1, JCM_TEXT = 2, JCM_BLOB = 3, JCM_REAL = 4 };

typedef struct jcm_store_ops {
  const char *name;
  int (*exec)(jcm_store *st, const char *sql);
  /* Cached by the address of sql; the statement comes back reset. */
  jcm_stmt *(*prepare)(jcm_store *st, const char *sql);
  /* Not cached: for SQL built at run time; release with finalize(). */
  jcm_stmt *(*prepare_temp)(jcm_store *st, const char *sql);
  void (*finalize)(jcm_stmt *s);
  void (*reset)(jcm_stmt *s);
  int (*bind_int)(jcm_stmt *s, int i, int64_t v);
  int (*bind_text)(jcm_stmt *s, int i, const char *v, int n);
  int (*bind_blob)(jcm_stmt *s, int i, const void *v, int n);
  int (*bind_null)(jcm_stmt *s, int i);
  /* the number of placeholders, which every use binds (a cached statement
   * keeps its last values: nothing is cleared between uses) */
  int (*param_count)(jcm_stmt *s);
  int (*step)(jcm_stmt *s);
  int (*column_count)(jcm_stmt *s);
  int (*column_type)(jcm_stmt *s, int i);
  int64_t (*column_int)(jcm_stmt *s, int i);
  const char *(*column_text)(jcm_stmt *s, int i);
  const void *(*column_blob)(jcm_stmt *s, int i);
  int (*column_bytes)(jcm_stmt *s, int i);
  const char *(*column_name)(jcm_stmt *s, int i);
  const char *(*errmsg)(jcm_store *st);
  void (*close)(jcm_store *st);
  /* Two numbers that both stay the same only while nothing in the store
   * changed, by this connection or any other: 0, or -1 when it cannot tell.
   * Inside a read snapshot, those of the snapshot. */
  int (*version)(jcm_store *st, int64_t out[2]);
  /* 1 while a transaction is open on this connection */
  int (*in_transaction)(jcm_store *st);
  /* How many rows this connection's statements have inserted, updated or
   * deleted since it opened: it moves with every write, so a command that
   * left it where it was wrote nothing. */
  int64_t (*changes)(jcm_store *st);
  /* A second connection to the same store, for reads only, its read
   * transaction begun in the very snapshot st reads (st inside a read
   * transaction that has read): verify reads the stored state on it beside
   * its walk. NULL with err when there can be none (an in-memory store). */
  jcm_store *(*open_reader)(jcm_store *st, char *err, size_t errlen);
} jcm_store_ops;

struct jcm_store {
  const jcm_store_ops *ops;
};

/* Opens "sqlite:PATH", a plain path, or ":memory:". NULL on failure, with
 * the reason in err. */
jcm_store *jcm_store_open(const char *address, char *err, size_t errlen);
jcm_store *jcm__sqlite_open(const char *path, char *err, size_t errlen);
/* The name of the VFS that gathers WAL writes (walvfs.c), registered on
 * first use; NULL if it could not be (then SQLite's default serves). */
const char *jcm__wal_vfs(void);
/* Between begin and end, a commit on this thread leaves its WAL sync undone
 * (walvfs.c); end returns the descriptor to sync with jcm__wal_sync (any
 * thread, while the store stays open), or -1 when nothing was deferred. */
void jcm__wal_defer_begin(void);
int jcm__wal_defer_end(void);
int jcm__wal_sync(int fd); /* fdatasync: 0, or -1 with errno */
/* Drops WAL frames the shim still buffers for a rolled-back transaction. */
struct sqlite3;
void jcm__wal_discard(struct sqlite3 *db);
/* The WAL shim writes zeros this far ahead of the last frame (walvfs.c). */
#define JCM_WAL_AHEAD (2 << 20)
/* WAL syncs done (by SQLite or jcm__wal_sync) and deferred, in this process. */
void jcm__wal_counts(unsigned long long *synced, unsigned long long *deferred);
/* SQLite's page cache behind a wrapper that skips needless truncates
 * (pcache.c); installed before SQLite initializes, else -1 and SQLite's own
 * serves. The counts, in this process: truncates forwarded to SQLite's
 * cache, truncates skipped, pages moved above all others (parked). */
int jcm__pcache_install(void);
void jcm__pcache_counts(unsigned long long out[3]);

/*
 * Helpers over the ops. fmt has one letter per '?' placeholder:
 *   s  const char * (NULL binds NULL)     i  int64_t
 *   b  const void *, int length            n  NULL
 * db_q() returns the cached statement reset and bound, or NULL on error.
 * Both refuse a fmt that does not cover every placeholder exactly: a cached
 * statement keeps its last use's values, so a placeholder left out would
 * silently reuse them. A caller that binds some values itself prepares the
 * statement with ops->prepare and binds every one (blocks.c, copy_row).
 */
jcm_stmt *db_q(jcm_store *st, const char *sql, const char *fmt, ...);
/* Runs a statement that returns no rows; 0 on success, -1 on error. */
int db_x(jcm_store *st, const char *sql, const char *fmt, ...);

static inline int db_step(jcm_store *st, jcm_stmt *s) { return st->ops->step(s); }
static inline void db_reset(jcm_store *st, jcm_stmt *s) { st->ops->reset(s); }
static inline int64_t col_int(jcm_store *st, jcm_stmt *s, int i) { return st->ops->column_int(s, i); }
static inline const char *col_text(jcm_store *st, jcm_stmt *s, int i) {
  const char *t = st->ops->column_text(s, i);
  return t ? t : "";
}
static inline int col_null(jcm_store *st, jcm_stmt *s, int i) { return st->ops->column_type(s, i) == JCM_NULL; }

#endif
