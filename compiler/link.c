/*
 * link.c — the object file plus libnnrt (and what it links against) into an
 * executable, through the system C compiler driver.
 *
 * The driver is run with an argument vector, never through a shell, so no
 * path or option is ever interpreted by one.  $NNC_CC overrides "cc".
 * NNC_FUSE_LD picks gold when the build found that the driver can use it
 * (compiler/CMakeLists.txt): GNU ld took ~100 ms of CPU time per program
 * here, gold and lld ~25.
 */
#include "nnc.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int link_executable(const char **objs, int nobjs, const char *out, const char *name) {
  const char **argv = arena_alloc(sizeof *argv * (64 + nobjs));
  int n = 0;
  const char *cc = getenv("NNC_CC");
  argv[n++] = cc && *cc ? cc : "cc";
  if (*NNC_FUSE_LD) argv[n++] = NNC_FUSE_LD;
  for (int i = 0; i < nobjs; i++) argv[n++] = objs[i];
  argv[n++] = NNRT_LIB_PATH;
  char *libs = arena_strdup(NNRT_LINK_LIBS " " NNC_SANITIZE_FLAGS);
  for (char *t = strtok(libs, " "); t && n < nobjs + 56; t = strtok(NULL, " "))
    if (*t) argv[n++] = t;
  argv[n++] = "-lm";
  argv[n++] = "-o";
  argv[n++] = out;
  argv[n] = NULL;
  if (getenv("NNC_VERBOSE")) {
    for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
    fprintf(stderr, "\n");
  }
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "nnc: error: cannot start the linker: %s\n", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "nnc: error: cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "nnc: error: linking %s failed\n", name);
    return -1;
  }
  return 0;
}
