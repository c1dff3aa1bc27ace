# Group sets (pmr_kv_create_group, pmr_kv_map_groups, ...) and the local
# sorter beneath them.
add_executable(test_sorter test_sorter.c)
target_link_libraries(test_sorter PRIVATE pmr_testlib)
target_compile_options(test_sorter PRIVATE ${PMR_C_WARNINGS})
add_test(NAME unit.sorter COMMAND test_sorter)
set_tests_properties(unit.sorter PROPERTIES TIMEOUT 60 LABELS unit)

# Group sets against Python goldens: the fixture writes the inputs and
# goldens; each run writes one HDF5 file, read back with h5py afterwards.
set(_pmr_group_dir ${CMAKE_CURRENT_BINARY_DIR}/group-data)
add_test(NAME group.golden
         COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/group_golden.py make
                 ${_pmr_group_dir})
set_tests_properties(group.golden PROPERTIES
  TIMEOUT 60 LABELS "mpi" FIXTURES_SETUP pmr_group_data)

add_executable(test_group test_group.c)
target_link_libraries(test_group PRIVATE pmr_testlib)
target_compile_options(test_group PRIVATE ${PMR_C_WARNINGS})

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    set(_h5 ${_pmr_group_dir}/out.np${_np}.t${_nt}.h5)
    pmr_add_mpi_test(NAME mpi.group.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_group ${_pmr_group_dir} ${_h5} TIMEOUT 120)
    set_tests_properties(mpi.group.np${_np}.t${_nt} PROPERTIES
      FIXTURES_REQUIRED pmr_group_data
      FIXTURES_SETUP pmr_group_h5.np${_np}.t${_nt}
      ENVIRONMENT_MODIFICATION OMP_WAIT_POLICY=set:passive)
    add_test(NAME group.h5.np${_np}.t${_nt}
             COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/group_golden.py
                     check ${_h5})
    set_tests_properties(group.h5.np${_np}.t${_nt} PROPERTIES
      TIMEOUT 60 LABELS "mpi"
      FIXTURES_REQUIRED "pmr_group_data;pmr_group_h5.np${_np}.t${_nt}")
  endforeach()
endforeach()

# Over 2 GiB of values in one rank pair's stream and one group (about
# 9 GiB of memory, a minute or two on a small machine): registered only with
# -DPMR_TEST_LARGE=ON (tests/apps), then ctest -R group_large.
add_executable(test_group_large test_group_large.c)
target_link_libraries(test_group_large PRIVATE pmr_testlib)
target_compile_options(test_group_large PRIVATE ${PMR_C_WARNINGS})
if(PMR_TEST_LARGE)
  pmr_add_mpi_test(NAME mpi.group_large.np2 NP 2 THREADS 2
                   COMMAND test_group_large TIMEOUT 600 LABELS large)
  set_tests_properties(mpi.group_large.np2 PROPERTIES RUN_SERIAL TRUE)
endif()

# Allocation-failure injection over a group-set job (pmr_faultlib: see
# engine.cmake).
add_executable(test_group_faults test_group_faults.c)
target_link_libraries(test_group_faults PRIVATE pmr_faultlib)
target_compile_options(test_group_faults PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  pmr_add_mpi_test(NAME mpi.group_faults.np${_np} NP ${_np} THREADS 2
                   COMMAND test_group_faults TIMEOUT 300)
  set_tests_properties(mpi.group_faults.np${_np} PROPERTIES
    ENVIRONMENT_MODIFICATION OMP_WAIT_POLICY=set:passive)
endforeach()
