# Dense sets (lib/src/kv/dense.c, out/h5_dense.c): every op, exact float sums
# against Python's golden, reduce to one root, output, misuse and budget
# errors, at 1..4 ranks and 1 and 2 threads.
add_executable(test_dense test_dense.c)
target_link_libraries(test_dense PRIVATE pmr_testlib)
target_compile_options(test_dense PRIVATE ${PMR_C_WARNINGS})

# The golden sums are computed once, by Python (exact integers and
# math.fsum), before any test_dense run needs them.
set(_pmr_dense_golden ${CMAKE_CURRENT_BINARY_DIR}/dense_golden.bin)
add_test(NAME unit.dense.golden
         COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/dense_golden.py
                 ${_pmr_dense_golden})
set_tests_properties(unit.dense.golden PROPERTIES
  TIMEOUT 60 LABELS unit FIXTURES_SETUP pmr_dense_golden)

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.dense.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_dense ${_pmr_dense_golden} TIMEOUT 120)
    set_tests_properties(mpi.dense.np${_np}.t${_nt} PROPERTIES
      FIXTURES_REQUIRED pmr_dense_golden)
  endforeach()
endforeach()
