/*
 * Lines from a file descriptor for `jcm apply`, read without stdio so that
 * it can tell whether another line can be had without waiting: a batch is
 * committed when its N lines are in, or as soon as input pauses, so that a
 * pipe fed now and then neither holds the store's write lock nor holds back
 * the results of the lines it already sent (docs/design.md, "Commits in a
 * pipeline"). stdio's buffer hides what it has read ahead, so poll() on the
 * descriptor alone would answer wrongly.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void lines_init(line_reader *r, int fd) { *r = (line_reader){.fd = fd}; }

void lines_free(line_reader *r) {
  free(r->buf);
  r->buf = NULL;
}

/* Reads more input behind what is buffered; 0, or -1 at the end of input
 * or on an error (r->err holds its errno). */
static int fill(line_reader *r) {
  if (r->start > 0) { /* keep the unread part at the front */
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start, r->start = 0;
  }
  if (r->cap - r->end < 4096) {
    size_t cap = r->cap ? 2 * r->cap : 65536;
    char *g = realloc(r->buf, cap);
    if (!g) return r->err = ENOMEM, r->eof = 1, -1;
    r->buf = g, r->cap = cap;
  }
  ssize_t n;
  while ((n = read(r->fd, r->buf + r->end, r->cap - r->end - 1)) < 0 && errno == EINTR)
    ;
  if (n <= 0) {
    if (n < 0) r->err = errno;
    r->eof = 1;
    return -1;
  }
  r->end += (size_t)n;
  return 0;
}

char *lines_next(line_reader *r, size_t *len) {
  for (;;) {
    char *at = r->buf + r->start, *nl = r->end > r->start ? memchr(at, '\n', r->end - r->start) : NULL;
    if (nl || (r->eof && r->end > r->start)) {
      size_t n = nl ? (size_t)(nl - at) : r->end - r->start;
      r->start += nl ? n + 1 : n;
      at[n] = 0; /* over the newline, or in the byte fill keeps free */
      *len = n;
      return at;
    }
    if (r->eof || fill(r) != 0) {
      if (r->end > r->start) continue; /* a last line without its newline */
      return NULL;
    }
  }
}

int lines_ready(line_reader *r) {
  if (r->eof || (r->end > r->start && memchr(r->buf + r->start, '\n', r->end - r->start))) return 1;
  struct pollfd p = {.fd = r->fd, .events = POLLIN};
  return poll(&p, 1, 0) != 0; /* input, its end, or an error: reading will not wait */
}
