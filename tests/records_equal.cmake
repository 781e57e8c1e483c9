# scripts/records-equal, the behaviour-equivalence check of refactors, must tell two runs of one
# binary equal and name a changed loss, a deleted field and a changed weight; it needs python3.
# Included from tests/CMakeLists.txt.
# python3 comes with scripts/setup; without it the test fails rather than disappearing.
add_test(NAME RecordsEqual.TwoRunsAreEqualAndEveryChangeIsNamed
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/records_equal_test.sh $<TARGET_FILE:cnnbench>
                 ${PROJECT_SOURCE_DIR}/scripts/records-equal)
# Its MPI configuration runs under mpirun: leak checks are off for the ranks as for mpi.strategies
# (Open MPI does not free its own allocations at exit).
set_tests_properties(RecordsEqual.TwoRunsAreEqualAndEveryChangeIsNamed PROPERTIES LABELS cpu TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
