/*
 * libjcm: a registry node for JCM credits and Article 6.2 ITMOs.
 *
 * Every change of state is a command (a JSON object with a "cmd" member)
 * submitted through jcm_submit(): one function, one database transaction,
 * that authorizes the actor, runs the checks, appends the event to the
 * hash-chained journal, applies it to the state tables and commits, or rolls
 * everything back and returns the refusal with its check code. Reads go
 * through jcm_query() and never write.
 */
#ifndef JCM_JCM_H
#define JCM_JCM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jcm jcm;

/* Outcome of a call. */
enum { JCM_OK = 0, JCM_REFUSED = 1, JCM_ERROR = 2 };

/* A refusal: a stable code (docs/check-codes.md), the field it concerns and
 * a message for people. */
typedef struct jcm_check {
  int code;
  char field[64];
  char message[256];
} jcm_check;

/* Who submits a command: a name and one of the roles of DOMAIN.md §2
 * ("admin", "jc_secretariat", "holder", "tpe", "auditor"). A holder's name is
 * the id of the organisation it speaks for. */
typedef struct jcm_actor {
  const char *name;
  const char *role;
} jcm_actor;

/* Milliseconds since the Unix epoch; the journal's clock. */
typedef int64_t (*jcm_clock_fn)(void *ud);

typedef struct jcm_options {
  jcm_clock_fn clock; /* NULL: the system clock */
  void *clock_ud;
} jcm_options;

/* Configures the embedded SQLite for the library, once a process: no
 * global memory accounting, and a page cache that skips SQLite's walks of
 * its whole cache at the end of most commits (lib/store/pcache.c). SQLite
 * takes such settings only before it first initializes, which the first
 * jcm_open does after calling this; a program that uses SQLite itself
 * before (sqlite3_auto_extension, sqlite3_open) calls jcm_setup first, or
 * runs on SQLite's defaults, correct but slower. Returns JCM_OK, or
 * JCM_ERROR when SQLite was already initialized. */
int jcm_setup(void);

/* Opens (and creates, migrating the schema) the store at address: a SQLite
 * path, "sqlite:PATH" or ":memory:". Returns JCM_OK or JCM_ERROR with err. */
int jcm_open(const char *address, const jcm_options *opt, jcm **out, char *err, size_t errlen);
void jcm_close(jcm *j); /* accepts NULL */

/*
 * Submits one command. On JCM_OK *result is
 *   {"ok":true,"cmd":…,"seq":…,"hash":…,"result":{…}}
 * on JCM_REFUSED
 *   {"ok":false,"cmd":…,"error":{"code":…,"message":…,"field":…}}
 * and on JCM_ERROR (the store failed) an error object with code 0.
 * The caller owns *result (json_decref). A refusal leaves the store as it was.
 */
int jcm_submit(jcm *j, json_t *cmd, const jcm_actor *actor, json_t **result);
/* The same from JSON text (malformed text is refused with code 1001). */
int jcm_submit_text(jcm *j, const char *text, size_t len, const jcm_actor *actor, json_t **result);

/* Batches: between begin and commit, each jcm_submit() is applied inside one
 * database transaction. A command refused by its checks leaves no trace and
 * the batch goes on; one refused or failed after it wrote breaks the batch:
 * the commands after it are not run, and jcm_batch_commit() rolls all of it
 * back and returns JCM_REFUSED, after which each command may be submitted
 * again alone. JCM_ERROR: the commit itself failed (do not submit again).
 * Nothing is durable until jcm_batch_commit() returns JCM_OK. */
int jcm_batch_begin(jcm *j);
int jcm_batch_commit(jcm *j);
void jcm_batch_rollback(jcm *j);
/* Commits like jcm_batch_commit, but where the store allows it (a SQLite
 * file) returns before the commit is durable: the commit is visible to
 * other handles at once, and *durable (>= 0) must then be passed to
 * jcm_make_durable, from any thread while j stays open, before anyone is
 * told the batch's commands are done. *durable is -1 when nothing is left
 * to wait for. This lets one thread apply the next batch while the last one
 * reaches the disk (jcm serve's group commit, docs/server.md). */
int jcm_batch_commit_early(jcm *j, int *durable);
int jcm_make_durable(int durable); /* JCM_OK, or JCM_ERROR: durability unknown */

/* A thread that makes early commits durable and then calls fn(arg, ok) for
 * each, in the order they were added (ok: JCM_OK durable; JCM_ERROR an
 * fdatasync failed, so durability is unknown, for that commit and every one
 * after it). One fdatasync of each descriptor covers every commit added
 * before it runs. At most 16 commits wait: add blocks until the callbacks
 * have caught up, so a callback must not add (it would wait on itself).
 * The callbacks run on the syncer's thread; drain waits until every one
 * added has run; stop drains, then ends the thread. start gives NULL when
 * no thread can be made. */
