/* pmr-merge as a call, so that pmr-h5 merge runs the same code. */
#ifndef PMR_MERGE_H
#define PMR_MERGE_H

/* Run pmr-merge over argv[skip..argc) (argv[skip] stands for the program),
 * as program "pmr-<name>": initialises and finalises MPI. The attribute
 * command_line records the whole argv. Returns the exit status. */
int pmr_merge_main(const char *name, int skip, int argc, char **argv);

#endif
