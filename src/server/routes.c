/*
 * The routes of the API (docs/server.md). Each turns the request into one
 * library call and the library's answer into a response; refusals keep the
 * library's check code, field and message:
 *   POST /api/v1/commands/{name}   body: the command's fields (jcm_submit)
 *   GET  /api/v1/queries/{name}    ?param=…&limit=…&offset=… (jcm_query_as)
 *   POST /api/v1/batch             JSON lines, as `jcm apply` (one transaction)
 *   POST /api/v1/login             name + password -> session token (or cookie + CSRF token)
 *   POST /api/v1/logout, GET /api/v1/session
 *   GET  /api/v1/reports/aef       ?year=…&format=csv|json|xlsx (reports.c)
 *   GET  /api/v1/openapi.json, /healthz, /metrics
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "spec.h"

#define BATCH_MAX_LINES 10000
/* Answers an error and leaves the (void) route. */
#define FAIL(...)                                                                                                      \
  do {                                                                                                                 \
    srv_error(__VA_ARGS__);                                                                                            \
    return;                                                                                                            \
  } while (0)

void srv_error(srv_resp *rs, int status, int code, const char *field, const char *message) {
  json_t *e = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", code, "message", message, "field", field ? field : "");
  rs->status = status;
  rs->body = e ? json_dumps(e, JSON_COMPACT) : NULL;
  rs->type = "application/json";
  json_decref(e);
}

/* Permissions 403 (authentication 401), a malformed body 400, any other
 * refusal 422; the store failing 500. */
int srv_status_of(int rc, int code) {
  if (rc == JCM_OK) return 200;
  if (rc == JCM_ERROR && code == 0) return 500;
  if (code == 8005) return 401;
  if (code >= 8000 && code < 9000) return 403;
  if (code == 1001) return 400;
  return 422;
}

static void json_answer(srv_resp *rs, int status, json_t *v) {
  rs->status = status;
  rs->body = v ? jcm__compact(v) : NULL;
  rs->type = "application/json";
  if (!rs->body) srv_error(rs, 500, 0, "", "out of memory");
}

/* Journals permission refusals: who tried what (DOMAIN.md §2). */
void srv_note_refusal(srv_req *rq, int code, const char *field) {
  if (code < 8000 || code >= 9000) return;
  char d[160];
  snprintf(d, sizeof d, "refused %d (%s) to %s", code, field, rq->signed_in ? rq->user.role : "the public");
  srv_security_event(rq, "refused", rq->signed_in ? rq->user.name : NULL, d);
}

static int json_type_ok(const srv_req *rq) {
  const char *t = rq->content_type;
  if (!t) return 0;
  size_t n = strcspn(t, ";");
  return n == 16 && strncasecmp(t, "application/json", 16) == 0;
}

/* ---- commands ---- */

static void command_done(srv_req *rq, srv_resp *rs, int rc, json_t *result);

static void command(srv_req *rq, srv_resp *rs, const char *name) {
  rq->route = "commands";
  if (!jcm__spec_find(name)) FAIL(rs, 404, 1006, "cmd", "no such command");
  if (!rq->signed_in) {
    srv_note_refusal(rq, 8005, "Authorization");
    FAIL(rs, 401, 8005, "Authorization", "sign in to submit commands");
  }
  if (!json_type_ok(rq)) FAIL(rs, 415, 1001, "Content-Type", "send application/json");
  json_error_t e;
  json_t *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
  if (!json_is_object(body)) {
    json_decref(body);
    FAIL(rs, 400, body ? 1003 : 1001, "", body ? "the body must be a JSON object" : "malformed JSON");
  }
  if (json_object_get(body, "cmd")) {
    json_decref(body);
    FAIL(rs, 422, 1010, "cmd", "the command is named by the path, not the body");
  }
  json_object_set_new(body, "cmd", json_string(name));
  /* group commit (group.c), answered by srv_command_finish; a command with
   * a secret runs here, so that its Argon2id work holds up no other command */
  rq->job = jcm_secret_command(name) ? NULL : srv_group_prepare(body, &rq->actor);
  json_t *result = NULL;
  int rc = rq->job ? JCM_OK : jcm_submit_secret(rq->j, body, &rq->actor, &result);
  if (rc == JCM_OK && strcmp(name, "user.password") == 0 && strcmp(jcm__s(body, "name"), rq->user.name) == 0)
    srv_session_renew(rq, json_integer_value(json_object_get(result, "seq")));
  json_decref(body);
  if (!rq->job) command_done(rq, rs, rc, result);
}

