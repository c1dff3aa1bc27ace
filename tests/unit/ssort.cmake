# The global sort's pieces (lib/src/sort/samplesort.c, recsort.c, radix.c)
# on plain arrays: order against qsort, balance per rank, at 1..4 ranks and
# 1 and 2 threads.
add_executable(test_ssort test_ssort.c)
target_link_libraries(test_ssort PRIVATE pmr_testlib)
target_compile_options(test_ssort PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.ssort.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_ssort TIMEOUT 120)
  endforeach()
endforeach()

# pmr_kv_top's distributed selection (lib/src/algo/select.c).
add_executable(test_top test_top.c)
target_link_libraries(test_top PRIVATE pmr_testlib)
target_compile_options(test_top PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.top.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_top TIMEOUT 120)
  endforeach()
endforeach()
