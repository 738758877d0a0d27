/*
 * The one write path. jcm_submit() validates a command, then in one database
 * transaction (or as part of a batch's; see tx_begin): authorizes the actor's role,
 * answers a replayed idempotency key from the journal, runs the command's
 * checks, appends the event to the journal, applies it, and commits; on any
 * refusal or error it rolls back, so a refused command leaves no trace.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "spec.h"

static int64_t system_clock(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads this node's registry and Party from the state (after open, after a
 * rollback, after replaying init). When the read fails the handle marks
 * them unknown and the next command reads them again (run): a transient
 * error must neither make the registry look uninitialized (every command
 * refused with 1014) nor keep a rolled-back init's registry. */
int jcm__load_self(jcm *j) {
  static const char q[] = "SELECT r.id, r.party FROM registry r WHERE r.self = 1";
  j->registry[0] = j->party[0] = 0;
  jcm_stmt *s = db_q(j->st, q, "");
  int rc = s ? db_step(j->st, s) : JCM_STEP_ERROR;
  j->self_unknown = rc == JCM_STEP_ERROR;
  if (rc == JCM_ROW) {
    snprintf(j->registry, sizeof j->registry, "%s", col_text(j->st, s, 0));
    snprintf(j->party, sizeof j->party, "%s", col_text(j->st, s, 1));
  }
  if (s) db_reset(j->st, s);
  return rc == JCM_STEP_ERROR ? -1 : 0;
}

int jcm__self(jcm *j, jcm_check *chk) {
  if (!j->self_unknown || jcm__load_self(j) == 0) return 0;
  if (chk) jcm__set_check(chk, 0, "", "store error in registry: %s", j->st->ops->errmsg(j->st));
  return -1;
}

int jcm_open(const char *address, const jcm_options *opt, jcm **out, char *err, size_t errlen) {
  *out = NULL;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialize");
    return JCM_ERROR;
  }
  jcm *j = calloc(1, sizeof *j);
  if (!j) {
    snprintf(err, errlen, "out of memory");
    return JCM_ERROR;
  }
  j->clock = opt && opt->clock ? opt->clock : system_clock;
  j->clock_ud = opt ? opt->clock_ud : NULL;
  j->st = jcm_store_open(address, err, errlen);
  if (!j->st || jcm__migrate(j->st, err, errlen) != 0 || jcm__load_self(j) != 0) {
    if (j->st && !err[0]) snprintf(err, errlen, "cannot read %s", address);
    jcm_close(j);
    return JCM_ERROR;
  }
  *out = j;
  return JCM_OK;
}

void jcm_close(jcm *j) {
  if (!j) return;
  jcm__memo_forget(j);
  jcm__free_close(j);
  if (j->st) j->st->ops->close(j->st);
  free(j);
}

jcm_store *jcm__store(jcm *j) { return j->st; }

/* ---- counters: the checks read the next value, apply stores it ---- */

static int counter_get(jcm_ctx *c, const char *name, int64_t *value) {
  static const char q[] = "SELECT value FROM counter WHERE name = ?";
  jcm_stmt *s = db_q(c->st, q, "s", name);
  if (!s) return jcm__dberr(c, "counter");
  int rc = db_step(c->st, s);
  *value = rc == JCM_ROW ? col_int(c->st, s, 0) : 0;
  db_reset(c->st, s);
  return rc == JCM_STEP_ERROR ? jcm__dberr(c, "counter") : JCM_OK;
}

int jcm__next(jcm_ctx *c, const char *name, int64_t *out) {
  int64_t value;
  int rc = counter_get(c, name, &value);
  if (rc != JCM_OK) return rc;
  if (value == INT64_MAX)
    return strcmp(name, "serial") == 0 ? jcm__refuse(c, C_SERIALS_EXHAUSTED, "total", "no serials are left")
                                       : jcm__refuse(c, C_RANGE, "", "the %s sequence is exhausted", name);
  *out = value + 1;
  return JCM_OK;
}

