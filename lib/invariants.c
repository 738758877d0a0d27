/*
 * The invariants of DOMAIN.md §7 that apply to one registry, checked on the
 * stored state as verify's comparison reads it (lib/verify.c). Each stored
 * row of the registry, account, issuance, block and movement tables is
 * handed here once, so the stored state is read once, not once for the
 * comparison and again for each invariant. As SQL queries, on a store of
 * 413,111 events, the holdings rule alone took 1.16 s: it summed each
 * account's blocks through the account's index, a random row read a block
 * (docs/benchmarks.md).
 *
 * Rows come in each table's comparison order (jcm__state_order): the
 * registry, accounts and issuances before the blocks, the blocks by origin
 * and first serial, the movements by entry. A block's reservation or
 * transfer out names a row of a later table (xtx, pending): when any block
 * names one, those blocks are checked at the end with the rule's SQL.
 * The rules on small tables (a pending transaction's reservation, a period
 * issued once) stay queries.
 *
 * Values are compared as SQL compares them: a key is a text's bytes, all of
 * them (a text with a NUL inside is not the text before the NUL), and a
 * value that is not text matches no key (a blob id of a doubly tampered
 * store, which SQL would join to an equal blob, is reported broken here).
 * A value is only ever read as its own type: reading a blob as text turns
 * it into text in place, which the comparison, run on the row before, must
 * not see. Sums that pass 2^63 - 1 break the invariant they belong to,
 * where SQL stopped with "integer overflow"; a table without a column a
 * rule reads leaves the rule undecided, as SQL's "no such column" did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

enum { T_OTHER, T_REGISTRY, T_ACCOUNT, T_ISSUANCE, T_BLOCK, T_MOVEMENT };
/* the columns read, found by name in each table */
enum {
  K_ID,
  K_SELF,
  K_TOTAL,
  K_FIRST,
  K_LAST,
  K_ORIGIN,
  K_ISSUANCE,
  K_ACCOUNT,
  K_RESERVED,
  K_OUT,
  K_DIR,
  K_QUANTITY,
  NCOL
};
static const char *const col_names[NCOL] = {"id",       "self",    "total",       "first",  "last", "origin",
                                            "issuance", "account", "reserved_tx", "out_tx", "dir",  "quantity"};
static const char *const tables[] = {"", "registry", "account", "issuance", "block", "movement"};

typedef struct {
  int64_t total, first, last; /* the issuance row */
  int64_t units, lo, hi;      /* its blocks */
  int blocks, overflow;
} issued;

typedef struct {
  int64_t held, moved;
  int overflow;
} holding;

/* A growing array of fixed-size items. */
typedef struct {
  void *items;
  size_t n, cap, size;
} vec;

struct jcm_inv {
  json_t *problems;     /* the invariants' own, added after the comparison's */
  int table, col[NCOL]; /* the table whose rows come now, and its columns' positions */
  unsigned unread;      /* tables not read whole (bits by T_*): their invariants are undecided */
  unsigned char *self;  /* this registry's id (registry.self = 1), the first in id order */
  size_t self_len;
  jcm_ix account_ix;         /* account id -> index in accounts (a million-event verify's three
                              * million look-ups were a sixth of its comparison in jansson objects) */
  vec accounts, account_ids; /* holding; char * (owned, for the report) */
  jcm_ix issuance_ix;        /* issuance id -> index in issuances */
  vec issuances, issuance_ids;
  unsigned char *origin; /* the previous block's origin, for the overlap check */
  size_t origin_len;
  int64_t prev_last;
  int have_prev;
  int origin_type;   /* of the previous block's origin */
  int64_t naming_tx; /* blocks with a reservation or a transfer out, checked at the end */
  int reported;      /* checks already reported once (bits) */
};

enum { R_TOTALS = 1, R_NO_ISSUANCE = 2, R_OVERLAP = 4, R_STATE = 8, R_HOLDINGS = 16 };

static void *vec_push(vec *v) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    void *g = realloc(v->items, cap * v->size);
    if (!g) return NULL;
    v->items = g;
    v->cap = cap;
  }
  return (char *)v->items + v->size * v->n++;
}

