# Spill files (lib/src/spill): the layer alone, no MPI; and sets past their
# memory budget at 1..4 ranks and 1 and 2 threads.
add_executable(test_spill test_spill.c)
target_link_libraries(test_spill PRIVATE pmr_testlib)
target_compile_options(test_spill PRIVATE ${PMR_C_WARNINGS})
add_test(NAME unit.spill COMMAND test_spill)
set_tests_properties(unit.spill PROPERTIES TIMEOUT 60 LABELS unit)

# The local sorter past its memory: runs in spill files merged back.
add_executable(test_sorter_spill test_sorter_spill.c)
target_link_libraries(test_sorter_spill PRIVATE pmr_testlib)
target_compile_options(test_sorter_spill PRIVATE ${PMR_C_WARNINGS})
add_test(NAME unit.sorter.spill COMMAND test_sorter_spill)
set_tests_properties(unit.sorter.spill PROPERTIES TIMEOUT 120 LABELS unit)

# Hash sets past a 1 MiB budget, read back by every reader of a set.
add_executable(test_spill_kv test_spill_kv.c)
target_link_libraries(test_spill_kv PRIVATE pmr_testlib)
target_compile_options(test_spill_kv PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.spill.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_spill_kv TIMEOUT 180)
  endforeach()
endforeach()
