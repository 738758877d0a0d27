/*
 * SQLite's own page cache, with one cost taken out of most commits.
 *
 * At the end of each write transaction the pager asks the cache to drop
 * every page past the end of the database (xTruncate). SQLite's cache
 * (pcache1) knows only the highest page number it ever held, iMaxKey, and
 * when that is far past the limit it walks its whole hash table. Since
 * SQLite 3.38 a B-tree balance that reorders sibling pages swaps them
 * through a temporary number, the page of the locking byte (page 262,145
 * at 4 KiB pages), which leaves iMaxKey there until the next truncate:
 * every commit whose transaction split pages that way walks all the pages
 * cached. A registry's writes split pages in most groups of commands; with
 * a 128 MiB cache the walks were about a tenth of the HTTP writer's time
 * (docs/benchmarks.md).
 *
 * This wrapper forwards everything to pcache1 but keeps, per cache, an
 * upper bound of the page numbers it holds: `base` for pages placed
 * normally and `parked` for one page moved above it by xRekey (the swap's
 * temporary number; 0 when none). When no page can be at or past the limit,
 * xTruncate has nothing to drop and is not forwarded. The bound only ever
 * errs upward (a page pcache1 recycles on its own is still counted), so a
 * truncate that matters is never skipped.
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/store.h"

typedef struct {
  sqlite3_pcache *real;
  unsigned base, parked;
} wrap_cache;

static sqlite3_pcache_methods2 orig;
static atomic_ullong n_forwarded, n_skipped, n_parked;

static wrap_cache *W(sqlite3_pcache *p) { return (wrap_cache *)p; }

static int w_init(void *arg) { return orig.xInit ? orig.xInit(arg) : SQLITE_OK; }
static void w_shutdown(void *arg) {
  if (orig.xShutdown) orig.xShutdown(arg);
}

static sqlite3_pcache *w_create(int page_size, int extra, int purgeable) {
  wrap_cache *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->real = orig.xCreate(page_size, extra, purgeable);
  if (!w->real) {
    free(w);
    return NULL;
  }
  return (sqlite3_pcache *)w;
}

static void w_cachesize(sqlite3_pcache *p, int n) { orig.xCachesize(W(p)->real, n); }
static int w_pagecount(sqlite3_pcache *p) { return orig.xPagecount(W(p)->real); }

static sqlite3_pcache_page *w_fetch(sqlite3_pcache *p, unsigned key, int create) {
  wrap_cache *w = W(p);
  sqlite3_pcache_page *pg = orig.xFetch(w->real, key, create);
  if (pg && key > w->base && key != w->parked) w->base = key;
  return pg;
}

static void w_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) { orig.xUnpin(W(p)->real, pg, discard); }

static void w_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned old_key, unsigned new_key) {
  wrap_cache *w = W(p);
  orig.xRekey(w->real, pg, old_key, new_key);
  if (old_key == w->parked) w->parked = 0;
  if (new_key <= w->base) return;
  if (w->parked > w->base) w->base = w->parked; /* a second page above: count it in base */
  w->parked = new_key;
  atomic_fetch_add_explicit(&n_parked, 1, memory_order_relaxed);
}

static void w_truncate(sqlite3_pcache *p, unsigned limit) {
  wrap_cache *w = W(p);
  if (w->base < limit && w->parked < limit) {
    atomic_fetch_add_explicit(&n_skipped, 1, memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&n_forwarded, 1, memory_order_relaxed);
  orig.xTruncate(w->real, limit);
  if (w->base >= limit) w->base = limit ? limit - 1 : 0;
  if (w->parked >= limit) w->parked = 0;
}

static void w_destroy(sqlite3_pcache *p) {
  orig.xDestroy(W(p)->real);
  free(p);
}

static void w_shrink(sqlite3_pcache *p) { orig.xShrink(W(p)->real); }

int jcm__pcache_install(void) {
  if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &orig) != SQLITE_OK || !orig.xCreate) return -1;
  static const sqlite3_pcache_methods2 wrapped = {
      .iVersion = 1,
      .xInit = w_init,
      .xShutdown = w_shutdown,
      .xCreate = w_create,
      .xCachesize = w_cachesize,
      .xPagecount = w_pagecount,
      .xFetch = w_fetch,
      .xUnpin = w_unpin,
      .xRekey = w_rekey,
      .xTruncate = w_truncate,
      .xDestroy = w_destroy,
      .xShrink = w_shrink,
  };
  sqlite3_pcache_methods2 m = wrapped;
  m.pArg = orig.pArg;
  return sqlite3_config(SQLITE_CONFIG_PCACHE2, &m) == SQLITE_OK ? 0 : -1;
}

void jcm__pcache_counts(unsigned long long out[3]) {
  out[0] = atomic_load(&n_forwarded);
  out[1] = atomic_load(&n_skipped);
  out[2] = atomic_load(&n_parked);
}
