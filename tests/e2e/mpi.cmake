# Data-parallel training over MPI, bit-identical to one process with --shards (tests/e2e/mpi.sh).
add_test(NAME e2e_mpi COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_mpi PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
