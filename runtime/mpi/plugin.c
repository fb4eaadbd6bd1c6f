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
#include <stdbool.h>
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

static MPI_Comm started_comm = MPI_COMM_NULL; /* the started collectives' */

static int init(int *rank, int *size) {
  int provided, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS)
    return fail("MPI_Init_thread", rc);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  rc = MPI_Comm_dup(MPI_COMM_WORLD, &started_comm);
  return rc == MPI_SUCCESS ? 0 : fail("MPI_Comm_dup", rc);
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

/* The started collectives are point-to-point messages on a communicator
 * of their own: one receive and one send per other rank, tagged with the
 * collective's number (every rank starts the same ones in the same
 * order).  Open MPI moves these on its own progress path; its started
 * collectives (MPI_Ialltoall: a schedule advanced a round per call) were
 * slower here for a gradient's bucket. */
typedef struct Started {
  int n;
  MPI_Request r[];
} Started;

static int started_seq;

static int too_big(size_t bytes) {
  fprintf(stderr, "error: a gradient bucket's part of %zu bytes is over MPI's 2 GiB count\n", bytes);
  return -1;
}

/* parts: rank j's part of send is at send + j * bytes (all-to-all), else
 * every rank gets all of send (all-gather); rank j's lands at recv + j * bytes. */
static int start(const char *send, char *recv, size_t bytes, bool parts, void **req) {
  if (bytes > INT_MAX)
    return too_big(bytes);
  int me, size, rc = MPI_SUCCESS;
  MPI_Comm_rank(started_comm, &me);
  MPI_Comm_size(started_comm, &size);
  Started *q = malloc(sizeof *q + 2 * (size_t)size * sizeof(MPI_Request));
  if (!q)
    return fail("a started collective", MPI_ERR_NO_MEM);
  int tag = started_seq++ % 32768; /* MPI_TAG_UB is at least 32767 */
  q->n = 0;
  memcpy(recv + (size_t)me * bytes, parts ? send + (size_t)me * bytes : send, bytes);
  for (int j = 0; j < size && rc == MPI_SUCCESS; j++) {
    if (j == me)
      continue;
    rc = MPI_Irecv(recv + (size_t)j * bytes, (int)bytes, MPI_BYTE, j, tag, started_comm, &q->r[q->n++]);
    if (rc == MPI_SUCCESS)
      rc = MPI_Isend(parts ? send + (size_t)j * bytes : send, (int)bytes, MPI_BYTE, j, tag, started_comm,
                     &q->r[q->n++]);
  }
  if (rc != MPI_SUCCESS) {
    free(q);
    return fail("MPI_Isend/MPI_Irecv", rc);
  }
  *req = q;
  return 0;
}

static int iallgather(const void *send, void *recv, size_t bytes, void **req) {
  return start(send, recv, bytes, false, req);
}

static int ialltoall(const void *send, void *recv, size_t bytes, void **req) {
  return start(send, recv, bytes, true, req);
}

static int test(void *req, int *done) {
  Started *q = req;
  int rc = MPI_Testall(q->n, q->r, done, MPI_STATUSES_IGNORE);
  if (rc != MPI_SUCCESS)
    return fail("MPI_Testall", rc);
  if (*done)
    free(q);
  return 0;
}

static int wait(void *req) {
  Started *q = req;
  int rc = MPI_Waitall(q->n, q->r, MPI_STATUSES_IGNORE);
  free(q);
  return rc == MPI_SUCCESS ? 0 : fail("MPI_Waitall", rc);
}

static void finalize(void) {
  if (started_comm != MPI_COMM_NULL)
    MPI_Comm_free(&started_comm);
  MPI_Finalize();
}
static void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static const NnrtCommOps ops = {NNRT_COMM_ABI, init,      allgather, alltoall, iallgather,
                                ialltoall,     test,      wait,      finalize, abort_job};

const NnrtCommOps *nnrt_mpi_plugin(void) { return &ops; }