jcm_inv *jcm__inv_new(void) {
  jcm_inv *inv = calloc(1, sizeof *inv);
  if (!inv) return NULL;
  inv->problems = json_array();
  inv->accounts.size = sizeof(holding);
  inv->account_ids.size = inv->issuance_ids.size = sizeof(char *);
  inv->issuances.size = sizeof(issued);
  if (!inv->problems) {
    jcm__inv_free(inv);
    return NULL;
  }
  return inv;
}

static void free_strings(vec *v) {
  for (size_t i = 0; i < v->n; i++)
    free(((char **)v->items)[i]);
  free(v->items);
}

void jcm__inv_free(jcm_inv *inv) {
  if (!inv) return;
  json_decref(inv->problems);
  jcm__ix_free(&inv->account_ix);
  jcm__ix_free(&inv->issuance_ix);
  free(inv->accounts.items);
  free_strings(&inv->account_ids);
  free(inv->issuances.items);
  free_strings(&inv->issuance_ids);
  free(inv->self);
  free(inv->origin);
  free(inv);
}

int jcm__inv_reads(const char *table) {
  for (size_t t = 1; t < sizeof tables / sizeof tables[0]; t++)
    if (strcmp(table, tables[t]) == 0) return 1;
  return 0;
}

/* The columns each table's rules read (bits by K_*). */
static unsigned needed(int table) {
  switch (table) {
  case T_REGISTRY: return 1u << K_ID | 1u << K_SELF;
  case T_ACCOUNT: return 1u << K_ID;
  case T_ISSUANCE: return 1u << K_ID | 1u << K_TOTAL | 1u << K_FIRST | 1u << K_LAST;
  case T_BLOCK:
    return 1u << K_ORIGIN | 1u << K_FIRST | 1u << K_LAST | 1u << K_ISSUANCE | 1u << K_ACCOUNT | 1u << K_RESERVED |
           1u << K_OUT;
  case T_MOVEMENT: return 1u << K_ACCOUNT | 1u << K_DIR | 1u << K_QUANTITY;
  default: return 0;
  }
}

void jcm__inv_table(jcm_inv *inv, const char *table, jcm_store *st, jcm_stmt *s) {
  if (!inv) return;
  inv->table = T_OTHER;
  for (int t = 1; t < (int)(sizeof tables / sizeof tables[0]); t++)
    if (strcmp(table, tables[t]) == 0) inv->table = t;
  int cols = st->ops->column_count(s);
  for (int c = 0; c < NCOL; c++) {
    inv->col[c] = -1;
    for (int i = 0; i < cols; i++)
      if (strcmp(st->ops->column_name(s, i), col_names[c]) == 0) inv->col[c] = i;
    if (inv->col[c] < 0 && (needed(inv->table) & 1u << c)) { /* as SQL's "no such column" */
      jcm__problem(inv->problems, "invariant", table, "cannot run: the table has no column %s", col_names[c]);
      inv->unread |= 1u << inv->table;
      inv->table = T_OTHER;
      return;
    }
  }
}

void jcm__inv_unread(jcm_inv *inv, const char *table) {
  if (!inv) return;
  for (int t = 1; t < (int)(sizeof tables / sizeof tables[0]); t++)
    if (strcmp(table, tables[t]) == 0) inv->unread |= 1u << t;
}

/* A text column's bytes, or NULL when the value is not text (NULL, a
 * number, a blob: none equals a text key). */
static const char *text_of(jcm_store *st, jcm_stmt *s, int i, size_t *len) {
  if (i < 0 || st->ops->column_type(s, i) != JCM_TEXT) return NULL;
  const char *t = st->ops->column_text(s, i);
  *len = (size_t)st->ops->column_bytes(s, i);
  return t;
}

static int64_t int_of(jcm_store *st, jcm_stmt *s, int i) { return i < 0 ? 0 : st->ops->column_int(s, i); }

/* Adds key to ix as the next index of items/ids (without ix: an item no
 * key finds, named key in reports); 0, or -1 out of memory. A key seen
 * again keeps its first row, as a join would find either. */
static int add_key(jcm_ix *ix, vec *items, vec *ids, const char *key, size_t len, void **item) {
  *item = NULL;
  if (ix && jcm__ix_find(ix, key, len) >= 0) return 0;
  char *copy = malloc(len + 1);
  void *slot = copy ? vec_push(items) : NULL;
  char **id = slot ? vec_push(ids) : NULL;
  if (!id) {
    if (slot) items->n--;
    free(copy);
    return -1;
  }
  memcpy(copy, key, len);
  copy[len] = 0;
  *id = copy;
  memset(slot, 0, items->size);
  *item = slot;
  return ix ? jcm__ix_put(ix, copy, len, (int64_t)(items->n - 1)) : 0;
}

