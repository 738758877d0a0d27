/*
 * The HTTP layer of jcm serve: a libmicrohttpd daemon with a small pool of
 * worker threads (internal polling, one thread per pool slot), each with its
 * own handle on the store, so that reads run side by side (SQLite WAL) and
 * writes queue on the store's own lock (BEGIN IMMEDIATE, busy timeout)
 * rather than on a mutex of ours. Here: reading request bodies under a size
 * limit, the per-client rate limit, the access log, and shutdown: on SIGTERM
 * or SIGINT stop accepting, let requests in flight finish, close the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "server.h"

#define MAX_HANDLES 64
#define RATE_SLOTS 1024
#define DRAIN_MAX_MS 30000

static const srv_options *opts;
static FILE *access_log;
static atomic_int in_flight;

/* ---- one store handle per worker thread ---- */

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static jcm *handles[MAX_HANDLES];
static size_t n_handles;
static _Thread_local jcm *thread_handle;

static jcm *store_for_thread(void) {
  if (thread_handle) return thread_handle;
  char err[256] = "";
  jcm *j = NULL;
  if (jcm_open(opts->db, NULL, &j, err, sizeof err) != JCM_OK) {
    fprintf(stderr, "jcm serve: cannot open %s: %s\n", opts->db, err);
    return NULL;
  }
  pthread_mutex_lock(&handles_lock);
  if (n_handles < MAX_HANDLES) handles[n_handles++] = j;
  pthread_mutex_unlock(&handles_lock);
  return thread_handle = j;
}

static void close_handles(void) {
  pthread_mutex_lock(&handles_lock);
  for (size_t i = 0; i < n_handles; i++)
    jcm_close(handles[i]);
  n_handles = 0;
  pthread_mutex_unlock(&handles_lock);
}

/* ---- per-client rate limit: a token bucket per address slot ---- */

typedef struct {
  char client[64];
  double tokens;
  int64_t last_ms;
} bucket;
static bucket buckets[RATE_SLOTS];
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the client may make a request now. Clients that collide on a slot
 * share it: the limit errs toward refusing, never toward letting through. */
static int rate_allow(const char *client) {
  if (!opts->rate_per_min) return 1;
  uint32_t h = 2166136261u;
  for (const char *p = client; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  pthread_mutex_lock(&rate_lock);
  bucket *b = &buckets[h % RATE_SLOTS];
  int64_t t = now_ms();
  double cap = (double)opts->rate_per_min;
  if (strcmp(b->client, client) != 0 && b->last_ms && t - b->last_ms < 60000) {
    /* a different client within the minute: share the bucket */
  } else if (strcmp(b->client, client) != 0) {
    jcm__copy(b->client, sizeof b->client, client);
    b->tokens = cap;
    b->last_ms = t;
  }
  b->tokens += (double)(t - b->last_ms) * cap / 60000.0;
  if (b->tokens > cap) b->tokens = cap;
  b->last_ms = t;
  int ok = b->tokens >= 1.0;
  if (ok) b->tokens -= 1.0;
  pthread_mutex_unlock(&rate_lock);
  return ok;
}

/* ---- a request's life ---- */

typedef struct conn_state {
  char *body;
  size_t len, cap;
  int too_large;
  int64_t start_ms;
  int status;
  size_t bytes_out;
  const char *route;
  char method[16], path[256], client[64], user[72];
  srv_req rq; /* kept while a command waits for the group writer */
} conn_state;

static void client_of(struct MHD_Connection *c, char out[64]) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, 64, "unknown");
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 64);
}

/* The client's address as text, once per connection (inet_ntop on every
 * request of a keep-alive connection was a twentieth of a GET's cost). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  (void)cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    char *client = malloc(64);
    if (client) client_of(c, client);
    *socket_context = client;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    free(*socket_context);
    *socket_context = NULL;
  }
}

static int append_body(conn_state *s, const char *data, size_t n) {
  if (s->too_large || s->len + n > opts->body_max) {
    s->too_large = 1; /* keep reading to answer 413, but keep nothing */
    free(s->body);
    s->body = NULL;
    s->len = s->cap = 0;
    return 0;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1)
      cap *= 2;
    char *b = realloc(s->body, cap);
    if (!b) return -1;
    s->body = b;
    s->cap = cap;
  }
  memcpy(s->body + s->len, data, n);
  s->len += n;
  s->body[s->len] = 0;
  return 0;
}

