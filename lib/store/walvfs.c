/*
 * A thin SQLite VFS over the platform's own that gathers the writes to a
 * WAL file. SQLite writes each WAL frame with two calls (its 24-byte header,
 * then the page), so a commit of 130 pages cost 260 system calls; this
 * shim appends consecutive writes to a buffer and hands them to the real
 * file in one write when anything else happens to the file: a sync, a read,
 * a size query or truncation, a file control, close, a write that does not
 * follow on, or a full buffer.
 *
 * Why this is safe: with synchronous=FULL (which jcm__sqlite_open sets on
 * every file store, and which this shim therefore requires) a commit syncs
 * the WAL before it publishes the new frames in the WAL index, the shared
 * memory other connections read, and the sync writes the buffer first: no
 * connection can learn of a frame that is still only in this buffer, and a
 * crash loses only frames that no commit had reported durable. Frames that
 * a connection reads back (a spilled page, a checkpoint) are flushed before
 * the read. Files other than WAL files are opened by the real VFS directly.
 * It also writes zeros ahead of the last frame (write_ahead, below), so that
 * commits overwrite blocks the file already has.
 *
 * Deferred commit syncs (jcm__wal_defer_begin/end): a thread that asks for it
 * gets its commits' WAL sync left undone, the frames written to the file but
 * not synced, and the file to sync afterwards with jcm__wal_sync (from any
 * thread), so that the group writer of `jcm serve` can apply the next group
 * while the last one's sync runs (docs/server.md, "Group commit"). Only a
 * commit's sync is deferred: SQLite passes it SQLITE_SYNC_NORMAL, while the
 * store sets checkpoint_fullfsync, so a checkpoint's sync of the WAL (before
 * it copies pages into the database file) and the sync of a new WAL header
 * pass SQLITE_SYNC_FULL and are always done at once. test_smoke checks both.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* SQLite's unix VFS writes at most 0x1ffff bytes a call (seekAndWrite masks
 * the count with it, so a write of exactly 256 KiB would write nothing), so
 * a buffer holds just under 128 KiB: 31 frames of a 4 KiB page. */
#define WAL_BUFFER 0x1ffff
#define JCM_WAL_VFS "jcm-wal"

typedef struct {
  sqlite3_file base;
  sqlite3_file *real; /* the real VFS's file, in the memory after this struct */
  char *buf;
  size_t used;
  sqlite3_int64 at;    /* file offset of buf[0] */
  int sync_fd;         /* the same file opened again, for a deferred sync; -1: never defer */
  sqlite3_int64 ready; /* the file's bytes below this are written blocks (JCM_WAL_AHEAD) */
} wal_file;

static _Thread_local int defer_on = 0, defer_fd = -1;
static atomic_ullong n_synced, n_deferred;

static sqlite3_vfs shim, *real_vfs;
static sqlite3_io_methods wal_methods;

static wal_file *W(sqlite3_file *f) { return (wal_file *)f; }

/* Zeros written ahead of the frames, JCM_WAL_AHEAD bytes at a time: on ext4 an
 * fdatasync after writing past the file's end also commits the new size and
 * blocks to the file system's journal, while one after overwriting written
 * blocks syncs the data alone (a 28 KiB write + fdatasync here: 233-293 us
 * appending, 138 us overwriting; docs/benchmarks.md). SQLite reuses its WAL
 * from the start after a checkpoint, so only the first pass through a new
 * WAL appends; PostgreSQL zero-fills new WAL segments for the same reason.
 * Only bytes past the writer's last frame are zeroed, which no connection
 * reads (recovery stops at the first frame whose salt and checksum fail),
 * and the writer holds the WAL's write lock meanwhile. Best effort: a
 * failure (a full disk) leaves the frames as they were written. */
static void write_ahead(wal_file *w, sqlite3_int64 end) {
  static const char zeros[64 * 1024];
  if (end <= w->ready) return;
  sqlite3_int64 to = (end / JCM_WAL_AHEAD + 1) * JCM_WAL_AHEAD;
  for (sqlite3_int64 at = end; at < to;) {
    int n = to - at < (sqlite3_int64)sizeof zeros ? (int)(to - at) : (int)sizeof zeros;
    if (w->real->pMethods->xWrite(w->real, zeros, n, at) != SQLITE_OK) break;
    at += n;
  }
  w->ready = to;
}

