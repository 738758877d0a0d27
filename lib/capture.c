/*
 * Movement rows kept in memory by verify's replay instead of in its store.
 *
 * The movement table is written by apply and read by no apply: it serves
 * statements, balances at an entry and the invariants, all on the stored
 * state. So verify's replay keeps the rows its events produce here, in
 * entry order, and compares them with the stored table (lib/verify.c);
 * two SQL inserts a transfer were a sixth of the replay's time
 * (docs/benchmarks.md). What the table would refuse is refused here too:
 * a missing account or transaction (NOT NULL), and a second row of one
 * account at one entry (the key). The AEF report's replay, which queries
 * its store, writes the table as the engine does.
 *
 * Rows are appended in entry order, and those of one entry are kept sorted
 * by account as SQLite's BINARY collation sorts (bytes, then length), so
 * the rows come out in the stored table's order (seq, account). Their
 * texts live in chunks of a bump allocator: a million transfers make two
 * million rows, and one malloc each cost more than the insert it replaced.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK_BYTES (1 << 20)

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  char bytes[];
} chunk;

typedef struct {
  const char *name;
  int64_t value;
} kept_counter;

struct jcm_capture {
  jcm_movement_row *rows;
  size_t n, cap;
  chunk *texts;           /* the newest first */
  kept_counter *counters; /* a few: tx, serial, issuance, account, ... */
  size_t n_counters, cap_counters;
};

jcm_capture *jcm__capture_new(void) { return calloc(1, sizeof(jcm_capture)); }

void jcm__capture_free(jcm_capture *cap) {
  if (!cap) return;
  for (chunk *k = cap->texts, *next; k; k = next) {
    next = k->next;
    free(k);
  }
  free(cap->rows);
  free(cap->counters);
  free(cap);
}

/* items (n of them, room for *cap, each size bytes) with room for one
 * more, doubling from first; NULL out of memory (items is kept). */
static void *room(void *items, size_t n, size_t *cap, size_t first, size_t size) {
  if (n < *cap) return items;
  size_t grown = *cap ? *cap * 2 : first;
  void *g = realloc(items, grown * size);
  if (g) *cap = grown;
  return g;
}

/* A copy of the n bytes of s, NUL-terminated, or NULL out of memory. */
static const char *keep(jcm_capture *cap, const char *s, size_t n) {
  chunk *k = cap->texts;
  if (!k || k->cap - k->used < n + 1) {
    size_t size = n + 1 > CHUNK_BYTES ? n + 1 : CHUNK_BYTES;
    chunk *g = malloc(sizeof *g + size);
    if (!g) return NULL;
    g->next = k;
    g->used = 0;
    g->cap = size;
    cap->texts = k = g;
  }
  char *p = k->bytes + k->used;
  memcpy(p, s, n);
  p[n] = 0;
  k->used += n + 1;
  return p;
}

static int text_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

int jcm__capture_movement(jcm_capture *cap, const char *account, int64_t seq, int64_t dir, const char *tx,
                          int64_t quantity, const char *ranges) {
  if (!account || !tx || !ranges) return 1;
  jcm_movement_row *rows = room(cap->rows, cap->n, &cap->cap, 4096, sizeof *rows);
  if (!rows) return -1;
  cap->rows = rows;
  jcm_movement_row r = {.seq = seq, .dir = dir, .quantity = quantity};
  r.account_len = strlen(account);
  r.tx_len = strlen(tx);
  r.ranges_len = strlen(ranges);
  /* its place among the rows of its entry, which are the last ones */
  size_t at = cap->n;
  while (at > 0 && cap->rows[at - 1].seq == seq) {
    int c = text_cmp(cap->rows[at - 1].account, cap->rows[at - 1].account_len, account, r.account_len);
    if (c == 0) return 2;
    if (c < 0) break;
    at--;
  }
  if (!(r.account = keep(cap, account, r.account_len)) || !(r.tx = keep(cap, tx, r.tx_len)) ||
      !(r.ranges = keep(cap, ranges, r.ranges_len)))
    return -1;
  memmove(&cap->rows[at + 1], &cap->rows[at], (cap->n - at) * sizeof *cap->rows);
  cap->rows[at] = r;
  cap->n++;
  return 0;
}

size_t jcm__capture_count(const jcm_capture *cap) { return cap->n; }

const jcm_movement_row *jcm__capture_row(const jcm_capture *cap, size_t i) { return &cap->rows[i]; }

static kept_counter *find_counter(jcm_capture *cap, const char *name) {
  for (size_t i = 0; i < cap->n_counters; i++)
    if (strcmp(cap->counters[i].name, name) == 0) return &cap->counters[i];
  return NULL;
}

int jcm__capture_counter(jcm_capture *cap, const char *name, int64_t value) {
  kept_counter *k = find_counter(cap, name);
  if (k) {
    k->value = value;
    return 0;
  }
  kept_counter *counters = room(cap->counters, cap->n_counters, &cap->cap_counters, 16, sizeof *counters);
  if (!counters) return -1;
  cap->counters = counters;
  const char *kept = keep(cap, name, strlen(name));
  if (!kept) return -1;
  cap->counters[cap->n_counters++] = (kept_counter){kept, value};
  return 0;
}

int jcm__capture_write_counters(const jcm_capture *cap, jcm_store *st) {
  for (size_t i = 0; i < cap->n_counters; i++)
    if (jcm__counter_write(st, cap->counters[i].name, cap->counters[i].value) != 0) return -1;
  return 0;
}
