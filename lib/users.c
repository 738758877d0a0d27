/*
 * Users and API tokens of the HTTP server. Who a user is (name, role,
 * organisation, disabled or not) and which tokens exist (revoked or not) are
 * registry state, changed by the journaled commands user.add, user.password,
 * user.disable, user.enable, token.create and token.revoke. Their secrets are
 * not: the Argon2id password hash and the SHA-256 of a token live in
 * `credential`, written in the same database transaction as the command,
 * and never journaled, replayed or compared by verify. Logins and password
 * changes are rare and each costs one Argon2id hash or verification (tens of
 * milliseconds, 64 MiB); token checks are common and cost one SHA-256 and
 * three indexed reads.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "spec.h"

#define PASSWORD_MIN 12
#define PASSWORD_MAX 1024

/* ---- the commands ---- */

/* Whether the user exists and is disabled: 1 / 0, -1 on a store error, -2 when no such user. */
static int user_disabled(jcm_store *st, const char *name) {
  jcm_stmt *s = db_q(st, "SELECT disabled FROM app_user WHERE name = ?", "s", name);
  if (!s) return -1;
  int rc = db_step(st, s), v = rc == JCM_ROW ? (int)col_int(st, s, 0) != 0 : rc == JCM_DONE ? -2 : -1;
  db_reset(st, s);
  return v;
}

static int user_exists(jcm_store *st, const char *name) {
  int d = user_disabled(st, name);
  return d == -1 ? -1 : d != -2;
}

static int user_count(jcm_store *st, int64_t *n) {
  jcm_stmt *s = db_q(st, "SELECT COUNT(*) FROM app_user", "");
  if (!s || db_step(st, s) != JCM_ROW) return -1;
  *n = col_int(st, s, 0);
  db_reset(st, s);
  return 0;
}

int jcm__check_user_add(jcm_ctx *c) {
  const char *name = jcm__s(c->args, "name"), *role = jcm__s(c->args, "role"), *org = jcm__s(c->args, "org");
  int64_t n = 0;
  int e = user_exists(c->st, name);
  if (e < 0 || user_count(c->st, &n) != 0) return jcm__dberr(c, "user");
  if (e) return jcm__refuse(c, C_EXISTS, "name", "user %s exists already", name);
  if (n == 0 && strcmp(role, "admin") != 0)
    return jcm__refuse(c, C_FIRST_USER, "role", "the first user must be an admin, not a %s", role);
  if (strcmp(role, "holder") == 0 && !org)
    return jcm__refuse(c, C_MISSING, "org", "a holder user speaks for an organisation: give org");
  if (org) {
    e = jcm__org_exists(c->st, org);
    if (e < 0) return jcm__dberr(c, "org");
    if (!e) return jcm__refuse(c, C_UNKNOWN_ORG, "org", "no organisation '%s'", org);
  }
  return JCM_OK;
}

int jcm__apply_user_add(jcm_ctx *c) {
  static const char q[] = "INSERT INTO app_user(name, role, org, seq) VALUES (?, ?, ?, ?)";
  if (db_x(c->st, q, "sssi", jcm__s(c->args, "name"), jcm__s(c->args, "role"), jcm__s(c->args, "org"), c->seq) != 0)
    return jcm__dberr(c, "user");
  return JCM_OK;
}

int jcm__check_token_create(jcm_ctx *c) {
  const char *user = jcm__s(c->args, "user"), *id = jcm__s(c->args, "id");
  if (!id) return jcm__refuse(c, C_MISSING, "id", "token ids are made by the library: use jcm token create");
  int e = user_exists(c->st, user);
  if (e < 0) return jcm__dberr(c, "user");
  if (!e) return jcm__refuse(c, C_UNKNOWN_USER, "user", "no user %s", user);
  jcm_stmt *s = db_q(c->st, "SELECT 1 FROM app_token WHERE id = ?", "s", id);
  if (!s) return jcm__dberr(c, "token");
  int rc = db_step(c->st, s);
  db_reset(c->st, s);
  if (rc == JCM_ROW) return jcm__refuse(c, C_EXISTS, "id", "token %s exists already", id);
  if (rc != JCM_DONE) return jcm__dberr(c, "token");
  /* decided here, from the registry's clock, and kept in the event: the
   * replay takes it as it was */
  char expires[32];
  int64_t days = jcm__i(c->args, "days", JCM_TOKEN_DAYS);
  jcm__format_time(c->j->clock(c->j->clock_ud) + days * 86400000, expires);
  json_object_set_new(c->out, "expires", json_string(expires));
  return JCM_OK;
}

