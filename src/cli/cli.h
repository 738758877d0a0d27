/* The jcm command: shared declarations of its parts. */
#ifndef JCM_CLI_H
#define JCM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "jcm/jcm.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

typedef struct cli {
  const char *db;
  bool json;
  jcm_actor actor;
  bool actor_set; /* named by --actor or $JCM_ACTOR, not the default */
  int argc;       /* what follows the subcommand words */
  char **argv;
} cli;

/* print.c */
void print_result(const cli *c, json_t *result); /* a command's result */
void print_rows(const cli *c, json_t *result);   /* a list query's rows */
void print_statement(const cli *c, json_t *st);
void print_a6_balance(const cli *c, json_t *bal);
void print_verify(const cli *c, json_t *report);
void print_json_line(FILE *f, json_t *v);

/* Lines of a descriptor (lines.c): lines_next gives the next one, its
 * newline and any carriage returns before it cut off and a NUL put there
 * (the line may hold NULs of its own: *len counts them), valid until the
 * next call of either function; a line longer than max comes as "" with
 * *len = max + 1. NULL at the end of input or on a read error (err says
 * which). lines_ready: 1 when the next can be had without waiting. */
typedef struct {
  int fd, eof, err, skipping;
  char *buf;
  size_t start, end, cap, scanned, max;
} line_reader;
void lines_init(line_reader *r, int fd, size_t max);
char *lines_next(line_reader *r, size_t *len);
int lines_ready(line_reader *r);
void lines_free(line_reader *r);
int print_refusal(const cli *c, const char *what, const jcm_check *chk);

/* commands.c */
int cli_dispatch(cli *c, int argc, char **argv);
int cli_open(const cli *c, jcm **j);
void cli_usage(FILE *f);

/* demo.c */
int cli_demo(cli *c);

/* serve.c */
int cli_serve(cli *c, int argc, char **argv);
/* The commands with a secret: user add, user password, token create. */
int cli_is_users(int argc, char **argv);
int cli_users(cli *c, int argc, char **argv);

#endif
