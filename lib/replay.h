/* Replaying the journal into a fresh store (lib/replay.c): verify replays all
 * of it and compares; the AEF report replays it up to a year end to read the
 * state as it stood then. */
#ifndef JCM_REPLAY_H
#define JCM_REPLAY_H

#include <stdatomic.h>

#include "engine.h"

#define JCM_MAX_PROBLEMS 20

/* A replay in progress. jcm__replay_until() continues from the entry after
 * the last one replayed, so one replay can stop at several cutoffs. */
typedef struct jcm_replay {
  jcm *src;         /* the store whose journal is replayed (read only) */
  jcm *dst;         /* the fresh in-memory store it is replayed into */
  json_t *problems; /* {check, where, what} objects, at most JCM_MAX_PROBLEMS */
  int64_t events;   /* entries checked so far */
  int chain_ok, replay_ok;
  /* the first entry whose args fail validation, with why: set by the
   * checking thread (why first) while the replay thread reads it */
  _Atomic int64_t refused_seq;
  char refused_why[300];
  /* verify's: blocks moved by transfers and retirements, kept in memory
   * until another command needs the table (lib/kept_blocks.c); NULL */
  jcm_kept_blocks *kept;
  /* verify's: where the stored state is read, src's store or a second
   * connection in the same snapshot (lib/verify.c) */
  jcm_store *stored;
  unsigned char head[JCM_HASH_LEN]; /* hash of the last entry checked */
  char head_time[32];               /* and its time */
} jcm_replay;

/* For tests: called with the fresh store as each replay opens it, to make
 * its steps fail (tests/test_smoke.c); NULL otherwise. */
extern void (*jcm__replay_opened)(jcm *dst);
/* The same for the second connection verify reads the stored state on
 * (lib/verify.c), called as it opens, before its first read. */
extern void (*jcm__verify_stored_opened)(jcm_store *st);

/* Opens the fresh store; 0, or -1 when it cannot. */
int jcm__replay_open(jcm_replay *r, jcm *src, json_t *problems);
/* Checks and replays entries whose time is at or before until (ISO 8601
 * text, compared as text: every journal time has one fixed form), or every
 * entry when until is NULL. Stops at the first entry that breaks the chain
 * or cannot be applied, with a problem saying which. */
void jcm__replay_until(jcm_replay *r, const char *until);
void jcm__replay_close(jcm_replay *r); /* closes dst; accepts a closed one */

void jcm__problem(json_t *list, const char *check, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Problems that could not be recorded (memory ran out), in this process: a
 * verify that saw this grow while it ran does not report all well, though
 * its list may be empty. Shared by every verify in the process, so a loss
 * in one can only make another fail, never pass. */
extern atomic_uint jcm__problems_lost;
/* Appends from's problems to `to`, up to JCM_MAX_PROBLEMS, counting any lost. */
void jcm__problems_add(json_t *to, json_t *from);
/* A stored value as printable ASCII (lib/verify.c). */
void jcm__printable(jcm_store *st, jcm_stmt *s, int i, char *out, size_t n);

/* The invariants checked on the stored rows as verify's comparison reads
 * them (lib/invariants.c): jcm__inv_table() before a table's rows, each
 * row through jcm__inv_row() (0, or -1 out of memory), jcm__inv_unread()
 * for a table not read to its end, then jcm__inv_end() adds the problems
 * found. jcm__inv_reads() says which tables it needs. */
typedef struct jcm_inv jcm_inv; /* NULL to the three below: the rows are compared only */
jcm_inv *jcm__inv_new(void);
int jcm__inv_reads(const char *table);
void jcm__inv_table(jcm_inv *inv, const char *table, jcm_store *st, jcm_stmt *s);
int jcm__inv_row(jcm_inv *inv, jcm_store *st, jcm_stmt *s);
void jcm__inv_unread(jcm_inv *inv, const char *table);
void jcm__inv_end(jcm_inv *inv, jcm_store *st, json_t *problems);
void jcm__inv_free(jcm_inv *inv); /* accepts NULL */
/* A table's digest as verify compares it (lib/digest.c): its column names,
 * then each row (jcm__digest_row from a statement, or jcm__digest_row_begin
 * and a jcm__digest_value each), then jcm__digest_end (0, or -1 when
 * hashing failed), which readies it for the next table. */
typedef struct jcm_digest jcm_digest;
jcm_digest *jcm__digest_new(void);
void jcm__digest_free(jcm_digest *d); /* accepts NULL */
void jcm__digest_names(jcm_digest *d, jcm_store *st, jcm_stmt *s);
void jcm__digest_name_list(jcm_digest *d, const char *const *names, int cols); /* the same from names */
void jcm__digest_row(jcm_digest *d, jcm_store *st, jcm_stmt *s);
void jcm__digest_row_begin(jcm_digest *d);
void jcm__digest_value(jcm_digest *d, int type, int64_t i, const void *p, size_t n);
int jcm__digest_end(jcm_digest *d, unsigned char out[JCM_HASH_LEN]);

#endif