int jcm__counter_write(jcm_store *st, const char *name, int64_t value) {
  static const char q[] = "INSERT INTO counter(name, value) VALUES (?, ?)"
                          " ON CONFLICT(name) DO UPDATE SET value = excluded.value";
  return db_x(st, q, "si", name, value);
}

/* Verify's replay keeps each counter's latest value and writes it once at
 * the end: the upsert was 0.8 of a replayed transfer's 17 us of statements
 * (docs/benchmarks.md, "Largest blocks first"). Only checks read a counter
 * (jcm__next), and replay runs none; an apply that read one would see the
 * store's older value, and verify would report the difference it makes. */
int jcm__counter_set(jcm_ctx *c, const char *name, int64_t value) {
  if (c->j->capture) return jcm__capture_counter(c->j->capture, name, value);
  return jcm__counter_write(c->st, name, value);
}

/* ---- results ---- */

static json_t *refusal(const char *cmd, const jcm_check *chk) {
  return json_pack("{s:b,s:s?,s:{s:i,s:s,s:s}}", "ok", 0, "cmd", cmd, "error", "code", chk->code, "message",
                   chk->message, "field", chk->field);
}

static json_t *success(json_t *event, const unsigned char hash[JCM_HASH_LEN]) {
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(hash, JCM_HASH_LEN, hex);
  return json_pack("{s:b,s:O,s:O,s:O,s:s,s:O}", "ok", 1, "cmd", json_object_get(event, "cmd"), "seq",
                   json_object_get(event, "seq"), "time", json_object_get(event, "time"), "hash", hex, "result",
                   json_object_get(event, "out"));
}

/* The result of an earlier command, rebuilt from its journal entry. */
static int result_of_seq(jcm_ctx *c, int64_t seq, json_t **result) {
  static const char q[] = "SELECT bytes, hash FROM journal WHERE seq = ?";
  jcm_stmt *s = db_q(c->st, q, "i", seq);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "idempotent result");
  }
  json_t *ev = json_loadb(c->st->ops->column_blob(s, 0), (size_t)c->st->ops->column_bytes(s, 0), 0, NULL);
  unsigned char hash[JCM_HASH_LEN] = {0};
  if (c->st->ops->column_bytes(s, 1) == JCM_HASH_LEN) memcpy(hash, c->st->ops->column_blob(s, 1), JCM_HASH_LEN);
  db_reset(c->st, s);
  if (!ev) return jcm__dberr(c, "idempotent result");
  *result = success(ev, hash);
  json_decref(ev);
  return JCM_OK;
}

/* ---- idempotency ---- */

static void request_hash(const char *cmd, jcm_ctx *c, unsigned char out[JCM_HASH_LEN]) {
  json_t *r =
      json_pack("{s:s,s:s,s:s,s:O}", "actor", c->actor->name, "role", c->actor->role, "cmd", cmd, "args", c->args);
  char *bytes = jcm__canonical(r);
  crypto_hash_sha256(out, (const unsigned char *)bytes, strlen(bytes));
  free(bytes);
  json_decref(r);
}

/* JCM_OK with *seq = 0 when the key is new, or the seq of its first use. */
static int idem_lookup(jcm_ctx *c, const char *cmd, int64_t *seq) {
  const char *key = jcm__s(c->args, "key");
  *seq = 0;
  if (!key) return JCM_OK;
  static const char q[] = "SELECT request_hash, seq FROM idem WHERE key = ?";
  jcm_stmt *s = db_q(c->st, q, "s", key);
  if (!s) return jcm__dberr(c, "idempotency");
  int rc = db_step(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, "idempotency");
  if (rc == JCM_DONE) return JCM_OK;
  unsigned char want[JCM_HASH_LEN];
  request_hash(cmd, c, want);
  int same =
      c->st->ops->column_bytes(s, 0) == JCM_HASH_LEN && memcmp(c->st->ops->column_blob(s, 0), want, JCM_HASH_LEN) == 0;
  *seq = col_int(c->st, s, 1);
  db_reset(c->st, s);
  if (!same)
    return jcm__refuse(c, C_IDEM_CONFLICT, "key", "idempotency key '%s' was used for a different command (entry %lld)",
                       key, (long long)*seq);
  return JCM_OK;
}

