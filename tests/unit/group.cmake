# Group sets (pmr_kv_create_group, pmr_kv_map_groups, ...) and the local
# sorter beneath them.
add_executable(test_sorter test_sorter.c)
target_link_libraries(test_sorter PRIVATE pmr_testlib)
target_compile_options(test_sorter PRIVATE ${PMR_C_WARNINGS})
add_test(NAME unit.sorter COMMAND test_sorter)
set_tests_properties(unit.sorter PROPERTIES TIMEOUT 60 LABELS unit)