void srv_add_header(srv_resp *rs, const char *name, const char *value) {
  if (rs->n_dyn >= 4) return;
  char *v = strdup(value);
  if (!v) return;
  rs->dyn_name[rs->n_dyn] = name;
  rs->dyn_value[rs->n_dyn++] = v;
}

static void free_dyn(srv_resp *rs) {
  for (int i = 0; i < rs->n_dyn; i++)
    free(rs->dyn_value[i]);
  rs->n_dyn = 0;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, conn_state *s, srv_resp *rs) {
  size_t len = rs->body ? (rs->body_len ? rs->body_len : strlen(rs->body)) : 0;
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, rs->body ? rs->body : (void *)"", MHD_RESPMEM_MUST_FREE);
  if (!rs->body) {
    MHD_destroy_response(r);
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  if (!r) return free_dyn(rs), MHD_NO;
  rs->body = NULL; /* MHD owns it now */
  for (int i = 0; i < rs->n_dyn; i++)
    MHD_add_response_header(r, rs->dyn_name[i], rs->dyn_value[i]);
  free_dyn(rs);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->type ? rs->type : "application/json");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  for (const char *const *h = rs->headers; h && h[0] && h[1]; h += 2)
    MHD_add_response_header(r, h[0], h[1]);
  if (!MHD_get_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (rs->retry_after_s) {
    char v[16];
    snprintf(v, sizeof v, "%d", rs->retry_after_s);
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
  }
  s->status = rs->status;
  s->bytes_out = len;
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result finish(struct MHD_Connection *c, conn_state *s, srv_req *rq, srv_resp *rs) {
  s->route = rq->route;
  if (rq->signed_in) jcm__copy(s->user, sizeof s->user, rq->user.name);
  return send_resp(c, s, rs);
}

static void fill_request(struct MHD_Connection *c, conn_state *s, srv_req *rq, const char *url, const char *method) {
  rq->method = method;
  rq->path = url;
  rq->conn = c;
  rq->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  rq->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  rq->cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "jcm_session");
  rq->origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  rq->host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
  rq->csrf_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
  rq->body = s->body ? s->body : "";
  rq->body_len = s->len;
  jcm__copy(rq->client, sizeof rq->client, s->client);
  rq->route = "other";
}

/* Answers a complete request. */
static void resume(void *c) { MHD_resume_connection(c); }

static enum MHD_Result answer(struct MHD_Connection *c, conn_state *s, const char *url, const char *method) {
  srv_req *rq = &s->rq;
  srv_resp rs = {0};
  if (rq->job) { /* resumed: the group writer has committed the command (group.c) */
    srv_command_finish(rq, &rs);
    return finish(c, s, rq, &rs);
  }
  fill_request(c, s, rq, url, method);
  if (s->too_large) {
    srv_error(&rs, 413, 1005, "", "the request body is larger than the limit");
  } else if (strncmp(url, "/api/", 5) == 0 && !rate_allow(s->client)) {
    srv_error(&rs, 429, 1004, "", "too many requests from this client: slow down");
    rs.retry_after_s = 60 / (int)(opts->rate_per_min ? (opts->rate_per_min < 60 ? opts->rate_per_min : 60) : 1);
    rq->route = "ratelimited";
  } else if (!(rq->j = store_for_thread())) {
    srv_error(&rs, 503, 0, "", "the store cannot be opened");
  } else {
    /* the token check and a query read one snapshot, in one read transaction
     * (a command or a security event submitted on this handle ends it first) */
    int snapshot = jcm_read_begin(rq->j) == JCM_OK;
    srv_route(rq, &rs);
    if (snapshot) jcm_read_end(rq->j);
    if (rq->job) { /* suspended (this thread serves others) until the writer wakes it */
      MHD_suspend_connection(c);
      srv_group_enqueue(rq->job, resume, c);
      return MHD_YES;
    }
  }
  if (srv_group_wait_durable() != 0) { /* what was read may not be durable */
    free(rs.body);
    rs.body = NULL;
    free_dyn(&rs);
    srv_error(&rs, 503, 0, "", "the store could not make recent commits durable; the server is stopping");
  }
  return finish(c, s, rq, &rs);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
  (void)cls;
  (void)version;
  conn_state *s = *con_cls;
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->start_ms = now_ms();
    jcm__copy(s->method, sizeof s->method, method);
    jcm__copy(s->path, sizeof s->path, url);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
      jcm__copy(s->client, sizeof s->client, ci->socket_context);
    else
      client_of(c, s->client);
    atomic_fetch_add(&in_flight, 1);
    *con_cls = s;
    return MHD_YES;
  }
  if (*data_size) {
    if (append_body(s, data, *data_size) != 0) return MHD_NO;
    *data_size = 0;
    return MHD_YES;
  }
  return answer(c, s, url, method);
}