static void report(jcm_inv *inv, int bit, const char *name, const char *what, const char *where) {
  if (inv->reported & bit) return;
  inv->reported |= bit;
  jcm__problem(inv->problems, "invariant", name, "%s: %s", what, where);
}

/* "name=value" for the given columns of the row st is on. */
static void describe(jcm_store *st, jcm_stmt *s, const int *cols, int n, char *out, size_t size) {
  char v[128];
  out[0] = 0;
  for (int k = 0; k < n; k++) {
    size_t used = strlen(out);
    if (cols[k] < 0) continue;
    jcm__printable(st, s, cols[k], v, sizeof v);
    snprintf(out + used, size - used, "%s%s=%s", used ? " " : "", st->ops->column_name(s, cols[k]), v);
  }
}

static int registry_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  size_t len = 0;
  const char *id = text_of(st, s, inv->col[K_ID], &len);
  int self = inv->col[K_SELF] >= 0 && st->ops->column_type(s, inv->col[K_SELF]) == JCM_INT &&
             int_of(st, s, inv->col[K_SELF]) == 1;
  if (!self || !id || inv->self) return 0;
  if (!(inv->self = malloc(len ? len : 1))) return -1;
  memcpy(inv->self, id, len);
  inv->self_len = len;
  return 0;
}

static int account_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  size_t len = 0;
  const char *id = text_of(st, s, inv->col[K_ID], &len);
  void *item;
  return id ? add_key(&inv->account_ix, &inv->accounts, &inv->account_ids, id, len, &item) : 0;
}

static int issuance_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  size_t len = 0;
  const char *id = text_of(st, s, inv->col[K_ID], &len);
  issued *x;
  if (!id) { /* joins no block: its total must be 0 */
    if (add_key(NULL, &inv->issuances, &inv->issuance_ids, "(not text)", 10, (void **)&x) != 0) return -1;
  } else if (add_key(&inv->issuance_ix, &inv->issuances, &inv->issuance_ids, id, len, (void **)&x) != 0)
    return -1;
  if (x) {
    x->total = int_of(st, s, inv->col[K_TOTAL]);
    x->first = int_of(st, s, inv->col[K_FIRST]);
    x->last = int_of(st, s, inv->col[K_LAST]);
  }
  return 0;
}

/* The serials in [first, last], or -1 when that passes 2^63 - 1. */
static int64_t units_of(int64_t first, int64_t last) {
  int64_t d, n;
  if (__builtin_sub_overflow(last, first, &d) || __builtin_add_overflow(d, 1, &n)) return -1;
  return n;
}

/* No overlap: each block starts after the one before it of the same
 * origin ends. 0, or -1 out of memory. */
static int check_overlap(jcm_inv *inv, jcm_store *st, jcm_stmt *s, int64_t first, int64_t last) {
  int i = inv->col[K_ORIGIN], type = st->ops->column_type(s, i);
  const void *origin = type == JCM_TEXT   ? (const void *)st->ops->column_text(s, i)
                       : type == JCM_BLOB ? st->ops->column_blob(s, i)
                                          : NULL; /* never read as another type: that would convert it */
  size_t len = origin ? (size_t)st->ops->column_bytes(s, i) : 0;
  int same = inv->have_prev && type == inv->origin_type && len == inv->origin_len &&
             (!len || memcmp(origin, inv->origin, len) == 0);
  if (first > last || first < 1 || (same && first <= inv->prev_last)) {
    char where[300];
    int cols[] = {inv->col[K_ORIGIN], inv->col[K_FIRST], inv->col[K_LAST]};
    describe(st, s, cols, 3, where, sizeof where);
    report(inv, R_OVERLAP, "no overlap", "blocks overlap or are inverted", where);
  }
  if (!same) {
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, origin, len);
    inv->origin_type = type;
    free(inv->origin);
    inv->origin = copy;
    inv->origin_len = len;
  }
  inv->prev_last = last;
  inv->have_prev = 1;
  return 0;
}

/* Conservation: the block counts toward its issuance; a block of this
 * registry must belong to one. */
