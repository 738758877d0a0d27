/*
 * The access log's writer. Lines are gathered in a buffer and written with
 * one write() when it fills, or by a flusher thread at most FLUSH_MS after
 * a line arrives, and at shutdown. Writing (and flushing) each line under a
 * lock made the worker threads queue for the file: one system call a
 * request, on the path of every request. A line is never split across two
 * writes, so a reader of the file sees whole lines only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define LOG_BUFFER (64 * 1024)
#define FLUSH_MS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static FILE *out;
static char buf[LOG_BUFFER];
static size_t used;
static int stopping;
static pthread_t flusher;
static int flusher_running;

static void write_all(const char *p, size_t n) {
  int fd = fileno(out);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* a full disk loses log lines, never a request */
    p += w;
    n -= (size_t)w;
  }
}

static void flush_locked(void) {
  write_all(buf, used);
  used = 0;
}

static void *flusher_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    while (!used && !stopping)
      pthread_cond_wait(&wake, &lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FLUSH_MS / 1000;
    until.tv_nsec += FLUSH_MS % 1000 * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0) {
    }
    flush_locked();
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

void srv_log_start(FILE *f) {
  out = f;
  stopping = 0;
  used = 0;
  flusher_running = pthread_create(&flusher, NULL, flusher_main, NULL) == 0;
}

void srv_log_line(const char *line, size_t n) {
  pthread_mutex_lock(&lock);
  if (!flusher_running || used + n > sizeof buf) flush_locked();
  if (!flusher_running || n > sizeof buf) {
    write_all(line, n);
  } else {
    int was_empty = used == 0;
    memcpy(buf + used, line, n);
    used += n;
    if (was_empty) pthread_cond_signal(&wake);
  }
  pthread_mutex_unlock(&lock);
}

void srv_log_stop(void) {
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  if (flusher_running) pthread_join(flusher, NULL);
  flusher_running = 0;
  pthread_mutex_lock(&lock);
  flush_locked();
  pthread_mutex_unlock(&lock);
}
