/*
 * threads.c — sets the thread count for --threads (the runtime's own team,
 * team.c; OpenMP is held at one thread), and keeps any OpenMP threads of
 * oneDNN and BLIS from spin-waiting.
 *
 * libgomp's idle worker threads spin for about 300000 iterations (several
 * ms) before they sleep, after every parallel region.  On a machine whose
 * cores are shared with other work that spinning takes the CPU from the
 * thread that has work to do: the Fashion-MNIST MLP ran 10-40x slower with
 * two threads than with one while one core was busy (bench/RESULTS.md).
 * With OMP_WAIT_POLICY=passive the workers sleep at once; the cost is a
 * futex wake per parallel region, microseconds against GEMMs of 100 µs+.
 *
 * libgomp reads its environment once, in its own constructor, before any
 * constructor of ours runs and before main, so setting the variable in the
 * process is too late.  A .preinit_array function runs before every shared
 * library's constructor; it re-executes the program (/proc/self/exe) with
 * OMP_WAIT_POLICY=passive added to the environment.  environ is not yet set
 * up there, so it works only on the envp it is handed and calls nothing but
 * strncmp and execve.
 *
 * Invariants: a user who sets OMP_WAIT_POLICY or GOMP_SPINCOUNT gets exactly
 * that, and no re-exec; when the re-exec fails (no /proc) the program runs
 * on unchanged.  Thread counts never change results: GEMMs split rows and
 * columns among threads, never the k sums (tests/e2e/pipeline.sh threads).
 */
#include "program.h"
#include <omp.h>
#include <string.h>
#include <unistd.h>

#define MAX_ENV 4096

static void passive_omp(int argc, char **argv, char **envp) {
  (void)argc;
  if (!argv || !envp)
    return;
  size_t n = 0;
  for (; envp[n]; n++)
    if (strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0 ||
        strncmp(envp[n], "GOMP_SPINCOUNT=", 15) == 0)
      return;
  if (n + 2 > MAX_ENV)
    return;
  static char *env[MAX_ENV];
  static char passive[] = "OMP_WAIT_POLICY=passive";
  memcpy(env, envp, n * sizeof *env);
  env[n] = passive;
  env[n + 1] = NULL;
  execve("/proc/self/exe", argv, env);
}

__attribute__((used, section(".preinit_array")))
static void (*const passive_omp_entry)(int, char **, char **) = passive_omp;

/* n = 0: OpenMP's default (OMP_NUM_THREADS, else the cores this process
 * may run on).  The work is split by the team (team.c); every oneDNN call
 * is made inside a chunk on one thread, so OpenMP is set to one thread. */
void nnrt_threads_set(int n) {
  nnrt_team_set(n > 0 ? n : omp_get_max_threads());
  omp_set_num_threads(1);
}