/* The part of applying an event that every command shares. */
int jcm__apply_event(jcm_ctx *c, const cmd_spec *spec) {
  /* a command held for a second administrator reserves instead of moving */
  int rc = jcm__fe_is_held(spec->name, c->out) ? jcm__fe_apply_hold(c) : spec->apply(c);
  if (rc != JCM_OK) return rc;
  const char *key = jcm__s(c->args, "key");
  if (key) {
    unsigned char h[JCM_HASH_LEN];
    request_hash(spec->name, c, h);
    static const char q[] = "INSERT INTO idem(key, request_hash, seq) VALUES (?, ?, ?)";
    if (db_x(c->st, q, "sbi", key, h, JCM_HASH_LEN, c->seq) != 0) return jcm__dberr(c, "idempotency");
  }
  return JCM_OK;
}

/* ---- transactions ---- */

/* Rolls back the open transaction; 0 once none is open. A rollback that
 * failed once is tried again, here and before the next transaction begins
 * (tx_begin), so a refused command's writes never stay open on the
 * connection, where the next command or a read would see them. */
static int rollback(jcm *j) {
  jcm__free_forget(j); /* it followed the writes being undone */
  for (int tries = 0; tries < 2; tries++) {
    if (db_x(j->st, "ROLLBACK", "") == 0 || !j->st->ops->in_transaction(j->st)) return 0;
  }
  return -1;
}

/* Transaction statements go through the statement cache (db_x) like any
 * other: exec() would parse them again for every command and request.
 *
 * Inside a batch a command has no savepoint of its own. SQLite copies every
 * page a command first changes under a savepoint into the savepoint's
 * journal: 11 of a transfer's 100 µs of row writes at a million transfers
 * (bench/bench_layout.c, docs/benchmarks.md). A refused command has almost always been refused by
 * its checks, before it wrote anything: the connection's change count shows
 * that, and there is nothing to undo. One refused or failed after it wrote
 * breaks the batch instead: the commands after it in the batch are not run,
 * and the batch's commit rolls all of it back and returns JCM_REFUSED, so
 * that the caller runs each of its commands alone (jcm apply, POST /batch
 * and the server's group writer do). */
static int tx_begin(jcm *j) {
  jcm_read_end(j); /* a command sees the latest state, not an open read snapshot */
  if (j->in_batch) {
    /* a store error (disk full, I/O, memory) may have made SQLite roll the
     * whole batch back: a command now would commit on its own */
    if (!j->st->ops->in_transaction(j->st)) j->batch_broken = 1;
    j->batch_mark = j->st->ops->changes(j->st);
    return j->batch_broken ? -1 : 0;
  }
  if (j->st->ops->in_transaction(j->st) && rollback(j) != 0) return -1; /* a rollback owed */
  if (db_x(j->st, "BEGIN IMMEDIATE", "") != 0) return -1;
  if (jcm__free_sync(j) == 0) return 0;
  rollback(j);
  return -1;
}

/* Ends a command's transaction: commits when ok, else rolls back. 0, or -1
 * when that failed. In a batch: breaks the batch when a refused command had
 * written something (tx_begin), or when the store rolled the batch back. */
static int tx_end(jcm *j, int ok) {
  if (j->in_batch) {
    jcm_store *st = j->st;
    if (!ok && (st->ops->changes(st) != j->batch_mark || !st->ops->in_transaction(st))) j->batch_broken = 1;
    return 0;
  }
  if (ok && db_x(j->st, "COMMIT", "") == 0) return 0;
  int rc = rollback(j) != 0 || ok ? -1 : 0;
  jcm__load_self(j); /* a rolled-back init must not stay cached */
  return rc;
}

