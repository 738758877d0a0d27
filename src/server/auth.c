/*
 * Who is asking. A request carries "Authorization: Bearer T" where T is an
 * API token (made by `jcm token create`, checked by the library against its
 * stored SHA-256) or a session token from POST /api/v1/login. Sessions live
 * in this process only (a bounded table of SHA-256 digests, never the tokens
 * themselves): a restart signs everyone out, which is the safe direction.
 * Logins, failed logins and refused tokens are journaled as security.event
 * commands under the internal "server" role; so are permission refusals
 * (routes.c).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

#define SESSIONS_MAX 4096
#define SESSION_PREFIX "jcs_"

typedef struct {
  unsigned char digest[crypto_hash_sha256_BYTES];
  char user[72];
  time_t expires;
} session;

static session *sessions;
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ttl_s;

void srv_auth_init(unsigned session_ttl_s) {
  ttl_s = session_ttl_s ? session_ttl_s : 8 * 3600;
  sessions = calloc(SESSIONS_MAX, sizeof *sessions);
  if (!sessions) fprintf(stderr, "jcm serve: no memory for sessions: logins will be refused\n");
}

void srv_auth_shutdown(void) {
  if (sessions) sodium_memzero(sessions, SESSIONS_MAX * sizeof *sessions);
  free(sessions);
  sessions = NULL;
}

/* Stores a new session for user; the token (jcs_ + 64 hex) goes to out. */
static int session_new(const char *user, char out[69]) {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  memcpy(out, SESSION_PREFIX, 4);
  sodium_bin2hex(out + 4, 65, raw, sizeof raw);
  time_t now = time(NULL);
  int rc = -1;
  pthread_mutex_lock(&sessions_lock);
  for (size_t i = 0; sessions && i < SESSIONS_MAX; i++) {
    if (sessions[i].expires > now) continue; /* live: keep; a full table refuses, never evicts */
    crypto_hash_sha256(sessions[i].digest, (const unsigned char *)out, 68);
    snprintf(sessions[i].user, sizeof sessions[i].user, "%s", user);
    sessions[i].expires = now + (time_t)ttl_s;
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&sessions_lock);
  sodium_memzero(raw, sizeof raw);
  return rc;
}

static int session_user(const char *token, char user[72]) {
  unsigned char d[crypto_hash_sha256_BYTES];
  if (strlen(token) != 68) return -1;
  crypto_hash_sha256(d, (const unsigned char *)token, 68);
  time_t now = time(NULL);
  int rc = -1;
  pthread_mutex_lock(&sessions_lock);
  for (size_t i = 0; sessions && i < SESSIONS_MAX && rc; i++)
    if (sessions[i].expires > now && sodium_memcmp(sessions[i].digest, d, sizeof d) == 0) {
      snprintf(user, 72, "%s", sessions[i].user);
      rc = 0;
    }
  pthread_mutex_unlock(&sessions_lock);
  return rc;
}

void srv_security_event(srv_req *rq, const char *kind, const char *user, const char *detail) {
  static const jcm_actor server = {"jcm-serve", "server"};
  char d[1000];
  snprintf(d, sizeof d, "%s %.200s from %s: %s", rq->method, rq->path, rq->client, detail);
  for (char *p = d; *p; p++) /* the library refuses control characters; keep the event */
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  json_t *cmd = json_pack("{s:s,s:s,s:s?,s:s}", "cmd", "security.event", "kind", kind, "user",
                          user && user[0] ? user : NULL, "detail", d);
  json_t *result = NULL;
  if (cmd && jcm_submit(rq->j, cmd, &server, &result) != JCM_OK)
    fprintf(stderr, "jcm serve: could not journal a security event (%s)\n", kind);
  else
    srv_metrics_commit(1);
  json_decref(result);
  json_decref(cmd);
}

static void set_user(srv_req *rq, const jcm_user *u) {
  rq->user = *u;
  rq->signed_in = 1;
  jcm_user_actor(&rq->user, rq->actor_name, sizeof rq->actor_name, &rq->actor);
}

int srv_authenticate(srv_req *rq, srv_resp *rs) {
  const char *h = rq->authorization;
  if (!h) return 0; /* the public */
  if (strncmp(h, "Bearer ", 7) != 0) {
    srv_error(rs, 401, 8005, "Authorization", "use Authorization: Bearer TOKEN");
    return -1;
  }
  const char *token = h + 7;
  jcm_user u;
  char user[72];
  int rc = JCM_REFUSED;
  if (strncmp(token, SESSION_PREFIX, 4) == 0 && session_user(token, user) == 0)
    rc = jcm_user_get(rq->j, user, &u);
  else if (strncmp(token, "jcm_", 4) == 0)
    rc = jcm_token_check(rq->j, token, &u);
  if (rc == JCM_OK) {
    set_user(rq, &u);
    return 0;
  }
  if (rc == JCM_ERROR) {
    srv_error(rs, 500, 0, "", "the store cannot be read");
    return -1;
  }
  srv_security_event(rq, "token_refused", NULL, "an unknown or expired token");
  srv_error(rs, 401, 8005, "Authorization", "the token is unknown or expired");
  return -1;
}

/* POST /api/v1/login {"name","password"} -> {"token","user","role","org","expires_in"} */
void srv_login(srv_req *rq, srv_resp *rs) {
  json_error_t e;
  json_t *in = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
  const char *name = json_string_value(json_object_get(in, "name"));
  const char *password = json_string_value(json_object_get(in, "password"));
  if (!json_is_object(in) || !name || !password || json_object_size(in) != 2) {
    srv_error(rs, 400, in ? 1002 : 1001, in ? "name" : "", "give {\"name\":…, \"password\":…}");
    json_decref(in);
    return;
  }
  char hash[JCM_PWHASH_LEN] = "";
  int rc = jcm_password_hash(rq->j, name, hash);
  jcm_user u;
  char token[69];
  /* the hash is verified even for an unknown user, so timing does not tell */
  if (rc == JCM_ERROR) {
    srv_error(rs, 500, 0, "", "the store cannot be read");
  } else if (jcm_password_verify(rc == JCM_OK ? hash : NULL, password) != JCM_OK ||
             jcm_user_get(rq->j, name, &u) != JCM_OK) {
    srv_security_event(rq, "login_failed", name, "wrong name or password");
    srv_error(rs, 401, 8005, "password", "wrong name or password");
  } else if (session_new(u.name, token) != 0) {
    srv_error(rs, 503, 0, "", "too many sessions: try again later");
  } else {
    srv_security_event(rq, "login", u.name, "signed in");
    json_t *out = json_pack("{s:s,s:s,s:s,s:s?,s:i}", "token", token, "user", u.name, "role", u.role, "org",
                            u.org[0] ? u.org : NULL, "expires_in", (int)ttl_s);
    rs->status = 200;
    rs->body = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    rq->route = "login";
    set_user(rq, &u);
    sodium_memzero(token, sizeof token);
  }
  sodium_memzero(hash, sizeof hash);
  json_decref(in);
}
