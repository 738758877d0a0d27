/*
 * The ceiling of bench_http.sh: a minimal libmicrohttpd server that answers
 * every request with one fixed small JSON body, started with the same daemon
 * flags, thread pool and connection limits as `jcm serve` (src/server/http.c),
 * so that the ratio of a jcm figure to this one measures what jcm adds on top
 * of libmicrohttpd on this machine, not the machine.
 *
 *   bench_ceiling [--threads N] [--port-file FILE]   (listens on 127.0.0.1, any free port)
 *
 * Runs until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] = "{\"account\":\"THA01-000-0000001-37\",\"quantity\":1000,\"blocks\":1}";
static struct MHD_Response *fixed;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
  (void)cls, (void)url, (void)method, (void)version, (void)data;
  if (!*con_cls) { /* first call: headers only, as jcm serve */
    *con_cls = (void *)1;
    return MHD_YES;
  }
  if (*data_size) {
    *data_size = 0;
    return MHD_YES;
  }
  return MHD_queue_response(c, MHD_HTTP_OK, fixed);
}

int main(int argc, char **argv) {
  unsigned threads = 4; /* jcm serve's default */
  const char *port_file = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0)
      threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--port-file") == 0)
      port_file = argv[i + 1];
  }
  if (threads < 1 || threads > 64) threads = 4;
  fixed = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(fixed, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
      on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "bench_ceiling: cannot listen\n");
    return 1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : 0;
  fprintf(stderr, "bench_ceiling: listening on http://127.0.0.1:%u/ (%u threads)\n", port, threads);
  if (port_file) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%u\n", port);
      fclose(f);
      rename(tmp, port_file);
    }
  }
  int sig = 0;
  sigwait(&signals, &sig);
  MHD_stop_daemon(d);
  MHD_destroy_response(fixed);
  return 0;
}
