# The HDF5 dataset source: inputs and numpy goldens made once per build tree
# by make_h5_inputs.py (a fixture), then test_h5src at 1-4 ranks with one
# and two threads.
add_executable(test_h5src ${CMAKE_CURRENT_LIST_DIR}/test_h5src.c)
target_link_libraries(test_h5src PRIVATE pmr_testlib m)
target_compile_options(test_h5src PRIVATE ${PMR_C_WARNINGS})

set(_h5src_dir ${CMAKE_CURRENT_BINARY_DIR}/h5src_inputs)
add_test(NAME unit.h5src.inputs
         COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_h5_inputs.py
                 ${_h5src_dir})
set_tests_properties(unit.h5src.inputs PROPERTIES
  TIMEOUT 60 LABELS unit FIXTURES_SETUP h5src_inputs)

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.h5src.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_h5src ${_h5src_dir} TIMEOUT 120)
    set_tests_properties(mpi.h5src.np${_np}.t${_nt} PROPERTIES
      FIXTURES_REQUIRED h5src_inputs)
  endforeach()
endforeach()