/* Appends v as a JSON string (quoted, escaped; bytes that are not UTF-8
 * become U+FFFD, as jansson refuses them) to out[*n..cap). */
static void json_str(char *out, size_t *n, size_t cap, const char *v) {
  static const char hex[] = "0123456789abcdef";
  size_t o = *n;
  if (o + 1 < cap) out[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)v; *p && o + 12 < cap; p++) {
    unsigned c = *p;
    if (c == '"' || c == '\\') {
      out[o++] = '\\', out[o++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      memcpy(out + o, "\\u00", 4), o += 4, out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
    } else if (c < 0x80) {
      out[o++] = (char)c;
    } else { /* a well-formed UTF-8 sequence is copied; anything else is U+FFFD */
      size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      size_t k = 1;
      while (len && k < len && (p[k] & 0xc0) == 0x80)
        k++;
      int ok = len && k == len && !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0) &&
               !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
      if (ok) {
        memcpy(out + o, p, len), o += len, p += len - 1;
      } else {
        memcpy(out + o, "\\ufffd", 6), o += 6;
      }
    }
  }
  if (o + 1 < cap) out[o++] = '"';
  out[o] = 0;
  *n = o;
}

/* One JSON line per request, written with one call. Every text is escaped:
 * a hostile path cannot forge a log line. */
/* A literal part of the line (memcpy: snprintf was most of the line's cost). */
static void put_lit(char *line, size_t *n, size_t cap, const char *lit) {
  size_t k = strlen(lit);
  if (*n + k >= cap) return;
  memcpy(line + *n, lit, k);
  *n += k;
}

static void log_request(const conn_state *s, double ms) {
  char t[32], line[4096]; /* path 255 bytes, each at most 6 escaped: the line always fits */
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
  size_t n = 0;
  put_lit(line, &n, sizeof line, "{\"time\":\"");
  put_lit(line, &n, sizeof line, t);
  put_lit(line, &n, sizeof line, "\",\"client\":");
  json_str(line, &n, sizeof line, s->client);
  put_lit(line, &n, sizeof line, ",\"method\":");
  json_str(line, &n, sizeof line, s->method);
  put_lit(line, &n, sizeof line, ",\"path\":");
  json_str(line, &n, sizeof line, s->path);
  put_lit(line, &n, sizeof line, ",\"route\":");
  json_str(line, &n, sizeof line, s->route ? s->route : "none");
  char num[24];
  put_lit(line, &n, sizeof line, ",\"status\":");
  jcm__itoa(s->status, num);
  put_lit(line, &n, sizeof line, num);
  put_lit(line, &n, sizeof line, ",\"bytes\":");
  jcm__itoa((int64_t)s->bytes_out, num);
  put_lit(line, &n, sizeof line, num);
  put_lit(line, &n, sizeof line, ",\"ms\":");
  int64_t tenths = ms > 0 ? (int64_t)(ms * 10 + 0.5) : 0; /* tenths, half up; ms is never negative */
  jcm__itoa(tenths / 10, num);
  put_lit(line, &n, sizeof line, num);
  num[0] = '.', num[1] = (char)('0' + tenths % 10), num[2] = 0;
  put_lit(line, &n, sizeof line, num);
  if (s->user[0]) {
    put_lit(line, &n, sizeof line, ",\"user\":");
    json_str(line, &n, sizeof line, s->user);
  }
  if (n + 3 > sizeof line) return;
  line[n++] = '}', line[n++] = '\n';
  srv_log_line(line, n);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  conn_state *s = *con_cls;
  if (!s) return;
  double ms = (double)(now_ms() - s->start_ms);
  if (s->status) {
    log_request(s, ms);
    srv_metrics_record(s->route ? s->route : "other", s->status, ms);
  }
  if (s->rq.job) srv_group_abandon(s->rq.job);
  free(s->body);
  free(s);
  *con_cls = NULL;
  atomic_fetch_sub(&in_flight, 1);
}

/* Percent-decoding of paths and parameters, except %00: a NUL would cut a
 * C string short ("accounts%00.json" read as "accounts"), so it stays as
 * the three characters and names nothing. Returns the new length. */
