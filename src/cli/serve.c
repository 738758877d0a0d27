/*
 * jcm serve, jcm user add, jcm token create: the server and its users.
 * Kept apart from commands.c so that the HTTP front end touches the rest of
 * the command line in three dispatch lines.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "server.h"

static int serve_usage(FILE *f) {
  fprintf(f, "usage: jcm serve [--db PATH] [--listen HOST:PORT] [options]\n"
             "  serves the JSON REST API under /api/v1 (docs/server.md) until SIGTERM or SIGINT\n"
             "  --listen HOST:PORT     IPv4 address and port (default 127.0.0.1:8080; port 0: any free one)\n"
             "  --threads N            worker threads, each with its own store handle (default 4, 1..64)\n"
             "  --body-max BYTES       largest request body (default 1048576; larger: 413)\n"
             "  --rate N               requests per client per minute under /api (default 600; 0: no limit)\n"
             "  --session-ttl SECONDS  lifetime of a login session (default 28800)\n"
             "  --secure-cookies       behind a TLS proxy: session cookies marked Secure, Origin https://HOST\n"
             "  --access-log FILE      one JSON line per request (default: standard error)\n"
             "  --port-file FILE       write the bound port there once listening\n"
             "  --web DIR              serve the web UI from DIR at / and /web/ (default " JCM_WEB_DIR "; '': none)\n");
  return EXIT_OK;
}

static int number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || !*s || s[0] == '-' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_listen(const char *v, srv_options *o) {
  static char host[64];
  const char *colon = strrchr(v, ':');
  unsigned long port;
  if (!colon || (size_t)(colon - v) >= sizeof host || number(colon + 1, 0, 65535, &port) != 0) return -1;
  snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
  o->host = host;
  o->port = (uint16_t)port;
  return 0;
}

int cli_serve(cli *c, int argc, char **argv) {
  srv_options o = {c->db, "127.0.0.1", 8080, 4, 1u << 20, 600, 8 * 3600, NULL, NULL, 0};
  const char *web = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long x = 0;
    int bad = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return serve_usage(stdout);
    if (strcmp(a, "--secure-cookies") == 0) {
      o.secure_cookies = 1;
      continue;
    }
    if (!v)
      bad = 1;
    else if (strcmp(a, "--listen") == 0)
      bad = parse_listen(v, &o);
    else if (strcmp(a, "--threads") == 0)
      bad = number(v, 1, 64, &x), o.threads = (unsigned)x;
    else if (strcmp(a, "--body-max") == 0)
      bad = number(v, 1024, 64ul << 20, &x), o.body_max = x;
    else if (strcmp(a, "--rate") == 0)
      bad = number(v, 0, 1000000, &x), o.rate_per_min = (unsigned)x;
    else if (strcmp(a, "--session-ttl") == 0)
      bad = number(v, 60, 30 * 86400, &x), o.session_ttl_s = (unsigned)x;
    else if (strcmp(a, "--access-log") == 0)
      o.access_log = v;
    else if (strcmp(a, "--port-file") == 0)
      o.port_file = v;
    else if (strcmp(a, "--web") == 0)
      web = v;
    else
      bad = 1;
    if (bad) {
      fprintf(stderr, "jcm serve: bad option '%s' (see jcm serve --help)\n", a);
      return EXIT_USAGE;
    }
    i++;
  }
  /* A web directory asked for must exist; the default may be missing (an API-only install). */
  if (srv_static_init(web ? web : JCM_WEB_DIR) != 0 && web && web[0]) {
    fprintf(stderr, "jcm serve: --web %s: not a directory\n", web);
    return EXIT_USAGE;
  }
  if (!srv_static_dir()) fprintf(stderr, "jcm serve: no web UI (API only)\n");
  return srv_run(&o) == 0 ? EXIT_OK : EXIT_USAGE;
}

/* A password from standard input: the first line, without its newline. */
static int read_password(char *buf, size_t n) {
  if (!fgets(buf, (int)n, stdin)) return -1;
  buf[strcspn(buf, "\r\n")] = 0;
  return 0;
}