static int flush(wal_file *w) {
  if (!w->used) return SQLITE_OK;
  int rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->used, w->at);
  if (rc == SQLITE_OK) write_ahead(w, w->at + (sqlite3_int64)w->used);
  w->used = 0;
  return rc;
}

static int w_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
  wal_file *w = W(f);
  if (w->used && (off != w->at + (sqlite3_int64)w->used || w->used + (size_t)n > WAL_BUFFER)) {
    int rc = flush(w);
    if (rc != SQLITE_OK) return rc;
  }
  if ((size_t)n > WAL_BUFFER) {
    int rc = w->real->pMethods->xWrite(w->real, p, n, off);
    if (rc == SQLITE_OK) write_ahead(w, off + n);
    return rc;
  }
  if (!w->used) w->at = off;
  memcpy(w->buf + w->used, p, (size_t)n);
  w->used += (size_t)n;
  return SQLITE_OK;
}

/* Whatever is still buffered at close belongs to a transaction that did not
 * commit (every commit syncs, and a sync writes the buffer first), and the
 * write lock is gone: another connection may own those offsets now. */
static int w_close(sqlite3_file *f) {
  wal_file *w = W(f);
  int rc = SQLITE_OK;
  w->used = 0;
  if (w->sync_fd >= 0) close(w->sync_fd);
  w->sync_fd = -1;
  int rc2 = w->real->pMethods->xClose(w->real);
  free(w->buf);
  w->buf = NULL;
  return rc != SQLITE_OK ? rc : rc2;
}

/* Every other method: flush first where the file's bytes matter, then pass
 * the call on to the real file. */
#define FLUSHED(call)                                                                                                  \
  wal_file *w = W(f);                                                                                                  \
  int rc = flush(w);                                                                                                   \
  return rc != SQLITE_OK ? rc : call
static int w_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off) {
  FLUSHED(w->real->pMethods->xRead(w->real, p, n, off));
}
static int w_truncate(sqlite3_file *f, sqlite3_int64 size) {
  wal_file *w = W(f);
  int rc = flush(w);
  if (size < w->ready) w->ready = size; /* after the flush, which may write ahead */
  return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}
static int w_size(sqlite3_file *f, sqlite3_int64 *size) { FLUSHED(w->real->pMethods->xFileSize(w->real, size)); }
static int w_control(sqlite3_file *f, int op, void *arg) { FLUSHED(w->real->pMethods->xFileControl(w->real, op, arg)); }
#undef FLUSHED

/* The frames always reach the file (other connections read them there once
 * the commit publishes them); only the wait for the disk is left out. */
static int w_sync(sqlite3_file *f, int flags) {
  wal_file *w = W(f);
  int rc = flush(w);
  if (rc != SQLITE_OK) return rc;
  if (defer_on && (flags & 0x0f) == SQLITE_SYNC_NORMAL && w->sync_fd >= 0) {
    defer_fd = w->sync_fd;
    atomic_fetch_add(&n_deferred, 1);
    return SQLITE_OK;
  }
  atomic_fetch_add(&n_synced, 1);
  return w->real->pMethods->xSync(w->real, flags);
}

static int w_lock(sqlite3_file *f, int l) { return W(f)->real->pMethods->xLock(W(f)->real, l); }
static int w_unlock(sqlite3_file *f, int l) { return W(f)->real->pMethods->xUnlock(W(f)->real, l); }
static int w_reserved(sqlite3_file *f, int *out) { return W(f)->real->pMethods->xCheckReservedLock(W(f)->real, out); }
static int w_sector(sqlite3_file *f) { return W(f)->real->pMethods->xSectorSize(W(f)->real); }
static int w_device(sqlite3_file *f) { return W(f)->real->pMethods->xDeviceCharacteristics(W(f)->real); }

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  (void)vfs;
  if (!(flags & SQLITE_OPEN_WAL)) return real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
  wal_file *w = W(f);
  memset(w, 0, sizeof *w);
  w->sync_fd = -1;
  w->real = (sqlite3_file *)(w + 1);
  if (!(w->buf = malloc(WAL_BUFFER))) return SQLITE_NOMEM;
  int rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    free(w->buf);
    w->buf = NULL;
    return rc; /* pMethods stays NULL: SQLite will not call close */
  }
  w->sync_fd = open(name, O_RDONLY | O_CLOEXEC); /* fsync covers the file, whichever descriptor wrote */
  if (w->real->pMethods->xFileSize(w->real, &w->ready) != SQLITE_OK) w->ready = 0;
  w->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

