/*
 * jcm serve: a JSON REST API over libjcm (docs/server.md). The server turns
 * HTTP requests into library calls and library results into HTTP responses;
 * every rule (checks, roles, who reads what, credentials) is the library's.
 */
#ifndef JCM_SERVER_H
#define JCM_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "jcm/jcm.h"

typedef struct srv_options {
  const char *db;         /* the store (a file: each worker thread opens it) */
  const char *host;       /* listen address, e.g. 127.0.0.1 */
  uint16_t port;          /* 0: any free port (printed on start) */
  unsigned threads;       /* worker threads, each with its own store handle */
  size_t body_max;        /* bytes; larger requests get 413 */
  unsigned rate_per_min;  /* requests per client per minute under /api; 0: no limit */
  unsigned session_ttl_s; /* lifetime of a login session */
  const char *access_log; /* file, or NULL for stderr */
  const char *port_file;  /* if set, the bound port is written there once listening */
  int secure_cookies;     /* session cookies marked Secure, origin https:// (behind a TLS proxy) */
} srv_options;

/* Runs until SIGTERM or SIGINT; 0 after a clean shutdown. */
int srv_run(const srv_options *o);

/* ---- what a route sees and answers (routes.c) ---- */

typedef struct srv_req {
  const char *method, *path, *query_string;
  const char *content_type;
  const char *authorization;
  const char *cookie;      /* the jcm_session cookie's value, or NULL */
  const char *origin;      /* the Origin header, or NULL */
  const char *host;        /* the Host header, or NULL */
  const char *csrf_header; /* X-CSRF-Token, or NULL */
  const char *body;
  size_t body_len;
  char client[64];
  jcm *j;     /* this worker thread's store handle */
  void *conn; /* struct MHD_Connection *, for query parameters */
  /* who asks: signed in (by token or session) or the public */
  int signed_in;
  jcm_user user;
  char actor_name[160];
  jcm_actor actor;
  int by_cookie;           /* signed in by the session cookie: state changes need the CSRF token */
  char csrf[65];           /* that session's anti-CSRF token */
  unsigned session_left_s; /* seconds the session has left (cookie or jcs_ bearer) */
  const char *route;       /* label for metrics and the access log */
  struct srv_job *job;     /* a command handed to the group writer (group.c): answer later */
} srv_req;

typedef struct srv_resp {
  int status;
  char *body; /* malloc'd */
  const char *type;
  int retry_after_s;          /* 429 */
  const char *const *headers; /* extra name, value, ..., NULL (static.c) */
  size_t body_len;            /* 0: strlen(body); else the body's bytes (binary downloads) */
  const char *dyn_name[4];    /* headers made for this response (Set-Cookie, Content-Disposition) */
  char *dyn_value[4];         /* malloc'd, freed when sent */
  int n_dyn;
} srv_resp;

/* Adds a header made for this response (at most 4). */
void srv_add_header(srv_resp *rs, const char *name, const char *value);

void srv_route(srv_req *rq, srv_resp *rs);
/* Answers a command whose rq->job the group writer has finished. */
void srv_command_finish(srv_req *rq, srv_resp *rs);
/* An error body {"error":{code,message,field}} with an HTTP status. */
void srv_error(srv_resp *rs, int status, int code, const char *field, const char *message);
/* Journals a permission refusal (8xxx) as a security event. */
void srv_note_refusal(srv_req *rq, int code, const char *field);
/* The HTTP status for a library refusal. */
int srv_status_of(int rc, int code);
/* The query parameters of the request as a JSON object, typed as the
 * query takes them; NULL and rs set on a malformed one. */

/* ---- auth.c ---- */
void srv_auth_init(unsigned session_ttl_s, int secure_cookies);
void srv_auth_shutdown(void);
/* Reads the Authorization header: 0 (public or signed in) or -1 with rs set (401). */
int srv_authenticate(srv_req *rq, srv_resp *rs);
void srv_login(srv_req *rq, srv_resp *rs);
/* POST /api/v1/logout: ends the session the request came with, clears the cookie. */
void srv_logout(srv_req *rq, srv_resp *rs);
/* After the signed-in user changed its own password (entry cred_seq): the
 * session the request came with stays signed in; its others end. */
void srv_session_renew(srv_req *rq, int64_t cred_seq);
/* GET /api/v1/session: who is signed in, and the CSRF token of a cookie session. */
void srv_session(srv_req *rq, srv_resp *rs);
/* For a state-changing request: 0 when it may go on; -1 with rs set (403, 8006)
 * when signed in by cookie without the session's X-CSRF-Token, or when the
 * Origin header names another site. need_token 0: the Origin alone (login). */
int srv_csrf_check(srv_req *rq, srv_resp *rs, int need_token);
/* Journals a security event (kind: login, login_failed, logout, refused, token_refused, csrf_refused). */
void srv_security_event(srv_req *rq, const char *kind, const char *user, const char *detail);

/* ---- static.c: the web UI's files ---- */
/* Serves DIR's files (its real path is taken now); NULL or "": no UI. -1 if DIR is no directory. */
int srv_static_init(const char *dir);
const char *srv_static_dir(void);
/* 1 when the request was for a file of the UI (answered, perhaps 404); 0 when it is not one. */
int srv_static(srv_req *rq, srv_resp *rs);

/* ---- reports.c: downloads ---- */
/* GET /api/v1/reports/aef?year=Y&format=csv|json|xlsx[&version=N&date=D] */
void srv_report_aef(srv_req *rq, srv_resp *rs);
/* ---- group.c: group commit of commands ---- */
typedef struct srv_job srv_job;
/* Opens the writer's store handle and starts its thread; -1 if it cannot. */
int srv_group_start(const char *db);
/* Finishes the queued jobs and stops the writer. */
void srv_group_stop(void);
/* Waits until every group whose commit had begun is durable: a response
 * that read the store must not show what a power cut could undo. 0, or -1
 * when a sync failed (the server is stopping). */
int srv_group_wait_durable(void);
/* A job for cmd as actor (both copied), or NULL when the command runs alone
 * (the writer is not running; init, user.add and token.create). */
srv_job *srv_group_prepare(json_t *cmd, const jcm_actor *actor);
/* Queues the job; wake(arg) is called from the writer once it is committed
 * (or refused). */
void srv_group_enqueue(srv_job *jb, void (*wake)(void *), void *arg);
/* The job's outcome (the caller owns *result); frees the job. */
int srv_group_result(srv_job *jb, json_t **result);
void srv_group_discard(srv_job *jb);
/* The request is gone: frees the job now if done, else once it is. */
void srv_group_abandon(srv_job *jb);

/* ---- openapi.c ---- */
char *srv_openapi(void); /* malloc'd JSON text */

/* ---- metrics.c ---- */
void srv_metrics_init(void);

/* The access log (accesslog.c): whole lines, buffered, flushed within 200 ms. */
void srv_log_start(FILE *f);
void srv_log_line(const char *line, size_t n);
void srv_log_stop(void);
void srv_metrics_record(const char *route, int status, double ms);
void srv_metrics_commit(unsigned n);
char *srv_metrics_text(void); /* malloc'd Prometheus text */

#endif
