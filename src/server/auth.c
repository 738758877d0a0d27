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
#define COOKIE_NAME "jcm_session"

typedef struct {
  unsigned char digest[crypto_hash_sha256_BYTES];
  char user[72];
  char csrf[65];    /* the anti-CSRF token of this session: 64 hex digits */
  int64_t cred_seq; /* the user's cred_seq at sign-in: a later password or status change ends the session */
  time_t expires;
} session;

static session *sessions;
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ttl_s;
static int secure;

void srv_auth_init(unsigned session_ttl_s, int secure_cookies) {
  ttl_s = session_ttl_s ? session_ttl_s : 8 * 3600;
  secure = secure_cookies;
  sessions = calloc(SESSIONS_MAX, sizeof *sessions);
  if (!sessions) fprintf(stderr, "jcm serve: no memory for sessions: logins will be refused\n");
}

void srv_auth_shutdown(void) {
  if (sessions) sodium_memzero(sessions, SESSIONS_MAX * sizeof *sessions);
  free(sessions);
  sessions = NULL;
}

static void random_hex(char *out, size_t bytes) {
  unsigned char raw[32];
  randombytes_buf(raw, bytes);
  sodium_bin2hex(out, bytes * 2 + 1, raw, bytes);
  sodium_memzero(raw, sizeof raw);
}

/* Stores a new session for user u; the token (jcs_ + 64 hex) goes to out,
 * its anti-CSRF token to csrf. */
static int session_new(const jcm_user *u, char out[69], char csrf[65]) {
  memcpy(out, SESSION_PREFIX, 4);
  random_hex(out + 4, 32);
  random_hex(csrf, 32);
  time_t now = time(NULL);
  int rc = -1;
  pthread_mutex_lock(&sessions_lock);
  for (size_t i = 0; sessions && i < SESSIONS_MAX; i++) {
    if (sessions[i].expires > now) continue; /* live: keep; a full table refuses, never evicts */
    crypto_hash_sha256(sessions[i].digest, (const unsigned char *)out, 68);
    snprintf(sessions[i].user, sizeof sessions[i].user, "%s", u->name);
    memcpy(sessions[i].csrf, csrf, 65);
    sessions[i].cred_seq = u->cred_seq;
    sessions[i].expires = now + (time_t)ttl_s;
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&sessions_lock);
  return rc;
}

enum { FIND, END, RENEW };

/* Finds a live session by its token and copies it to *out (if not NULL);
 * what END ends it, RENEW sets its cred_seq to out->cred_seq. 0 when found. */
static int session_find(const char *token, session *out, int what) {
  unsigned char d[crypto_hash_sha256_BYTES];
  if (strlen(token) != 68 || strncmp(token, SESSION_PREFIX, 4) != 0) return -1;
  crypto_hash_sha256(d, (const unsigned char *)token, 68);
  time_t now = time(NULL);
  int rc = -1;
  pthread_mutex_lock(&sessions_lock);
  for (size_t i = 0; sessions && i < SESSIONS_MAX && rc; i++)
    if (sessions[i].expires > now && sodium_memcmp(sessions[i].digest, d, sizeof d) == 0) {
      if (what == RENEW) sessions[i].cred_seq = out->cred_seq;
      if (out) *out = sessions[i];
      if (what == END) sodium_memzero(&sessions[i], sizeof sessions[i]);
      rc = 0;
    }
  pthread_mutex_unlock(&sessions_lock);
  return rc;
}

/* The user of a live session that still stands (its user enabled, the
 * password unchanged since sign-in): JCM_OK; a session that no longer
 * stands is ended here, at once. */
static int session_user(srv_req *rq, const char *token, jcm_user *u) {
  session s;
  if (session_find(token, &s, FIND) != 0) return JCM_REFUSED;
  int rc = jcm_session_user(rq->j, s.user, s.cred_seq, u);
  if (rc == JCM_REFUSED) session_find(token, NULL, END);
  if (rc == JCM_OK) {
    memcpy(rq->csrf, s.csrf, sizeof s.csrf);
    rq->session_left_s = (unsigned)(s.expires - time(NULL));
  }
  sodium_memzero(&s, sizeof s);
  return rc;
}

/* The session the request came with, or NULL (an API token, the public). */
static const char *request_session(const srv_req *rq) {
  if (rq->by_cookie) return rq->cookie;
  const char *h = rq->authorization;
  return h && strncmp(h, "Bearer " SESSION_PREFIX, 11) == 0 ? h + 7 : NULL;
}

void srv_session_renew(srv_req *rq, int64_t cred_seq) {
  const char *token = request_session(rq);
  session s = {.cred_seq = cred_seq};
  if (token) session_find(token, &s, RENEW);
  sodium_memzero(&s, sizeof s);
}

