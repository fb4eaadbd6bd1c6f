/*
 * comm.c — whether this process is one rank of an MPI job, and the
 * collectives when it is (comm.h).
 *
 * A launcher marks the processes it starts in their environment (Open MPI:
 * OMPI_COMM_WORLD_SIZE; PMIx: PMIX_RANK; MPICH and Slurm: PMI_SIZE).  Only
 * then is libnnrt_mpi.so loaded — from NNRT_MPI_LIB if set, else where
 * this build put it — with RTLD_GLOBAL, as Open MPI's own components need
 * its symbols.  A runtime built without MPI, or a plugin that cannot be
 * loaded, is an error under a launcher: N copies of a single-process run
 * would each train alone and write the same files.
 */
#include "comm.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

NnrtComm nnrt_comm = {0, 1, 1, NULL};

static int env_int(const char *name) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : 0;
}

int nnrt_comm_start(void) {
  int size = env_int("OMPI_COMM_WORLD_SIZE");
  if (!size)
    size = env_int("PMI_SIZE");
  if (!size && getenv("PMIX_RANK"))
    size = 2; /* some launcher; MPI says how many */
  if (size <= 1)
    return 0;
  const char *path = getenv("NNRT_MPI_LIB");
#ifdef NNRT_MPI_PLUGIN
  if (!path || !*path)
    path = NNRT_MPI_PLUGIN;
#endif
  if (!path || !*path) {
    fprintf(stderr, "error: started by an MPI launcher, but this runtime was built without MPI "
            "(install libopenmpi-dev and rebuild nnc; README \"Training on several processes\")\n");
    return -1;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    fprintf(stderr, "error: started by an MPI launcher, but %s cannot be loaded: %s\n", path, dlerror());
    return -1;
  }
  const NnrtCommOps *(*get)(void) = (const NnrtCommOps *(*)(void))dlsym(h, "nnrt_mpi_plugin");
  const NnrtCommOps *ops = get ? get() : NULL;
  if (!ops || ops->abi != NNRT_COMM_ABI) {
    fprintf(stderr, "error: %s is not this runtime's MPI plugin (rebuild nnc)\n", path);
    return -1;
  }
  int rank, n;
  if (ops->init(&rank, &n) != 0)
    return -1;
  int local = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!local)
    local = env_int("MPI_LOCALNRANKS");
  nnrt_comm = (NnrtComm){rank, n, local > 0 ? local : 1, ops};
  return 0;
}

void nnrt_comm_stop(void) {
  if (nnrt_comm.ops)
    nnrt_comm.ops->finalize();
  nnrt_comm = (NnrtComm){0, 1, 1, NULL};
}
