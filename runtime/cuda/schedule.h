/*
 * schedule.h — the launch schedule that `nnc build --cuda` embeds next to
 * the PTX, shared by compiler/codegen/nvptx.c (writer) and
 * runtime/cuda/cuda.c (reader).  Plain int64 words so the generated table
 * is one constant array.
 *
 * A table is  [nbufs, nsteps, totalB, total0,
 *              bufs[nbufs][NNRT_CUDA_BUF_WORDS],
 *              steps[nsteps][NNRT_CUDA_STEP_WORDS]].
 * A buffer is a slot (slot >= 0); or, with slot NNRT_CUDA_BUF_PLANNED, a
 * place in the kernel's memory plan (compiler/memplan.c: a block of
 * totalB * B + total0 bytes; k is the offset, b the arena: 1 the batch
 * arena, at k * B, 2 the fixed one, at totalB * B + k); or, with slot
 * NNRT_CUDA_BUF_OWN, a buffer of its own of k * B^b elements of `dsize`
 * bytes after that block.  Reshapes share their input's buffer; values a
 * fused kernel keeps in registers have none.  Scratch is laid out for the
 * session's largest batch, so one pointer table serves every batch size up
 * to it.
 *
 * A step is a generated kernel `nnc_<kernel>_<id>(ptr bufs, i64 batch)`
 * launched over n_k * B^n_b threads (grid-stride, so any grid works), or a
 * row-major GEMM C = op(A) op(B) run through cuBLAS, or random numbers
 * drawn on the host.  Dims are (k, b)
 * pairs meaning k * B^b.
 */
#ifndef NNRT_CUDA_SCHEDULE_H
#define NNRT_CUDA_SCHEDULE_H

enum { NNRT_CUDA_BUF_SLOT, NNRT_CUDA_BUF_K, NNRT_CUDA_BUF_B, NNRT_CUDA_BUF_DSIZE, NNRT_CUDA_BUF_WORDS };
enum { NNRT_CUDA_BUF_PLANNED = -1, NNRT_CUDA_BUF_OWN = -2 };
enum { NNRT_CUDA_HEAD_NBUFS, NNRT_CUDA_HEAD_NSTEPS, NNRT_CUDA_HEAD_TOTALB, NNRT_CUDA_HEAD_TOTAL0, NNRT_CUDA_HEAD_WORDS };

enum {
  NNRT_CUDA_STEP_KIND,  /* NNRT_CUDA_KERNEL or NNRT_CUDA_GEMM */
  NNRT_CUDA_STEP_ID,    /* kernel: the <id> in its name */
  NNRT_CUDA_STEP_NK, NNRT_CUDA_STEP_NB,   /* kernel: thread count */
  NNRT_CUDA_STEP_DT,    /* GEMM: NNRT_F32 or NNRT_F64 */
  NNRT_CUDA_STEP_TA, NNRT_CUDA_STEP_TB,
  NNRT_CUDA_STEP_MK, NNRT_CUDA_STEP_MB, NNRT_CUDA_STEP_GNK, NNRT_CUDA_STEP_GNB,
  NNRT_CUDA_STEP_KK, NNRT_CUDA_STEP_KB,
  NNRT_CUDA_STEP_LDAK, NNRT_CUDA_STEP_LDAB, NNRT_CUDA_STEP_LDBK, NNRT_CUDA_STEP_LDBB,
  NNRT_CUDA_STEP_A, NNRT_CUDA_STEP_B, NNRT_CUDA_STEP_C, /* buffer indices */
  /* GEMM: a strided batch of CNT products (1: one GEMM); A and B advance by
   * SA and SB elements (0: the same matrix each time), C by m * n */
  NNRT_CUDA_STEP_CNTK, NNRT_CUDA_STEP_CNTB, NNRT_CUDA_STEP_SAK, NNRT_CUDA_STEP_SAB,
  NNRT_CUDA_STEP_SBK, NNRT_CUDA_STEP_SBB,
  NNRT_CUDA_STEP_WORDS
};

/* NNRT_CUDA_RAND: n_k * B^n_b draws (TA: 0 uniform, 1 normal) from the
 * run's host generator, in the CPU kernel's order, copied into buffer C. */
enum { NNRT_CUDA_KERNEL = 0, NNRT_CUDA_GEMM = 1, NNRT_CUDA_RAND = 2 };

/* Threads per block of every generated kernel. */
#define NNRT_CUDA_BLOCK 256

#endif
