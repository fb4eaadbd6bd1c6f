/*
 * test_train.c — the whole runtime driven through nnrt_main with the
 * hand-written fake program (fake_program.c): it learns, the final line
 * has the documented format, `eval --load` reproduces `train --save`,
 * an interrupted-then-resumed run writes a byte-identical checkpoint,
 * same seed ⇒ same bits, and CLI/data/checkpoint errors are one clean
 * line with the documented exit codes.
 *
 * The test binary is also the program: with a command as argv[1] it runs
 * nnrt_main(fake_setup), and the tests run it as a child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fake_program.h"

static char dir[64], self[4096];
static char out[1 << 16], err[1 << 16];

static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;
  buf[n] = 0;
  if (f)
    fclose(f);
}

/* Run the program with space-separated args and "K=V" environment
 * entries; capture stdout/stderr into out/err; return the exit status. */
static int run(const char *env, const char *fmt, ...) {
  char args[1024], envbuf[256], op[128], ep[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(op, sizeof op, "%s/stdout", dir);
  snprintf(ep, sizeof ep, "%s/stderr", dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    char *argv[64];
    int argc = 0;
    argv[argc++] = "fake";
    for (char *t = strtok(args, " "); t && argc < 63; t = strtok(NULL, " "))
      argv[argc++] = t;
    argv[argc] = NULL;
    if (env) {
      snprintf(envbuf, sizeof envbuf, "%s", env);
      for (char *t = strtok(envbuf, " "); t; t = strtok(NULL, " "))
        putenv(t);
    }
    if (!freopen(op, "w", stdout) || !freopen(ep, "w", stderr))
      _exit(99);
    execv(self, argv);
    _exit(98);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  slurp(op, out, sizeof out);
  slurp(ep, err, sizeof err);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *last_line(const char *s) {
  static char line[1024];
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '\n')
    n--;
  size_t b = n;
  while (b > 0 && s[b - 1] != '\n')
    b--;
  snprintf(line, sizeof line, "%.*s", (int)(n - b), s + b);
  return line;
}

static double key(const char *line, const char *k) {
  char pat[64];
  snprintf(pat, sizeof pat, "%s=", k);
  const char *at = line;
  while ((at = strstr(at, pat)) && at != line && at[-1] != ' ')
    at++;
  if (!at)
    fail_msg("no '%s' in '%s'", k, line);
  return atof(at + strlen(pat));
}

static void test_learns(void **st) {
  (void)st;
  int rc = run(NULL, "train --epochs 20 --quiet");
  if (rc != 0)
    fail_msg("rc %d: %s", rc, err);
  const char *line = last_line(out);
  assert_true(strchr(out, '\n') == out + strlen(out) - 1); /* --quiet: only the result */
  assert_int_equal((int)key(line, "epoch"), 20);
  assert_true(key(line, "accuracy") > 0.9);
  assert_true(key(line, "test_accuracy") > 0.85);
  assert_true(key(line, "loss") < 0.35);
  assert_true(strncmp(line, "epoch=20 loss=", 14) == 0);
  assert_non_null(strstr(line, " accuracy="));
  assert_non_null(strstr(line, " test_loss="));
  assert_non_null(strstr(line, " test_accuracy="));
  assert_null(strstr(line, "  "));
  /* every optimizer trains the fake program without blowing up */
  const char *opts[] = {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw"};
  for (int i = 0; i < 8; i++) {
    char env[64];
    snprintf(env, sizeof env, "FAKE_OPT=%s", opts[i]);
    assert_int_equal(run(env, "train --epochs 15 --quiet"), 0);
    if (key(last_line(out), "accuracy") < 0.85)
      fail_msg("%s: %s", opts[i], last_line(out));
  }
}

/* Piped progress: one line per epoch, its loss with the --log CSV's 9
 * digits, then a line that says what the result line evaluated. */
static void test_epoch_lines(void **st) {
  (void)st;
  char log[128], buf[1 << 14], want[128];
  snprintf(log, sizeof log, "%s/lines.csv", dir);
  assert_int_equal(run("FAKE_NOTEST=1", "train --epochs 100 --batch 240 --log %s", log), 0);
  int lines = 0;
  for (const char *s = out; (s = strstr(s, "epoch ")); s++)
    lines += s == out || s[-1] == '\n';
  assert_int_equal(lines, 100);
  assert_non_null(strstr(out, "samples/s"));
  slurp(log, buf, sizeof buf);
  const char *row = strstr(buf, "\n100,");
  assert_non_null(row);
  snprintf(want, sizeof want, "epoch 100/100  loss=%.*s  accuracy=", (int)strcspn(row + 5, ","), row + 5);
  if (!strstr(out, want))
    fail_msg("no '%s' in:\n%s", want, out);
  assert_non_null(strstr(out, "\neval on train (240 samples) in inference mode, with the weights of epoch 100:\n"));
  const char *line = last_line(out);
  assert_true(strncmp(line, "epoch=100 loss=", 15) == 0);
  assert_null(strstr(line, "test_"));
}

static void test_save_eval_identical(void **st) {
  (void)st;
  char ck[128];
  snprintf(ck, sizeof ck, "%s/model.safetensors", dir);
  assert_int_equal(run(NULL, "train --epochs 5 --batch 7 --save %s --quiet", ck), 0);
  char trained[1024];
  snprintf(trained, sizeof trained, "%s", strchr(last_line(out), ' ') + 1);
  int rc = run(NULL, "eval --load %s", ck);
  if (rc != 0)
    fail_msg("eval rc %d: %s", rc, err);
  assert_string_equal(last_line(out), trained);
  /* eval without --load evaluates a fresh initialisation: different */
  assert_int_equal(run(NULL, "eval"), 0);
  assert_string_not_equal(last_line(out), trained);
}

static int same_file(const char *a, const char *b) {
  static char x[1 << 16], y[1 << 16];
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  if (!fa || !fb) {
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return 0;
  }
  size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);
  fclose(fa);
  fclose(fb);
  return na == nb && na > 0 && memcmp(x, y, na) == 0;
}

static void test_resume_bit_identical(void **st) {
  (void)st;
  char a[128], b[128];
  snprintf(a, sizeof a, "%s/full.safetensors", dir);
  snprintf(b, sizeof b, "%s/part.safetensors", dir);
  assert_int_equal(run(NULL, "train --epochs 7 --batch 10 --seed 5 --save %s --quiet", a), 0);
  char full[1024];
  snprintf(full, sizeof full, "%s", last_line(out));
  /* the same run killed in epoch 4 (3·240 + 50 samples seen): the file
   * holds epoch 3; resuming must reproduce the uninterrupted run */
  assert_int_equal(run("FAKE_KILL_AT=770", "train --epochs 7 --batch 10 --seed 5 --save %s --quiet", b), 137);
  assert_false(same_file(a, b));
  int rc = run(NULL, "train --epochs 7 --batch 10 --resume %s --quiet", b);
  if (rc != 0)
    fail_msg("resume rc %d: %s", rc, err);
  assert_string_equal(last_line(out), full);
  assert_true(same_file(a, b));
  /* resuming a finished run trains nothing and reports the same result */
  assert_int_equal(run(NULL, "train --epochs 7 --batch 10 --resume %s --quiet", b), 0);
  assert_string_equal(last_line(out), full);
}

static void test_seed(void **st) {
  (void)st;
  char first[1024];
  assert_int_equal(run(NULL, "train --epochs 3 --seed 11 --quiet"), 0);
  snprintf(first, sizeof first, "%s", last_line(out));
  assert_int_equal(run(NULL, "train --epochs 3 --seed 11 --quiet"), 0);
  assert_string_equal(last_line(out), first);
  assert_int_equal(run(NULL, "train --epochs 3 --seed 12 --quiet"), 0);
  assert_string_not_equal(last_line(out), first);
}

static void test_log(void **st) {
  (void)st;
  char log[128], buf[4096];
  snprintf(log, sizeof log, "%s/log.csv", dir);
  assert_int_equal(run(NULL, "train --epochs 4 --log %s --quiet", log), 0);
  slurp(log, buf, sizeof buf);
  /* a model of at most 4 parameter elements also logs them, from epoch 0 */
  const char *head = "epoch,loss,accuracy,lr,seconds,test_loss,test_accuracy,W[0],W[1],b[0]\n";
  assert_true(strncmp(buf, head, strlen(head)) == 0);
  int rows = 0;
  for (char *s = buf; *s; s++)
    rows += *s == '\n';
  assert_int_equal(rows, 6);
  assert_non_null(strstr(buf, "\n0,"));
  assert_non_null(strstr(buf, "\n1,"));
  assert_non_null(strstr(buf, "\n4,"));
}

static void test_gradcheck_info_help(void **st) {
  (void)st;
  int rc = run(NULL, "gradcheck");
  if (rc != 0)
    fail_msg("gradcheck rc %d:\n%s%s", rc, out, err);
  assert_true(strncmp(last_line(out), "gradcheck=pass max_err=", 23) == 0);
  assert_non_null(strstr(last_line(out), " checked=3/3"));
  assert_non_null(strstr(out, "eps=1e-06 (default: all parameters f64) tol=1e-05 (default"));
  assert_non_null(strstr(out, "\nW f64[2]: 2 of 2 entries, max_abs_err="));
  assert_non_null(strstr(out, "\nb f64[1]: 1 of 1 entries, max_abs_err="));
  /* the worst element is named, and it is one of W's or b's */
  const char *worst = strstr(last_line(out), " worst=");
  assert_non_null(worst);
  assert_true(strncmp(worst, " worst=W[", 9) == 0 || strncmp(worst, " worst=b[0]", 11) == 0);
  /* --entries limits the probes and says so; a tolerance below the
   * central difference's rounding fails, naming the flag */
  assert_int_equal(run(NULL, "gradcheck --entries 1 --tol 1e-15"), 1);
  assert_non_null(strstr(out, "tol=1e-15 (--tol); up to 1 entries per parameter"));
  assert_non_null(strstr(out, "\nW f64[2]: 1 of 2 entries,"));
  assert_true(strncmp(last_line(out), "gradcheck=fail max_err=", 23) == 0);
  assert_non_null(strstr(last_line(out), " checked=2/3 failed="));
  assert_int_equal(run(NULL, "gradcheck --entries -1"), 2);
  assert_int_equal(run(NULL, "info"), 0);
  assert_non_null(strstr(out, "dense (linear+sigmoid)"));
  assert_non_null(strstr(out, "Trainable params: 3"));
  assert_non_null(strstr(out, "State (non-trainable): 1"));
  assert_non_null(strstr(out, "Parameter bytes: 32"));
  assert_int_equal(run(NULL, "--help"), 0);
  assert_non_null(strstr(out, "usage:"));
  assert_int_equal(run(NULL, "train --help"), 0);
}

static int one_line(const char *s) {
  const char *nl = strchr(s, '\n');
  return nl && strchr(nl + 1, '\n') == NULL;
}

static void test_errors(void **st) {
  (void)st;
  assert_int_equal(run(NULL, "train --epochz 3"), 2);
  assert_true(strncmp(err, "error: unknown flag '--epochz' for 'train'\nhint: ", 49) == 0);
  assert_int_equal(run(NULL, "train --epochs abc"), 2);
  assert_true(strncmp(err, "error: bad value 'abc' for --epochs\n", 36) == 0);
  assert_int_equal(run(NULL, "train --batch 0"), 2);
  assert_int_equal(run(NULL, "train --lr -1"), 2);
  assert_int_equal(run(NULL, "train --epochs"), 2);
  assert_int_equal(run(NULL, "eval --epochs 3"), 2);
  assert_int_equal(run(NULL, "fly"), 2);
  assert_non_null(strstr(err, "unknown command 'fly'"));
  assert_int_equal(run(NULL, ""), 2);

  assert_int_equal(run("FAKE_NAN=1", "train --epochs 5 --quiet"), 3);
  assert_true(strncmp(err, "error: loss became nan at epoch 3 batch ", 40) == 0);
  assert_true(one_line(err));

  assert_int_equal(run("FAKE_BADDATA=1", "train"), 1);
  assert_non_null(strstr(err, "error: field 'x' (inline table) has 3 values per sample"));
  assert_non_null(strstr(err, "input 'x' [B, 2] expects 2"));
  assert_true(one_line(err));

  char ck[128];
  snprintf(ck, sizeof ck, "%s/shape.safetensors", dir);
  assert_int_equal(run(NULL, "train --epochs 1 --save %s --quiet", ck), 0);
  assert_int_equal(run("FAKE_SHAPE=1", "eval --load %s", ck), 1);
  assert_non_null(strstr(err, "shape.safetensors: tensor 'W' is F64 [2], but the program expects F64 [1, 2]"));
  assert_true(one_line(err));
  assert_int_equal(run("FAKE_OPT=sgd", "train --epochs 2 --resume %s", ck), 1);
  assert_non_null(strstr(err, "__opt__/W/0"));
  assert_int_equal(run(NULL, "eval --load %s/missing.safetensors", dir), 1);
  assert_true(strncmp(err, "error: ", 7) == 0 && one_line(err));
}

/* Labels outside [0, classes) are refused when loaded, naming the file (or
 * table), the sample and the value, from every kind of source. */
static void test_labels(void **st) {
  (void)st;
  assert_int_equal(run("FAKE_CLASSES=1", "train --epochs 1 --quiet"), 0);
  const char *bad[] = {"2", "255", "-1", "0.5"};
  for (int i = 0; i < 4; i++) {
    char env[64], want[160];
    snprintf(env, sizeof env, "FAKE_CLASSES=1 FAKE_BADLABEL=%s", bad[i]);
    assert_int_equal(run(env, "train --epochs 1 --quiet"), 1);
    snprintf(want, sizeof want, "error: inline table: sample 37: label %s is outside 0..1 "
             "(field 'y' feeds input 'y', 2 classes)\n", bad[i]);
    if (strcmp(bad[i], "0.5") != 0) /* 0.5 is refused earlier: not an integer */
      assert_string_equal(err, want);
    assert_true(one_line(err));
    /* eval and a resume read the same data */
    assert_int_equal(run(env, "eval"), 1);
  }
  /* without classes declared, an I32 input is any integer */
  assert_int_equal(run("FAKE_BADLABEL=255", "train --epochs 1 --quiet"), 0);
  char env[256], want[256];
  snprintf(env, sizeof env, "FAKE_CLASSES=1 FAKE_BADLABEL=255 FAKE_FILES=%s", dir);
  assert_int_equal(run(env, "train --epochs 1 --quiet"), 1);
  snprintf(want, sizeof want, "error: %s/train_y.csv: sample 37: label 255 is outside 0..1", dir);
  assert_non_null(strstr(err, want));
  /* IDX (u8) and NPY (i4) label files */
  char path[128];
  snprintf(path, sizeof path, "%s/labels.idx", dir);
  FILE *f = fopen(path, "wb");
  unsigned char head[8] = {0, 0, 8, 1, 0, 0, 0, 240}, lab[240];
  for (int i = 0; i < 240; i++)
    lab[i] = (unsigned char)(i % 2);
  lab[100] = 10;
  fwrite(head, 1, 8, f);
  fwrite(lab, 1, 240, f);
  fclose(f);
  snprintf(env, sizeof env, "FAKE_CLASSES=1 FAKE_LABELS=%s", path);
  assert_int_equal(run(env, "train --epochs 1 --quiet"), 1);
  snprintf(want, sizeof want, "error: %s: sample 100: label 10 is outside 0..1", path);
  assert_non_null(strstr(err, want));
  snprintf(path, sizeof path, "%s/labels.npy", dir);
  f = fopen(path, "wb");
  char hdr[] = "{'descr': '<i4', 'fortran_order': False, 'shape': (240,), }";
  char pad[128];
  int hl = (int)strlen(hdr), total = ((10 + hl + 1 + 63) / 64) * 64;
  snprintf(pad, sizeof pad, "%s%*s\n", hdr, total - 10 - hl - 1, "");
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total - 10), 0};
  fwrite(pre, 1, 10, f);
  fwrite(pad, 1, strlen(pad), f);
  for (int32_t i = 0; i < 240; i++) {
    int32_t v = i == 5 ? -1 : i % 2;
    fwrite(&v, 4, 1, f);
  }
  fclose(f);
  snprintf(env, sizeof env, "FAKE_CLASSES=1 FAKE_LABELS=%s", path);
  assert_int_equal(run(env, "train --epochs 1 --quiet"), 1);
  snprintf(want, sizeof want, "error: %s: sample 5: label -1 is outside 0..1", path);
  if (!strstr(err, want))
    fail_msg("got: %s", err);
}

