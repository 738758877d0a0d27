/* What the library's modules share and nothing outside the library sees. */
#ifndef JCM_INTERNAL_H
#define JCM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "checks.h"
#include "jcm/jcm.h"
#include "store/store.h"

#define JCM_HASH_LEN 32
#define JCM_MAX_UNITS INT64_MAX /* serials and quantities are 1..2^63-1 */

/* Roles, as a bit set so a command can allow several. */
enum {
  R_ADMIN = 1u << 0,
  R_JCS = 1u << 1,
  R_HOLDER = 1u << 2,
  R_TPE = 1u << 3,
  R_AUDITOR = 1u << 4,
  R_PEER = 1u << 5,   /* a peer registry's messages, delivered by the link */
  R_SERVER = 1u << 6, /* the HTTP server itself: security events only */
};

/* A token that passed jcm_token_check, kept while the store is unchanged
 * (users.c): its user, and its expiry, which the clock can pass meanwhile. */
#define JCM_TOKEN_MEMO 8
typedef struct {
  char token[JCM_TOKEN_LEN + 1];
  char expires[32]; /* "" when it never expires */
  int64_t kept_ms;  /* by the handle's clock: an entry serves JCM_TOKEN_MEMO_MS at most */
  jcm_user user;
} jcm_token_memo;
#define JCM_TOKEN_MEMO_MS 5000
void jcm__memo_forget(jcm *j); /* users.c: wipes the memo (jcm_close) */

struct jcm {
  jcm_store *st;
  jcm_clock_fn clock;
  void *clock_ud;
  int in_batch;
  int batch_broken;   /* a command of the batch failed after writing: its commit rolls back (engine.c) */
  int64_t batch_mark; /* the store's change count when the batch's current command began */
  int self_unknown;   /* registry and party could not be read (jcm__load_self): read them again */
  int with_secret;    /* jcm_submit_secret is submitting: the command's secret is stored beside it */
  int in_read;        /* a read snapshot is open (jcm_read_begin) */
  char registry[16];  /* this node's registry id, "" before init */
  char party[4];
  jcm_token_memo memo[JCM_TOKEN_MEMO];
  int memo_n, memo_next;
  int64_t memo_version[2];      /* the store's version the memo holds for */
  struct jcm_capture *capture;  /* verify's replay: movement rows kept here, not in the store (capture.c) */
  struct jcm_kept_blocks *kept; /* verify's replay, during a move: moved blocks kept here (kept_blocks.c) */
  struct jcm_free_blocks *free; /* each account's free blocks for the pick, as read (free_blocks.c) */
  int64_t free_version;         /* the store's data_version those were read at */
};

/* One command on its way through the write path (or through replay). */
typedef struct jcm_ctx {
  jcm *j;
  jcm_store *st;
  const jcm_actor *actor;
  unsigned role;
  json_t *args; /* the validated command */
  json_t *out;  /* what the checks resolved: ids, serial ranges */
  jcm_check *chk;
  int64_t seq;   /* journal sequence of this event */
  char time[32]; /* journal time of this event */
  bool replay;
  /* set while tx.approve re-runs a held command: the transaction keeps the
   * id it was given when proposed (foureyes.c) */
  const char *fixed_tx;
  /* the source account's type, as jcm__check_source read it: holding the
   * command (foureyes.c) asks it again within the same transaction */
  char source_id[32], source_type[24];
} jcm_ctx;