int jcm__apply_token_create(jcm_ctx *c) {
  static const char q[] = "INSERT INTO app_token(id, user, seq, expires) VALUES (?, ?, ?, ?)";
  if (db_x(c->st, q, "ssis", jcm__s(c->args, "id"), jcm__s(c->args, "user"), c->seq, jcm__s(c->out, "expires")) != 0)
    return jcm__dberr(c, "token");
  return JCM_OK;
}

/* ---- the lifecycle: passwords, disabling, revoking ---- */

/* The user an actor is: a holder acts as "ORG/USER". */
static const char *actor_user(const jcm_actor *a) {
  const char *slash = a && a->name ? strchr(a->name, '/') : NULL;
  return slash ? slash + 1 : a && a->name ? a->name : "";
}

/* The user named by the command's "name": JCM_OK with *disabled, or refused (1026). */
static int named_user(jcm_ctx *c, int *disabled) {
  const char *name = jcm__s(c->args, "name");
  *disabled = user_disabled(c->st, name);
  if (*disabled == -1) return jcm__dberr(c, "user");
  if (*disabled == -2) return jcm__refuse(c, C_UNKNOWN_USER, "name", "no user %s", name);
  return JCM_OK;
}

/* An admin acts on anyone; every other user only on itself (8011). */
static int own_or_admin(jcm_ctx *c, const char *user, const char *field, const char *what) {
  if (c->role == R_ADMIN || strcmp(actor_user(c->actor), user) == 0) return JCM_OK;
  return jcm__refuse(c, C_NOT_OWNER, field, "only its user or a registry administrator may %s", what);
}

/* The statements that set what ends a user's sessions (they were opened
 * before this entry): each its own static text, as db_q caches statements
 * by their text's address. */
static const char set_password[] = "UPDATE app_user SET cred_seq = ? WHERE name = ?",
                  set_disabled[] = "UPDATE app_user SET disabled = 1, cred_seq = ? WHERE name = ?",
                  set_enabled[] = "UPDATE app_user SET disabled = 0, cred_seq = ? WHERE name = ?";

static int set_user_state(jcm_ctx *c, const char *q) {
  return db_x(c->st, q, "is", c->seq, jcm__s(c->args, "name")) == 0 ? JCM_OK : jcm__dberr(c, "user");
}

int jcm__check_user_password(jcm_ctx *c) {
  int disabled;
  /* the hash is stored by jcm_submit_secret alone: through jcm_submit this
   * would journal a change that changed nothing */
  if (!c->j->with_secret) return jcm__refuse(c, C_MISSING, "password", "give the new password");
  int rc = named_user(c, &disabled);
  return rc == JCM_OK ? own_or_admin(c, jcm__s(c->args, "name"), "name", "set a user's password") : rc;
}

int jcm__apply_user_password(jcm_ctx *c) { return set_user_state(c, set_password); }

/* Disabling the last enabled administrator would leave no one to enable anyone. */
static int last_admin(jcm_ctx *c, const char *name, int *last) {
  static const char q[] = "SELECT (SELECT role FROM app_user WHERE name = ?) = 'admin' AND NOT EXISTS"
                          " (SELECT 1 FROM app_user WHERE role = 'admin' AND disabled = 0 AND name <> ?)";
  jcm_stmt *s = db_q(c->st, q, "ss", name, name);
  if (!s || db_step(c->st, s) != JCM_ROW) return s ? (db_reset(c->st, s), -1) : -1;
  *last = (int)col_int(c->st, s, 0);
  db_reset(c->st, s);
  return 0;
}

