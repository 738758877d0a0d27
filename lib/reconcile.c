/*
 * Across registries (DOMAIN.md §7.7): every unit issued by any of the
 * registries given is held in exactly one of them. A registry keeps the row
 * of a block it transferred out (account NULL), so "held" means a row with an
 * account: units in cancellation and retirement accounts are held there for
 * good. This reads each store's blocks once, sorts the held ranges of all of
 * them by serial, and walks them against each originating registry's
 * issuances: an overlap is a unit in two registries, a gap one in none, and
 * a held serial outside its registry's issuances one that was never issued.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"

typedef struct held {
  char origin[16];
  int64_t first, last;
  size_t node;
} held;

typedef struct span_list {
  held *v;
  size_t n, cap;
} span_list;

static int push(span_list *l, const char *origin, int64_t first, int64_t last, size_t node) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    held *g = realloc(l->v, cap * sizeof *g);
    if (!g) return -1;
    l->v = g;
    l->cap = cap;
  }
  held *h = &l->v[l->n++];
  snprintf(h->origin, sizeof h->origin, "%s", origin);
  h->first = first;
  h->last = last;
  h->node = node;
  return 0;
}

static int collect(jcm *j, size_t node, const char *sql, span_list *l) {
  jcm_store *st = jcm__store(j);
  jcm_stmt *s = db_q(st, sql, "");
  if (!s) return -1;
  int step, rc = 0;
  while (rc == 0 && (step = db_step(st, s)) == JCM_ROW)
    rc = push(l, col_text(st, s, 0), col_int(st, s, 1), col_int(st, s, 2), node);
  db_reset(st, s);
  return rc == 0 && step == JCM_DONE ? 0 : -1;
}

static int by_serial(const void *a, const void *b) {
  const held *x = a, *y = b;
  int o = strcmp(x->origin, y->origin);
  if (o) return o;
  return x->first < y->first ? -1 : x->first > y->first;
}

static void problem(json_t *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(json_t *problems, const char *fmt, ...) {
  char buf[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (json_array_size(problems) < 100) json_array_append_new(problems, json_string(buf));
}

/* No serial held twice. */
static void overlaps(jcm *const *nodes, const span_list *h, json_t *problems) {
  for (size_t i = 1; i < h->n; i++) {
    const held *a = &h->v[i - 1], *b = &h->v[i];
    if (strcmp(a->origin, b->origin) == 0 && b->first <= a->last)
      problem(problems, "%s serial %lld is held in %s and in %s", b->origin, (long long)b->first,
              jcm_registry(nodes[a->node]), jcm_registry(nodes[b->node]));
  }
}

/* Every issued serial of the registries given is held somewhere. */
static void gaps(const span_list *issued, const span_list *h, json_t *problems, int64_t *units) {
  size_t k = 0;
  for (size_t i = 0; i < issued->n; i++) {
    const held *is = &issued->v[i];
    int64_t next = is->first;
    while (k < h->n && by_serial(&h->v[k], is) < 0 &&
           !(strcmp(h->v[k].origin, is->origin) == 0 && h->v[k].last >= is->first))
      k++;
    for (; k < h->n && strcmp(h->v[k].origin, is->origin) == 0 && h->v[k].first <= is->last; k++) {
      if (h->v[k].first > next) break;
      if (h->v[k].last >= next) next = h->v[k].last == INT64_MAX ? INT64_MAX : h->v[k].last + 1;
      *units += h->v[k].last - h->v[k].first + 1;
      if (h->v[k].last >= is->last) break;
    }
    if (next <= is->last && !(next == INT64_MAX && is->last == INT64_MAX && k < h->n))
      problem(problems, "%s serial %lld of an issuance is held in none of the registries", is->origin, (long long)next);
  }
}

/* The last issuance sorting at or before x (by origin and first serial). */
static const held *issuance_before(const span_list *issued, const held *x) {
  size_t lo = 0, hi = issued->n; /* the answer is lo - 1 */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (by_serial(&issued->v[mid], x) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo ? &issued->v[lo - 1] : NULL;
}

/* Every held serial of a registry given was issued by it: a peer can send
 * serials of its own origin that it never issued, and only here, where its
 * issuances are known, does that show. (A block lies in one issuance.) */
static void unissued(jcm *const *nodes, size_t n, const span_list *issued, const span_list *h, json_t *problems) {
  for (size_t i = 0; i < h->n; i++) {
    const held *x = &h->v[i];
    int known = 0;
    for (size_t k = 0; k < n && !known; k++)
      known = strcmp(jcm_registry(nodes[k]), x->origin) == 0;
    const held *is = known ? issuance_before(issued, x) : NULL;
    if (known && !(is && strcmp(is->origin, x->origin) == 0 && x->last <= is->last))
      problem(problems, "%s serials %lld-%lld are held in %s but were never issued", x->origin, (long long)x->first,
              (long long)x->last, jcm_registry(nodes[x->node]));
  }
}

int jcm_reconcile(jcm *const *nodes, size_t n, json_t **report) {
  static const char q_held[] = "SELECT origin, first, last FROM block WHERE account IS NOT NULL";
  static const char q_issued[] = "SELECT r.id, i.first, i.last FROM issuance i, registry r WHERE r.self = 1";
  span_list h = {0}, issued = {0};
  *report = NULL;
  int rc = JCM_OK;
  for (size_t i = 0; i < n && rc == JCM_OK; i++)
    if (collect(nodes[i], i, q_held, &h) != 0 || collect(nodes[i], i, q_issued, &issued) != 0) rc = JCM_ERROR;
  if (rc == JCM_OK) {
    /* qsort must not get NULL, which an empty list has: a registry that
     * issued nothing, or stores that hold nothing */
    if (h.n) qsort(h.v, h.n, sizeof *h.v, by_serial);
    if (issued.n) qsort(issued.v, issued.n, sizeof *issued.v, by_serial);
    json_t *problems = json_array(), *names = json_array();
    int64_t units = 0;
    overlaps(nodes, &h, problems);
    gaps(&issued, &h, problems, &units);
    unissued(nodes, n, &issued, &h, problems);
    for (size_t i = 0; i < n; i++)
      json_array_append_new(names, json_string(jcm_registry(nodes[i])));
    int ok = json_array_size(problems) == 0;
    *report = json_pack("{s:b,s:o,s:I,s:o}", "ok", ok, "registries", names, "units_held", (json_int_t)units, "problems",
                        problems);
    rc = ok ? JCM_OK : JCM_REFUSED;
  }
  free(h.v);
  free(issued.v);
  return rc;
}
