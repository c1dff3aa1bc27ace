# Tests of the staged engine (lib/src/base, kv, input, shuffle, algo, out):
# the set's lifecycle and the defects the restructure fixed (test_engine),
# the sources against Python goldens (test_sources), and allocation-failure
# injection over a whole job (test_faults). Included by CMakeLists.txt here.

add_executable(test_engine test_engine.c)
target_link_libraries(test_engine PRIVATE pmr_testlib)
target_compile_options(test_engine PRIVATE ${PMR_C_WARNINGS})

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.engine.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_engine TIMEOUT 120)
  endforeach()
endforeach()