static int hex_digit(char ch) {
  int c = ch | 32;
  return ch >= '0' && ch <= '9' ? ch - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  char *o = s;
  for (const char *p = s; *p; p++) {
    int hi = *p == '%' && p[1] ? hex_digit(p[1]) : -1, lo = hi >= 0 && p[2] ? hex_digit(p[2]) : -1;
    if (lo >= 0 && (hi | lo)) {
      *o++ = (char)(hi * 16 + lo);
      p += 2;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return (size_t)(o - s);
}

/* ---- start, wait for a signal, stop ---- */

/* Before any thread starts (the group writer and syncer, the access log's
 * flusher, the workers): they inherit a mask without SIGTERM/SIGINT, so only
 * the main thread takes them, in sigwait. A thread started earlier could be
 * handed SIGTERM and the default action would end the process at once. */
static void block_signals(sigset_t *signals) {
  sigemptyset(signals);
  sigaddset(signals, SIGTERM);
  sigaddset(signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, signals, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static struct MHD_Daemon *start(void) {
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(opts->port);
  if (inet_pton(AF_INET, opts->host, &addr.sin_addr) != 1) {
    fprintf(stderr, "jcm serve: '%s' is not an IPv4 address\n", opts->host);
    return NULL;
  }
  return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                          opts->port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                          MHD_OPTION_THREAD_POOL_SIZE, opts->threads, MHD_OPTION_CONNECTION_LIMIT, 256u,
                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_CONNECTION,
                          on_connection, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                          MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
}

static uint16_t bound_port(struct MHD_Daemon *d) {
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  return di ? di->port : 0;
}

static void announce(struct MHD_Daemon *d) {
  uint16_t port = bound_port(d);
  fprintf(stderr, "jcm serve: listening on http://%s:%u/ (store %s, %u threads)\n", opts->host, port, opts->db,
          opts->threads);
  if (opts->port_file) { /* written whole, then renamed: a reader never sees half */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", opts->port_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%u\n", port);
      fclose(f);
      rename(tmp, opts->port_file);
    }
  }
}

/* Stops accepting, then waits (bounded) for requests in flight. */
static void drain(struct MHD_Daemon *d) {
  MHD_socket s = MHD_quiesce_daemon(d);
  if (s != MHD_INVALID_SOCKET) close(s);
  for (int waited = 0; atomic_load(&in_flight) > 0 && waited < DRAIN_MAX_MS; waited += 10) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int srv_run(const srv_options *o) {
  opts = o;
  access_log = stderr;
  if (o->access_log && !(access_log = fopen(o->access_log, "a"))) {
    fprintf(stderr, "jcm serve: cannot open %s: %s\n", o->access_log, strerror(errno));
    return 2;
  }
  /* Before the first store opens. Every handle is used by one thread only
   * (a worker's, the group writer's, this one's), so SQLite's per-connection
   * mutexes are not needed; jcm_setup adds the library's own settings, no
   * global memory accounting (a mutex taken on every allocation by every
   * thread) among them. (SQLITE_MISUSE if SQLite was initialized already:
   * then its defaults stay.) */
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  jcm_setup();
  srv_metrics_init();
  srv_auth_init(o->session_ttl_s, o->secure_cookies);
  jcm *probe = store_for_thread(); /* refuse to start on a store that does not open */
  if (!probe) return 2;
  (void)jcm_queries(&(size_t){0}); /* built once, before the workers start */
  sigset_t signals;
  block_signals(&signals);
  if (srv_group_start(o->db) != 0) {
    close_handles();
    return 2;
  }
  srv_log_start(access_log);
  struct MHD_Daemon *d = start();
  if (!d) {
    srv_log_stop();
    fprintf(stderr, "jcm serve: cannot listen on %s:%u\n", o->host, o->port);
    srv_group_stop();
    close_handles();
    return 2;
  }
  announce(d);
  int sig = 0;
  sigwait(&signals, &sig);
  fprintf(stderr, "jcm serve: %s: finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  drain(d);
  /* the writer and syncer first: every command queued is applied and
   * answered (resumed), and one arriving later is refused at once, so no
   * connection is left suspended, which MHD_stop_daemon does not allow */
  srv_group_stop();
  MHD_stop_daemon(d);
  close_handles();
  srv_auth_shutdown();
  srv_log_stop();
  fprintf(stderr, "jcm serve: stopped\n");
  if (access_log != stderr) fclose(access_log);
  return 0;
}
