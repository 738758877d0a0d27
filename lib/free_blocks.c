/*
 * The writer's memory of each account's free blocks, largest first: what a
 * pick by quantity reads instead of an index by account and size.
 *
 * Why: an index by size changes twice a transfer (the source's cut block
 * moves in it, the destination's new block enters it), at random places
 * of a tree as large as the block table: in a batch of 1,000 transfers up
 * to two thousand of its pages, of the 3,300 a commit wrote. The index by
 * account and serial that serves readers changes once (the new block): a
 * cut keeps its key. docs/design.md, "Units as blocks".
 *
 * An account's list is read from the store the first time a pick needs it
 * (jcm__pick_sql, the same order the pick had from the index), then kept
 * in step by the one move the hot path makes (move_within, blocks.c:
 * jcm__free_moved). Anything else that changes blocks forgets every list
 * (jcm__free_forget): issuance, splits of the general case, reservations,
 * transfers between registries. So does every rollback, and a write by
 * another connection (the store's data_version, read when the write lock
 * is taken). A list is therefore never older than the store it was read
 * from; a wrong one would pick other units than the store's order, which
 * test_model's model and the differential test in test_smoke catch. The
 * tests also set jcm__free_audit: every pick from a kept list then reads
 * the store's too and stops the program where they differ, so a write that
 * forgets to forget is found by any test that picks after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int jcm__free_audit;

/* more than this many blocks kept, and the memory starts over */
#define FREE_MAX_BLOCKS (8 * 1024 * 1024)

typedef struct {
  char account[32];
  jcm_range *v; /* largest first; equal sizes by origin, then first, descending */
  size_t n, cap;
} free_list;

struct jcm_free_blocks {
  free_list *slots; /* open addressing by account; account[0] == 0: empty */
  size_t cap, used, blocks;
};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* The pick's order (jcm__pick_sql's ORDER BY): <0 when a comes first. */
static int order(const jcm_range *a, const jcm_range *b) {
  int64_t sa = a->last - a->first, sb = b->last - b->first;
  if (sa != sb) return sa > sb ? -1 : 1;
  int o = strcmp(a->origin, b->origin);
  if (o) return -o;
  return a->first == b->first ? 0 : a->first > b->first ? -1 : 1;
}

void jcm__free_forget(jcm *j) {
  jcm_free_blocks *m = j->free;
  if (!m || !m->used) return;
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].v);
  memset(m->slots, 0, m->cap * sizeof *m->slots);
  m->used = m->blocks = 0;
}

void jcm__free_close(jcm *j) {
  jcm__free_forget(j);
  if (j->free) free(j->free->slots);
  free(j->free);
  j->free = NULL;
}

/* The slot of account: its list, or the empty slot where it would go. */
static free_list *slot(jcm_free_blocks *m, const char *account) {
  size_t mask = m->cap - 1;
  for (size_t i = (size_t)hash(account) & mask;; i = (i + 1) & mask)
    if (!m->slots[i].account[0] || strcmp(m->slots[i].account, account) == 0) return &m->slots[i];
}

static free_list *find(jcm *j, const char *account) {
  if (!j->free || !j->free->used) return NULL;
  free_list *l = slot(j->free, account);
  return l->account[0] ? l : NULL;
}

/* Room for one more account: the table at most half full. */
static int make_room(jcm *j) {
  if (!j->free && !(j->free = calloc(1, sizeof *j->free))) return -1;
  jcm_free_blocks *m = j->free;
  if (m->blocks > FREE_MAX_BLOCKS) jcm__free_forget(j);
  if (2 * (m->used + 1) <= m->cap) return 0;
  size_t cap = m->cap ? 2 * m->cap : 1024;
  free_list *old = m->slots, *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  size_t old_cap = m->cap;
  m->slots = slots;
  m->cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].account[0]) *slot(m, old[i].account) = old[i];
  free(old);
  return 0;
}

static int push(free_list *l, const char *origin, int64_t first, int64_t last) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    jcm_range *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  jcm_range *x = &l->v[l->n++];
  jcm__copy(x->origin, sizeof x->origin, origin);
  x->first = first;
  x->last = last;
  return 0;
}