static void count_in_issuance(jcm_inv *inv, jcm_store *st, jcm_stmt *s, int64_t first, int64_t last, int64_t n) {
  size_t len = 0, olen = 0;
  const char *id = text_of(st, s, inv->col[K_ISSUANCE], &len);
  int64_t k = jcm__ix_find(&inv->issuance_ix, id, len);
  if (k < 0) {
    const char *origin = text_of(st, s, inv->col[K_ORIGIN], &olen);
    if (origin && inv->self && olen == inv->self_len && memcmp(origin, inv->self, olen) == 0) {
      char where[300];
      int cols[] = {inv->col[K_ORIGIN], inv->col[K_FIRST], inv->col[K_ISSUANCE]};
      describe(st, s, cols, 3, where, sizeof where);
      report(inv, R_NO_ISSUANCE, "conservation", "a block of this registry belongs to no issuance", where);
    }
    return;
  }
  issued *x = (issued *)inv->issuances.items + k;
  if (n < 0 || __builtin_add_overflow(x->units, n, &x->units)) x->overflow = 1;
  x->lo = x->blocks && x->lo < first ? x->lo : first;
  x->hi = x->blocks && x->hi > last ? x->hi : last;
  x->blocks++;
}

/* One state: a block is held by a known account, or transferred out (the
 * transfer completed); one reserved is held. Blocks naming a transaction
 * are checked at the end, once the tables of transactions have been read. */
static void check_state(jcm_inv *inv, jcm_store *st, jcm_stmt *s, int64_t n) {
  size_t len = 0;
  int acc_null = inv->col[K_ACCOUNT] < 0 || st->ops->column_type(s, inv->col[K_ACCOUNT]) == JCM_NULL;
  const char *account = text_of(st, s, inv->col[K_ACCOUNT], &len);
  int64_t k = jcm__ix_find(&inv->account_ix, account, len);
  int names_tx = !col_null(st, s, inv->col[K_RESERVED]) || !col_null(st, s, inv->col[K_OUT]);
  if (k >= 0) {
    holding *h = (holding *)inv->accounts.items + k;
    if (n < 0 || __builtin_add_overflow(h->held, n, &h->held)) h->overflow = 1;
  }
  if (names_tx) {
    inv->naming_tx++;
  } else if (acc_null || k < 0) {
    char where[300];
    int cols[] = {inv->col[K_ORIGIN], inv->col[K_FIRST], inv->col[K_ACCOUNT]};
    describe(st, s, cols, 3, where, sizeof where);
    report(inv, R_STATE, "one state",
           "a block is in no account and not transferred out, or reserved by an unknown or finished transaction",
           where);
  }
}

static int block_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  int64_t first = int_of(st, s, inv->col[K_FIRST]), last = int_of(st, s, inv->col[K_LAST]);
  int64_t n = units_of(first, last);
  if (check_overlap(inv, st, s, first, last) != 0) return -1;
  count_in_issuance(inv, st, s, first, last, n);
  check_state(inv, st, s, n);
  return 0;
}

static void movement_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  size_t len = 0;
  const char *account = text_of(st, s, inv->col[K_ACCOUNT], &len);
  int64_t k = jcm__ix_find(&inv->account_ix, account, len), moved;
  if (k < 0) return;
  holding *h = (holding *)inv->accounts.items + k;
  if (__builtin_mul_overflow(int_of(st, s, inv->col[K_DIR]), int_of(st, s, inv->col[K_QUANTITY]), &moved) ||
      __builtin_add_overflow(h->moved, moved, &h->moved))
    h->overflow = 1;
}

int jcm__inv_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s) {
  if (!inv) return 0;
  switch (inv->table) {
  case T_REGISTRY: return registry_row(inv, st, s);
  case T_ACCOUNT: return account_row(inv, st, s);
  case T_ISSUANCE: return issuance_row(inv, st, s);
  case T_BLOCK: return block_row(inv, st, s);
  case T_MOVEMENT: movement_row(inv, st, s); return 0;
  default: return 0;
  }
}

/* The blocks that name a transaction, with the rule's SQL (the first
 * that breaks it): held or transferred out (that transfer completed), and
 * a reservation held by an external transfer still proposed or by a
 * transaction awaiting approval from the block's account. */
