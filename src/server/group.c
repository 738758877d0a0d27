/*
 * Group commit of commands (docs/server.md, "Group commit"). Each command
 * request becomes a job for one writer thread with its own store handle; the
 * HTTP connection is suspended meanwhile, so its worker thread serves other
 * connections. The writer takes every job queued so far and applies them in
 * one database transaction (jcm_batch_begin ... jcm_batch_commit_early). A
 * command refused by its checks has written nothing; one refused after it
 * wrote breaks the group, whose commit then fails, and each of its commands
 * runs again alone (lib/engine.c, tx_begin).
 *
 * The commit is early: its frames are written but the wait for the disk
 * (fdatasync of the WAL) is left to a second thread, the syncer, and the
 * writer goes on to apply the next group meanwhile. The syncer answers a
 * group's requests only once its fdatasync has returned, so no command is
 * reported done before it is durable; one fdatasync covers every group
 * committed before it. A committed group is visible to the workers' read
 * handles before it is durable, so every other response first waits until
 * what it could have read is durable (srv_group_wait_durable, called by
 * http.c): no client ever sees a state a power cut could take back.
 * Under load a single fsync covers many requests, and with one request at
 * a time nothing waits for company.
 *
 * Each result is what the command would have got alone: the commands of a
 * group run one after another on one handle, in arrival order, each seeing
 * the ones before it exactly as if they had committed first. If the shared
 * COMMIT fails, nothing of the group took effect and every job is run again
 * alone in its own transaction.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define GROUP_MAX 1024

struct srv_job {
  json_t *cmd, *result;
  int rc, done, abandoned;
  char actor_name[160], actor_role[24];
  jcm_actor actor;
  void (*wake)(void *);
  void *arg;
  struct srv_job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static srv_job *head, **tail = &head;
static int running, stopping, closed; /* closed: the writer has taken its last job */
static pthread_t writer;
static jcm *wj; /* the writer's store handle */
static unsigned long long n_groups, n_jobs;
static double apply_ms, commit_ms; /* the writer's time: applying commands, committing */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void run_alone(srv_job *jb) { jb->rc = jcm_submit_secret(wj, jb->cmd, &jb->actor, &jb->result); }

static char db_path[1024];

/* ---- the syncer: makes committed groups durable, then answers them ---- */

/* A committed group, for the syncer (jcm_syncer, lib/syncer.c) to answer
 * once its commit is durable. */
typedef struct {
  unsigned long long gen;
  size_t n;
  srv_job *jobs[];
} synced_group;

static jcm_syncer *syncer;

/* Groups whose commit has begun (so may be visible to readers), and the
 * last of them known durable; readers wait for the first to reach the second. */
static atomic_ullong committing, durable_gen;
static atomic_int sync_failed;
static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t d_changed = PTHREAD_COND_INITIALIZER;

static void set_durable(unsigned long long gen) {
  pthread_mutex_lock(&dlock);
  if (gen > atomic_load(&durable_gen)) atomic_store(&durable_gen, gen);
  pthread_cond_broadcast(&d_changed);
  pthread_mutex_unlock(&dlock);
}

int srv_group_wait_durable(void) {
  unsigned long long g = atomic_load(&committing);
  if (atomic_load(&durable_gen) >= g) return atomic_load(&sync_failed) ? -1 : 0;
  pthread_mutex_lock(&dlock);
  while (atomic_load(&durable_gen) < g && !atomic_load(&sync_failed))
    pthread_cond_wait(&d_changed, &dlock);
  pthread_mutex_unlock(&dlock);
  return atomic_load(&sync_failed) ? -1 : 0;
}

static void fail_job_with(srv_job *jb, const char *why) {
  json_decref(jb->result);
  jb->rc = JCM_ERROR;
  jb->result = json_pack("{s:b,s:{s:i,s:s,s:s}}", "ok", 0, "error", "code", 0, "message", why, "field", "");
}

static void fail_job(srv_job *jb) {
  fail_job_with(jb, "the store could not make the commit durable (fdatasync failed); the server is stopping");
}