void srv_command_finish(srv_req *rq, srv_resp *rs) {
  json_t *result = NULL;
  int rc = srv_group_result(rq->job, &result);
  rq->job = NULL;
  command_done(rq, rs, rc, result);
}

static void command_done(srv_req *rq, srv_resp *rs, int rc, json_t *result) {
  json_t *err = json_object_get(result, "error");
  int code = (int)json_integer_value(json_object_get(err, "code"));
  if (rc == JCM_OK) {
    srv_metrics_commit(1);
    json_answer(rs, 200, result);
    json_decref(result);
    return;
  }
  const char *field = json_string_value(json_object_get(err, "field"));
  srv_note_refusal(rq, code, field ? field : "");
  json_t *out = json_pack("{s:O}", "error", err);
  json_answer(rs, srv_status_of(rc, code), out);
  json_decref(out);
  json_decref(result);
}

/* ---- queries ---- */

static const jcm_query_info *query_info(const char *name) {
  size_t n;
  const jcm_query_info *q = jcm_queries(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(q[i].name, name) == 0) return &q[i];
  return NULL;
}

typedef struct {
  const jcm_query_info *q;
  json_t *params;
  int duplicate;
} param_ctx;

static int is_int_param(const jcm_query_info *q, const char *key) {
  for (int i = 0; i < 8 && q->params[i]; i++)
    if (q->params[i][0] == '#' && strcmp(q->params[i] + 1, key) == 0) return 1;
  return 0;
}

/* Integer parameters become JSON numbers when they read as one; anything
 * else goes as text and the library refuses it with its own code. */
static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  param_ctx *p = cls;
  if (!key) return MHD_YES;
  if (json_object_get(p->params, key)) p->duplicate = 1;
  const char *v = value ? value : "";
  char *end = NULL;
  long long x = strtoll(v, &end, 10);
  int numeric = v[0] && *end == 0 && strlen(v) < 19;
  json_t *val = is_int_param(p->q, key) && numeric ? json_integer(x) : json_string(v);
  if (!val) val = json_string("\x7f"); /* not UTF-8: the library refuses it as a form error */
  json_object_set_new(p->params, key, val);
  return MHD_YES;
}

static void query(srv_req *rq, srv_resp *rs, const char *name) {
  rq->route = "queries";
  const jcm_query_info *q = query_info(name);
  if (!q) FAIL(rs, 404, 1006, "", "no such query");
  param_ctx p = {q, json_object(), 0};
  if (!p.params) FAIL(rs, 500, 0, "", "out of memory");
  MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, add_param, &p);
  if (p.duplicate) {
    json_decref(p.params);
    FAIL(rs, 400, 1018, "", "a query parameter is given twice");
  }
  json_t *result = NULL;
  jcm_check chk;
  int rc = jcm_query_as(rq->j, rq->signed_in ? &rq->actor : NULL, name, p.params, &result, &chk);
  json_decref(p.params);
  if (rc == JCM_OK) {
    json_answer(rs, 200, result);
  } else {
    srv_note_refusal(rq, chk.code, chk.field);
    srv_error(rs, srv_status_of(rc, chk.code), chk.code, chk.field, chk.message);
  }
  json_decref(result);
}

/* ---- batch: JSON lines in, JSON lines out, one database transaction ---- */

static int batch_type_ok(const srv_req *rq) {
  const char *t = rq->content_type;
  size_t n = t ? strcspn(t, ";") : 0;
  return json_type_ok(rq) || (n == 20 && strncasecmp(t, "application/x-ndjson", 20) == 0);
}