/* Set-Cookie for a session (token) or clearing it (NULL). */
static void set_cookie(srv_resp *rs, const char *token, unsigned max_age) {
  char v[200];
  snprintf(v, sizeof v, COOKIE_NAME "=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s", token ? token : "",
           token ? max_age : 0, secure ? "; Secure" : "");
  srv_add_header(rs, "Set-Cookie", v);
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

/* 1 when the request's Origin (if any) is this server's: the scheme
 * (https with --secure-cookies) and the Host the client addressed. */
static int same_origin(const srv_req *rq) {
  if (!rq->origin) return 1; /* not sent (same-origin GETs, curl): the CSRF token is the guard */
  if (!rq->host) return 0;
  const char *scheme = secure ? "https://" : "http://";
  size_t n = strlen(scheme);
  return strncmp(rq->origin, scheme, n) == 0 && strcmp(rq->origin + n, rq->host) == 0;
}

int srv_csrf_check(srv_req *rq, srv_resp *rs, int need_token) {
  const char *why = NULL;
  if (!same_origin(rq))
    why = "the Origin is not this server's";
  else if (need_token && rq->by_cookie &&
           (!rq->csrf_header || strlen(rq->csrf_header) != 64 || sodium_memcmp(rq->csrf_header, rq->csrf, 64) != 0))
    why = rq->csrf_header ? "a wrong X-CSRF-Token" : "no X-CSRF-Token";
  if (!why) return 0;
  srv_security_event(rq, "csrf_refused", rq->signed_in ? rq->user.name : NULL, why);
  srv_error(rs, 403, 8006, rq->origin && !same_origin(rq) ? "Origin" : "X-CSRF-Token", why);
  return -1;
}

int srv_authenticate(srv_req *rq, srv_resp *rs) {
  const char *h = rq->authorization;
  jcm_user u;
  int rc = JCM_REFUSED;
  if (!h && rq->cookie) { /* a browser session */
    rc = session_user(rq, rq->cookie, &u);
    if (rc == JCM_OK) {
      set_user(rq, &u);
      rq->by_cookie = 1;
      return 0;
    }
    if (rc == JCM_ERROR) {
      srv_error(rs, 500, 0, "", "the store cannot be read");
      return -1;
    }
    /* expired, ended (the user disabled, its password changed) or from
     * before a restart: the public, and the browser forgets it */
    set_cookie(rs, NULL, 0);
    return 0;
  }
  if (!h) return 0; /* the public */
  if (strncmp(h, "Bearer ", 7) != 0) {
    srv_error(rs, 401, 8005, "Authorization", "use Authorization: Bearer TOKEN");
    return -1;
  }
  const char *token = h + 7;
  if (strncmp(token, SESSION_PREFIX, 4) == 0)
    rc = session_user(rq, token, &u);
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

static json_t *who(const jcm_user *u) {
  return json_pack("{s:s,s:s,s:s?}", "user", u->name, "role", u->role, "org", u->org[0] ? u->org : NULL);
}

/* POST /api/v1/login {"name","password"} -> {"token","user","role","org","expires_in"};
 * with "cookie":true (the web UI) the token goes to an HttpOnly cookie
 * instead and the body carries the session's "csrf" token. */
void srv_login(srv_req *rq, srv_resp *rs) {
  json_error_t e;
  json_t *in = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
  const char *name = json_string_value(json_object_get(in, "name"));
  const char *password = json_string_value(json_object_get(in, "password"));
  json_t *cookie_v = json_object_get(in, "cookie");
  size_t members = 2 + (cookie_v != NULL);
  if (!json_is_object(in) || !name || !password || json_object_size(in) != members ||
      (cookie_v && !json_is_boolean(cookie_v))) {
    srv_error(rs, 400, in ? 1002 : 1001, in ? "name" : "", "give {\"name\":…, \"password\":…[, \"cookie\":true]}");
    json_decref(in);
    return;
  }
  int cookie = json_is_true(cookie_v);
  jcm_user u;
  char token[69], csrf[65];
  const char *why = "";
  int rc = jcm_password_login(rq->j, name, password, &u, &why);
  if (rc == JCM_ERROR) {
    srv_error(rs, 500, 0, "", "the store cannot be read");
  } else if (rc != JCM_OK) { /* a disabled user is told what a wrong password is told; the journal says which */
    srv_security_event(rq, "login_failed", name, why);
    srv_error(rs, 401, 8005, "password", "wrong name or password");
  } else if (session_new(&u, token, csrf) != 0) {
    srv_error(rs, 503, 0, "", "too many sessions: try again later");
  } else {
    srv_security_event(rq, "login", u.name, cookie ? "signed in (browser session)" : "signed in");
    json_t *out = who(&u);
    json_object_set_new(out, "expires_in", json_integer(ttl_s));
    if (cookie) {
      json_object_set_new(out, "csrf", json_string(csrf));
      set_cookie(rs, token, ttl_s);
    } else {
      json_object_set_new(out, "token", json_string(token));
    }
    rs->status = 200;
    rs->body = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    rq->route = "login";
    set_user(rq, &u);
    sodium_memzero(token, sizeof token);
    sodium_memzero(csrf, sizeof csrf);
  }
  json_decref(in);
}

void srv_logout(srv_req *rq, srv_resp *rs) {
  rq->route = "login";
  if (!rq->signed_in) {
    srv_error(rs, 401, 8005, "Authorization", "not signed in");
    return;
  }
  const char *token = request_session(rq);
  int ended = token && session_find(token, NULL, END) == 0;
  if (rq->by_cookie) set_cookie(rs, NULL, 0);
  if (ended)
    srv_security_event(rq, "logout", rq->user.name, rq->by_cookie ? "signed out (browser session)" : "signed out");
  json_t *out = json_pack("{s:b}", "ended", ended); /* an API token is not ended by logout */
  rs->status = 200;
  rs->body = json_dumps(out, JSON_COMPACT);
  json_decref(out);
}

void srv_session(srv_req *rq, srv_resp *rs) {
  rq->route = "login";
  json_t *out = rq->signed_in ? who(&rq->user) : json_object();
  json_object_set_new(out, "signed_in", json_boolean(rq->signed_in));
  if (rq->by_cookie) json_object_set_new(out, "csrf", json_string(rq->csrf));
  if (rq->signed_in && rq->session_left_s) json_object_set_new(out, "expires_in", json_integer(rq->session_left_s));
  rs->status = 200;
  rs->body = json_dumps(out, JSON_COMPACT);
  json_decref(out);
}
