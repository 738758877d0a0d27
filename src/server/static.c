/*
 * The web UI's files (docs/web.md): GET / answers the web directory's
 * index.html, GET /web/NAME a file under it. A handful of small text files,
 * read from disk on each request so that an edited file is served at once;
 * the browser revalidates them (no-cache). What may be served is narrow on
 * purpose: names of [A-Za-z0-9._-] segments, none starting with a dot (no
 * "..", no hidden files), regular files only (no directory listing), opened
 * without following a final symlink and checked by their real path to lie
 * under the web directory (no symlinked directory out of it either), and
 * only the text types below. Each answer carries a Content-Security-Policy
 * allowing only this origin, so the UI runs no inline script.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define STATIC_MAX_BYTES (4u << 20)

static char web_root[PATH_MAX]; /* the real path of the web directory; empty: no UI */

static const char *const static_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control",
    "no-cache",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    NULL};

static const struct {
  const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".txt", "text/plain; charset=utf-8"},
};

int srv_static_init(const char *dir) {
  web_root[0] = 0;
  if (!dir || !dir[0]) return 0;
  struct stat st;
  if (!realpath(dir, web_root) || stat(web_root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    web_root[0] = 0;
    return -1;
  }
  return 0;
}

const char *srv_static_dir(void) { return web_root[0] ? web_root : NULL; }

static const char *type_of(const char *name) {
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return NULL;
}

/* 1 when every segment of name is [A-Za-z0-9._-]+ and starts with no dot. */
static int plain_path(const char *name) {
  static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  if (!name[0] || strlen(name) > 200) return 0;
  for (const char *seg = name;;) {
    size_t n = strspn(seg, ok);
    if (n == 0 || seg[0] == '.' || (seg[n] != '/' && seg[n] != 0)) return 0;
    if (seg[n] == 0) return 1;
    seg += n + 1;
  }
}

/* The file's bytes, NUL-terminated; NULL when it is not a regular file
 * under the web root, too large, or holds a NUL (bodies are C strings). */
static char *read_under_root(const char *name, size_t *len) {
  char path[PATH_MAX], real[PATH_MAX];
  size_t root_len = strlen(web_root);
  if ((size_t)snprintf(path, sizeof path, "%s/%s", web_root, name) >= sizeof path) return NULL;
  if (!realpath(path, real) || strncmp(real, web_root, root_len) != 0 || real[root_len] != '/') return NULL;
  int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < STATIC_MAX_BYTES) {
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    while (buf && got < size) {
      ssize_t r = read(fd, buf + got, size - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (buf && (got != size || memchr(buf, 0, size))) {
      free(buf);
      buf = NULL;
    }
    if (buf) buf[size] = 0, *len = size;
  }
  close(fd);
  return buf;
}

int srv_static(srv_req *rq, srv_resp *rs) {
  static const char prefix[] = "/web/";
  const char *p = rq->path, *name;
  if (!web_root[0] || (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)) return 0;
  if (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0)
    name = "index.html";
  else if (strncmp(p, prefix, sizeof prefix - 1) == 0)
    name = p + sizeof prefix - 1;
  else
    return 0;
  rq->route = "static";
  size_t len = 0;
  const char *type = plain_path(name) ? type_of(name) : NULL;
  char *body = type ? read_under_root(name, &len) : NULL;
  if (!body) {
    srv_error(rs, 404, 0, "", "no such file");
    return 1;
  }
  rs->status = 200;
  rs->body = body;
  rs->type = type;
  rs->headers = static_headers;
  return 1;
}
