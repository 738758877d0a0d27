/*
 * Replaying the journal: each entry's place in the hash chain is checked
 * (sequence without gaps, previous hash, its own hash, columns equal to the
 * hashed bytes), then its command's apply function runs on a fresh
 * in-memory store. Only apply runs, from the event's args and out, so the
 * replay re-decides nothing and never reads the clock. Used by verify (the
 * whole journal) and by the AEF report (the state at a year end).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "spec.h"

void jcm__problem(json_t *list, const char *check, const char *where, const char *fmt, ...) {
  if (json_array_size(list) >= JCM_MAX_PROBLEMS) return;
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  json_t *p = json_pack("{s:s,s:s,s:s}", "check", check, "where", where, "what", what);
  /* what may quote tampered bytes; a problem is never dropped for its text */
  if (!p) p = json_pack("{s:s,s:s,s:s}", "check", check, "where", "(unprintable)", "what", "(unprintable)");
  json_array_append_new(list, p);
}

static int column_matches(json_t *ev, const char *key, const char *col) {
  const char *v = jcm__s(ev, key);
  return v && strcmp(v, col) == 0;
}

/* Checks one entry's place in the chain; returns 0 when it may be replayed. */
static int check_entry(jcm_replay *r, jcm_store *st, jcm_stmt *s, int64_t expect, json_t **event) {
  char where[48];
  int64_t seq = col_int(st, s, 0);
  snprintf(where, sizeof where, "journal entry %lld", (long long)seq);
  if (seq != expect) {
    jcm__problem(r->problems, "chain", where, "expected entry %lld here: entries are missing or reordered",
                 (long long)expect);
    return -1;
  }
  const void *bytes = st->ops->column_blob(s, 5);
  size_t n = (size_t)st->ops->column_bytes(s, 5);
  unsigned char h[JCM_HASH_LEN];
  if (st->ops->column_bytes(s, 6) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 6), r->head, JCM_HASH_LEN) != 0) {
    jcm__problem(r->problems, "chain", where, "its previous hash is not the hash of entry %lld", (long long)(seq - 1));
    return -1;
  }
  jcm__hash_event(r->head, bytes ? bytes : "", n, h);
  if (st->ops->column_bytes(s, 7) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 7), h, JCM_HASH_LEN) != 0) {
    jcm__problem(r->problems, "chain", where, "its bytes do not hash to its stored hash: the entry was altered");
    return -1;
  }
  json_t *ev = json_loadb(bytes ? bytes : "", n, JSON_REJECT_DUPLICATES, NULL);
  if (!ev || jcm__i(ev, "seq", -1) != seq || !column_matches(ev, "time", col_text(st, s, 1)) ||
      !column_matches(ev, "actor", col_text(st, s, 2)) || !column_matches(ev, "role", col_text(st, s, 3)) ||
      !column_matches(ev, "cmd", col_text(st, s, 4)) || !json_is_object(json_object_get(ev, "args")) ||
      !json_is_object(json_object_get(ev, "out"))) {
    jcm__problem(r->problems, "chain", where, "its columns disagree with its hashed bytes");
    json_decref(ev);
    return -1;
  }
  memcpy(r->head, h, JCM_HASH_LEN);
  *event = ev;
  return 0;
}

static int replay_event(jcm_replay *r, json_t *ev) {
  jcm_check chk = {0};
  jcm_actor actor = {jcm__s(ev, "actor"), jcm__s(ev, "role")};
  const cmd_spec *spec = jcm__spec_find(jcm__s(ev, "cmd"));
  jcm_ctx c = {.j = r->dst,
               .st = jcm__store(r->dst),
               .actor = &actor,
               .role = jcm__role_bit(actor.role),
               .args = json_object_get(ev, "args"),
               .out = json_object_get(ev, "out"),
               .chk = &chk,
               .seq = jcm__i(ev, "seq", 0),
               .replay = true};
  snprintf(c.time, sizeof c.time, "%s", jcm__s(ev, "time"));
  char where[48];
  snprintf(where, sizeof where, "journal entry %lld", (long long)c.seq);
  if (!spec) {
    jcm__problem(r->problems, "replay", where, "unknown command %s", jcm__s(ev, "cmd"));
    return -1;
  }
  if (!(spec->roles & c.role)) {
    jcm__problem(r->problems, "replay", where, "role '%s' may not %s", actor.role ? actor.role : "", spec->help);
    return -1;
  }
  if (jcm__apply_event(&c, spec) != JCM_OK) {
    jcm__problem(r->problems, "replay", where, "cannot be applied: %s", chk.message);
    return -1;
  }
  return 0;
}

int jcm__replay_open(jcm_replay *r, jcm *src, json_t *problems) {
  char err[256] = "";
  memset(r, 0, sizeof *r);
  r->src = src;
  r->problems = problems;
  r->chain_ok = r->replay_ok = 1;
  if (jcm_open(":memory:", NULL, &r->dst, err, sizeof err) != JCM_OK) return -1;
  /* The replay store is thrown away and never rolled back: no undo journal. */
  jcm__store(r->dst)->ops->exec(jcm__store(r->dst), "PRAGMA journal_mode=OFF");
  return 0;
}

void jcm__replay_close(jcm_replay *r) {
  jcm_close(r->dst);
  r->dst = NULL;
}

void jcm__replay_until(jcm_replay *r, const char *until) {
  jcm_store *st = jcm__store(r->src), *rs = jcm__store(r->dst);
  if (!r->chain_ok) return;
  jcm_stmt *s = st->ops->prepare_temp(
      st, "SELECT seq, time, actor, role, cmd, bytes, prev_hash, hash FROM journal WHERE seq > ? ORDER BY seq");
  if (!s || st->ops->bind_int(s, 1, r->events) != 0 || rs->ops->exec(rs, "BEGIN") != 0) {
    jcm__problem(r->problems, "chain", "journal", "cannot read the journal: %s", st->ops->errmsg(st));
    r->chain_ok = r->replay_ok = 0;
    if (s) st->ops->finalize(s);
    return;
  }
  while (db_step(st, s) == JCM_ROW) {
    json_t *ev = NULL;
    if (until && strcmp(col_text(st, s, 1), until) > 0) break; /* times never go backwards */
    if (check_entry(r, st, s, r->events + 1, &ev) != 0) {
      r->chain_ok = 0;
      break;
    }
    r->events++;
    if (r->replay_ok && replay_event(r, ev) != 0) r->replay_ok = 0;
    json_decref(ev);
  }
  st->ops->finalize(s);
  rs->ops->exec(rs, "COMMIT");
}
