/*
 * plugin.c — libnnrt_mpi.so: the runtime's collectives on Open MPI (or any
 * MPI), loaded by comm.c only when a launcher started the program.
 *
 * Only bytes move (MPI_BYTE): shard.c does every sum itself, in a fixed
 * order, so MPI's own reduction order never reaches a result.  Counts over
 * INT_MAX bytes are sent in several calls of equal parts by the blocking
 * calls; the started ones (one gradient bucket each) refuse them.
 */
#include "../comm.h"
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
    snprintf(msg, sizeof msg, "code %d", rc);
  fprintf(stderr, "error: MPI %s failed: %s\n", what, msg);
  return -1;
}

static int init(int *rank, int *size) {
  int provided, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS)
    return fail("MPI_Init_thread", rc);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  return 0;
}

/* Pieces of at most INT_MAX bytes per rank: `parts` calls, each moving
 * bytes / parts (and the last the rest) from every rank. */
static int allgather(const void *send, void *recv, size_t bytes) {
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (bytes <= INT_MAX) {
    int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail("MPI_Allgather", rc);
  }
  /* large: one rank's block at a time, broadcast from its owner */
  for (int r = 0; r < size; r++) {
    char *at = (char *)recv + (size_t)r * bytes;
    int me;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    if (me == r)
      memcpy(at, send, bytes);
    for (size_t off = 0; off < bytes; off += INT_MAX) {
      size_t n = bytes - off < INT_MAX ? bytes - off : INT_MAX;
      int rc = MPI_Bcast(at + off, (int)n, MPI_BYTE, r, MPI_COMM_WORLD);
      if (rc != MPI_SUCCESS)
        return fail("MPI_Bcast", rc);
    }
  }
  return 0;
}

static int alltoall(const void *send, void *recv, size_t bytes) {
  if (bytes <= INT_MAX) {
    int rc = MPI_Alltoall(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail("MPI_Alltoall", rc);
  }
  fprintf(stderr, "error: a gradient part of %zu bytes per rank is over MPI's 2 GiB count (use more ranks)\n",
          bytes);
  return -1;
}

/* A started collective's request lives in the heap until it is done. */
static int started(const char *what, int rc, MPI_Request *r, void **req) {
  if (rc != MPI_SUCCESS) {
    free(r);
    return fail(what, rc);
  }
  *req = r;
  return 0;
}

static int too_big(size_t bytes) {
  fprintf(stderr, "error: a gradient bucket's part of %zu bytes is over MPI's 2 GiB count\n", bytes);
  return -1;
}

static int iallgather(const void *send, void *recv, size_t bytes, void **req) {
  if (bytes > INT_MAX)
    return too_big(bytes);
  MPI_Request *r = malloc(sizeof *r);
  if (!r)
    return fail("MPI_Iallgather", MPI_ERR_NO_MEM);
  return started("MPI_Iallgather", MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                                                  MPI_COMM_WORLD, r), r, req);
}

static int ialltoall(const void *send, void *recv, size_t bytes, void **req) {
  if (bytes > INT_MAX)
    return too_big(bytes);
  MPI_Request *r = malloc(sizeof *r);
  if (!r)
    return fail("MPI_Ialltoall", MPI_ERR_NO_MEM);
  return started("MPI_Ialltoall", MPI_Ialltoall(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                                                MPI_COMM_WORLD, r), r, req);
}

static int test(void *req, int *done) {
  int rc = MPI_Test(req, done, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS)
    return fail("MPI_Test", rc);
  if (*done)
    free(req);
  return 0;
}

static int wait(void *req) {
  int rc = MPI_Wait(req, MPI_STATUS_IGNORE);
  free(req);
  return rc == MPI_SUCCESS ? 0 : fail("MPI_Wait", rc);
}

static void finalize(void) { MPI_Finalize(); }
static void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static const NnrtCommOps ops = {NNRT_COMM_ABI, init,      allgather, alltoall, iallgather,
                                ialltoall,     test,      wait,      finalize, abort_job};

const NnrtCommOps *nnrt_mpi_plugin(void) { return &ops; }
