/* Rank-aware assertions for pmr's tests. A failed CHECK prints the rank,
 * file, line and expression, counts the failure and goes on; check_finish()
 * agrees on the total over all ranks, so every rank exits 1 if any failed. */
#ifndef PMR_CHECK_H
#define PMR_CHECK_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check__failures;
static int check__rank = -1;

static inline int check__myrank(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (check__rank < 0 && init && !fin)
    MPI_Comm_rank(MPI_COMM_WORLD, &check__rank);
  return check__rank < 0 ? 0 : check__rank;
}

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "[rank %d] %s:%d: CHECK failed: %s\n", check__myrank(), \
              __FILE__, __LINE__, #cond);                                    \
      check__failures++;                                                     \
    }                                                                        \
  } while (0)

#define CHECK_EQ_I(a, b)                                                     \
  do {                                                                       \
    long long check__a = (long long)(a), check__b = (long long)(b);          \
    if (check__a != check__b) {                                              \
      fprintf(stderr, "[rank %d] %s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", \
              check__myrank(), __FILE__, __LINE__, #a, #b, check__a,         \
              check__b);                                                     \
      check__failures++;                                                     \
    }                                                                        \
  } while (0)

/* A pmr call that must succeed. */
#define CHECK_OK(ctx, call)                                                  \
  do {                                                                       \
    int check__rc = (call);                                                  \
    if (check__rc != 0) {                                                    \
      fprintf(stderr, "[rank %d] %s:%d: %s returned %s: %s\n",               \
              check__myrank(), __FILE__, __LINE__, #call,                    \
              pmr_err_name(check__rc), pmr_errmsg(ctx));                     \
      check__failures++;                                                     \
    }                                                                        \
  } while (0)

/* Collective: the total failures over all ranks; prints a summary on rank 0
 * and returns the exit status (0 or 1). */
static inline int check_finish(const char *name) {
  int total = check__failures;
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin)
    MPI_Allreduce(&check__failures, &total, 1, MPI_INT, MPI_SUM,
                  MPI_COMM_WORLD);
  if (check__myrank() == 0)
    printf("%s: %s (%d failed checks)\n", name, total ? "FAIL" : "ok", total);
  return total ? 1 : 0;
}

#endif