/* Reads account's free blocks in the pick's order. */
static int load(jcm_ctx *c, free_list *l) {
  jcm_stmt *s = db_q(c->st, jcm__pick_sql, "sssii", l->account, NULL, NULL, (int64_t)0, (int64_t)0);
  if (!s) return -1;
  int step, rc = 0;
  while (rc == 0 && (step = db_step(c->st, s)) == JCM_ROW)
    rc = push(l, col_text(c->st, s, 0), col_int(c->st, s, 1), col_int(c->st, s, 2));
  db_reset(c->st, s);
  return rc == 0 && step == JCM_DONE ? 0 : -1;
}

/* jcm__free_audit: l against the store; -1 when the store fails. */
static int audit(jcm_ctx *c, const free_list *l) {
  free_list fresh = {0};
  jcm__copy(fresh.account, sizeof fresh.account, l->account);
  int rc = load(c, &fresh);
  size_t i = 0;
  while (rc == 0 && i < l->n && i < fresh.n && order(&l->v[i], &fresh.v[i]) == 0 && l->v[i].last == fresh.v[i].last)
    i++;
  if (rc == 0 && (i < l->n || i < fresh.n)) {
    fprintf(stderr, "jcm: the free blocks kept for %s differ from the store's at %zu of %zu (store: %zu)\n", l->account,
            i, l->n, fresh.n);
    abort();
  }
  free(fresh.v);
  return rc;
}

int jcm__free_list(jcm_ctx *c, const char *account, const jcm_range **v, size_t *n) {
  free_list *l = find(c->j, account);
  if (l && jcm__free_audit && audit(c, l) != 0) return -1;
  if (!l) {
    if (strlen(account) >= sizeof l->account || make_room(c->j) != 0) return 1;
    l = slot(c->j->free, account);
    jcm__copy(l->account, sizeof l->account, account);
    c->j->free->used++;
    if (load(c, l) != 0) {
      jcm__free_forget(c->j);
      return -1;
    }
    c->j->free->blocks += l->n;
  }
  *v = l->v;
  *n = l->n;
  return 0;
}

/* Where x is in l, or where it would go. */
static size_t position(const free_list *l, const jcm_range *x) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (order(&l->v[mid], x) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int add(jcm *j, free_list *l, const char *origin, int64_t first, int64_t last) {
  jcm_range x = {.first = first, .last = last};
  jcm__copy(x.origin, sizeof x.origin, origin);
  size_t at = position(l, &x);
  if (push(l, origin, first, last) != 0) return -1;
  memmove(&l->v[at + 1], &l->v[at], (l->n - 1 - at) * sizeof x);
  l->v[at] = x;
  j->free->blocks++;
  return 0;
}

static int drop(jcm *j, free_list *l, const char *origin, int64_t first, int64_t last) {
  jcm_range x = {.first = first, .last = last};
  jcm__copy(x.origin, sizeof x.origin, origin);
  size_t at = position(l, &x);
  if (at == l->n || order(&l->v[at], &x) != 0 || l->v[at].last != last) return -1;
  memmove(&l->v[at], &l->v[at + 1], (l->n - 1 - at) * sizeof x);
  l->n--;
  j->free->blocks--;
  return 0;
}

void jcm__free_moved(jcm *j, const char *origin, int64_t bf, int64_t bl, int64_t f, int64_t l, const char *from,
                     const char *to) {
  free_list *src = find(j, from), *dst = find(j, to);
  int rc = origin ? 0 : -1; /* a replayed entry may lack it */
  if (src) {
    rc = drop(j, src, origin, bf, bl);
    if (rc == 0 && bf < f) rc = add(j, src, origin, bf, f - 1);
    if (rc == 0 && bl > l) rc = add(j, src, origin, l + 1, bl);
  }
  if (rc == 0 && dst) rc = add(j, dst, origin, f, l);
  if (rc != 0) jcm__free_forget(j); /* not what the store holds: read it again */
}

int jcm__free_sync(jcm *j) {
  jcm_stmt *s = db_q(j->st, "PRAGMA data_version", "");
  int64_t v = s && db_step(j->st, s) == JCM_ROW ? col_int(j->st, s, 0) : -1;
  if (s) db_reset(j->st, s);
  if (v < 0 || v != j->free_version) jcm__free_forget(j);
  j->free_version = v;
  return v < 0 ? -1 : 0;
}
