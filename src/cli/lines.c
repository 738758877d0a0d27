/*
 * Lines from a file descriptor for `jcm apply`, read without stdio so that
 * it can tell whether another line can be had without waiting: a batch is
 * committed when its N lines are in, or as soon as input pauses, so that a
 * pipe fed now and then neither holds the store's write lock nor holds back
 * the results of the lines it already sent (docs/design.md, "Commits in a
 * pipeline"). stdio's buffer hides what it has read ahead, so poll() on the
 * descriptor alone would answer wrongly. A line longer than the limit is
 * not kept: it is skipped to its newline and reported by its length alone.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void lines_init(line_reader *r, int fd, size_t max) { *r = (line_reader){.fd = fd, .max = max}; }

void lines_free(line_reader *r) {
  free(r->buf);
  r->buf = NULL;
}

/* Waits until fd can be read (a descriptor left non-blocking). */
static void wait_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (poll(&p, 1, -1) < 0 && errno == EINTR)
    ;
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
  ssize_t n; /* one byte stays free: lines_next puts a NUL after a last line */
  while ((n = read(r->fd, r->buf + r->end, r->cap - r->end - 1)) < 0 && (errno == EINTR || errno == EAGAIN))
    if (errno == EAGAIN) wait_readable(r->fd);
  if (n <= 0) {
    if (n < 0) r->err = errno;
    r->eof = 1;
    return -1;
  }
  r->end += (size_t)n;
  return 0;
}

/* The buffered line's newline, or NULL; remembers how far it looked. */
static char *find_newline(line_reader *r) {
  size_t have = r->end - r->start;
  char *nl = r->scanned < have ? memchr(r->buf + r->start + r->scanned, '\n', have - r->scanned) : NULL;
  if (!nl) r->scanned = have;
  return nl;
}

char *lines_next(line_reader *r, size_t *len) {
  static char none[1];
  for (;;) {
    char *nl = find_newline(r);
    size_t have = r->end - r->start;
    /* a last line without its newline; not one cut short by a read error */
    int last = !nl && r->eof && !r->err && (have > 0 || r->skipping);
    if (nl || last) { /* the buffer exists: it holds a line, or a skipped one did */
      char *at = r->buf + r->start;
      size_t n = nl ? (size_t)(nl - at) : have;
      r->start += nl ? n + 1 : n;
      r->scanned = 0;
      if (r->skipping) {
        r->skipping = 0;
        *len = r->max + 1;
        return none;
      }
      while (n > 0 && at[n - 1] == '\r')
        n--;
      at[n] = 0; /* over the newline, or in the byte fill keeps free */
      *len = n;
      return at;
    }
    if (r->eof) return NULL; /* the end, or a read error (err) */
    if (have > r->max) r->skipping = 1;
    if (r->skipping) r->start = r->end, r->scanned = 0; /* too long: forget it up to its newline */
    fill(r);
  }
}

int lines_ready(line_reader *r) {
  for (;;) {
    if (r->eof || find_newline(r) || r->end - r->start > r->max || r->skipping) return 1;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return 0; /* nothing now (or poll failed): the batch ends here */
    if (fill(r) != 0) return 1;        /* its end or an error: lines_next says which */
  }
}
