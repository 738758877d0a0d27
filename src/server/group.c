/*
 * Group commit of commands (docs/server.md, "Group commit"). Each command
 * request becomes a job for one writer thread with its own store handle; the
 * HTTP connection is suspended meanwhile, so its worker thread serves other
 * connections. The writer takes every job queued so far and applies them in
 * one database transaction (jcm_batch_begin ... jcm_batch_commit), each under
 * its own savepoint, so a refused command rolls back only itself; every
 * request is answered only after that shared commit has returned, i.e. once
 * its event is durable (synchronous=FULL). While one group commits, the next
 * one queues: under load a single fsync covers many requests, and with one
 * request at a time nothing waits for company.
 *
 * Each result is what the command would have got alone: the commands of a
 * group run one after another on one handle, in arrival order, each seeing
 * the ones before it exactly as if they had committed first. If the shared
 * COMMIT fails, nothing of the group took effect and every job is run again
 * alone in its own transaction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
static int running, stopping;
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

static void run_group(srv_job **jobs, size_t n) {
  int grouped = 0;
  if (!jcm_registry(wj)[0]) { /* opened before `init` (on a worker's handle): read the registry afresh */
    jcm *fresh = NULL;
    char err[256];
    if (jcm_open(db_path, NULL, &fresh, err, sizeof err) == JCM_OK) {
      jcm_close(wj);
      wj = fresh;
    }
  }
  double t0 = now_ms();
  if (n > 1 && jcm_batch_begin(wj) == JCM_OK) {
    for (size_t i = 0; i < n; i++)
      run_alone(jobs[i]); /* inside the batch: under its own savepoint */
    double t1 = now_ms();
    apply_ms += t1 - t0;
    t0 = t1;
    if (jcm_batch_commit(wj) == JCM_OK) {
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
      run_alone(jobs[i]);
  commit_ms += now_ms() - t0; /* alone: each its own transaction, counted here */
  n_groups++;
  n_jobs += n;
  for (size_t i = 0; i < n; i++) { /* answered only now: durable (or refused) */
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

static void *writer_main(void *unused) {
  (void)unused;
  srv_job *batch[GROUP_MAX];
  for (;;) {
    pthread_mutex_lock(&lock);
    while (!head && !stopping)
      pthread_cond_wait(&more, &lock);
    if (!head) {
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
  stopping = 0;
  if (pthread_create(&writer, NULL, writer_main, NULL) != 0) {
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
  running = 0;
  jcm_close(wj);
  wj = NULL;
  if (n_groups)
    fprintf(stderr,
            "jcm serve: %llu commands in %llu commits (%.1f a commit); writer: %.0f ms applying grouped commands, "
            "%.0f ms committing (and running lone ones)\n",
            n_jobs, n_groups, (double)n_jobs / (double)n_groups, apply_ms, commit_ms);
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
