# Tests of the staged engine (lib/src/base, kv, input, shuffle, algo, out):
# the set's lifecycle and the defects the restructure fixed (test_engine),
# the sources against Python goldens (test_sources), and allocation-failure
# injection over a whole job (test_faults). Included by CMakeLists.txt here.
#
# Their OpenMP workers wait passively: on an oversubscribed machine a worker
# that spins while its rank waits in MPI starves the other ranks (a run of
# test_faults at 3 ranks took minutes instead of seconds).
function(pmr_engine_test name)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT OMP_WAIT_POLICY=passive)
endfunction()

add_executable(test_engine test_engine.c)
target_link_libraries(test_engine PRIVATE pmr_testlib)
target_compile_options(test_engine PRIVATE ${PMR_C_WARNINGS})

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.engine.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_engine TIMEOUT 120)
    pmr_engine_test(mpi.engine.np${_np}.t${_nt})
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
    pmr_engine_test(mpi.sources.np${_np}.t${_nt})
  endforeach()
endforeach()

# Allocation-failure injection: a second copy of the library in which
# every allocation can be made to fail (lib/src/base/alloc.c).
add_library(pmr_faultlib STATIC ${PMR_LIB_SOURCES})
target_compile_definitions(pmr_faultlib PUBLIC PMR_FAULT_INJECTION)
target_include_directories(pmr_faultlib PUBLIC ${PROJECT_SOURCE_DIR}/lib/include
                                               ${PROJECT_SOURCE_DIR}/lib/src
                                               ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(pmr_faultlib PUBLIC MPI::MPI_C OpenMP::OpenMP_C HDF5::HDF5)

add_executable(test_faults test_faults.c)
target_link_libraries(test_faults PRIVATE pmr_faultlib)
target_compile_options(test_faults PRIVATE ${PMR_C_WARNINGS})

# Two threads, so allocations fail on either.
foreach(_np 1 2 3)
  pmr_add_mpi_test(NAME mpi.faults.np${_np} NP ${_np} THREADS 2
                   COMMAND test_faults TIMEOUT 120)
  pmr_engine_test(mpi.faults.np${_np})
endforeach()