static int submit_secret(cli *c, json_t *cmd, const char *what) {
  jcm *j;
  int rc = cli_open(c, &j);
  if (rc != EXIT_OK) return rc;
  json_t *result = NULL;
  int st = jcm_submit_secret(j, cmd, &c->actor, &result);
  if (st == JCM_OK) {
    const char *token = json_string_value(json_object_get(json_object_get(result, "result"), "token"));
    if (c->json)
      print_json_line(stdout, result);
    else if (token)
      printf("%s\n(shown once: store it now; only its hash is kept)\n", token);
    else
      print_result(c, result);
  } else {
    json_t *e = json_object_get(result, "error");
    jcm_check chk = {.code = (int)json_integer_value(json_object_get(e, "code"))};
    snprintf(chk.field, sizeof chk.field, "%s", json_string_value(json_object_get(e, "field")));
    snprintf(chk.message, sizeof chk.message, "%s", json_string_value(json_object_get(e, "message")));
    print_refusal(c, what, &chk);
    rc = st == JCM_ERROR ? EXIT_USAGE : EXIT_REFUSED;
  }
  json_decref(result);
  jcm_close(j);
  return rc;
}

typedef struct {
  const char *flag;
  const char **value; /* a flag with a value */
  int *on;            /* a switch */
} user_flag;

/* NAME and the flags of `jcm user add|password`: EXIT_OK, EXIT_USAGE (said
 * on stderr), or -1 when --help was asked. */
static int user_args(const char *what, int argc, char **argv, const user_flag *flags, const char **name) {
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return -1;
    const user_flag *f = flags;
    while (f->flag && strcmp(f->flag, argv[i]) != 0)
      f++;
    if (f->flag && f->on)
      *f->on = 1;
    else if (f->flag && i + 1 < argc)
      *f->value = argv[++i];
    else if (!f->flag && !*name && argv[i][0] != '-')
      *name = argv[i];
    else {
      fprintf(stderr, "jcm %s: unexpected '%s' (see jcm %s --help)\n", what, argv[i], what);
      return EXIT_USAGE;
    }
  }
  return EXIT_OK;
}

static int user_add(cli *c, int argc, char **argv) {
  const char *name = NULL, *role = NULL, *org = NULL;
  int from_stdin = 0;
  const user_flag flags[] = {
      {"--role", &role, NULL}, {"--org", &org, NULL}, {"--password-stdin", NULL, &from_stdin}, {0}};
  int rc = user_args("user add", argc, argv, flags, &name);
  if (rc == -1) {
    printf("usage: jcm user add NAME --role ROLE [--org ORG] [--password-stdin]\n"
           "  adds a user of the HTTP server (roles: admin, jc_secretariat, holder, tpe, auditor, peer);\n"
           "  the first user must be an admin; a holder names its organisation. With --password-stdin the\n"
           "  first line of standard input is the password (12 characters or more), kept as an Argon2id\n"
           "  hash; without it the user signs in with tokens only (jcm token create). No default exists.\n");
    return EXIT_OK;
  }
  if (rc != EXIT_OK) return rc;
  if (!name || !role) {
    fprintf(stderr, "jcm user add: give NAME and --role ROLE\n");
    return EXIT_USAGE;
  }
  char pw[1100] = "";
  if (from_stdin && read_password(pw, sizeof pw) != 0) {
    fprintf(stderr, "jcm user add: no password on standard input\n");
    return EXIT_USAGE;
  }
  json_t *cmd = json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "cmd", "user.add", "name", name, "role", role, "org", org,
                          "password", from_stdin ? pw : NULL);
  rc = cmd ? submit_secret(c, cmd, "user add") : EXIT_USAGE;
  memset(pw, 0, sizeof pw);
  json_decref(cmd);
  return rc;
}