static int run(jcm_ctx *c, const cmd_spec *spec, json_t **result) {
  if (jcm__self(c->j, NULL) != 0) return jcm__dberr(c, "registry");
  if (!c->j->registry[0] && strcmp(spec->name, "init") != 0)
    return jcm__refuse(c, C_NOT_INITIALIZED, "", "initialize the registry first (jcm init)");
  int64_t seen = 0;
  int rc = idem_lookup(c, spec->name, &seen);
  if (rc != JCM_OK) return rc;
  if (seen) return result_of_seq(c, seen, result);
  rc = spec->check(c);
  if (rc == JCM_OK) rc = jcm__fe_hold(c, spec->name);
  if (rc != JCM_OK) return rc;
  unsigned char hash[JCM_HASH_LEN];
  rc = jcm__journal_append(c, spec->name, hash);
  if (rc != JCM_OK) return rc;
  rc = jcm__apply_event(c, spec);
  if (rc != JCM_OK) return rc;
  json_t *ev =
      json_pack("{s:s,s:I,s:s,s:O}", "cmd", spec->name, "seq", (json_int_t)c->seq, "time", c->time, "out", c->out);
  *result = success(ev, hash);
  json_decref(ev);
  return JCM_OK;
}

int jcm_submit(jcm *j, json_t *cmd, const jcm_actor *actor, json_t **result) {
  jcm_check chk = {0};
  const cmd_spec *spec = NULL;
  json_t *args = NULL;
  const char *cmd_name = json_is_object(cmd) ? jcm__s(cmd, "cmd") : NULL;
  jcm_ctx c = {.j = j, .st = j->st, .actor = actor, .chk = &chk};
  *result = NULL;
  /* a role that may not submit the command at all learns nothing more,
   * whatever the fields: 8001 before validation */
  const cmd_spec *early = jcm__spec_find(cmd_name);
  unsigned bit = jcm__role_bit(actor->role);
  int rc = early && bit && !(early->roles & bit)
               ? jcm__refuse(&c, C_ROLE, "role", "a %s may not %s", actor->role, early->help)
               : jcm__validate(cmd, &spec, &args, &chk);
  if (rc == JCM_OK) {
    c.args = args;
    c.role = jcm__role_bit(actor->role);
    json_t *name = actor->name ? json_string(actor->name) : NULL; /* NULL unless valid UTF-8 */
    int named = name && actor->name[0] && strlen(actor->name) <= 128;
    json_decref(name);
    if (!named)
      rc = jcm__refuse(&c, C_ROLE, "actor", "the actor must be named in UTF-8 text of at most 128 bytes");
    else if (!c.role)
      rc = jcm__refuse(&c, C_UNKNOWN_ROLE, "role", "no role '%.40s'", actor->role ? actor->role : "");
    else if (!(spec->roles & c.role))
      rc = jcm__refuse(&c, C_ROLE, "role", "a %s may not %s", actor->role, spec->help);
  }
  if (rc == JCM_OK && j->in_batch && j->batch_broken) {
    jcm__set_check(&chk, 0, "",
                   "not run: an earlier command of this batch failed after it wrote, so the batch rolls back");
    rc = JCM_ERROR;
  }
  if (rc == JCM_OK) {
    c.out = json_object();
    if (tx_begin(j) != 0) {
      rc = jcm__dberr(&c, "begin");
    } else {
      rc = run(&c, spec, result);
      if (tx_end(j, rc == JCM_OK) != 0) {
        json_decref(*result);
        *result = NULL;
        rc = jcm__dberr(&c, rc == JCM_OK ? "commit" : "rollback");
      }
    }
  }
  if (rc != JCM_OK) *result = refusal(cmd_name, &chk);
  json_decref(c.out);
  json_decref(args);
  return rc;
}

/* Writes to path the place of the string "\x01" in v ("allocation[0].quantity"). */
static int find_marker(json_t *v, char *path, size_t n) {
  size_t used = strlen(path);
  if (json_is_string(v)) return strcmp(json_string_value(v), "\x01") == 0;
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      snprintf(path + used, n - used, "[%zu]", i);
      if (find_marker(x, path, n)) return 1;
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
      snprintf(path + used, n - used, "%s%s", used ? "." : "", k);
      if (find_marker(x, path, n)) return 1;
    }
  }
  path[used] = 0;
  return 0;
}

/* Names the field a "too big integer" stands in: the number ends at pos;
 * it is replaced by a marker and the text parsed again to find its path. */
