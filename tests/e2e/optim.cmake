# The optimizer step nnc generates (compiler/codegen/optim.c) gives the bits of runtime/optim.c's reference loops (tests/e2e/optim.sh).
add_test(NAME e2e_optim_reference
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/optim.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_optim_reference PROPERTIES LABELS e2e TIMEOUT 300)
