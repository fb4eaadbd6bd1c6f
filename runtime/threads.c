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
 * The same re-exec adds OPENBLAS_NUM_THREADS=1: where the BLAS behind
 * cblas_dgemm (f64 products) is OpenBLAS's pthread build, its constructor
 * starts a server thread per extra core that spins in sched_yield for
 * ~0.1 s after start-up and after every threaded call — half a core taken
 * from a program that never asked for it (XOR on --threads 2 ran slower
 * than on 1).  Every product is already split by the team, each part on
 * one thread, so OpenBLAS's own threads have nothing to do.
 *
 * Invariants: a user who sets OMP_WAIT_POLICY or GOMP_SPINCOUNT, and
 * OPENBLAS_NUM_THREADS, gets exactly that, and no re-exec; when the re-exec fails (no /proc) the program runs
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
  bool omp_set = false, blas_set = false;
  size_t n = 0;
  for (; envp[n]; n++) {
    if (strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0 || strncmp(envp[n], "GOMP_SPINCOUNT=", 15) == 0)
      omp_set = true;
    if (strncmp(envp[n], "OPENBLAS_NUM_THREADS=", 21) == 0)
      blas_set = true;
  }
  if ((omp_set && blas_set) || n + 3 > MAX_ENV)
    return;
  static char *env[MAX_ENV];
  static char passive[] = "OMP_WAIT_POLICY=passive", one_blas[] = "OPENBLAS_NUM_THREADS=1";
  memcpy(env, envp, n * sizeof *env);
  if (!omp_set)
    env[n++] = passive;
  if (!blas_set)
    env[n++] = one_blas;
  env[n] = NULL;
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
