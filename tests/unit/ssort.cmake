# The global sort's pieces (lib/src/sort/samplesort.c, recsort.c, radix.c)
# on plain arrays: order against qsort, balance per rank, at 1..4 ranks and
# 1 and 2 threads.
add_executable(test_ssort test_ssort.c)
target_link_libraries(test_ssort PRIVATE pmr_testlib)
target_compile_options(test_ssort PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.ssort.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_ssort TIMEOUT 120)
  endforeach()
endforeach()

# pmr_kv_top's distributed selection (lib/src/algo/select.c).
add_executable(test_top test_top.c)
target_link_libraries(test_top PRIVATE pmr_testlib)
target_compile_options(test_top PRIVATE ${PMR_C_WARNINGS})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    pmr_add_mpi_test(NAME mpi.top.np${_np}.t${_nt} NP ${_np} THREADS ${_nt}
                     COMMAND test_top TIMEOUT 120)
  endforeach()
endforeach()

# pmr_kv_sort on group sets against Python's sorted() (sort_golden.py makes
# the inputs and goldens once), at 1..4 ranks and 1 and 2 threads; then the
# files written by each run are checked with h5py.
add_executable(test_kvsort test_kvsort.c)
target_link_libraries(test_kvsort PRIVATE pmr_testlib)
target_compile_options(test_kvsort PRIVATE ${PMR_C_WARNINGS})
set(_pmr_sort_dir ${CMAKE_CURRENT_BINARY_DIR}/sort_golden)
add_test(NAME unit.kvsort.golden
         COMMAND ${CMAKE_COMMAND} -E env ${PMR_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/sort_golden.py ${_pmr_sort_dir})
set_tests_properties(unit.kvsort.golden PROPERTIES
  TIMEOUT 120 LABELS unit FIXTURES_SETUP pmr_sort_golden)
file(MAKE_DIRECTORY ${_pmr_sort_dir})
foreach(_np ${PMR_TEST_RANKS})
  foreach(_nt 1 2)
    set(_n np${_np}.t${_nt})
    pmr_add_mpi_test(NAME mpi.kvsort.${_n} NP ${_np} THREADS ${_nt}
                     COMMAND test_kvsort ${_pmr_sort_dir} TIMEOUT 180)
    set_tests_properties(mpi.kvsort.${_n} PROPERTIES
      FIXTURES_REQUIRED pmr_sort_golden FIXTURES_SETUP pmr_sort_${_n})
    set(_o ${_pmr_sort_dir}/out-np${_np}-t${_nt})
    add_test(NAME unit.kvsort.h5.${_n}
             COMMAND sh -c "for f in skew.key ragged.value fixed10.key tiny.key; do ${PMR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sort_golden.py --check-h5 ${_pmr_sort_dir} ${_o}/$f.h5 ${_pmr_sort_dir}/$f.gold || exit 1; done")
    set_tests_properties(unit.kvsort.h5.${_n} PROPERTIES
      TIMEOUT 120 LABELS unit FIXTURES_REQUIRED "pmr_sort_golden;pmr_sort_${_n}")
  endforeach()
endforeach()
