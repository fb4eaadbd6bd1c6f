/* fake_program.h — a hand-written stand-in for an nnc-generated program. */
#ifndef FAKE_PROGRAM_H
#define FAKE_PROGRAM_H
#include "nnrt.h"
void fake_setup(NnrtProgram *p);
#endif
