/* jcm: the command line over libjcm. Global options, then a subcommand. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char actor_buf[160];

int main(int argc, char **argv) {
  /* glibc gives the top of the heap back to the kernel whenever 128 KB is
   * free there, and takes it again on the next growth: a brk() and page
   * faults each time. SQLite frees a statement journal's buffers after each
   * statement of a batch, and verify's checking thread frees the events it
   * parsed, so both paid this again and again. bench_engine measures with
   * the same threshold, so its figures are what this command gets; `jcm
   * verify` of a 413,111-event store: 11.09, 9.63, 8.87 s without it and
   * 9.80, 9.43, 8.90 s with it, in alternating runs (docs/benchmarks.md). */
#ifdef __GLIBC__
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
  cli c = {0};
  const char *env;
  c.db = (env = getenv("JCM_DB")) && *env ? env : "jcm.db";
  const char *user = getenv("USER");
  snprintf(actor_buf, sizeof actor_buf, "cli:%s", user && *user ? user : "operator");
  c.actor.name = (env = getenv("JCM_ACTOR")) && *env ? env : actor_buf;
  c.actor_set = c.actor.name != actor_buf;
  c.actor.role = (env = getenv("JCM_ROLE")) && *env ? env : "admin";
  int i = 1;
  for (; i < argc && strncmp(argv[i], "-", 1) == 0; i++) {
    if (strcmp(argv[i], "--json") == 0)
      c.json = true;
    else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
      c.db = argv[++i];
    else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc)
      c.actor.name = argv[++i], c.actor_set = true;
    else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
      c.actor.role = argv[++i];
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      cli_usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("jcm 0.1.0\n");
      return EXIT_OK;
    } else {
      fprintf(stderr, "jcm: unknown option '%s' (see jcm --help)\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  /* --json and --db may also follow the subcommand words (--actor and
   * --role may not: registry add has a --role of its own) */
  int n = 0;
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  if (!rest) {
    fprintf(stderr, "jcm: out of memory\n");
    return EXIT_USAGE;
  }
  for (int k = i; k < argc; k++) {
    if (strcmp(argv[k], "--json") == 0)
      c.json = true;
    else if (strcmp(argv[k], "--db") == 0 && k + 1 < argc)
      c.db = argv[++k];
    else
      rest[n++] = argv[k];
  }
  int rc = cli_dispatch(&c, n, rest);
  free(rest);
  return rc;
}