/* util.c */
int jcm__refuse(jcm_ctx *c, int code, const char *field, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int jcm__dberr(jcm_ctx *c, const char *where);
void jcm__set_check(jcm_check *chk, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *jcm__s(json_t *o, const char *key);             /* string member or NULL */
int jcm__is(json_t *o, const char *key, const char *value); /* 1 when member key is the string value */
int64_t jcm__i(json_t *o, const char *key, int64_t dflt);   /* integer member */
void jcm__hex(const unsigned char *p, size_t n, char *out); /* out: 2n+1 */
/* Copies s (NULL: "") into out of n bytes, cut to fit; returns its length. */
size_t jcm__copy(char *out, size_t n, const char *s);
/* Writes v in decimal (no snprintf: a hot path); returns its length. */
size_t jcm__itoa(int64_t v, char out[24]);
char *jcm__canonical(json_t *v); /* sorted keys, compact; malloc'd */
/* Compact JSON for answers: the canonical writer's text where it can (a
 * third of json_dumps's cost), else json_dumps's, UTF-8 kept; malloc'd. */
char *jcm__compact(json_t *v);
/* JSON as json_loadb reads it (duplicate keys refused), from bytes in
 * jcm__canonical's form read without json_loadb; NULL when not JSON. */
json_t *jcm__read_canonical(const void *bytes, size_t n);
/* The same, NULL also for any JSON not in that form (for the tests). */
json_t *jcm__read_canonical_only(const void *bytes, size_t n);
void jcm__format_time(int64_t ms, char out[32]);
/* 1 when s has the journal's time form, 2026-11-28T15:15:57.123Z (such
 * times compare as text in time order) */
int jcm__is_time(const char *s);
unsigned jcm__role_bit(const char *role);
/* The organisation a holder actor speaks for: its name up to a '/' ("ORG/USER"). */
void jcm__actor_org(const jcm_actor *a, char out[72]);
int jcm__date_valid(const char *s);
int jcm__year_of(const char *date);
int jcm__decimal(const char *s, int places, int64_t *out);

/* access.c */
int jcm__query_public(const char *name);

/* ids.c */
int jcm__account_make(const char *registry, int type_code, int64_t seq, char out[32]);
int jcm__account_form(const char *id); /* 0 ok, C_FORMAT, C_CHECK_DIGITS */

/* schema.c */
int jcm__migrate(jcm_store *st, char *err, size_t errlen);
extern const char *const jcm__state_tables[]; /* compared by verify */
extern const char *const jcm__state_order[];  /* ORDER BY for each */

/* journal.c */
int jcm__journal_append(jcm_ctx *c, const char *cmd, unsigned char hash_out[JCM_HASH_LEN]);
/* The last entry's seq, hash and (when time is not NULL) time; 0 and zeros
 * for an empty journal. */
int jcm__journal_head(jcm_store *st, int64_t *seq, unsigned char hash[JCM_HASH_LEN], char time[32]);
void jcm__hash_event(const unsigned char prev[JCM_HASH_LEN], const void *bytes, size_t n,
                     unsigned char out[JCM_HASH_LEN]);

/* counters (engine.c): the checks read the next value, apply stores it
 * (verify's replay keeps it in the capture until the replay ends) */
int jcm__next(jcm_ctx *c, const char *name, int64_t *out);
int jcm__counter_set(jcm_ctx *c, const char *name, int64_t value);
int jcm__counter_write(jcm_store *st, const char *name, int64_t value);

/* refdata.c */
typedef struct jcm_partner {
  const char *iso3, *iso2, *name_en, *name_ja;
} jcm_partner;
int jcm__party_exists(jcm_store *st, const char *code);
int jcm__org_exists(jcm_store *st, const char *id);

/* The movements' index by account is kept within epochs of JCM_EPOCH
 * journal entries (schema.c, migration 13); a query names the epoch with
 * the index's own expression, or SQLite cannot use the index. */
#define JCM_EPOCH 4096
#define JCM_EPOCH_TEXT(n) #n
#define JCM_EPOCH_SQL_OF(n) "seq / " JCM_EPOCH_TEXT(n)
#define JCM_EPOCH_SQL JCM_EPOCH_SQL_OF(JCM_EPOCH) /* "seq / 4096": the two cannot disagree */
extern const char *const jcm__epoch_queries[];    /* query.c's, for a test of their plans */
extern const char jcm__pick_sql[];                /* blocks.c's, likewise */

/* accounts.c */
typedef struct jcm_account {
  char id[32];
  char type[24];
  char status[12];
  char holder[72];
  char registry[16];
} jcm_account;
/* 1 found, 0 not found, -1 store error. */
int jcm__account_get(jcm_store *st, const char *id, jcm_account *a);
int jcm__account_type_code(const char *type);

/* blocks.c: the block engine (see the file's head comment) */
typedef struct jcm_range {
  char origin[16];
  int64_t first, last;
} jcm_range;

/* free_blocks.c: each account's free blocks in the pick's order, kept by
 * the writer (see the file's head comment) */
typedef struct jcm_free_blocks jcm_free_blocks;
/* account's free blocks, largest first, in *v (*n of them), valid until the
 * next call of a jcm__free_ function: 0; 1 when no list can be made for it
 * (an id too long, no memory for the table): the caller reads the store;
 * -1 when the store fails, or memory while reading the list. */
int jcm__free_list(jcm_ctx *c, const char *account, const jcm_range **v, size_t *n);
/* [f, l] of block [bf, bl] of origin, free, moved from `from` to `to` */
void jcm__free_moved(jcm *j, const char *origin, int64_t bf, int64_t bl, int64_t f, int64_t l, const char *from,
                     const char *to);
void jcm__free_forget(jcm *j); /* blocks changed otherwise: read them again */
int jcm__free_sync(jcm *j);    /* the write lock taken: forget if another connection wrote; -1: cannot tell */
void jcm__free_close(jcm *j);
extern int jcm__free_audit; /* tests: each pick from a kept list is compared with the store's */
int jcm__blocks_pick(jcm_ctx *c, const char *account, int64_t quantity, const char *project, int64_t vintage,
                     json_t *ranges_out);
int jcm__blocks_check_ranges(jcm_ctx *c, const char *account, json_t *ranges, int64_t *total);
int jcm__blocks_move(jcm_ctx *c, const char *from, const char *to, json_t *ranges);
int jcm__blocks_create(jcm_ctx *c, const char *origin, int64_t first, int64_t last, const char *issuance,
                       const char *project, int64_t vintage, const char *account);
int jcm__movement(jcm_ctx *c, const char *tx, const char *account, int dir, json_t *ranges);
/* The rows of a move from `from` to `to`, the ranges' text made once. */
int jcm__movements(jcm_ctx *c, const char *tx, const char *from, const char *to, json_t *ranges);
/* Makes serial s of origin start a block, splitting the block holding it. */
int jcm__blocks_split(jcm_ctx *c, const char *origin, int64_t s);
/* Makes [f, l] of origin whole blocks: splits at most one block at each end. */
int jcm__blocks_isolate(jcm_ctx *c, const char *origin, int64_t f, int64_t l);

/* util.c: an index of keys (any bytes, NUL too; kept by the caller) to
 * numbers, by open addressing, at most half full. Zeroed: empty. */
typedef struct {
  const char *key; /* NULL: an empty slot */
  size_t len;
  int64_t item;
} jcm_ix_entry;
typedef struct {
  jcm_ix_entry *e;
  size_t cap, n;
} jcm_ix;
const jcm_ix_entry *jcm__ix_get(const jcm_ix *ix, const char *key, size_t len); /* NULL: not there (or key NULL) */
int64_t jcm__ix_find(const jcm_ix *ix, const char *key, size_t len);    /* its item, or -1 (also for key NULL) */
int jcm__ix_put(jcm_ix *ix, const char *key, size_t len, int64_t item); /* 0, or -1 out of memory */
void jcm__ix_free(jcm_ix *ix);                                          /* empties it */

/* The columns of a block row after origin, as copy_row (blocks.c) binds them. */
#define BLOCK_COLUMNS                                                                                                  \
  "first, last, issuance, project, vintage, unit_type, account, reserved_tx, auth_id, auth_version, ft_seq, ft_to,"    \
  " out_tx"
/* Runs the look-up of origin's block starting at or below serial s
 * (BLOCK_COLUMNS) and gives its step, leaving the row in *st (to reset);
 * *st is NULL when the statement cannot run. */
int jcm__block_at(jcm_ctx *c, const char *origin, int64_t s, jcm_stmt **st, int64_t *bf, int64_t *bl);

/* jsonmem.c: JSON values made by this thread between begin and end are
 * built in one slot of memory, freed as a whole once every value in it is
 * (for the trees of journal entries that verify reads). */
void jcm__json_slot_begin(void);
void jcm__json_slot_end(void);

/* kept_blocks.c: blocks moved by verify's replay, kept in memory until
 * anything else needs the block table */
typedef struct jcm_kept_blocks jcm_kept_blocks;
jcm_kept_blocks *jcm__kept_new(void);
void jcm__kept_free(jcm_kept_blocks *k); /* accepts NULL */
/* As blocks.c's move of [f, l] of origin from `from` to `to` when one block
 * holds it all (*moved 1); *moved 0 when no block does, changing nothing. */
int jcm__kept_move(jcm_ctx *c, jcm_kept_blocks *k, const char *origin, int64_t f, int64_t l, const char *from,
                   const char *to, int *moved);
/* Writes the kept rows to st and forgets them (also when a write fails):
 * 0, or -1 with st's error. */
int jcm__kept_flush(jcm_kept_blocks *k, jcm_store *st);

/* The replayed block table as verify compares it: the store's rows and the
 * kept, merged in the table's order (origin, first), a kept row standing
 * for the store's of its key. Values in the order origin, BLOCK_COLUMNS;
 * texts are valid until the next call. */
typedef struct {
  int type[14];
  int64_t i[14];
  const void *s[14];
  size_t n[14];
} jcm_block_values;
typedef struct {
  jcm_kept_blocks *k;
  jcm_store *st;
  jcm_stmt *s;
  int step, took_stored, took_kept;
  size_t o, chunk;
  int row;
} jcm_kept_reader;
/* 0, or -1 when the store's table cannot be read (its error in st). */
int jcm__kept_read_begin(jcm_kept_blocks *k, jcm_store *st, jcm_kept_reader *r);
/* JCM_ROW with the next row's values in *v, JCM_DONE, or JCM_STEP_ERROR. */
int jcm__kept_read_next(jcm_kept_reader *r, jcm_block_values *v);
void jcm__kept_read_end(jcm_kept_reader *r);

/* capture.c: the movement rows of verify's replay, in memory */
typedef struct jcm_movement_row {
  const char *account, *tx, *ranges; /* NUL-terminated, with their lengths */
  size_t account_len, tx_len, ranges_len;
  int64_t seq, dir, quantity;
} jcm_movement_row;
typedef struct jcm_capture jcm_capture;
jcm_capture *jcm__capture_new(void);
void jcm__capture_free(jcm_capture *cap); /* accepts NULL */
/* 0; 1 a column the table requires is NULL; 2 the account already has a
 * row at this entry; -1 out of memory. */
int jcm__capture_movement(jcm_capture *cap, const char *account, int64_t seq, int64_t dir, const char *tx,
                          int64_t quantity, const char *ranges);
size_t jcm__capture_count(const jcm_capture *cap);
const jcm_movement_row *jcm__capture_row(const jcm_capture *cap, size_t i); /* in the table's order */
/* A counter's latest value, kept until the replay ends: 0, or -1 out of
 * memory. */
int jcm__capture_counter(jcm_capture *cap, const char *name, int64_t value);
/* Writes the counters kept to st: 0, or -1 when a write failed. */
int jcm__capture_write_counters(const jcm_capture *cap, jcm_store *st);

/* units.c: the source account of a move, and the units it names (out.ranges,
 * out.quantity). */
int jcm__check_source(jcm_ctx *c, const char *from);
int jcm__resolve_units(jcm_ctx *c, const char *from);
int jcm__new_tx(jcm_ctx *c, const char *counter, char kind);

/* foureyes.c: commands from a government holding account wait for a
 * second administrator's approval. */
/* After a command's check: turns c->out into a held (`awaiting approval`)
 * result when the rule applies to it. */
int jcm__fe_hold(jcm_ctx *c, const char *cmd);
/* 1 when an event's out is a held result of cmd (apply holds, not moves). */
int jcm__fe_is_held(const char *cmd, json_t *out);
int jcm__fe_apply_hold(jcm_ctx *c);
/* For new_tx/new_xtx while approving: the held id, counter left as it is. */
int jcm__fe_fixed_tx(jcm_ctx *c, const char *counter);
/* link.c: reserves ranges of `from` for tx, splitting blocks at their ends. */
int jcm__reserve(jcm_ctx *c, const char *from, const char *tx, json_t *ranges);
int jcm__release(jcm_ctx *c, const char *tx);
extern const char jcm__q_release[]; /* its statement: test_smoke checks its plan */

/* a6.c: the AEF's controlled values (NULL-terminated). */
extern const char *const jcm__aef_sectors[];
extern const char *const jcm__aef_purposes[];
extern const char *const jcm__aef_metrics[];

/* a6.c: Article 6. A piece is the part of one block inside some range. */
typedef struct jcm_piece {
  char origin[16];
  int64_t first, last, vintage, auth_version;
  char auth_id[48], ft_to[8], issuance[40], project[16], unit_type[24], account[32];
  bool first_transferred, reserved;
} jcm_piece;
typedef struct jcm_pieces {
  jcm_piece *v;
  size_t n, cap;
} jcm_pieces;
int jcm__a6_pieces(jcm_ctx *c, json_t *ranges, jcm_pieces *out);
void jcm__a6_pieces_free(jcm_pieces *p);
int jcm__a6_push_piece(jcm_pieces *p, const jcm_piece *x);
json_t *jcm__a6_auth(jcm_store *st, const char *id, int64_t version, int *err);
int jcm__a6_listed(const char *list, const char *x);
int jcm__a6_for_ndc(const char *purposes);
int jcm__a6_for_oimp(const char *purposes);
int jcm__a6_oimp_at(const jcm_piece *x, json_t *auth, void *ud);
int jcm__a6_add_actions(jcm_ctx *c, const jcm_pieces *p, int (*pick)(const jcm_piece *x, json_t *auth, void *ud),
                        void *ud, const char *type, const char *subtype, json_t *extra);
int jcm__a6_authorization_actions(jcm_ctx *c, jcm_pieces *p, const char *id, int64_t version);
int jcm__a6_apply_actions(jcm_ctx *c);
int jcm__a6_apply_first_transfers(jcm_ctx *c);

/* adjust.c: corresponding adjustments (docs/adjustments.md) */
/* num/den in milli-units rounded half away from zero; -1 on overflow or den <= 0. */
int jcm__milli_div(int64_t num, int64_t den, int64_t *out);
void jcm__milli_text(int64_t milli, char out[32]); /* -100900 -> "-100.9" */
/* The balance table of party (the a6.balance query); JCM_REFUSED with 6102
 * when it has no NDC. */
int jcm__a6_balance(jcm_store *st, const char *party, json_t **out, jcm_check *chk);

#endif
