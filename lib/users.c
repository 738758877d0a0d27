/*
 * Users and API tokens of the HTTP server. Who a user is (name, role,
 * organisation) and which tokens exist are registry state, changed by the
 * journaled commands user.add and token.create. Their secrets are not: the
 * Argon2id password hash and the SHA-256 of a token live in `credential`,
 * written in the same database transaction as the command, and never
 * journaled, replayed or compared by verify. Logins are rare and each costs
 * one Argon2id verification (tens of milliseconds, 64 MiB); token checks are
 * common and cost one SHA-256 and one indexed read.
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

static int user_exists(jcm_store *st, const char *name) {
  jcm_stmt *s = db_q(st, "SELECT 1 FROM app_user WHERE name = ?", "s", name);
  if (!s) return -1;
  int rc = db_step(st, s);
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
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
  return rc == JCM_DONE ? JCM_OK : jcm__dberr(c, "token");
}

int jcm__apply_token_create(jcm_ctx *c) {
  static const char q[] = "INSERT INTO app_token(id, user, seq) VALUES (?, ?, ?)";
  if (db_x(c->st, q, "ssi", jcm__s(c->args, "id"), jcm__s(c->args, "user"), c->seq) != 0) return jcm__dberr(c, "token");
  return JCM_OK;
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
} secret;

/* user.add: takes "password" out of the command and hashes it. */
static int prepare_user(json_t *cmd, secret *sec, json_t **result) {
  json_t *pw = json_object_get(cmd, "password"), *name = json_object_get(cmd, "name");
  if (!pw || json_is_null(pw)) {
    json_object_del(cmd, "password");
    return JCM_OK; /* a user without a password signs in with tokens only */
  }
  if (!json_is_string(pw) || json_string_length(pw) != strlen(json_string_value(pw))) {
    *result = refused("user.add", C_TYPE, "password", "password must be text");
    return JCM_REFUSED;
  }
  if (password_weak(json_string_value(pw))) {
    *result = refused("user.add", C_WEAK_PASSWORD, "password",
                      "the password must have 12 to 1024 printable characters, not all the same");
    return JCM_REFUSED;
  }
  if (crypto_pwhash_str(sec->hash, json_string_value(pw), json_string_length(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    *result = refused("user.add", 0, "", "out of memory hashing the password");
    return JCM_ERROR;
  }
  sec->kind = "password";
  snprintf(sec->id, sizeof sec->id, "%s", json_is_string(name) ? json_string_value(name) : "");
  snprintf(sec->user, sizeof sec->user, "%s", sec->id);
  json_object_del(cmd, "password");
  return JCM_OK;
}

/* token.create: a random token "jcm_" + 16 hex id + 48 hex secret; the
 * command carries only the id. 24 random bytes need no slow hash. */
static void prepare_token(json_t *cmd, secret *sec) {
  unsigned char raw[32], digest[crypto_hash_sha256_BYTES];
  randombytes_buf(raw, sizeof raw);
  memcpy(sec->token, "jcm_", 4);
  jcm__hex(raw, sizeof raw, sec->token + 4);
  snprintf(sec->id, sizeof sec->id, "%.16s", sec->token + 4);
  crypto_hash_sha256(digest, (const unsigned char *)sec->token, JCM_TOKEN_LEN);
  jcm__hex(digest, sizeof digest, sec->hash);
  json_t *user = json_object_get(cmd, "user");
  snprintf(sec->user, sizeof sec->user, "%s", json_is_string(user) ? json_string_value(user) : "");
  json_object_set_new(cmd, "id", json_string(sec->id));
  sec->kind = "token";
  sodium_memzero(raw, sizeof raw);
}

static int store_secret(jcm *j, const secret *sec) {
  static const char q[] = "INSERT INTO credential(kind, id, user, hash) VALUES (?, ?, ?, ?)"
                          " ON CONFLICT(kind, id) DO NOTHING"; /* an idempotent retry keeps the first */
  return db_x(jcm__store(j), q, "ssss", sec->kind, sec->id, sec->user, sec->hash) == 0 ? JCM_OK : JCM_ERROR;
}

int jcm_submit_secret(jcm *j, json_t *cmd, const jcm_actor *actor, json_t **result) {
  const char *name = json_is_object(cmd) ? jcm__s(cmd, "cmd") : NULL;
  int user = name && strcmp(name, "user.add") == 0, token = name && strcmp(name, "token.create") == 0;
  if (!user && !token) return jcm_submit(j, cmd, actor, result);
  secret sec = {0};
  json_t *c2 = json_deep_copy(cmd);
  if (!c2) return *result = refused(name, 0, "", "out of memory"), JCM_ERROR;
  int rc = JCM_OK;
  if (user)
    rc = prepare_user(c2, &sec, result);
  else
    prepare_token(c2, &sec);
  int own = rc == JCM_OK && !j->in_batch;
  if (own && jcm_batch_begin(j) != JCM_OK) rc = JCM_ERROR, *result = refused(name, 0, "", "cannot begin");
  if (rc == JCM_OK) rc = jcm_submit(j, c2, actor, result);
  if (rc == JCM_OK && sec.kind && store_secret(j, &sec) != JCM_OK) {
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
  if (rc == JCM_OK && token) json_object_set_new(json_object_get(*result, "result"), "token", json_string(sec.token));
  sodium_memzero(&sec, sizeof sec);
  json_decref(c2);
  return rc;
}

/* ---- signing in ---- */

static int load_user(jcm_store *st, const char *name, jcm_user *u) {
  static const char q[] = "SELECT name, role, COALESCE(org, '') FROM app_user WHERE name = ?";
  jcm_stmt *s = db_q(st, q, "s", name);
  if (!s) return -1;
  int rc = db_step(st, s);
  if (rc == JCM_ROW) {
    snprintf(u->name, sizeof u->name, "%s", col_text(st, s, 0));
    snprintf(u->role, sizeof u->role, "%s", col_text(st, s, 1));
    snprintf(u->org, sizeof u->org, "%s", col_text(st, s, 2));
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
    snprintf(user, 72, "%s", col_text(st, s, 0));
    snprintf(hash, n, "%s", col_text(st, s, 1));
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

int jcm_token_check(jcm *j, const char *token, jcm_user *u) {
  char id[17], user[72], want[2 * crypto_hash_sha256_BYTES + 1], got[2 * crypto_hash_sha256_BYTES + 1];
  unsigned char digest[crypto_hash_sha256_BYTES];
  memset(u, 0, sizeof *u);
  if (!token || strlen(token) != JCM_TOKEN_LEN || strncmp(token, "jcm_", 4) != 0) return JCM_REFUSED;
  snprintf(id, sizeof id, "%.16s", token + 4);
  if (!jcm__is_token_id(id)) return JCM_REFUSED;
  if (load_hash(jcm__store(j), "token", id, user, want, sizeof want) != 0) return JCM_ERROR;
  crypto_hash_sha256(digest, (const unsigned char *)token, JCM_TOKEN_LEN);
  jcm__hex(digest, sizeof digest, got);
  if (!want[0] || sodium_memcmp(want, got, sizeof got - 1) != 0) return JCM_REFUSED;
  return jcm_user_get(j, user, u);
}

void jcm_user_actor(const jcm_user *u, char *buf, size_t n, jcm_actor *out) {
  if (strcmp(u->role, "holder") == 0)
    snprintf(buf, n, "%s/%s", u->org, u->name);
  else
    snprintf(buf, n, "%s", u->name);
  out->name = buf;
  out->role = u->role;
}
