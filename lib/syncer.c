/*
 * A thread that makes early commits durable (jcm_batch_commit_early) and
 * then tells their owners, in the order they were handed over, so that a
 * writer can apply its next commands while the last ones reach the disk.
 * One fdatasync covers every commit handed over before it. A failed
 * fdatasync leaves it unknown what reached the disk: that commit and every
 * later one is reported as not durable, for good (as PostgreSQL stops).
 * At most SYNC_QUEUE commits wait: a writer whose results cannot be told
 * (a blocked pipe) stops at that many, rather than committing on unseen.
 * `jcm apply` and `jcm serve` use it (docs/design.md, "Commits in a
 * pipeline").
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define SYNC_QUEUE 16

typedef struct item {
  struct item *next;
  int durable;
  jcm_synced_fn fn;
  void *arg;
} item;

struct jcm_syncer {
  pthread_mutex_t lock;
  pthread_cond_t more, idle, room;
  item *head, **tail;
  int queued, busy, stopping, failed;
  long fail_after; /* JCM_TEST_SYNC_FAIL_AFTER: tests make the syncs after this many fail; -1: never */
  long delay_ms;   /* JCM_TEST_SYNC_DELAY_MS: tests widen the window before each sync */
  double ms;       /* time spent syncing */
  pthread_t thread;
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One fdatasync of fd (the test hooks apply); 0, or -1. Called by one
 * thread at a time: the syncer's, or the adder's while the syncer is idle. */
static int sync_one(jcm_syncer *s, int fd) {
  if (s->delay_ms > 0) nanosleep(&(struct timespec){s->delay_ms / 1000, s->delay_ms % 1000 * 1000000L}, NULL);
  if (s->fail_after == 0) return -1;
  if (s->fail_after > 0) s->fail_after--;
  double t0 = now_ms();
  int rc = jcm_make_durable(fd) == JCM_OK ? 0 : -1;
  pthread_mutex_lock(&s->lock);
  s->ms += now_ms() - t0;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* Syncs each descriptor of the list once (for one store they are all its
 * WAL: one fdatasync), unless nothing in it was deferred. 0, or -1 when
 * durability is unknown, which then stays so. */
static int sync_list(jcm_syncer *s, item *list) {
  pthread_mutex_lock(&s->lock);
  int failed = s->failed;
  pthread_mutex_unlock(&s->lock);
  int done = -1;
  for (item *it = list; it && !failed; it = it->next)
    if (it->durable >= 0 && it->durable != done) {
      failed = sync_one(s, it->durable) != 0;
      done = it->durable;
    }
  if (failed) {
    pthread_mutex_lock(&s->lock);
    s->failed = 1;
    pthread_mutex_unlock(&s->lock);
  }
  return failed ? -1 : 0;
}

static void *syncer_main(void *arg) {
  jcm_syncer *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->lock);
    while (!s->head && !s->stopping)
      pthread_cond_wait(&s->more, &s->lock);
    item *list = s->head;
    s->head = NULL, s->tail = &s->head;
    s->busy = list != NULL;
    pthread_mutex_unlock(&s->lock);
    if (!list) return NULL;
    int ok = sync_list(s, list) == 0 ? JCM_OK : JCM_ERROR;
    while (list) {
      item *next = list->next;
      list->fn(list->arg, ok);
      free(list);
      list = next;
      pthread_mutex_lock(&s->lock); /* room only once told: a blocked teller holds the writer back */
      s->queued--;
      pthread_cond_signal(&s->room);
      pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    s->busy = 0;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
  }
}

jcm_syncer *jcm_syncer_start(void) {
  jcm_syncer *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->tail = &s->head;
  const char *fail = getenv("JCM_TEST_SYNC_FAIL_AFTER"), *delay = getenv("JCM_TEST_SYNC_DELAY_MS");
  s->fail_after = fail && *fail ? strtol(fail, NULL, 10) : -1;
  s->delay_ms = delay ? strtol(delay, NULL, 10) : 0;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->more, NULL);
  pthread_cond_init(&s->idle, NULL);
  pthread_cond_init(&s->room, NULL);
  if (pthread_create(&s->thread, NULL, syncer_main, s) == 0) return s;
  pthread_cond_destroy(&s->room);
  pthread_cond_destroy(&s->idle);
  pthread_cond_destroy(&s->more);
  pthread_mutex_destroy(&s->lock);
  free(s);
  return NULL;
}

int jcm_syncer_add(jcm_syncer *s, int durable, jcm_synced_fn fn, void *arg) {
  item *it = malloc(sizeof *it);
  if (!it) { /* no memory for the queue: wait for the disk here instead */
    jcm_syncer_drain(s);
    item alone = {.durable = durable};
    fn(arg, sync_list(s, &alone) == 0 ? JCM_OK : JCM_ERROR);
    return JCM_OK;
  }
  *it = (item){.durable = durable, .fn = fn, .arg = arg};
  pthread_mutex_lock(&s->lock);
  while (s->queued >= SYNC_QUEUE)
    pthread_cond_wait(&s->room, &s->lock);
  s->queued++;
  *s->tail = it;
  s->tail = &it->next;
  pthread_cond_signal(&s->more);
  pthread_mutex_unlock(&s->lock);
  return JCM_OK;
}

void jcm_syncer_drain(jcm_syncer *s) {
  pthread_mutex_lock(&s->lock);
  while (s->head || s->busy)
    pthread_cond_wait(&s->idle, &s->lock);
  pthread_mutex_unlock(&s->lock);
}

int jcm_syncer_failed(jcm_syncer *s) {
  pthread_mutex_lock(&s->lock);
  int failed = s->failed;
  pthread_mutex_unlock(&s->lock);
  return failed;
}

double jcm_syncer_ms(jcm_syncer *s) {
  pthread_mutex_lock(&s->lock);
  double ms = s->ms;
  pthread_mutex_unlock(&s->lock);
  return ms;
}

void jcm_syncer_stop(jcm_syncer *s) {
  if (!s) return;
  jcm_syncer_drain(s);
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  pthread_cond_signal(&s->more);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->room);
  pthread_cond_destroy(&s->idle);
  pthread_cond_destroy(&s->more);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