typedef struct jcm_syncer jcm_syncer;
typedef void (*jcm_synced_fn)(void *arg, int ok);
jcm_syncer *jcm_syncer_start(void);
int jcm_syncer_add(jcm_syncer *s, int durable, jcm_synced_fn fn, void *arg);
void jcm_syncer_drain(jcm_syncer *s);
int jcm_syncer_failed(jcm_syncer *s); /* 1 once an fdatasync failed */
double jcm_syncer_ms(jcm_syncer *s);  /* milliseconds spent in fdatasync so far */
void jcm_syncer_stop(jcm_syncer *s);  /* accepts NULL */

/* A read snapshot: until jcm_read_end(), queries (and token and user
 * checks) on this handle see one state of the store, in one read
 * transaction instead of one each. Submitting a command or beginning a batch
 * ends the snapshot first. JCM_ERROR inside a batch or a snapshot. */
int jcm_read_begin(jcm *j);
void jcm_read_end(jcm *j); /* no-op without a snapshot */

/* Reads: name is one of jcm_query_names(); params a JSON object (may be
 * NULL). On JCM_REFUSED chk says why. */
int jcm_query(jcm *j, const char *name, json_t *params, json_t **result, jcm_check *chk);

/* Checks the journal's hash chain, replays it into a fresh store and compares
 * the state, and checks the invariants. *report: {"ok":bool,"events":n,
 * "problems":[{"what":…,"where":…},…]}. Returns JCM_OK when all is well,
 * JCM_REFUSED when something is wrong, JCM_ERROR when it could not run. */
int jcm_verify(jcm *j, json_t **report);

/* Between registries (docs/article6.md). The protocol is in the commands
 * (xfer.propose, link.receive, ...); these move the signed messages. */
/* This node's registry id ("" before init). */
const char *jcm_registry(jcm *j);
/* The highest message number received from peer (0 when none). */
int jcm_link_last_received(jcm *j, const char *peer, int64_t *n);
/* Messages for peer numbered above `after`, at most limit, in order: an
 * array of {"n","type","tx","msg","sig"}; {"msg","sig"} is what
 * link.receive takes. */
int jcm_link_outbox(jcm *j, const char *peer, int64_t after, int64_t limit, json_t **messages);
/* Delivers in process what `from` has for `to` and `to` has not received,
 * as actor (role "peer"); a duplicate (7003) counts as delivered. Stops at
 * the first refusal, returned in *refusal (NULL when all went). */
int jcm_link_deliver(jcm *from, jcm *to, const jcm_actor *actor, int *delivered, json_t **refusal);

/* Across registries (DOMAIN.md §7.7): every unit issued by any of nodes is
 * held (in an account, including cancellation and retirement ones) in
 * exactly one of them. *report: {"ok","registries","units_held","problems"}.
 * JCM_OK when so, JCM_REFUSED with the problems, JCM_ERROR when a store
 * cannot be read. */
int jcm_reconcile(jcm *const *nodes, size_t n, json_t **report);
/* The AEF report (Agreed Electronic Format, decision 4/CMA.6 annex II) of
 * this registry's Party for a reported year: Tables 1-5, Holdings as they
 * stood at 31 December 23:59:59.999 UTC (docs/aef.md). */
typedef struct jcm_aef_options {
  int year;           /* the reported year, 1990..9998 */
  int version;        /* of the submission; 0 means 1 */
  const char *date;   /* date of submission, YYYY-MM-DD; NULL: today by the store's clock */
  const char *format; /* "csv" (default), "json" or "xlsx" */
  const char *path;   /* file written whole or not at all; NULL: standard output (not for xlsx) */
} jcm_aef_options;

/* Builds the report and runs the consistency checks of aef_columns.md.
 * JCM_OK: *report is the JSON form (an object with one array of row objects
 * per table). JCM_REFUSED: bad options (chk says which), or an inconsistent
 * report: chk names the first problem and *problems (when problems is not
 * NULL) lists them all as {"code","name","table","row","message"}.
 * JCM_ERROR: the store or the replay failed (chk says why). The caller owns
 * *report and *problems. */
int jcm_aef_build(jcm *j, const jcm_aef_options *opt, json_t **report, json_t **problems, jcm_check *chk);
/* The same, then writes the report as opt->format; nothing is written
 * unless the report is consistent. */
int jcm_aef(jcm *j, const jcm_aef_options *opt, json_t **problems, jcm_check *chk);

