/* pmr-h5: the sub-commands and what they share. */
#ifndef PMR_H5APP_H
#define PMR_H5APP_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int h5_info_main(int argc, char **argv);
int h5_dump_main(int argc, char **argv);

/* "1.5 KiB", "3 B": sizes for people. */
void h5_human(uint64_t bytes, char *buf, size_t n);
/* "uint8", "float64", "string"...: a type as the messages name it. */
void h5_type_name(hid_t type, char *buf, size_t n);

#endif