static void check_blocks_naming_tx(jcm_inv *inv, jcm_store *st) {
  static const char q[] = "SELECT b.origin, b.first, b.account, b.reserved_tx, b.out_tx FROM block b"
                          " LEFT JOIN account a ON a.id = b.account LEFT JOIN xtx r ON r.id = b.reserved_tx"
                          " AND r.status = 'proposed' LEFT JOIN pending p ON p.id = b.reserved_tx"
                          " AND p.status = 'awaiting approval' AND p.from_account = b.account"
                          " LEFT JOIN xtx o ON o.id = b.out_tx AND o.dir = 'out' AND o.status = 'completed'"
                          " WHERE (b.reserved_tx IS NOT NULL OR b.out_tx IS NOT NULL)"
                          " AND ((b.account IS NULL) = (o.id IS NULL) OR (b.account IS NOT NULL AND a.id IS NULL)"
                          " OR (b.reserved_tx IS NOT NULL AND ((r.id IS NULL AND p.id IS NULL) OR b.account IS NULL)))";
  if (!inv->naming_tx || (inv->reported & R_STATE)) return;
  jcm_stmt *s = st->ops->prepare_temp(st, q);
  int step = s ? db_step(st, s) : JCM_STEP_ERROR;
  if (step == JCM_ROW) {
    char where[300];
    int cols[] = {0, 1, 2};
    describe(st, s, cols, 3, where, sizeof where);
    report(inv, R_STATE, "one state",
           "a block is in no account and not transferred out, or reserved by an unknown or finished transaction",
           where);
  } else if (step == JCM_STEP_ERROR) {
    jcm__problem(inv->problems, "invariant", "one state", "cannot run: %s", st->ops->errmsg(st));
  }
  if (s) st->ops->finalize(s);
}

/* Conservation: each issuance's blocks add up to its total, inside its
 * serials. */
static void check_totals(jcm_inv *inv) {
  for (size_t i = 0; i < inv->issuances.n && !(inv->reported & R_TOTALS); i++) {
    issued *x = (issued *)inv->issuances.items + i;
    if (!x->overflow && x->units == x->total && (!x->blocks || (x->lo >= x->first && x->hi <= x->last))) continue;
    char where[300], units[24];
    snprintf(units, sizeof units, x->overflow ? "(past 2^63-1)" : "%lld", (long long)x->units);
    snprintf(where, sizeof where, "issuance=%.100s total=%lld in_blocks=%s", ((char **)inv->issuance_ids.items)[i],
             (long long)x->total, units);
    report(inv, R_TOTALS, "conservation", "the blocks of an issuance do not add up to what was issued", where);
  }
}

/* Each account holds what its movements add up to. */
static void check_holdings(jcm_inv *inv) {
  for (size_t i = 0; i < inv->accounts.n && !(inv->reported & R_HOLDINGS); i++) {
    holding *h = (holding *)inv->accounts.items + i;
    if (!h->overflow && h->held == h->moved) continue;
    char where[300];
    if (h->overflow)
      snprintf(where, sizeof where, "account=%.100s (a sum passes 2^63-1)", ((char **)inv->account_ids.items)[i]);
    else
      snprintf(where, sizeof where, "account=%.100s held=%lld moved=%lld", ((char **)inv->account_ids.items)[i],
               (long long)h->held, (long long)h->moved);
    report(inv, R_HOLDINGS, "holdings agree with movements", "an account holds other than its movements add up to",
           where);
  }
}

/* A check whose tables were not all read whole is reported undecided. */
static int decided(jcm_inv *inv, const char *name, unsigned needs) {
  unsigned missing = inv->unread & needs;
  if (!missing) return 1;
  for (int t = 1; t < (int)(sizeof tables / sizeof tables[0]); t++)
    if (missing & (1u << t)) {
      jcm__problem(inv->problems, "invariant", name, "cannot run: the %s table could not be read whole", tables[t]);
      break;
    }
  return 0;
}

void jcm__inv_end(jcm_inv *inv, jcm_store *st, json_t *problems) {
  unsigned block = 1u << T_BLOCK, account = 1u << T_ACCOUNT;
  if (decided(inv, "conservation", block | 1u << T_ISSUANCE | 1u << T_REGISTRY)) check_totals(inv);
  decided(inv, "no overlap", block);
  if (decided(inv, "one state", block | account)) check_blocks_naming_tx(inv, st);
  if (decided(inv, "holdings agree with movements", block | account | 1u << T_MOVEMENT)) check_holdings(inv);
  jcm__problems_add(problems, inv->problems);
}
