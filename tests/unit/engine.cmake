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

# Sources against Python goldens: the fixture writes the inputs and goldens
# once (and again on every run, so they never go stale), the tests only
# read them.
set(_pmr_sources_dir ${CMAKE_CURRENT_BINARY_DIR}/sources-data)
add_test(NAME sources.golden
         COMMAND ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sources_golden.py
                 ${_pmr_sources_dir})
set_tests_properties(sources.golden PROPERTIES
  TIMEOUT 60 LABELS "mpi" FIXTURES_SETUP pmr_sources_data)

add_executable(test_sources test_sources.c)
target_link_libraries(test_sources PRIVATE pmr_testlib)
target_compile_options(test_sources PRIVATE ${PMR_C_WARNINGS})

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.sources.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_sources ${_pmr_sources_dir} TIMEOUT 120)
    set_tests_properties(mpi.sources.np${_np}.t${_nt} PROPERTIES
                         FIXTURES_REQUIRED pmr_sources_data)
  endforeach()
endforeach()
