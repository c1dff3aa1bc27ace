/* pmr-merge: see merge.c. */
#include "merge.h"

int main(int argc, char **argv) { return pmr_merge_main("merge", 0, argc, argv); }
