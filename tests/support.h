/* Helpers shared by the tests: a fresh registry, submitting commands by
 * JSON text, and a dump of every table for "nothing changed" checks. */
#ifndef JCM_TEST_SUPPORT_H
#define JCM_TEST_SUPPORT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "jcm/jcm.h"

extern const jcm_actor T_ADMIN, T_JCS, T_TPE, T_AUDITOR;
/* A second registry administrator: approves what T_ADMIN proposes from a
 * government account (four eyes, lib/foureyes.c). */
extern const jcm_actor T_ADMIN2;

/* A path for a fresh store under the build tree (removed first). */
void t_db_path(char *out, size_t n, const char *name);
/* Opens a fresh store at path, fails the test on error. */
jcm *t_open(const char *path);
/* Opens path and initializes it as registry id (party = its first 3 letters)
 * with an organisation "org-a" (THA) and "org-b", and returns the ids of
 * accounts opened: holding x2, government-holding, cancellation, retirement. */
typedef struct {
  char hold_a[32], hold_b[32], gov[32], cancel[32], retire[32];
} t_accounts;
jcm *t_registry(const char *path, t_accounts *acc);
/* t_registry() at a fresh path for name (written to path) with 2,017 units
 * issued: 1,009 to its government account, 1,008 to holding account A. */
jcm *t_issued_registry(const char *name, char *path, size_t n, t_accounts *a);
/* Registers project TH014 (imported), submits and verifies a period of the
 * given year with `verified` units, and issues `total` split per alloc
 * (NULL-terminated account ids, quantities). Returns the submit status. */
int t_issue(jcm *j, int year, int64_t verified, int64_t total, const char *const *accounts, const int64_t *quantities);
/* The same, the issue command with idempotency key `key` (NULL: none). */
int t_issue_keyed(jcm *j, int year, int64_t verified, int64_t total, const char *const *accounts,
                  const int64_t *quantities, const char *key);

/* Submits text as actor; returns JCM_OK/REFUSED/ERROR, *code the check code
 * (0 on success). *result kept when out is non-NULL. A command held for a
 * second administrator's approval (its source is a government account) is
 * approved at once by T_ADMIN2 (by T_ADMIN when T_ADMIN2 proposed it) and the
 * approval's result returned: tests of moves see the command's effect, two
 * journal entries later. tests/test_foureyes.c tests the holding itself. */
int t_submit(jcm *j, const jcm_actor *a, const char *text, int *code, json_t **out);
/* The same without approving: the held result as it is. */
int t_submit_held(jcm *j, const jcm_actor *a, const char *text, int *code, json_t **out);
/* printf-style: builds the JSON text then submits it. */
int t_submitf(jcm *j, const jcm_actor *a, int *code, json_t **out, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Every row of every table of the SQLite file at path, as text (malloc'd). */
char *t_dump(const char *path);
/* Sum of units held by account (via the balance query). */
int64_t t_balance(jcm *j, const char *account);

/* An account id computed independently of lib/ids.c (ISO 7064 mod 97-10,
 * as IBAN), so the tests check the library against a second reading. */
void t_account_id(const char *registry, int type, int seq, char out[32]);

/* tmpl with every "@X" replaced by token(ud, 'X') where that is not NULL;
 * malloc'd. */
char *t_expand(const char *tmpl, const char *(*token)(const void *ud, char t), const void *ud);

/* A well-formed instance of command cmd ("@A", "@B": accounts to substitute),
 * or NULL. */
const char *t_sample(const char *cmd);

/* Running something that may crash the library in a child process, so that
 * a crash is reported as a failure instead of killing the test run. */
typedef struct t_outcome {
  int rc, code, step;
  char field[64];
} t_outcome;
typedef void (*t_isolated_fn)(jcm *j, const void *ud, t_outcome *o);
/* Closes *j, runs fn in a child on its own connection to path, reopens *j.
 * Returns 0 when the child ran to the end, else -1 with how it died. */
int t_run_isolated(jcm **j, const char *path, t_isolated_fn fn, const void *ud, t_outcome *o, char *how, size_t n);

/* Tampering with a closed store's journal as a forger would (plain SQLite;
 * any failure aborts). */
#define T_HASH_LEN 32
void t_copy_file(const char *from, const char *to);
int64_t t_query_int(sqlite3 *db, const char *sql);
/* The first column of the one row sql gives on the store at path, opened
 * read only, as text; aborts unless there is exactly one row. */
void t_query_text(const char *path, const char *sql, char *out, size_t n);
void t_read_blob(sqlite3 *db, const char *column, int64_t seq, unsigned char **out, size_t *n);
void t_write_blob(sqlite3 *db, const char *column, int64_t seq, const void *b, size_t n);
/* SHA-256 of prev || bytes, as the journal chains its entries. */
void t_event_hash(const unsigned char prev[T_HASH_LEN], const void *bytes, size_t n, unsigned char out[T_HASH_LEN]);
/* Runs tests/forge_check.c on a copy of the store t_db_path named `name`
 * (with its WAL, so an open store may be checked); its exit status: 0 when
 * verify survived every forged value of every journal entry. */
int t_forge_check(const char *name);
/* The event of journal entry seq; aborts unless it is JSON. */
json_t *t_read_event(sqlite3 *db, int64_t seq);
/* A forger's rewrite: ev becomes the bytes of entry seq, its time, actor,
 * role and cmd columns follow ev's, and the chain is re-linked from there
 * (t_rehash_from). */
void t_write_event(sqlite3 *db, int64_t seq, json_t *ev);
/* Re-links the chain from entry `from` on: each prev_hash and hash
 * recomputed from the bytes as they now are. */
void t_rehash_from(sqlite3 *db, int64_t from);

/* Store faults: t_fault_from(j, k) replaces the ops of j's store by ones
 * whose binds fail from the k-th on or, while t_fault_steps is set, whose
 * k-th step fails (and step t_fault_also, when not 0), as a transient I/O
 * error would. t_fault_hit(k): whether the fault was reached since;
 * t_fault_end(j): the store's own ops again. */
extern int t_fault_steps, t_fault_also, t_fault_step_calls;
void t_fault_from(jcm *j, int k);
struct jcm_store;
void t_fault_store_from(struct jcm_store *st, int k); /* the same on a store itself */
int t_fault_hit(int k);
void t_fault_end(jcm *j);

#endif