static void batch_line(srv_req *rq, const char *line, size_t len, json_t *out) {
  json_error_t e;
  json_t *cmd = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e), *result = NULL;
  if (!cmd) {
    jcm_submit_text(rq->j, line, len, &rq->actor, &result); /* the library's own 1001 / 1004 */
  } else {
    jcm_submit_secret(rq->j, cmd, &rq->actor, &result);
  }
  json_decref(cmd);
  json_array_append_new(out, result ? result : json_null());
}

/* Notes the refusals of the results that stand (security events for
 * 8xxx); gives how many lines were refused. */
static int note_refusals(srv_req *rq, json_t *results) {
  int refused = 0;
  size_t i;
  json_t *r;
  json_array_foreach(results, i, r) {
    json_t *err = json_object_get(r, "error");
    if (!err && json_is_object(r)) continue;
    const char *field = json_string_value(json_object_get(err, "field"));
    srv_note_refusal(rq, (int)json_integer_value(json_object_get(err, "code")), field ? field : "");
    refused++;
  }
  return refused;
}

/* Runs the body's lines in turn (results NULL: only counts them); gives
 * how many there were. */
static int batch_lines(srv_req *rq, json_t *results) {
  int lines = 0;
  for (const char *p = rq->body, *end = rq->body + rq->body_len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
      len--;
    if (len > 0 && results) batch_line(rq, p, len, results);
    lines += len > 0;
    p = nl ? nl + 1 : end;
  }
  return lines;
}

static char *lines_text(json_t *results) {
  size_t i, total = 1;
  json_t *r;
  char **parts = calloc(json_array_size(results) + 1, sizeof *parts);
  if (!parts) return NULL;
  json_array_foreach(results, i, r) total += strlen(parts[i] = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY)) + 1;
  char *text = malloc(total), *o = text;
  json_array_foreach(results, i, r) {
    if (o) o += sprintf(o, "%s\n", parts[i]);
    free(parts[i]);
  }
  if (o) *o = 0;
  free(parts);
  return text;
}

static void batch(srv_req *rq, srv_resp *rs) {
  rq->route = "batch";
  if (!rq->signed_in) {
    srv_note_refusal(rq, 8005, "Authorization");
    FAIL(rs, 401, 8005, "Authorization", "sign in to submit commands");
  }
  if (!batch_type_ok(rq)) FAIL(rs, 415, 1001, "Content-Type", "send application/x-ndjson");
  if (memchr(rq->body, 0, rq->body_len)) FAIL(rs, 400, 1001, "", "the body contains a NUL byte");
  /* counted first: a batch too large is refused whole, before any of it runs */
  if (batch_lines(rq, NULL) > BATCH_MAX_LINES) FAIL(rs, 413, 1019, "", "at most 10000 lines a batch");
  json_t *results = json_array();
  if (!results || jcm_batch_begin(rq->j) != JCM_OK) {
    json_decref(results);
    FAIL(rs, 503, 0, "", "cannot begin a transaction");
  }
  int lines = batch_lines(rq, results), committed = jcm_batch_commit(rq->j);
  if (committed == JCM_ERROR) {
    json_decref(results);
    FAIL(rs, 503, 0, "", "the batch could not be committed; none of its commands took effect");
  }
  if (committed == JCM_REFUSED) {
    /* none of it took effect: a command failed after it wrote (lib/engine.c,
     * tx_begin). Each runs again in its own transaction. */
    json_array_clear(results);
    lines = batch_lines(rq, results);
  }
  int refused = note_refusals(rq, results); /* after the commit: of the results that stand */
  srv_metrics_commit((unsigned)(lines - refused));
  rs->status = 200;
  rs->body = lines_text(results);
  rs->type = "application/x-ndjson";
  if (!rs->body) srv_error(rs, 500, 0, "", "out of memory");
  json_decref(results);
}

/* ---- the rest ---- */

