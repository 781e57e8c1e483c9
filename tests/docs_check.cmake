# tests/docs_check.sh: README.md and the reference pages in docs/ against the repository and the binaries
# so that they cannot drift: links resolve inside the repository, the tests docs/BAD-INPUT.md names exist, docs/CLI.md
# has every flag of `cnnbench train --help` and `cnnbench sweep --help` and no other, docs/RECORD.md has every
# field of a real run record, the README has at most 140 lines. It needs python3.
# Included from tests/CMakeLists.txt after the test targets are defined.
#
# The check reads BUILD/cnnbench and BUILD/tests/cnnbench-tests (and cnnbench-mpi-tests, cnnbench-gpu-tests when
# they are built; their sources stand in otherwise), so BUILD is the directory of the cnnbench target: the
# test binaries are in its tests/ subdirectory, this one.
# python3 comes with scripts/setup; without it the test fails rather than disappearing.
add_test(NAME Docs.ReferencePagesMatchTheBinaries
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs_check.sh $<TARGET_FILE_DIR:cnnbench> ${PROJECT_SOURCE_DIR})
# The MPI test binary is listed without mpirun: leak checks are off as for the other MPI tests (Open MPI
# does not free its own allocations at exit).
set_tests_properties(Docs.ReferencePagesMatchTheBinaries PROPERTIES LABELS cpu TIMEOUT 120
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