static void answer_jobs(srv_job **jobs, size_t n) {
  for (size_t i = 0; i < n; i++) { /* answered only now: durable (or refused) */
    if (atomic_load(&sync_failed)) fail_job(jobs[i]);
    pthread_mutex_lock(&lock);
    int gone = jobs[i]->abandoned;
    jobs[i]->done = 1;
    pthread_mutex_unlock(&lock);
    if (gone)
      srv_group_discard(jobs[i]);
    else
      jobs[i]->wake(jobs[i]->arg);
  }
}

/* A failed fdatasync leaves it unknown what reached the disk: nothing more
 * is answered as done, and the server stops (as PostgreSQL does). */
static void sync_failure(void) {
  if (atomic_exchange(&sync_failed, 1)) return;
  fprintf(stderr, "jcm serve: fdatasync of the WAL failed: durability of the last commits is unknown; stopping\n");
  set_durable(0);
  kill(getpid(), SIGTERM);
}

/* Called by the syncer, in commit order, once the group's commit is durable
 * (ok) or an fdatasync failed. */
static void group_synced(void *arg, int ok) {
  synced_group *g = arg;
  if (ok != JCM_OK) sync_failure();
  set_durable(g->gen);
  answer_jobs(g->jobs, g->n);
  free(g);
}

static void hand_over(srv_job **jobs, size_t n, int durable, unsigned long long gen) {
  synced_group *g = malloc(sizeof *g + n * sizeof *jobs);
  if (!g) { /* no memory for the queue: wait here instead */
    jcm_syncer_drain(syncer);
    if (jcm_syncer_failed(syncer) || jcm_make_durable(durable) != JCM_OK) sync_failure();
    set_durable(gen);
    answer_jobs(jobs, n);
    return;
  }
  g->gen = gen, g->n = n;
  memcpy(g->jobs, jobs, n * sizeof *jobs);
  jcm_syncer_add(syncer, durable, group_synced, g);
}

/* ---- the writer ---- */

static void reopen_if_uninitialized(void) {
  if (jcm_registry(wj)[0]) return;
  /* opened before `init` (on a worker's handle): read the registry afresh */
  jcm *fresh = NULL;
  char err[256];
  jcm_syncer_drain(syncer); /* the syncer may hold the old handle's WAL */
  if (jcm_open(db_path, NULL, &fresh, err, sizeof err) == JCM_OK) {
    jcm_close(wj);
    wj = fresh;
  }
}

/* Applies the group in one transaction and commits it early: the syncer
 * makes it durable and answers it while this thread goes on to the next. */
static void run_group(srv_job **jobs, size_t n) {
  int grouped = 0, durable = -1;
  reopen_if_uninitialized();
  /* no new state is visible unless the group commits early below */
  unsigned long long gen = atomic_load(&committing);
  double t0 = now_ms();
  if (atomic_load(&sync_failed)) {
    for (size_t i = 0; i < n; i++)
      fail_job(jobs[i]);
    grouped = 1;
  } else if (jcm_batch_begin(wj) == JCM_OK) {
    for (size_t i = 0; i < n; i++)
      run_alone(jobs[i]); /* inside the batch */
    double t1 = now_ms();
    apply_ms += t1 - t0;
    t0 = t1;
    /* counted before the commit can make anything visible, and not sooner:
     * reads wait for it (srv_group_wait_durable) */
    gen = atomic_fetch_add(&committing, 1) + 1;
    if (jcm_batch_commit_early(wj, &durable) == JCM_OK) {
      grouped = 1;
    } else {
      fprintf(stderr, "jcm serve: a group commit of %zu commands failed; running each alone\n", n);
      for (size_t i = 0; i < n; i++) {
        json_decref(jobs[i]->result);
        jobs[i]->result = NULL;
      }
    }
  }
  if (!grouped)
    for (size_t i = 0; i < n; i++)
      run_alone(jobs[i]);     /* each its own transaction, durable when it returns */
  commit_ms += now_ms() - t0; /* alone: each its own transaction, counted here */
  n_groups++;
  n_jobs += n;
  hand_over(jobs, n, durable, gen);
}