/* The VFS methods other than open belong to the real VFS. */
static int shim_delete(sqlite3_vfs *v, const char *n, int d) {
  (void)v;
  return real_vfs->xDelete(real_vfs, n, d);
}
static int shim_access(sqlite3_vfs *v, const char *n, int flags, int *out) {
  (void)v;
  return real_vfs->xAccess(real_vfs, n, flags, out);
}
static int shim_full(sqlite3_vfs *v, const char *n, int len, char *out) {
  (void)v;
  return real_vfs->xFullPathname(real_vfs, n, len, out);
}
static int shim_random(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return real_vfs->xRandomness(real_vfs, n, out);
}
static int shim_sleep(sqlite3_vfs *v, int us) {
  (void)v;
  return real_vfs->xSleep(real_vfs, us);
}
static int shim_time(sqlite3_vfs *v, double *out) {
  (void)v;
  return real_vfs->xCurrentTime(real_vfs, out);
}
static int shim_error(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return real_vfs->xGetLastError(real_vfs, n, out);
}
static int shim_time64(sqlite3_vfs *v, sqlite3_int64 *out) {
  (void)v;
  return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int registered;
static void register_shim(void) {
  real_vfs = sqlite3_vfs_find(NULL);
  if (!real_vfs || real_vfs->iVersion < 2) return;
  /* version 1: SQLite maps shared memory and pages through the database
   * file's handle, never through the WAL's */
  wal_methods = (sqlite3_io_methods){.iVersion = 1,
                                     .xClose = w_close,
                                     .xRead = w_read,
                                     .xWrite = w_write,
                                     .xTruncate = w_truncate,
                                     .xSync = w_sync,
                                     .xFileSize = w_size,
                                     .xLock = w_lock,
                                     .xUnlock = w_unlock,
                                     .xCheckReservedLock = w_reserved,
                                     .xFileControl = w_control,
                                     .xSectorSize = w_sector,
                                     .xDeviceCharacteristics = w_device};
  shim = (sqlite3_vfs){.iVersion = 2,
                       .szOsFile = (int)sizeof(wal_file) + real_vfs->szOsFile,
                       .mxPathname = real_vfs->mxPathname,
                       .zName = JCM_WAL_VFS,
                       .xOpen = shim_open,
                       .xDelete = shim_delete,
                       .xAccess = shim_access,
                       .xFullPathname = shim_full,
                       .xDlOpen = real_vfs->xDlOpen,
                       .xDlError = real_vfs->xDlError,
                       .xDlSym = real_vfs->xDlSym,
                       .xDlClose = real_vfs->xDlClose,
                       .xRandomness = shim_random,
                       .xSleep = shim_sleep,
                       .xCurrentTime = shim_time,
                       .xGetLastError = shim_error,
                       .xCurrentTimeInt64 = shim_time64};
  registered = sqlite3_vfs_register(&shim, 0) == SQLITE_OK;
}

const char *jcm__wal_vfs(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_shim);
  return registered ? JCM_WAL_VFS : NULL;
}

/* Frames of a transaction that rolled back may still be in the buffer (a
 * spill of a large transaction writes frames before its commit, and nothing
 * after the rollback flushes them). The rollback released the WAL's write
 * lock, so another connection may commit frames at those offsets; a later
 * flush of these would overwrite them. They were never committed: drop them.
 * Called from the store's rollback hook (sqlite.c), on the connection's own
 * thread, before the connection does any other I/O. */
void jcm__wal_discard(sqlite3 *db) {
  sqlite3_file *f = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) == SQLITE_OK && f &&
      f->pMethods == &wal_methods)
    W(f)->used = 0;
}

void jcm__wal_defer_begin(void) {
  defer_on = 1;
  defer_fd = -1;
}

int jcm__wal_defer_end(void) {
  defer_on = 0;
  int fd = defer_fd;
  defer_fd = -1;
  return fd;
}

int jcm__wal_sync(int fd) {
  int rc;
  while ((rc = fdatasync(fd)) != 0 && errno == EINTR)
    ;
  atomic_fetch_add(&n_synced, 1);
  return rc == 0 ? 0 : -1;
}

void jcm__wal_counts(unsigned long long *synced, unsigned long long *deferred) {
  *synced = atomic_load(&n_synced);
  *deferred = atomic_load(&n_deferred);
}
