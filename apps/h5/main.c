/* pmr-h5: look into pmr results.
 *
 *   pmr-h5 info OUT.h5                        groups, layouts, sizes, attributes
 *   pmr-h5 dump OUT.h5:/wordcount --top 10    pairs as "key<TAB>value" lines
 *   mpirun -np 4 pmr-h5 merge a.h5 b.h5 -o m.h5   the same as pmr-merge
 *
 * Each sub-command takes the common options of the pmr applications and
 * runs at any rank count; dump and merge read the pairs in parallel
 * (pmr_map_result, pmr_map_h5). */
#include <stdio.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "h5app.h"
#include "merge.h"

static void h5_usage(FILE *fp) {
  fprintf(fp,
          "Usage: pmr-h5 COMMAND [options] ...\n"
          "Look into pmr results (HDF5 files written by the pmr applications "
          "and libpmr).\n\n"
          "Commands:\n"
          "  info FILE.h5...            groups, layouts, datasets (type, shape, "
          "size),\n"
          "                             attributes, and whether pmr can read "
          "each group\n"
          "  dump FILE.h5[:/GROUP]      a key/value group as \"key<TAB>value\" "
          "lines; a dense\n"
          "                             group or a dataset as \"row<TAB>values\" "
          "lines\n"
          "  merge FILE.h5... -o OUT.h5 merge key/value results (the same as "
          "pmr-merge)\n\n"
          "Run \"pmr-h5 COMMAND --help\" for a command's options; "
          "\"pmr-h5 --version\" for the versions.\n"
          "Run on N ranks with: mpirun -np N pmr-h5 COMMAND ...\n"
          "Exit status: 0 success, 1 error, 2 usage error.\n");
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "info"))
    return h5_info_main(argc, argv);
  if (!strcmp(cmd, "dump"))
    return h5_dump_main(argc, argv);
  if (!strcmp(cmd, "merge"))
    return pmr_merge_main("h5 merge", 1, argc, argv);
  if (!strcmp(cmd, "--version")) {
    pmr_cli_app app = {.name = "h5"};
    pmr_cli_early(&app, argc, argv);
    return 0;
  }
  int help = !strcmp(cmd, "-h") || !strcmp(cmd, "--help");
  if (pmr_cli_env_rank() == 0) {
    if (help)
      h5_usage(stdout);
    else if (!*cmd)
      fprintf(stderr, "pmr-h5: no command: give info, dump or merge "
                      "(see --help)\n");
    else
      fprintf(stderr, "pmr-h5: unknown command '%s': give info, dump or "
                      "merge (see --help)\n", cmd);
  }
  return help ? 0 : 2;
}