/* ---- users of the HTTP server (docs/server.md) ----
 * user.add, user.password, user.disable, user.enable, token.create and
 * token.revoke are journaled commands; their secrets are not journaled.
 * jcm_submit_secret() is jcm_submit() for every command, except that for
 * user.add and user.password it takes a "password" member out of the
 * command and stores its Argon2id hash (user.password also takes out and
 * checks "current", the password users changing their own must give), and
 * for token.create it makes a random token, journals only its public id,
 * stores its SHA-256 and returns the token once in result.token. All in
 * the command's own transaction. */
#define JCM_TOKEN_LEN 68 /* "jcm_" + 64 hex digits */
/* A token expires this many days after it is made unless token.create's
 * "days" (1..JCM_TOKEN_MAX_DAYS) says otherwise. */
#define JCM_TOKEN_DAYS 90
#define JCM_TOKEN_DAYS_TEXT "90"
#define JCM_TOKEN_MAX_DAYS 3650
#define JCM_TOKEN_MAX_DAYS_TEXT "3650"
#define JCM_PWHASH_LEN 128 /* an Argon2id hash string */
typedef struct jcm_user {
  char name[72];
  char role[24];
  char org[72];     /* "" unless the user speaks for an organisation */
  int disabled;     /* signs in by no means while set */
  int64_t cred_seq; /* journal entry of the last password or status change: sessions opened before it end */
} jcm_user;
int jcm_submit_secret(jcm *j, json_t *cmd, const jcm_actor *actor, json_t **result);
/* 1 when jcm_submit_secret() does more than jcm_submit() for the command:
 * it hashes or makes a secret (Argon2id: tens of milliseconds). */
int jcm_secret_command(const char *name);
/* JCM_OK and *u when the user exists (disabled or not), JCM_REFUSED when not. */
int jcm_user_get(jcm *j, const char *name, jcm_user *u);
/* The stored password hash of a user (JCM_REFUSED when none). Verifying
 * is separate so that a server need not hold the store while it hashes. */
int jcm_password_hash(jcm *j, const char *name, char hash[JCM_PWHASH_LEN]);
int jcm_password_verify(const char *hash, const char *password); /* JCM_OK when it matches */
/* Signing in by password: JCM_OK and *u; JCM_REFUSED alike for an unknown
 * user, a wrong password and a disabled user, each after one Argon2id
 * verification so that neither answer nor timing tells which; *why says
 * which, for the security journal only. */
int jcm_password_login(jcm *j, const char *name, const char *password, jcm_user *u, const char **why);
/* Whether a session opened by user name when its cred_seq was cred_seq
 * still stands: JCM_OK and *u when the user exists, is enabled and neither
 * its password nor its status changed since; else JCM_REFUSED. */
int jcm_session_user(jcm *j, const char *name, int64_t cred_seq, jcm_user *u);
/* JCM_OK and *u when token is a live API token (not revoked) of an enabled user. */
int jcm_token_check(jcm *j, const char *token, jcm_user *u);
/* The actor a user acts as: its name; for a holder "ORG/NAME", so that the
 * library's holder checks see the organisation and the journal the user.
 * out->name points into buf. */
void jcm_user_actor(const jcm_user *u, char *buf, size_t n, jcm_actor *out);

/* Whether actor (NULL: the public) may read name, a query of jcm_queries()
 * or the report "aef" (lib/access.c): JCM_OK, or JCM_REFUSED with chk (8005
 * for the public, 8001 for a role). A holder's reads are narrowed to its own
 * by jcm_query_as(), not here. */
int jcm_may_read(const jcm_actor *actor, const char *name, jcm_check *chk);
/* Reads as an actor (NULL: the public, not signed in): the public reads
 * only public reports; a holder only its own accounts (8002 for another's
 * or an unknown one, so that guessing ids tells nothing); the auditor,
 * administrator, JC secretariat and TPE everything; 8005 when the query
 * needs a signed-in actor. Otherwise as jcm_query(). */
int jcm_query_as(jcm *j, const jcm_actor *actor, const char *name, json_t *params, json_t **result, jcm_check *chk);
/* The queries and their parameters, for front ends: params end with NULL;
 * a leading '#' marks an integer, '!' a required text. */
typedef struct jcm_query_info {
  const char *name;
  const char *params[8];
  int paged;       /* takes limit and offset and answers {"rows",...} */
  int public_read; /* readable without signing in */
} jcm_query_info;
const jcm_query_info *jcm_queries(size_t *count);

/* The check-code table, for documentation and tests. */
typedef struct jcm_code_info {
  int code;
  const char *name;
  const char *text;
} jcm_code_info;
const jcm_code_info *jcm_codes(size_t *count);
const char *jcm_code_text(int code);

/* Account identifiers (ISO 7064 mod 97-10 check digits, as IBAN). */
int jcm_account_id_valid(const char *id);

#ifdef __cplusplus
}
#endif
#endif