static int user_password(cli *c, int argc, char **argv) {
  const char *name = NULL;
  int from_stdin = 0, current = 0;
  const user_flag flags[] = {{"--password-stdin", NULL, &from_stdin}, {"--current-stdin", NULL, &current}, {0}};
  int rc = user_args("user password", argc, argv, flags, &name);
  if (rc == -1) {
    printf("usage: jcm user password NAME --password-stdin [--current-stdin]\n"
           "  sets NAME's password to the first line of standard input (12 to 1024 printable characters,\n"
           "  not all the same), kept as an Argon2id hash and never journaled; NAME's sessions end. Users\n"
           "  changing their own (--actor NAME) give the current password too: with --current-stdin the\n"
           "  first line is the current password and the second the new one. An admin sets anyone's.\n");
    return EXIT_OK;
  }
  if (rc != EXIT_OK) return rc;
  if (!name || !from_stdin) {
    fprintf(stderr, "jcm user password: give NAME and --password-stdin\n");
    return EXIT_USAGE;
  }
  char cur[1100] = "", pw[1100] = "";
  rc = EXIT_USAGE;
  if ((current && read_password(cur, sizeof cur) != 0) || read_password(pw, sizeof pw) != 0) {
    fprintf(stderr, "jcm user password: no password on standard input\n");
  } else {
    json_t *cmd = json_pack("{s:s,s:s,s:s,s:s?}", "cmd", "user.password", "name", name, "password", pw, "current",
                            current ? cur : NULL);
    rc = cmd ? submit_secret(c, cmd, "user password") : EXIT_USAGE;
    json_decref(cmd);
  }
  memset(cur, 0, sizeof cur);
  memset(pw, 0, sizeof pw);
  return rc;
}

static int token_create(cli *c, int argc, char **argv) {
  const char *user = NULL, *days = NULL;
  int bad = 0;
  for (int i = 0; i < argc && !bad; i++) {
    if (strcmp(argv[i], "--days") == 0 && i + 1 < argc && !days)
      days = argv[++i];
    else if (argv[i][0] != '-' && !user)
      user = argv[i];
    else
      bad = 1;
  }
  /* digits only ("+5", " 5" and "-5" are not numbers here); the range is
   * the command's check, so that a refusal carries its code (1004) */
  unsigned long n = 0;
  if (days && (!isdigit((unsigned char)days[0]) || number(days, 0, ULONG_MAX, &n) != 0)) bad = 1;
  if (user && !bad) {
    json_t *cmd = json_pack("{s:s,s:s}", "cmd", "token.create", "user", user);
    if (cmd && days) json_object_set_new(cmd, "days", json_integer(n > 100000 ? 100000 : (json_int_t)n));
    int rc = cmd ? submit_secret(c, cmd, "token create") : EXIT_USAGE;
    json_decref(cmd);
    return rc;
  }
  int help = argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
  printf(
      "usage: jcm token create USER [--days N]\n  prints a new API token for USER once (Authorization: Bearer TOKEN);\n"
      "  the registry keeps only its SHA-256. It expires after N days (1.." JCM_TOKEN_MAX_DAYS_TEXT
      ", default " JCM_TOKEN_DAYS_TEXT ")\n");
  return help ? EXIT_OK : EXIT_USAGE;
}

int cli_is_users(int argc, char **argv) {
  int user = argc > 0 && strcmp(argv[0], "user") == 0, token = argc > 0 && strcmp(argv[0], "token") == 0;
  if (argc == 1) return user || token; /* a hint */
  return (user && (strcmp(argv[1], "add") == 0 || strcmp(argv[1], "password") == 0)) ||
         (token && strcmp(argv[1], "create") == 0);
}

int cli_users(cli *c, int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "add") == 0) return user_add(c, argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "password") == 0)
    return user_password(c, argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[0], "token") == 0 && strcmp(argv[1], "create") == 0)
    return token_create(c, argc - 2, argv + 2);
  fprintf(stderr, "jcm: try 'jcm --help': user add, user password, user disable, user enable, user role, user list,\n"
                  "     token create, token revoke, token list\n");
  return EXIT_USAGE;
}
