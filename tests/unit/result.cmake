# pmr_map_result / pmr_result_describe: results written by pmr at each rank
# count and by h5py (make_results.py, a setup fixture) read back.
add_executable(test_result test_result.c)
target_link_libraries(test_result PRIVATE pmr_testlib)
target_compile_options(test_result PRIVATE ${PMR_C_WARNINGS})

set(_pmr_result_data ${CMAKE_CURRENT_BINARY_DIR}/result_data)
pmr_add_script_test(NAME unit.result.data
  COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/make_results.py ${_pmr_result_data}
  TIMEOUT 60 LABELS unit)
set_tests_properties(unit.result.data PROPERTIES FIXTURES_SETUP pmr_result_data)

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.result.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_result ${_pmr_result_data} TIMEOUT 120)
    set_tests_properties(mpi.result.np${_np}.t${_nt} PROPERTIES
                         FIXTURES_REQUIRED pmr_result_data)
  endforeach()
endforeach()