/* A plan larger than the machine is refused before anything is allocated,
 * with its size; one whose size overflows 64 bits names the slot. */
static void test_memory_plan(void **st) {
  (void)st;
  assert_int_equal(run("FAKE_HUGE=1", "train --epochs 1"), 1);
  /* W, dW and Adam's two states: 4 x 2^43 bytes, plus the small slots */
  assert_true(strncmp(err, "error: the memory plan needs 3518437208", 39) == 0);
  assert_non_null(strstr(err, "(the largest part, optimizer state of 'W', 17592186044416 bytes), "
                              "more than this machine's "));
  assert_true(one_line(err));
  assert_int_equal(run("FAKE_HUGE=1", "eval"), 1);
  assert_non_null(strstr(err, "(the largest part, slot 'W', 8796093022208 bytes)"));
  assert_int_equal(run("FAKE_OVERFLOW=1", "train --epochs 1"), 1);
  assert_string_equal(err, "error: slot 'W': its size overflows 64 bits at dimension 1 (3037000500)\n");
}

static int setup(void **st) {
  (void)st;
  snprintf(dir, sizeof dir, "/tmp/nnrt_train_XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return -1;
  self[n] = 0;
  return 0;
}

static int teardown(void **st) {
  (void)st;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc > 1 && argv[1][0] != '-' ? 1 : argc > 1 && strcmp(argv[1], "--help") == 0)
    return nnrt_main(argc, argv, fake_setup);
  if (argc == 1 && strcmp(argv[0], "fake") == 0)
    return nnrt_main(argc, argv, fake_setup);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_learns), cmocka_unit_test(test_epoch_lines),
    cmocka_unit_test(test_save_eval_identical), cmocka_unit_test(test_resume_bit_identical),
    cmocka_unit_test(test_seed), cmocka_unit_test(test_log),
    cmocka_unit_test(test_gradcheck_info_help), cmocka_unit_test(test_errors),
    cmocka_unit_test(test_labels), cmocka_unit_test(test_memory_plan),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