int jcm__check_user_disable(jcm_ctx *c) {
  const char *name = jcm__s(c->args, "name");
  int disabled, last = 0, rc = named_user(c, &disabled);
  if (rc != JCM_OK) return rc;
  if (disabled) return jcm__refuse(c, C_ALREADY, "name", "%s is disabled already", name);
  if (last_admin(c, name, &last) != 0) return jcm__dberr(c, "user");
  if (last)
    return jcm__refuse(c, C_LAST_ADMIN, "name", "%s is the last enabled administrator: enable or add another first",
                       name);
  return JCM_OK;
}

int jcm__apply_user_disable(jcm_ctx *c) { return set_user_state(c, set_disabled); }

/* user.role: a new role (a holder's with its organisation). Taking the
 * administrator role from the last enabled administrator is refused as
 * disabling it is; the user's sessions end (they were opened with the old
 * role), its API tokens act with the new one from the next request. */
int jcm__check_user_role(jcm_ctx *c) {
  const char *name = jcm__s(c->args, "name"), *role = jcm__s(c->args, "role"), *org = jcm__s(c->args, "org");
  int disabled, last = 0, rc = named_user(c, &disabled);
  if (rc != JCM_OK) return rc;
  if (strcmp(role, "holder") == 0 && !org)
    return jcm__refuse(c, C_MISSING, "org", "a holder user speaks for an organisation: give org");
  if (org) {
    int e = jcm__org_exists(c->st, org);
    if (e < 0) return jcm__dberr(c, "org");
    if (!e) return jcm__refuse(c, C_UNKNOWN_ORG, "org", "no organisation '%s'", org);
  }
  jcm_user u;
  if (jcm_user_get(c->j, name, &u) != JCM_OK) return jcm__dberr(c, "user");
  const char *keep = strcmp(role, "holder") == 0 && org ? org : "";
  if (strcmp(u.role, role) == 0 && strcmp(u.org, keep) == 0)
    return jcm__refuse(c, C_ALREADY, "role", "%s is a%s %s already", name, role[0] == 'a' ? "n" : "", role);
  if (strcmp(role, "admin") != 0 && last_admin(c, name, &last) != 0) return jcm__dberr(c, "user");
  if (last)
    return jcm__refuse(c, C_LAST_ADMIN, "role", "%s is the last enabled administrator: add or enable another first",
                       name);
  json_object_set_new(c->out, "from", json_pack("{s:s,s:s?}", "role", u.role, "org", u.org[0] ? u.org : NULL));
  return JCM_OK;
}

int jcm__apply_user_role(jcm_ctx *c) {
  static const char q[] = "UPDATE app_user SET role = ?, org = ?, cred_seq = ? WHERE name = ?";
  const char *role = jcm__s(c->args, "role");
  const char *org = strcmp(role, "holder") == 0 ? jcm__s(c->args, "org") : NULL; /* only a holder speaks for one */
  return db_x(c->st, q, "ssis", role, org, c->seq, jcm__s(c->args, "name")) == 0 ? JCM_OK : jcm__dberr(c, "user");
}

int jcm__check_user_enable(jcm_ctx *c) {
  int disabled, rc = named_user(c, &disabled);
  if (rc == JCM_OK && !disabled)
    return jcm__refuse(c, C_ALREADY, "name", "%s is enabled already", jcm__s(c->args, "name"));
  return rc;
}

int jcm__apply_user_enable(jcm_ctx *c) { return set_user_state(c, set_enabled); }

/* Another's token and a token that does not exist are refused alike to a
 * non-admin (8011), as accounts are (8002): guessing ids tells nothing. */
