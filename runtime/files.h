/*
 * files.h — opening the files a user names (files.c).  Self-contained (no
 * nnrt.h), since `nnc plot` compiles plot.c and files.c into the compiler.
 *
 * Inputs must be regular files (a FIFO, directory or device is refused up
 * front, without blocking); outputs must be regular files or new paths.
 * nnrt_close_output checks every earlier write and the close.  On failure
 * NULL / -1 and a one-line message naming the path in err.
 */
#ifndef NNRT_FILES_H
#define NNRT_FILES_H

#include <stdbool.h>
#include <stdio.h>

FILE *nnrt_open_input(const char *path, char *err, size_t errlen);
int nnrt_regular_or_new(const char *path, char *err, size_t errlen);
/* The same path, or two names of one existing file (hard links, ./x and x). */
bool nnrt_same_file(const char *a, const char *b);
/* what: "log file", "plot file", ... for the message */
FILE *nnrt_open_output(const char *path, const char *what, char *err, size_t errlen);
int nnrt_close_output(FILE *f, const char *path, const char *what, char *err, size_t errlen);
/* fmt's message into err (when given); returns -1, for "return nnrt_fail(err, errlen, ...);" */
int nnrt_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
