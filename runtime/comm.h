/*
 * comm.h — the processes a data-parallel run spans (comm.c), and the
 * sharded training step that uses them (shard.c).
 *
 * A program is one process unless an MPI launcher started it
 * (`mpirun -np N ./model train ...`): then comm.c loads libnnrt_mpi.so,
 * the one file linked against Open MPI (runtime/mpi/plugin.c), and every
 * rank runs the same training.  Programs started without a launcher never
 * load MPI, so they pay nothing for it and run where MPI is not installed.
 *
 * The collectives move bytes only; every sum is done by shard.c, in an
 * order fixed by the shard count alone, so the results do not depend on
 * how many ranks share the work, nor on the buckets the gradient travels
 * in (see shard.c).
 */
#ifndef NNRT_COMM_H
#define NNRT_COMM_H
#include <stddef.h>
#include <stdint.h>

/* The table libnnrt_mpi.so fills (NNRT_COMM_ABI guards against a plugin of
 * another build).  Each call returns 0, or -1 after printing an error. */
#define NNRT_COMM_ABI 2
typedef struct NnrtCommOps {
  int abi;
  int (*init)(int *rank, int *size);
  /* rank r's `bytes` from send land at recv + r * bytes on every rank */
  int (*allgather)(const void *send, void *recv, size_t bytes);
  /* part j (bytes each) of send goes to rank j; part r of recv came from rank r */
  int (*alltoall)(const void *send, void *recv, size_t bytes);
  /* The same two, started (bytes <= INT_MAX): *req is the plugin's until
   * wait, or a test that says done, has finished and freed it.  Every rank
   * starts the same collectives in the same order (MPI's rule). */
  int (*iallgather)(const void *send, void *recv, size_t bytes, void **req);
  int (*ialltoall)(const void *send, void *recv, size_t bytes, void **req);
  int (*test)(void *req, int *done); /* also drives MPI's progress */
  int (*wait)(void *req);
  void (*finalize)(void);
  void (*abort)(int code);
} NnrtCommOps;

typedef struct NnrtComm {
  int rank, size;         /* 0 and 1 for a single process */
  int local_size;         /* ranks on this machine (for the default threads) */
  const NnrtCommOps *ops; /* NULL for a single process */
} NnrtComm;

/* The run's processes: set up once, before anything else (cli.c). */
extern NnrtComm nnrt_comm;
/* Join the launcher's job when there is one.  Returns 0, or -1 after
 * printing why MPI could not be started. */
int nnrt_comm_start(void);
void nnrt_comm_stop(void);

struct NnrtSession;
/* Check that s->p can train sharded (one objective, no state that training
 * updates); 0, or -1 after printing why.  shards: the count asked for. */
int nnrt_shard_check(const struct NnrtSession *s, int shards);
/* The gradients of one step of s->shards shards over the ranks, in the
 * GRAD slots of every rank (the batch's bs rows gathered in the INPUT
 * slots), and the step's loss and accuracy in s->shard_loss/_correct.  A
 * failed collective ends the job (MPI_Abort). */
void nnrt_shard_grads(struct NnrtSession *s, int64_t bs);
void nnrt_shard_free(struct NnrtSession *s);
#endif