static void *writer_main(void *unused) {
  (void)unused;
  srv_job *batch[GROUP_MAX];
  for (;;) {
    pthread_mutex_lock(&lock);
    while (!head && !stopping)
      pthread_cond_wait(&more, &lock);
    if (!head) {
      closed = 1; /* from now on srv_group_enqueue answers at once */
      pthread_mutex_unlock(&lock);
      break;
    }
    size_t n = 0;
    while (head && n < GROUP_MAX) {
      batch[n++] = head;
      head = head->next;
    }
    if (!head) tail = &head;
    pthread_mutex_unlock(&lock);
    run_group(batch, n);
  }
  return NULL;
}

int srv_group_start(const char *db) {
  char err[256] = "";
  snprintf(db_path, sizeof db_path, "%s", db);
  if (jcm_open(db, NULL, &wj, err, sizeof err) != JCM_OK) {
    fprintf(stderr, "jcm serve: cannot open %s for the writer: %s\n", db, err);
    return -1;
  }
  stopping = closed = 0;
  syncer = jcm_syncer_start();
  if (!syncer) {
    jcm_close(wj);
    wj = NULL;
    return -1;
  }
  if (pthread_create(&writer, NULL, writer_main, NULL) != 0) {
    jcm_syncer_stop(syncer);
    syncer = NULL;
    jcm_close(wj);
    wj = NULL;
    return -1;
  }
  running = 1;
  return 0;
}

void srv_group_stop(void) {
  if (!running) return;
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_signal(&more);
  pthread_mutex_unlock(&lock);
  pthread_join(writer, NULL); /* the queue is empty when it returns */
  jcm_syncer_drain(syncer);   /* every group handed over is answered */
  double sync_ms = jcm_syncer_ms(syncer);
  jcm_syncer_stop(syncer);
  syncer = NULL;
  running = 0;
  jcm_close(wj);
  wj = NULL;
  if (n_groups)
    fprintf(stderr,
            "jcm serve: %llu commands in %llu commits (%.1f a commit); writer: %.0f ms applying grouped commands, "
            "%.0f ms committing (and running lone ones); syncer: %.0f ms making commits durable\n",
            n_jobs, n_groups, (double)n_jobs / (double)n_groups, apply_ms, commit_ms, sync_ms);
}

srv_job *srv_group_prepare(json_t *cmd, const jcm_actor *actor) {
  if (!running) return NULL;
  const char *name = json_string_value(json_object_get(cmd, "cmd"));
  /* init changes what every handle caches, and the secret commands (user.add,
   * token.create, user.password) write their secrets beside the command and
   * spend tens of milliseconds on Argon2id: those keep a transaction of their own */
  if (!name || strcmp(name, "init") == 0 || jcm_secret_command(name)) return NULL;
  srv_job *jb = calloc(1, sizeof *jb);
  if (!jb) return NULL;
  jb->cmd = json_incref(cmd);
  snprintf(jb->actor_name, sizeof jb->actor_name, "%s", actor->name ? actor->name : "");
  snprintf(jb->actor_role, sizeof jb->actor_role, "%s", actor->role ? actor->role : "");
  jb->actor.name = jb->actor_name;
  jb->actor.role = jb->actor_role;
  return jb;
}

void srv_group_enqueue(srv_job *jb, void (*wake)(void *), void *arg) {
  jb->wake = wake;
  jb->arg = arg;
  jb->next = NULL;
  pthread_mutex_lock(&lock);
  if (closed) { /* prepared just before the writer stopped: refused, never left waiting */
    fail_job_with(jb, "the server is stopping; the command was not applied");
    jb->done = 1;
    pthread_mutex_unlock(&lock);
    wake(arg);
    return;
  }
  *tail = jb;
  tail = &jb->next;
  pthread_cond_signal(&more);
  pthread_mutex_unlock(&lock);
}

int srv_group_result(srv_job *jb, json_t **result) {
  int rc = jb->rc;
  *result = jb->result;
  json_decref(jb->cmd);
  free(jb);
  return rc;
}

void srv_group_discard(srv_job *jb) {
  json_t *r = NULL;
  srv_group_result(jb, &r);
  json_decref(r);
}

void srv_group_abandon(srv_job *jb) {
  pthread_mutex_lock(&lock);
  int done = jb->done;
  jb->abandoned = 1;
  pthread_mutex_unlock(&lock);
  if (done) srv_group_discard(jb); /* else the writer frees it when it is done */
}