static void big_number_field(const char *text, size_t len, size_t pos, char *field, size_t n) {
  size_t start = pos;
  field[0] = 0;
  while (start > 0 && ((text[start - 1] >= '0' && text[start - 1] <= '9') || text[start - 1] == '-'))
    start--;
  if (start == pos || pos > len) return;
  size_t m = len - (pos - start) + 8;
  char *t = malloc(m);
  if (!t) return;
  memcpy(t, text, start);
  memcpy(t + start, "\"\\u0001\"", 8);
  memcpy(t + start + 8, text + pos, len - pos);
  json_t *v = json_loadb(t, m, 0, NULL);
  free(t);
  if (v && !find_marker(v, field, n)) field[0] = 0;
  json_decref(v);
}

int jcm_submit_text(jcm *j, const char *text, size_t len, const jcm_actor *actor, json_t **result) {
  json_error_t e;
  json_t *cmd = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
  if (!cmd) {
    jcm_check chk = {0};
    if (strstr(e.text, "too big")) {
      char field[64];
      big_number_field(text, len, (size_t)e.position, field, sizeof field);
      jcm__set_check(&chk, C_RANGE, field, "%s: number too large (at most 2^63-1)", field[0] ? field : "a number");
    } else {
      jcm__set_check(&chk, C_MALFORMED, "", "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
    }
    *result = refusal(NULL, &chk);
    return JCM_REFUSED;
  }
  int rc = jcm_submit(j, cmd, actor, result);
  json_decref(cmd);
  return rc;
}

int jcm_read_begin(jcm *j) {
  if (j->in_batch || j->in_read) return JCM_ERROR;
  if (db_x(j->st, "BEGIN", "") != 0) return JCM_ERROR;
  j->in_read = 1;
  return JCM_OK;
}

void jcm_read_end(jcm *j) {
  if (!j->in_read) return;
  j->in_read = 0;
  /* of reads only: nothing to lose; but a read left open would hold its
   * snapshot, keeping checkpoints from the WAL, and refuse the next begin */
  if (db_x(j->st, "COMMIT", "") != 0) j->st->ops->exec(j->st, "ROLLBACK");
}

int jcm_batch_begin(jcm *j) {
  jcm_read_end(j);
  if (j->in_batch) return JCM_ERROR;
  if (j->st->ops->in_transaction(j->st) && rollback(j) != 0) return JCM_ERROR; /* a rollback owed */
  if (db_x(j->st, "BEGIN IMMEDIATE", "") != 0) return JCM_ERROR;
  if (jcm__free_sync(j) != 0) {
    rollback(j);
    return JCM_ERROR;
  }
  j->in_batch = 1;
  j->batch_broken = 0;
  return JCM_OK;
}

/* JCM_REFUSED: a command broke the batch (tx_begin) and all of it is rolled
 * back, so its commands may run again, each alone. JCM_ERROR: the COMMIT
 * itself failed; what reached the disk is the store's to say, and running
 * the commands again could apply them twice. */
int jcm_batch_commit(jcm *j) {
  if (!j->in_batch) return JCM_ERROR;
  j->in_batch = 0;
  int broken = j->batch_broken;
  if (!broken && db_x(j->st, "COMMIT", "") == 0) return JCM_OK;
  int rolled_back = rollback(j) == 0;
  jcm__load_self(j);
  return broken && rolled_back ? JCM_REFUSED : JCM_ERROR;
}

int jcm_batch_commit_early(jcm *j, int *durable) {
  jcm__wal_defer_begin();
  int rc = jcm_batch_commit(j);
  *durable = jcm__wal_defer_end();
  if (rc != JCM_OK && *durable >= 0) { /* as a failed plain commit would have done */
    jcm__wal_sync(*durable);
    *durable = -1;
  }
  return rc;
}

int jcm_make_durable(int durable) { return durable < 0 || jcm__wal_sync(durable) == 0 ? JCM_OK : JCM_ERROR; }

void jcm_batch_rollback(jcm *j) {
  if (!j->in_batch) return;
  j->in_batch = 0;
  rollback(j);
  jcm__load_self(j);
}