int jcm__check_token_revoke(jcm_ctx *c) {
  const char *id = jcm__s(c->args, "id");
  jcm_stmt *s = db_q(c->st, "SELECT user, revoked_seq IS NOT NULL FROM app_token WHERE id = ?", "s", id);
  if (!s) return jcm__dberr(c, "token");
  int step = db_step(c->st, s), revoked = step == JCM_ROW && col_int(c->st, s, 1);
  char user[72] = "";
  if (step == JCM_ROW) jcm__copy(user, sizeof user, col_text(c->st, s, 0));
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "token");
  if (step == JCM_DONE && c->role == R_ADMIN) return jcm__refuse(c, C_UNKNOWN_TOKEN, "id", "no API token %s", id);
  int rc = own_or_admin(c, user, "id", "revoke a token"); /* user "": no such token, never the actor's */
  if (rc == JCM_OK && revoked) return jcm__refuse(c, C_ALREADY, "id", "token %s is revoked already", id);
  return rc;
}

int jcm__apply_token_revoke(jcm_ctx *c) {
  static const char q[] = "UPDATE app_token SET revoked_seq = ? WHERE id = ?";
  return db_x(c->st, q, "is", c->seq, jcm__s(c->args, "id")) == 0 ? JCM_OK : jcm__dberr(c, "token");
}

/* A security event changes no state: the journal entry is the record. */
int jcm__check_security_event(jcm_ctx *c) {
  (void)c;
  return JCM_OK;
}
int jcm__apply_security_event(jcm_ctx *c) {
  (void)c;
  return JCM_OK;
}

/* ---- submitting with a secret ---- */

static json_t *refused(const char *cmd, int code, const char *field, const char *message) {
  return json_pack("{s:b,s:s?,s:{s:i,s:s,s:s}}", "ok", 0, "cmd", cmd, "error", "code", code, "message", message,
                   "field", field);
}

/* Long enough, printable, not one character repeated. */
static int password_weak(const char *pw) {
  size_t n = strlen(pw);
  if (n < PASSWORD_MIN || n > PASSWORD_MAX) return 1;
  size_t same = 0;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f) return 1;
    same += pw[i] == pw[0];
  }
  return same == n;
}

typedef struct {
  const char *kind; /* "password", "token", NULL: none */
  char id[72], user[72];
  char hash[crypto_pwhash_STRBYTES];
  char token[JCM_TOKEN_LEN + 1];
  int replace; /* a new password replaces the old; anything else keeps the first (idempotent retries) */
} secret;

/* Takes the password in member out of cmd and hashes it into sec->hash;
 * refuses one that is not text or is weak (1025). */
