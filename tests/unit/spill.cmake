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
