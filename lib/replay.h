/* Replaying the journal into a fresh store (lib/replay.c): verify replays all
 * of it and compares; the AEF report replays it up to a year end to read the
 * state as it stood then. */
#ifndef JCM_REPLAY_H
#define JCM_REPLAY_H

#include <stdatomic.h>

#include "engine.h"

#define JCM_MAX_PROBLEMS 20

/* A replay in progress. jcm__replay_until() continues from the entry after
 * the last one replayed, so one replay can stop at several cutoffs. */
typedef struct jcm_replay {
  jcm *src;         /* the store whose journal is replayed (read only) */
  jcm *dst;         /* the fresh in-memory store it is replayed into */
  json_t *problems; /* {check, where, what} objects, at most JCM_MAX_PROBLEMS */
  int64_t events;   /* entries checked so far */
  int chain_ok, replay_ok;
  /* the first entry whose args fail validation, with why: set by the
   * checking thread (why first) while the replay thread reads it */
  _Atomic int64_t refused_seq;
  char refused_why[300];
  unsigned char head[JCM_HASH_LEN]; /* hash of the last entry checked */
  char head_time[32];               /* and its time */
} jcm_replay;

/* Opens the fresh store; 0, or -1 when it cannot. */
int jcm__replay_open(jcm_replay *r, jcm *src, json_t *problems);
/* Checks and replays entries whose time is at or before until (ISO 8601
 * text, compared as text: every journal time has one fixed form), or every
 * entry when until is NULL. Stops at the first entry that breaks the chain
 * or cannot be applied, with a problem saying which. */
void jcm__replay_until(jcm_replay *r, const char *until);
void jcm__replay_close(jcm_replay *r); /* closes dst; accepts a closed one */

void jcm__problem(json_t *list, const char *check, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