static int take_password(json_t *cmd, const char *member, secret *sec, json_t **result) {
  json_t *pw = json_object_get(cmd, member);
  const char *name = jcm__s(cmd, "cmd");
  if (!json_is_string(pw) || json_string_length(pw) != strlen(json_string_value(pw))) {
    *result = refused(name, C_TYPE, member, "the password must be text");
    return JCM_REFUSED;
  }
  if (password_weak(json_string_value(pw))) {
    *result = refused(name, C_WEAK_PASSWORD, member,
                      "the password must have 12 to 1024 printable characters, not all the same");
    return JCM_REFUSED;
  }
  if (crypto_pwhash_str(sec->hash, json_string_value(pw), json_string_length(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    *result = refused(name, 0, "", "out of memory hashing the password");
    return JCM_ERROR;
  }
  json_t *user = json_object_get(cmd, "name");
  sec->kind = "password";
  jcm__copy(sec->id, sizeof sec->id, json_is_string(user) ? json_string_value(user) : "");
  jcm__copy(sec->user, sizeof sec->user, sec->id);
  json_object_del(cmd, member);
  return JCM_OK;
}

/* user.add: takes "password" out of the command and hashes it. */
static int prepare_user(jcm *j, json_t *cmd, const jcm_actor *actor, secret *sec, json_t **result) {
  (void)j, (void)actor;
  json_t *pw = json_object_get(cmd, "password");
  if (!pw || json_is_null(pw)) {
    json_object_del(cmd, "password");
    return JCM_OK; /* a user without a password signs in with tokens only */
  }
  return take_password(cmd, "password", sec, result);
}

/* Users changing their own password give the current one: a session left
 * open, or a stolen session cookie, must not be enough to take the account. */
static int check_current(jcm *j, json_t *cmd, json_t **result) {
  const char *name = jcm__s(cmd, "name"), *current = jcm__s(cmd, "current");
  char hash[JCM_PWHASH_LEN] = "";
  if (!current) {
    *result = refused("user.password", C_MISSING, "current", "give your current password");
    return JCM_REFUSED;
  }
  if (jcm_password_hash(j, name, hash) == JCM_ERROR) {
    *result = refused("user.password", 0, "", "the store cannot be read");
    return JCM_ERROR;
  }
  int ok = jcm_password_verify(hash, current) == JCM_OK; /* no hash: one decoy verification, refused */
  sodium_memzero(hash, sizeof hash);
  if (!ok) *result = refused("user.password", C_WRONG_PASSWORD, "current", "the current password is wrong");
  return ok ? JCM_OK : JCM_REFUSED;
}

/* user.password: a new password is required; "current" only for one's own
 * (an administrator setting another user's needs none). */
static int prepare_password(jcm *j, json_t *cmd, const jcm_actor *actor, secret *sec, json_t **result) {
  const char *name = jcm__s(cmd, "name");
  int rc = JCM_OK;
  if (!json_object_get(cmd, "password")) {
    *result = refused("user.password", C_MISSING, "password", "give the new password");
    return JCM_REFUSED;
  }
  if (name && strcmp(name, actor_user(actor)) == 0) rc = check_current(j, cmd, result);
  json_object_del(cmd, "current");
  if (rc == JCM_OK) rc = take_password(cmd, "password", sec, result);
  sec->replace = 1;
  return rc;
}

/* token.create: a random token "jcm_" + 16 hex id + 48 hex secret; the
 * command carries only the id. 24 random bytes need no slow hash. */
static int prepare_token(jcm *j, json_t *cmd, const jcm_actor *actor, secret *sec, json_t **result) {
  (void)j, (void)actor, (void)result;
  unsigned char raw[32], digest[crypto_hash_sha256_BYTES];
  randombytes_buf(raw, sizeof raw);
  memcpy(sec->token, "jcm_", 4);
  jcm__hex(raw, sizeof raw, sec->token + 4);
  snprintf(sec->id, sizeof sec->id, "%.16s", sec->token + 4);
  crypto_hash_sha256(digest, (const unsigned char *)sec->token, JCM_TOKEN_LEN);
  jcm__hex(digest, sizeof digest, sec->hash);
  json_t *user = json_object_get(cmd, "user");
  jcm__copy(sec->user, sizeof sec->user, json_is_string(user) ? json_string_value(user) : "");
  json_object_set_new(cmd, "id", json_string(sec->id));
  sec->kind = "token";
  sodium_memzero(raw, sizeof raw);
  return JCM_OK;
}

typedef int (*prepare_fn)(jcm *j, json_t *cmd, const jcm_actor *actor, secret *sec, json_t **result);
static const struct {
  const char *cmd;
  prepare_fn prepare;
} secret_commands[] = {
    {"user.add", prepare_user}, {"user.password", prepare_password}, {"token.create", prepare_token}};

static prepare_fn preparer(const char *name) {
  for (size_t i = 0; name && i < sizeof secret_commands / sizeof secret_commands[0]; i++)
    if (strcmp(secret_commands[i].cmd, name) == 0) return secret_commands[i].prepare;
  return NULL;
}

int jcm_secret_command(const char *name) { return preparer(name) != NULL; }

static int store_secret(jcm *j, const secret *sec) {
  static const char keep[] = "INSERT INTO credential(kind, id, user, hash) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT(kind, id) DO NOTHING"; /* an idempotent retry keeps the first */
  static const char replace[] = "INSERT INTO credential(kind, id, user, hash) VALUES (?, ?, ?, ?)"
                                " ON CONFLICT(kind, id) DO UPDATE SET user = excluded.user, hash = excluded.hash";
  int rc = db_x(jcm__store(j), sec->replace ? replace : keep, "ssss", sec->kind, sec->id, sec->user, sec->hash);
  return rc == 0 ? JCM_OK : JCM_ERROR;
}

int jcm_submit_secret(jcm *j, json_t *cmd, const jcm_actor *actor, json_t **result) {
  const char *name = json_is_object(cmd) ? jcm__s(cmd, "cmd") : NULL;
  prepare_fn prepare = preparer(name);
  /* a role that may not submit it is refused before any secret is looked at */
  if (!prepare || !(jcm__spec_find(name)->roles & jcm__role_bit(actor->role))) return jcm_submit(j, cmd, actor, result);
  secret sec = {0};
  json_t *c2 = json_deep_copy(cmd);
  if (!c2) return *result = refused(name, 0, "", "out of memory"), JCM_ERROR;
  int rc = prepare(j, c2, actor, &sec, result);
  int own = rc == JCM_OK && !j->in_batch;
  if (own && jcm_batch_begin(j) != JCM_OK) rc = JCM_ERROR, *result = refused(name, 0, "", "cannot begin");
  j->with_secret = 1;
  if (rc == JCM_OK) rc = jcm_submit(j, c2, actor, result);
  j->with_secret = 0;
  if (rc == JCM_OK && sec.kind && store_secret(j, &sec) != JCM_OK) {
    if (!own) j->batch_broken = 1; /* the command's rows are in the caller's batch: it must not commit them */
    json_decref(*result);
    *result = refused(name, 0, "", "cannot store the credential");
    rc = JCM_ERROR;
  }
  if (own && rc == JCM_OK && jcm_batch_commit(j) != JCM_OK) {
    json_decref(*result);
    *result = refused(name, 0, "", "cannot commit");
    rc = JCM_ERROR;
  } else if (own && rc != JCM_OK) {
    jcm_batch_rollback(j);
  }
  if (rc == JCM_OK && sec.token[0])
    json_object_set_new(json_object_get(*result, "result"), "token", json_string(sec.token));
  sodium_memzero(&sec, sizeof sec);
  json_decref(c2);
  return rc;
}

/* ---- signing in ---- */

static int load_user(jcm_store *st, const char *name, jcm_user *u) {
  static const char q[] = "SELECT name, role, COALESCE(org, ''), disabled, cred_seq FROM app_user WHERE name = ?";
  jcm_stmt *s = db_q(st, q, "s", name);
  if (!s) return -1;
  int rc = db_step(st, s);
  if (rc == JCM_ROW) {
    jcm__copy(u->name, sizeof u->name, col_text(st, s, 0));
    jcm__copy(u->role, sizeof u->role, col_text(st, s, 1));
    jcm__copy(u->org, sizeof u->org, col_text(st, s, 2));
    u->disabled = col_int(st, s, 3) != 0;
    u->cred_seq = col_int(st, s, 4);
  }
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

/* The stored hash of a credential, or "" when there is none. */
static int load_hash(jcm_store *st, const char *kind, const char *id, char *user, char *hash, size_t n) {
  static const char q[] = "SELECT user, hash FROM credential WHERE kind = ? AND id = ?";
  jcm_stmt *s = db_q(st, q, "ss", kind, id);
  if (!s) return -1;
  int rc = db_step(st, s);
  hash[0] = user[0] = 0;
  if (rc == JCM_ROW) {
    jcm__copy(user, 72, col_text(st, s, 0));
    jcm__copy(hash, n, col_text(st, s, 1));
  }
  db_reset(st, s);
  return rc == JCM_STEP_ERROR ? -1 : 0;
}

int jcm_password_hash(jcm *j, const char *name, char hash[JCM_PWHASH_LEN]) {
  char user[72];
  if (!name || !jcm__is_user(name)) return hash[0] = 0, JCM_REFUSED;
  if (load_hash(jcm__store(j), "password", name, user, hash, JCM_PWHASH_LEN) != 0) return JCM_ERROR;
  return hash[0] ? JCM_OK : JCM_REFUSED;
}

int jcm_password_verify(const char *hash, const char *password) {
  /* an unknown user still costs one verification, so timing does not tell */
  static const char decoy[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                              "qLml5cbqFAO6YxVHhrSBHP0UWdxrIxkNcM8aMX3blzU";
  const char *h = hash && hash[0] ? hash : decoy;
  int ok = password && crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
  return ok && hash && hash[0] ? JCM_OK : JCM_REFUSED;
}

int jcm_user_get(jcm *j, const char *name, jcm_user *u) {
  memset(u, 0, sizeof *u);
  if (!name || !jcm__is_user(name)) return JCM_REFUSED;
  int e = load_user(jcm__store(j), name, u);
  return e < 0 ? JCM_ERROR : e ? JCM_OK : JCM_REFUSED;
}

int jcm_password_login(jcm *j, const char *name, const char *password, jcm_user *u, const char **why) {
  char hash[JCM_PWHASH_LEN] = "";
  int rc = jcm_password_hash(j, name, hash);
  memset(u, 0, sizeof *u);
  *why = "wrong name or password";
  if (rc == JCM_ERROR) return JCM_ERROR;
  /* verified even for an unknown or disabled user, so timing does not tell */
  int ok = jcm_password_verify(rc == JCM_OK ? hash : NULL, password) == JCM_OK;
  sodium_memzero(hash, sizeof hash);
  if (!ok) return JCM_REFUSED;
  rc = jcm_user_get(j, name, u);
  if (rc == JCM_OK && u->disabled) *why = "the user is disabled", rc = JCM_REFUSED;
  return rc;
}

int jcm_session_user(jcm *j, const char *name, int64_t cred_seq, jcm_user *u) {
  int rc = jcm_user_get(j, name, u);
  return rc == JCM_OK && (u->disabled || u->cred_seq != cred_seq) ? JCM_REFUSED : rc;
}

/* A token's stored hash, whether it is live (created, not revoked, not
 * expired; a token made before tokens expired has no expiry), its expiry and
 * its user, in one lookup: every API request with a token makes it. 1 when
 * the token id is known, 0 when not, -1 on a store error. */
static int load_token(jcm *j, const char *id, const char *now, char *hash, size_t n, int *live, char expires[32],
                      jcm_user *u) {
  static const char q[] =
      "SELECT c.hash, t.revoked_seq IS NULL AND (t.expires IS NULL OR t.expires > ?), COALESCE(t.expires, ''),"
      " u.name, u.role, COALESCE(u.org, ''), u.disabled, u.cred_seq FROM credential c JOIN app_token t ON t.id = c.id"
      " JOIN app_user u ON u.name = c.user WHERE c.kind = 'token' AND c.id = ?";
  jcm_store *st = jcm__store(j);
  jcm_stmt *s = db_q(st, q, "ss", now, id);
  if (!s) return -1;
  int rc = db_step(st, s);
  if (rc == JCM_ROW) {
    jcm__copy(hash, n, col_text(st, s, 0));
    *live = col_int(st, s, 1) != 0;
    jcm__copy(expires, 32, col_text(st, s, 2));
    jcm__copy(u->name, sizeof u->name, col_text(st, s, 3));
    jcm__copy(u->role, sizeof u->role, col_text(st, s, 4));
    jcm__copy(u->org, sizeof u->org, col_text(st, s, 5));
    u->disabled = col_int(st, s, 6) != 0;
    u->cred_seq = col_int(st, s, 7);
  }
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

static void memo_clear(jcm *j) {
  sodium_memzero(j->memo, sizeof j->memo); /* the tokens themselves are secrets */
  j->memo_n = j->memo_next = 0;
}

/* The memo of tokens checked (struct jcm): a check is a function of the
 * store's state, the token and the time, so while the store's version is
 * the one the memo was filled at, a token found there passes with the same
 * user as long as its expiry lies ahead. Any change to the store, by this
 * handle or another process (a revocation, a disabled user, a role change),
 * empties it. A GET with a token spent a seventh of its instructions on the
 * lookup and SHA-256 (docs/benchmarks.md). Returns the entry or NULL; *valid
 * is 0 when the store cannot tell its version (nothing is then kept). */
static const jcm_token_memo *memo_find(jcm *j, const char *token, const char *now, int64_t now_ms, int *valid) {
  int64_t v[2];
  jcm_store *st = jcm__store(j);
  *valid = st->ops->version && st->ops->version(st, v) == 0;
  if (!*valid) return NULL;
  if (v[0] != j->memo_version[0] || v[1] != j->memo_version[1]) {
    if (j->memo_n) memo_clear(j);
    memcpy(j->memo_version, v, sizeof v);
    return NULL;
  }
  for (int i = 0; i < j->memo_n; i++) {
    const jcm_token_memo *m = &j->memo[i];
    /* a short life besides: no version can be trusted to never come round
     * again (a stale entry is passed over; the ring replaces it in time) */
    int fresh = now_ms >= m->kept_ms && now_ms - m->kept_ms < JCM_TOKEN_MEMO_MS;
    if (!fresh || sodium_memcmp(m->token, token, JCM_TOKEN_LEN) != 0) continue;
    return !m->expires[0] || strcmp(m->expires, now) > 0 ? m : NULL;
  }
  return NULL;
}

static void memo_keep(jcm *j, const char *token, const char *expires, int64_t now_ms, const jcm_user *u) {
  jcm_token_memo *m = &j->memo[j->memo_next];
  memcpy(m->token, token, JCM_TOKEN_LEN);
  m->token[JCM_TOKEN_LEN] = 0;
  jcm__copy(m->expires, sizeof m->expires, expires);
  m->kept_ms = now_ms;
  m->user = *u;
  j->memo_next = (j->memo_next + 1) % JCM_TOKEN_MEMO;
  if (j->memo_n < JCM_TOKEN_MEMO) j->memo_n++;
}

void jcm__memo_forget(jcm *j) { memo_clear(j); }

int jcm_token_check(jcm *j, const char *token, jcm_user *u) {
  char id[17], now[32], expires[32] = "", want[2 * crypto_hash_sha256_BYTES + 1], got[2 * crypto_hash_sha256_BYTES + 1];
  unsigned char digest[crypto_hash_sha256_BYTES];
  jcm_user found = {0};
  int live = 0, valid = 0;
  memset(u, 0, sizeof *u);
  if (!token || strlen(token) != JCM_TOKEN_LEN || strncmp(token, "jcm_", 4) != 0) return JCM_REFUSED;
  snprintf(id, sizeof id, "%.16s", token + 4);
  if (!jcm__is_token_id(id)) return JCM_REFUSED;
  int64_t now_ms = j->clock(j->clock_ud);
  jcm__format_time(now_ms, now);
  const jcm_token_memo *m = memo_find(j, token, now, now_ms, &valid);
  if (m) {
    *u = m->user;
    return JCM_OK;
  }
  int known = load_token(j, id, now, want, sizeof want, &live, expires, &found);
  if (known < 0) return JCM_ERROR;
  crypto_hash_sha256(digest, (const unsigned char *)token, JCM_TOKEN_LEN);
  jcm__hex(digest, sizeof digest, got);
  int match = known && sodium_memcmp(want, got, sizeof got - 1) == 0;
  if (!match || !live || found.disabled) return JCM_REFUSED;
  if (valid) memo_keep(j, token, expires, now_ms, &found);
  *u = found;
  return JCM_OK;
}

void jcm_user_actor(const jcm_user *u, char *buf, size_t n, jcm_actor *out) {
  if (strcmp(u->role, "holder") == 0)
    snprintf(buf, n, "%s/%s", u->org, u->name);
  else
    jcm__copy(buf, n, u->name);
  out->name = buf;
  out->role = u->role;
}
