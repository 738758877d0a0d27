/*
 * /metrics in the Prometheus text format: requests by route and status,
 * a latency histogram, and commands committed. Fixed-size tables: routes
 * and statuses are few and known, so nothing here grows with traffic.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *const routes[] = {"commands", "queries", "batch",       "login", "openapi",
                                     "healthz",  "metrics", "ratelimited", "other"};
#define N_ROUTES (sizeof routes / sizeof routes[0])
static const int statuses[] = {200, 400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503, 0 /* other */};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])
static const double bounds_ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
#define N_BOUNDS (sizeof bounds_ms / sizeof bounds_ms[0])

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long requests[N_ROUTES][N_STATUSES];
static unsigned long long buckets[N_BOUNDS + 1], count, commits;
static double sum_ms;

void srv_metrics_init(void) {
  pthread_mutex_lock(&lock);
  memset(requests, 0, sizeof requests);
  memset(buckets, 0, sizeof buckets);
  count = commits = 0;
  sum_ms = 0;
  pthread_mutex_unlock(&lock);
}

void srv_metrics_record(const char *route, int status, double ms) {
  size_t r = 0, s = 0, b = 0;
  while (r < N_ROUTES - 1 && strcmp(routes[r], route) != 0)
    r++;
  while (s < N_STATUSES - 1 && statuses[s] != status)
    s++;
  while (b < N_BOUNDS && ms > bounds_ms[b])
    b++;
  pthread_mutex_lock(&lock);
  requests[r][s]++;
  buckets[b]++;
  count++;
  sum_ms += ms;
  pthread_mutex_unlock(&lock);
}

void srv_metrics_commit(unsigned n) {
  pthread_mutex_lock(&lock);
  commits += n;
  pthread_mutex_unlock(&lock);
}

char *srv_metrics_text(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  pthread_mutex_lock(&lock);
  fprintf(f, "# HELP jcm_http_requests_total HTTP requests answered, by route and status.\n"
             "# TYPE jcm_http_requests_total counter\n");
  for (size_t r = 0; r < N_ROUTES; r++)
    for (size_t s = 0; s < N_STATUSES; s++)
      if (requests[r][s])
        fprintf(f, "jcm_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", routes[r], statuses[s],
                requests[r][s]);
  fprintf(f, "# HELP jcm_http_request_duration_seconds Time from the first byte read to the response sent.\n"
             "# TYPE jcm_http_request_duration_seconds histogram\n");
  unsigned long long cum = 0;
  for (size_t b = 0; b < N_BOUNDS; b++) {
    cum += buckets[b];
    fprintf(f, "jcm_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds_ms[b] / 1000.0, cum);
  }
  fprintf(f, "jcm_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", count);
  fprintf(f, "jcm_http_request_duration_seconds_sum %.6f\njcm_http_request_duration_seconds_count %llu\n",
          sum_ms / 1000.0, count);
  fprintf(f,
          "# HELP jcm_commits_total Commands committed to the journal (including security events).\n"
          "# TYPE jcm_commits_total counter\njcm_commits_total %llu\n",
          commits);
  pthread_mutex_unlock(&lock);
  fclose(f);
  return buf;
}
