# pmr_kv_write_records: raw key+value records of group and hash sets, by
# MPI-IO, at every rank and thread count.
add_executable(test_records test_records.c)
target_link_libraries(test_records PRIVATE pmr_testlib)
target_compile_options(test_records PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.records.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_records TIMEOUT 120)
  endforeach()
endforeach()
