# The task farm (tests/unit/test_farm.c): every index taken exactly once at
# 1..4 ranks x 1..2 threads with uneven task times, stops, failures, shared
# counters, argument errors, the column table writer. Included by
# tests/unit/CMakeLists.txt.
add_executable(test_farm test_farm.c)
target_link_libraries(test_farm PRIVATE pmr_testlib)
target_compile_options(test_farm PRIVATE ${PMR_C_WARNINGS})

foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.farm.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_farm TIMEOUT 60 LABELS farm)
  endforeach()
endforeach()
# Any thread may fetch when MPI allows it (MPI_THREAD_MULTIPLE).
pmr_add_mpi_test(NAME mpi.farm.multiple.np3.t2 NP 3 THREADS 2
                 COMMAND test_farm --multiple TIMEOUT 60 LABELS farm)
# One-sided operations emulated with messages (Open MPI's osc/pt2pt, what
# ranks on different nodes get over TCP): fetches complete only when rank 0
# enters MPI, which the farm's own calls make it do.
if(_pmr_mpiexec_version MATCHES "Open MPI|OpenRTE")
  pmr_add_mpi_test(NAME mpi.farm.pt2pt.np3.t2 NP 3 THREADS 2
                   COMMAND test_farm TIMEOUT 60 LABELS farm)
  set_tests_properties(mpi.farm.pt2pt.np3.t2 PROPERTIES
    ENVIRONMENT "${PMR_TEST_ENV};OMP_NUM_THREADS=2;OMPI_MCA_osc=pt2pt")
endif()