static void health(srv_req *rq, srv_resp *rs) {
  rq->route = "healthz";
  json_t *head = NULL;
  jcm_check chk;
  int rc = jcm_query(rq->j, "head", NULL, &head, &chk);
  json_t *out = json_pack("{s:s,s:O?}", "status", rc == JCM_OK ? "ok" : "store unreadable", "journal", head);
  json_answer(rs, rc == JCM_OK ? 200 : 503, out);
  json_decref(out);
  json_decref(head);
}

static int method_is(const srv_req *rq, const char *m) { return strcmp(rq->method, m) == 0; }

/* Routes that are not a command or a query, by exact path. */
static int fixed_route(srv_req *rq, srv_resp *rs) {
  const char *p = rq->path;
  if (strcmp(p, "/healthz") == 0 && method_is(rq, "GET")) return health(rq, rs), 1;
  if (strcmp(p, "/metrics") == 0 && method_is(rq, "GET")) {
    rq->route = "metrics";
    rs->status = 200, rs->body = srv_metrics_text(), rs->type = "text/plain; version=0.0.4";
    return 1;
  }
  if (strcmp(p, "/api/v1/openapi.json") == 0 && method_is(rq, "GET")) {
    rq->route = "openapi";
    rs->status = 200, rs->body = srv_openapi(), rs->type = "application/json";
    return 1;
  }
  if (strcmp(p, "/api/v1/login") == 0 && method_is(rq, "POST")) {
    rq->route = "login";
    if (!json_type_ok(rq)) return srv_error(rs, 415, 1001, "Content-Type", "send application/json"), 1;
    return srv_login(rq, rs), 1;
  }
  if (strcmp(p, "/api/v1/batch") == 0 && method_is(rq, "POST")) return batch(rq, rs), 1;
  if (strcmp(p, "/api/v1/logout") == 0 && method_is(rq, "POST")) return srv_logout(rq, rs), 1;
  if (strcmp(p, "/api/v1/session") == 0 && method_is(rq, "GET")) return srv_session(rq, rs), 1;
  if (strcmp(p, "/api/v1/reports/aef") == 0 && method_is(rq, "GET")) return srv_report_aef(rq, rs), 1;
  return 0;
}

/* Command and query names are short and plain: anything else ("..", "/",
 * "%") is no name of ours. */
static int plain_name(const char *s) {
  size_t n = strlen(s);
  return n > 0 && n <= 40 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._") == n;
}

void srv_route(srv_req *rq, srv_resp *rs) {
  static const char cmds[] = "/api/v1/commands/", qs[] = "/api/v1/queries/";
  int is_cmd = strncmp(rq->path, cmds, sizeof cmds - 1) == 0, is_q = strncmp(rq->path, qs, sizeof qs - 1) == 0;
  if (srv_authenticate(rq, rs) != 0) return;
  /* Browser sessions: a state change signed in by the cookie carries the
   * session's X-CSRF-Token and no foreign Origin; a login asking for a
   * cookie, no foreign Origin. Bearer tokens are not sent by browsers on
   * their own, so they need neither. */
  int is_login = strcmp(rq->path, "/api/v1/login") == 0;
  if (!method_is(rq, "GET") && !method_is(rq, "HEAD") && (rq->by_cookie || is_login) &&
      srv_csrf_check(rq, rs, !is_login) != 0)
    return;
  if (fixed_route(rq, rs)) return;
  if (!is_cmd && !is_q && srv_static(rq, rs)) return; /* the web UI (static.c) */
  const char *name = is_cmd ? rq->path + sizeof cmds - 1 : is_q ? rq->path + sizeof qs - 1 : NULL;
  if (!name || !plain_name(name)) FAIL(rs, 404, 0, "", "no such route");
  if (is_cmd && !method_is(rq, "POST")) FAIL(rs, 405, 0, "", "commands are POSTed");
  if (is_q && !method_is(rq, "GET")) FAIL(rs, 405, 0, "", "queries are read with GET");
  if (is_cmd)
    command(rq, rs, name);
  else
    query(rq, rs, name);
}
