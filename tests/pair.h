/* Two registries for the tests of the link between them: THA01 (made by
 * t_registry) and JPN01, peers with each other's keys, TH014's 2021
 * issuance in THA01: 1009 [1-1009] to the government, 1008 [1010-2017] to
 * org-a. Shared by test_link.c and test_link_review.c. */
#ifndef JCM_TEST_PAIR_H
#define JCM_TEST_PAIR_H

#include "support.h"

extern const jcm_actor T_PEER; /* carries messages: role peer */

typedef struct pair {
  char tha_path[512], jpn_path[512];
  jcm *tha, *jpn;
  t_accounts acc; /* THA01's */
  char jpn_gov[32], jpn_hold[32], jpn_retire[32];
} pair;

/* Submits the command (printf-style) and fails the test if it is refused;
 * returns its result object (the caller decrefs). */
json_t *t_must(jcm *j, const jcm_actor *a, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Submits a command that opens an account and copies its id to out. */
void t_account_of(jcm *j, const char *fmt, char out[32]);
void pair_open(pair *p, const char *name);
void pair_close(pair *p);
/* THA01 authorizes THA-A6-0001 (NDC, 2021-2030) for parties (a JSON list)
 * over scope (JSON members: "ranges":[...], "project":..., ...). */
void pair_authorize(pair *p, const char *parties, const char *scope);
/* Delivers messages both ways until nothing is left; fails on a refusal. */
void pair_sync(pair *p);
void t_verify_ok(jcm *j);
/* The rows of a query with one optional parameter (limit 1000 for lists). */
json_t *t_rows(jcm *j, const char *name, const char *param, const char *value);
/* Units of the given Article 6 action type in the store. */
int64_t t_action_units(jcm *j, const char *type);
/* Submits link.receive as the peer; the check code (0 when done). */
int t_receive(jcm *j, const char *msg, const char *sig);
/* Signs text with the secret key in the store at path: a test may act as
 * that registry, to send what a correct registry never would. */
void t_sign_as(const char *path, const char *text, char sig_hex[129]);

#endif
