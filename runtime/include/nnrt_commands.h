/*
 * nnrt_commands.h — the commands of an executable nnc builds, as one
 * X-macro table: X(name, one-line summary).  runtime/cli.c dispatches on
 * it and names it in its errors; nnc's --help lists it (compiler/main.c),
 * so the two cannot drift apart.  Each command's flags and their help stay
 * in runtime/cli.c, next to the parser that reads them.
 */
#ifndef NNRT_COMMANDS_H
#define NNRT_COMMANDS_H

#define NNRT_COMMANDS(X)                                                             \
  X(train, "train the model on its data")                                            \
  X(eval, "evaluate weights on the train and test data")                             \
  X(info, "print the layers, shapes, parameter counts and FLOPs")                    \
  X(gradcheck, "compare symbolic gradients with central differences")                \
  X(grads, "one forward and backward pass: each parameter's gradient norm")          \
  X(show, "draw test samples next to the train block's `show = ...;` as a PNG grid") \
  X(sample, "generate text from the train block's `sample = ...;`")                 \
  X(predict, "write the network's output for given inputs as a .npy file")

#endif
